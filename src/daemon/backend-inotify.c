/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inotify backend: one raw fd read with a large buffer, a wd -> node tree, scans that never miss
 * what a new directory already holds, cookie-paired moves and a rescan after a queue overflow. */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "backend-inotify.h"
#include "escape.h"
#include "log.h"
#include "message-ids.h"
#include "notify.h"
#include "time-util.h"

#define READ_BUFFER_SIZE (256U * 1024U)
#define IN_SET_GONE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == ELOOP)
/* How long an IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as moved out. */
#define MOVE_PAIR_USEC (5 * USEC_PER_MSEC)
/* File timestamps are coarse: after an overflow, anything changed this shortly before the last
 * drained read counts as possibly changed. */
#define OVERFLOW_SLACK_USEC (1 * USEC_PER_SEC)

/* What the tree needs to stay true, whatever the rules want. */
#define TREE_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
#define ADD_FLAGS (IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

typedef enum ScanMode {
        SCAN_RECORD,            /* remember what is there, raise nothing (start, reload) */
        SCAN_CREATED,           /* a new directory: raise created for everything inside */
} ScanMode;

typedef struct PendingMove {
        Watch *watch;
        WatchNode *parent;
        char *name;
        uint32_t cookie;
        uint32_t mask;
} PendingMove;

struct Backend {
        sd_event *event;
        int fd;
        sd_event_source *io;
        sd_event_source *pair_timer;
        uint32_t mask;
        bool enabled;

        WatchTree *tree;
        GPtrArray *watches;     /* Watch* (owned) */
        GArray *pending;        /* PendingMove */

        BackendEventFunc callback;
        void *userdata;

        usec_t last_drained;    /* CLOCK_REALTIME of the last read that emptied the queue */
        uint64_t n_events;
        uint64_t n_overflows;

        /* Directories a walk could not watch because the table is full; logged once per walk. */
        unsigned enospc_count;
        char *enospc_first;

        /* Long scans block the loop: keep systemd's start timeout and watchdog at bay meanwhile. */
        unsigned scan_count;
        usec_t scan_last_ping;

        uint8_t *buffer;
};

static void watch_free(Watch *w) {
        if (!w)
                return;
        g_free(w->name);
        g_free(w->path);
        g_strfreev(w->exclude);
        g_free(w->file_name);
        g_free(w);
}

static void pending_clear(PendingMove *p) {
        g_free(p->name);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata);

