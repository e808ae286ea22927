/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for reconcile: the one walk over a real directory in each mode, with hooks that record
 * what it asks of a backend (watch a directory, forget a subtree, raise an event). */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "reconcile.h"

typedef struct Recorder {
        GPtrArray *events;      /* "created a/b", "changed a", "deleted d/" (trailing '/' for a dir) */
        unsigned n_watched, n_removed;
        int next_wd;
        WatchTree *tree;
        const char *handled;    /* a file name the backend says was handled in its present state */
} Recorder;

static int rec_watch_dir(void *userdata, WatchNode *n, int fd) {
        Recorder *r = userdata;
        struct stat st;

        /* The walk hands over the directory itself, open. */
        g_assert_cmpint(fstat(fd, &st), ==, 0);
        g_assert_true(S_ISDIR(st.st_mode));

        r->n_watched++;
        watch_tree_set_wd(r->tree, n, r->next_wd++);
        return 1;
}

static void rec_remove_subtree(void *userdata, WatchNode *n) {
        Recorder *r = userdata;

        r->n_removed++;
        watch_tree_remove(r->tree, n, NULL, NULL);
}

static void rec_emit(void *userdata, Watch *w, const WatchNode *n, const char *name, uint32_t mask) {
        Recorder *r = userdata;
        g_autofree char *full = watch_node_child_path(n, name);
        const char *rel = full + strlen(watch_node_name(w->root)) + 1;
        EventKind k = event_kind_from_mask(mask);

        g_ptr_array_add(r->events, g_strdup_printf("%s %s%s", event_kind_to_string(k), rel,
                                                   mask & IN_ISDIR ? "/" : ""));
}

static bool rec_handled(void *userdata, const WatchNode *n, const char *name, usec_t ctime) {
        Recorder *r = userdata;

        return r->handled && streq(name, r->handled);
}

static const ReconcileOps rec_ops = {
        .watch_dir = rec_watch_dir,
        .remove_subtree = rec_remove_subtree,
        .emit = rec_emit,
        .handled = rec_handled,
};

typedef struct Fixture {
        char *dir;
        Recorder rec;
        Reconciler reconciler;
        ConfigWatch cw;
        Watch *watch;
} Fixture;

static void put(const Fixture *f, const char *rel) {
        g_autofree char *p = g_build_filename(f->dir, rel, NULL);
        g_autofree char *d = g_path_get_dirname(p);

        g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
        g_assert_true(g_file_set_contents(p, "x", 1, NULL));
}

/* The file system's clock (ctime, coarse) moved past everything written so far: the ctime of a probe
 * beside the tree once it is later than the probe's first one. What is written afterwards has a ctime
 * of at least that, what was there before an earlier one. */
static usec_t fs_clock_moved_on(const Fixture *f) {
        g_autofree char *probe = g_strconcat(f->dir, ".tick", NULL);
        usec_t first = 0, now = 0, deadline = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        struct stat st;

        do {
                g_assert_true(g_file_set_contents(probe, "x", 1, NULL));
                g_assert_cmpint(stat(probe, &st), ==, 0);
                now = (usec_t) st.st_ctim.tv_sec * USEC_PER_SEC + (usec_t) st.st_ctim.tv_nsec / 1000;
                if (first == 0)
                        first = now;
                else if (now == first)
                        g_usleep(1000);         /* poll interval of the wait, bounded by the deadline */
        } while (now == first && now_usec(CLOCK_MONOTONIC) < deadline);
        g_assert_cmpuint(now, >, first);
        (void) unlink(probe);
        return now;
}

static void fd_write_file(int dfd, const char *name) {
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, "x", 1), ==, 1);
        close(fd);
}

static void mkdir_rel(const Fixture *f, const char *rel) {
        g_autofree char *p = g_build_filename(f->dir, rel, NULL);

        g_assert_cmpint(g_mkdir_with_parents(p, 0700), ==, 0);
}

