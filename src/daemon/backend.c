/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The backend face: what every backend shares (its watches, the sink, InitialEvent=), the rest passed
 * to the implementation of each watch's Backend=. */
#include <assert.h>
#include <linux/magic.h>
#include <sys/statfs.h>
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

/* Not in linux/magic.h of every kernel's headers. */
#ifndef CIFS_SUPER_MAGIC
#define CIFS_SUPER_MAGIC 0xFF534D42
#endif
#ifndef SMB2_SUPER_MAGIC
#define SMB2_SUPER_MAGIC 0xFE534D42
#endif
#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif
#ifndef CEPH_SUPER_MAGIC
#define CEPH_SUPER_MAGIC 0x00c36400
#endif

static const struct {
        unsigned long type;
        const char *name;
} remote_fs[] = {
        { NFS_SUPER_MAGIC, "nfs" },
        { SMB_SUPER_MAGIC, "smb" },
        { CIFS_SUPER_MAGIC, "cifs" },
        { SMB2_SUPER_MAGIC, "smb2" },
        { FUSE_SUPER_MAGIC, "fuse" },
        { V9FS_MAGIC, "9p" },
        { CEPH_SUPER_MAGIC, "ceph" },
        { AFS_SUPER_MAGIC, "afs" },
        { AFS_FS_MAGIC, "afs" },
};

const char *backend_fs_type_name(unsigned long f_type) {
        /* statfs' f_type is signed on some ABIs: compare the low 32 bits. */
        for (size_t i = 0; i < G_N_ELEMENTS(remote_fs); i++)
                if ((uint32_t) remote_fs[i].type == (uint32_t) f_type)
                        return remote_fs[i].name;
        return NULL;
}

BackendKind backend_auto_kind(unsigned long f_type) {
        return backend_fs_type_name(f_type) ? BACKEND_POLL : BACKEND_INOTIFY;
}

static const BackendOps *const backend_ops_table[_BACKEND_KIND_MAX] = {
        [BACKEND_INOTIFY] = &backend_inotify_ops,
        [BACKEND_FANOTIFY] = &backend_fanotify_ops,
        [BACKEND_POLL] = &backend_poll_ops,
        [BACKEND_NONE] = &backend_none_ops,
};

int backend_new(Backend **ret, sd_event *e, BackendEventFunc callback, void *userdata) {
        _cleanup_(backend_freep) Backend *b = NULL;
        int r;

        b = g_new0(Backend, 1);
        b->event = sd_event_ref(e);
        b->callback = callback;
        b->userdata = userdata;
        /* No free function: callers copy the array (g_ptr_array_copy() would inherit it). */
        b->watches = g_ptr_array_new();
        r = watch_waiter_new(&b->waiter, e, on_path_changed, b);
        if (r < 0)
                return r;
        r = mount_monitor_new(&b->mounts, e, on_mount_changed, b);
        if (r < 0)
                log_warning_errno(r, "Failed to watch the mount table, mounts inside watched trees "
                                  "will not be noticed: %m");

        *ret = TAKE_PTR(b);
        return 0;
}

