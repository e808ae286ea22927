/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The backend face: what every backend shares (its watches, the sink, InitialEvent=), the rest passed
 * to its implementation. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "backend.h"
#include "log.h"
#include "watch-wait.h"

static void on_path_changed(WatchWaiter *ww, Watch *w, bool exists, void *userdata);

static void on_mount_changed(const char *path, void *userdata) {
        backend_mount_changed(userdata, path);
}

int backend_new(Backend **ret, const BackendOps *ops, sd_event *e, BackendEventFunc callback,
                void *userdata) {
        _cleanup_(backend_freep) Backend *b = NULL;
        int r;

        assert(ops->size >= sizeof(Backend));
        b = g_malloc0(ops->size);
        b->ops = ops;
        b->event = sd_event_ref(e);
        b->callback = callback;
        b->userdata = userdata;
        /* No free function: callers copy the array (g_ptr_array_copy() would inherit it). */
        b->watches = g_ptr_array_new();
        r = ops->init(b);
        if (r < 0)
                return r;
        r = watch_waiter_new(&b->waiter, e, on_path_changed, b);
        if (r < 0)
                return r;
        if (ops->rescan_dir) {
                r = mount_monitor_new(&b->mounts, e, on_mount_changed, b);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch the mount table, mounts inside watched trees "
                                          "will not be noticed: %m");
        }

        *ret = TAKE_PTR(b);
        return 0;
}

Backend *backend_free(Backend *b) {
        if (!b)
                return NULL;
        /* Its entries point at the watches. */
        b->waiter = watch_waiter_free(b->waiter);
        b->mounts = mount_monitor_free(b->mounts);
        b->ops->done(b);
        if (b->watches) {
                for (guint i = 0; i < b->watches->len; i++)
                        watch_free(b->watches->pdata[i]);
                g_ptr_array_unref(b->watches);
        }
        sd_event_unref(b->event);
        g_free(b);
        return NULL;
}

int backend_set_mask(Backend *b, uint32_t mask) {
        return b->ops->set_mask(b, mask);
}

int backend_add_watch(Backend *b, const ConfigWatch *cfg, Watch **ret) {
        Watch *w;
        int r;

        r = watch_new(&w, cfg);
        if (r < 0)
                return r;
        g_ptr_array_add(b->watches, w);
        r = watch_waiter_add(b->waiter, w);
        if (r < 0)
                log_warning_errno(r, "Watch %s: cannot follow %s, ignoring: %m", w->name, w->path);
        if (r == 0) {
                w->waiting = true;
                log_notice("Watch %s: waiting for %s to appear (watching %s).", w->name, w->path,
                           watch_waiter_waiting_on(b->waiter, w) ?: "nothing");
        } else
                b->ops->add_watch(b, w, false);
        *ret = w;
        return 0;
}

/* The waiter saw w's path change: drop what w was attached to, attach what is there now. */
static void on_path_changed(WatchWaiter *ww, Watch *w, bool exists, void *userdata) {
        Backend *b = userdata;
        bool was_waiting = w->waiting;

        if (w->root) {
                b->ops->remove_watch(b, w);
                watch_detach(w);
        }
        w->waiting = !exists;
        if (!exists) {
                log_notice("Watch %s: %s is gone, waiting for it to appear again (watching %s).", w->name,
                           w->path, watch_waiter_waiting_on(ww, w) ?: "nothing");
                return;
        }
        b->ops->add_watch(b, w, true);
        if (!w->active)
                return;
        if (was_waiting)
                log_notice("Watch %s: %s appeared, watching it.", w->name, w->path);
        else if (w->target)
                log_notice("Watch %s: %s now leads to %s, watching that.", w->name, w->path, w->target);
        else
                log_notice("Watch %s: %s is back, watching it again.", w->name, w->path);
}

void backend_watch_lost(Backend *b, Watch *w) {
        watch_waiter_recheck(b->waiter, w);
}

GPtrArray *backend_get_watches(Backend *b) {
        return b->watches;
}

Watch *backend_find_watch(Backend *b, const char *name) {
        for (guint i = 0; i < b->watches->len; i++) {
                Watch *w = b->watches->pdata[i];

                if (streq(w->name, name))
                        return w;
        }
        return NULL;
}

unsigned backend_watch_n_directories(const Watch *w) {
        return watch_n_directories(w);
}

