/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exec= template compilation, expansion into argv and the Action=shell script check. */
#include <errno.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "template.h"


static ExecTemplate *compile_ok(const char *text, const char *const *groups) {
        g_autofree char *error = NULL;
        ExecTemplate *t = NULL;

        g_assert_cmpint(exec_template_new(&t, text, groups, &error), ==, 0);
        g_assert_null(error);
        g_assert_nonnull(t);
        g_assert_cmpstr(exec_template_text(t), ==, text);
        return t;
}

/* Compiles text, expands it with values and compares with the expected NULL-terminated argv. */
static void check_expand(const char *text, const char *const *groups, const TemplateValues *v,
                         const char *const *expected) {
        _cleanup_(exec_template_freep) ExecTemplate *t = compile_ok(text, groups);
        g_auto(GStrv) argv = exec_template_expand(t, v);

        g_assert_nonnull(argv);
        g_assert_cmpuint(g_strv_length(argv), ==, exec_template_argc(t));
        g_assert_cmpstrv(argv, expected);
}

static void check_error(const char *text, const char *const *groups, const char *message) {
        g_autofree char *error = NULL;
        ExecTemplate *t = NULL;

        g_assert_cmpint(exec_template_new(&t, text, groups, &error), ==, -EINVAL);
        g_assert_null(t);
        g_assert_nonnull(error);
        if (message)
                g_assert_cmpstr(error, ==, message);
        /* Without a place for the message it fails the same way. */
        g_assert_cmpint(exec_template_new(&t, text, groups, NULL), ==, -EINVAL);
        g_assert_null(t);
}

static void test_placeholder_names(void) {
        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++) {
                const char *s = placeholder_to_string(p);
                g_autofree char *env = NULL;

                g_assert_nonnull(s);
                g_assert_cmpint(placeholder_from_string(s), ==, (int) p);
                env = g_strconcat("INOTASKD_", s, NULL);
                for (char *c = env; *c; c++)
                        *c = g_ascii_toupper(*c);
                g_assert_cmpstr(placeholder_to_env(p), ==, env);
        }
        g_assert_cmpstr(placeholder_to_string(PLACEHOLDER_SRC_PATHNAME), ==, "src_pathname");
        g_assert_cmpstr(placeholder_to_env(PLACEHOLDER_WATCH_PATH), ==, "INOTASKD_WATCH_PATH");
        g_assert_null(placeholder_to_string(_PLACEHOLDER_MAX));
        g_assert_null(placeholder_to_env(_PLACEHOLDER_MAX));
        g_assert_cmpint(placeholder_from_string("PATHNAME"), ==, -EINVAL);
        g_assert_cmpint(placeholder_from_string("{pathname}"), ==, -EINVAL);
        g_assert_cmpint(placeholder_from_string(""), ==, -EINVAL);
        g_assert_cmpint(placeholder_from_string(NULL), ==, -EINVAL);
}

static void test_quoting(void) {
        TemplateValues v = { .fixed[PLACEHOLDER_PATHNAME] = "/srv/up/x.csv" };

        check_expand("/bin/echo a b", NULL, &v, (const char *[]) { "/bin/echo", "a", "b", NULL });
        check_expand("  /bin/echo   'a b'  \"c d\" e\\ f  ", NULL, &v,
                     (const char *[]) { "/bin/echo", "a b", "c d", "e f", NULL });
        check_expand("/bin/echo 'it''s' \"say \\\"hi\\\"\" '$HOME' `x`", NULL, &v,
                     (const char *[]) { "/bin/echo", "its", "say \"hi\"", "$HOME", "`x`", NULL });
        /* Placeholders are found after splitting, so quoting around one changes nothing. */
        check_expand("/bin/echo {pathname}", NULL, &v,
                     (const char *[]) { "/bin/echo", "/srv/up/x.csv", NULL });
        check_expand("/bin/echo \"{pathname}\"", NULL, &v,
                     (const char *[]) { "/bin/echo", "/srv/up/x.csv", NULL });
        check_expand("/bin/echo '{pathname}'", NULL, &v,
                     (const char *[]) { "/bin/echo", "/srv/up/x.csv", NULL });
        check_expand("/bin/echo --file={pathname}", NULL, &v,
                     (const char *[]) { "/bin/echo", "--file=/srv/up/x.csv", NULL });
        check_expand("/bin/echo \"file is {pathname} ok\"", NULL, &v,
                     (const char *[]) { "/bin/echo", "file is /srv/up/x.csv ok", NULL });
        /* An explicitly empty argument is kept. */
        check_expand("/bin/echo '' x", NULL, &v, (const char *[]) { "/bin/echo", "", "x", NULL });
}

