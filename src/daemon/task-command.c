/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A task's command line and environment, built the same way for a spawned child and a transient unit. */
#include <string.h>

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
