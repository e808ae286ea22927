/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Batch=yes: a task's distinct paths with their latest events, and the list as its stdin (paths, NUL-ended
 * paths, relative paths, JSON lines). */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>

#include "batch.h"
#include "event.h"
#include "scheduler.h"

static void entry_free(gpointer p) {
        BatchEntry *e = p;

        g_free(e->path);
        g_free(e);
}

TaskBatch *task_batch_new(void) {
        TaskBatch *b = g_new0(TaskBatch, 1);

        b->entries = g_ptr_array_new_with_free_func(entry_free);
        b->by_path = g_hash_table_new(g_str_hash, g_str_equal);
        return b;
}

TaskBatch *task_batch_free(TaskBatch *b) {
        if (!b)
                return NULL;
        if (b->by_path)
                g_hash_table_unref(b->by_path);
        if (b->entries)
                g_ptr_array_unref(b->entries);
        g_free(b);
        return NULL;
}

bool task_batch_add(TaskBatch *b, const char *path, uint32_t mask, EventKind kind, const char *event_name) {
        BatchEntry *e = g_hash_table_lookup(b->by_path, path);
        bool added = !e;

        if (!e) {
                e = g_new0(BatchEntry, 1);
                e->path = g_strdup(path);
                g_ptr_array_add(b->entries, e);
                g_hash_table_insert(b->by_path, e->path, e);
        }
        e->mask = mask;
        e->kind = kind;
        e->event_name = g_intern_string(event_name);
        return added;
}

bool batch_entry_is_deletion(const BatchEntry *e) {
        return e->kind == EVENT_KIND_DELETED || (e->mask & (IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM));
}

size_t task_n_paths(const Task *t) {
        return t->batch ? task_batch_size(t->batch) : 1;
}

void task_path_entry(const Task *t, size_t i, BatchEntry *ret) {
        if (t->batch) {
                *ret = *task_batch_get(t->batch, i);
                return;
        }
        *ret = (BatchEntry) {
                .path = t->path, .mask = t->mask, .kind = t->kind, .event_name = t->event_name,
        };
}

size_t task_n_deleted(const Task *t) {
        size_t n = 0;

        for (size_t i = 0; i < task_n_paths(t); i++) {
                BatchEntry e;

                task_path_entry(t, i, &e);
                n += batch_entry_is_deletion(&e);
        }
        return n;
}

/* A JSON string: '"', '\' and control characters escaped, invalid UTF-8 as U+FFFD. */
static void json_string(GString *s, const char *v) {
        const char *end = v + strlen(v);

        g_string_append_c(s, '"');
        while (v < end) {
                gunichar c = g_utf8_get_char_validated(v, end - v);

                if (c == (gunichar) -1 || c == (gunichar) -2) {
                        g_string_append(s, "\xef\xbf\xbd");
                        v++;
                        continue;
                }
                if (c == '"' || c == '\\')
                        g_string_append_printf(s, "\\%c", (char) c);
                else if (c < 0x20 || c == 0x7f)
                        g_string_append_printf(s, "\\u%04x", (unsigned) c);
                else
                        g_string_append_len(s, v, g_utf8_next_char(v) - v);
                v = g_utf8_next_char(v);
        }
        g_string_append_c(s, '"');
}

static void json_bytes_field(GString *s, const char *key, const char *v) {
        g_autofree char *b64 = NULL;

        if (g_utf8_validate(v, -1, NULL))
                return;
        b64 = g_base64_encode((const guchar *) v, strlen(v));
        g_string_append_printf(s, ",\"%s\":\"%s\"", key, b64);
}

int task_stdin_data_range(const Task *t, StdinFormat f, size_t from, size_t to, char **ret,
                          size_t *ret_len) {
        GString *s = g_string_new(NULL);

        if (to > task_n_paths(t) || from > to) {
                g_string_free(s, true);
                return -EINVAL;
        }
        for (size_t i = from; i < to && f != STDIN_NULL; i++) {
                BatchEntry e;
                const char *rel;

                task_path_entry(t, i, &e);
                rel = e.path + relpath_offset(e.path, t->watch_path);
                switch (f) {
                case STDIN_PATHS:
                case STDIN_PATHS_NUL:
                        g_string_append(s, e.path);
                        g_string_append_c(s, f == STDIN_PATHS ? '\n' : '\0');
                        break;
                case STDIN_RELPATHS:
                case STDIN_RELPATHS_NUL:
                        g_string_append(s, rel);
                        g_string_append_c(s, f == STDIN_RELPATHS ? '\n' : '\0');
                        break;
                case STDIN_JSON:
                        g_string_append(s, "{\"path\":");
                        json_string(s, e.path);
                        g_string_append(s, ",\"relpath\":");
                        json_string(s, rel);
                        g_string_append(s, ",\"event\":");
                        json_string(s, strempty(e.event_name));
                        g_string_append(s, batch_entry_is_deletion(&e) ? ",\"deleted\":true" : ",\"deleted\":false");
                        json_bytes_field(s, "path_base64", e.path);
                        json_bytes_field(s, "relpath_base64", rel);
                        g_string_append(s, "}\n");
                        break;
                default:
                        break;
                }
        }
        *ret_len = s->len;
        *ret = g_string_free(s, false);
        return 0;
}

int task_stdin_data(const Task *t, StdinFormat f, char **ret, size_t *ret_len) {
        return task_stdin_data_range(t, f, 0, task_n_paths(t), ret, ret_len);
}
