/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inotaskd.conf(5) documents every key the parser accepts, in its group's section, with its default:
 * the list comes from the parser's own key tables, so a key added without a manual entry fails here. */
#include <glib.h>
#include <string.h>

#include "config.h"

static char **read_page_lines(void) {
        g_autofree char *path = g_build_filename(g_getenv("SRCDIR") ?: ".", "data/man/inotaskd.conf.5.scd", NULL);
        g_autofree char *text = NULL;
        g_autoptr(GError) error = NULL;

        if (!g_file_get_contents(path, &text, NULL, &error))
                g_error("cannot read %s: %s", path, error->message);
        return g_strsplit(text, "\n", -1);
}

/* The lines of the section "# [GROUP" up to the next heading, as [*ret_begin, *ret_end). */
static bool find_section(char **lines, const char *group, size_t *ret_begin, size_t *ret_end) {
        g_autofree char *heading = g_strdup_printf("# [%s", group);
        size_t n = g_strv_length(lines);

        for (size_t i = 0; i < n; i++) {
                const char *rest;

                if (!g_str_has_prefix(lines[i], heading))
                        continue;
                rest = lines[i] + strlen(heading);
                if (*rest != ']' && *rest != ' ')
                        continue;
                *ret_begin = i + 1;
                for (*ret_end = i + 1; *ret_end < n && !g_str_has_prefix(lines[*ret_end], "# "); (*ret_end)++)
                        ;
                return true;
        }
        return false;
}

/* An entry is a line "*Key=* ... (default: *VALUE*) ..." or "... default: <words>" in the section. */
static void test_group(gconstpointer data) {
        const char *group = data;
        g_auto(GStrv) lines = read_page_lines();
        const ConfKeyDef *keys = config_group_keys(group);
        g_autoptr(GString) missing = g_string_new(NULL);
        size_t begin, end;

        g_assert_nonnull(keys);
        if (!find_section(lines, group, &begin, &end))
                g_error("inotaskd.conf(5) has no section \"# [%s\"", group);

        for (const ConfKeyDef *k = keys; k->key; k++) {
                g_autofree char *entry = g_strdup_printf("*%s=*", k->key);
                g_autofree char *def = k->def && *k->def ? g_strdup_printf("default: *%s*", k->def) : NULL;
                const char *line = NULL;

                for (size_t i = begin; i < end && !line; i++)
                        if (g_str_has_prefix(lines[i], entry))
                                line = lines[i];
                if (!line)
                        g_string_append_printf(missing, " %s= (no entry line starting with %s)", k->key, entry);
                else if (!strstr(line, "default"))
                        g_string_append_printf(missing, " %s= (its entry line names no default)", k->key);
                else if (def && !strstr(line, def))
                        g_string_append_printf(missing, " %s= (the parser's default is \"%s\": want \"%s\")",
                                               k->key, k->def, def);
                else
                        g_test_message("[%s] %s= documented", group, k->key);
        }
        if (missing->len > 0) {
                g_test_message("inotaskd.conf(5), section [%s], misses:%s", group, missing->str);
                g_test_fail();
        }
}

int main(int argc, char *argv[]) {
        size_t n = 0;

        g_test_init(&argc, &argv, NULL);
        for (const char *g; (g = config_group_name(n)); n++) {
                g_autofree char *name = g_strdup_printf("/doc/config/%s", g);

                g_test_add_data_func(name, g, test_group);
        }
        g_assert_cmpuint(n, >=, 3);
        return g_test_run();
}