int backend_new(Backend **ret, sd_event *e, BackendEventFunc callback, void *userdata) {
        _cleanup_(backend_freep) Backend *b = NULL;
        int r;

        b = g_new0(Backend, 1);
        b->event = sd_event_ref(e);
        b->callback = callback;
        b->userdata = userdata;
        b->watches = g_ptr_array_new();
        b->pending = g_array_new(false, true, sizeof(PendingMove));
        g_array_set_clear_func(b->pending, (GDestroyNotify) pending_clear);
        b->buffer = g_malloc(READ_BUFFER_SIZE);
        b->enabled = true;
        b->last_drained = now_usec(CLOCK_REALTIME);
        (void) watch_tree_new(&b->tree);

        b->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (b->fd < 0)
                return log_error_errno(errno, "Failed to create inotify instance: %m");

        r = sd_event_add_io(e, &b->io, b->fd, EPOLLIN, on_inotify, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add inotify event source: %m");
        (void) sd_event_source_set_description(b->io, "inotify");

        *ret = TAKE_PTR(b);
        return 0;
}

Backend *backend_free(Backend *b) {
        if (!b)
                return NULL;
        b->io = sd_event_source_disable_unref(b->io);
        b->pair_timer = sd_event_source_disable_unref(b->pair_timer);
        if (b->pending)
                g_array_unref(b->pending);
        /* Closing the fd drops every kernel watch at once. */
        b->fd = safe_close(b->fd);
        b->tree = watch_tree_free(b->tree);
        if (b->watches) {
                for (guint i = 0; i < b->watches->len; i++)
                        watch_free(g_ptr_array_index(b->watches, i));
                g_ptr_array_unref(b->watches);
        }
        g_free(b->enospc_first);
        g_free(b->buffer);
        sd_event_unref(b->event);
        g_free(b);
        return NULL;
}

/* ------------------------------------------------------------------ emitting events */

static void emit(Backend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask, EventKind kind,
                 uint32_t cookie, bool synthetic, const char *src_pathname) {
        Event ev = {
                .watch = w,
                .mask = mask,
                .kind = kind,
                .cookie = cookie,
                .synthetic = synthetic,
                .is_dir = mask & IN_ISDIR,
                .node = n,
                .name = name,
                .src_pathname = src_pathname,
        };

        b->n_events++;
        b->callback(b, &ev, b->userdata);
        event_done(&ev);
}

static void emit_mask(Backend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask, bool synthetic) {
        emit(b, w, n, name, mask, event_kind_from_mask(mask), 0, synthetic, NULL);
}

/* ------------------------------------------------------------------ excludes */

static char *node_relpath(const WatchNode *n, const char *name) {
        g_autofree char *full = watch_node_child_path(n, name);
        const WatchNode *root = n;
        size_t l;

        while (root->parent)
                root = root->parent;
        l = strlen(root->name);
        if (full[l] == 0)
                return g_strdup("");
        return g_strdup(full + l + (full[l] == '/' ? 1 : 0));
}

static bool excluded(const Watch *w, const WatchNode *n, const char *name) {
        g_autofree char *rel = NULL;

        if (!w->exclude || !w->exclude[0])
                return false;
        for (char **p = w->exclude; *p; p++)
                if (fnmatch(*p, name, 0) == 0)
                        return true;
        if (!w->exclude_has_slash)
                return false;
        rel = node_relpath(n, name);
        for (char **p = w->exclude; *p; p++)
                if (strchr(*p, '/') && fnmatch(*p, rel, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

/* ------------------------------------------------------------------ watching directories */

static void on_node_removed(WatchTree *t, WatchNode *n, void *userdata) {
        Backend *b = userdata;

        /* A move still waiting for its pair must not keep a pointer to a freed directory. */
        for (guint i = 0; i < b->pending->len;) {
                PendingMove *p = &g_array_index(b->pending, PendingMove, i);

                if (p->parent == n)
                        g_array_remove_index(b->pending, i);
                else
                        i++;
        }
        if (n->wd >= 0 && !watch_tree_wd_shared(t, n))
                (void) inotify_rm_watch(b->fd, n->wd);
}

static void remove_subtree(Backend *b, WatchNode *n) {
        watch_tree_remove(b->tree, n, on_node_removed, b);
}

static void note_enospc(Backend *b, Watch *w, const char *path) {
        w->n_unwatched++;
        if (b->enospc_count++ == 0)
                b->enospc_first = g_strdup(path);
}

static void flush_enospc(Backend *b) {
        g_autofree char *limit = NULL;
        LogField f[2];

        if (b->enospc_count == 0)
                return;
        if (!g_file_get_contents("/proc/sys/fs/inotify/max_user_watches", &limit, NULL, NULL))
                limit = g_strdup("?");
        g_strstrip(limit);
        f[0] = LOG_FIELD("INOTASKD_PATH", b->enospc_first);
        f[1] = LOG_FIELD("INOTASKD_UNWATCHED", NULL);
        {
                char n[32];

                snprintf(n, sizeof n, "%u", b->enospc_count);
                f[1].value = n;
                (void) log_struct(LOG_WARNING, ENOSPC, MESSAGE_ID_WATCH_LIMIT, f, 2,
                                  "Watch limit reached: %u directories are not watched (first: %s). Raise "
                                  "fs.inotify.max_user_watches (now %s), e.g. sysctl -w "
                                  "fs.inotify.max_user_watches=%s, then reload.",
                                  b->enospc_count, b->enospc_first, limit, "524288");
        }
        b->enospc_count = 0;
        b->enospc_first = (g_free(b->enospc_first), NULL);
}

/* Adds the kernel watch for n. Returns 1 if watched, 0 if it could not be (logged/counted), <0 if the
 * directory is gone. */
static int watch_node(Backend *b, WatchNode *n, const char *path) {
        int wd;

        wd = inotify_add_watch(b->fd, path, b->mask | TREE_MASK | ADD_FLAGS);
        if (wd < 0) {
                if (errno == ENOSPC) {
                        note_enospc(b, n->owner, path);
                        return 0;
                }
                if (IN_SET_GONE(errno))
                        return -errno;
                log_warning_errno(errno, "Failed to watch %s, ignoring: %m", path);
                return 0;
        }
        watch_tree_set_wd(b->tree, n, wd);
        return 1;
}

static void scan_dir(Backend *b, WatchNode *n, char *path, size_t path_len, ScanMode mode);

#define SCAN_PING_EVERY 1024U
#define SCAN_PING_USEC (2 * USEC_PER_SEC)
#define SCAN_EXTEND_USEC (30 * USEC_PER_SEC)

static void scan_progress(Backend *b) {
        usec_t now;

        if (++b->scan_count % SCAN_PING_EVERY != 0)
                return;
        /* The first ping as soon as a scan is big, then every SCAN_PING_USEC: a short start timeout
         * must not win the race against the first extension. */
        now = now_usec(CLOCK_MONOTONIC);
        if (b->scan_last_ping != 0 && now - b->scan_last_ping < SCAN_PING_USEC)
                return;
        b->scan_last_ping = now;
        notify_scan_progress(b->scan_count, SCAN_EXTEND_USEC);
}

/* A directory called name appeared in (or was found in) parent: watch it first, then list it. */
static void add_dir(Backend *b, WatchNode *parent, const char *name, char *path, size_t path_len, ScanMode mode) {
        WatchNode *n;
        size_t l = strlen(name);
        int r;

        if (path_len + 1 + l + 1 > PATH_MAX)
                return (void) log_warning("Path too long below %s, not watching %s, ignoring.", path, name);
        if (path_len > 0 && path[path_len - 1] != '/')
                path[path_len++] = '/';
        memcpy(path + path_len, name, l + 1);
        path_len += l;

        scan_progress(b);
        n = watch_tree_add_child(b->tree, parent, name);
        r = watch_node(b, n, path);
        if (r < 0) {
                remove_subtree(b, n);
                return;
        }
        scan_dir(b, n, path, path_len, mode);
}

static bool is_dir_entry(int dfd, const struct dirent *de) {
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return S_ISDIR(st.st_mode);
}

/* Lists the directory n at path (a PATH_MAX buffer, path_len long), recording entries; with
 * SCAN_CREATED, raises created (and, for files, changed) for each, so nothing written before the watch
 * existed is missed. */
static void scan_dir(Backend *b, WatchNode *n, char *path, size_t path_len, ScanMode mode) {
        Watch *w = n->owner;
        DIR *d;
        struct dirent *de;

        path[path_len] = 0;
        d = opendir(path);
        if (!d) {
                if (!IN_SET_GONE(errno))
                        log_warning_errno(errno, "Failed to list %s, ignoring: %m", path);
                return;
        }
        while ((de = readdir(d))) {
                bool dir;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (w->file_name && !n->parent && !streq(de->d_name, w->file_name))
                        continue;
                if (excluded(w, n, de->d_name))
                        continue;
                dir = is_dir_entry(dirfd(d), de);
                if (dir && !w->file_name) {
                        if (mode == SCAN_CREATED)
                                emit_mask(b, w, n, de->d_name, IN_CREATE | IN_ISDIR, true);
                        if (w->recursive) {
                                add_dir(b, n, de->d_name, path, path_len, mode);
                                path[path_len] = 0;
                        } else
                                /* Known but not watched: InitialEvent=, snapshots and rescans see it. */
                                (void) watch_tree_add_child(b->tree, n, de->d_name);
                } else if (!dir) {
                        (void) watch_node_add_file(n, de->d_name);
                        if (mode == SCAN_CREATED) {
                                emit_mask(b, w, n, de->d_name, IN_CREATE, true);
                                if (de->d_type == DT_REG || de->d_type == DT_UNKNOWN)
                                        emit_mask(b, w, n, de->d_name, IN_CLOSE_WRITE, true);
                        }
                }
        }
        closedir(d);
}

static void add_dir_at(Backend *b, WatchNode *parent, const char *name, ScanMode mode) {
        g_autofree char *path = g_malloc(PATH_MAX + 1);
        g_autofree char *dir = watch_node_path(parent);
        size_t l = strlen(dir);

        if (l >= PATH_MAX)
                return;
        memcpy(path, dir, l + 1);
        add_dir(b, parent, name, path, l, mode);
        flush_enospc(b);
}

/* ------------------------------------------------------------------ watches */

bool backend_watch_matches(const Watch *w, const ConfigWatch *cfg) {
        return streq(w->name, cfg->name) && streq(w->path, cfg->path) && w->recursive == cfg->recursive &&
               w->auto_add == cfg->auto_add && g_strv_equal((const char *const *) w->exclude,
                                                            (const char *const *) cfg->exclude) &&
               w->initial_mask == cfg->initial_mask && w->initial_kinds == cfg->initial_kinds;
}

int backend_add_watch(Backend *b, const ConfigWatch *cfg, Watch **ret) {
        g_autofree char *path = NULL, *dir = NULL;
        struct stat st;
        Watch *w;
        int r;

        w = g_new0(Watch, 1);
        w->name = g_strdup(cfg->name);
        w->path = g_strdup(cfg->path);
        w->recursive = cfg->recursive;
        w->auto_add = cfg->auto_add;
        w->exclude = g_strdupv(cfg->exclude);
        for (char **p = w->exclude; p && *p; p++)
                if (strchr(*p, '/'))
                        w->exclude_has_slash = true;
        w->initial_mask = cfg->initial_mask;
        w->initial_kinds = cfg->initial_kinds;
        g_ptr_array_add(b->watches, w);

        /* A single file is watched through its directory, so a save-by-rename replacing it is seen. */
        if (stat(cfg->path, &st) >= 0 && S_ISDIR(st.st_mode))
                dir = g_strdup(cfg->path);
        else {
                dir = g_path_get_dirname(cfg->path);
                w->file_name = g_path_get_basename(cfg->path);
                w->recursive = w->auto_add = false;
        }

        w->root = watch_tree_add_root(b->tree, w, dir);
        path = g_malloc(PATH_MAX + 1);
        g_strlcpy(path, dir, PATH_MAX);
        r = watch_node(b, w->root, path);
        if (r < 0)
                log_warning_errno(r, "Watch %s: %s does not exist, not watching it for now.", w->name, dir);
        else if (r > 0) {
                w->active = true;
                scan_dir(b, w->root, path, strlen(path), SCAN_RECORD);
        }
        flush_enospc(b);

        *ret = w;
        return 0;
}

static unsigned count_watched(const WatchNode *n) {
        unsigned c = n->wd >= 0;
        WatchChildIter i;
        WatchNode *v;

        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i)))
                c += count_watched(v);
        return c;
}

unsigned backend_watch_n_directories(const Watch *w) {
        return w->root ? count_watched(w->root) : 0;
}

Watch *backend_find_watch(Backend *b, const char *name) {
        for (guint i = 0; i < b->watches->len; i++) {
                Watch *w = b->watches->pdata[i];

                if (streq(w->name, name))
                        return w;
        }
        return NULL;
}

GPtrArray *backend_get_watches(Backend *b) {
        return b->watches;
}

void backend_remove_watch(Backend *b, Watch *w) {
        for (guint i = 0; i < b->pending->len;) {
                if (g_array_index(b->pending, PendingMove, i).watch == w)
                        g_array_remove_index(b->pending, i);
                else
                        i++;
        }
        if (w->root)
                remove_subtree(b, w->root);
        g_ptr_array_remove(b->watches, w);
        watch_free(w);
}

static void raise_initial_node(Backend *b, Watch *w, WatchNode *n) {
        uint32_t mask = w->initial_mask;
        EventKind kind = w->initial_kinds ? (EventKind) __builtin_ctz(w->initial_kinds) : EVENT_KIND_NONE;
        WatchChildIter i;
        WatchNode *v;

        if (kind == EVENT_KIND_NONE)
                kind = event_kind_from_mask(mask);
        if (n->files) {
                WatchFileIter fi;
                const char *f;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f))
                        emit(b, w, n, f, mask, kind, 0, true, NULL);
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                emit(b, w, n, v->name, mask | IN_ISDIR, kind, 0, true, NULL);
                raise_initial_node(b, w, v);
        }
}

