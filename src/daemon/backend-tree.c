/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree of the backends that walk instead of watching each directory (fanotify, poll, none). */
#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "backend-tree.h"
#include "log.h"

static int reconcile_watch_dir(void *userdata, WatchNode *n, int fd) {
        tree_backend_mark_fd(userdata, n, fd);
        return 1;
}

static void reconcile_remove_subtree(void *userdata, WatchNode *n) {
        tree_backend_remove(userdata, n);
}

#define WALKED_MAX 262144U

static char *walked_key(const Watch *w, const WatchNode *n, const char *name) {
        g_autofree char *path = watch_node_child_path(n, name);

        return g_strconcat(w->name, "\n", path, NULL);
}

static bool ctime_ns(const Watch *w, const WatchNode *n, const char *name, uint64_t *ret) {
        g_autofree char *path = watch_node_child_path(n, name);
        struct stat st;

        if (lstat(path, &st) < 0)
                return false;
        *ret = (uint64_t) st.st_ctim.tv_sec * UINT64_C(1000000000) + (uint64_t) st.st_ctim.tv_nsec;
        return true;
}

static void note_walk(TreeBackend *b, Watch *w, const WatchNode *n, const char *name) {
        uint64_t ct, *v;

        if (g_hash_table_size(b->walked) >= WALKED_MAX || !ctime_ns(w, n, name, &ct))
                return;
        v = g_new(uint64_t, 1);
        *v = ct;
        g_hash_table_replace(b->walked, walked_key(w, n, name), v);
}

static void reconcile_emit(void *userdata, Watch *w, const WatchNode *n, const char *name, uint32_t mask) {
        TreeBackend *b = userdata;

        if (b->walked && name && mask == IN_CLOSE_WRITE)
                note_walk(b, w, n, name);
        tree_backend_emit(b, w, n, name, mask, event_kind_from_mask(mask), true, NULL);
}

