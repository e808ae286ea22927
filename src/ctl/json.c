/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writing JSON text: a stack of open containers decides where commas and newlines go. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "macro.h"

#include <glib.h>

#include "escape.h"
#include "json.h"

typedef struct Level {
        bool is_object;
        bool empty;
} Level;

struct JsonWriter {
        GString *out;
        GArray *stack;          /* Level */
        bool pretty;
        bool after_key;         /* the next value belongs to the key just written */
};

JsonWriter *json_writer_new(bool pretty) {
        JsonWriter *w = g_new0(JsonWriter, 1);

        w->out = g_string_new(NULL);
        w->stack = g_array_new(false, false, sizeof(Level));
        w->pretty = pretty;
        return w;
}

JsonWriter *json_writer_free(JsonWriter *w) {
        if (!w)
                return NULL;
        if (w->out)
                g_string_free(w->out, true);
        if (w->stack)
                g_array_unref(w->stack);
        g_free(w);
        return NULL;
}

static Level *top(JsonWriter *w) {
        return w->stack->len > 0 ? &g_array_index(w->stack, Level, w->stack->len - 1) : NULL;
}

static void newline(JsonWriter *w) {
        if (!w->pretty)
                return;
        g_string_append_c(w->out, '\n');
        for (size_t i = 0; i < w->stack->len; i++)
                g_string_append(w->out, "  ");
}

/* Before any value or key: the comma and line break that separate it from the previous one. */
static void separate(JsonWriter *w) {
        Level *l;

        if (w->after_key) {
                w->after_key = false;
                return;
        }

        l = top(w);
        if (!l)
                return;
        if (!l->empty)
                g_string_append_c(w->out, ',');
        l->empty = false;
        newline(w);
}

static void push(JsonWriter *w, bool is_object) {
        Level l = { .is_object = is_object, .empty = true };

        separate(w);
        g_string_append_c(w->out, is_object ? '{' : '[');
        g_array_append_val(w->stack, l);
}

static void pop(JsonWriter *w, bool is_object) {
        Level *l = top(w);
        bool empty;

        g_return_if_fail(l && l->is_object == is_object);
        empty = l->empty;
        g_array_set_size(w->stack, w->stack->len - 1);
        if (!empty)
                newline(w);
        g_string_append_c(w->out, is_object ? '}' : ']');
}

void json_begin_object(JsonWriter *w) {
        push(w, true);
}

void json_end_object(JsonWriter *w) {
        pop(w, true);
}

void json_begin_array(JsonWriter *w) {
        push(w, false);
}

void json_end_array(JsonWriter *w) {
        pop(w, false);
}

static void append_string(JsonWriter *w, const char *s) {
        g_autofree char *valid = g_utf8_make_valid(s, -1);
        g_autofree char *e = escape_json(valid);

        g_string_append_c(w->out, '"');
        g_string_append(w->out, e);
        g_string_append_c(w->out, '"');
}

void json_key(JsonWriter *w, const char *key) {
        g_return_if_fail(top(w) && top(w)->is_object && !w->after_key);

        separate(w);
        append_string(w, key);
        g_string_append(w->out, w->pretty ? ": " : ":");
        w->after_key = true;
}

void json_string(JsonWriter *w, const char *s) {
        if (!s) {
                json_null(w);
                return;
        }
        separate(w);
        append_string(w, s);
}

void json_uint(JsonWriter *w, uint64_t u) {
        separate(w);
        g_string_append_printf(w->out, "%" PRIu64, u);
}

void json_int(JsonWriter *w, int64_t i) {
        separate(w);
        g_string_append_printf(w->out, "%" PRIi64, i);
}

void json_double(JsonWriter *w, double d) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        if (!isfinite(d)) {
                json_null(w);
                return;
        }
        separate(w);
        g_string_append(w->out, g_ascii_dtostr(buf, sizeof(buf), d));
}

void json_bool(JsonWriter *w, bool b) {
        separate(w);
        g_string_append(w->out, b ? "true" : "false");
}

void json_null(JsonWriter *w) {
        separate(w);
        g_string_append(w->out, "null");
}

void json_byte_array(JsonWriter *w, const void *p, size_t n) {
        const uint8_t *b = p;

        separate(w);
        g_string_append_c(w->out, '[');
        for (size_t i = 0; i < n; i++)
                g_string_append_printf(w->out, "%s%u", i > 0 ? (w->pretty ? ", " : ",") : "", b[i]);
        g_string_append_c(w->out, ']');
}

char *json_writer_finish(JsonWriter *w) {
        g_return_val_if_fail(w->stack->len == 0, NULL);

        g_string_append_c(w->out, '\n');
        return g_string_free(g_steal_pointer(&w->out), false);
}
