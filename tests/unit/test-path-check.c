/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for path-check: the normal form RunRule insists on, and lying beneath a watch. */
#include "macro.h"

#include <glib.h>

#include "path-check.h"

static void test_normalized(void) {
        const char *good[] = { "/", "/w", "/w/f", "/srv/a b/c", "/w/.hidden", "/w/..x", "/w/x..", "/w/...", };
        const char *bad[] = {
                "", "w", "w/f", "./w", "//", "/w//f", "//w", "/w/", "/w/f/", "/.", "/..", "/w/.", "/w/..",
                "/w/./f", "/w/../outside/x", "/./w", "/../w",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!path_is_normalized(good[i]))
                        g_error("\"%s\" should be normalized", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (path_is_normalized(bad[i]))
                        g_error("\"%s\" should not be normalized", bad[i]);
        g_assert_false(path_is_normalized(NULL));
}

static void test_beneath(void) {
        g_assert_true(path_is_beneath("/w", "/w"));
        g_assert_true(path_is_beneath("/w/f", "/w"));
        g_assert_true(path_is_beneath("/w/a/b", "/w"));
        g_assert_true(path_is_beneath("/anything", "/"));
        g_assert_true(path_is_beneath("/", "/"));
        g_assert_false(path_is_beneath("/wx", "/w"));
        g_assert_false(path_is_beneath("/wx/f", "/w"));
        g_assert_false(path_is_beneath("/", "/w"));
        g_assert_false(path_is_beneath("/v/f", "/w"));
        g_assert_false(path_is_beneath("/srv/w", "/srv/w/sub"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/path-check/normalized", test_normalized);
        g_test_add_func("/path-check/beneath", test_beneath);
        return g_test_run();
}