void tree_backend_note_walks(TreeBackend *b) {
        if (!b->walked)
                b->walked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

bool tree_backend_walk_saw(TreeBackend *b, const Watch *w, const WatchNode *n, const char *name) {
        g_autofree char *key = NULL;
        uint64_t *seen, ct;
        bool r;

        if (!b->walked || g_hash_table_size(b->walked) == 0)
                return false;
        key = walked_key(w, n, name);
        seen = g_hash_table_lookup(b->walked, key);
        if (!seen)
                return false;
        /* Gone meanwhile: its deletion is on the way, and this close was the walk's. */
        r = !ctime_ns(w, n, name, &ct) || ct <= *seen;
        g_hash_table_remove(b->walked, key);
        return r;
}

void tree_backend_forget_walks(TreeBackend *b) {
        if (b->walked)
                g_hash_table_remove_all(b->walked);
}

static const ReconcileOps reconcile_ops = {
        .watch_dir = reconcile_watch_dir,
        .remove_subtree = reconcile_remove_subtree,
        .emit = reconcile_emit,
};

void tree_backend_init(TreeBackend *b) {
        (void) watch_tree_new(&b->tree);
        b->reconciler = (Reconciler) { .ops = &reconcile_ops, .userdata = b, .tree = b->tree };
}

void tree_backend_done(TreeBackend *b) {
        if (b->devs)
                b->devs = (g_hash_table_destroy(b->devs), NULL);
        if (b->walked)
                b->walked = (g_hash_table_destroy(b->walked), NULL);
        b->tree = watch_tree_free(b->tree);
}

void tree_backend_index_inodes(TreeBackend *b) {
        b->wd_is_ino = true;
        b->devs = g_hash_table_new(g_direct_hash, g_direct_equal);
}

dev_t tree_backend_node_dev(const TreeBackend *b, const WatchNode *n) {
        gpointer v;

        for (; n; n = n->parent)
                if (g_hash_table_lookup_extended(b->devs, n, NULL, &v))
                        return (dev_t) GPOINTER_TO_SIZE(v);
        return 0;
}

static void forget_dev(WatchTree *t, WatchNode *n, void *userdata) {
        TreeBackend *b = userdata;

        g_hash_table_remove(b->devs, n);
}

void tree_backend_emit(TreeBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                       EventKind kind, bool synthetic, const char *src_pathname) {
        backend_emit_one(&b->base, w, n, name, mask, kind, 0, synthetic, src_pathname);
}

void tree_backend_mark(TreeBackend *b, WatchNode *n) {
        if (n->wd < 0)
                watch_tree_set_wd(b->tree, n, ++b->next_id);
}

void tree_backend_mark_fd(TreeBackend *b, WatchNode *n, int fd) {
        struct stat st;
        int r;

        if (!b->wd_is_ino) {
                tree_backend_mark(b, n);
                return;
        }
        if (fd >= 0)
                r = fstat(fd, &st);
        else {
                g_autofree char *p = watch_node_path(n);

                r = stat(p, &st);
        }
        if (r < 0)
                return;
        watch_tree_set_wd(b->tree, n, tree_backend_ino_wd((uint64_t) st.st_ino));
        if (n->parent && tree_backend_node_dev(b, n->parent) == st.st_dev) {
                g_hash_table_remove(b->devs, n);
                return;
        }
        G_STATIC_ASSERT(sizeof(dev_t) <= sizeof(gsize));
        g_hash_table_insert(b->devs, n, GSIZE_TO_POINTER((gsize) st.st_dev));
        if (b->new_dev) {
                _cleanup_close_ int own = -1;

                if (fd < 0) {
                        g_autofree char *p = watch_node_path(n);

                        own = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (own < 0)
                                return;
                }
                b->new_dev(b, n, fd >= 0 ? fd : own);
        }
}

void tree_backend_remove(TreeBackend *b, WatchNode *n) {
        watch_tree_remove(b->tree, n, b->devs ? forget_dev : NULL, b);
}

void tree_backend_move(TreeBackend *b, WatchNode *n, WatchNode *new_parent, const char *new_name) {
        watch_tree_move(b->tree, n, new_parent, new_name, b->devs ? forget_dev : NULL, b);
}

int tree_backend_attach(TreeBackend *b, Watch *w, bool announce) {
        g_autofree char *dir = NULL;
        struct stat st;

        if (stat(w->path, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                dir = g_strdup(w->path);
        else {
                g_autofree char *file = g_path_get_basename(w->path);

                dir = g_path_get_dirname(w->path);
                watch_set_single_file(w, file);
        }
        if (strlen(dir) >= PATH_MAX)
                return -ENAMETOOLONG;
        w->root = watch_tree_add_root(b->tree, w, dir);
        tree_backend_mark_fd(b, w->root, -1);
        w->active = true;
        if (announce && !w->file_name)
                tree_backend_emit(b, w, w->root, NULL, IN_CREATE | IN_ISDIR, EVENT_KIND_CREATED, true, NULL);
        reconcile_node(&b->reconciler, w->root, announce ? RECONCILE_CREATED : RECONCILE_RECORD, 0);
        return 1;
}

void tree_backend_detach(TreeBackend *b, Watch *w) {
        if (w->root)
                tree_backend_remove(b, w->root);
}

void tree_backend_add_watch(BackendImpl *base, Watch *w, bool announce) {
        int r = tree_backend_attach((TreeBackend *) base, w, announce);

        if (r < 0) {
                log_warning_errno(r, "Watch %s: cannot read %s, not watching it for now: %m", w->name, w->path);
                backend_watch_lost(base, w);
        }
}

void tree_backend_remove_watch(BackendImpl *base, Watch *w) {
        tree_backend_detach((TreeBackend *) base, w);
}

void tree_backend_compare_snapshot(BackendImpl *base, Watch *w, GHashTable *known, usec_t since) {
        reconcile_snapshot(&((TreeBackend *) base)->reconciler, w, known, since);
}

void tree_backend_get_stats(const BackendImpl *base, BackendStats *ret) {
        const TreeBackend *b = (const TreeBackend *) base;

        ret->n_overflows = b->n_overflows;
        ret->n_directories = watch_tree_n_watched(b->tree);
}

void tree_backend_rescan_dir(BackendImpl *base, Watch *w, WatchNode *n) {
        TreeBackend *b = (TreeBackend *) base;
        g_autoptr(GPtrArray) kids = g_ptr_array_new(), names = g_ptr_array_new_with_free_func(g_free);
        WatchChildIter i;
        WatchFileIter fi;
        const char *f;
        WatchNode *v;

        /* What was known below n is gone, what is there now is new; n itself stays, but may now be
         * another directory (the root of a mount): its id follows it. */
        tree_backend_mark_fd(b, n, -1);
        reconcile_raise_gone(&b->reconciler, n);
        watch_file_iter_init(&fi, n);
        while (n->files && watch_file_iter_next(&fi, &f))
                g_ptr_array_add(names, g_strdup(f));
        for (guint k = 0; k < names->len; k++)
                (void) watch_node_remove_file(n, names->pdata[k]);
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i)))
                g_ptr_array_add(kids, v);
        for (guint k = 0; k < kids->len; k++)
                tree_backend_remove(b, kids->pdata[k]);
        reconcile_node(&b->reconciler, n, RECONCILE_CREATED, 0);
}
