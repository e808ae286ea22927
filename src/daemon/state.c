/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tasks file (one scheduled task per line) and the watches' snapshots (one entry per line):
 * tab-separated fields, each escaped so that any byte of a path survives (escape_display() escapes tabs
 * and newlines and round-trips). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "log.h"
#include "state.h"

#define TASKS_FILE "tasks"
#define TASKS_HEADER "# inotaskd scheduled tasks, format 1"

/* A GLib file error as errno, so the caller can log it with %m. */
static int error_to_errno(const GError *error) {
        if (error->domain != G_FILE_ERROR)
                return EIO;
        switch (error->code) {
        case G_FILE_ERROR_NOENT: return ENOENT;
        case G_FILE_ERROR_ACCES: return EACCES;
        case G_FILE_ERROR_PERM: return EPERM;
        case G_FILE_ERROR_NOSPC: return ENOSPC;
        case G_FILE_ERROR_ROFS: return EROFS;
        case G_FILE_ERROR_ISDIR: return EISDIR;
        case G_FILE_ERROR_NOTDIR: return ENOTDIR;
        case G_FILE_ERROR_NAMETOOLONG: return ENAMETOOLONG;
        default: return EIO;
        }
}

char *state_directory(const char *configured, bool user_mode, bool explicit_config) {
        const char *e;

        if (configured)
                return g_strdup(configured);
        e = getenv("STATE_DIRECTORY");
        if (e && *e) {
                /* systemd passes a colon-separated list when a unit names several. */
                const char *colon = strchr(e, ':');

                return colon ? g_strndup(e, (size_t) (colon - e)) : g_strdup(e);
        }
        if (explicit_config)
                return NULL;
        if (user_mode)
                return g_build_filename(g_get_user_state_dir(), "inotaskd", NULL);
        return g_strdup(LOCALSTATEDIR "/lib/inotaskd");
}

static void append_field(GString *s, const char *v) {
        g_autofree char *e = escape_display(strempty(v), strlen(strempty(v)));

        g_string_append_c(s, '\t');
        g_string_append(s, e);
}

typedef struct SaveContext {
        GString *out;
        unsigned n;
} SaveContext;

static void save_one(Task *t, void *userdata) {
        SaveContext *c = userdata;

        if (t->state != TASK_SCHEDULED)
                return;
        g_string_append_printf(c->out, "%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu32 "\t%d", t->id,
                               t->created_usec, t->due_usec, t->mask, (int) t->kind);
        append_field(c->out, t->rule->name);
        append_field(c->out, t->watch);
        append_field(c->out, t->path);
        append_field(c->out, t->src_path);
        append_field(c->out, t->event_name);
        append_field(c->out, t->item);
        for (size_t i = 0; i < t->n_groups; i++)
                append_field(c->out, t->groups[i]);
        g_string_append_c(c->out, '\n');
        c->n++;
}

int state_save_tasks(const char *dir, Scheduler *s) {
        g_autoptr(GString) out = g_string_new(TASKS_HEADER "\n");
        g_autofree char *path = g_build_filename(dir, TASKS_FILE, NULL);
        g_autoptr(GError) error = NULL;
        SaveContext c = { .out = out };

        if (g_mkdir_with_parents(dir, 0700) < 0)
                return -errno;
        g_string_append_printf(out, "next-id\t%" PRIu64 "\n", scheduler_get_next_id(s));
        scheduler_foreach(s, save_one, &c);
        if (!g_file_set_contents_full(path, out->str, (gssize) out->len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                      &error))
                return -error_to_errno(error);
        return (int) c.n;
}

static char *field(char **f, size_t i, size_t n) {
        size_t len;
        char *v;

        if (i >= n)
                return NULL;
        v = unescape_display(f[i], &len);
        if (v && (len == 0 || strlen(v) != len)) {
                /* Empty means unset; an embedded NUL cannot be a path. */
                g_free(v);
                return NULL;
        }
        return v;
}

