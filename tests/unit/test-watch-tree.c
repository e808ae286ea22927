/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The watch tree: paths built from nodes, wd lookups, renames that carry whole subtrees, removal. */
#include <string.h>

#include "macro.h"
#include <glib.h>

#include "watch-tree.h"

static void assert_path(const WatchNode *n, const char *name, const char *expected) {
        g_autofree char *p = watch_node_child_path(n, name);

        g_assert_cmpstr(p, ==, expected);
        if (!name)
                g_assert_cmpuint(watch_node_path_len(n), ==, strlen(expected));
}

static void test_paths(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *root, *a, *b, *slash, *s1;

        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        root = watch_tree_add_root(t, NULL, "/srv/uploads");
        a = watch_tree_add_child(t, root, "a");
        b = watch_tree_add_child(t, a, "b c");
        g_assert_true(watch_tree_add_child(t, root, "a") == a);
        assert_path(root, NULL, "/srv/uploads");
        assert_path(root, "f", "/srv/uploads/f");
        assert_path(b, NULL, "/srv/uploads/a/b c");
        assert_path(b, "x\ny", "/srv/uploads/a/b c/x\ny");

        /* The root directory must not produce "//". */
        slash = watch_tree_add_root(t, NULL, "/");
        s1 = watch_tree_add_child(t, slash, "etc");
        assert_path(slash, NULL, "/");
        assert_path(slash, "etc", "/etc");
        assert_path(s1, "passwd", "/etc/passwd");
        g_assert_cmpuint(watch_tree_n_nodes(t), ==, 5);
}

static void test_wd_index(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *r1, *r2, *c;

        (void) watch_tree_new(&t);
        r1 = watch_tree_add_root(t, GINT_TO_POINTER(1), "/a");
        r2 = watch_tree_add_root(t, GINT_TO_POINTER(2), "/a/b");
        c = watch_tree_add_child(t, r1, "b");
        g_assert_true(watch_node_owner(c) == GINT_TO_POINTER(1));

        watch_tree_set_wd(t, r1, 1);
        watch_tree_set_wd(t, c, 2);
        g_assert_true(watch_tree_lookup_wd(t, 1) == r1);
        g_assert_false(watch_tree_wd_shared(t, c));

        /* Two watches on the same inode share the wd: both nodes are found. */
        watch_tree_set_wd(t, r2, 2);
        g_assert_true(watch_tree_wd_shared(t, c));
        g_assert_true(watch_tree_wd_shared(t, r2));
        {
                WatchWdIter i;
                WatchNode *n;
                bool saw_c = false, saw_r2 = false;

                watch_wd_iter_init(&i, t, 2);
                while ((n = watch_wd_iter_next(&i))) {
                        saw_c |= n == c;
                        saw_r2 |= n == r2;
                }
                g_assert_true(saw_c && saw_r2);
        }
        g_assert_cmpuint(watch_tree_n_watched(t), ==, 3);

        watch_tree_set_wd(t, r2, -1);
        g_assert_false(watch_tree_wd_shared(t, c));
        g_assert_true(watch_tree_lookup_wd(t, 2) == c);
        g_assert_null(watch_tree_lookup_wd(t, 99));
        g_assert_cmpuint(watch_tree_n_watched(t), ==, 2);
}

static void count_removed(WatchTree *t, WatchNode *n, void *userdata) {
        GPtrArray *paths = userdata;

        /* Called while the node is complete: its path can still be built. */
        g_ptr_array_add(paths, watch_node_path(n));
}

static void test_rename(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func(g_free);
        WatchNode *root, *d, *sub, *deep, *e, *other;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/w");
        d = watch_tree_add_child(t, root, "d");
        sub = watch_tree_add_child(t, d, "sub");
        deep = watch_tree_add_child(t, sub, "deep");
        e = watch_tree_add_child(t, root, "e");
        watch_tree_set_wd(t, deep, 7);
        (void) watch_node_add_file(sub, "f");

        /* d -> e/d2: one node update, the subtree follows. */
        watch_tree_move(t, d, e, "d2", NULL, NULL);
        assert_path(deep, NULL, "/w/e/d2/sub/deep");
        assert_path(sub, "f", "/w/e/d2/sub/f");
        g_assert_null(watch_node_child(root, "d"));
        g_assert_true(watch_node_child(e, "d2") == d);
        g_assert_true(watch_tree_lookup_wd(t, 7) == deep);
        g_assert_true(watch_node_has_file(sub, "f"));

        /* Renaming onto an existing name replaces that subtree, like rename(2). */
        other = watch_tree_add_child(t, root, "target");
        (void) watch_tree_add_child(t, other, "old-child");
        watch_tree_move(t, d, root, "target", count_removed, removed);
        g_assert_cmpuint(removed->len, ==, 2);
        g_assert_cmpstr(removed->pdata[0], ==, "/w/target/old-child");
        g_assert_cmpstr(removed->pdata[1], ==, "/w/target");
        assert_path(deep, NULL, "/w/target/sub/deep");
        g_assert_true(watch_node_child(root, "target") == d);

        /* Moving onto itself is a no-op. */
        watch_tree_move(t, d, root, "target", NULL, NULL);
        assert_path(d, NULL, "/w/target");
}

