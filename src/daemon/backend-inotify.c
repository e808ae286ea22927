/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inotify backend: one raw fd read with a large buffer, a wd -> node tree, cookie-paired moves; new
 * directories and queue overflows are reconciled with the disk by the one walk in reconcile.c. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "backend.h"
#include "event-util.h"
#include "log.h"
#include "message-ids.h"
#include "notify.h"
#include "open-beneath.h"
#include "reconcile.h"
#include "time-util.h"

#define READ_BUFFER_SIZE (256U * 1024U)
#define IN_SET_GONE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == ELOOP)
/* How long an IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as moved out. */
#define MOVE_PAIR_USEC (5 * USEC_PER_MSEC)
/* After an overflow, a file counts as possibly changed if its ctime is at or after the last read that
 * emptied the queue, taken on the clock the kernel stamps files with (CLOCK_REALTIME_COARSE), less the
 * file system's own granularity where it is coarser (FAT's two seconds, see fs_slack()). */
#define HANDLED_MAX 262144U     /* changes remembered since the queue was last empty (see note_handled()) */
/* Overlapping watches on one directory that an event reaches without an allocation. */
#define WD_NODES_INLINE 16U

/* What the tree needs to stay true, whatever the rules want. */
#define TREE_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
#define ADD_FLAGS (IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

typedef struct PendingMove {
        Watch *watch;
        WatchNode *parent;
        char *name;
        uint32_t cookie;
        uint32_t mask;
        uint64_t read;          /* the read it came in */
} PendingMove;

/* A new directory whose parent was not at its path: renamed, and the tree has not heard yet. */
typedef struct RetryDir {
        WatchNode *parent;
        char *name;
        unsigned n_final;       /* tries with the queue drained and no move waiting */
} RetryDir;

typedef struct InotifyBackend {
        BackendImpl base;
        int fd;
        int cwd_fd;             /* the working directory, to return to after adding a watch by "." */
        sd_event_source *io;
        sd_event_source *pair_timer;
        uint32_t mask;
        bool enabled;

        WatchTree *tree;
        Reconciler reconciler;
        GArray *pending;        /* PendingMove, in arrival order: halves waiting for their cookie */
        uint64_t n_reads;
        GArray *retry;          /* RetryDir */

        usec_t last_drained;    /* CLOCK_REALTIME_COARSE before the last read that emptied the queue */
        usec_t read_time;       /* CLOCK_REALTIME after the read being handled */
        bool last_read_full;    /* the last read filled the buffer: more may be queued */
        bool reading;           /* in on_inotify(): a drain from a handler must not read into the buffer */
        /* The files whose change was handled since the queue was last empty: FileKey (time: CLOCK_REALTIME
         * of the read that brought it). After an overflow the rescan skips a file whose ctime is not
         * later: a task ran (or waits) for it in that state. Exactly once, not twice. */
        GHashTable *handled;
        usec_t handled_until;   /* the latest "when" in it */
        /* What the last rescan raised, for the events still in the queue from before it: the rescan
         * saw those changes already (FileKey: the ctime it saw, and whether it raised it present or gone). Forgotten after the first read that started
         * after the rescan and emptied the queue. */
        GHashTable *seen;
        bool rescanning;
        usec_t rescan_end;      /* CLOCK_MONOTONIC */
        uint64_t n_overflows;

        /* Directories a walk could not watch because the table is full; logged once per walk. */
        unsigned enospc_count;
        char *enospc_first;

        /* Directories left unwatched by the limit are tried again on this timer (and at a reload). */
        sd_event_source *retry_timer;
        usec_t retry_usec;              /* the next retry's delay, doubling while nothing fits */
        GHashTable *unwatched_at;       /* path -> usec_t *: when it was listed (REALTIME_COARSE) */
        usec_t unwatched_since;         /* of the first directory left out, for those not in the table */
        bool retry_logged, retrying;

        /* Long scans block the loop: keep systemd's start timeout and watchdog at bay meanwhile. */
        unsigned scan_count;
        usec_t scan_last_ping;

        uint8_t *buffer;
} InotifyBackend;

static void pending_clear(PendingMove *p) {
        g_free(p->name);
}

static void retry_clear(RetryDir *r) {
        g_free(r->name);
}

typedef enum SeenState {
        SEEN_PRESENT,           /* raised as created or changed, in the state of its ctime */
        SEEN_GONE,              /* raised as deleted */
} SeenState;

/* A file by its directory's node and its name, with a time: for b->handled when its change was read
 * (CLOCK_REALTIME after the read), for b->seen the ctime the rescan saw, and what the rescan raised. A
 * node freed and another allocated at its address could only match a file that was found by that new
 * directory's own walk, after the change. */
typedef struct FileKey {
        const WatchNode *node;
        usec_t time;
        SeenState state;
        char name[];
} FileKey;

static FileKey *file_key_new(const WatchNode *n, const char *name, usec_t time, SeenState state) {
        size_t l = strlen(name);
        FileKey *k = g_malloc(sizeof(FileKey) + l + 1);

        *k = (FileKey) { .node = n, .time = time, .state = state };
        memcpy(k->name, name, l + 1);
        return k;
}

static guint file_key_hash(gconstpointer p) {
        const FileKey *k = p;

        return g_str_hash(k->name) ^ (guint) ((uintptr_t) k->node >> 4);
}

static gboolean file_key_equal(gconstpointer a, gconstpointer b) {
        const FileKey *x = a, *y = b;

        return x->node == y->node && streq(x->name, y->name);
}

/* The entry of a set of FileKeys (b->handled, b->seen) for name of n, or NULL. */
static const FileKey *file_key_lookup(GHashTable *set, const WatchNode *n, const char *name) {
        g_autofree FileKey *k = NULL;

        if (g_hash_table_size(set) == 0)
                return NULL;
        k = file_key_new(n, name, 0, SEEN_PRESENT);
        return g_hash_table_lookup(set, k);
}

static usec_t ctime_of(const WatchNode *n, const char *name) {
        g_autofree char *p = watch_node_child_path(n, name);
        struct stat st;

        if (lstat_any_length(p, &st) < 0)
                return USEC_INFINITY;
        return (usec_t) st.st_ctim.tv_sec * USEC_PER_SEC + (usec_t) st.st_ctim.tv_nsec / 1000;
}

/* A rescan raises entry name of n: an event from before it, still in the queue, is then not raised
 * again. */