static void test_hostile_values(void) {
        static const char *const hostile[] = {
                "a b;$(touch pwned)'\"\n.txt",
                "\xff\xfe",
                "; rm -rf ~",
                "`id` && echo $HOME > /tmp/x | cat <y",
                "  leading and trailing  ",
                "{pathname}",
                "'",
                "\"",
                "\\",
                "\t\n\r",
                "-n",
        };

        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                _cleanup_(exec_template_freep) ExecTemplate *t =
                        compile_ok("/usr/bin/import --file {pathname} {name}.bak -- \"{item}\"", NULL);
                TemplateValues v = {};
                g_auto(GStrv) argv = NULL;
                g_autofree char *bak = g_strconcat(hostile[i], ".bak", NULL);

                for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++)
                        v.fixed[p] = hostile[i];

                argv = exec_template_expand(t, &v);
                g_assert_cmpuint(exec_template_argc(t), ==, 6);
                g_assert_cmpuint(g_strv_length(argv), ==, 6);
                g_assert_cmpstr(argv[0], ==, "/usr/bin/import");
                g_assert_cmpstr(argv[1], ==, "--file");
                g_assert_cmpmem(argv[2], strlen(argv[2]), hostile[i], strlen(hostile[i]));
                g_assert_cmpstr(argv[3], ==, bak);
                g_assert_cmpstr(argv[4], ==, "--");
                g_assert_cmpstr(argv[5], ==, hostile[i]);
        }
}

static void test_non_utf8(void) {
        TemplateValues v = { .fixed[PLACEHOLDER_PATHNAME] = "\xff\xfe", .fixed[PLACEHOLDER_NAME] = "\xc3" };
        _cleanup_(exec_template_freep) ExecTemplate *t = compile_ok("/bin/echo {pathname} x{name}y", NULL);
        g_auto(GStrv) argv = exec_template_expand(t, &v);

        g_assert_cmpuint(g_strv_length(argv), ==, 3);
        g_assert_cmpmem(argv[1], strlen(argv[1]), "\xff\xfe", 2);
        g_assert_cmpmem(argv[2], strlen(argv[2]), "x\xc3y", 3);
}

static void test_multiple_in_word(void) {
        TemplateValues v = {
                .fixed = {
                        [PLACEHOLDER_DIR] = "/srv/up",
                        [PLACEHOLDER_NAME] = "x.csv",
                        [PLACEHOLDER_EVENT] = "created",
                        [PLACEHOLDER_TASK_ID] = "42",
                },
        };

        check_expand("/bin/mv {dir}/{name} /srv/done/{task_id}-{event}-{name}", NULL, &v,
                     (const char *[]) { "/bin/mv", "/srv/up/x.csv", "/srv/done/42-created-x.csv", NULL });
        check_expand("/bin/echo {name}{name}{name}", NULL, &v,
                     (const char *[]) { "/bin/echo", "x.csvx.csvx.csv", NULL });
        check_expand("{dir}/{name} {task_id}", NULL, &v, (const char *[]) { "/srv/up/x.csv", "42", NULL });
}