/* A node's block holds its first name (at least a pointer's room); renames to longer names go to a block
 * of their own and back, each findable under its new name, the owner always the root's. */
static void test_rename_lengths(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        const char *names[] = { "ab", "abcdefg", "abcdefgh", "a-name-much-longer-than-the-first-one", "x",
                                "abcdefghijklmnop", "", "seven77", "a-name-much-longer-than-the-first-one!" };
        WatchNode *root, *a, *kid;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, GINT_TO_POINTER(5), "/w");
        a = watch_tree_add_child(t, root, "a");
        kid = watch_tree_add_child(t, a, "k");
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *expected = g_strconcat("/w/", names[i], "/k", NULL);

                if (!*names[i])
                        continue;       /* no empty entry names */
                watch_tree_move(t, a, root, names[i], NULL, NULL);
                g_assert_cmpstr(watch_node_name(a), ==, names[i]);
                g_assert_true(watch_node_child(root, names[i]) == a);
                assert_path(kid, NULL, expected);
                g_assert_true(watch_node_owner(kid) == GINT_TO_POINTER(5));
                g_assert_true(watch_node_owner(a) == GINT_TO_POINTER(5));
        }
        g_assert_true(watch_node_owner(root) == GINT_TO_POINTER(5));
        g_assert_cmpuint(watch_node_n_children(root), ==, 1);
}

/* Children past every growth of their table stay findable; the count lives in a bit field. */
static void test_many_children(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *root;
        char name[32];

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/w");
        for (unsigned i = 0; i < 70000; i++) {
                g_snprintf(name, sizeof(name), "d%u", i);
                (void) watch_tree_add_child(t, root, name);
        }
        g_assert_cmpuint(watch_node_n_children(root), ==, 70000);
        for (unsigned i = 0; i < 70000; i += 7) {
                WatchNode *c;

                g_snprintf(name, sizeof(name), "d%u", i);
                c = watch_node_child(root, name);
                g_assert_nonnull(c);
                g_assert_cmpstr(watch_node_name(c), ==, name);
                watch_tree_remove(t, c, NULL, NULL);
        }
        g_assert_cmpuint(watch_node_n_children(root), ==, 70000 - 10000);
        g_assert_null(watch_node_child(root, "d7"));
        g_assert_nonnull(watch_node_child(root, "d8"));
}

/* Each root counts the watched nodes of its tree, through set_wd, removals and moves between trees. */
static void test_root_counts(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *r1, *r2, *a, *b, *c, *x;

        (void) watch_tree_new(&t);
        r1 = watch_tree_add_root(t, GINT_TO_POINTER(1), "/one");
        r2 = watch_tree_add_root(t, GINT_TO_POINTER(2), "/two");
        a = watch_tree_add_child(t, r1, "a");
        b = watch_tree_add_child(t, a, "b");
        c = watch_tree_add_child(t, b, "c");
        x = watch_tree_add_child(t, r2, "x");
        watch_tree_set_wd(t, r1, 1);
        watch_tree_set_wd(t, a, 2);
        watch_tree_set_wd(t, b, 3);
        watch_tree_set_wd(t, c, 4);
        watch_tree_set_wd(t, x, 5);
        watch_tree_set_wd(t, x, 6);             /* another wd: still one */
        g_assert_cmpuint(watch_tree_root_n_watched(r1), ==, 4);
        g_assert_cmpuint(watch_tree_root_n_watched(r2), ==, 1);

        watch_tree_set_wd(t, c, -1);
        g_assert_cmpuint(watch_tree_root_n_watched(r1), ==, 3);
        watch_tree_set_wd(t, c, 4);

        /* a (with b and c) into the other tree: three move over. */
        watch_tree_move(t, a, x, "a", NULL, NULL);
        g_assert_cmpuint(watch_tree_root_n_watched(r1), ==, 1);
        g_assert_cmpuint(watch_tree_root_n_watched(r2), ==, 4);
        g_assert_true(watch_node_owner(c) == GINT_TO_POINTER(2));

        watch_tree_remove(t, b, NULL, NULL);
        g_assert_cmpuint(watch_tree_root_n_watched(r2), ==, 2);
        g_assert_cmpuint(watch_tree_n_watched(t), ==, 3);
}