static void note_seen(InotifyBackend *b, const WatchNode *n, const char *name, uint32_t mask) {
        SeenState state = mask & (IN_DELETE | IN_MOVED_FROM) ? SEEN_GONE : SEEN_PRESENT;
        usec_t ct = state == SEEN_PRESENT && !(mask & IN_ISDIR) ? ctime_of(n, name) : 0;

        if (g_hash_table_size(b->seen) >= HANDLED_MAX)
                return;
        g_hash_table_add(b->seen, file_key_new(n, name, ct, state));
}

/* Whether the event mask for entry name of n is one the last rescan raised already, so it is not raised
 * again (the tree is still brought up to date by the caller). An event that tells of something newer
 * than what the rescan saw ends that entry. */
static bool seen_by_rescan(InotifyBackend *b, const WatchNode *n, const char *name, uint32_t mask) {
        const FileKey *k = file_key_lookup(b->seen, n, name);

        if (!k)
                return false;
        if (mask & (IN_DELETE | IN_MOVED_FROM)) {
                if (k->state == SEEN_GONE)
                        return true;
        } else if (mask & (IN_CREATE | IN_MOVED_TO)) {
                if (k->state == SEEN_PRESENT)
                        return true;
        } else if (mask & (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB)) {
                if (k->state == SEEN_PRESENT && ctime_of(n, name) <= k->time)
                        return true;
        } else
                return false;
        g_hash_table_remove(b->seen, (gpointer) k);
        return false;
}