void backend_raise_initial(Backend *b, Watch *w) {
        EventKind kind;

        if (!w->active || (w->initial_mask == 0 && w->initial_kinds == 0))
                return;
        if (w->file_name) {
                if (watch_node_has_file(w->root, w->file_name)) {
                        kind = w->initial_kinds ? (EventKind) __builtin_ctz(w->initial_kinds)
                                                : event_kind_from_mask(w->initial_mask);
                        emit(b, w, w->root, w->file_name, w->initial_mask, kind, 0, true, NULL);
                }
                return;
        }
        /* The watched directory itself first (inorun's initevent), then everything in it. */
        kind = w->initial_kinds ? (EventKind) __builtin_ctz(w->initial_kinds) : event_kind_from_mask(w->initial_mask);
        emit(b, w, w->root, NULL, w->initial_mask | IN_ISDIR, kind, 0, true, NULL);
        raise_initial_node(b, w, w->root);
}

int backend_set_mask(Backend *b, uint32_t mask) {

        mask &= IN_ALL_EVENTS;
        if (mask == b->mask)
                return 0;
        b->mask = mask;
        /* Re-adding a watch on the same inode replaces its mask and keeps its wd. */
        for (guint k = 0; k < b->watches->len; k++) {
                Watch *w = g_ptr_array_index(b->watches, k);
                GQueue q = G_QUEUE_INIT;

                if (!w->root)
                        continue;
                g_queue_push_tail(&q, w->root);
                while (!g_queue_is_empty(&q)) {
                        WatchNode *n = g_queue_pop_head(&q), *v;
                        WatchChildIter ci;

                        if (n->wd >= 0) {
                                g_autofree char *p = watch_node_path(n);

                                (void) inotify_add_watch(b->fd, p, b->mask | TREE_MASK | ADD_FLAGS);
                        }
                        watch_child_iter_init(&ci, n);
                        while ((v = watch_child_iter_next(&ci)))
                                g_queue_push_tail(&q, v);
                }
        }
        return 0;
}