static void test_remove(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func(g_free);
        WatchNode *root, *a, *b;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/r");
        a = watch_tree_add_child(t, root, "a");
        b = watch_tree_add_child(t, a, "b");
        (void) watch_tree_add_child(t, root, "keep");
        watch_tree_set_wd(t, a, 3);
        watch_tree_set_wd(t, b, 4);

        watch_tree_remove(t, a, count_removed, removed);
        /* Children before their parent. */
        g_assert_cmpuint(removed->len, ==, 2);
        g_assert_cmpstr(removed->pdata[0], ==, "/r/a/b");
        g_assert_cmpstr(removed->pdata[1], ==, "/r/a");
        g_assert_null(watch_tree_lookup_wd(t, 3));
        g_assert_null(watch_tree_lookup_wd(t, 4));
        g_assert_null(watch_node_child(root, "a"));
        g_assert_nonnull(watch_node_child(root, "keep"));
        g_assert_cmpuint(watch_tree_n_nodes(t), ==, 2);
        g_assert_cmpuint(watch_tree_n_watched(t), ==, 0);
}

/* The open-addressing indexes against a GHashTable model, through thousands of random adds, renames,
 * removals and wd changes: every lookup, iteration and count must agree after each step (removal
 * shifts entries back, which is where such tables go wrong). */
static void check_against_model(WatchTree *t, WatchNode *root, GHashTable *kids, GHashTable *wds) {
        GHashTableIter i;
        gpointer k, v;
        WatchChildIter ci;
        WatchNode *c;
        size_t n = 0;

        g_assert_cmpuint(watch_node_n_children(root), ==, g_hash_table_size(kids));
        g_hash_table_iter_init(&i, kids);
        while (g_hash_table_iter_next(&i, &k, &v)) {
                g_assert_true(watch_node_child(root, k) == v);
                g_assert_cmpstr(watch_node_name(((WatchNode *) v)), ==, k);
        }
        watch_child_iter_init(&ci, root);
        while ((c = watch_child_iter_next(&ci))) {
                g_assert_true(g_hash_table_lookup(kids, watch_node_name(c)) == c);
                n++;
        }
        g_assert_cmpuint(n, ==, g_hash_table_size(kids));

        /* wds: node -> wd; each wd's iteration yields exactly the nodes that have it. */
        g_hash_table_iter_init(&i, wds);
        while (g_hash_table_iter_next(&i, &k, &v)) {
                WatchWdIter wi;
                WatchNode *o;
                bool found = false;

                g_assert_cmpint(((WatchNode *) k)->wd, ==, GPOINTER_TO_INT(v));
                watch_wd_iter_init(&wi, t, GPOINTER_TO_INT(v));
                while ((o = watch_wd_iter_next(&wi))) {
                        g_assert_cmpint(o->wd, ==, GPOINTER_TO_INT(v));
                        g_assert_true(g_hash_table_contains(wds, o));
                        found |= o == k;
                }
                g_assert_true(found);
        }
        g_assert_cmpuint(watch_tree_n_watched(t), ==, g_hash_table_size(wds));
}

static void drop_from_model(WatchTree *t, WatchNode *n, void *userdata) {
        g_hash_table_remove(userdata, n);
}

static void test_indexes_random(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        g_autoptr(GHashTable) kids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GHashTable) wds = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_autoptr(GRand) rnd = g_rand_new_with_seed(42);
        WatchNode *root;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/r");
        for (int step = 0; step < 20000; step++) {
                /* Few names and few wds, so that collisions, shared wds and renames onto existing names
                 * happen all the time. */
                g_autofree char *name = g_strdup_printf("%s%u", g_rand_boolean(rnd) ? "d" : "a-much-longer-name-",
                                                        g_rand_int_range(rnd, 0, 300));
                WatchNode *c = g_hash_table_lookup(kids, name);

                switch (g_rand_int_range(rnd, 0, 4)) {
                case 0:
                        if (!c) {
                                c = watch_tree_add_child(t, root, name);
                                g_hash_table_insert(kids, g_strdup(name), c);
                        }
                        break;
                case 1:
                        if (c) {
                                g_hash_table_remove(kids, name);
                                watch_tree_remove(t, c, drop_from_model, wds);
                        }
                        break;
                case 2:
                        if (c) {
                                g_autofree char *to = g_strdup_printf("d%u", g_rand_int_range(rnd, 0, 300));
                                WatchNode *old = g_hash_table_lookup(kids, to);

                                if (old && old != c)
                                        g_hash_table_remove(wds, old);
                                g_hash_table_remove(kids, name);
                                watch_tree_move(t, c, root, to, NULL, NULL);
                                g_hash_table_insert(kids, g_strdup(to), c);
                        }
                        break;
                case 3:
                        if (c) {
                                int wd = g_rand_int_range(rnd, -1, 200);

                                watch_tree_set_wd(t, c, wd);
                                if (wd < 0)
                                        g_hash_table_remove(wds, c);
                                else
                                        g_hash_table_insert(wds, c, GINT_TO_POINTER(wd));
                        }
                        break;
                }
                if (step % 97 == 0)
                        check_against_model(t, root, kids, wds);
        }
        check_against_model(t, root, kids, wds);
        g_assert_cmpuint(watch_tree_n_nodes(t), ==, g_hash_table_size(kids) + 1);
}

