/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What of runner-transient.c needs no service manager: the unit name, which tasks a unit can take, the
 * load-time check of Property=, and the split of a batch into runs that a unit's StandardInputData= takes. */
#include <string.h>

#include "batch.h"
#include "config.h"
#include "runner-transient.h"
#include "scheduler.h"
#include "task-command.h"

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

/* StandardInput= of a batch in unit mode: each run's stdin stays within the limit, the runs together give
 * every path once, in order; without a limit (spawned: a pipe) one run. */
static void run_stdin_split(ActionType action, const char *exec) {
        ConfigRule rule = { .name = (char *) "r", .action = action, .standard_input = STDIN_PATHS_NUL };
        _cleanup_(task_batch_freep) TaskBatch *b = task_batch_new();
        Task t = { .rule = &rule, .watch_path = "/w", .path = (char *) "/w/file-000", .batch = b };
        g_autoptr(GString) whole = g_string_new(NULL), joined = g_string_new(NULL);
        g_autoptr(GPtrArray) argvs = NULL;
        g_autoptr(GArray) ends = NULL;
        char *argv[] = { (char *) "/bin/cat", NULL }, *envp[] = { (char *) "INOTASKD_NPATHS=100", NULL };
        TemplateValues v = {};
        size_t from = 0;

        if (exec)
                g_assert_cmpint(exec_template_new(&rule.exec_template, exec, NULL, NULL), ==, 0);
        for (int i = 0; i < 100; i++) {
                g_autofree char *p = g_strdup_printf("/w/file-%03d", i);       /* 12 bytes with its NUL */

                task_batch_add(b, p, 0, EVENT_KIND_CREATED, "created");
                g_string_append_len(whole, p, strlen(p) + 1);
        }

        g_assert_cmpint(task_command_runs(&t, &v, argv, envp, 0, 0, &argvs, &ends), ==, 0);
        g_assert_cmpuint(ends->len, ==, 1);
        g_assert_cmpuint(g_array_index(ends, size_t, 0), ==, 100);
        g_clear_pointer(&ends, g_array_unref);
        g_clear_pointer(&argvs, g_ptr_array_unref);

        g_assert_cmpint(task_command_runs(&t, &v, argv, envp, 0, 100, &argvs, &ends), ==, 0);
        g_assert_cmpuint(ends->len, ==, 13);            /* 8 paths (96 bytes) a run */
        g_assert_true((argvs != NULL) == (exec != NULL));
        for (guint k = 0; k < ends->len; k++) {
                size_t to = g_array_index(ends, size_t, k), len;
                g_autofree char *buf = NULL;

                g_assert_cmpint(task_stdin_data_range(&t, STDIN_PATHS_NUL, from, to, &buf, &len), ==, 0);
                g_assert_cmpuint(len, <=, 100);
                g_assert_cmpuint(to, >, from);
                g_string_append_len(joined, buf, len);
                if (argvs)      /* {pathnames}: the run's argv has its own paths, argv[0] resolved */
                        g_assert_cmpuint(g_strv_length(argvs->pdata[k]), ==, 1 + to - from);
                if (argvs)
                        g_assert_cmpstr(((char **) argvs->pdata[k])[0], ==, "/bin/cat");
                from = to;
        }
        g_assert_cmpuint(from, ==, 100);
        g_assert_cmpmem(joined->str, joined->len, whole->str, whole->len);
        g_clear_pointer(&ends, g_array_unref);
        g_clear_pointer(&argvs, g_ptr_array_unref);

        /* One path alone over the limit: refused, never cut. */
        g_assert_cmpint(task_command_runs(&t, &v, argv, envp, 0, 8, &argvs, &ends), ==, -E2BIG);
        exec_template_free(rule.exec_template);
}

static void test_runs_stdin_split(void) {
        run_stdin_split(ACTION_SHELL, NULL);
        run_stdin_split(ACTION_EXEC, "cat {pathnames}");
}

static void test_npaths(void) {
        g_auto(GStrv) envp = g_strsplit("A=1 INOTASKD_NPATHS=100 B=2", " ", -1);

        task_command_set_npaths(envp, 8);
        g_assert_cmpstr(envp[1], ==, "INOTASKD_NPATHS=8");
        g_assert_cmpstr(envp[2], ==, "B=2");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/runner-transient/unit-name", test_unit_name);
        g_test_add_func("/runner-transient/can-run", test_can_run);
        g_test_add_func("/runner-transient/check-config", test_check_config);
        g_test_add_func("/runner-transient/runs-stdin-split", test_runs_stdin_split);
        g_test_add_func("/runner-transient/npaths", test_npaths);
        return g_test_run();
}
