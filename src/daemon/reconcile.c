/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One walk over a directory and the tree's idea of it; the mode says what was known before and what to
 * raise. The walk goes by fds, each directory opened relative to its parent: no path is built (a tree
 * may be deeper than PATH_MAX), and a rename of an ancestor that the tree has not heard of yet cannot
 * send it into another directory. Nothing is allocated per entry but tree nodes. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "dir-reader.h"
#include "log.h"
#include "reconcile.h"

#define IN_SET_GONE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == ELOOP)

typedef struct Walk {
        const Reconciler *r;
        usec_t since;
        GHashTable *known;      /* SNAPSHOT: relpath -> is_dir of what was known */
        GString *rel;           /* SNAPSHOT: relpath of the directory walked, with a trailing '/' */
        DirBuffers bufs;        /* a listing buffer per level */
        unsigned depth;         /* of the directory being listed, from the walk's first */
} Walk;

static void walk_done(Walk *k) {
        dir_buffers_done(&k->bufs);
}

static void walk_dir(Walk *k, WatchNode *n, int dfd, ReconcileMode mode);

/* Opens directory name of dfd without following a link: the walk goes by fds, not by the tree's names,
 * so a rename of an ancestor that the tree has not heard of yet does not lose the subtree. */
static int open_child(int dfd, const char *name) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

static void emit(Walk *k, Watch *w, const WatchNode *n, const char *name, uint32_t mask) {
        k->r->ops->emit(k->r->userdata, w, n, name, mask);
}

/* A directory called name appeared in (or was found in) parent: watch it first, then list it. */
static void add_dir(Walk *k, WatchNode *parent, int parent_dfd, const char *name, ReconcileMode mode) {
        WatchNode *n;
        int r, fd;

        if (k->r->ops->progress)
                k->r->ops->progress(k->r->userdata);
        n = watch_tree_add_child(k->r->tree, parent, name);
        fd = open_child(parent_dfd, name);
        if (fd < 0 && !IN_SET_GONE(-fd)) {
                g_autofree char *p = watch_node_path(n);

                log_warning_errno(fd, "Failed to open %s, ignoring: %m", p);
        }
        r = fd < 0 ? fd : k->r->ops->watch_dir(k->r->userdata, n, fd);
        if (r < 0) {
                safe_close(fd);
                k->r->ops->remove_subtree(k->r->userdata, n);
                return;
        }
        walk_dir(k, n, fd, mode);
}

static bool is_dir_entry(int dfd, const struct dirent64 *de) {
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return S_ISDIR(st.st_mode);
}

/* Whether file name of n was changed at or after since, and not already handled in that state. */
static bool changed_since(Walk *k, int dfd, const WatchNode *n, const char *name) {
        struct stat st;
        usec_t ctime;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        ctime = (usec_t) st.st_ctim.tv_sec * USEC_PER_SEC + (usec_t) st.st_ctim.tv_nsec / 1000;
        if (ctime < k->since)
                return false;
        return !k->r->ops->handled || !k->r->ops->handled(k->r->userdata, n, name, ctime);
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

/* A directory the tree knew is gone: what it knew inside is gone with it (rules on deleted hear of every
 * file, CancelOn=deleted cancels their waiting tasks). */
void reconcile_raise_gone(const Reconciler *r, WatchNode *n) {
        Watch *w = watch_node_owner(n);
        WatchChildIter i;
        WatchFileIter fi;
        WatchNode *v;
        const char *f;

        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                reconcile_raise_gone(r, v);
                r->ops->emit(r->userdata, w, n, watch_node_name(v), IN_DELETE | IN_ISDIR);
        }
        watch_file_iter_init(&fi, n);
        while (watch_file_iter_next(&fi, &f))
                r->ops->emit(r->userdata, w, n, f, IN_DELETE);
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
                if (!g_hash_table_contains(seen, watch_node_name(v)))
                        g_ptr_array_add(gone, g_strdup(watch_node_name(v)));
        for (guint j = 0; j < gone->len; j++) {
                WatchNode *c = watch_node_child(n, gone->pdata[j]);

                if (c && w->recursive)
                        reconcile_raise_gone(k->r, c);
                emit(k, w, n, gone->pdata[j], IN_DELETE | IN_ISDIR);
                if (c)
                        k->r->ops->remove_subtree(k->r->userdata, c);
        }
}