void backend_drain(Backend *b) {
        if (b && b->enabled && b->fd >= 0)
                (void) on_inotify(b->io, b->fd, EPOLLIN, b);
}

int backend_set_enabled(Backend *b, bool enabled) {
        b->enabled = enabled;
        return sd_event_source_set_enabled(b->io, enabled ? SD_EVENT_ON : SD_EVENT_OFF);
}

void backend_get_stats(const Backend *b, BackendStats *ret) {
        *ret = (BackendStats) {
                .n_events = b->n_events,
                .n_overflows = b->n_overflows,
                .n_watches = b->watches->len,
                .n_directories = watch_tree_n_watched(b->tree),
        };
        for (guint i = 0; i < b->watches->len; i++)
                ret->n_unwatched += ((Watch *) g_ptr_array_index(b->watches, i))->n_unwatched;
}

/* ------------------------------------------------------------------ snapshots */

static void snapshot_node(const WatchNode *n, GString *rel, GString *out) {
        size_t base = rel->len;
        WatchChildIter i;
        WatchNode *v;

        if (n->files) {
                WatchFileIter fi;
                const char *f;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f)) {
                        g_autofree char *e = NULL;

                        g_string_append(rel, f);
                        e = escape_display(rel->str, rel->len);
                        g_string_append_printf(out, "f\t%s\n", e);
                        g_string_truncate(rel, base);
                }
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                        g_autofree char *e = NULL;

                        g_string_append(rel, v->name);
                        e = escape_display(rel->str, rel->len);
                        g_string_append_printf(out, "d\t%s\n", e);
                        g_string_append_c(rel, '/');
                        snapshot_node(v, rel, out);
                        g_string_truncate(rel, base);
        }
}