static void test_every_fixed_placeholder(void) {
        TemplateValues v = {};
        g_autoptr(GString) text = g_string_new("/bin/echo");
        g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func(g_free);
        _cleanup_(exec_template_freep) ExecTemplate *t = NULL;
        g_auto(GStrv) argv = NULL;

        g_ptr_array_add(expected, g_strdup("/bin/echo"));
        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++) {
                g_string_append_printf(text, " {%s}", placeholder_to_string(p));
                v.fixed[p] = placeholder_to_env(p);
                g_ptr_array_add(expected, g_strdup(placeholder_to_env(p)));
        }
        g_ptr_array_add(expected, NULL);

        t = compile_ok(text->str, NULL);
        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++)
                g_assert_true(exec_template_uses(t, p));
        argv = exec_template_expand(t, &v);
        g_assert_cmpstrv(argv, (const char *const *) expected->pdata);
}

static void test_empty_values(void) {
        TemplateValues v = { .fixed[PLACEHOLDER_PATHNAME] = "" };

        /* A placeholder that expands to nothing leaves an empty argument: argc never changes. */
        check_expand("/bin/echo {pathname} {src_pathname} x{item}y", NULL, &v,
                     (const char *[]) { "/bin/echo", "", "", "xy", NULL });
        /* No values at all: everything is "". */
        check_expand("/bin/echo {relpath} [{item}]", NULL, NULL,
                     (const char *[]) { "/bin/echo", "", "[]", NULL });
}

static void test_literal_braces(void) {
        TemplateValues v = { .fixed[PLACEHOLDER_NAME] = "n" };

        check_expand("/bin/echo {{ }} {{name}} {{{name}}} }", NULL, &v,
                     (const char *[]) { "/bin/echo", "{", "}", "{name}", "{n}", "}", NULL });
        check_expand("/usr/bin/jq '{{\"a\": 1}}' a}b }}} x}", NULL, &v,
                     (const char *[]) { "/usr/bin/jq", "{\"a\": 1}", "a}b", "}}", "x}", NULL });
        check_expand("/usr/bin/find . -exec true {{}} ;", NULL, &v,
                     (const char *[]) { "/usr/bin/find", ".", "-exec", "true", "{}", ";", NULL });
}

static void test_groups(void) {
        static const char *const groups[] = { "year", "base", "name", NULL };
        static const char *const values[] = { "2024", "report", "grp" };
        TemplateValues v = {
                .fixed[PLACEHOLDER_NAME] = "fixed",
                .fixed[PLACEHOLDER_PATHNAME] = "/p",
                .groups = values,
                .n_groups = ELEMENTSOF(values),
        };

        check_expand("/bin/cp {pathname} /archive/{year}/{base}.csv", groups, &v,
                     (const char *[]) { "/bin/cp", "/p", "/archive/2024/report.csv", NULL });
        /* A group named like a fixed placeholder shadows it. */
        check_expand("/bin/echo {name}", groups, &v, (const char *[]) { "/bin/echo", "grp", NULL });

        /* Missing group values count as "". */
        v.n_groups = 1;
        check_expand("/bin/echo {year}-{base}", groups, &v,
                     (const char *[]) { "/bin/echo", "2024-", NULL });
        v.groups = NULL;
        v.n_groups = 0;
        check_expand("/bin/echo {year}-{base}", groups, &v, (const char *[]) { "/bin/echo", "-", NULL });

        {
                static const char *const with_null[] = { NULL, "b" };
                TemplateValues w = { .groups = with_null, .n_groups = 2 };
                check_expand("/bin/echo {year}{base}", groups, &w,
                             (const char *[]) { "/bin/echo", "b", NULL });
        }

        /* Without the groups the name is unknown. */
        check_error("/bin/echo {year}", NULL, "unknown placeholder {year}");
        check_error("/bin/echo {year}", (const char *const[]) { NULL }, "unknown placeholder {year}");
}

