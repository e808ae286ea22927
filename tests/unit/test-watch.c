/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for watch: settings taken from the configuration, Exclude= by name and by relative path,
 * a single-file watch's filter, the kind InitialEvent= raises, and what a reload may keep. */
#include <string.h>
#include <sys/inotify.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

/* By path: a plain "config.h" finds the build's generated config.h first (-I. of the build root). */
#include "src/daemon/config.h"
#include "watch.h"
#include "watch-tree.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

static Config *load(const char *text) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        Config *c = NULL;
        int r;

        r = config_load_string("test.conf", text, &c, errors);
        for (guint i = 0; i < errors->len; i++)
                g_test_message("unexpected error: %s", (const char *) errors->pdata[i]);
        g_assert_cmpint(r, ==, 0);
        return c;
}

static void test_new(void) {
        _cleanup_(config_freep) Config *c = load("[Watch w]\nPath=/srv/in\nRecursive=yes\nExclude=*.part\n"
                                                 "InitialEvent=exists\n");
        _cleanup_(watch_freep) Watch *w = NULL;

        g_assert_cmpint(watch_new(&w, c->watches->pdata[0]), ==, 0);
        g_assert_cmpstr(w->name, ==, "w");
        g_assert_cmpstr(w->path, ==, "/srv/in");
        g_assert_true(w->recursive);
        g_assert_true(w->auto_add);
        g_assert_false(w->exclude_has_slash);
        g_assert_false(w->active);
        g_assert_null(w->root);
        g_assert_cmpuint(watch_n_directories(w), ==, 0);
        g_assert_true(watch_matches_config(w, c->watches->pdata[0]));
        g_assert_cmpint(watch_initial_kind(w), ==, EVENT_KIND_EXISTS);

        watch_set_single_file(w, "app.conf");
        g_assert_cmpstr(w->file_name, ==, "app.conf");
        g_assert_false(w->recursive);
        g_assert_false(w->auto_add);
}

static void test_matches_config(void) {
        _cleanup_(config_freep) Config *c = load(
                "[Watch a]\nPath=/srv/in\nExclude=*.part\n\n"
                "[Watch b]\nPath=/srv/in\nExclude=*.tmp\n\n"
                "[Watch c]\nPath=/srv/in\nExclude=*.part\nRecursive=yes\n\n"
                "[Watch d]\nPath=/srv/in\nExclude=*.part\nInitialEvent=IN_CREATE\n");
        _cleanup_(watch_freep) Watch *a = NULL;
        ConfigWatch other;

        g_assert_cmpint(watch_new(&a, c->watches->pdata[0]), ==, 0);
        g_assert_true(watch_matches_config(a, c->watches->pdata[0]));
        /* Same but for the name, then one setting each: a reload must set these up anew. */
        for (guint i = 1; i < c->watches->len; i++) {
                other = *(ConfigWatch *) c->watches->pdata[i];
                other.name = (char *) "a";
                g_assert_false(watch_matches_config(a, &other));
        }
        other = *(ConfigWatch *) c->watches->pdata[0];
        other.name = (char *) "renamed";
        g_assert_false(watch_matches_config(a, &other));
}

static void test_excludes(void) {
        _cleanup_(config_freep) Config *c = load("[Watch w]\nPath=/srv/in\nRecursive=yes\n"
                                                 "Exclude=*.part .* cache/* build\n");
        _cleanup_(watch_freep) Watch *w = NULL;
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *sub, *cache, *deep_cache;

        g_assert_cmpint(watch_new(&w, c->watches->pdata[0]), ==, 0);
        g_assert_true(w->exclude_has_slash);
        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        w->root = watch_tree_add_root(t, w, w->path);
        sub = watch_tree_add_child(t, w->root, "sub");
        cache = watch_tree_add_child(t, w->root, "cache");
        deep_cache = watch_tree_add_child(t, sub, "cache");

        /* Without '/': the entry's name, at any depth. */
        g_assert_true(watch_excluded(w, w->root, "upload.part"));
        g_assert_true(watch_excluded(w, sub, "x.part"));
        g_assert_true(watch_excluded(w, sub, ".hidden"));
        g_assert_true(watch_excluded(w, sub, "build"));
        g_assert_false(watch_excluded(w, sub, "builds"));
        g_assert_false(watch_excluded(w, w->root, "keep.txt"));
        /* With '/': the path relative to the watch, '*' not crossing a '/'. */
        g_assert_true(watch_excluded(w, cache, "x"));
        g_assert_false(watch_excluded(w, deep_cache, "x"));
        g_assert_false(watch_excluded(w, w->root, "cache"));
        /* watch_skips() is the same for a directory watch. */
        g_assert_true(watch_skips(w, cache, "x"));
        g_assert_false(watch_skips(w, w->root, "keep.txt"));
        /* A path from a rename: any directory on the way counts, by name or by path. */
        g_assert_true(watch_excluded_relpath(w, "cache/x"));
        g_assert_true(watch_excluded_relpath(w, "sub/build/deep/f"));
        g_assert_true(watch_excluded_relpath(w, "a/.git/f"));
        g_assert_true(watch_excluded_relpath(w, "a/b.part"));
        g_assert_false(watch_excluded_relpath(w, "sub/cache/x"));
        g_assert_false(watch_excluded_relpath(w, "cache"));
        g_assert_false(watch_excluded_relpath(w, "sub/builds/f"));
        g_assert_false(watch_excluded_relpath(w, ""));
}

