/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend=poll: every PollIntervalSec= a walk of the watched tree (in a worker thread, so a big tree
 * does not block the loop) is compared with the last one: size, mtime, ctime and inode of every entry;
 * entries that vanished and appeared with the same inode are moves. For file systems where the kernel
 * does not hear of other writers (NFS, CIFS, FUSE). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include "backend-tree.h"
#include "dir-reader.h"
#include "log.h"
#include "worker.h"

typedef struct PollEntry {
        dev_t dev;
        ino_t ino;
        off_t size;
        int64_t mtime_ns, ctime_ns;
        bool is_dir;
} PollEntry;

typedef struct PollWatch PollWatch;

typedef struct PollBackend {
        TreeBackend t;
        Worker *worker;
        GHashTable *watches;            /* Watch* -> PollWatch* */
        bool enabled;
        uint64_t n_polls;
} PollBackend;

struct PollWatch {
        PollBackend *b;
        Watch *w;                       /* NULL once removed while its walk runs */
        sd_event_source *timer;
        GHashTable *known;              /* relpath -> PollEntry*: what the last walk found */
        bool walking;
};

/* What a walk needs and finds; it runs in a pool thread and touches nothing shared. */
typedef struct PollJob {
        PollWatch *pw;
        char *root;
        char *file_name;                /* single-file watch: only this entry of root */
        bool recursive;
        GHashTable *found;
        int error;
        usec_t cpu_usec;
        DirBuffers bufs;                /* the walk's listing buffers, one per level */
        unsigned depth;
        int list_error;                 /* a listing failed part way: this walk does not say what is gone */
} PollJob;