char *backend_snapshot(Backend *b, Watch *w) {
        g_autoptr(GString) rel = g_string_new(NULL);
        GString *out = g_string_new(NULL);

        if (w->root && w->active)
                snapshot_node(w->root, rel, out);
        return g_string_free(out, false);
}

static bool changed_since(const WatchNode *n, const char *name, usec_t since) {
        g_autofree char *p = watch_node_child_path(n, name);
        struct stat st;

        return lstat(p, &st) >= 0 &&
               (usec_t) st.st_ctim.tv_sec * USEC_PER_SEC + (usec_t) st.st_ctim.tv_nsec / 1000 >= since;
}

static void compare_node(Backend *b, Watch *w, WatchNode *n, GString *rel, GHashTable *known, usec_t since) {
        size_t base = rel->len;
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        WatchChildIter i;
        WatchNode *v;

        if (n->files) {
                WatchFileIter fi;
                const char *f;

                /* Copies: raising events must not see the set change under it. */
                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f))
                        g_ptr_array_add(names, g_strdup(f));
                for (guint j = 0; j < names->len; j++) {
                        const char *name = names->pdata[j];

                        g_string_append(rel, name);
                        if (g_hash_table_remove(known, rel->str)) {
                                if (changed_since(n, name, since))
                                        emit_mask(b, w, n, name, IN_CLOSE_WRITE, true);
                        } else {
                                emit_mask(b, w, n, name, IN_CREATE, true);
                                emit_mask(b, w, n, name, IN_CLOSE_WRITE, true);
                        }
                        g_string_truncate(rel, base);
                }
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                g_string_append(rel, v->name);
                if (!g_hash_table_remove(known, rel->str))
                        emit_mask(b, w, n, v->name, IN_CREATE | IN_ISDIR, true);
                g_string_append_c(rel, '/');
                compare_node(b, w, v, rel, known, since);
                g_string_truncate(rel, base);
        }
}

