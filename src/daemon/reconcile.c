/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One walk over a directory and the tree's idea of it; the mode says what was known before and what to
 * raise. Walks share one PATH_MAX buffer on the stack; nothing is allocated per entry but tree nodes. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "log.h"
#include "reconcile.h"

#define IN_SET_GONE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == ELOOP)

typedef struct Walk {
        const Reconciler *r;
        usec_t since;
        GHashTable *known;      /* SNAPSHOT: relpath -> is_dir of what was known */
        GString *rel;           /* SNAPSHOT: relpath of the directory walked, with a trailing '/' */
        char path[PATH_MAX + 1];
} Walk;

static void walk_dir(Walk *k, WatchNode *n, int dfd, size_t path_len, ReconcileMode mode);

/* Opens directory name of dfd without following a link: the walk goes by fds, not by the tree's names,
 * so a rename of an ancestor that the tree has not heard of yet does not lose the subtree. */
static int open_child(int dfd, const char *name) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

static void emit(Walk *k, Watch *w, const WatchNode *n, const char *name, uint32_t mask) {
        k->r->ops->emit(k->r->userdata, w, n, name, mask);
}

/* Appends "/name" to the path; false (logged) if it would not fit. */
static bool path_push(Walk *k, size_t *path_len, const char *name) {
        size_t l = strlen(name), p = *path_len;

        if (p + 1 + l + 1 > PATH_MAX) {
                log_warning("Path too long below %s, not watching %s, ignoring.", k->path, name);
                return false;
        }
        if (p > 0 && k->path[p - 1] != '/')
                k->path[p++] = '/';
        memcpy(k->path + p, name, l + 1);
        *path_len = p + l;
        return true;
}

/* A directory called name appeared in (or was found in) parent: watch it first, then list it. */
static void add_dir(Walk *k, WatchNode *parent, int parent_dfd, const char *name, size_t path_len,
                    ReconcileMode mode) {
        WatchNode *n;
        int r, fd;

        if (!path_push(k, &path_len, name))
                return;
        if (k->r->ops->progress)
                k->r->ops->progress(k->r->userdata);
        n = watch_tree_add_child(k->r->tree, parent, name);
        fd = open_child(parent_dfd, name);
        if (fd < 0 && !IN_SET_GONE(-fd))
                log_warning_errno(fd, "Failed to open %s, ignoring: %m", k->path);
        r = fd < 0 ? fd : k->r->ops->watch_dir(k->r->userdata, n, k->path, fd);
        if (r < 0) {
                safe_close(fd);
                k->r->ops->remove_subtree(k->r->userdata, n);
                return;
        }
        walk_dir(k, n, fd, path_len, mode);
}

static bool is_dir_entry(int dfd, const struct dirent *de) {
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return S_ISDIR(st.st_mode);
}

static bool changed_since(int dfd, const char *name, usec_t since) {
        struct stat st;

        return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
               (usec_t) st.st_ctim.tv_sec * USEC_PER_SEC + (usec_t) st.st_ctim.tv_nsec / 1000 >= since;
}

/* Whether name was known before: RESCAN asks the tree (the caller passes in_tree), SNAPSHOT the
 * snapshot (and takes it out, so what is left at the end is gone). */
static bool was_known(Walk *k, ReconcileMode mode, const char *name, bool in_tree) {
        size_t base;
        bool found;

        if (mode == RECONCILE_RESCAN)
                return in_tree;
        if (mode != RECONCILE_SNAPSHOT)
                return false;
        base = k->rel->len;
        g_string_append(k->rel, name);
        found = g_hash_table_remove(k->known, k->rel->str);
        g_string_truncate(k->rel, base);
        return found;
}

/* After a RESCAN listing: what the tree holds and the disk no longer does is gone. */
static void raise_gone(Walk *k, Watch *w, WatchNode *n, GHashTable *seen) {
        g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
        WatchChildIter i;
        WatchNode *v;

        if (n->files) {
                WatchFileIter fi;
                const char *f;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f))
                        if (!g_hash_table_contains(seen, f))
                                g_ptr_array_add(gone, g_strdup(f));
                for (guint j = 0; j < gone->len; j++) {
                        emit(k, w, n, gone->pdata[j], IN_DELETE);
                        (void) watch_node_remove_file(n, gone->pdata[j]);
                }
                g_ptr_array_set_size(gone, 0);
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i)))
                if (!g_hash_table_contains(seen, v->name))
                        g_ptr_array_add(gone, g_strdup(v->name));
        for (guint j = 0; j < gone->len; j++) {
                WatchNode *c = watch_node_child(n, gone->pdata[j]);

                emit(k, w, n, gone->pdata[j], IN_DELETE | IN_ISDIR);
                if (c)
                        k->r->ops->remove_subtree(k->r->userdata, c);
        }
}

/* Lists directory n, open as dfd (taken) and found at k->path (path_len long), and brings the tree and the
 * rules up to date with it. */