static BackendImpl *impl_free(BackendImpl *i) {
        if (!i)
                return NULL;
        i->ops->done(i);
        sd_event_unref(i->event);
        g_free(i);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(BackendImpl *, impl_free);

BackendImpl *backend_get_impl(Backend *b, BackendKind k, const char *watch_name) {
        _cleanup_(impl_freep) BackendImpl *i = NULL;
        const BackendOps *ops;

        assert(k > BACKEND_AUTO && k < _BACKEND_KIND_MAX);
        if (b->impls[k])
                return b->impls[k];
        ops = backend_ops_table[k];
        assert(ops->size >= sizeof(BackendImpl));
        i = g_malloc0(ops->size);
        i->ops = ops;
        i->face = b;
        i->event = sd_event_ref(b->event);
        i->kind = k;
        if (ops->init(i, watch_name) < 0)
                return NULL;
        if (b->mask != 0)
                (void) ops->set_mask(i, b->mask);
        if (b->disabled)
                (void) ops->set_enabled(i, false);
        return (b->impls[k] = TAKE_PTR(i));
}

const char *backend_watch_backend(const Watch *w) {
        return backend_kind_to_string(w->backend);
}

/* The backend Backend=auto picks for path, from the file system of it or of its nearest existing
 * ancestor (a watch may wait for its path). */
static BackendKind resolve_auto(const Watch *w) {
        g_autofree char *p = g_strdup(w->path);
        struct statfs sfs;
        BackendKind k;
        const char *fs;

        while (statfs(p, &sfs) < 0) {
                char *slash = strrchr(p, '/');

                if (!slash || slash == p) {
                        if (statfs("/", &sfs) < 0)
                                return BACKEND_INOTIFY;
                        break;
                }
                *slash = 0;
        }
        k = backend_auto_kind((unsigned long) sfs.f_type);
        fs = backend_fs_type_name((unsigned long) sfs.f_type);
        if (fs)
                log_info("Watch %s: Backend=auto chose %s: %s is on %s, where inotify does not see what "
                         "other hosts write.", w->name, backend_kind_to_string(k), p, fs);
        else
                log_info("Watch %s: Backend=auto chose %s (%s: file system type 0x%lx).", w->name,
                         backend_kind_to_string(k), p, (unsigned long) (uint32_t) sfs.f_type);
        return k;
}

static BackendImpl *impl_of(const Watch *w) {
        return w->impl;
}

Backend *backend_free(Backend *b) {
        if (!b)
                return NULL;
        /* Its entries point at the watches. */
        b->waiter = watch_waiter_free(b->waiter);
        b->mounts = mount_monitor_free(b->mounts);
        for (size_t k = 0; k < _BACKEND_KIND_MAX; k++)
                b->impls[k] = impl_free(b->impls[k]);
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
        int r = 0;

        b->mask = mask;
        for (size_t k = 0; k < _BACKEND_KIND_MAX; k++)
                if (b->impls[k])
                {
                        int q = b->impls[k]->ops->set_mask(b->impls[k], mask);

                        if (q < 0 && r == 0)
                                r = q;
                }
        return r;
}

int backend_add_watch(Backend *b, const ConfigWatch *cfg, Watch **ret) {
        Watch *w;
        int r;

        r = watch_new(&w, cfg);
        if (r < 0)
                return r;
        g_ptr_array_add(b->watches, w);
        if (w->backend == BACKEND_AUTO)
                w->backend = resolve_auto(w);
        w->impl = backend_get_impl(b, w->backend, w->name);
        if (!w->impl) {
                /* Listed, inactive: the reason is logged, a reload with another Backend= cures it. */
                *ret = w;
                return 0;
        }
        r = watch_waiter_add(b->waiter, w);
        if (r < 0)
                log_warning_errno(r, "Watch %s: cannot follow %s, ignoring: %m", w->name, w->path);
        if (r == 0) {
                w->waiting = true;
                log_notice("Watch %s: waiting for %s to appear (watching %s).", w->name, w->path,
                           watch_waiter_waiting_on(b->waiter, w) ?: "nothing");
        } else
                impl_of(w)->ops->add_watch(impl_of(w), w, false);
        *ret = w;
        return 0;
}

static void path_changed(WatchWaiter *ww, Watch *w, bool exists);

/* The waiter saw w's path change: drop what w was attached to, attach what is there now; then the watch's
 * state and directory count are news. */
static void on_path_changed(WatchWaiter *ww, Watch *w, bool exists, void *userdata) {
        Backend *b = userdata;

        path_changed(ww, w, exists);
        if (b->watches_changed)
                b->watches_changed(b->userdata);
}

static void path_changed(WatchWaiter *ww, Watch *w, bool exists) {
        bool was_waiting = w->waiting;

        if (w->root) {
                impl_of(w)->ops->remove_watch(impl_of(w), w);
                watch_detach(w);
        }
        w->waiting = !exists;
        if (!exists) {
                log_notice("Watch %s: %s is gone, waiting for it to appear again (watching %s).", w->name,
                           w->path, watch_waiter_waiting_on(ww, w) ?: "nothing");
                return;
        }
        impl_of(w)->ops->add_watch(impl_of(w), w, true);
        if (!w->active)
                return;
        if (was_waiting)
                log_notice("Watch %s: %s appeared, watching it.", w->name, w->path);
        else if (w->target)
                log_notice("Watch %s: %s now leads to %s, watching that.", w->name, w->path, w->target);
        else
                log_notice("Watch %s: %s is back, watching it again.", w->name, w->path);
}

void backend_watch_lost(BackendImpl *b, Watch *w) {
        watch_waiter_recheck(b->face->waiter, w);
        if (b->face->watches_changed)
                b->face->watches_changed(b->face->userdata);
}

void backend_on_watches_changed(Backend *b, void (*func)(void *userdata)) {
        b->watches_changed = func;
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
        BackendImpl *i = impl_of(w);

        watch_waiter_remove(b->waiter, w);
        if (i)
                i->ops->remove_watch(i, w);
        g_ptr_array_remove(b->watches, w);
        watch_free(w);
        if (!i)
                return;
        /* The last watch of its kind: the implementation goes too (a fanotify mark would go on reading
         * every event of its file systems for nobody). */
        for (guint k = 0; k < b->watches->len; k++)
                if (impl_of(b->watches->pdata[k]) == i)
                        return;
        /* The slot first: "b->impls[i->kind] = impl_free(i)" may read i->kind after the free (clang does). */
        b->impls[i->kind] = NULL;
        impl_free(i);
}

/* Builds the event and hands it to the sink: every event, a backend's or InitialEvent='s, goes here. */
static void face_emit(Backend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
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

        b->n_events++;
        b->callback(b, &ev, b->userdata);
        event_done(&ev);
        if (b->watches_changed)
                b->watches_changed(b->userdata);
}

void backend_emit_one(BackendImpl *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                      EventKind kind, uint32_t cookie, bool synthetic, const char *src_pathname) {
        face_emit(b->face, w, n, name, mask, kind, cookie, synthetic, src_pathname);
}

bool backend_watch_matches(const Watch *w, const ConfigWatch *cfg) {
        return watch_matches_config(w, cfg);
}

static void raise_one(Backend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                      EventKind kind) {
        face_emit(b, w, n, name, mask, kind, 0, true, NULL);
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
                raise_one(b, w, n, watch_node_name(v), w->initial_mask | IN_ISDIR, kind);
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
        if (impl_of(w))
                impl_of(w)->ops->compare_snapshot(impl_of(w), w, known, since);
}

int backend_set_enabled(Backend *b, bool enabled) {
        int r = 0;

        (void) watch_waiter_set_enabled(b->waiter, enabled);
        b->disabled = !enabled;
        for (size_t k = 0; k < _BACKEND_KIND_MAX; k++)
                if (b->impls[k])
                {
                        int q = b->impls[k]->ops->set_enabled(b->impls[k], enabled);

                        if (q < 0 && r == 0)
                                r = q;
                }
        return r;
}

void backend_drain(Backend *b) {
        if (!b)
                return;
        for (size_t k = 0; k < _BACKEND_KIND_MAX; k++)
                if (b->impls[k])
                        b->impls[k]->ops->drain(b->impls[k]);
}

void backend_get_stats(const Backend *b, BackendStats *ret) {
        *ret = (BackendStats) {
                .n_events = b->n_events,
                .n_watches = b->watches->len,
        };
        for (size_t k = 0; k < _BACKEND_KIND_MAX; k++)
                if (b->impls[k]) {
                        BackendStats s = {};

                        b->impls[k]->ops->get_stats(b->impls[k], &s);
                        ret->n_overflows += s.n_overflows;
                        ret->n_directories += s.n_directories;
                }
        for (guint i = 0; i < b->watches->len; i++) {
                const Watch *w = g_ptr_array_index(b->watches, i);

                ret->n_unwatched += w->n_unwatched;
                ret->n_waiting += w->waiting;
        }
}

void backend_retry_unwatched(Backend *b) {
        for (size_t k = 0; k < _BACKEND_KIND_MAX; k++)
                if (b->impls[k] && b->impls[k]->ops->retry_unwatched)
                        b->impls[k]->ops->retry_unwatched(b->impls[k]);
}

void backend_check_mounts(BackendImpl *b) {
        mount_monitor_check_soon(b->face->mounts);
}

/* The node of w's tree at path, when path is at or above w's root (the root) or a directory the tree
 * holds below it; NULL otherwise. */
static WatchNode *node_at(Watch *w, const char *path) {
        const char *root = watch_node_name(w->root), *p;
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

                if (!w->active || !w->root || !impl_of(w)->ops->rescan_dir)
                        continue;
                n = node_at(w, path);
                if (n) {
                        log_debug("Watch %s: a mount came or went at %s, rescanning.", w->name, path);
                        impl_of(w)->ops->rescan_dir(impl_of(w), w, n);
                }
        }
}