void backend_compare_snapshot(Backend *b, Watch *w, GHashTable *known, usec_t since) {
        g_autoptr(GString) rel = g_string_new(NULL);
        g_autoptr(GPtrArray) gone = g_ptr_array_new();
        GHashTableIter i;
        gpointer k, v;

        if (!w->root || !w->active)
                return;
        compare_node(b, w, w->root, rel, known, since);

        /* What is left is gone. Raise it where its parent still exists; a vanished directory's
         * contents go with its own event. */
        g_hash_table_iter_init(&i, known);
        while (g_hash_table_iter_next(&i, &k, &v))
                g_ptr_array_add(gone, k);
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
                emit_mask(b, w, n, parts[np - 1], dir ? IN_DELETE | IN_ISDIR : IN_DELETE, true);
        }
}

/* ------------------------------------------------------------------ moves */

static void moved_out(Backend *b, PendingMove *p) {
        bool dir = p->mask & IN_ISDIR;

        /* Raise first, while the directory's node still exists for the path. */
        emit(b, p->watch, p->parent, p->name, p->mask, EVENT_KIND_DELETED, p->cookie, false, NULL);
        if (dir) {
                WatchNode *c = watch_node_child(p->parent, p->name);

                if (c)
                        remove_subtree(b, c);
        } else
                (void) watch_node_remove_file(p->parent, p->name);
}

static void flush_pending(Backend *b) {
        /* Take the array: handlers may remove nodes, which edits b->pending. */
        while (b->pending->len > 0) {
                PendingMove p = g_array_index(b->pending, PendingMove, 0);

                p.name = g_strdup(p.name);
                g_array_remove_index(b->pending, 0);
                moved_out(b, &p);
                g_free(p.name);
        }
}

static int on_pair_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        flush_pending(userdata);
        return 0;
}

/* A directory appeared in n: a recursive watch with AutoAdd= watches and scans it; a non-recursive one
 * only remembers it. */
static void new_dir(Backend *b, Watch *w, WatchNode *n, const char *name) {
        if (w->recursive && w->auto_add)
                add_dir_at(b, n, name, SCAN_CREATED);
        else if (!w->recursive)
                (void) watch_tree_add_child(b->tree, n, name);
}

static void moved_in(Backend *b, Watch *w, WatchNode *n, const char *name, uint32_t mask, uint32_t cookie) {
        emit(b, w, n, name, mask, EVENT_KIND_CREATED, cookie, false, NULL);
        if (mask & IN_ISDIR)
                new_dir(b, w, n, name);
        else
                (void) watch_node_add_file(n, name);
}

static void moved(Backend *b, PendingMove *p, WatchNode *n, const char *name, uint32_t mask) {
        Watch *w = p->watch;
        g_autofree char *src = watch_node_child_path(p->parent, p->name);

        emit(b, w, p->parent, p->name, p->mask, EVENT_KIND_NONE, p->cookie, false, NULL);
        if (mask & IN_ISDIR) {
                WatchNode *c = watch_node_child(p->parent, p->name);

                if (c)
                        /* The subtree keeps its watches; only the node's name and parent change. */
                        watch_tree_move(b->tree, c, n, name, on_node_removed, b);
                else
                        new_dir(b, w, n, name);
        } else {
                (void) watch_node_remove_file(p->parent, p->name);
                (void) watch_node_add_file(n, name);
        }
        emit(b, w, n, name, mask, EVENT_KIND_MOVED, p->cookie, false, src);
}

static PendingMove *find_pending(Backend *b, Watch *w, uint32_t cookie, guint *ret_index) {
        for (guint i = 0; i < b->pending->len; i++) {
                PendingMove *p = &g_array_index(b->pending, PendingMove, i);

                if (p->watch == w && p->cookie == cookie) {
                        *ret_index = i;
                        return p;
                }
        }
        return NULL;
}

/* ------------------------------------------------------------------ overflow */

