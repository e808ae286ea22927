/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one shell-like word splitter: configuration lists (Exclude=, Match=, Environment=, ...) and Exec=. */
#pragma once

typedef enum SplitFlags {
        /* Exec=: the syntax g_shell_parse_argv() accepted, kept exactly. Only space, tab and newline
         * separate words; an unquoted '#' at the start or after a space or newline begins a comment to
         * the end of the line; a backslash-newline vanishes (inside "..." only the backslash does); a
         * trailing backslash is an error; '' is an empty word; no word at all is an error. Without it
         * (lists): every blank (also \r, \f, \v) separates, '#' is literal (the key-file lexer has cut
         * the comments), a trailing backslash is literal, an empty word is an error and no word at all
         * is the empty list. */
        SPLIT_SHELL = 1 << 0,
} SplitFlags;

/* Blanks separate words, '...' is literal, "..." knows the escapes \" \\ \$ \` (and, with SPLIT_SHELL,
 * \newline), a backslash outside quotes escapes the next character. Returns 0 and a NULL-terminated
 * strv in *ret (g_strfreev()), or -EINVAL and a static message in *ret_error: "unterminated quote",
 * "empty list item", and with SPLIT_SHELL the messages of g_shell_parse_argv() ("Text ended before
 * matching quote was found for '.", ...) or "empty command". */
int split_words(const char *s, SplitFlags flags, char ***ret, const char **ret_error);
