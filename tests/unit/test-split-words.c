/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for split-words: the list syntax of the configuration and, with SPLIT_SHELL, exactly what
 * g_shell_parse_argv() accepted for Exec= (compared with GLib itself over every short string). */
#include <errno.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "split-words.h"

#define STRV(...) ((const char *const[]) { __VA_ARGS__, NULL })

static void check_ok(const char *s, SplitFlags flags, const char *const *expected) {
        g_auto(GStrv) words = NULL;
        const char *err = NULL;

        if (split_words(s, flags, &words, &err) < 0)
                g_error("\"%s\": unexpected error %s", s, err);
        g_assert_nonnull(words);
        if (!g_strv_equal((const char *const *) words, expected)) {
                g_autofree char *got = g_strjoinv("|", words);
                g_error("\"%s\" split into \"%s\"", s, got);
        }
}

static void check_error(const char *s, SplitFlags flags, const char *expected) {
        char **words = NULL;
        const char *err = NULL;

        g_assert_cmpint(split_words(s, flags, &words, &err), ==, -EINVAL);
        g_assert_null(words);
        g_assert_cmpstr(err, ==, expected);
}

static void test_list(void) {
        check_ok("", 0, (const char *const[]) { NULL });
        check_ok("a b\tc", 0, STRV("a", "b", "c"));
        check_ok("'a b' \"c d\" e\\ f \"q\\\"uote\" 'it'\\''s' *.tmp", 0,
                 STRV("a b", "c d", "e f", "q\"uote", "it's", "*.tmp"));
        /* Every blank separates, '#' is literal (the lexer has cut comments), a trailing '\' too. */
        check_ok("a\rb\fc\vd", 0, STRV("a", "b", "c", "d"));
        check_ok("#a b#", 0, STRV("#a", "b#"));
        check_ok("a\\", 0, STRV("a\\"));
        check_ok("\"\\$\\`\\x\"", 0, STRV("$`\\x"));
        check_error("a '' b", 0, "empty list item");
        check_error("\"\"", 0, "empty list item");
        check_error("\"abc", 0, "unterminated quote");
        check_error("'abc", 0, "unterminated quote");
}

static void test_shell(void) {
        check_ok("/bin/echo {pathname} '{x}'", SPLIT_SHELL, STRV("/bin/echo", "{pathname}", "{x}"));
        check_ok("a '' b", SPLIT_SHELL, STRV("a", "", "b"));
        check_ok("a\rb", SPLIT_SHELL, STRV("a\rb"));
        check_ok("a #comment\nb", SPLIT_SHELL, STRV("a", "b"));
        check_ok("a\t#b", SPLIT_SHELL, STRV("a", "#b"));
        check_ok("a#b", SPLIT_SHELL, STRV("a#b"));
        check_ok("a\\\nb \\\n c", SPLIT_SHELL, STRV("ab", "c"));
        check_ok("\"a\\\nb\"", SPLIT_SHELL, STRV("a\nb"));
        check_error("", SPLIT_SHELL, "empty command");
        check_error(" \t\n", SPLIT_SHELL, "empty command");
        check_error("# only a comment", SPLIT_SHELL, "empty command");
        check_error("a #", SPLIT_SHELL, "Text ended before matching quote was found for #.");
        check_error("a\\", SPLIT_SHELL, "Text ended just after a \"\\\" character.");
        check_error("'a", SPLIT_SHELL, "Text ended before matching quote was found for '.");
        check_error("\"a", SPLIT_SHELL, "Text ended before matching quote was found for \".");
}

/* Every string of up to 5 characters from the characters that matter, against GLib. */
static void test_shell_is_glib(void) {
        static const char alphabet[] = " \t\n\\'\"#$`a\r";
        const size_t k = sizeof(alphabet) - 1;
        unsigned long n = 0;

        for (size_t len = 0; len <= 5; len++) {
                size_t total = 1;

                for (size_t i = 0; i < len; i++)
                        total *= k;
                for (size_t code = 0; code < total; code++) {
                        g_auto(GStrv) glib = NULL, ours = NULL;
                        g_autoptr(GError) error = NULL;
                        const char *err = NULL;
                        char s[8];
                        gboolean glib_ok;
                        int argc, r;

                        for (size_t i = 0, c = code; i < len; i++, c /= k)
                                s[i] = alphabet[c % k];
                        s[len] = 0;

                        glib_ok = g_shell_parse_argv(s, &argc, &glib, &error);
                        r = split_words(s, SPLIT_SHELL, &ours, &err);
                        if (glib_ok != (r == 0) ||
                            (glib_ok &&
                             !g_strv_equal((const char *const *) glib, (const char *const *) ours)) ||
                            (!glib_ok && g_error_matches(error, G_SHELL_ERROR, G_SHELL_ERROR_EMPTY_STRING) !=
                                         streq(err, "empty command"))) {
                                g_autofree char *shown = g_strescape(s, NULL);
                                g_error("\"%s\": GLib %s, split_words() %s", shown,
                                        glib_ok ? "accepts" : error->message, r == 0 ? "accepts" : err);
                        }
                        n++;
                }
        }
        g_test_message("%lu strings agree", n);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/split-words/list", test_list);
        g_test_add_func("/split-words/shell", test_shell);
        g_test_add_func("/split-words/shell-is-glib", test_shell_is_glib);
        return g_test_run();
}