static void rescan_node(Backend *b, Watch *w, WatchNode *n, usec_t since) {
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autofree char *path = watch_node_path(n);
        g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
        WatchChildIter i;
        WatchNode *v;
        struct dirent *de;
        DIR *d;

        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                const char *name = de->d_name;
                struct stat st;

                if (streq(name, ".") || streq(name, ".."))
                        continue;
                if (w->file_name && !n->parent && !streq(name, w->file_name))
                        continue;
                if (excluded(w, n, name))
                        continue;
                g_hash_table_add(seen, g_strdup(name));
                if (is_dir_entry(dirfd(d), de) && !w->file_name) {
                        WatchNode *c = watch_node_child(n, name);

                        if (c) {
                                if (w->recursive)
                                        rescan_node(b, w, c, since);
                        } else {
                                emit_mask(b, w, n, name, IN_CREATE | IN_ISDIR, true);
                                if (w->recursive)
                                        add_dir_at(b, n, name, SCAN_CREATED);
                                else
                                        (void) watch_tree_add_child(b->tree, n, name);
                        }
                } else if (watch_node_has_file(n, name)) {
                        /* Known: it may have been written while events were being dropped. */
                        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                            (usec_t) st.st_ctim.tv_sec * USEC_PER_SEC + (usec_t) st.st_ctim.tv_nsec / 1000 >= since)
                                emit_mask(b, w, n, name, IN_CLOSE_WRITE, true);
                } else {
                        (void) watch_node_add_file(n, name);
                        emit_mask(b, w, n, name, IN_CREATE, true);
                        emit_mask(b, w, n, name, IN_CLOSE_WRITE, true);
                }
        }
        closedir(d);

        if (n->files) {
                WatchFileIter fi;
                const char *f;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f))
                        if (!g_hash_table_contains(seen, f))
                                g_ptr_array_add(gone, g_strdup(f));
                for (guint j = 0; j < gone->len; j++) {
                        emit_mask(b, w, n, gone->pdata[j], IN_DELETE, true);
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

                emit_mask(b, w, n, gone->pdata[j], IN_DELETE | IN_ISDIR, true);
                if (c)
                        remove_subtree(b, c);
        }
}

static void handle_overflow(Backend *b) {
        usec_t since = b->last_drained > OVERFLOW_SLACK_USEC ? b->last_drained - OVERFLOW_SLACK_USEC : 0;
        char n[32];
        LogField f;

        b->n_overflows++;
        snprintf(n, sizeof n, "%" PRIu64, b->n_overflows);
        f = LOG_FIELD("INOTASKD_OVERFLOWS", n);
        (void) log_struct(LOG_WARNING, 0, MESSAGE_ID_QUEUE_OVERFLOW, &f, 1,
                          "Kernel event queue overflowed (%" PRIu64 " so far): rescanning every watch to find "
                          "what changed. Consider raising fs.inotify.max_queued_events.",
                          b->n_overflows);

        /* An unpaired move can no longer be paired: what became of it, the rescan will tell. */
        flush_pending(b);
        for (guint i = 0; i < b->watches->len; i++) {
                Watch *w = g_ptr_array_index(b->watches, i);

                if (!w->active)
                        continue;
                emit(b, w, w->root, w->file_name, 0, EVENT_KIND_OVERFLOW, 0, true, NULL);
                rescan_node(b, w, w->root, since);
        }
        flush_enospc(b);
}

/* ------------------------------------------------------------------ reading */

static void root_gone(Backend *b, WatchNode *n) {
        Watch *w = n->owner;

        log_warning("Watch %s: %s is gone, no longer watching it (a reload watches it again once it exists).",
                    w->name, w->path);
        w->active = false;
        /* Keep the root node (the watch still exists), drop everything below. */
        if (watch_node_n_children(n) > 0) {
                g_autoptr(GPtrArray) kids = g_ptr_array_new();
                WatchChildIter i;
                WatchNode *v;

                watch_child_iter_init(&i, n);
                while ((v = watch_child_iter_next(&i)))
                        g_ptr_array_add(kids, v);
                for (guint k = 0; k < kids->len; k++)
                        remove_subtree(b, kids->pdata[k]);
        }
        watch_tree_set_wd(b->tree, n, -1);
}

static void handle_one(Backend *b, WatchNode *n, const struct inotify_event *e) {
        Watch *w = n->owner;
        const char *name = e->len > 0 ? e->name : NULL;
        uint32_t mask = e->mask;

        if (!name) {
                /* Self events matter for the watched directory itself only: for any other directory
                 * the parent reports the same change by name. */
                if (n->parent || w->file_name)
                        return;
                emit_mask(b, w, n, NULL, mask | IN_ISDIR, false);
                return;
        }
        if (w->file_name && !streq(name, w->file_name))
                return;
        if (excluded(w, n, name))
                return;

        if (mask & IN_MOVED_FROM) {
                PendingMove p = {
                        .watch = w,
                        .parent = n,
                        .name = g_strdup(name),
                        .cookie = e->cookie,
                        .mask = mask,
                };

                g_array_append_val(b->pending, p);
                return;
        }
        if (mask & IN_MOVED_TO) {
                guint idx;
                PendingMove *p = find_pending(b, w, e->cookie, &idx);

                if (p) {
                        PendingMove copy = *p;

                        copy.name = g_strdup(p->name);
                        g_array_remove_index(b->pending, idx);
                        moved(b, &copy, n, name, mask);
                        g_free(copy.name);
                } else
                        moved_in(b, w, n, name, mask, e->cookie);
                return;
        }
        if (mask & IN_CREATE) {
                emit_mask(b, w, n, name, mask, false);
                if (mask & IN_ISDIR)
                        new_dir(b, w, n, name);
                else
                        (void) watch_node_add_file(n, name);
                return;
        }
        if (mask & IN_DELETE) {
                emit_mask(b, w, n, name, mask, false);
                if (mask & IN_ISDIR) {
                        WatchNode *c = watch_node_child(n, name);

                        if (c)
                                remove_subtree(b, c);
                } else
                        (void) watch_node_remove_file(n, name);
                return;
        }
        if (mask & b->mask)
                emit_mask(b, w, n, name, mask, false);
}

