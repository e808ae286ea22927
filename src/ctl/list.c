/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The list verbs' one path from a D-Bus reply to a table or a JSON array, driven by column descriptions. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

#include <glib.h>
#include <glib/gi18n.h>

#include "escape.h"
#include "json.h"
#include "list.h"
#include "table.h"
#include "time-util.h"

struct List {
        const ListColumn *columns;
        size_t n_columns;
        char *signature;                /* of one row: "(…)" */
        char *contents;                 /* what is inside the parentheses */
        GArray *rows;                   /* n_columns ListValues each */
        GPtrArray *strings;             /* the values list_set_string() copied */
};

List *list_new(const ListColumn *columns, size_t n_columns) {
        List *l = g_new0(List, 1);
        GString *sig = g_string_new("(");

        for (size_t i = 0; i < n_columns; i++)
                if (columns[i].dbus_type)
                        g_string_append_c(sig, columns[i].dbus_type);
        g_string_append_c(sig, ')');

        l->columns = columns;
        l->n_columns = n_columns;
        l->contents = g_strndup(sig->str + 1, sig->len - 2);
        l->signature = g_string_free(sig, false);
        l->strings = g_ptr_array_new_with_free_func(g_free);
        l->rows = g_array_new(false, false, n_columns * sizeof(ListValue));
        return l;
}

List *list_free(List *l) {
        if (!l)
                return NULL;
        g_free(l->signature);
        g_free(l->contents);
        if (l->rows)
                g_array_unref(l->rows);
        if (l->strings)
                g_ptr_array_unref(l->strings);
        g_free(l);
        return NULL;
}

static int read_row(List *l, sd_bus_message *m, ListValue *row) {
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_STRUCT, l->contents);
        if (r <= 0)
                return r;
        for (size_t i = 0; i < l->n_columns; i++) {
                char t = l->columns[i].dbus_type;
                uint32_t u32;
                int b;

                switch (t) {
                case 0:
                        row[i].s = "";
                        continue;
                case 's': case 'o':
                        r = sd_bus_message_read_basic(m, t, &row[i].s);
                        break;
                case 't':
                        r = sd_bus_message_read_basic(m, t, &row[i].u);
                        break;
                case 'u':
                        r = sd_bus_message_read_basic(m, t, &u32);
                        row[i].u = u32;
                        break;
                case 'b':
                        r = sd_bus_message_read_basic(m, t, &b);
                        row[i].u = b;
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EBADMSG;
        }
        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

int list_read(List *l, sd_bus_message *m, ListFilter keep, void *userdata) {
        g_autofree ListValue *row = g_new0(ListValue, l->n_columns);
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, l->signature);
        if (r < 0)
                return r;
        for (;;) {
                r = read_row(l, m, row);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (!keep || keep(row, userdata))
                        g_array_append_vals(l->rows, row, 1);
        }
        return sd_bus_message_exit_container(m);
}

size_t list_get_rows(const List *l) {
        return l->rows->len;
}

static const ListValue *list_row(const List *l, size_t i) {
        return (const ListValue *) (l->rows->data + i * l->n_columns * sizeof(ListValue));
}

const ListValue *list_get_row(const List *l, size_t i) {
        g_return_val_if_fail(i < l->rows->len, NULL);
        return list_row(l, i);
}

void list_set_string(List *l, size_t i, size_t column, const char *value) {
        char *copy;

        g_return_if_fail(i < l->rows->len && column < l->n_columns && l->columns[column].dbus_type == 0);
        copy = g_strdup(value);
        g_ptr_array_add(l->strings, copy);
        ((ListValue *) (l->rows->data + i * l->n_columns * sizeof(ListValue)))[column].s = copy;
}

static gint compare_rows(gconstpointer a, gconstpointer b, gpointer userdata) {
        size_t column = *(const size_t *) userdata;
        uint64_t x = ((const ListValue *) a)[column].u, y = ((const ListValue *) b)[column].u;

        return x < y ? -1 : x > y;
}

void list_sort(List *l, size_t column) {
        g_return_if_fail(column < l->n_columns && l->columns[column].type == LIST_UINT);
        g_array_sort_with_data(l->rows, compare_rows, &column);
}

/* The column shown at place pos (from 1) of the table or of the JSON members, or NULL. */
static const ListColumn *column_at(const List *l, unsigned pos, bool json, size_t *ret_index) {
        for (size_t i = 0; i < l->n_columns; i++) {
                const ListColumn *c = &l->columns[i];

                if (json ? (c->json_key && c->json_pos == pos) : (c->header && c->table_pos == pos)) {
                        *ret_index = i;
                        return c;
                }
        }
        return NULL;
}