/* The change of file name in n was handled (its task scheduled or merged) in the state it has now. */
static void note_handled(InotifyBackend *b, const WatchNode *n, const char *name) {
        if (g_hash_table_size(b->handled) >= HANDLED_MAX)
                return;         /* a later rescan raises the rest again: twice, never lost */
        g_hash_table_add(b->handled, file_key_new(n, name, b->read_time, SEEN_PRESENT));
        b->handled_until = b->read_time;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void retry_new_dirs(InotifyBackend *b, bool final);
static const ReconcileOps reconcile_ops;
static void retry_arm(InotifyBackend *b);
static void unmounted(InotifyBackend *b, WatchNode *n);

static int inotify_backend_init(BackendImpl *base, const char *watch_name) {
        InotifyBackend *b = (InotifyBackend *) base;
        int r;

        b->fd = -1;
        b->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        b->pending = g_array_new(false, true, sizeof(PendingMove));
        g_array_set_clear_func(b->pending, (GDestroyNotify) pending_clear);
        b->retry = g_array_new(false, true, sizeof(RetryDir));
        g_array_set_clear_func(b->retry, (GDestroyNotify) retry_clear);
        b->buffer = g_malloc(READ_BUFFER_SIZE);
        b->enabled = true;
        b->last_drained = now_usec(CLOCK_REALTIME_COARSE);
        b->handled = g_hash_table_new_full(file_key_hash, file_key_equal, g_free, NULL);
        b->seen = g_hash_table_new_full(file_key_hash, file_key_equal, g_free, NULL);
        (void) watch_tree_new(&b->tree);
        b->reconciler = (Reconciler) { .ops = &reconcile_ops, .userdata = b, .tree = b->tree };

        b->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (b->fd < 0)
                return log_error_errno(errno, "Watch %s: failed to create inotify instance: %m", watch_name);

        r = sd_event_add_io(base->event, &b->io, b->fd, EPOLLIN, on_inotify, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add inotify event source: %m");
        (void) sd_event_source_set_description(b->io, "inotify");
        /* A read that fails would otherwise disable the source: a daemon that says it is ready and
         * hears nothing. End the loop instead, loudly, so the service manager restarts us. */
        r = sd_event_source_set_exit_on_failure(b->io, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set up inotify event source: %m");
        return 0;
}

static void inotify_done(BackendImpl *base) {
        InotifyBackend *b = (InotifyBackend *) base;

        b->io = sd_event_source_disable_unref(b->io);
        b->pair_timer = sd_event_source_disable_unref(b->pair_timer);
        b->retry_timer = sd_event_source_disable_unref(b->retry_timer);
        if (b->unwatched_at)
                g_hash_table_unref(b->unwatched_at);
        if (b->pending)
                g_array_unref(b->pending);
        if (b->retry)
                g_array_unref(b->retry);
        /* Closing the fd drops every kernel watch at once. */
        b->fd = safe_close(b->fd);
        b->cwd_fd = safe_close(b->cwd_fd);
        b->tree = watch_tree_free(b->tree);
        if (b->handled)
                g_hash_table_destroy(b->handled);
        if (b->seen)
                g_hash_table_destroy(b->seen);
        g_free(b->enospc_first);
        g_free(b->buffer);
}

/* ------------------------------------------------------------------ emitting events */

static void emit(InotifyBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                 EventKind kind, uint32_t cookie, bool synthetic, const char *src_pathname) {
        backend_emit_one(&b->base, w, n, name, mask, kind, cookie, synthetic, src_pathname);
}

static void emit_mask(InotifyBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                      bool synthetic) {
        emit(b, w, n, name, mask, event_kind_from_mask(mask), 0, synthetic, NULL);
}

/* ------------------------------------------------------------------ watching directories */

static void on_node_removed(WatchTree *t, WatchNode *n, void *userdata) {
        InotifyBackend *b = userdata;

        /* A move still waiting for its pair must not keep a pointer to a freed directory. */
        for (guint i = 0; i < b->pending->len;) {
                PendingMove *p = &g_array_index(b->pending, PendingMove, i);

                if (p->parent == n)
                        g_array_remove_index(b->pending, i);
                else
                        i++;
        }
        for (guint i = 0; i < b->retry->len;) {
                if (g_array_index(b->retry, RetryDir, i).parent == n)
                        g_array_remove_index(b->retry, i);
                else
                        i++;
        }
        if (n->wd >= 0 && !watch_tree_wd_shared(t, n))
                (void) inotify_rm_watch(b->fd, n->wd);
}

static void remove_subtree(InotifyBackend *b, WatchNode *n) {
        watch_tree_remove(b->tree, n, on_node_removed, b);
}

static void note_enospc(InotifyBackend *b, Watch *w, const char *path) {
        /* The file systems' own clock for ctime: a write after the listing is at or after it (so a retry
         * does not miss it), one before it only within the same tick. */
        usec_t now = now_usec(CLOCK_REALTIME_COARSE);

        w->n_unwatched++;
        /* The walk lists it next: a retry raises what changed after that. */
        if (!b->unwatched_at)
                b->unwatched_at = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_hash_table_insert(b->unwatched_at, g_strdup(path), g_memdup2(&now, sizeof now));
        if (b->unwatched_since == 0)
                b->unwatched_since = now;
        if (b->enospc_count++ == 0)
                b->enospc_first = g_strdup(path);
}

static void flush_enospc(InotifyBackend *b) {
        g_autofree char *limit = NULL;
        LogField f[2];

        if (b->enospc_count == 0 || b->retrying)
                return;
        retry_arm(b);
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

static bool is_ancestor(const WatchNode *a, const WatchNode *n) {
        for (const WatchNode *p = n->parent; p; p = p->parent)
                if (p == a)
                        return true;
        return false;
}

/* n was just watched, and the kernel says another node of its watch has the same directory: that
 * node's name is stale (a create handled after the directory had been renamed away and another made
 * in its place, so a rename moved the wrong node). The directory under the stale node's name is not
 * watched; it is found again (with created events for it) once the events in flight are handled, and
 * the stale node goes. A directory seen twice through a bind mount is no twin: both stay. */
static void drop_stale_twin(InotifyBackend *b, WatchNode *n, int fd) {
        WatchWdIter i;
        WatchNode *o;

        watch_wd_iter_init(&i, b->tree, n->wd);
        while ((o = watch_wd_iter_next(&i))) {
                g_autofree char *p = NULL;
                struct stat a, c;
                RetryDir r;

                if (o == n || watch_node_owner(o) != watch_node_owner(n) || !o->parent || is_ancestor(o, n))
                        continue;
                p = watch_node_path(o);
                if (fstat(fd, &a) >= 0 && lstat(p, &c) >= 0 && a.st_dev == c.st_dev && a.st_ino == c.st_ino)
                        continue;
                log_debug("%s names the directory now watched as %s: looking at it again.", p, watch_node_name(n));
                r = (RetryDir) { .parent = o->parent, .name = g_strdup(watch_node_name(o)) };
                g_array_append_val(b->retry, r);
                remove_subtree(b, o);
                return;         /* the iteration ends with a change of the tree */
        }
}

/* Adds the kernel watch for n, found at path, or open as fd (path may then be NULL). Through fd, the watch
 * is added by "." after an fchdir(): that names exactly the directory opened, whatever renames of its
 * ancestors the tree has not applied yet, and whatever the length of its path; it costs no more than
 * adding by path (a /proc/self/fd path costs a procfs lookup). The working directory is put back at
 * once: the daemon uses no relative path, nor do its worker threads. Returns 1 if watched, 0 if it could
 * not be (logged/counted), <0 if the directory is gone. */
static int watch_node(InotifyBackend *b, WatchNode *n, const char *path, int fd) {
        uint32_t flags = b->mask | TREE_MASK | ADD_FLAGS;
        g_autofree char *built = NULL;
        int wd;

        if (fd >= 0 && b->cwd_fd >= 0 && fchdir(fd) >= 0) {
                wd = inotify_add_watch(b->fd, ".", flags);
                if (fchdir(b->cwd_fd) < 0)
                        log_warning_errno(errno, "Failed to return to the working directory: %m");
        } else {
                if (!path)
                        path = built = watch_node_path(n);
                wd = inotify_add_watch(b->fd, path, flags);
        }
        if (wd < 0) {
                int e = errno;

                if (!path)
                        path = built = watch_node_path(n);
                if (e == ENOSPC) {
                        note_enospc(b, watch_node_owner(n), path);
                        return 0;
                }
                if (IN_SET_GONE(e))
                        return -e;
                log_warning_errno(e, "Failed to watch %s, ignoring: %m", path);
                return 0;
        }
        if (n->wd >= 0 && n->wd != wd && !watch_tree_wd_shared(b->tree, n))
                /* A rescan found another directory under this name: the old one is not ours now. */
                (void) inotify_rm_watch(b->fd, n->wd);
        watch_tree_set_wd(b->tree, n, wd);
        if (fd >= 0)
                drop_stale_twin(b, n, fd);
        return 1;
}


#define SCAN_PING_EVERY 1024U
#define SCAN_PING_USEC (2 * USEC_PER_SEC)
#define SCAN_EXTEND_USEC (30 * USEC_PER_SEC)

static void scan_progress(InotifyBackend *b) {
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

/* ------------------------------------------------------------------ the reconcile walk's hooks */

static int reconcile_watch_dir(void *userdata, WatchNode *n, int fd) {
        return watch_node(userdata, n, NULL, fd);
}

static bool reconcile_handled(void *userdata, const WatchNode *n, const char *name, usec_t ctime) {
        InotifyBackend *b = userdata;
        const FileKey *found = file_key_lookup(b->handled, n, name);

        return found && ctime <= found->time;
}

static void reconcile_remove_subtree(void *userdata, WatchNode *n) {
        remove_subtree(userdata, n);
}

static void reconcile_emit(void *userdata, Watch *w, const WatchNode *n, const char *name, uint32_t mask) {
        InotifyBackend *b = userdata;

        if (b->rescanning && name)
                note_seen(b, n, name, mask);
        emit_mask(b, w, n, name, mask, true);
}

static void reconcile_progress(void *userdata) {
        scan_progress(userdata);
}

static const ReconcileOps reconcile_ops = {
        .watch_dir = reconcile_watch_dir,
        .remove_subtree = reconcile_remove_subtree,
        .emit = reconcile_emit,
        .handled = reconcile_handled,
        .progress = reconcile_progress,
};

/* ------------------------------------------------------------------ watches */

/* Where the kernel watches w's root: dir itself, or for a link (Path= a deployment's "current") its
 * target, while the tree keeps the link's name, so tasks get paths under Path=. */
static const char *root_kernel_path(Watch *w, const char *dir) {
        struct stat st;

        if (lstat(dir, &st) < 0 || !S_ISLNK(st.st_mode))
                return dir;
        g_free(w->target);
        w->target = realpath(dir, NULL);
        return w->target ?: dir;
}

static void inotify_add(BackendImpl *base, Watch *w, bool announce) {
        InotifyBackend *b = (InotifyBackend *) base;
        g_autofree char *dir = NULL;
        struct stat st;
        int r;

        if (stat(w->path, &st) < 0) {
                /* Gone again since the waiter looked: it looks again. */
                backend_watch_lost(base, w);
                return;
        }
        if (S_ISDIR(st.st_mode))
                dir = g_strdup(w->path);
        else {
                /* A single file is watched through its directory, so a save-by-rename replacing it is
                 * seen; a link to a file by the file's own path and directory. */
                struct stat lst;
                g_autofree char *real = lstat(w->path, &lst) >= 0 && S_ISLNK(lst.st_mode) ?
                                        realpath(w->path, NULL) : NULL;
                const char *p = real ?: w->path;
                g_autofree char *file = g_path_get_basename(p);

                dir = g_path_get_dirname(p);
                watch_set_single_file(w, file);
        }

        w->root = watch_tree_add_root(b->tree, w, dir);
        r = strlen(dir) < PATH_MAX ? watch_node(b, w->root, root_kernel_path(w, dir), -1) : -ENAMETOOLONG;
        if (r < 0) {
                log_warning_errno(r, "Watch %s: %s does not exist, not watching it for now.", w->name, dir);
                backend_watch_lost(base, w);
        } else if (r > 0) {
                w->active = true;
                if (announce && !w->file_name)
                        /* The directory itself, which its parent (not watched) cannot report. */
                        emit_mask(b, w, w->root, NULL, IN_CREATE | IN_ISDIR, true);
                reconcile_node(&b->reconciler, w->root, announce ? RECONCILE_CREATED : RECONCILE_RECORD, 0);
        }
        flush_enospc(b);
}

static void inotify_remove(BackendImpl *base, Watch *w) {
        InotifyBackend *b = (InotifyBackend *) base;

        for (guint i = 0; i < b->pending->len;) {
                if (g_array_index(b->pending, PendingMove, i).watch == w)
                        g_array_remove_index(b->pending, i);
                else
                        i++;
        }
        if (w->root)
                remove_subtree(b, w->root);
}

static int inotify_set_mask(BackendImpl *base, uint32_t mask) {
        InotifyBackend *b = (InotifyBackend *) base;

        mask &= IN_ALL_EVENTS;
        if (mask == b->mask)
                return 0;
        b->mask = mask;
        /* Re-adding a watch on the same inode replaces its mask and keeps its wd. */
        for (guint k = 0; k < base->face->watches->len; k++) {
                Watch *w = g_ptr_array_index(base->face->watches, k);
                GQueue q = G_QUEUE_INIT;

                if (!w->root || w->impl != base)
                        continue;
                g_queue_push_tail(&q, w->root);
                while (!g_queue_is_empty(&q)) {
                        WatchNode *n = g_queue_pop_head(&q), *v;
                        WatchChildIter ci;

                        if (n->wd >= 0) {
                                g_autofree char *p = n == w->root && w->target ? g_strdup(w->target) :
                                                                                 watch_node_path(n);

                                (void) inotify_add_watch(b->fd, p, b->mask | TREE_MASK | ADD_FLAGS);
                        }
                        watch_child_iter_init(&ci, n);
                        while ((v = watch_child_iter_next(&ci)))
                                g_queue_push_tail(&q, v);
                }
        }
        return 0;
}

/* Reads at most this many buffers in one drain: a storm must not keep a due task waiting for long. */
#define DRAIN_READS_MAX 16U

static void inotify_drain(BackendImpl *base) {
        InotifyBackend *b = (InotifyBackend *) base;

        /* Until the queue is empty: a task about to start must not run on a state whose change is still
         * in the queue, only to run again when the event is read. */
        for (unsigned i = 0; i < DRAIN_READS_MAX && b->enabled && b->fd >= 0 && !b->reading; i++) {
                (void) on_inotify(b->io, b->fd, EPOLLIN, b);
                if (!b->last_read_full)
                        break;
        }
}

static int inotify_set_enabled(BackendImpl *base, bool enabled) {
        InotifyBackend *b = (InotifyBackend *) base;

        b->enabled = enabled;
        return sd_event_source_set_enabled(b->io, enabled ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void inotify_get_stats(const BackendImpl *base, BackendStats *ret) {
        const InotifyBackend *b = (const InotifyBackend *) base;

        ret->n_overflows = b->n_overflows;
        ret->n_directories = watch_tree_n_watched(b->tree);
}

static void inotify_compare_snapshot(BackendImpl *base, Watch *w, GHashTable *known, usec_t since) {
        InotifyBackend *b = (InotifyBackend *) base;

        reconcile_snapshot(&b->reconciler, w, known, since);
}

/* ------------------------------------------------------------------ moves */

static void moved_out(InotifyBackend *b, PendingMove *p) {
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

/* Takes entry i out and resolves it as moved out: handlers may remove nodes, which edits b->pending. */
static void expire_pending(InotifyBackend *b, guint i) {
        PendingMove p = g_array_index(b->pending, PendingMove, i);

        p.name = g_strdup(p.name);
        g_array_remove_index(b->pending, i);
        moved_out(b, &p);
        g_free(p.name);
}

/* Expires the halves that came in read up_to or before. */
static void flush_pending_upto(InotifyBackend *b, uint64_t up_to) {
        while (b->pending->len > 0 && g_array_index(b->pending, PendingMove, 0).read <= up_to)
                expire_pending(b, 0);
}

static void flush_pending(InotifyBackend *b) {
        flush_pending_upto(b, UINT64_MAX);
}

/* An entry name appears in n while a half that left n under that name still waits: that one went
 * elsewhere, so it is resolved first and the tree never holds two of a name. Rare: only another
 * process can create the name between the two halves of a rename. */
static void flush_conflicting(InotifyBackend *b, Watch *w, const WatchNode *n, const char *name) {
        for (guint i = 0; i < b->pending->len;) {
                const PendingMove *p = &g_array_index(b->pending, PendingMove, i);

                if (p->watch == w && p->parent == n && streq(p->name, name))
                        expire_pending(b, i);
                else
                        i++;
        }
}

static int on_pair_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        InotifyBackend *b = userdata;
        uint64_t waited = b->n_reads;

        /* The other half may sit in the queue behind a long read: read once more, then what waited
         * since before that read and is still unpaired was moved out. */
        if (b->enabled && b->fd >= 0)
                (void) on_inotify(b->io, b->fd, EPOLLIN, b);
        flush_pending_upto(b, waited);
        if (b->retry->len > 0)
                retry_new_dirs(b, b->pending->len == 0);
        return 0;
}

/* A directory appeared in n: a recursive watch with AutoAdd= watches and scans it; a non-recursive one
 * only remembers it. */
static void new_dir(InotifyBackend *b, Watch *w, WatchNode *n, const char *name) {
        if (w->recursive && w->auto_add) {
                /* Its parent was renamed after the event and the rename's events are still to come:
                 * try again once they are applied (a removed parent takes the retry with it). */
                if (reconcile_new_dir(&b->reconciler, n, name, RECONCILE_CREATED) == -ENOENT) {
                        RetryDir r = { .parent = n, .name = g_strdup(name) };

                        g_array_append_val(b->retry, r);
                }
                flush_enospc(b);
        }
        else if (!w->recursive)
                (void) watch_tree_add_child(b->tree, n, name);
}

static void moved_in(InotifyBackend *b, Watch *w, WatchNode *n, const char *name, uint32_t mask,
                     uint32_t cookie) {
        if (seen_by_rescan(b, n, name, mask)) {
                /* The rescan raised it, and walked it if it is a directory. */
                if (!(mask & IN_ISDIR))
                        (void) watch_node_add_file(n, name);
                return;
        }
        emit(b, w, n, name, mask, EVENT_KIND_CREATED, cookie, false, NULL);
        if (mask & IN_ISDIR)
                new_dir(b, w, n, name);
        else {
                (void) watch_node_add_file(n, name);
                note_handled(b, n, name);
        }
}

static void moved(InotifyBackend *b, PendingMove *p, WatchNode *n, const char *name, uint32_t mask) {
        Watch *w = p->watch;
        g_autofree char *src = watch_node_child_path(p->parent, p->name);
        /* A move from before the last rescan, whose result it raised (and walked) already. */
        bool seen = seen_by_rescan(b, n, name, mask);

        if (!seen)
                emit(b, w, p->parent, p->name, p->mask, EVENT_KIND_NONE, p->cookie, false, NULL);
        if (mask & IN_ISDIR) {
                WatchNode *c = watch_node_child(p->parent, p->name);

                if (c)
                        /* The subtree keeps its watches; only the node's name and parent change. */
                        watch_tree_move(b->tree, c, n, name, on_node_removed, b);
                else if (!seen)
                        new_dir(b, w, n, name);
        } else {
                (void) watch_node_remove_file(p->parent, p->name);
                (void) watch_node_add_file(n, name);
        }
        if (seen)
                return;
        emit(b, w, n, name, mask, EVENT_KIND_MOVED, p->cookie, false, src);
        if (!(mask & IN_ISDIR))
                note_handled(b, n, name);
}

static PendingMove *find_pending(InotifyBackend *b, Watch *w, uint32_t cookie, guint *ret_index) {
        /* From the newest: the pair of a rename is nearly always the half that came last. */
        for (guint i = b->pending->len; i-- > 0;) {
                PendingMove *p = &g_array_index(b->pending, PendingMove, i);

                if (p->watch == w && p->cookie == cookie) {
                        *ret_index = i;
                        return p;
                }
        }
        return NULL;
}

/* New directories whose parents were not at their paths. final: the queue was drained and no move waits
 * for its pair, so the tree's paths are as true as they get; what is still not found is gone. */
static void retry_new_dirs(InotifyBackend *b, bool final) {
        /* One at a time from the head: a walk may remove nodes, which edits b->retry. */
        for (guint todo = b->retry->len; todo > 0 && b->retry->len > 0; todo--) {
                RetryDir r = g_array_index(b->retry, RetryDir, 0);
                const WatchNode *c;

                r.name = g_strdup(r.name);
                g_array_remove_index(b->retry, 0);
                c = watch_node_child(r.parent, r.name);
                if ((!c || c->wd < 0) &&
                    reconcile_new_dir(&b->reconciler, r.parent, r.name, RECONCILE_CREATED) == -ENOENT) {
                        /* The kernel queues a rename's events just after the name changes: one more
                         * try, on the pair timer, before it counts as gone. */
                        if (!final || r.n_final++ == 0) {
                                g_array_append_val(b->retry, r);
                                continue;
                        }
                        log_debug("%s/%s is gone, not watching it.", watch_node_name(r.parent), r.name);
                }
                g_free(r.name);
        }
        flush_enospc(b);
}

/* ------------------------------------------------------------------ overflow */

/* How much coarser than the clock a file system's timestamps may be. */
static usec_t fs_slack(const Watch *w) {
        struct statfs sfs;

        if (!w->root || statfs(watch_node_name(w->root), &sfs) < 0)
                return 0;
        switch ((unsigned long) sfs.f_type) {
        case 0x4d44:            /* MSDOS_SUPER_MAGIC: vfat, two seconds */
        case 0x2011BAB0:        /* EXFAT_SUPER_MAGIC: ten milliseconds, but rounded down to two seconds */
        case 0x4244:            /* HFS_SUPER_MAGIC: one second */
        case 0x9660:            /* ISOFS_SUPER_MAGIC */
        case 0x6969:            /* NFS_SUPER_MAGIC: the server's clock */
        case 0xFF534D42:        /* CIFS_MAGIC_NUMBER: likewise */
        case 0x65735546:        /* FUSE_SUPER_MAGIC: whatever the daemon says */
                return 2 * USEC_PER_SEC;
        default:
                return 0;
        }
}

static void handle_overflow(InotifyBackend *b) {
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
        for (guint i = 0; i < b->base.face->watches->len; i++) {
                Watch *w = g_ptr_array_index(b->base.face->watches, i);

                if (w->impl != &b->base)
                        continue;
                /* The root's own deletion or rename may be among the lost events: the waiter looks at
                 * its path again (it compares inodes, so a root still in place stays as it is). */
                backend_watch_lost(&b->base, w);
                if (!w->active)
                        continue;
                usec_t slack = fs_slack(w);

                emit(b, w, w->root, w->file_name, 0, EVENT_KIND_OVERFLOW, 0, true, NULL);
                b->rescanning = true;
                reconcile_node(&b->reconciler, w->root, RECONCILE_RESCAN,
                               b->last_drained > slack ? b->last_drained - slack : 0);
                b->rescanning = false;
        }
        b->rescan_end = now_usec(CLOCK_MONOTONIC);
        flush_enospc(b);
}

/* ------------------------------------------------------------------ reading */

/* Forgets n's files and subdirectories (and their watches); n itself stays. */
static void drop_below(InotifyBackend *b, WatchNode *n) {
        g_autoptr(GPtrArray) kids = g_ptr_array_new(), names = g_ptr_array_new_with_free_func(g_free);
        WatchChildIter i;
        WatchFileIter fi;
        const char *f;
        WatchNode *v;

        watch_file_iter_init(&fi, n);
        while (n->files && watch_file_iter_next(&fi, &f))
                g_ptr_array_add(names, g_strdup(f));
        for (guint k = 0; k < names->len; k++)
                (void) watch_node_remove_file(n, names->pdata[k]);
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i)))
                g_ptr_array_add(kids, v);
        for (guint k = 0; k < kids->len; k++)
                remove_subtree(b, kids->pdata[k]);
}

static void root_gone(InotifyBackend *b, WatchNode *n) {
        Watch *w = watch_node_owner(n);

        log_warning("Watch %s: %s is gone, no longer watching it.", w->name, w->path);
        w->active = false;
        /* Keep the root node (the watch still exists), drop everything below. */
        drop_below(b, n);
        watch_tree_set_wd(b->tree, n, -1);
        /* It waits for a directory of that name to appear again. */
        backend_watch_lost(&b->base, w);
}

/* A root renamed away: what happens in it now has no path under Path=. Drop the kernel watches of its
 * whole tree at once (events already queued find no node), then it waits as a deleted one. */
static void root_moved_away(InotifyBackend *b, WatchNode *n) {
        if (n->wd >= 0 && !watch_tree_wd_shared(b->tree, n))
                (void) inotify_rm_watch(b->fd, n->wd);
        root_gone(b, n);
}

static void handle_one(InotifyBackend *b, WatchNode *n, const struct inotify_event *e) {
        Watch *w = watch_node_owner(n);
        const char *name = e->len > 0 ? e->name : NULL;
        uint32_t mask = e->mask;

        if ((mask & IN_UNMOUNT) && b->base.face->mounts) {
                unmounted(b, n);
                return;
        }
        if (!name) {
                /* Self events matter for the watched directory itself only: for any other directory
                 * the parent reports the same change by name. */
                if (!n->parent && !w->file_name)
                        emit_mask(b, w, n, NULL, mask | IN_ISDIR, false);
                if (!n->parent && (mask & IN_MOVE_SELF))
                        root_moved_away(b, n);
                return;
        }
        if (w->file_name && !streq(name, w->file_name))
                return;
        if (watch_excluded(w, n, name))
                return;

        if ((mask & IN_MOVED_FROM) && seen_by_rescan(b, n, name, mask)) {
                /* Gone, as the rescan said: its other half, if any, arrives as a move in. */
                if (!(mask & IN_ISDIR))
                        (void) watch_node_remove_file(n, name);
                return;
        }
        if (mask & IN_MOVED_FROM) {
                PendingMove p = {
                        .watch = w,
                        .parent = n,
                        .name = g_strdup(name),
                        .cookie = e->cookie,
                        .mask = mask,
                        .read = b->n_reads,
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
                        /* A rename onto its own name (a hard link of it) is a pair, not a conflict. */
                        if (copy.parent != n || !streq(copy.name, name))
                                flush_conflicting(b, w, n, name);
                        moved(b, &copy, n, name, mask);
                        g_free(copy.name);
                } else {
                        flush_conflicting(b, w, n, name);
                        moved_in(b, w, n, name, mask, e->cookie);
                }
                return;
        }
        if (mask & IN_CREATE) {
                flush_conflicting(b, w, n, name);
                if (seen_by_rescan(b, n, name, mask)) {
                        /* The rescan raised it, and walked it if it is a directory. */
                        if (!(mask & IN_ISDIR))
                                (void) watch_node_add_file(n, name);
                        return;
                }
                emit_mask(b, w, n, name, mask, false);
                if (mask & IN_ISDIR)
                        new_dir(b, w, n, name);
                else
                        (void) watch_node_add_file(n, name);
                return;
        }
        if (mask & IN_DELETE) {
                if (!seen_by_rescan(b, n, name, mask))
                        emit_mask(b, w, n, name, mask, false);
                if (mask & IN_ISDIR) {
                        WatchNode *c = watch_node_child(n, name);

                        if (c)
                                remove_subtree(b, c);
                } else
                        (void) watch_node_remove_file(n, name);
                return;
        }
        if (!(mask & b->mask))
                return;
        if (seen_by_rescan(b, n, name, mask))
                return;
        emit_mask(b, w, n, name, mask, false);
        if ((mask & (IN_CLOSE_WRITE | IN_MODIFY)) && !(mask & IN_ISDIR))
                note_handled(b, n, name);
}

static bool wd_has_node(const InotifyBackend *b, int wd, const WatchNode *node) {
        WatchWdIter wi;
        WatchNode *n;

        watch_wd_iter_init(&wi, b->tree, wd);
        while ((n = watch_wd_iter_next(&wi)))
                if (n == node)
                        return true;
        return false;
}

static void handle_event(InotifyBackend *b, const struct inotify_event *e) {
        WatchNode *inline_nodes[WD_NODES_INLINE], **nodes = inline_nodes, *n;
        g_autofree WatchNode **heap = NULL;
        size_t k = 0, cap = ELEMENTSOF(inline_nodes);
        WatchWdIter wi;

        /* The two halves of a rename are queued one after the other, but other processes' events can
         * come between them: a half waits in b->pending for its cookie (at most until the pair timer
         * and one more read), whatever comes between. Events meanwhile below a directory being moved
         * carry its old path; the move, once paired, re-keys them. */
        if (e->mask & IN_Q_OVERFLOW) {
                handle_overflow(b);
                return;
        }
        /* Overlapping watches share a wd: each tree gets the event. Copy the chain first, as handling
         * may remove nodes; on the stack unless there are many. */
        watch_wd_iter_init(&wi, b->tree, e->wd);
        while ((n = watch_wd_iter_next(&wi))) {
                if (k == cap) {
                        cap *= 2;
                        heap = g_renew(WatchNode *, heap, cap);
                        if (nodes == inline_nodes)
                                memcpy(heap, inline_nodes, sizeof(inline_nodes));
                        nodes = heap;
                }
                nodes[k++] = n;
        }
        for (size_t i = 0; i < k; i++) {
                /* A node removed by the handling of an earlier one no longer has this wd. */
                if (i > 0 && !wd_has_node(b, e->wd, nodes[i]))
                        continue;
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

/* The record at p of a buffer ending at end, or NULL if it does not fit whole; *ret_next is where the
 * next one starts. The kernel writes whole records, but nothing here trusts a length it did not check. */
static const struct inotify_event *next_record(const uint8_t *p, const uint8_t *end, const uint8_t **ret_next) {
        struct inotify_event h;

        /* The kernel pads names to the header's alignment, and the buffer comes from malloc: a record
         * out of line means the stream is not what the kernel writes. */
        if ((size_t) (end - p) < sizeof h || (uintptr_t) p % _Alignof(struct inotify_event) != 0)
                return NULL;
        memcpy(&h, p, sizeof h);
        if (h.len > (size_t) (end - p) - sizeof h)
                return NULL;
        *ret_next = p + sizeof h + h.len;
        return (const struct inotify_event *) p;
}

/* Whether a record's name is one entry name: NUL-terminated inside its length, not empty, no '/', not
 * "." or "..". A record without a name (len 0) is fine. */
static bool record_name_ok(const struct inotify_event *e) {
        const char *n = e->name;
        size_t l;

        if (e->len == 0)
                return true;
        l = strnlen(n, e->len);
        if (l == e->len || l == 0 || memchr(n, '/', l))
                return false;
        return !streq(n, ".") && !streq(n, "..");
}

static bool has_overflow(const uint8_t *buf, size_t l) {
        const uint8_t *p = buf, *next;
        const struct inotify_event *e;

        while ((e = next_record(p, buf + l, &next))) {
                if (e->mask & IN_Q_OVERFLOW)
                        return true;
                p = next;
        }
        return false;
}

/* Handles the records of one read, in order. A record with a bad name is skipped, a truncated or
 * misaligned one ends the buffer (logged). */
static void handle_buffer(InotifyBackend *b, const uint8_t *buf, size_t l) {
        const uint8_t *p = buf, *next;
        const struct inotify_event *e;

        while ((e = next_record(p, buf + l, &next))) {
                if (record_name_ok(e))
                        handle_event(b, e);
                else
                        log_debug("Skipping an inotify record with a malformed name.");
                p = next;
        }
        if (p != buf + l)
                log_warning("Skipping %zu bytes at the end of an inotify read: not a whole record.",
                            (size_t) (buf + l - p));
}

void backend_inotify_feed(Backend *face, const void *buf, size_t l) {
        InotifyBackend *b = (InotifyBackend *) backend_get_impl(face, BACKEND_INOTIFY, "feed");
        g_autofree uint8_t *copy = NULL;

        if (l == 0 || !b)
                return;
        copy = g_memdup2(buf, l);      /* aligned, as a read into b->buffer is */
        b->n_reads++;
        b->read_time = now_usec(CLOCK_REALTIME);
        handle_buffer(b, copy, l);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InotifyBackend *b = userdata;
        usec_t before = now_usec(CLOCK_REALTIME_COARSE), before_mono = now_usec(CLOCK_MONOTONIC);
        bool drained, overflow = false;
        ssize_t l;

        if (b->reading)
                return 0;

        l = read(fd, b->buffer, READ_BUFFER_SIZE);
        b->last_read_full = false;
        if (l < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                return log_error_errno(errno, "Failed to read inotify events: %m");
        }
        b->n_reads++;
        b->read_time = now_usec(CLOCK_REALTIME);
        /* A read that did not fill the buffer emptied the queue: every change before it is in it. What
         * was handled before may be forgotten once the file clock has passed it (the next rescan only
         * looks at ctimes from "before" on, and a coarse tick can hold several reads). Unless the read
         * holds an overflow, which looks back to the previous emptying. */
        drained = (size_t) l < READ_BUFFER_SIZE - sizeof(struct inotify_event) - NAME_MAX - 1;
        b->last_read_full = !drained;
        if (drained) {
                overflow = has_overflow(b->buffer, (size_t) l);
                if (!overflow) {
                        b->last_drained = before;
                        if (before > b->handled_until && g_hash_table_size(b->handled) > 0)
                                g_hash_table_remove_all(b->handled);
                }
        }
        b->reading = true;
        handle_buffer(b, b->buffer, (size_t) l);
        b->reading = false;
        /* Every event from before the last rescan has been read now. */
        if (drained && !overflow && before_mono > b->rescan_end && g_hash_table_size(b->seen) > 0)
                g_hash_table_remove_all(b->seen);

        if (drained) {
                b->last_drained = before;
                /* A half from an earlier read had the rest of its read and all of this one, which
                 * emptied the queue: its pair is not coming. Keeps the table small in a storm. */
                flush_pending_upto(b, b->n_reads - 1);
        }
        if (b->retry->len > 0)
                retry_new_dirs(b, drained && b->pending->len == 0);

        /* A pair split across two reads, or a new directory to try again: wait a little for the rest,
         * but not while it is armed already, so a stream of events cannot postpone it. */
        if ((b->pending->len > 0 || b->retry->len > 0) && !event_source_armed(b->pair_timer) &&
            event_arm_timer(b->base.event, &b->pair_timer, MOVE_PAIR_USEC, USEC_PER_MSEC, on_pair_timeout, b,
                            "inotify-pair") < 0)
                flush_pending(b);
        return 0;
}

/* ------------------------------------------------------------------ mounts */

/* IN_UNMOUNT: n's file system is going (IN_IGNORED follows). Keep the node, unwatched, instead of
 * dropping it with its subtree: the mount table, read again, says which directory to rescan. */
static void unmounted(InotifyBackend *b, WatchNode *n) {
        watch_tree_set_wd(b->tree, n, -1);
        backend_check_mounts(&b->base);
}

/* A mount came or went at n: the directory there is another one. What was known below it is deleted,
 * what is there now is new (as for a new directory). */
static void inotify_rescan_dir(BackendImpl *base, Watch *w, WatchNode *n) {
        InotifyBackend *b = (InotifyBackend *) base;
        g_autofree char *path = watch_node_path(n);
        int r;

        reconcile_raise_gone(&b->reconciler, n);
        drop_below(b, n);
        /* The old wd is the covered directory's (a mount) or the gone file system's (an unmount). */
        if (n->wd >= 0 && !watch_tree_wd_shared(b->tree, n))
                (void) inotify_rm_watch(b->fd, n->wd);
        watch_tree_set_wd(b->tree, n, -1);
        r = strlen(path) < PATH_MAX ? watch_node(b, n, path, -1) : -ENAMETOOLONG;
        if (r < 0) {
                if (!n->parent) {
                        root_gone(b, n);
                        return;
                }
                emit_mask(b, w, n->parent, watch_node_name(n), IN_DELETE | IN_ISDIR, true);
                remove_subtree(b, n);
                return;
        }
        reconcile_node(&b->reconciler, n, RECONCILE_CREATED, 0);
        flush_enospc(b);
}

/* ------------------------------------------------------------------ the watch limit, again */

/* While directories are unwatched, try again after this long, doubling up to the maximum while
 * nothing more fits; and at every reload. Each try stops at the first directory that does not fit. */
#define RETRY_FIRST_USEC (10 * USEC_PER_SEC)
#define RETRY_MAX_USEC (10 * 60 * USEC_PER_SEC)

static void retry(InotifyBackend *b);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        retry(userdata);
        return 0;
}

static void retry_arm(InotifyBackend *b) {
        int r;

        if (b->retry_usec == 0)
                b->retry_usec = RETRY_FIRST_USEC;
        if (event_source_armed(b->retry_timer))
                return;
        r = event_arm_timer(b->base.event, &b->retry_timer, b->retry_usec, USEC_PER_SEC, on_retry, b,
                            "inotify-retry");
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the watch limit retry, ignoring: %m");
                return;
        }
        if (!b->retry_logged) {
                log_info("Trying again to watch the directories left out in %" PRIu64 " s (then less often) "
                         "and at every reload.", b->retry_usec / USEC_PER_SEC);
                b->retry_logged = true;
        }
}

/* The topmost unwatched directories below n (their subtrees are mostly unwatched too: a walk that
 * hits the limit leaves out everything after). */
static void collect_unwatched(WatchNode *n, GPtrArray *out) {
        WatchChildIter i;
        WatchNode *v;

        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                if (v->wd < 0)
                        g_ptr_array_add(out, v);
                else
                        collect_unwatched(v, out);
        }
}

static unsigned count_unwatched(const WatchNode *n) {
        unsigned c = 0;
        WatchChildIter i;
        WatchNode *v;

        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i)))
                c += (v->wd < 0) + count_unwatched(v);
        return c;
}

