/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mountinfo parser and the diff of two readings: escaped mount points, a remount is no change, a
 * mount below another changed one is covered by it. */
#include <errno.h>
#include <glib.h>

#include "mountinfo.h"

#define LINE_ROOT "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define LINE_TMP "30 22 0:25 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw\n"

static void test_parse(void) {
        g_autoptr(GHashTable) t = NULL;

        g_assert_cmpint(mountinfo_parse(LINE_ROOT LINE_TMP
                                        "41 30 0:40 /src /tmp/a\\040b\\134c rw - tmpfs tmpfs rw\n", &t), ==, 0);
        g_assert_cmpuint(g_hash_table_size(t), ==, 3);
        g_assert_true(g_hash_table_contains(t, "22 /"));
        g_assert_true(g_hash_table_contains(t, "30 /tmp"));
        g_assert_true(g_hash_table_contains(t, "41 /tmp/a b\\c"));
}

static void test_parse_bad(void) {
        GHashTable *t = NULL;

        g_assert_cmpint(mountinfo_parse("x 1 8:1 / / rw\n", &t), ==, -EBADMSG);
        g_assert_cmpint(mountinfo_parse("22 1 8:1 /\n", &t), ==, -EBADMSG);
        g_assert_cmpint(mountinfo_parse("22 1 8:1 / tmp rw\n", &t), ==, -EBADMSG);
        g_assert_null(t);
        g_assert_cmpint(mountinfo_parse("", &t), ==, 0);
        g_assert_cmpuint(g_hash_table_size(t), ==, 0);
        g_hash_table_unref(t);
}

static void test_diff(void) {
        g_autoptr(GHashTable) a = NULL, b = NULL;
        g_autoptr(GPtrArray) d = NULL, none = NULL;

        g_assert_cmpint(mountinfo_parse(LINE_ROOT LINE_TMP
                                        "50 30 0:41 / /tmp/gone rw - tmpfs tmpfs rw\n", &a), ==, 0);
        /* /tmp remounted (same ID, other options), /tmp/gone unmounted, /tmp/w/m and two below it and
         * /tmp/w/m b (a sibling that sorts between them) mounted. */
        g_assert_cmpint(mountinfo_parse(LINE_ROOT
                                        "30 22 0:25 / /tmp ro,nosuid shared:5 - tmpfs tmpfs ro\n"
                                        "60 30 0:42 / /tmp/w/m rw - tmpfs tmpfs rw\n"
                                        "61 60 0:43 / /tmp/w/m\\040b rw - tmpfs tmpfs rw\n"
                                        "62 60 0:44 / /tmp/w/m/x rw - tmpfs tmpfs rw\n"
                                        "63 62 0:45 / /tmp/w/m/x/y rw - tmpfs tmpfs rw\n", &b), ==, 0);
        d = mountinfo_diff(a, b);
        g_assert_cmpuint(d->len, ==, 3);
        g_assert_cmpstr(d->pdata[0], ==, "/tmp/gone");
        g_assert_cmpstr(d->pdata[1], ==, "/tmp/w/m");
        g_assert_cmpstr(d->pdata[2], ==, "/tmp/w/m b");
        none = mountinfo_diff(b, b);
        g_assert_cmpuint(none->len, ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/mountinfo/parse", test_parse);
        g_test_add_func("/mountinfo/parse-bad", test_parse_bad);
        g_test_add_func("/mountinfo/diff", test_diff);
        return g_test_run();
}