static void fixture_init(Fixture *f, bool recursive, char **exclude) {
        f->dir = g_dir_make_tmp("test-reconcile.XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        f->rec.events = g_ptr_array_new_with_free_func(g_free);
        f->rec.next_wd = 1;
        g_assert_cmpint(watch_tree_new(&f->rec.tree), ==, 0);
        f->reconciler = (Reconciler) { .ops = &rec_ops, .userdata = &f->rec, .tree = f->rec.tree };
        f->cw = (ConfigWatch) { .name = (char *) "t", .path = f->dir, .recursive = recursive,
                                .auto_add = recursive, .exclude = exclude };
        g_assert_cmpint(watch_new(&f->watch, &f->cw), ==, 0);
}

/* Roots the watch and records what is on disk now (as adding a watch does). */
static void fixture_record(Fixture *f) {
        f->watch->root = watch_tree_add_root(f->rec.tree, f->watch, f->dir);
        watch_tree_set_wd(f->rec.tree, f->watch->root, f->rec.next_wd++);
        f->watch->active = true;
        reconcile_node(&f->reconciler, f->watch->root, RECONCILE_RECORD, 0);
}

static void fixture_done(Fixture *f) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

        g_assert_cmpint(system(cmd), ==, 0);
        f->rec.tree = watch_tree_free(f->rec.tree);
        g_ptr_array_unref(f->rec.events);
        f->watch = watch_free(f->watch);
        g_free(f->dir);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The recorded events, sorted (a listing's order is the file system's), then forgotten. */
static char *take_events(Fixture *f) {
        GString *s = g_string_new(NULL);

        g_ptr_array_sort(f->rec.events, cmp_str);
        for (guint i = 0; i < f->rec.events->len; i++)
                g_string_append_printf(s, "%s%s", i ? ", " : "", (const char *) f->rec.events->pdata[i]);
        g_ptr_array_set_size(f->rec.events, 0);
        return g_string_free(s, false);
}

static void test_record(void) {
        Fixture f = {};
        g_autofree char *ev = NULL;
        char *exclude[] = { (char *) "*.part", NULL };
        WatchNode *a;

        fixture_init(&f, true, exclude);
        put(&f, "top");
        put(&f, "a/b/deep");
        put(&f, "a/skip.part");
        mkdir_rel(&f, "empty");
        fixture_record(&f);

        /* Nothing raised; the tree holds every directory (watched) and every file not excluded. */
        ev = take_events(&f);
        g_assert_cmpstr(ev, ==, "");
        g_assert_cmpuint(f.rec.n_watched, ==, 3);
        g_assert_true(watch_node_has_file(f.watch->root, "top"));
        a = watch_node_child(f.watch->root, "a");
        g_assert_nonnull(a);
        g_assert_false(watch_node_has_file(a, "skip.part"));
        g_assert_true(watch_node_has_file(watch_node_child(a, "b"), "deep"));
        g_assert_nonnull(watch_node_child(f.watch->root, "empty"));
        fixture_done(&f);
}

static void test_record_not_recursive(void) {
        Fixture f = {};
        WatchNode *sub;

        fixture_init(&f, false, NULL);
        put(&f, "sub/inside");
        put(&f, "f");
        fixture_record(&f);
        /* A subdirectory is known, not watched and not listed. */
        sub = watch_node_child(f.watch->root, "sub");
        g_assert_nonnull(sub);
        g_assert_cmpint(sub->wd, <, 0);
        g_assert_cmpuint(watch_node_n_files(sub), ==, 0);
        g_assert_cmpuint(f.rec.n_watched, ==, 0);
        fixture_done(&f);
}

static void test_created(void) {
        Fixture f = {};
        g_autofree char *ev = NULL, *link = NULL;

        fixture_init(&f, true, NULL);
        fixture_record(&f);
        /* A directory that appeared with things in it already: all of it is created, files changed. */
        put(&f, "new/f");
        put(&f, "new/sub/g");
        link = g_build_filename(f.dir, "new", "link", NULL);
        g_assert_cmpint(symlink("f", link), ==, 0);
        reconcile_new_dir(&f.reconciler, f.watch->root, "new", RECONCILE_CREATED);
        ev = take_events(&f);
        /* (The directory's own created is the kernel's; a symlink was not written.) */
        g_assert_cmpstr(ev, ==, "changed new/f, changed new/sub/g, created new/f, created new/link, "
                                "created new/sub/, created new/sub/g");
        g_assert_cmpuint(f.rec.n_watched, ==, 2);
        fixture_done(&f);
}

static void test_rescan(void) {
        Fixture f = {};
        g_autofree char *ev = NULL, *gone = NULL, *edit = NULL, *rm = NULL;
        usec_t since;

        fixture_init(&f, true, NULL);
        put(&f, "keep");
        put(&f, "edit");
        put(&f, "gone");
        put(&f, "olddir/x");
        put(&f, "olddir/sub/z");
        put(&f, "d/keep2");
        put(&f, "d/done");
        fixture_record(&f);
        /* ctime has a coarse clock: "since" is after what was there, before what changes. */
        since = fs_clock_moved_on(&f);

        gone = g_build_filename(f.dir, "gone", NULL);
        g_assert_cmpint(g_unlink(gone), ==, 0);
        edit = g_build_filename(f.dir, "edit", NULL);
        g_assert_cmpint(chmod(edit, 0600), ==, 0);
        put(&f, "new");
        put(&f, "d/new2");
        put(&f, "newdir/y");
        rm = g_strdup_printf("rm -r '%s/olddir'", f.dir);
        g_assert_cmpint(system(rm), ==, 0);
        /* Written too, but its event came before the overflow and nothing changed it since. */
        put(&f, "d/done");
        f.rec.handled = "done";

        reconcile_node(&f.reconciler, f.watch->root, RECONCILE_RESCAN, since);
        ev = take_events(&f);
        /* A vanished directory takes everything known inside it along, each raised. */
        g_assert_cmpstr(ev, ==, "changed d/new2, changed edit, changed new, changed newdir/y, "
                                "created d/new2, created new, created newdir/, created newdir/y, "
                                "deleted gone, deleted olddir/, deleted olddir/sub/, deleted olddir/sub/z, "
                                "deleted olddir/x");
        /* The tree follows the disk. */
        g_assert_false(watch_node_has_file(f.watch->root, "gone"));
        g_assert_null(watch_node_child(f.watch->root, "olddir"));
        g_assert_true(watch_node_has_file(watch_node_child(f.watch->root, "newdir"), "y"));
        g_assert_cmpuint(f.rec.n_removed, ==, 1);
        f.rec.handled = NULL;

        /* A second rescan finds nothing more. */
        reconcile_node(&f.reconciler, f.watch->root, RECONCILE_RESCAN,
                       now_usec(CLOCK_REALTIME) + USEC_PER_SEC);
        g_free(ev);
        ev = take_events(&f);
        g_assert_cmpstr(ev, ==, "");
        fixture_done(&f);
}

static void test_snapshot(void) {
        Fixture f = {};
        g_autoptr(GHashTable) known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autofree char *ev = NULL;
        usec_t since;

        fixture_init(&f, true, NULL);
        put(&f, "keep");
        put(&f, "d/keep2");
        since = fs_clock_moved_on(&f);
        put(&f, "edit");
        put(&f, "new");
        put(&f, "newdir/y");
        fixture_record(&f);

        /* What the last run knew: "edit" was there before (and changed since), "gone" and "olddir"
         * no longer are. */
        g_hash_table_insert(known, g_strdup("keep"), GINT_TO_POINTER(0));
        g_hash_table_insert(known, g_strdup("edit"), GINT_TO_POINTER(0));
        g_hash_table_insert(known, g_strdup("gone"), GINT_TO_POINTER(0));
        g_hash_table_insert(known, g_strdup("d"), GINT_TO_POINTER(1));
        g_hash_table_insert(known, g_strdup("d/keep2"), GINT_TO_POINTER(0));
        g_hash_table_insert(known, g_strdup("d/gone2"), GINT_TO_POINTER(0));
        g_hash_table_insert(known, g_strdup("olddir"), GINT_TO_POINTER(1));
        g_hash_table_insert(known, g_strdup("olddir/x"), GINT_TO_POINTER(0));

        reconcile_snapshot(&f.reconciler, f.watch, known, since);
        ev = take_events(&f);
        /* olddir/x goes with olddir: its parent is gone. */
        g_assert_cmpstr(ev, ==, "changed edit, changed new, changed newdir/y, created new, created newdir/, "
                                "created newdir/y, deleted d/gone2, deleted gone, deleted olddir/");
        fixture_done(&f);
}

/* A tree deeper than PATH_MAX: walked and watched to the bottom, each directory opened from its parent. */
static void test_deep(void) {
        Fixture f = {};
        g_autofree char *ev = NULL, *rm = NULL;
        char name[201];
        WatchNode *n;
        int dfd, depth = 30;        /* 30 × 201 bytes: past 6,000 */
        size_t len;

        fixture_init(&f, true, NULL);
        fixture_record(&f);
        memset(name, 'd', sizeof name - 1);
        name[sizeof name - 1] = 0;
        dfd = open(f.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(dfd, >=, 0);
        for (int i = 0; i < depth; i++) {
                int fd;

                g_assert_cmpint(mkdirat(dfd, name, 0700), ==, 0);
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                g_assert_cmpint(fd, >=, 0);
                close(dfd);
                dfd = fd;
        }
        fd_write_file(dfd, "bottom");
        close(dfd);

        reconcile_new_dir(&f.reconciler, f.watch->root, name, RECONCILE_CREATED);
        g_assert_cmpuint(f.rec.n_watched, ==, (unsigned) depth);
        n = f.watch->root;
        for (int i = 0; i < depth; i++)
                n = watch_node_child(n, name);
        g_assert_nonnull(n);
        g_assert_true(watch_node_has_file(n, "bottom"));
        len = watch_node_path_len(n);
        g_assert_cmpuint(len, >, PATH_MAX);
        ev = take_events(&f);
        g_assert_nonnull(strstr(ev, "/bottom"));

        /* A rescan below PATH_MAX's reach opens it component by component. */
        reconcile_node(&f.reconciler, n, RECONCILE_RESCAN, now_usec(CLOCK_REALTIME) + USEC_PER_SEC);
        g_free(ev);
        ev = take_events(&f);
        g_assert_cmpstr(ev, ==, "");
        fixture_done(&f);
}

/* Directories listed in many reads (a read takes 32 KiB), with subdirectories among their entries that
 * are listed in many reads of their own while the parent's listing is half done: every entry once. */
static void test_big_dirs(void) {
        Fixture f = {};
        g_autofree char *ev = NULL;
        const unsigned n_files = 1500, n_subs = 3;
        unsigned n_created = 0;
        char **lines;

        fixture_init(&f, true, NULL);
        for (unsigned s = 0; s <= n_subs; s++)
                for (unsigned i = 0; i < n_files; i++) {
                        g_autofree char *rel = s == 0
                                ? g_strdup_printf("big/file-with-a-long-name-to-fill-the-buffers-%05u", i)
                                : g_strdup_printf("big/sub%u/file-with-a-long-name-to-fill-the-buffers-%05u", s, i);

                        put(&f, rel);
                }
        fixture_record(&f);
        {
                WatchNode *big = watch_node_child(f.watch->root, "big");

                g_assert_nonnull(big);
                g_assert_cmpuint(watch_node_n_files(big), ==, n_files);
                g_assert_cmpuint(watch_node_n_children(big), ==, n_subs);
                for (unsigned s = 1; s <= n_subs; s++) {
                        g_autofree char *sub = g_strdup_printf("sub%u", s);
                        WatchNode *c = watch_node_child(big, sub);

                        g_assert_nonnull(c);
                        g_assert_cmpuint(watch_node_n_files(c), ==, n_files);
                }
        }
        g_assert_cmpuint(f.rec.n_watched, ==, 1 + n_subs);

        /* The same tree as a new directory: a created and a changed for each file, each once. */
        g_free(take_events(&f));
        {
                WatchNode *big = watch_node_child(f.watch->root, "big");

                watch_tree_remove(f.rec.tree, big, NULL, NULL);
        }
        reconcile_new_dir(&f.reconciler, f.watch->root, "big", RECONCILE_CREATED);
        ev = take_events(&f);
        lines = g_strsplit(ev, ", ", -1);
        {
                g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

                for (char **l = lines; *l; l++) {
                        if (!**l)
                                continue;
                        g_assert_false(g_hash_table_contains(seen, *l));
                        g_hash_table_add(seen, *l);
                        if (g_str_has_prefix(*l, "created ") && !g_str_has_suffix(*l, "/"))
                                n_created++;
                }
        }
        g_assert_cmpuint(n_created, ==, (1 + n_subs) * n_files);
        g_strfreev(lines);
        fixture_done(&f);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/reconcile/record", test_record);
        g_test_add_func("/reconcile/record-not-recursive", test_record_not_recursive);
        g_test_add_func("/reconcile/created", test_created);
        g_test_add_func("/reconcile/rescan", test_rescan);
        g_test_add_func("/reconcile/snapshot", test_snapshot);
        g_test_add_func("/reconcile/deep", test_deep);
        g_test_add_func("/reconcile/big-dirs", test_big_dirs);
        return g_test_run();
}