static void test_files(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *root;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/f");
        g_assert_false(watch_node_has_file(root, "x"));
        g_assert_false(watch_node_remove_file(root, "x"));
        g_assert_true(watch_node_add_file(root, "x"));
        g_assert_false(watch_node_add_file(root, "x"));
        g_assert_true(watch_node_add_file(root, "bad\xff\xfe"));
        g_assert_true(watch_node_has_file(root, "bad\xff\xfe"));
        g_assert_true(watch_node_remove_file(root, "x"));
        g_assert_false(watch_node_has_file(root, "x"));
}

/* Small directories keep names packed, big ones switch to a hash: both must behave the same. */
static void test_many_files(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        WatchFileIter it;
        const char *name;
        WatchNode *root;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/many");
        for (unsigned i = 0; i < 500; i++) {
                g_autofree char *n = g_strdup_printf("file-%u%s", i, i % 7 == 0 ? "\xff" : "");

                g_assert_true(watch_node_add_file(root, n));
                g_assert_cmpuint(watch_node_n_files(root), ==, i + 1);
                g_assert_true(watch_node_has_file(root, n));
        }
        g_assert_false(watch_node_add_file(root, "file-3"));
        for (unsigned i = 0; i < 500; i += 2) {
                g_autofree char *n = g_strdup_printf("file-%u%s", i, i % 7 == 0 ? "\xff" : "");

                g_assert_true(watch_node_remove_file(root, n));
                g_assert_false(watch_node_has_file(root, n));
        }
        g_assert_cmpuint(watch_node_n_files(root), ==, 250);
        watch_file_iter_init(&it, root);
        while (watch_file_iter_next(&it, &name))
                g_assert_true(g_hash_table_add(seen, g_strdup(name)));
        g_assert_cmpuint(g_hash_table_size(seen), ==, 250);
        g_assert_true(g_hash_table_contains(seen, "file-1"));
        g_assert_false(g_hash_table_contains(seen, "file-2"));
}

/* Packed: removing the first, middle and last name keeps the others intact. */
static void test_packed_remove(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        WatchNode *root;
        WatchFileIter it;
        const char *name;
        unsigned n = 0;

        (void) watch_tree_new(&t);
        root = watch_tree_add_root(t, NULL, "/p");
        (void) watch_node_add_file(root, "a");
        (void) watch_node_add_file(root, "bb");
        (void) watch_node_add_file(root, "ccc");
        (void) watch_node_add_file(root, "dddd");
        g_assert_true(watch_node_remove_file(root, "a"));
        g_assert_true(watch_node_remove_file(root, "ccc"));
        g_assert_false(watch_node_remove_file(root, "c"));
        watch_file_iter_init(&it, root);
        while (watch_file_iter_next(&it, &name)) {
                g_assert_true(streq(name, "bb") || streq(name, "dddd"));
                n++;
        }
        g_assert_cmpuint(n, ==, 2);
        g_assert_true(watch_node_remove_file(root, "dddd"));
        g_assert_true(watch_node_remove_file(root, "bb"));
        g_assert_null(root->files);
        g_assert_cmpuint(watch_node_n_files(root), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/watch-tree/paths", test_paths);
        g_test_add_func("/watch-tree/wd-index", test_wd_index);
        g_test_add_func("/watch-tree/rename", test_rename);
        g_test_add_func("/watch-tree/rename-lengths", test_rename_lengths);
        g_test_add_func("/watch-tree/many-children", test_many_children);
        g_test_add_func("/watch-tree/root-counts", test_root_counts);
        g_test_add_func("/watch-tree/remove", test_remove);
        g_test_add_func("/watch-tree/indexes-random", test_indexes_random);
        g_test_add_func("/watch-tree/files", test_files);
        g_test_add_func("/watch-tree/many-files", test_many_files);
        g_test_add_func("/watch-tree/packed-remove", test_packed_remove);
        return g_test_run();
}