static void walk_dir(Walk *k, WatchNode *n, int dfd, size_t path_len, ReconcileMode mode) {
        Watch *w = n->owner;
        bool raise = mode != RECONCILE_RECORD;
        /* Only a RESCAN learns from the listing what vanished; a directory it knew empty lost nothing. */
        g_autoptr(GHashTable) seen = mode == RECONCILE_RESCAN && (n->files || n->n_kids > 0)
                ? g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) : NULL;
        size_t rel_base = k->rel ? k->rel->len : 0;
        struct dirent *de;
        DIR *d;

        k->path[path_len] = 0;
        d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0 && !IN_SET_GONE(errno))
                        log_warning_errno(errno, "Failed to list %s, ignoring: %m", k->path);
                safe_close(dfd);
                return;
        }
        while ((de = readdir(d))) {
                const char *name = de->d_name;
                bool dir;

                if (streq(name, ".") || streq(name, ".."))
                        continue;
                if (watch_skips(w, n, name))
                        continue;
                dir = is_dir_entry(dirfd(d), de);
                if (dir && w->file_name) {
                        /* A directory where a single watched file should be: a rescan still looks at
                         * it as the file, a new listing ignores it. */
                        if (mode != RECONCILE_RESCAN)
                                continue;
                        dir = false;
                }
                if (seen)
                        g_hash_table_add(seen, g_strdup(name));

                if (dir) {
                        WatchNode *c = mode >= RECONCILE_RESCAN ? watch_node_child(n, name) : NULL;

                        /* What the tree does not hold yet, the kernel reports in its own events. */
                        if (mode == RECONCILE_SNAPSHOT && !c)
                                continue;
                        if (raise && !was_known(k, mode, name, c != NULL))
                                emit(k, w, n, name, IN_CREATE | IN_ISDIR);
                        if (c) {
                                if (w->recursive) {
                                        size_t l = path_len;

                                        if (mode == RECONCILE_SNAPSHOT) {
                                                g_string_append(k->rel, name);
                                                g_string_append_c(k->rel, '/');
                                        }
                                        if (path_push(k, &l, name))
                                                walk_dir(k, c, open_child(dirfd(d), name), l, mode);
                                        if (mode == RECONCILE_SNAPSHOT)
                                                g_string_truncate(k->rel, rel_base);
                                }
                        } else if (w->recursive)
                                add_dir(k, n, dirfd(d), name, path_len,
                                        mode == RECONCILE_RECORD ? RECONCILE_RECORD : RECONCILE_CREATED);
                        else
                                /* Known but not watched: InitialEvent=, snapshots and rescans see it. */
                                (void) watch_tree_add_child(k->r->tree, n, name);
                        k->path[path_len] = 0;
                        continue;
                }

                if (mode >= RECONCILE_RESCAN && watch_node_has_file(n, name)) {
                        if (was_known(k, mode, name, true)) {
                                /* It may have been written while nobody was listening. */
                                if (changed_since(dirfd(d), name, k->since))
                                        emit(k, w, n, name, IN_CLOSE_WRITE);
                                continue;
                        }
                } else if (mode == RECONCILE_SNAPSHOT)
                        continue;
                else
                        (void) watch_node_add_file(n, name);
                if (!raise)
                        continue;
                emit(k, w, n, name, IN_CREATE);
                /* Only a regular file can have been written; a new listing knows the type. */
                if (mode != RECONCILE_CREATED || de->d_type == DT_REG || de->d_type == DT_UNKNOWN)
                        emit(k, w, n, name, IN_CLOSE_WRITE);
        }
        closedir(d);
        if (seen)
                raise_gone(k, w, n, seen);
}

/* Fills k->path with n's path and opens it; -1 if it does not fit or is gone. */
static int walk_start(Walk *k, const WatchNode *n, size_t *ret_len) {
        g_autofree char *p = watch_node_path(n);
        size_t l = strlen(p);
        int fd;

        if (l >= PATH_MAX)
                return -1;
        memcpy(k->path, p, l + 1);
        *ret_len = l;
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && !IN_SET_GONE(errno))
                log_warning_errno(errno, "Failed to open %s, ignoring: %m", p);
        return fd;
}

void reconcile_node(const Reconciler *r, WatchNode *n, ReconcileMode mode, usec_t since) {
        Walk k = { .r = r, .since = since };
        size_t l;
        int fd = walk_start(&k, n, &l);

        if (fd >= 0)
                walk_dir(&k, n, fd, l, mode);
}

int reconcile_new_dir(const Reconciler *r, WatchNode *parent, const char *name, ReconcileMode mode) {
        Walk k = { .r = r };
        size_t l;
        _cleanup_close_ int fd = walk_start(&k, parent, &l);

        if (fd < 0)
                return IN_SET_GONE(errno) ? -ENOENT : 0;
        add_dir(&k, parent, fd, name, l, mode);
        return 0;
}

void reconcile_snapshot(const Reconciler *r, Watch *w, GHashTable *known, usec_t since) {
        g_autoptr(GString) rel = g_string_new(NULL);
        Walk k = { .r = r, .since = since, .known = known, .rel = rel };
        g_autoptr(GPtrArray) gone = g_ptr_array_new();
        GHashTableIter i;
        gpointer key, v;
        size_t l;
        int fd;

        if (!w->root || !w->active)
                return;
        fd = walk_start(&k, w->root, &l);
        if (fd < 0)
                return;
        walk_dir(&k, w->root, fd, l, RECONCILE_SNAPSHOT);

        /* What is left is gone. Raise it where its parent still exists; a vanished directory's
         * contents go with its own event. */
        g_hash_table_iter_init(&i, known);
        while (g_hash_table_iter_next(&i, &key, &v))
                g_ptr_array_add(gone, key);
        for (guint j = 0; j < gone->len; j++) {
                const char *relpath = gone->pdata[j];
                g_auto(GStrv) parts = g_strsplit(relpath, "/", -1);
                guint np = g_strv_length(parts);
                WatchNode *n = w->root;
                bool dir = GPOINTER_TO_INT(g_hash_table_lookup(known, relpath));

                for (guint p = 0; n && p + 1 < np; p++)
                        n = watch_node_child(n, parts[p]);
                if (!n || np == 0 || (w->file_name && !streq(parts[np - 1], w->file_name)))
                        continue;
                emit(&k, w, n, parts[np - 1], dir ? IN_DELETE | IN_ISDIR : IN_DELETE);
        }
}