static void test_uses(void) {
        static const char *const groups[] = { "name", NULL };
        _cleanup_(exec_template_freep) ExecTemplate *a =
                compile_ok("/bin/echo {pathname} {{maskname}}", NULL);
        _cleanup_(exec_template_freep) ExecTemplate *b = compile_ok("/bin/true", NULL);
        _cleanup_(exec_template_freep) ExecTemplate *c = compile_ok("/bin/echo x{item}y{task_id}", NULL);
        _cleanup_(exec_template_freep) ExecTemplate *d = compile_ok("/bin/echo {name}", groups);

        g_assert_true(exec_template_uses(a, PLACEHOLDER_PATHNAME));
        g_assert_false(exec_template_uses(a, PLACEHOLDER_MASKNAME));
        for (Placeholder p = 0; p < _PLACEHOLDER_MAX; p++) {
                g_assert_false(exec_template_uses(b, p));
                g_assert_cmpint(exec_template_uses(c, p), ==,
                                p == PLACEHOLDER_ITEM || p == PLACEHOLDER_TASK_ID);
                g_assert_false(exec_template_uses(d, p));
        }
        g_assert_false(exec_template_uses(a, _PLACEHOLDER_MAX));
        g_assert_cmpuint(exec_template_argc(a), ==, 3);
        g_assert_cmpuint(exec_template_argc(b), ==, 1);
}

static void test_errors(void) {
        check_error("", NULL, "empty command");
        check_error("   \t  ", NULL, "empty command");
        check_error("# only a comment", NULL, "empty command");
        check_error("/bin/echo 'unterminated", NULL, NULL);
        check_error("/bin/echo \"unterminated", NULL, NULL);
        check_error("/bin/echo trailing\\", NULL, NULL);

        check_error("/bin/echo {pathnme}", NULL, "unknown placeholder {pathnme}");
        check_error("/bin/echo {}", NULL, "unknown placeholder {}");
        check_error("/bin/echo {PATHNAME}", NULL, "unknown placeholder {PATHNAME}");
        check_error("/bin/echo '{ pathname }'", NULL, "unknown placeholder { pathname }");
        check_error("/bin/echo {a{pathname}", NULL, "unknown placeholder {a{pathname}");
        check_error("/bin/echo {{{x}", NULL, "unknown placeholder {x}");
        check_error("/bin/echo {pathname} '{\"a\": 1}'", NULL, "unknown placeholder {\"a\": 1}");
        check_error("/bin/echo {pathname", NULL, "unclosed placeholder {pathname");
        check_error("/bin/echo x{", NULL, "unclosed placeholder {");
        check_error("/bin/echo {{{", NULL, "unclosed placeholder {");
        /* The closing brace must be in the same argument. */
        check_error("/bin/echo {path name}", NULL, "unclosed placeholder {path");
        check_error("/bin/echo ok {pathname} later{bad", NULL, "unclosed placeholder {bad");
}

static void test_error_parse_message(void) {
        g_autofree char *error = NULL;
        ExecTemplate *t = NULL;

        g_assert_cmpint(exec_template_new(&t, "/bin/echo 'x", NULL, &error), ==, -EINVAL);
        g_assert_true(g_str_has_prefix(error, "cannot split command line: "));
        g_assert_null(t);
}

static void test_validate_only(void) {
        g_assert_cmpint(exec_template_new(NULL, "/bin/echo {pathname}", NULL, NULL), ==, 0);
        g_assert_cmpint(exec_template_new(NULL, "/bin/echo {bad}", NULL, NULL), ==, -EINVAL);
        g_assert_null(exec_template_free(NULL));
}

