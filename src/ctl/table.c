/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Aligned text tables: cells are collected first, widths measured, then every row padded. */
#include <stdarg.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "ansi.h"
#include "table.h"

typedef struct Cell {
        char *text;
        const char *color;      /* static string or NULL */
        size_t width;
} Cell;

struct Table {
        size_t n_columns;
        Cell *headers;
        bool *align_right;
        GArray *cells;          /* Cell, row-major */
};

size_t utf8_display_width(const char *s) {
        size_t w = 0;

        if (!g_utf8_validate(s, -1, NULL))
                return strlen(s);

        for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);

                if (g_unichar_iszerowidth(c))
                        continue;
                w += g_unichar_iswide(c) ? 2 : 1;
        }
        return w;
}

/* A cell is one line: control characters (which a well-behaved daemon never sends, but a table must not
 * let a terminal interpret) become visible escapes. Invalid UTF-8 bytes become "\xNN" as well. */
static char *sanitize(const char *s) {
        GString *out = g_string_sized_new(strlen(s));

        for (const char *p = s; *p != '\0';) {
                gunichar c = g_utf8_get_char_validated(p, -1);

                if (c == (gunichar) -1 || c == (gunichar) -2) {
                        g_string_append_printf(out, "\\x%02x", (unsigned char) *p);
                        p++;
                        continue;
                }

                const char *next = g_utf8_next_char(p);
                if (g_unichar_iscntrl(c))
                        for (const char *q = p; q < next; q++)
                                g_string_append_printf(out, "\\x%02x", (unsigned char) *q);
                else
                        g_string_append_len(out, p, next - p);
                p = next;
        }
        return g_string_free(out, false);
}

Table *table_new(const char *const *headers, size_t n_headers) {
        Table *t = g_new0(Table, 1);

        t->n_columns = n_headers;
        t->headers = g_new0(Cell, n_headers);
        t->align_right = g_new0(bool, n_headers);
        t->cells = g_array_new(false, true, sizeof(Cell));
        for (size_t i = 0; i < n_headers; i++) {
                t->headers[i].text = sanitize(headers[i]);
                t->headers[i].width = utf8_display_width(t->headers[i].text);
        }
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;

        for (size_t i = 0; i < t->n_columns; i++)
                g_free(t->headers[i].text);
        g_free(t->headers);
        g_free(t->align_right);
        if (t->cells) {
                for (size_t i = 0; i < t->cells->len; i++)
                        g_free(g_array_index(t->cells, Cell, i).text);
                g_array_unref(t->cells);
        }
        g_free(t);
        return NULL;
}

void table_set_align_right(Table *t, size_t column) {
        g_return_if_fail(column < t->n_columns);
        t->align_right[column] = true;
}

void table_add(Table *t, const char *text, const char *color) {
        Cell c = {
                .text = sanitize(strempty(text)),
                .color = color,
        };

        c.width = utf8_display_width(c.text);
        g_array_append_val(t->cells, c);
}

void table_add_printf(Table *t, const char *color, const char *format, ...) {
        va_list ap;
        g_autofree char *s = NULL;

        va_start(ap, format);
        s = g_strdup_vprintf(format, ap);
        va_end(ap);

        table_add(t, s, color);
}

size_t table_get_rows(const Table *t) {
        return t->n_columns > 0 ? (t->cells->len + t->n_columns - 1) / t->n_columns : 0;
}

static void print_cell(FILE *f, const Cell *c, size_t width, bool right, bool last, const char *color) {
        size_t pad = width > c->width ? width - c->width : 0;

        if (right)
                fprintf(f, "%*s", (int) pad, "");
        if (color)
                fputs(color, f);
        fputs(c->text, f);
        if (color)
                fputs(ANSI_NORMAL, f);
        if (!right && !last)
                fprintf(f, "%*s", (int) pad, "");
}

void table_print(const Table *t, FILE *f, bool header, bool colors) {
        g_autofree size_t *widths = g_new0(size_t, t->n_columns);
        size_t n_rows = table_get_rows(t);

        for (size_t i = 0; i < t->n_columns; i++)
                widths[i] = header ? t->headers[i].width : 0;
        for (size_t i = 0; i < t->cells->len; i++) {
                const Cell *c = &g_array_index(t->cells, Cell, i);
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], c->width);
        }

        if (header) {
                for (size_t i = 0; i < t->n_columns; i++) {
                        if (i > 0)
                                fputc(' ', f);
                        print_cell(f, &t->headers[i], widths[i], t->align_right[i], i + 1 == t->n_columns,
                                   colors ? ANSI_UNDERLINE : NULL);
                }
                fputc('\n', f);
        }

        for (size_t r = 0; r < n_rows; r++) {
                for (size_t i = 0; i < t->n_columns; i++) {
                        size_t k = r * t->n_columns + i;
                        static const Cell empty = { .text = (char *) "" };
                        const Cell *c = k < t->cells->len ? &g_array_index(t->cells, Cell, k) : &empty;

                        if (i > 0)
                                fputc(' ', f);
                        print_cell(f, c, widths[i], t->align_right[i], i + 1 == t->n_columns,
                                   colors ? c->color : NULL);
                }
                fputc('\n', f);
        }
}
