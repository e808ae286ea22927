/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one shell-like word splitter, with the two syntaxes its callers have always accepted. */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "split-words.h"

static bool is_blank(char c, SplitFlags flags) {
        if (flags & SPLIT_SHELL)
                return c == ' ' || c == '\t' || c == '\n';
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* As the shell (and g_shell_parse_argv()) has it: a '#' begins a comment where a word could begin, judged
 * by the raw previous character, which is why an escaped space counts but a tab does not. */
static bool starts_comment(const char *s, const char *p, SplitFlags flags) {
        return (flags & SPLIT_SHELL) && *p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\n');
}

int split_words(const char *s, SplitFlags flags, char ***ret, const char **ret_error) {
        g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
        const bool shell = flags & SPLIT_SHELL;
        const char *dq_escapes = shell ? "\"\\$`\n" : "\"\\$`";
        g_autoptr(GString) w = NULL;   /* the current word; NULL between words */
        const char *p = s;

        assert(s);
        assert(ret);
        assert(ret_error);

        while (*p) {
                if (starts_comment(s, p, flags)) {
                        /* g_shell_parse_argv() treats a comment as a quote, and one that is the last
                         * character as one that is never closed. */
                        if (!p[1]) {
                                *ret_error = "Text ended before matching quote was found for #.";
                                return -EINVAL;
                        }
                        /* The newline that ends it goes too, without ending a word. */
                        p = strchrnul(p, '\n');
                        if (*p)
                                p++;
                        continue;
                }
                if (is_blank(*p, flags)) {
                        if (w) {
                                if (w->len == 0 && !shell) {
                                        *ret_error = "empty list item";
                                        return -EINVAL;
                                }
                                g_ptr_array_add(words, g_string_free(TAKE_PTR(w), FALSE));
                        }
                        p++;
                        continue;
                }

                if (shell && p[0] == '\\' && p[1] == '\n') {
                        /* A line continuation: nothing, not even the start of a word. */
                        p += 2;
                        continue;
                }

                if (!w)
                        w = g_string_new(NULL);

                if (*p == '\'') {
                        for (p++; *p && *p != '\''; p++)
                                g_string_append_c(w, *p);
                        if (!*p) {
                                *ret_error = shell ? "Text ended before matching quote was found for '."
                                                   : "unterminated quote";
                                return -EINVAL;
                        }
                        p++;
                } else if (*p == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1] && strchr(dq_escapes, p[1]))
                                        p++;
                                g_string_append_c(w, *p);
                        }
                        if (!*p) {
                                *ret_error = shell ? "Text ended before matching quote was found for \"."
                                                   : "unterminated quote";
                                return -EINVAL;
                        }
                        p++;
                } else if (*p == '\\' && p[1]) {
                        g_string_append_c(w, p[1]);
                        p += 2;
                } else if (*p == '\\' && shell) {
                        *ret_error = "Text ended just after a \"\\\" character.";
                        return -EINVAL;
                } else
                        g_string_append_c(w, *p++);
        }

        if (w) {
                if (w->len == 0 && !shell) {
                        *ret_error = "empty list item";
                        return -EINVAL;
                }
                g_ptr_array_add(words, g_string_free(TAKE_PTR(w), FALSE));
        }
        if (shell && words->len == 0) {
                *ret_error = "empty command";
                return -EINVAL;
        }

        g_ptr_array_add(words, NULL);
        *ret = (char **) g_ptr_array_free(TAKE_PTR(words), FALSE);
        return 0;
}
