/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Turning arbitrary bytes (file names) into text that is safe to show, and back. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A printable UTF-8 rendering of len bytes: valid UTF-8 stays as it is (except the escapes below),
 * every byte of an invalid sequence becomes "\xNN", control characters become "\n", "\t", "\r" or
 * "\xNN", and a backslash becomes "\\". The result is always valid UTF-8. Newly allocated. */
char *escape_display(const char *s, size_t len);

/* Whether escape_display() would return the same bytes: printable ASCII without a backslash. */
bool display_is_plain(const char *s, size_t len);

/* Like escape_display() but a backslash stays as it is: for a message whose quoted names were escaped
 * already (the console log), so that they are not escaped twice while a raw control byte still is. */
char *escape_controls(const char *s, size_t len);
/* Whether escape_controls() would return the same bytes: printable ASCII. */
bool controls_are_plain(const char *s, size_t len);

/* The inverse of escape_display(): returns a newly allocated NUL-terminated buffer and its length in
 * *ret_len, or NULL on a malformed escape. */
char *unescape_display(const char *s, size_t *ret_len);

/* JSON string body (without quotes) for UTF-8 text: escapes '"', '\\' and control characters. */
char *escape_json(const char *s);

bool utf8_is_valid(const char *s, size_t len);