static void test_shell_positional(void) {
        static const Placeholder expected[] = {
                PLACEHOLDER_PATHNAME, PLACEHOLDER_MASKNAME, PLACEHOLDER_SRC_PATHNAME,
                PLACEHOLDER_RELPATH, PLACEHOLDER_WATCH_PATH, PLACEHOLDER_ITEM,
        };

        G_STATIC_ASSERT(ELEMENTSOF(expected) == SHELL_N_POSITIONAL);
        g_assert_cmpint(shell_positional_placeholder(0), ==, -1);
        for (unsigned i = 1; i <= SHELL_N_POSITIONAL; i++)
                g_assert_cmpint(shell_positional_placeholder(i), ==, (int) expected[i - 1]);
        g_assert_cmpint(shell_positional_placeholder(SHELL_N_POSITIONAL + 1), ==, -1);
        g_assert_cmpint(shell_positional_placeholder(G_MAXUINT), ==, -1);
}

static void check_script_ok(const char *script) {
        g_autofree char *error = NULL;

        g_assert_cmpint(shell_script_check(script, &error), ==, 0);
        g_assert_null(error);
        g_assert_cmpint(shell_script_check(script, NULL), ==, 0);
}

static void check_script_rejected(const char *script, const char *message) {
        g_autofree char *error = NULL;

        g_assert_cmpint(shell_script_check(script, &error), ==, -EINVAL);
        g_assert_cmpstr(error, ==, message);
        g_assert_cmpint(shell_script_check(script, NULL), ==, -EINVAL);
}

static void test_shell_script_check(void) {
        check_script_ok("");
        check_script_ok("echo \"$1\"; cp -- \"$INOTASKD_PATHNAME\" /backup/");
        check_script_ok("pathname=$1; echo \"${pathname}\" ${pathname%.csv} ${maskname:-none}");
        check_script_ok("{ echo a; echo b; } > /tmp/log");
        check_script_ok("f() { cat \"$1\"; }; f \"$INOTASKD_PATHNAME\"");
        check_script_ok("echo {a,b}.txt {pathnme} {year} {PATHNAME}");
        check_script_ok("awk '{print $1}' \"$1\"");
        check_script_ok("echo {pathname");

        check_script_rejected("cp {pathname} /backup/",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_PATHNAME\" or \"$1\"");
        check_script_rejected("echo \"{maskname}\"",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_MASKNAME\" or \"$2\"");
        check_script_rejected("mv {src_pathname} x",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_SRC_PATHNAME\" or \"$3\"");
        check_script_rejected("echo x/{relpath}",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_RELPATH\" or \"$4\"");
        check_script_rejected("cd '{watch_path}'",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_WATCH_PATH\" or \"$5\"");
        check_script_rejected("ssh {item} true",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_ITEM\" or \"$6\"");
        check_script_rejected("logger task {task_id}",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_TASK_ID\"");
        /* The first offender is named; ${...} before it does not hide it. */
        check_script_rejected("echo ${pathname}\n{ echo; }\necho {event} {pathname}",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_EVENT\"");
        check_script_rejected("{dir}",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_DIR\"");
        check_script_rejected("echo {{name}}",
                              "placeholders are not expanded in Action=shell scripts, "
                              "use \"$INOTASKD_NAME\"");
}

