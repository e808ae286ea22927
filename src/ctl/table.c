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
        TableEllipsize *ellipsize;
        size_t width;           /* of the terminal; 0: no limit */
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

char *table_sanitize(const char *s) {
        return sanitize(s);
}

Table *table_new(const char *const *headers, size_t n_headers) {
        Table *t = g_new0(Table, 1);

        t->n_columns = n_headers;
        t->headers = g_new0(Cell, n_headers);
        t->align_right = g_new0(bool, n_headers);
        t->ellipsize = g_new0(TableEllipsize, n_headers);
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
        g_free(t->ellipsize);
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

void table_set_ellipsize(Table *t, size_t column, TableEllipsize how) {
        g_return_if_fail(column < t->n_columns);
        t->ellipsize[column] = how;
}

void table_set_width(Table *t, size_t width) {
        t->width = width;
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

/* The first display columns of s that fit into width, or (middle) its start and end around the ellipsis
 * ("…", or "..." where the locale is not UTF-8), so that a path keeps its file name. Newly allocated. */
char *ellipsize(const char *s, size_t width, bool middle) {
        const bool utf8 = g_get_charset(NULL);
        const char *dots = utf8 ? "\u2026" : "...";
        size_t n_dots = utf8 ? 1 : 3;
        size_t head, tail, w = 0;
        const char *p, *end;
        GString *out;

        if (utf8_display_width(s) <= width)
                return g_strdup(s);
        if (!g_utf8_validate(s, -1, NULL)) /* sanitize() made every cell valid; be safe anyway */
                return g_strndup(s, width);

        if (width < n_dots) {
                dots = "";
                n_dots = 0;
        }
        head = middle ? (width - n_dots + 1) / 2 : width - n_dots;
        tail = width - n_dots - head;

        out = g_string_new(NULL);
        for (p = s; *p != '\0'; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);
                size_t cw = g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;

                if (w + cw > head)
                        break;
                w += cw;
        }
        g_string_append_len(out, s, p - s);
        g_string_append(out, dots);

        /* The tail: walk back from the end while it fits. */
        end = s + strlen(s);
        p = end;
        w = 0;
        while (p > s) {
                const char *q = g_utf8_prev_char(p);
                gunichar c = g_utf8_get_char(q);
                size_t cw = g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;

                if (w + cw > tail)
                        break;
                w += cw;
                p = q;
        }
        g_string_append(out, p);
        return g_string_free(out, false);
}

static void print_cell(FILE *f, const Cell *c, size_t width, bool right, bool last, const char *color,
                       TableEllipsize how) {
        g_autofree char *cut = NULL;
        const char *text = c->text;
        size_t w = c->width;

        if (how != TABLE_ELLIPSIZE_NONE && w > width && width > 0) {
                cut = ellipsize(text, width, how == TABLE_ELLIPSIZE_MIDDLE);
                text = cut;
                w = utf8_display_width(cut);
        }

        size_t pad = width > w ? width - w : 0;

        if (right)
                fprintf(f, "%*s", (int) pad, "");
        if (color)
                fputs(color, f);
        fputs(text, f);
        if (color)
                fputs(ANSI_NORMAL, f);
        if (!right && !last)
                fprintf(f, "%*s", (int) pad, "");
}

/* Narrows the columns that may be ellipsized until the table fits into t->width, the widest first, none
 * below its header or TABLE_MIN_WIDTH. A table that cannot fit stays as wide as it must be. */
#define TABLE_MIN_WIDTH 6
static void fit_widths(const Table *t, size_t *widths, bool header) {
        size_t total = t->n_columns > 0 ? t->n_columns - 1 : 0;

        if (t->width == 0)
                return;
        for (size_t i = 0; i < t->n_columns; i++)
                total += widths[i];

        while (total > t->width) {
                size_t best = SIZE_MAX;

                for (size_t i = 0; i < t->n_columns; i++) {
                        size_t min = MAX((size_t) TABLE_MIN_WIDTH, header ? t->headers[i].width : 0);

                        if (t->ellipsize[i] == TABLE_ELLIPSIZE_NONE || widths[i] <= min)
                                continue;
                        if (best == SIZE_MAX || widths[i] > widths[best])
                                best = i;
                }
                if (best == SIZE_MAX)
                        break;
                widths[best]--;
                total--;
        }
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
        fit_widths(t, widths, header);

        if (header) {
                for (size_t i = 0; i < t->n_columns; i++) {
                        if (i > 0)
                                fputc(' ', f);
                        print_cell(f, &t->headers[i], widths[i], t->align_right[i], i + 1 == t->n_columns,
                                   colors ? ANSI_UNDERLINE : NULL, TABLE_ELLIPSIZE_NONE);
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
                                   colors ? c->color : NULL, t->ellipsize[i]);
                }
                fputc('\n', f);
        }
}