static void test_excludes_on_root(void) {
        _cleanup_(config_freep) Config *c = load("[Watch w]\nPath=/\nRecursive=yes\nExclude=proc/* tmp\n");
        _cleanup_(watch_freep) Watch *w = NULL;
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *proc;

        g_assert_cmpint(watch_new(&w, c->watches->pdata[0]), ==, 0);
        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        w->root = watch_tree_add_root(t, w, "/");
        proc = watch_tree_add_child(t, w->root, "proc");
        /* Relative to "/": "proc/1", not "/proc/1" nor "roc/1". */
        g_assert_true(watch_excluded(w, proc, "1"));
        g_assert_false(watch_excluded(w, w->root, "proc"));
        g_assert_true(watch_excluded(w, w->root, "tmp"));
        g_assert_false(watch_excluded(w, w->root, "etc"));
}

static void test_single_file(void) {
        _cleanup_(config_freep) Config *c = load("[Watch conf]\nPath=/etc/app/app.conf\n");
        _cleanup_(watch_freep) Watch *w = NULL;
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;

        g_assert_cmpint(watch_new(&w, c->watches->pdata[0]), ==, 0);
        watch_set_single_file(w, "app.conf");
        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        w->root = watch_tree_add_root(t, w, "/etc/app");
        /* Only the file itself, of everything in its directory. */
        g_assert_false(watch_skips(w, w->root, "app.conf"));
        g_assert_true(watch_skips(w, w->root, "app.conf~"));
        g_assert_true(watch_skips(w, w->root, "other"));
}

static void test_initial_kind(void) {
        _cleanup_(config_freep) Config *c = load(
                "[Watch kind]\nPath=/a\nInitialEvent=created\n\n"
                "[Watch mask]\nPath=/b\nInitialEvent=IN_CLOSE_WRITE\n\n"
                "[Watch raw]\nPath=/c\nInitialEvent=IN_OPEN\n");
        static const EventKind want[] = { EVENT_KIND_CREATED, EVENT_KIND_CHANGED, EVENT_KIND_NONE };

        for (guint i = 0; i < c->watches->len; i++) {
                _cleanup_(watch_freep) Watch *w = NULL;

                g_assert_cmpint(watch_new(&w, c->watches->pdata[i]), ==, 0);
                g_assert_cmpint(watch_initial_kind(w), ==, want[i]);
        }
}

static void test_n_directories(void) {
        _cleanup_(config_freep) Config *c = load("[Watch w]\nPath=/srv/in\nRecursive=yes\n");
        _cleanup_(watch_freep) Watch *w = NULL;
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *a, *b;

        g_assert_cmpint(watch_new(&w, c->watches->pdata[0]), ==, 0);
        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        w->root = watch_tree_add_root(t, w, w->path);
        a = watch_tree_add_child(t, w->root, "a");
        b = watch_tree_add_child(t, a, "b");
        (void) watch_tree_add_child(t, w->root, "unwatched");
        watch_tree_set_wd(t, w->root, 1);
        watch_tree_set_wd(t, a, 2);
        watch_tree_set_wd(t, b, 3);
        /* Only the directories with a kernel watch. */
        g_assert_cmpuint(watch_n_directories(w), ==, 3);
        watch_tree_set_wd(t, b, -1);
        g_assert_cmpuint(watch_n_directories(w), ==, 2);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/watch/new", test_new);
        g_test_add_func("/watch/matches-config", test_matches_config);
        g_test_add_func("/watch/excludes", test_excludes);
        g_test_add_func("/watch/excludes-on-root", test_excludes_on_root);
        g_test_add_func("/watch/single-file", test_single_file);
        g_test_add_func("/watch/initial-kind", test_initial_kind);
        g_test_add_func("/watch/n-directories", test_n_directories);
        return g_test_run();
}
