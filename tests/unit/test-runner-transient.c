/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What of runner-transient.c needs no service manager: the unit name, which tasks a unit can take, and the
 * load-time check of Property=. */
#include <string.h>

#include "config.h"
#include "runner-transient.h"

static void test_unit_name(void) {
        g_autofree char *a = transient_unit_name(1), *b = transient_unit_name(UINT64_MAX);

        g_assert_cmpstr(a, ==, "inotaskd-task-1.service");
        g_assert_cmpstr(b, ==, "inotaskd-task-18446744073709551615.service");
}

static void test_can_run(void) {
        char *groups[] = { (char *) "ok", NULL };
        Task t = { .path = (char *) "/srv/w/a b\tc\nd é", .groups = groups, .n_groups = 1 };

        g_assert_true(transient_runner_can_run(&t));
        t.path = (char *) "/srv/w/\xff";       /* not UTF-8: D-Bus cannot carry it */
        g_assert_false(transient_runner_can_run(&t));
        t.path = (char *) "/srv/w/\x01";       /* systemd refuses it in an environment value */
        g_assert_false(transient_runner_can_run(&t));
        t.path = (char *) "/srv/w/x";
        t.src_path = (char *) "/srv/w/\x7f";
        g_assert_false(transient_runner_can_run(&t));
        t.src_path = NULL;
        groups[0] = (char *) "\xc3";
        g_assert_false(transient_runner_can_run(&t));
        groups[0] = (char *) "ok";
        t.item = (char *) "\x1b[31m";
        g_assert_false(transient_runner_can_run(&t));
}

static void test_check_config(void) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        Config *c = NULL;

        g_assert_cmpint(config_load_string("test.conf",
                                           "[Watch w]\nPath=/srv\n"
                                           "[Rule good]\nOn=created\nExec=/bin/true\nProperty=MemoryMax=64M\n"
                                           "Property=CPUQuota=20%\n"
                                           "[Rule bad]\nOn=created\nExec=/bin/true\nProperty=MemoryMax=lots\n"
                                           "Property=ExecStart=/bin/false\n", &c, errors), ==, 0);
        g_assert_cmpint(task_units_check_config(c, errors), ==, CONFIG_E_INVALID);
        g_assert_cmpuint(errors->len, ==, 2);
        for (guint i = 0; i < errors->len; i++)
                g_test_message("%s", (const char *) errors->pdata[i]);
        /* Each at its own line, not at the [Rule bad] header (line 8). */
        g_assert_true(g_str_has_prefix(errors->pdata[0], "test.conf:11: [Rule bad] Property=MemoryMax"));
        g_assert_true(g_str_has_prefix(errors->pdata[1], "test.conf:12: [Rule bad] Property=ExecStart"));
        g_assert_nonnull(strstr(errors->pdata[1], "Exec="));
        config_free(c);

        g_ptr_array_set_size(errors, 0);
        g_assert_cmpint(config_load_string("test.conf", "[Watch w]\nPath=/srv\n[Rule r]\nOn=created\nExec=/bin/true\n",
                                           &c, errors), ==, 0);
        g_assert_cmpint(task_units_check_config(c, errors), ==, 0);
        g_assert_cmpuint(errors->len, ==, 0);
        config_free(c);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/runner-transient/unit-name", test_unit_name);
        g_test_add_func("/runner-transient/can-run", test_can_run);
        g_test_add_func("/runner-transient/check-config", test_check_config);
        return g_test_run();
}
