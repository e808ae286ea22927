/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inotify backend: one raw fd read with a large buffer, a wd -> node tree, cookie-paired moves; new
 * directories and queue overflows are reconciled with the disk by the one walk in reconcile.c. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "backend.h"
#include "log.h"
#include "message-ids.h"
#include "notify.h"
#include "reconcile.h"
#include "time-util.h"

#define READ_BUFFER_SIZE (256U * 1024U)
#define IN_SET_GONE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == ELOOP)
/* How long an IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as moved out. */
#define MOVE_PAIR_USEC (5 * USEC_PER_MSEC)
/* File timestamps are coarse: after an overflow, anything changed this shortly before the last
 * drained read counts as possibly changed. */
#define OVERFLOW_SLACK_USEC (1 * USEC_PER_SEC)
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
} PendingMove;

typedef struct InotifyBackend {
        Backend base;
        int fd;
        sd_event_source *io;
        sd_event_source *pair_timer;
        uint32_t mask;
        bool enabled;

        WatchTree *tree;
        Reconciler reconciler;
        GArray *pending;        /* PendingMove */

        usec_t last_drained;    /* CLOCK_REALTIME of the last read that emptied the queue */
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

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static const ReconcileOps reconcile_ops;
static void retry_arm(InotifyBackend *b);
static void unmounted(InotifyBackend *b, WatchNode *n);

static int inotify_backend_init(Backend *base) {
        InotifyBackend *b = (InotifyBackend *) base;
        int r;

        b->fd = -1;
        b->pending = g_array_new(false, true, sizeof(PendingMove));
        g_array_set_clear_func(b->pending, (GDestroyNotify) pending_clear);
        b->buffer = g_malloc(READ_BUFFER_SIZE);
        b->enabled = true;
        b->last_drained = now_usec(CLOCK_REALTIME);
        (void) watch_tree_new(&b->tree);
        b->reconciler = (Reconciler) { .ops = &reconcile_ops, .userdata = b, .tree = b->tree };

        b->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (b->fd < 0)
                return log_error_errno(errno, "Failed to create inotify instance: %m");

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

static void inotify_done(Backend *base) {
        InotifyBackend *b = (InotifyBackend *) base;

        b->io = sd_event_source_disable_unref(b->io);
        b->pair_timer = sd_event_source_disable_unref(b->pair_timer);
        b->retry_timer = sd_event_source_disable_unref(b->retry_timer);
        if (b->unwatched_at)
                g_hash_table_unref(b->unwatched_at);
        if (b->pending)
                g_array_unref(b->pending);
        /* Closing the fd drops every kernel watch at once. */
        b->fd = safe_close(b->fd);
        b->tree = watch_tree_free(b->tree);
        g_free(b->enospc_first);
        g_free(b->buffer);
}

/* ------------------------------------------------------------------ emitting events */

static void emit(InotifyBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                 EventKind kind, uint32_t cookie, bool synthetic, const char *src_pathname) {
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

        backend_emit(&b->base, &ev);
        event_done(&ev);
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

/* Adds the kernel watch for n. Returns 1 if watched, 0 if it could not be (logged/counted), <0 if the
 * directory is gone. */
static int watch_node(InotifyBackend *b, WatchNode *n, const char *path) {
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

static int reconcile_watch_dir(void *userdata, WatchNode *n, const char *path) {
        return watch_node(userdata, n, path);
}

static void reconcile_remove_subtree(void *userdata, WatchNode *n) {
        remove_subtree(userdata, n);
}

static void reconcile_emit(void *userdata, Watch *w, const WatchNode *n, const char *name, uint32_t mask) {
        emit_mask(userdata, w, n, name, mask, true);
}

static void reconcile_progress(void *userdata) {
        scan_progress(userdata);
}

static const ReconcileOps reconcile_ops = {
        .watch_dir = reconcile_watch_dir,
        .remove_subtree = reconcile_remove_subtree,
        .emit = reconcile_emit,
        .progress = reconcile_progress,
};

/* ------------------------------------------------------------------ watches */

static void inotify_add(Backend *base, Watch *w) {
        InotifyBackend *b = (InotifyBackend *) base;
        g_autofree char *dir = NULL;
        struct stat st;
        int r;

        /* A single file is watched through its directory, so a save-by-rename replacing it is seen. */
        if (stat(w->path, &st) >= 0 && S_ISDIR(st.st_mode))
                dir = g_strdup(w->path);
        else {
                g_autofree char *file = g_path_get_basename(w->path);

                dir = g_path_get_dirname(w->path);
                watch_set_single_file(w, file);
        }

        w->root = watch_tree_add_root(b->tree, w, dir);
        r = strlen(dir) < PATH_MAX ? watch_node(b, w->root, dir) : -ENAMETOOLONG;
        if (r < 0)
                log_warning_errno(r, "Watch %s: %s does not exist, not watching it for now.", w->name, dir);
        else if (r > 0) {
                w->active = true;
                reconcile_node(&b->reconciler, w->root, RECONCILE_RECORD, 0);
        }
        flush_enospc(b);
}

static void inotify_remove(Backend *base, Watch *w) {
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

static int inotify_set_mask(Backend *base, uint32_t mask) {
        InotifyBackend *b = (InotifyBackend *) base;

        mask &= IN_ALL_EVENTS;
        if (mask == b->mask)
                return 0;
        b->mask = mask;
        /* Re-adding a watch on the same inode replaces its mask and keeps its wd. */
        for (guint k = 0; k < base->watches->len; k++) {
                Watch *w = g_ptr_array_index(base->watches, k);
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

static void inotify_drain(Backend *base) {
        InotifyBackend *b = (InotifyBackend *) base;

        if (b->enabled && b->fd >= 0)
                (void) on_inotify(b->io, b->fd, EPOLLIN, b);
}

static int inotify_set_enabled(Backend *base, bool enabled) {
        InotifyBackend *b = (InotifyBackend *) base;

        b->enabled = enabled;
        return sd_event_source_set_enabled(b->io, enabled ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void inotify_get_stats(const Backend *base, BackendStats *ret) {
        const InotifyBackend *b = (const InotifyBackend *) base;

        ret->n_overflows = b->n_overflows;
        ret->n_directories = watch_tree_n_watched(b->tree);
}

static void inotify_compare_snapshot(Backend *base, Watch *w, GHashTable *known, usec_t since) {
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

static void flush_pending(InotifyBackend *b) {
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
static void new_dir(InotifyBackend *b, Watch *w, WatchNode *n, const char *name) {
        if (w->recursive && w->auto_add) {
                reconcile_new_dir(&b->reconciler, n, name, RECONCILE_CREATED);
                flush_enospc(b);
        }
        else if (!w->recursive)
                (void) watch_tree_add_child(b->tree, n, name);
}

static void moved_in(InotifyBackend *b, Watch *w, WatchNode *n, const char *name, uint32_t mask,
                     uint32_t cookie) {
        emit(b, w, n, name, mask, EVENT_KIND_CREATED, cookie, false, NULL);
        if (mask & IN_ISDIR)
                new_dir(b, w, n, name);
        else
                (void) watch_node_add_file(n, name);
}

static void moved(InotifyBackend *b, PendingMove *p, WatchNode *n, const char *name, uint32_t mask) {
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

static PendingMove *find_pending(InotifyBackend *b, Watch *w, uint32_t cookie, guint *ret_index) {
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

static void handle_overflow(InotifyBackend *b) {
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
        for (guint i = 0; i < b->base.watches->len; i++) {
                Watch *w = g_ptr_array_index(b->base.watches, i);

                if (!w->active)
                        continue;
                emit(b, w, w->root, w->file_name, 0, EVENT_KIND_OVERFLOW, 0, true, NULL);
                reconcile_node(&b->reconciler, w->root, RECONCILE_RESCAN, since);
        }
        flush_enospc(b);
}

/* ------------------------------------------------------------------ reading */

static void root_gone(InotifyBackend *b, WatchNode *n) {
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

static void handle_one(InotifyBackend *b, WatchNode *n, const struct inotify_event *e) {
        Watch *w = n->owner;
        const char *name = e->len > 0 ? e->name : NULL;
        uint32_t mask = e->mask;

        if ((mask & IN_UNMOUNT) && b->base.mounts) {
                unmounted(b, n);
                return;
        }
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
        if (watch_excluded(w, n, name))
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

static bool pairs_with_pending(InotifyBackend *b, const struct inotify_event *e) {
        if (!(e->mask & IN_MOVED_TO))
                return false;
        for (guint i = 0; i < b->pending->len; i++)
                if (g_array_index(b->pending, PendingMove, i).cookie == e->cookie)
                        return true;
        return false;
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

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InotifyBackend *b = userdata;
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
                        r = sd_event_add_time_relative(b->base.event, &b->pair_timer, CLOCK_MONOTONIC,
                                                       MOVE_PAIR_USEC, USEC_PER_MSEC, on_pair_timeout, b);
                if (r < 0)
                        flush_pending(b);
        }
        return 0;
}

/* ------------------------------------------------------------------ mounts */

/* IN_UNMOUNT: n's file system is going (IN_IGNORED follows). Keep the node, unwatched, instead of
 * dropping it with its subtree: the mount table, read again, says which directory to rescan. */
static void unmounted(InotifyBackend *b, WatchNode *n) {
        watch_tree_set_wd(b->tree, n, -1);
        backend_check_mounts(&b->base);
}

/* Raises deleted for everything known below n, deepest first, as rm -rf would. */
static void raise_known_gone(InotifyBackend *b, Watch *w, WatchNode *n) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        WatchChildIter i;
        WatchFileIter fi;
        const char *f;
        WatchNode *v;

        watch_file_iter_init(&fi, n);
        while (n->files && watch_file_iter_next(&fi, &f))
                g_ptr_array_add(names, g_strdup(f));
        for (guint k = 0; k < names->len; k++)
                emit_mask(b, w, n, names->pdata[k], IN_DELETE, true);
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                raise_known_gone(b, w, v);
                emit_mask(b, w, n, v->name, IN_DELETE | IN_ISDIR, true);
        }
}

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

/* A mount came or went at n: the directory there is another one. What was known below it is deleted,
 * what is there now is new (as for a new directory). */
static void inotify_rescan_dir(Backend *base, Watch *w, WatchNode *n) {
        InotifyBackend *b = (InotifyBackend *) base;
        g_autofree char *path = watch_node_path(n);
        int r;

        raise_known_gone(b, w, n);
        drop_below(b, n);
        /* The old wd is the covered directory's (a mount) or the gone file system's (an unmount). */
        if (n->wd >= 0 && !watch_tree_wd_shared(b->tree, n))
                (void) inotify_rm_watch(b->fd, n->wd);
        watch_tree_set_wd(b->tree, n, -1);
        r = strlen(path) < PATH_MAX ? watch_node(b, n, path) : -ENAMETOOLONG;
        if (r < 0) {
                if (!n->parent) {
                        root_gone(b, n);
                        return;
                }
                emit_mask(b, w, n->parent, n->name, IN_DELETE | IN_ISDIR, true);
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
        int r, enabled = SD_EVENT_OFF;

        if (b->retry_usec == 0)
                b->retry_usec = RETRY_FIRST_USEC;
        if (b->retry_timer) {
                (void) sd_event_source_get_enabled(b->retry_timer, &enabled);
                if (enabled != SD_EVENT_OFF)
                        return;
                r = sd_event_source_set_time_relative(b->retry_timer, b->retry_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(b->retry_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(b->base.event, &b->retry_timer, CLOCK_MONOTONIC, b->retry_usec,
                                               USEC_PER_SEC, on_retry, b);
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
        for (guint k = 0; k < b->base.watches->len; k++) {
                Watch *w = g_ptr_array_index(b->base.watches, k);
                g_autoptr(GPtrArray) tops = g_ptr_array_new();

                if (!w->active || !w->root || !w->recursive)
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

static void inotify_retry_unwatched(Backend *base) {
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
