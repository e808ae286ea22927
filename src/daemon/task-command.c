/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A task's command line and environment, built the same way for a spawned child and a transient unit. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "escape.h"
#include "task-command.h"

char **task_command_argv(const Task *t, const TemplateValues *v) {
        GPtrArray *a;

        if (t->rule->action == ACTION_EXEC)
                return exec_template_expand(t->rule->exec_template, v);

        /* Action=shell: the script is fixed text; values come only as "$1".. and the environment. */
        a = g_ptr_array_new();
        g_ptr_array_add(a, g_strdup("/bin/sh"));
        g_ptr_array_add(a, g_strdup("-c"));
        g_ptr_array_add(a, g_strdup(t->rule->exec));
        g_ptr_array_add(a, g_strdup("inotaskd"));
        for (unsigned i = 1; i <= SHELL_N_POSITIONAL; i++)
                g_ptr_array_add(a, g_strdup(strempty(v->fixed[shell_positional_placeholder(i)])));
        g_ptr_array_add(a, NULL);
        return (char **) g_ptr_array_free(a, false);
}

void task_command_env_append(GPtrArray *env, const Task *t, const TemplateValues *v) {
        for (int p = 0; p < _PLACEHOLDER_MAX; p++)
                g_ptr_array_add(env, g_strconcat(placeholder_to_env(p), "=", strempty(v->fixed[p]), NULL));
        for (size_t i = 0; i < t->n_groups && t->rule->group_names[i]; i++) {
                g_autofree char *up = g_ascii_strup(t->rule->group_names[i], -1);

                g_ptr_array_add(env, g_strconcat("INOTASKD_MATCH_", up, "=", strempty(t->groups[i]), NULL));
        }
        /* A batch's counts (1 and 0 or 1 for a single task); a spawned run of a split batch changes
         * INOTASKD_NPATHS to its own share. */
        g_ptr_array_add(env, g_strdup_printf("INOTASKD_NPATHS=%zu", task_n_paths(t)));
        g_ptr_array_add(env, g_strdup_printf("INOTASKD_NDELETED=%zu", task_n_deleted(t)));
        for (char **e = t->rule->environment; e && *e; e++)
                g_ptr_array_add(env, g_strdup(*e));
}

char *task_command_find_program(const char *name, const char *path) {
        g_auto(GStrv) dirs = g_strsplit(path, ":", -1);

        for (char **d = dirs; *d; d++) {
                g_autofree char *p = NULL;

                if ((*d)[0] != '/')     /* an empty or relative entry would mean the daemon's cwd */
                        continue;
                p = g_build_filename(*d, name, NULL);
                if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test(p, G_FILE_TEST_IS_DIR))
                        return TAKE_PTR(p);
        }
        return NULL;
}

char *task_command_display(char **argv) {
        GString *s = g_string_new(NULL);

        for (char **a = argv; *a; a++) {
                g_autofree char *e = escape_display(*a, strlen(*a));

                if (a != argv)
                        g_string_append_c(s, ' ');
                if (*e && !strpbrk(e, " \t'\"\\$;&|<>()`*?[]{}~#!"))
                        g_string_append(s, e);
                else {
                        g_autofree char *q = g_shell_quote(e);

                        g_string_append(s, q);
                }
        }
        return g_string_free(s, false);
}

/* ------------------------------------------------------------------ batches: runs */

/* The task's paths for the list placeholders; the arrays are the caller's, the strings the task's. */
static void task_template_paths(const Task *t, TemplatePaths *p) {
        size_t n = task_n_paths(t);
        const char **paths = g_new(const char *, n + 1), **rel = g_new(const char *, n + 1);
        bool *del = g_new(bool, n + 1);

        for (size_t i = 0; i < n; i++) {
                BatchEntry e;

                task_path_entry(t, i, &e);
                paths[i] = e.path;
                rel[i] = e.path + relpath_offset(e.path, t->watch_path);
                del[i] = batch_entry_is_deletion(&e);
        }
        *p = (TemplatePaths) { .n = n, .paths = paths, .relpaths = rel, .deleted = del };
}

