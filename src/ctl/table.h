/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Aligned text tables for inotaskctl, measured by display width (wide and combining characters). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

typedef struct Table Table;

typedef enum TableEllipsize {
        TABLE_ELLIPSIZE_NONE,           /* never cut (ids, states: what a reader must see whole) */
        TABLE_ELLIPSIZE_END,            /* "a-long-na…" */
        TABLE_ELLIPSIZE_MIDDLE,         /* "/srv/a…/file": paths keep their file name */
} TableEllipsize;

/* A table with the given column headers. */
Table *table_new(const char *const *headers, size_t n_headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Right-aligns a column (numbers). */
void table_set_align_right(Table *t, size_t column);

/* Which columns may be cut, and how, when the table is wider than its width. */
void table_set_ellipsize(Table *t, size_t column, TableEllipsize how);
/* The terminal's width the table should fit into (the columns that may be cut are narrowed, widest
 * first); 0, the default, for none (--full, or output that is not a terminal). */
void table_set_width(Table *t, size_t width);

/* Appends one cell; cells fill rows left to right. Control characters in text are shown escaped (a
 * table is one line per row), color is an ANSI SGR sequence from ansi.h or NULL. */
void table_add(Table *t, const char *text, const char *color);
void table_add_printf(Table *t, const char *color, const char *format, ...) _printf_(3, 4);

size_t table_get_rows(const Table *t);

/* Prints the header (unless header is false) and the rows; colors only when colors is true. The last
 * column is not padded, so no line ends in blanks. */
void table_print(const Table *t, FILE *f, bool header, bool colors);

/* s as one line for a terminal: control characters and invalid UTF-8 bytes as "\xNN". Newly allocated. */
char *table_sanitize(const char *s);

/* s cut to width display columns with an ellipsis at its end, or in its middle. Newly allocated. */
char *ellipsize(const char *s, size_t width, bool middle);

/* Columns a UTF-8 string takes on a terminal: 2 for wide characters, 0 for combining marks. */
size_t utf8_display_width(const char *s);
