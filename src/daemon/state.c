/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tasks file (one scheduled task per line) and the watches' snapshots (one entry per line):
 * tab-separated fields, each escaped so that any byte of a path survives (escape_display() escapes tabs
 * and newlines and round-trips). Both are read only from regular files of our own, streamed, and
 * written to a temporary file that replaces the old one once it is on disk. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "escape.h"
#include "event-names.h"
#include "log.h"
#include "state.h"

#define TASKS_FILE "tasks"
/* Format 1: numbers for the event mask and kind, fields by position. Format 2: "key=value" fields,
 * names for the mask bits and the kind; a reader skips keys it does not know. */
#define TASKS_FORMAT 2
#define TASKS_HEADER "# inotaskd scheduled tasks, format "
#define SNAPSHOT_HEADER "# inotaskd snapshot, format 1"

static void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

/* Opens path for reading if it is a regular file of ours that nobody else may write: 1 with *ret set,
 * 0 when there is none or it is refused (that is logged: the daemon goes on without it). */
static int open_state_file(const char *path, FILE **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        FILE *f;

        *ret = NULL;
        /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                if (errno == ELOOP)
                        return log_error("State file %s is a symbolic link, not reading it.", path), 0;
                return log_error_errno(-errno, "Failed to open state file %s, not reading it: %m", path), 0;
        }
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "Failed to stat state file %s, not reading it: %m", path), 0;
        if (!S_ISREG(st.st_mode))
                return log_error("State file %s is not a regular file, not reading it.", path), 0;
        if (st.st_uid != geteuid())
                return log_error("State file %s is owned by uid %u, not by us (uid %u), not reading it.", path,
                                 (unsigned) st.st_uid, (unsigned) geteuid()), 0;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return log_error("State file %s is writable by group or others (mode %04o), not reading it.",
                                 path, (unsigned) (st.st_mode & 07777)), 0;
        f = fdopen(fd, "r");
        if (!f)
                return log_error_errno(-errno, "Failed to read state file %s, not reading it: %m", path), 0;
        TAKE_FD(fd);
        *ret = f;
        return 1;
}

/* Writes dir/name through fill(): into a temporary file that is synced and then renamed over the old
 * one, and the directory synced, so that a failed save (a full disk) leaves the previous file whole. */
static int write_atomic(const char *dir, const char *name, int (*fill)(FILE *f, void *userdata),
                        void *userdata) {
        g_autofree char *tmp = g_strconcat(".", name, ".new", NULL);
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_(fclosep) FILE *f = NULL;
        int fd, r;

        if (g_mkdir_with_parents(dir, 0700) < 0)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        (void) unlinkat(dfd, tmp, 0);   /* left by a crash */
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                (void) close(fd);
                goto fail;
        }
        (void) setvbuf(f, NULL, _IOFBF, 64 * 1024);
        r = fill(f, userdata);
        if (r < 0)
                goto fail;
        errno = 0;
        if (fflush(f) != 0 || ferror(f)) {
                r = errno > 0 ? -errno : -EIO;
                goto fail;
        }
        if (fsync(fileno(f)) < 0) {
                r = -errno;
                goto fail;
        }
        r = fclose(TAKE_PTR(f));
        if (r != 0) {
                r = -errno;
                goto fail;
        }
        if (renameat(dfd, tmp, dfd, name) < 0) {
                r = -errno;
                goto fail;
        }
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
fail:
        (void) unlinkat(dfd, tmp, 0);
        return r;
}