static void template_paths_done(TemplatePaths *p) {
        g_free((gpointer) p->paths);
        g_free((gpointer) p->relpaths);
        g_free((gpointer) p->deleted);
}

/* Per string: MAX_ARG_STRLEN of the kernel (32 pages). Room kept for the file name and the auxiliary
 * vector the kernel copies with the strings. */
#define ARG_STRLEN_MAX (32U * 4096U)
#define ARG_SLACK 4096U

static size_t env_size(char **envp) {
        size_t n = sizeof(char *);

        for (char **e = envp; *e; e++)
                n += strlen(*e) + 1 + sizeof(char *);
        return n;
}

static void argv_free(gpointer p) {
        g_strfreev(p);
}

/* Splits each run of ends further so that no run's stdin (StandardInput=) exceeds max bytes. -E2BIG when
 * one path's share alone does. */
static int split_stdin(const Task *t, size_t max, GArray *ends) {
        g_autoptr(GArray) out = g_array_new(false, false, sizeof(size_t));
        size_t from = 0;

        for (guint k = 0; k < ends->len; k++) {
                size_t to = g_array_index(ends, size_t, k), size = 0;

                for (size_t i = from; i < to; i++) {
                        _cleanup_free_ char *buf = NULL;
                        size_t len = 0;
                        int r;

                        r = task_stdin_data_range(t, t->rule->standard_input, i, i + 1, &buf, &len);
                        if (r < 0)
                                return r;
                        if (len > max)
                                return -E2BIG;
                        if (size + len > max) {
                                g_array_append_val(out, i);
                                size = 0;
                        }
                        size += len;
                }
                g_array_append_val(out, to);
                from = to;
        }
        g_array_set_size(ends, 0);
        g_array_append_vals(ends, out->data, out->len);
        return 0;
}

int task_command_runs(const Task *t, const TemplateValues *v, char **argv, char **envp, size_t env_extra,
                      size_t stdin_max, GPtrArray **ret_argvs, GArray **ret_ends) {
        g_autoptr(GArray) ends = g_array_new(false, false, sizeof(size_t));
        g_autoptr(GPtrArray) argvs = NULL;
        bool list = t->rule->action == ACTION_EXEC && exec_template_uses_list(t->rule->exec_template);
        TemplatePaths p;
        long arg_max = sysconf(_SC_ARG_MAX);
        size_t from = 0, n = task_n_paths(t);
        int r = 0;

        if (arg_max <= 0)
                arg_max = 128 * 1024;
        task_template_paths(t, &p);
        if (list)
                r = exec_template_split(t->rule->exec_template, v, &p, (size_t) arg_max,
                                        env_size(envp) + env_extra + strlen(argv[0]) + 1 + ARG_SLACK,
                                        ARG_STRLEN_MAX, ends);
        else
                g_array_append_val(ends, n);
        if (r >= 0 && stdin_max > 0 && t->rule->standard_input != STDIN_NULL)
                r = split_stdin(t, stdin_max, ends);
        if (r >= 0 && list) {
                /* Each run's argv for its own paths: a part of a run that fits fits too. */
                argvs = g_ptr_array_new_with_free_func(argv_free);
                for (guint k = 0; k < ends->len; k++) {
                        size_t to = g_array_index(ends, size_t, k);
                        char **a = exec_template_expand_paths(t->rule->exec_template, v, &p, from, to);

                        g_free(a[0]);
                        a[0] = g_strdup(argv[0]);
                        g_ptr_array_add(argvs, a);
                        from = to;
                }
        }
        template_paths_done(&p);
        if (r < 0)
                return r;
        *ret_argvs = TAKE_PTR(argvs);
        *ret_ends = TAKE_PTR(ends);
        return 0;
}

void task_command_set_npaths(char **envp, size_t n) {
        for (char **e = envp; *e; e++)
                if (g_str_has_prefix(*e, "INOTASKD_NPATHS=")) {
                        g_free(*e);
                        *e = g_strdup_printf("INOTASKD_NPATHS=%zu", n);
                        return;
                }
}