/* Watches every unwatched directory of n's subtree, recording them in added. -ENOSPC if one does not
 * fit; a directory that is gone (or cannot be watched) is skipped with its subtree. */
static int rewatch_subtree(InotifyBackend *b, WatchNode *n, GPtrArray *added) {
        WatchChildIter i;
        WatchNode *v;

        if (n->wd < 0) {
                g_autofree char *path = watch_node_path(n);
                int wd;

                if (strlen(path) >= PATH_MAX)
                        return 0;
                wd = inotify_add_watch(b->fd, path, b->mask | TREE_MASK | ADD_FLAGS);
                if (wd < 0)
                        return errno == ENOSPC ? -ENOSPC : 0;
                watch_tree_set_wd(b->tree, n, wd);
                g_ptr_array_add(added, n);
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i)))
                if (rewatch_subtree(b, v, added) < 0)
                        return -ENOSPC;
        return 0;
}

static void rollback(InotifyBackend *b, GPtrArray *added) {
        for (guint k = added->len; k > 0; k--) {
                WatchNode *n = added->pdata[k - 1];

                if (!watch_tree_wd_shared(b->tree, n))
                        (void) inotify_rm_watch(b->fd, n->wd);
                watch_tree_set_wd(b->tree, n, -1);
        }
}

/* Watches the unwatched subtree t whole, or not at all (so what is still unwatched keeps the time it
 * was listed), and raises what changed in it since. Returns the directories added; -ENOSPC if not
 * even t fit, -E2BIG if only part of it did. */