void backend_remove_watch(Backend *b, Watch *w) {
        watch_waiter_remove(b->waiter, w);
        b->ops->remove_watch(b, w);
        g_ptr_array_remove(b->watches, w);
        watch_free(w);
}

bool backend_watch_matches(const Watch *w, const ConfigWatch *cfg) {
        return watch_matches_config(w, cfg);
}

static void raise_one(Backend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                      EventKind kind) {
        Event ev = {
                .watch = w,
                .mask = mask,
                .kind = kind,
                .synthetic = true,
                .is_dir = mask & IN_ISDIR,
                .node = n,
                .name = name,
        };

        backend_emit(b, &ev);
        event_done(&ev);
}

static void raise_initial_node(Backend *b, Watch *w, WatchNode *n, EventKind kind) {
        WatchChildIter i;
        WatchNode *v;

        if (n->files) {
                WatchFileIter fi;
                const char *f;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f))
                        raise_one(b, w, n, f, w->initial_mask, kind);
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                raise_one(b, w, n, v->name, w->initial_mask | IN_ISDIR, kind);
                raise_initial_node(b, w, v, kind);
        }
}

void backend_raise_initial(Backend *b, Watch *w) {
        EventKind kind = watch_initial_kind(w);

        if (!w->active || (w->initial_mask == 0 && w->initial_kinds == 0))
                return;
        if (w->file_name) {
                if (watch_node_has_file(w->root, w->file_name))
                        raise_one(b, w, w->root, w->file_name, w->initial_mask, kind);
                return;
        }
        /* The watched directory itself first (inorun's initevent), then everything in it. */
        raise_one(b, w, w->root, NULL, w->initial_mask | IN_ISDIR, kind);
        raise_initial_node(b, w, w->root, kind);
}

void backend_compare_snapshot(Backend *b, Watch *w, GHashTable *known, usec_t since) {
        b->ops->compare_snapshot(b, w, known, since);
}

int backend_set_enabled(Backend *b, bool enabled) {
        (void) watch_waiter_set_enabled(b->waiter, enabled);
        return b->ops->set_enabled(b, enabled);
}

void backend_drain(Backend *b) {
        if (b)
                b->ops->drain(b);
}

void backend_get_stats(const Backend *b, BackendStats *ret) {
        *ret = (BackendStats) {
                .n_events = b->n_events,
                .n_watches = b->watches->len,
        };
        b->ops->get_stats(b, ret);
        for (guint i = 0; i < b->watches->len; i++) {
                const Watch *w = g_ptr_array_index(b->watches, i);

                ret->n_unwatched += w->n_unwatched;
                ret->n_waiting += w->waiting;
        }
}

void backend_retry_unwatched(Backend *b) {
        if (b->ops->retry_unwatched)
                b->ops->retry_unwatched(b);
}

void backend_check_mounts(Backend *b) {
        mount_monitor_check_soon(b->mounts);
}

/* The node of w's tree at path, when path is at or above w's root (the root) or a directory the tree
 * holds below it; NULL otherwise. */
static WatchNode *node_at(Watch *w, const char *path) {
        const char *root = w->root->name, *p;
        size_t l = strlen(path), rl = strlen(root);
        WatchNode *n = w->root;

        if (streq(path, "/") || (strncmp(root, path, l) == 0 && (root[l] == 0 || root[l] == '/')))
                return w->root;
        if (strncmp(path, root, rl) != 0 || path[rl] != '/' || !w->recursive)
                return NULL;
        for (p = path + rl; n && *p;) {
                const char *e;
                g_autofree char *name = NULL;

                p += strspn(p, "/");
                e = strchrnul(p, '/');
                if (e == p)
                        break;
                name = g_strndup(p, e - p);
                n = watch_node_child(n, name);
                p = e;
        }
        return n;
}

void backend_mount_changed(Backend *b, const char *path) {
        /* Rescanning may add or drop watches' nodes, not watches: the array stays as it is. */
        for (guint i = 0; i < b->watches->len; i++) {
                Watch *w = b->watches->pdata[i];
                WatchNode *n;

                if (!w->active || !w->root)
                        continue;
                n = node_at(w, path);
                if (n) {
                        log_debug("Watch %s: a mount came or went at %s, rescanning.", w->name, path);
                        b->ops->rescan_dir(b, w, n);
                }
        }
}
