/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for config-parser: the generic key-file machinery under a table that is not inotaskd's. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "config-parser.h"

typedef struct Item {
        bool enabled;
        unsigned count;
        char **tags;
        usec_t every;
} Item;

static const ConfSection sections[] = {
        { "Main", false },
        { "Item", true },
        {},
};

static const ConfKeyDef item_keys[] = {
        { "Enabled", conf_parse_bool, offsetof(Item, enabled), 0, "yes", 0 },
        { "Count", conf_parse_unsigned, offsetof(Item, count), 0, "3", 0 },
        { "Tags", conf_parse_strv, offsetof(Item, tags), 0, NULL, 0 },
        { "Every", conf_parse_timespan, offsetof(Item, every), 0, "1min", 0 },
        {},
};

static char *flush_joined(ConfParser *p) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);

        conf_parser_flush_errors(p, errors);
        g_ptr_array_add(errors, NULL);
        return g_strjoinv("\n", (char **) errors->pdata);
}

static void test_table(void) {
        static const char text[] =
                "# a comment\n"
                "[Item a]\n"
                "Enabled=no   # inline comment\n"
                "Count=7\n"
                "Tags=one 'two words' \\\n"
                "     three\n"
                "Tags=\n"
                "Tags=x\\#y z\n"
                "Every=5s\n"
                "[Item b]\n"
                "Frob=1\n"
                "Count=-1\n"
                "[Main]\n"
                "[Main x]\n"
                "[Other]\n"
                "Ignored=1\n"
                "[Item]\n";
        ConfParser p;
        Item a = {}, b = {};
        g_autofree char *errors = NULL;

        conf_parser_init(&p, sections);
        conf_parser_add_text(&p, "t.conf", text, strlen(text));
        g_assert_cmpuint(p.groups->len, ==, 3);

        for (guint i = 0; i < p.groups->len; i++) {
                const ConfGroup *g = p.groups->pdata[i];
                Item *it = NULL;

                if (g->section == 1 && streq(g->name, "a"))
                        it = &a;
                else if (g->section == 1 && streq(g->name, "b"))
                        it = &b;
                else {
                        g_assert_cmpuint(g->section, ==, 0);
                        g_assert_null(g->name);
                        continue;
                }
                it->tags = g_new0(char *, 1);
                conf_keys_apply_defaults(&p, item_keys, it);
                conf_group_apply(&p, g, item_keys, it, g->name);
        }

        g_assert_false(a.enabled);
        g_assert_cmpuint(a.count, ==, 7);
        g_assert_cmpuint(g_strv_length(a.tags), ==, 2);
        g_assert_cmpstr(a.tags[0], ==, "x#y");
        g_assert_cmpstr(a.tags[1], ==, "z");
        g_assert_cmpuint(a.every, ==, 5 * USEC_PER_SEC);
        g_assert_true(b.enabled);
        g_assert_cmpuint(b.count, ==, 3);
        g_assert_cmpuint(b.every, ==, 60 * USEC_PER_SEC);

        g_assert_true(conf_parser_failed(&p));
        errors = flush_joined(&p);
        g_assert_cmpstr(errors, ==,
                        "t.conf:11: Frob: unknown key in [b]\n"
                        "t.conf:12: Count: invalid number \"-1\"\n"
                        "t.conf:14: unknown group [Main x]\n"
                        "t.conf:15: unknown group [Other]\n"
                        "t.conf:17: [Item] needs a name: [Item NAME]");
        g_assert_false(conf_parser_failed(&p));

        g_strfreev(a.tags);
        g_strfreev(b.tags);
        conf_parser_done(&p);
}

static void write_file(const char *dir, const char *name, const char *text) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void test_dropins(void) {
        g_autofree char *tmp = g_dir_make_tmp("test-config-parser.XXXXXX", NULL);
        g_autofree char *d1 = g_build_filename(tmp, "d1", NULL), *d2 = g_build_filename(tmp, "d2", NULL);
        g_autofree char *missing = g_build_filename(tmp, "missing.conf", NULL);
        g_autoptr(GPtrArray) paths = NULL, errors = g_ptr_array_new_with_free_func(g_free);
        const char *const dirs[] = { d1, d2, g_build_filename(tmp, "nope", NULL), NULL };
        g_autofree char *masked = g_build_filename(d2, "20-b.conf", NULL);
        ConfParser p;

        g_assert_cmpint(g_mkdir(d1, 0755), ==, 0);
        g_assert_cmpint(g_mkdir(d2, 0755), ==, 0);
        write_file(d1, "10-a.conf", "[Main]\n");
        write_file(d1, "20-b.conf", "[Main]\n");
        write_file(d1, "30-c.conf", "[Main]\n");
        write_file(d1, "ignored.txt", "x");
        write_file(d1, ".hidden.conf", "x");
        write_file(d2, "20-b.conf", "");                /* masks d1's */
        write_file(d2, "30-c.conf", "[Item c]\n");      /* replaces d1's */

        g_assert_cmpint(conf_collect_dropins(dirs, false, &paths, errors), ==, 0);
        g_assert_cmpuint(errors->len, ==, 0);
        g_assert_cmpuint(paths->len, ==, 2);
        g_assert_true(g_str_has_suffix(paths->pdata[0], "/d1/10-a.conf"));
        g_assert_true(g_str_has_suffix(paths->pdata[1], "/d2/30-c.conf"));

        /* A file that cannot be read is a negative errno with a message; missing_ok only for ENOENT. */
        conf_parser_init(&p, sections);
        g_assert_cmpint(conf_parser_add_file(&p, missing, true, false, errors), ==, 0);
        g_assert_cmpuint(errors->len, ==, 0);
        g_assert_cmpint(conf_parser_add_file(&p, missing, false, false, errors), ==, -ENOENT);
        g_assert_cmpint(conf_parser_add_file(&p, d1, false, false, errors), ==, -EISDIR);
        g_assert_cmpuint(errors->len, ==, 2);
        g_assert_true(g_str_has_suffix(errors->pdata[1], "/d1: cannot read file: Is a directory"));
        g_assert_cmpint(conf_parser_add_file(&p, paths->pdata[1], false, false, errors), ==, 0);
        g_assert_cmpuint(p.groups->len, ==, 1);
        g_assert_false(conf_parser_failed(&p));
        conf_parser_done(&p);

        g_assert_cmpint(unlink(masked), ==, 0);
        for (const char *const *d = dirs; *d; d++) {
                g_autoptr(GDir) dir = g_dir_open(*d, 0, NULL);
                const char *name;

                while (dir && (name = g_dir_read_name(dir))) {
                        g_autofree char *path = g_build_filename(*d, name, NULL);
                        g_assert_cmpint(unlink(path), ==, 0);
                }
                (void) rmdir(*d);
        }
        g_free((char *) dirs[2]);
        g_assert_cmpint(rmdir(tmp), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config-parser/table", test_table);
        g_test_add_func("/config-parser/dropins", test_dropins);
        return g_test_run();
}