static int64_t ts_ns(const struct timespec *ts) {
        return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static GHashTable *entries_new(void) {
        return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void add_entry(GHashTable *found, const char *rel, const struct stat *st) {
        PollEntry *e = g_new(PollEntry, 1);

        *e = (PollEntry) {
                .dev = st->st_dev,
                .ino = st->st_ino,
                .size = st->st_size,
                .mtime_ns = ts_ns(&st->st_mtim),
                .ctime_ns = ts_ns(&st->st_ctim),
                .is_dir = S_ISDIR(st->st_mode),
        };
        g_hash_table_replace(found, g_strdup(rel), e);
}

/* Lists directory fd (consumed) into found, under prefix rel ("" for the root, else "a/b/"). */
static void walk_dir(PollJob *j, int fd, GString *rel) {
        size_t l = rel->len, size;
        char *buf = dir_buffers_get(&j->bufs, j->depth, &size);
        struct dirent64 *de;
        DirReader d;

        dir_reader_init(&d, fd, buf, size);
        j->depth++;
        while ((de = dir_reader_next(&d))) {
                struct stat st;

                if (j->file_name && strcmp(de->d_name, j->file_name) != 0)
                        continue;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;       /* gone since the listing: the next walk agrees */
                g_string_append(rel, de->d_name);
                add_entry(j->found, rel->str, &st);
                if (S_ISDIR(st.st_mode) && j->recursive) {
                        int cfd = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (cfd >= 0) {
                                g_string_append_c(rel, '/');
                                walk_dir(j, cfd, rel);
                        }
                }
                g_string_truncate(rel, l);
        }
        j->depth--;
        if (d.error && !j->list_error)
                j->list_error = -d.error;
        safe_close(fd);
}

static usec_t thread_cpu_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

static void job_run(void *userdata) {
        PollJob *j = userdata;
        g_autoptr(GString) rel = g_string_new(NULL);
        usec_t start = thread_cpu_usec();
        int fd;

        j->found = entries_new();
        fd = open(j->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                j->error = -errno;
        else
                walk_dir(j, fd, rel);
        dir_buffers_done(&j->bufs);
        j->cpu_usec = thread_cpu_usec() - start;
}

static PollJob *job_new(PollWatch *pw) {
        PollJob *j = g_new0(PollJob, 1);

        j->pw = pw;
        j->root = watch_node_path(pw->w->root);
        j->file_name = g_strdup(pw->w->file_name);
        j->recursive = pw->w->recursive;
        return j;
}

static void job_free(PollJob *j) {
        if (!j)
                return;
        g_free(j->root);
        g_free(j->file_name);
        if (j->found)
                g_hash_table_unref(j->found);
        g_free(j);
}

static void poll_watch_free(PollWatch *pw) {
        if (!pw)
                return;
        pw->timer = sd_event_source_disable_unref(pw->timer);
        if (pw->known)
                g_hash_table_unref(pw->known);
        g_free(pw);
}

/* ------------------------------------------------------------------ applying a walk */

/* The directory node of w at relpath (a directory's relpath, "" for the root), or NULL. */
static WatchNode *node_at(Watch *w, const char *relpath) {
        WatchNode *n = w->root;
        const char *p = relpath;

        while (n && *p) {
                const char *e = strchrnul(p, '/');
                g_autofree char *name = g_strndup(p, e - p);

                n = watch_node_child(n, name);
                p = *e ? e + 1 : e;
        }
        return n;
}

/* The node now of a directory at old relpath rel, through the directory moves applied (old -> new). */
static WatchNode *node_at_old(Watch *w, const char *rel, GHashTable *dir_moves) {
        g_autofree char *p = g_strdup(rel);

        for (;;) {
                const char *to = g_hash_table_lookup(dir_moves, p);
                char *slash;

                if (to) {
                        g_autofree char *now = g_strconcat(to, rel + strlen(p), NULL);

                        return node_at(w, now);
                }
                slash = strrchr(p, '/');
                if (!slash)
                        return node_at(w, rel);
                *slash = 0;
        }
}

static char *rel_dirname(const char *rel) {
        const char *s = strrchr(rel, '/');

        return s ? g_strndup(rel, s - rel) : g_strdup("");
}

static const char *rel_basename(const char *rel) {
        const char *s = strrchr(rel, '/');

        return s ? s + 1 : rel;
}

static unsigned rel_depth(const char *rel) {
        unsigned d = 0;

        for (; *rel; rel++)
                d += *rel == '/';
        return d;
}

typedef struct Change {
        const char *rel;                /* the new path (created, moved) or the old one (deleted) */
        const char *old_rel;            /* moved: the old path */
        const PollEntry *e;             /* NULL: nothing to do */
        WatchNode *old_parent;          /* moved: resolved after the deletions */
        int replaced;                   /* created over a file of another inode: its deletion's index, or -1 */
        bool skip;                      /* a deletion that is not one (a move's old half, a replacement) */
} Change;

/* Shallow first (a directory before what appears in it); at one depth moves before creations (a name
 * moved away before a new file takes it). */
static gint by_depth(gconstpointer a, gconstpointer b) {
        const Change *x = a, *y = b;
        unsigned dx = rel_depth(x->rel), dy = rel_depth(y->rel);

        if (dx != dy)
                return dx < dy ? -1 : 1;
        if (!x->old_rel != !y->old_rel)
                return x->old_rel ? -1 : 1;
        return strcmp(x->rel, y->rel);
}

static gint by_depth_desc(gconstpointer a, gconstpointer b) {
        const Change *x = a, *y = b;
        unsigned dx = rel_depth(x->rel), dy = rel_depth(y->rel);

        return dx != dy ? (dx > dy ? -1 : 1) : strcmp(y->rel, x->rel);
}

static guint ino_hash(gconstpointer p) {
        const PollEntry *e = p;

        return g_int64_hash(&(gint64) { (gint64) e->ino }) ^ (guint) e->dev ^ e->is_dir;
}

static gboolean ino_equal(gconstpointer a, gconstpointer b) {
        const PollEntry *x = a, *y = b;

        return x->ino == y->ino && x->dev == y->dev && x->is_dir == y->is_dir;
}

static void emit(PollBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask, EventKind kind,
                 const char *src) {
        tree_backend_emit(&b->t, w, n, name, mask, kind, false, src);
}

static void add_to_tree(PollBackend *b, Watch *w, WatchNode *parent, const char *name, bool is_dir) {
        if (is_dir)
                tree_backend_mark(&b->t, watch_tree_add_child(b->t.tree, parent, name));
        else
                (void) watch_node_add_file(parent, name);
}

static void remove_from_tree(PollBackend *b, WatchNode *parent, const char *name, bool is_dir) {
        if (is_dir) {
                WatchNode *c = watch_node_child(parent, name);

                if (c)
                        tree_backend_remove(&b->t, c);
        } else
                (void) watch_node_remove_file(parent, name);
}

static void created(PollBackend *b, Watch *w, const Change *c) {
        g_autofree char *dir = rel_dirname(c->rel);
        const char *name = rel_basename(c->rel);
        WatchNode *parent = node_at(w, dir);

        /* Below an excluded directory (not in the tree), or excluded itself. */
        if (!parent || watch_skips(w, parent, name))
                return;
        if (c->e->is_dir && watch_node_child(parent, name))
                return;
        emit(b, w, parent, name, IN_CREATE | (c->e->is_dir ? IN_ISDIR : 0), EVENT_KIND_CREATED, NULL);
        add_to_tree(b, w, parent, name, c->e->is_dir);
        if (!c->e->is_dir)
                emit(b, w, parent, name, IN_CLOSE_WRITE, EVENT_KIND_CHANGED, NULL);
}

static void deleted(PollBackend *b, Watch *w, const char *rel, bool is_dir) {
        g_autofree char *dir = rel_dirname(rel);
        const char *name = rel_basename(rel);
        WatchNode *parent = node_at(w, dir);

        if (!parent || watch_skips(w, parent, name))
                return;
        if (is_dir ? !watch_node_child(parent, name) : !watch_node_has_file(parent, name))
                return;
        emit(b, w, parent, name, IN_DELETE | (is_dir ? IN_ISDIR : 0), EVENT_KIND_DELETED, NULL);
        remove_from_tree(b, parent, name, is_dir);
}

static void moved(PollBackend *b, Watch *w, const Change *c) {
        g_autofree char *dir = rel_dirname(c->rel), *src = NULL;
        const char *name = rel_basename(c->rel), *old_name = rel_basename(c->old_rel);
        uint32_t isdir = c->e->is_dir ? IN_ISDIR : 0;
        WatchNode *parent = node_at(w, dir);
        bool known = c->old_parent && !watch_skips(w, c->old_parent, old_name) &&
                     (c->e->is_dir ? !!watch_node_child(c->old_parent, old_name) :
                                     watch_node_has_file(c->old_parent, old_name));

        if (!known) {
                /* From outside what is watched: it is new here. */
                created(b, w, c);
                return;
        }
        src = watch_node_child_path(c->old_parent, old_name);
        if (!parent || watch_skips(w, parent, name)) {
                /* To outside what is watched: gone. */
                emit(b, w, c->old_parent, old_name, IN_MOVED_FROM | isdir, EVENT_KIND_DELETED, NULL);
                remove_from_tree(b, c->old_parent, old_name, c->e->is_dir);
                return;
        }
        emit(b, w, c->old_parent, old_name, IN_MOVED_FROM | isdir, EVENT_KIND_NONE, NULL);
        if (c->e->is_dir)
                tree_backend_move(&b->t, watch_node_child(c->old_parent, old_name), parent, name);
        else {
                (void) watch_node_remove_file(c->old_parent, old_name);
                (void) watch_node_add_file(parent, name);
        }
        emit(b, w, parent, name, IN_MOVED_TO | isdir, EVENT_KIND_MOVED, src);
}

static void changed(PollBackend *b, Watch *w, const char *rel, uint32_t mask) {
        g_autofree char *dir = rel_dirname(rel);
        const char *name = rel_basename(rel);
        WatchNode *parent = node_at(w, dir);

        if (parent && watch_node_has_file(parent, name) && !watch_skips(w, parent, name))
                emit(b, w, parent, name, mask, EVENT_KIND_CHANGED, NULL);
}

/* Raises the differences between what pw knew and found (both relpath -> PollEntry*), in the order
 * inotify would: deletions deepest first (as rm -r), then moves (a directory's move carries what is
 * below it) and creations, a directory before what appears in it, then changes. A file replaced by
 * another inode at its name (a save by rename) is changed, unless its old inode moved elsewhere. */
static void apply(PollBackend *b, PollWatch *pw, GHashTable *found) {
        Watch *w = pw->w;
        g_autoptr(GArray) add = g_array_new(false, false, sizeof(Change));
        g_autoptr(GArray) del = g_array_new(false, false, sizeof(Change));
        g_autoptr(GPtrArray) mod = g_ptr_array_new();
        g_autoptr(GHashTable) gone_by_ino = g_hash_table_new(ino_hash, ino_equal);
        g_autoptr(GHashTable) dir_moves = g_hash_table_new(g_str_hash, g_str_equal); /* old -> new */
        GHashTableIter i;
        gpointer k, v;

        g_hash_table_iter_init(&i, found);
        while (g_hash_table_iter_next(&i, &k, &v)) {
                const PollEntry *n = v, *o = g_hash_table_lookup(pw->known, k);
                Change c = { .rel = k, .e = n, .replaced = -1 };

                if (o && o->ino == n->ino && o->dev == n->dev && o->is_dir == n->is_dir) {
                        if (n->is_dir)
                                continue;
                        if (o->size != n->size || o->mtime_ns != n->mtime_ns)
                                g_ptr_array_add(mod, GUINT_TO_POINTER(IN_CLOSE_WRITE)), g_ptr_array_add(mod, k);
                        else if (o->ctime_ns != n->ctime_ns)
                                g_ptr_array_add(mod, GUINT_TO_POINTER(IN_ATTRIB)), g_ptr_array_add(mod, k);
                        continue;
                }
                if (o) {
                        /* Another inode at the name: the old one went (or moved), a new one came. */
                        if (!o->is_dir && !n->is_dir)
                                c.replaced = (int) del->len;
                        g_array_append_val(del, ((Change) { .rel = k, .e = o, .replaced = -1 }));
                }
                g_array_append_val(add, c);
        }
        g_hash_table_iter_init(&i, pw->known);
        while (g_hash_table_iter_next(&i, &k, &v))
                if (!g_hash_table_contains(found, k))
                        g_array_append_val(del, ((Change) { .rel = k, .e = v, .replaced = -1 }));

        /* Pair what went with what came by inode. */
        for (guint j = 0; j < del->len; j++)
                g_hash_table_insert(gone_by_ino, (gpointer) g_array_index(del, Change, j).e,
                                    GUINT_TO_POINTER(j + 1));
        for (guint j = 0; j < add->len; j++) {
                Change *c = &g_array_index(add, Change, j);
                guint d = GPOINTER_TO_UINT(g_hash_table_lookup(gone_by_ino, c->e));
                Change *dc = d > 0 ? &g_array_index(del, Change, d - 1) : NULL;

                if (!dc || dc->skip || streq(dc->rel, c->rel))
                        continue;
                c->old_rel = dc->rel;
                dc->skip = true;
        }
        for (guint j = 0; j < add->len; j++) {
                Change *c = &g_array_index(add, Change, j);

                if (c->replaced >= 0 && !g_array_index(del, Change, c->replaced).skip) {
                        /* The old inode went nowhere we see: the file was replaced, i.e. changed. */
                        g_array_index(del, Change, c->replaced).skip = true;
                        g_ptr_array_add(mod, GUINT_TO_POINTER(IN_CLOSE_WRITE));
                        g_ptr_array_add(mod, (gpointer) c->rel);
                        c->e = NULL;
                }
        }

        g_array_sort(del, by_depth_desc);
        for (guint j = 0; j < del->len; j++) {
                const Change *d = &g_array_index(del, Change, j);

                if (!d->skip)
                        deleted(b, w, d->rel, d->e->is_dir);
        }

        g_array_sort(add, by_depth);
        for (guint j = 0; j < add->len; j++) {
                Change *c = &g_array_index(add, Change, j);
                g_autofree char *od = NULL, *nd = NULL;
                const char *moved_to;

                if (!c->e)
                        continue;
                if (!c->old_rel) {
                        created(b, w, c);
                        continue;
                }
                od = rel_dirname(c->old_rel);
                nd = rel_dirname(c->rel);
                moved_to = g_hash_table_lookup(dir_moves, od);
                if (c->e->is_dir)
                        g_hash_table_insert(dir_moves, (gpointer) c->old_rel, (gpointer) c->rel);
                /* Carried along by its directory's move: nothing to raise or apply. */
                if (moved_to && streq(moved_to, nd) && streq(rel_basename(c->old_rel), rel_basename(c->rel)))
                        continue;
                c->old_parent = node_at_old(w, od, dir_moves);
                moved(b, w, c);
        }
        for (guint j = 0; j + 1 < mod->len; j += 2)
                changed(b, w, mod->pdata[j + 1], GPOINTER_TO_UINT(mod->pdata[j]));
}

/* ------------------------------------------------------------------ the timer */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm(PollWatch *pw) {
        int r;

        if (!pw->timer) {
                r = sd_event_add_time_relative(pw->b->t.base.event, &pw->timer, CLOCK_MONOTONIC,
                                               pw->w->poll_interval, 0, on_timer, pw);
                if (r < 0) {
                        log_error_errno(r, "Watch %s: cannot arm its poll timer, not polling: %m", pw->w->name);
                        return;
                }
                (void) sd_event_source_set_description(pw->timer, "poll");
                return;
        }
        (void) sd_event_source_set_time_relative(pw->timer, pw->w->poll_interval);
        (void) sd_event_source_set_enabled(pw->timer, SD_EVENT_ONESHOT);
}

static void job_done(void *userdata) {
        PollJob *j = userdata;
        PollWatch *pw = j->pw;
        PollBackend *b = pw->b;

        pw->walking = false;
        if (!pw->w) {
                /* Removed while walking. */
                poll_watch_free(pw);
                job_free(j);
                return;
        }
        b->n_polls++;
        if (j->error < 0 || !pw->w->active) {
                Watch *w = pw->w;

                /* The root is gone: it waits for it to come back. */
                log_debug_errno(j->error, "Watch %s: cannot poll %s: %m", w->name, j->root);
                backend_watch_lost(&b->t.base, w);
                job_free(j);
                arm(pw);
                return;
        }
        if (j->list_error < 0) {
                log_debug_errno(j->list_error, "Watch %s: a listing below %s failed, comparing again at the "
                                "next poll: %m", pw->w->name, j->root);
                job_free(j);
                arm(pw);
                return;
        }
        if (b->enabled) {
                apply(b, pw, j->found);
                g_hash_table_unref(pw->known);
                pw->known = TAKE_PTR(j->found);
        }
        log_debug("Watch %s: polled %u entries in %" PRIu64 " us of CPU.", pw->w->name,
                  g_hash_table_size(pw->known), j->cpu_usec);
        job_free(j);
        arm(pw);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        PollWatch *pw = userdata;
        PollJob *j;

        if (pw->walking || !pw->w->root)
                return 0;
        j = job_new(pw);
        if (worker_submit(pw->b->worker, j, job_run, job_done) < 0) {
                job_free(j);
                arm(pw);
                return 0;
        }
        pw->walking = true;
        return 0;
}

/* ------------------------------------------------------------------ ops */

static int poll_init(BackendImpl *base, const char *watch_name) {
        PollBackend *b = (PollBackend *) base;

        tree_backend_init(&b->t);
        b->enabled = true;
        b->watches = g_hash_table_new(NULL, NULL);
        return worker_new(&b->worker, base->event, 2);
}

static void poll_done(BackendImpl *base) {
        PollBackend *b = (PollBackend *) base;
        GHashTableIter i;
        gpointer v;

        /* Walks under way finish; their completions see their watch gone. */
        if (b->watches) {
                g_hash_table_iter_init(&i, b->watches);
                while (g_hash_table_iter_next(&i, NULL, &v)) {
                        PollWatch *pw = v;

                        pw->w = NULL;
                        if (!pw->walking)
                                poll_watch_free(pw);
                }
                g_hash_table_unref(b->watches);
        }
        b->worker = worker_free(b->worker);
        tree_backend_done(&b->t);
}

static void poll_add(BackendImpl *base, Watch *w, bool announce) {
        PollBackend *b = (PollBackend *) base;
        PollWatch *pw;
        PollJob *j;
        int r;

        r = tree_backend_attach(&b->t, w, announce);
        if (r < 0) {
                log_warning_errno(r, "Watch %s: cannot read %s, not polling it for now: %m", w->name, w->path);
                backend_watch_lost(base, w);
                return;
        }
        pw = g_new0(PollWatch, 1);
        pw->b = b;
        pw->w = w;
        /* The first walk on the loop: what exists now is the base the first poll compares with. */
        j = job_new(pw);
        job_run(j);
        pw->known = TAKE_PTR(j->found);
        job_free(j);
        g_hash_table_insert(b->watches, w, pw);
        log_debug("Watch %s: polling %u entries every %" PRIu64 " ms.", w->name, g_hash_table_size(pw->known),
                  w->poll_interval / USEC_PER_MSEC);
        arm(pw);
}

static void poll_remove(BackendImpl *base, Watch *w) {
        PollBackend *b = (PollBackend *) base;
        PollWatch *pw = g_hash_table_lookup(b->watches, w);

        if (pw) {
                g_hash_table_remove(b->watches, w);
                pw->timer = sd_event_source_disable_unref(pw->timer);
                pw->w = NULL;
                if (!pw->walking)
                        poll_watch_free(pw);
        }
        tree_backend_detach(&b->t, w);
}

static int poll_set_mask(BackendImpl *base, uint32_t mask) {
        return 0;
}

static int poll_set_enabled(BackendImpl *base, bool enabled) {
        ((PollBackend *) base)->enabled = enabled;
        return 0;
}

static void poll_drain(BackendImpl *base) {
}

const BackendOps backend_poll_ops = {
        .name = "poll",
        .size = sizeof(PollBackend),
        .init = poll_init,
        .done = poll_done,
        .set_mask = poll_set_mask,
        .add_watch = poll_add,
        .remove_watch = poll_remove,
        .compare_snapshot = tree_backend_compare_snapshot,
        .set_enabled = poll_set_enabled,
        .drain = poll_drain,
        .get_stats = tree_backend_get_stats,
        .rescan_dir = tree_backend_rescan_dir,
};