static bool pairs_with_pending(Backend *b, const struct inotify_event *e) {
        if (!(e->mask & IN_MOVED_TO))
                return false;
        for (guint i = 0; i < b->pending->len; i++)
                if (g_array_index(b->pending, PendingMove, i).cookie == e->cookie)
                        return true;
        return false;
}

static void handle_event(Backend *b, const struct inotify_event *e) {
        WatchNode *nodes[16], *n;
        WatchWdIter wi;
        size_t k = 0;

        /* The kernel queues both halves of a rename back to back: anything else after an IN_MOVED_FROM
         * means it has no pair here. Resolve it now, so events keep their order (a move out and a new
         * file of the same name must not swap). */
        if (b->pending->len > 0 && !pairs_with_pending(b, e))
                flush_pending(b);

        if (e->mask & IN_Q_OVERFLOW) {
                handle_overflow(b);
                return;
        }
        /* Overlapping watches share a wd: each tree gets the event. Copy the chain first, as handling
         * may remove nodes. */
        watch_wd_iter_init(&wi, b->tree, e->wd);
        while (k < ELEMENTSOF(nodes) && (n = watch_wd_iter_next(&wi)))
                nodes[k++] = n;
        for (size_t i = 0; i < k; i++) {
                /* A node removed by the handling of an earlier one no longer has this wd. */
                if (i > 0) {
                        bool still = false;

                        watch_wd_iter_init(&wi, b->tree, e->wd);
                        while ((n = watch_wd_iter_next(&wi)))
                                if (n == nodes[i])
                                        still = true;
                        if (!still)
                                continue;
                }
                if (e->mask & IN_IGNORED) {
                        if (nodes[i]->parent)
                                remove_subtree(b, nodes[i]);
                        else
                                root_gone(b, nodes[i]);
                        continue;
                }
                handle_one(b, nodes[i], e);
        }
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Backend *b = userdata;
        usec_t before = now_usec(CLOCK_REALTIME);
        ssize_t l;

        l = read(fd, b->buffer, READ_BUFFER_SIZE);
        if (l < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                return log_error_errno(errno, "Failed to read inotify events: %m");
        }
        for (uint8_t *p = b->buffer; p < b->buffer + l;) {
                const struct inotify_event *e = (const struct inotify_event *) p;

                handle_event(b, e);
                p += sizeof(struct inotify_event) + e->len;
        }

        /* A read that did not fill the buffer emptied the queue: nothing before it was dropped. Noted
         * only now: an overflow in this very read must look back to the previous emptying. */
        if ((size_t) l < READ_BUFFER_SIZE - sizeof(struct inotify_event) - NAME_MAX - 1)
                b->last_drained = before;

        /* A pair split across two reads: wait a little for the rest, but not while it is armed
         * already, so a stream of events cannot postpone it. */
        if (b->pending->len > 0) {
                int r, enabled = SD_EVENT_OFF;

                if (b->pair_timer)
                        (void) sd_event_source_get_enabled(b->pair_timer, &enabled);
                if (enabled != SD_EVENT_OFF)
                        r = 0;
                else if (b->pair_timer)
                        r = sd_event_source_set_time_relative(b->pair_timer, MOVE_PAIR_USEC) < 0 ? -1 :
                            sd_event_source_set_enabled(b->pair_timer, SD_EVENT_ONESHOT);
                else
                        r = sd_event_add_time_relative(b->event, &b->pair_timer, CLOCK_MONOTONIC, MOVE_PAIR_USEC,
                                                       USEC_PER_MSEC, on_pair_timeout, b);
                if (r < 0)
                        flush_pending(b);
        }
        return 0;
}