static int retry_subtree(InotifyBackend *b, WatchNode *t) {
        g_autoptr(GPtrArray) added = g_ptr_array_new();
        g_autofree char *path = NULL;
        usec_t since, *at;

        if (rewatch_subtree(b, t, added) < 0) {
                int r = added->len > 0 ? -E2BIG : -ENOSPC;

                rollback(b, added);
                return r;
        }
        if (t->wd < 0)
                return 0;       /* gone: its parent's events say so */
        path = watch_node_path(t);
        at = b->unwatched_at ? g_hash_table_lookup(b->unwatched_at, path) : NULL;
        since = at ? *at : b->unwatched_since;
        reconcile_node(&b->reconciler, t, RECONCILE_RESCAN, since);
        if (b->unwatched_at)
                (void) g_hash_table_remove(b->unwatched_at, path);
        return (int) added->len;
}

static void retry(InotifyBackend *b) {
        unsigned n_added = 0, n_left = 0;
        bool full = false;

        b->retrying = true;
        for (guint k = 0; k < b->base.face->watches->len; k++) {
                Watch *w = g_ptr_array_index(b->base.face->watches, k);
                g_autoptr(GPtrArray) tops = g_ptr_array_new();

                if (w->impl != &b->base || !w->active || !w->root || !w->recursive)
                        continue;
                collect_unwatched(w->root, tops);
                for (guint i = 0; i < tops->len && !full; i++) {
                        int r = retry_subtree(b, tops->pdata[i]);

                        /* Nothing of it fit: the table is full, the rest will not fit either (a
                         * subtree only partly fitting leaves room for smaller ones after it). */
                        if (r == -ENOSPC)
                                full = true;
                        else if (r > 0)
                                n_added += (unsigned) r;
                }
                w->n_unwatched = count_unwatched(w->root);
                n_left += w->n_unwatched;
        }
        b->retrying = false;
        /* New directories the rescans could not watch are counted above, and retried with the rest. */
        b->enospc_count = 0;
        b->enospc_first = (g_free(b->enospc_first), NULL);

        if (n_left == 0) {
                if (n_added > 0)
                        log_info("Watch limit: watching %u more directories, every directory is watched now.",
                                 n_added);
                if (b->unwatched_at)
                        g_hash_table_remove_all(b->unwatched_at);
                b->unwatched_since = 0;
                b->retry_usec = 0;
                b->retry_logged = false;
                if (b->retry_timer)
                        (void) sd_event_source_set_enabled(b->retry_timer, SD_EVENT_OFF);
                return;
        }
        if (n_added > 0) {
                log_info("Watch limit: watching %u more directories, %u are still not watched.",
                         n_added, n_left);
                b->retry_usec = RETRY_FIRST_USEC;
        } else
                b->retry_usec = MIN(b->retry_usec * 2, RETRY_MAX_USEC);
        retry_arm(b);
}

static void inotify_retry_unwatched(BackendImpl *base) {
        InotifyBackend *b = (InotifyBackend *) base;

        if (b->unwatched_since == 0)
                return;
        /* A reload retries now, and the timer starts again from its first delay. */
        b->retry_usec = RETRY_FIRST_USEC;
        if (b->retry_timer)
                (void) sd_event_source_set_enabled(b->retry_timer, SD_EVENT_OFF);
        retry(b);
}

const BackendOps backend_inotify_ops = {
        .name = "inotify",
        .size = sizeof(InotifyBackend),
        .init = inotify_backend_init,
        .done = inotify_done,
        .set_mask = inotify_set_mask,
        .add_watch = inotify_add,
        .remove_watch = inotify_remove,
        .compare_snapshot = inotify_compare_snapshot,
        .set_enabled = inotify_set_enabled,
        .drain = inotify_drain,
        .get_stats = inotify_get_stats,
        .rescan_dir = inotify_rescan_dir,
        .retry_unwatched = inotify_retry_unwatched,
};
