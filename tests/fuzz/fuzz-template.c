/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes Exec= compilation and expansion: whatever the value holds, expansion keeps the compiled argc. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Two named groups, one shadowing a fixed placeholder, so group lookup is reached too. */
        static const char *const group_names[] = { "year", "name", NULL };
        _cleanup_(exec_template_freep) ExecTemplate *t = NULL;
        g_autofree char *text = NULL, *value = NULL, *error = NULL;
        g_auto(GStrv) argv = NULL;
        const char *groups[2];
        TemplateValues v = {};
        size_t n;

        /* Exec= text up to the first NUL or newline, the value after it (up to its own NUL). */
        for (n = 0; n < size && data[n] != '\0' && data[n] != '\n'; n++)
                ;
        text = g_strndup((const char *) data, n);
        value = n < size ? g_strndup((const char *) data + n + 1, size - n - 1) : g_strdup("");

        (void) shell_script_check(text, NULL);

        if (exec_template_new(&t, text, group_names, &error) < 0) {
                if (!error)
                        abort();
                return 0;
        }
        if (error)
                abort();

        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++)
                v.fixed[p] = value;
        groups[0] = groups[1] = value;
        v.groups = groups;
        v.n_groups = ELEMENTSOF(groups);

        /* Without paths a list placeholder ({pathnames}, a whole word) gives no argument; with one path
         * (deleted, so {deleted_relpaths} has it too) every word gives exactly one. */
        argv = exec_template_expand(t, &v);
        if (!argv || exec_template_argc(t) == 0 || g_strv_length(argv) > exec_template_argc(t) ||
            (!exec_template_uses_list(t) && g_strv_length(argv) != exec_template_argc(t)))
                abort();
        if (exec_template_uses_list(t)) {
                const char *paths[1] = { value };
                const bool deleted[1] = { true };
                TemplatePaths p = { .n = 1, .paths = paths, .relpaths = paths, .deleted = deleted };
                g_auto(GStrv) one = exec_template_expand_paths(t, &v, &p, 0, 1);

                if (!one || g_strv_length(one) != exec_template_argc(t))
                        abort();
        }
        if (!streq(exec_template_text(t), text))
                abort();

        return 0;
}