static int fill_error(FILE *f) {
        return ferror(f) ? (errno > 0 ? -errno : -EIO) : 0;
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

/* Writes v escaped; plain text (most paths) as it is, without an allocation. */
static void put_escaped(FILE *f, const char *v) {
        size_t len = strlen(v);
        g_autofree char *e = NULL;

        if (display_is_plain(v, len)) {
                (void) fwrite(v, 1, len, f);
                return;
        }
        e = escape_display(v, len);
        (void) fputs(e, f);
}

/* "\tkey=value", nothing when v is NULL. */
static void put_field(FILE *f, const char *key, const char *v) {
        if (!v)
                return;
        (void) fprintf(f, "\t%s=", key);
        put_escaped(f, v);
}

static void save_one(Task *t, void *userdata) {
        FILE *f = userdata;
        char mask[EVENT_MASK_STRING_MAX];

        /* A running unit task goes on without us: a "running" line (which readers before it skip) lets
         * the next start find its unit. */
        if (t->state == TASK_RUNNING && t->unit_name) {
                (void) fprintf(f, "running\tid=%" PRIu64 "\tcreated=%" PRIu64 "\tstarted=%" PRIu64, t->id,
                               t->created_usec, t->started_usec);
                put_field(f, "unit", t->unit_name);
        } else if (t->state != TASK_SCHEDULED)
                return;
        else
                (void) fprintf(f, "task\tid=%" PRIu64 "\tcreated=%" PRIu64 "\tdue=%" PRIu64, t->id,
                               t->created_usec, t->due_usec);
        put_field(f, "mask", t->mask ? event_mask_to_string(t->mask, mask) : NULL);
        put_field(f, "kind", event_kind_to_string(t->kind));
        put_field(f, "rule", t->rule->name);
        put_field(f, "watch", t->watch);
        put_field(f, "path", t->path);
        put_field(f, "src", t->src_path);
        put_field(f, "event", t->event_name);
        put_field(f, "item", t->item);
        for (size_t i = 0; i < t->n_groups; i++)
                put_field(f, "group", strempty(t->groups[i]));
        /* A batch's paths: each "bpath=" ends an entry, the "bmask=", "bkind=", "bevent=" before it are its
         * latest event. A reader that does not know them restores the task with its first path. */
        for (size_t i = 0; i < task_batch_size(t->batch); i++) {
                const BatchEntry *e = task_batch_get(t->batch, i);

                put_field(f, "bmask", e->mask ? event_mask_to_string(e->mask, mask) : NULL);
                put_field(f, "bkind", event_kind_to_string(e->kind));
                put_field(f, "bevent", e->event_name);
                put_field(f, "bpath", e->path);
        }
        (void) fputc('\n', f);
}

static int fill_tasks(FILE *f, void *userdata) {
        Scheduler *s = userdata;

        (void) fprintf(f, TASKS_HEADER "%d\nnext-id\t%" PRIu64 "\n", TASKS_FORMAT, scheduler_get_next_id(s));
        scheduler_foreach(s, save_one, f);
        return fill_error(f);
}

int state_save_tasks(const char *dir, Scheduler *s) {
        SchedulerStats st;
        int r;

        r = write_atomic(dir, TASKS_FILE, fill_tasks, s);
        if (r < 0)
                return r;
        scheduler_get_stats(s, &st);
        return (int) MIN(st.n_scheduled, (unsigned) INT_MAX);
}

/* A field's value unescaped; NULL when it is malformed, or empty (unset) unless empty_ok. An embedded NUL
 * cannot be a path. */
static char *unescape_value(const char *v, bool empty_ok) {
        size_t len;
        char *u = unescape_display(v, &len);

        if (u && ((len == 0 && !empty_ok) || strlen(u) != len)) {
                g_free(u);
                return NULL;
        }
        return u;
}

/* "IN_CLOSE_WRITE|IN_ISDIR": bits this version does not know are left out. */
static uint32_t parse_mask(const char *v) {
        g_auto(GStrv) names = g_strsplit(v, "|", -1);
        uint32_t mask = 0;

        for (char **n = names; *n; n++) {
                uint32_t m = 0, k = 0;

                if (event_name_parse(*n, &m, &k) < 0)
                        continue;
                mask |= m | ((k & EVENT_KIND_BIT(EVENT_KIND_OVERFLOW)) ? IN_Q_OVERFLOW : 0U);
        }
        return mask;
}

/* Format 1: "ID\tCREATED\tDUE\tMASK\tKIND\tRULE\tWATCH\tPATH\tSRC\tEVENT\tITEM[\tGROUP...]". */
static TaskSeed *parse_task_v1(char **f, size_t n) {
        TaskSeed *seed;

        if (n < 11)
                return NULL;
        seed = g_new0(TaskSeed, 1);
        seed->id = g_ascii_strtoull(f[0], NULL, 10);
        seed->created_usec = g_ascii_strtoull(f[1], NULL, 10);
        seed->due_usec = g_ascii_strtoull(f[2], NULL, 10);
        seed->mask = (uint32_t) g_ascii_strtoull(f[3], NULL, 10);
        seed->kind = (EventKind) MIN(g_ascii_strtoull(f[4], NULL, 10), (guint64) _EVENT_KIND_MAX);
        seed->rule = unescape_value(f[5], false);
        seed->watch = unescape_value(f[6], false);
        seed->path = unescape_value(f[7], false);
        seed->src_path = unescape_value(f[8], false);
        seed->event_name = unescape_value(f[9], false);
        seed->item = unescape_value(f[10], false);
        if (n > 11) {
                seed->groups = g_new0(char *, n - 11 + 1);
                for (size_t i = 11; i < n; i++)
                        seed->groups[i - 11] = unescape_value(f[i], true) ?: g_strdup("");
        }
        return seed;
}

/* Format 2: "task" and key=value fields in any order. */
static TaskSeed *parse_task_v2(char **f, size_t n) {
        g_autoptr(GPtrArray) groups = g_ptr_array_new();
        TaskSeed *seed;
        uint32_t bmask = 0;
        EventKind bkind = EVENT_KIND_NONE;
        g_autofree char *bevent = NULL;

        if (n < 1 || (!streq(f[0], "task") && !streq(f[0], "running")))
                return NULL;
        seed = g_new0(TaskSeed, 1);
        seed->kind = EVENT_KIND_NONE;
        for (size_t i = 1; i < n; i++) {
                char *eq = strchr(f[i], '='), **slot = NULL;
                const char *v;

                if (!eq)
                        continue;
                *eq = '\0';
                v = eq + 1;
                if (streq(f[i], "id"))
                        seed->id = g_ascii_strtoull(v, NULL, 10);
                else if (streq(f[i], "created"))
                        seed->created_usec = g_ascii_strtoull(v, NULL, 10);
                else if (streq(f[i], "due"))
                        seed->due_usec = g_ascii_strtoull(v, NULL, 10);
                else if (streq(f[i], "started"))
                        seed->started_usec = g_ascii_strtoull(v, NULL, 10);
                else if (streq(f[i], "mask"))
                        seed->mask = parse_mask(v);
                else if (streq(f[i], "kind")) {
                        seed->kind = event_kind_from_string(v);
                        if (seed->kind == EVENT_KIND_NONE && !streq(v, "none"))
                                seed->kind = _EVENT_KIND_MAX;   /* unknown: the task is refused */
                } else if (streq(f[i], "rule"))
                        slot = &seed->rule;
                else if (streq(f[i], "watch"))
                        slot = &seed->watch;
                else if (streq(f[i], "path"))
                        slot = &seed->path;
                else if (streq(f[i], "src"))
                        slot = &seed->src_path;
                else if (streq(f[i], "event"))
                        slot = &seed->event_name;
                else if (streq(f[i], "item"))
                        slot = &seed->item;
                else if (streq(f[i], "unit") && streq(f[0], "running"))
                        slot = &seed->unit;
                else if (streq(f[i], "group"))
                        g_ptr_array_add(groups, unescape_value(v, true) ?: g_strdup(""));
                else if (streq(f[i], "bmask"))
                        bmask = parse_mask(v);
                else if (streq(f[i], "bkind"))
                        bkind = event_kind_from_string(v);
                else if (streq(f[i], "bevent")) {
                        g_free(bevent);
                        bevent = unescape_value(v, false);
                } else if (streq(f[i], "bpath")) {
                        g_autofree char *p = unescape_value(v, false);

                        if (!seed->batch)
                                seed->batch = task_batch_new();
                        if (p)
                                (void) task_batch_add(seed->batch, p, bmask, bkind, strempty(bevent));
                        bmask = 0;
                        bkind = EVENT_KIND_NONE;
                        g_clear_pointer(&bevent, g_free);
                }
                if (slot) {
                        g_free(*slot);
                        *slot = unescape_value(v, false);
                }
        }
        if (groups->len > 0) {
                g_ptr_array_add(groups, NULL);
                seed->groups = (char **) g_ptr_array_free(TAKE_PTR(groups), false);
        }
        if (streq(f[0], "running") && !seed->unit)
                seed->id = 0;   /* refused as malformed */
        return seed;
}

/* Splits line at its tabs, in place, into fields (reused from line to line: no allocation per line). */
static void split_tabs(char *line, GPtrArray *fields) {
        g_ptr_array_set_size(fields, 0);
        for (char *p = line;;) {
                char *tab = strchr(p, '\t');

                g_ptr_array_add(fields, p);
                if (!tab)
                        break;
                *tab = '\0';
                p = tab + 1;
        }
}

static gint seed_compare_due(gconstpointer a, gconstpointer b) {
        const TaskSeed *x = *(TaskSeed *const *) a, *y = *(TaskSeed *const *) b;

        if (x->due_usec != y->due_usec)
                return x->due_usec < y->due_usec ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

int state_load_tasks(const char *dir, GPtrArray **ret, uint64_t *ret_next_id) {
        g_autofree char *path = g_build_filename(dir, TASKS_FILE, NULL);
        g_autoptr(GPtrArray) seeds = g_ptr_array_new_with_free_func((GDestroyNotify) task_seed_free);
        g_autoptr(GPtrArray) fields = g_ptr_array_new();
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned format = 1, n_bad = 0;
        bool first = true;
        ssize_t len;

        *ret_next_id = 0;
        if (open_state_file(path, &f) <= 0) {
                *ret = TAKE_PTR(seeds);
                return 0;
        }
        errno = 0;
        while ((len = getline(&line, &size, f)) >= 0) {
                TaskSeed *seed;
                char **fv;
                size_t n;

                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                if (first && g_str_has_prefix(line, TASKS_HEADER)) {
                        format = (unsigned) g_ascii_strtoull(line + strlen(TASKS_HEADER), NULL, 10);
                        if (format > TASKS_FORMAT)
                                log_notice("%s: written in format %u by a newer version, reading what format "
                                           "%d knows.", path, format, TASKS_FORMAT);
                }
                first = false;
                if (!*line || *line == '#')
                        continue;
                if (g_str_has_prefix(line, "next-id\t")) {
                        *ret_next_id = g_ascii_strtoull(line + strlen("next-id\t"), NULL, 10);
                        continue;
                }
                split_tabs(line, fields);
                fv = (char **) fields->pdata;
                n = fields->len;
                seed = format <= 1 ? parse_task_v1(fv, n) : parse_task_v2(fv, n);
                if (!seed || seed->id == 0 || !seed->rule || !seed->watch || !seed->path ||
                    seed->kind >= _EVENT_KIND_MAX) {
                        n_bad++;
                        task_seed_free(seed);
                        continue;
                }
                g_ptr_array_add(seeds, seed);
        }
        if (ferror(f))
                return -(errno > 0 ? errno : EIO);
        if (n_bad > 0)
                log_warning("%s: %u malformed tasks, ignoring them.", path, n_bad);
        /* In due order, so that each rule's queue takes them at its tail. */
        g_ptr_array_sort(seeds, seed_compare_due);
        *ret = TAKE_PTR(seeds);
        return 0;
}

static char *snapshot_path(const char *dir, const char *watch) {
        g_autofree char *name = g_strconcat("snapshot-", watch, NULL);

        return g_build_filename(dir, name, NULL);
}

/* One line per entry below n, "d\tRELPATH\n" or "f\tRELPATH\n", RELPATH escaped; rel holds n's relpath
 * with a trailing '/' ("" for the root). */
static void snapshot_node(const WatchNode *n, GString *rel, FILE *f) {
        size_t base = rel->len;
        WatchChildIter i;
        WatchNode *v;

        if (n->files) {
                WatchFileIter fi;
                const char *name;

                watch_file_iter_init(&fi, n);
                while (watch_file_iter_next(&fi, &name)) {
                        g_string_append(rel, name);
                        (void) fputs("f\t", f);
                        put_escaped(f, rel->str);
                        (void) fputc('\n', f);
                        g_string_truncate(rel, base);
                }
        }
        watch_child_iter_init(&i, n);
        while ((v = watch_child_iter_next(&i))) {
                g_string_append(rel, watch_node_name(v));
                (void) fputs("d\t", f);
                put_escaped(f, rel->str);
                (void) fputc('\n', f);
                g_string_append_c(rel, '/');
                snapshot_node(v, rel, f);
                g_string_truncate(rel, base);
        }
}

typedef struct SnapshotContext {
        const Watch *w;
        usec_t when;
} SnapshotContext;

static int fill_snapshot(FILE *f, void *userdata) {
        const SnapshotContext *c = userdata;
        g_autoptr(GString) rel = g_string_new(NULL);

        (void) fprintf(f, SNAPSHOT_HEADER "\n%" PRIu64 "\t", c->when);
        put_escaped(f, c->w->path);
        (void) fputc('\n', f);
        if (c->w->root && c->w->active)
                snapshot_node(c->w->root, rel, f);
        return fill_error(f);
}

int state_save_snapshot(const char *dir, const Watch *w, usec_t when) {
        g_autofree char *name = g_strconcat("snapshot-", w->name, NULL);
        SnapshotContext c = { .w = w, .when = when };

        return write_atomic(dir, name, fill_snapshot, &c);
}

int state_load_snapshot(const char *dir, const char *watch, const char *path, GHashTable **ret, usec_t *ret_time) {
        g_autofree char *file = snapshot_path(dir, watch);
        g_autoptr(GHashTable) known = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        usec_t when = 0;
        bool header = false;
        ssize_t len;

        *ret = NULL;
        if (open_state_file(file, &f) <= 0)
                return 0;
        known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        errno = 0;
        while ((len = getline(&line, &size, f)) >= 0) {
                char *tab;
                g_autofree char *v = NULL;

                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                tab = strchr(line, '\t');
                if (!*line || *line == '#' || !tab)
                        continue;
                v = unescape_value(tab + 1, false);
                if (!v)
                        continue;
                if (!header) {
                        header = true;
                        when = g_ascii_strtoull(line, NULL, 10);
                        if (!streq(v, path))
                                return 0;
                        continue;
                }
                if (tab - line != 1 || (*line != 'd' && *line != 'f'))
                        continue;
                g_hash_table_insert(known, TAKE_PTR(v), GINT_TO_POINTER(*line == 'd'));
        }
        if (ferror(f))
                return -(errno > 0 ? errno : EIO);
        if (!header)
                return 0;
        *ret = TAKE_PTR(known);
        *ret_time = when;
        return 0;
}