/* Lists directory n, open as dfd (taken), and brings the tree and the rules up to date with it. */
static void walk_dir(Walk *k, WatchNode *n, int dfd, ReconcileMode mode) {
        Watch *w = watch_node_owner(n);
        bool raise = mode != RECONCILE_RECORD;
        /* Only a RESCAN learns from the listing what vanished; a directory it knew empty lost nothing. */
        g_autoptr(GHashTable) seen = mode == RECONCILE_RESCAN && (n->files || n->n_kids > 0)
                ? g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) : NULL;
        size_t rel_base = k->rel ? k->rel->len : 0, size;
        struct dirent64 *de;
        DirReader d;
        char *buf;

        if (dfd < 0)
                return;
        buf = dir_buffers_get(&k->bufs, k->depth, &size);
        dir_reader_init(&d, dfd, buf, size);
        k->depth++;
        while ((de = dir_reader_next(&d))) {
                const char *name = de->d_name;
                bool dir;

                if (watch_skips(w, n, name))
                        continue;
                dir = is_dir_entry(dfd, de);
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
                                        if (mode == RECONCILE_SNAPSHOT) {
                                                g_string_append(k->rel, name);
                                                g_string_append_c(k->rel, '/');
                                        }
                                        int cfd = open_child(dfd, name);

                                        /* After lost events the name may hold another directory than
                                         * the one watched: watch what is there (the same wd if it is
                                         * the same). */
                                        if (cfd >= 0 && mode == RECONCILE_RESCAN &&
                                            k->r->ops->watch_dir(k->r->userdata, c, cfd) < 0)
                                                cfd = safe_close(cfd);
                                        walk_dir(k, c, cfd, mode);
                                        if (mode == RECONCILE_SNAPSHOT)
                                                g_string_truncate(k->rel, rel_base);
                                }
                        } else if (w->recursive)
                                add_dir(k, n, dfd, name,
                                        mode == RECONCILE_RECORD ? RECONCILE_RECORD : RECONCILE_CREATED);
                        else
                                /* Known but not watched: InitialEvent=, snapshots and rescans see it. */
                                (void) watch_tree_add_child(k->r->tree, n, name);
                        continue;
                }

                if (mode >= RECONCILE_RESCAN && watch_node_has_file(n, name)) {
                        if (was_known(k, mode, name, true)) {
                                /* It may have been written while nobody was listening. */
                                if (changed_since(k, dfd, n, name))
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
        k->depth--;
        if (d.error && !IN_SET_GONE(d.error)) {
                g_autofree char *p = watch_node_path(n);

                log_warning_errno(d.error, "Failed to list %s, ignoring: %m", p);
        }
        safe_close(dfd);
        /* A listing cut short by an error does not say what is gone. */
        if (seen && !d.error)
                raise_gone(k, w, n, seen);
}

/* Opens directory n by its path, or component by component where the path is longer than the kernel
 * takes in one call. -errno if gone (not logged) or not openable (logged). */
static int open_node(const WatchNode *n) {
        g_autofree char *p = NULL;
        int fd, pfd;

        if (n->parent && watch_node_path_len(n) >= PATH_MAX) {
                pfd = open_node(n->parent);
                if (pfd < 0)
                        return pfd;
                fd = open_child(pfd, watch_node_name(n));
                safe_close(pfd);
                return fd;
        }
        p = watch_node_path(n);
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (!IN_SET_GONE(errno))
                        return log_warning_errno(errno, "Failed to open %s, ignoring: %m", p);
                return -errno;
        }
        return fd;
}

void reconcile_node(const Reconciler *r, WatchNode *n, ReconcileMode mode, usec_t since) {
        Walk k = { .r = r, .since = since };
        int fd = open_node(n);

        if (fd >= 0)
                walk_dir(&k, n, fd, mode);
        walk_done(&k);
}

int reconcile_new_dir(const Reconciler *r, WatchNode *parent, const char *name, ReconcileMode mode) {
        Walk k = { .r = r };
        _cleanup_close_ int fd = open_node(parent);

        if (fd < 0)
                return IN_SET_GONE(-fd) ? -ENOENT : 0;
        add_dir(&k, parent, fd, name, mode);
        walk_done(&k);
        return 0;
}

void reconcile_snapshot(const Reconciler *r, Watch *w, GHashTable *known, usec_t since) {
        g_autoptr(GString) rel = g_string_new(NULL);
        Walk k = { .r = r, .since = since, .known = known, .rel = rel };
        g_autoptr(GPtrArray) gone = g_ptr_array_new();
        GHashTableIter i;
        gpointer key, v;
        int fd;

        if (!w->root || !w->active)
                return;
        fd = open_node(w->root);
        if (fd < 0)
                return;
        walk_dir(&k, w->root, fd, RECONCILE_SNAPSHOT);
        walk_done(&k);

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