#define LIST_STRV(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* The list placeholders: one argument per path, deletions apart; split at the limits, never truncated. */
static void test_lists(void) {
        _cleanup_(exec_template_freep) ExecTemplate *t = compile_ok("/bin/x -a {pathnames} -- {deleted_relpaths}",
                                                                    NULL);
        const char *paths[] = { "/w/a", "/w/b c", "/w/d\ne", "/w/gone" };
        const char *rel[] = { "a", "b c", "d\ne", "gone" };
        const bool del[] = { false, false, false, true };
        TemplatePaths p = { .n = 4, .paths = paths, .relpaths = rel, .deleted = del };
        g_autoptr(GArray) ends = g_array_new(false, false, sizeof(size_t));
        g_auto(GStrv) all = NULL, none = NULL;
        size_t fixed, per, from = 0, n = 0;

        g_assert_true(exec_template_uses_list(t));
        all = exec_template_expand_paths(t, NULL, &p, 0, 4);
        g_assert_cmpstrv(all, LIST_STRV("/bin/x", "-a", "/w/a", "/w/b c", "/w/d\ne", "/w/gone", "--", "gone"));
        /* Without paths a list is empty: the other arguments stay. */
        none = exec_template_expand(t, NULL);
        g_assert_cmpstrv(none, LIST_STRV("/bin/x", "-a", "--"));

        /* Room for everything: one run. */
        g_assert_cmpint(exec_template_split(t, NULL, &p, 1 << 20, 0, 4096, ends), ==, 0);
        g_assert_cmpuint(ends->len, ==, 1);
        g_assert_cmpuint(g_array_index(ends, size_t, 0), ==, 4);

        /* Room for the fixed part and two paths of 5 bytes each: the runs hold two, then the rest. */
        fixed = sizeof(char *) + 3 * (sizeof(char *)) + strlen("/bin/x") + 1 + strlen("-a") + 1 + strlen("--") + 1;
        per = strlen("/w/b c") + 1 + sizeof(char *);
        g_array_set_size(ends, 0);
        g_assert_cmpint(exec_template_split(t, NULL, &p, fixed + 2 * per, 0, 4096, ends), ==, 0);
        g_assert_cmpuint(ends->len, >=, 2);
        for (guint k = 0; k < ends->len; k++) {
                size_t to = g_array_index(ends, size_t, k);
                g_auto(GStrv) a = exec_template_expand_paths(t, NULL, &p, from, to);

                g_assert_cmpuint(to, >, from);
                n += to - from;
                from = to;
                g_assert_cmpstr(a[0], ==, "/bin/x");
        }
        g_assert_cmpuint(n, ==, 4);
        g_assert_cmpuint(from, ==, 4);

        /* A path that fits no run, or a string beyond the per-string limit: an error, not a cut. */
        g_array_set_size(ends, 0);
        g_assert_cmpint(exec_template_split(t, NULL, &p, fixed + 4, 0, 4096, ends), ==, -E2BIG);
        g_array_set_size(ends, 0);
        g_assert_cmpint(exec_template_split(t, NULL, &p, 1 << 20, 0, 4, ends), ==, -E2BIG);
        g_array_set_size(ends, 0);
        g_assert_cmpint(exec_template_split(t, NULL, &p, 1 << 20, 1 << 20, 4096, ends), ==, -E2BIG);

        check_error("/bin/x a{pathnames}", NULL, "{pathnames} must be a whole argument");
        check_error("/bin/x {relpaths}b", NULL, "{relpaths} must be a whole argument");
        check_error("{pathnames}", NULL, "{pathnames} cannot be the command");
        g_assert_cmpstr(template_list_to_string(TEMPLATE_LIST_DELETED_RELPATHS), ==, "deleted_relpaths");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/template/placeholder-names", test_placeholder_names);
        g_test_add_func("/template/quoting", test_quoting);
        g_test_add_func("/template/hostile-values", test_hostile_values);
        g_test_add_func("/template/non-utf8", test_non_utf8);
        g_test_add_func("/template/multiple-in-word", test_multiple_in_word);
        g_test_add_func("/template/every-fixed-placeholder", test_every_fixed_placeholder);
        g_test_add_func("/template/empty-values", test_empty_values);
        g_test_add_func("/template/literal-braces", test_literal_braces);
        g_test_add_func("/template/groups", test_groups);
        g_test_add_func("/template/uses", test_uses);
        g_test_add_func("/template/errors", test_errors);
        g_test_add_func("/template/error-parse-message", test_error_parse_message);
        g_test_add_func("/template/validate-only", test_validate_only);
        g_test_add_func("/template/shell-positional", test_shell_positional);
        g_test_add_func("/template/shell-script-check", test_shell_script_check);
        g_test_add_func("/template/lists", test_lists);

        return g_test_run();
}