/* path_bytes besides the display string, when they differ (a name with "\" or non-UTF-8 bytes). */
static void json_path_bytes_of_display(JsonWriter *w, const char *display) {
        size_t n;
        g_autofree char *bytes = unescape_display(display, &n);

        if (!bytes || (n == strlen(display) && memcmp(bytes, display, n) == 0))
                return;
        json_key(w, "path_bytes");
        json_byte_array(w, bytes, n);
}

void list_print_json(const List *l, bool pretty) {
        _cleanup_(json_writer_freep) JsonWriter *w = json_writer_new(pretty);
        g_autofree char *s = NULL;

        json_begin_array(w);
        for (size_t i = 0; i < list_get_rows(l); i++) {
                const ListValue *row = list_row(l, i);
                const ListColumn *c;
                size_t k;

                json_begin_object(w);
                for (unsigned pos = 1; (c = column_at(l, pos, true, &k)); pos++) {
                        json_key(w, c->json_key);
                        switch (c->type) {
                        case LIST_STRING:
                                json_string(w, row[k].s);
                                break;
                        case LIST_STRV: {
                                char sep[2] = { c->separator, '\0' };
                                g_auto(GStrv) items = g_strsplit(row[k].s, sep, -1);

                                json_begin_array(w);
                                for (char **it = items; *it; it++)
                                        if (**it)
                                                json_string(w, *it);
                                json_end_array(w);
                                break;
                        }
                        case LIST_PATH:
                                json_string(w, row[k].s);
                                json_path_bytes_of_display(w, row[k].s);
                                break;
                        case LIST_BOOL:
                                json_bool(w, row[k].u);
                                break;
                        case LIST_UINT:
                        case LIST_TIMESTAMP:
                        case LIST_TIMESPAN:
                                json_uint(w, row[k].u);
                                break;
                        }
                }
                json_end_object(w);
        }
        json_end_array(w);
        s = json_writer_finish(w);
        fputs(s, stdout);
}

void list_print_table(const List *l, bool header, bool colors, size_t width) {
        g_autoptr(GPtrArray) headers = g_ptr_array_new();
        g_autoptr(GArray) order = g_array_new(false, false, sizeof(size_t));
        _cleanup_(table_freep) Table *table = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        const ListColumn *c;
        size_t k;

        for (unsigned pos = 1; (c = column_at(l, pos, false, &k)); pos++) {
                g_ptr_array_add(headers, (char *) _(c->header));
                g_array_append_val(order, k);
        }
        table = table_new((const char *const *) headers->pdata, headers->len);
        table_set_width(table, width);
        for (size_t i = 0; i < order->len; i++) {
                const ListColumn *col = &l->columns[g_array_index(order, size_t, i)];

                if (col->align_right)
                        table_set_align_right(table, i);
                if (col->type == LIST_PATH)
                        table_set_ellipsize(table, i, TABLE_ELLIPSIZE_MIDDLE);
                else if (col->type == LIST_STRING || col->type == LIST_STRV)
                        table_set_ellipsize(table, i, TABLE_ELLIPSIZE_END);
        }

        for (size_t i = 0; i < list_get_rows(l); i++) {
                const ListValue *row = list_row(l, i);

                for (size_t j = 0; j < order->len; j++) {
                        size_t n = g_array_index(order, size_t, j);
                        const ListValue *v = &row[n];
                        g_autofree char *text = NULL;

                        c = &l->columns[n];
                        switch (c->type) {
                        case LIST_STRING:
                        case LIST_STRV:
                                table_add(table, v->s, c->color ? c->color(v->s) : NULL);
                                break;
                        case LIST_PATH:
                                table_add(table, v->s, NULL);
                                break;
                        case LIST_BOOL:
                                table_add(table, v->u ? _("yes") : _("no"), NULL);
                                break;
                        case LIST_UINT:
                                table_add_printf(table, NULL, "%" PRIu64, v->u);
                                break;
                        case LIST_TIMESTAMP:
                                text = v->u > 0 ? format_timestamp_relative(v->u, now) : g_strdup("-");
                                table_add(table, text, NULL);
                                break;
                        case LIST_TIMESPAN:
                                text = format_timespan(v->u);
                                table_add(table, text, NULL);
                                break;
                        }
                }
        }
        table_print(table, stdout, header, colors);
}