int state_load_tasks(const char *dir, GPtrArray **ret, uint64_t *ret_next_id) {
        g_autofree char *path = g_build_filename(dir, TASKS_FILE, NULL);
        g_autofree char *text = NULL;
        g_autoptr(GPtrArray) seeds = g_ptr_array_new_with_free_func((GDestroyNotify) task_seed_free);
        g_auto(GStrv) lines = NULL;
        g_autoptr(GError) error = NULL;

        *ret_next_id = 0;
        if (!g_file_get_contents(path, &text, NULL, &error)) {
                if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        *ret = TAKE_PTR(seeds);
                        return 0;
                }
                return -error_to_errno(error);
        }
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = NULL;
                TaskSeed *seed;
                size_t n;

                if (!**l || **l == '#')
                        continue;
                if (g_str_has_prefix(*l, "next-id\t")) {
                        *ret_next_id = g_ascii_strtoull(*l + strlen("next-id\t"), NULL, 10);
                        continue;
                }
                f = g_strsplit(*l, "\t", -1);
                n = g_strv_length(f);
                if (n < 11) {
                        log_warning("%s: malformed line, ignoring.", path);
                        continue;
                }
                seed = g_new0(TaskSeed, 1);
                seed->id = g_ascii_strtoull(f[0], NULL, 10);
                seed->created_usec = g_ascii_strtoull(f[1], NULL, 10);
                seed->due_usec = g_ascii_strtoull(f[2], NULL, 10);
                seed->mask = (uint32_t) g_ascii_strtoull(f[3], NULL, 10);
                seed->kind = (EventKind) g_ascii_strtoull(f[4], NULL, 10);
                seed->rule = field(f, 5, n);
                seed->watch = field(f, 6, n);
                seed->path = field(f, 7, n);
                seed->src_path = field(f, 8, n);
                seed->event_name = field(f, 9, n);
                seed->item = field(f, 10, n);
                if (n > 11) {
                        seed->groups = g_new0(char *, n - 11 + 1);
                        for (size_t i = 11; i < n; i++) {
                                seed->groups[i - 11] = field(f, i, n);
                                if (!seed->groups[i - 11])
                                        seed->groups[i - 11] = g_strdup("");
                        }
                }
                if (seed->id == 0 || !seed->rule || !seed->watch || !seed->path || seed->kind >= _EVENT_KIND_MAX) {
                        log_warning("%s: malformed task, ignoring.", path);
                        task_seed_free(seed);
                        continue;
                }
                g_ptr_array_add(seeds, seed);
        }
        *ret = TAKE_PTR(seeds);
        return 0;
}

static char *snapshot_path(const char *dir, const char *watch) {
        g_autofree char *name = g_strconcat("snapshot-", watch, NULL);

        return g_build_filename(dir, name, NULL);
}

/* One line per entry below n, "d\tRELPATH\n" or "f\tRELPATH\n", RELPATH escaped; rel holds n's relpath
 * with a trailing '/' ("" for the root). */
static void snapshot_node(const WatchNode *n, GString *rel, GString *out) {
        size_t base = rel->len;
        WatchChildIter i;
        WatchNode *v;

        if (n->files) {
                WatchFileIter fi;
                const char *f;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &f)) {
                        g_autofree char *e = NULL;

                        g_string_append(rel, f);
                        e = escape_display(rel->str, rel->len);
                        g_string_append_printf(out, "f\t%s\n", e);
                        g_string_truncate(rel, base);
                }
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                g_autofree char *e = NULL;

                g_string_append(rel, v->name);
                e = escape_display(rel->str, rel->len);
                g_string_append_printf(out, "d\t%s\n", e);
                g_string_append_c(rel, '/');
                snapshot_node(v, rel, out);
                g_string_truncate(rel, base);
        }
}

int state_save_snapshot(const char *dir, const Watch *w) {
        g_autofree char *file = snapshot_path(dir, w->name);
        g_autofree char *epath = escape_display(w->path, strlen(w->path));
        g_autoptr(GString) rel = g_string_new(NULL);
        g_autoptr(GString) text = g_string_new("# inotaskd snapshot, format 1\n");
        g_autoptr(GError) error = NULL;

        if (g_mkdir_with_parents(dir, 0700) < 0)
                return -errno;
        g_string_append_printf(text, "%" PRIu64 "\t%s\n", now_usec(CLOCK_REALTIME), epath);
        if (w->root && w->active)
                snapshot_node(w->root, rel, text);
        if (!g_file_set_contents_full(file, text->str, (gssize) text->len, G_FILE_SET_CONTENTS_CONSISTENT,
                                      0600, &error))
                return -error_to_errno(error);
        return 0;
}

int state_take_snapshot(const char *dir, const char *watch, const char *path, GHashTable **ret, usec_t *ret_time) {
        g_autofree char *file = snapshot_path(dir, watch);
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        g_autoptr(GHashTable) known = NULL;
        usec_t when = 0;
        bool header = false;

        *ret = NULL;
        if (!g_file_get_contents(file, &text, NULL, NULL))
                return 0;
        /* Used once: after a crash there is no fresh one, and a stale one would report old changes. */
        (void) unlink(file);

        known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                char *tab = strchr(*l, '\t');
                g_autofree char *v = NULL;
                size_t len;

                if (!**l || **l == '#' || !tab)
                        continue;
                v = unescape_display(tab + 1, &len);
                if (!v || strlen(v) != len)
                        continue;
                if (!header) {
                        header = true;
                        when = g_ascii_strtoull(*l, NULL, 10);
                        if (!streq(v, path))
                                return 0;
                        continue;
                }
                if (tab - *l != 1 || (**l != 'd' && **l != 'f'))
                        continue;
                g_hash_table_insert(known, TAKE_PTR(v), GINT_TO_POINTER(**l == 'd'));
        }
        if (!header)
                return 0;
        *ret = TAKE_PTR(known);
        *ret_time = when;
        return 0;
}
