/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Paths followed through the directories that exist: each watch's path gets guards, a watched directory
 * and the one entry in it that matters (the next component of a missing path, the name of a link); any
 * event on a guard's entry, or on the guarded directory itself, makes the path be looked at again. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "watch-wait.h"

/* Links followed from Path= to what it names (a link to a link ...), as the kernel's 40 is far more
 * than a deployment's "current" needs. */
#define MAX_LINKS 8U
/* Rounds of "watch the guards, look again" before giving up on a path that keeps changing. */
#define MAX_ROUNDS 8U
/* Attempts to attach what the path still resolves to after the backend failed to (or lost it), before
 * waiting for the next change: a path that exists but cannot be watched must not spin the loop. */
#define MAX_RETRIES 3U
#define GUARD_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | \
                    IN_ONLYDIR)
#define BUFFER_SIZE (16U * 1024U)

typedef struct Guard {
        char *dir;
        char *name;
        int wd;                 /* -1 in a plan not yet watched */
} Guard;

typedef struct Entry {
        Watch *watch;
        GArray *guards;         /* Guard */
        bool exists;            /* what the path resolved to when last reported */
        dev_t dev;
        ino_t ino;
        unsigned retries;       /* attached again to the same thing without success */
        bool dirty;
} Entry;

struct WatchWaiter {
        sd_event *event;
        int fd;
        sd_event_source *io, *defer;
        GPtrArray *entries;     /* Entry* */
        GHashTable *wd_refs;    /* wd -> guards using it */
        WatchWaiterFunc callback;
        void *userdata;
        bool disabled;          /* stopping: nothing is attached any more */
        uint8_t *buffer;
};

static void guard_clear(Guard *g) {
        g_free(g->dir);
        g_free(g->name);
}

static GArray *plan_new(void) {
        GArray *a = g_array_new(false, true, sizeof(Guard));

        g_array_set_clear_func(a, (GDestroyNotify) guard_clear);
        return a;
}

static void plan_add(GArray *plan, const char *dir, const char *name) {
        Guard g = { .dir = g_strdup(dir), .name = g_strdup(name), .wd = -1 };

        g_array_append_val(plan, g);
}

static bool plan_equal(GArray *a, GArray *b) {
        if (a->len != b->len)
                return false;
        for (guint i = 0; i < a->len; i++) {
                Guard *x = &g_array_index(a, Guard, i), *y = &g_array_index(b, Guard, i);

                if (!streq(x->dir, y->dir) || !streq(x->name, y->name))
                        return false;
        }
        return true;
}

static bool is_dir(const char *path) {
        struct stat st;

        return stat(path, &st) >= 0 && S_ISDIR(st.st_mode);
}

/* The target of link (absolute, lexically normalized), or NULL. */
static char *link_target(const char *link) {
        g_autofree char *t = g_file_read_link(link, NULL), *dir = NULL, *abs = NULL;

        if (!t)
                return NULL;
        if (g_path_is_absolute(t))
                return g_canonicalize_filename(t, NULL);
        dir = g_path_get_dirname(link);
        abs = g_build_filename(dir, t, NULL);
        return g_canonicalize_filename(abs, NULL);
}

static void plan_path(GArray *plan, const char *path, unsigned depth);

/* path does not resolve: guard the nearest existing directory above it for the next component, or the
 * dangling link on the way there (which may get a target, or be replaced). */
static void plan_missing(GArray *plan, const char *path, unsigned depth) {
        g_autofree char *p = g_strdup(path);

        for (;;) {
                char *slash = strrchr(p, '/');
                struct stat st;

                if (!slash || slash[1] == 0)
                        return;
                if (slash == p) {
                        if (is_dir("/"))
                                plan_add(plan, "/", slash + 1);
                        return;
                }
                *slash = 0;
                if (is_dir(p)) {
                        plan_add(plan, p, slash + 1);
                        return;
                }
                if (lstat(p, &st) >= 0 && S_ISLNK(st.st_mode)) {
                        plan_path(plan, p, depth);
                        return;
                }
        }
}

/* The guards for path: none if it exists and is no link; its directory and name if it is a link (then
 * those of its target); the nearest existing directory if it is missing. */
static void plan_path(GArray *plan, const char *path, unsigned depth) {
        g_autofree char *dir = NULL, *base = NULL, *target = NULL;
        struct stat st;

        if (lstat(path, &st) < 0) {
                plan_missing(plan, path, depth);
                return;
        }
        if (!S_ISLNK(st.st_mode))
                return;
        dir = g_path_get_dirname(path);
        base = g_path_get_basename(path);
        plan_add(plan, dir, base);
        if (depth >= MAX_LINKS)
                return;
        target = link_target(path);
        if (target)
                plan_path(plan, target, depth + 1);
}

static char *existing_ancestor(const char *path) {
        g_autofree char *p = g_strdup(path);

        for (;;) {
                char *slash = strrchr(p, '/');

                if (!slash || slash == p)
                        return g_strdup("/");
                *slash = 0;
                if (is_dir(p))
                        return TAKE_PTR(p);
        }
}

void watch_wait_warn_missing(const Config *c) {
        for (guint i = 0; i < c->watches->len; i++) {
                const ConfigWatch *cw = c->watches->pdata[i];
                g_autofree char *up = NULL;
                struct stat st;

                if (stat(cw->path, &st) >= 0 || (errno != ENOENT && errno != ENOTDIR))
                        continue;
                up = existing_ancestor(cw->path);
                log_warning("%s:%u: Path: %s does not exist yet; it is watched once it appears (nearest "
                            "existing directory: %s).", cw->path_file ?: cw->file,
                            cw->path_file ? cw->path_line : cw->line, cw->path, up);
        }
}

/* ------------------------------------------------------------------ kernel watches, shared by wd */

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* The inotify instance, made when the first path needs one: most configurations never wait. */
static int ensure_fd(WatchWaiter *ww) {
        int r;

        if (ww->fd >= 0)
                return 0;
        ww->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ww->fd < 0)
                return log_error_errno(errno, "Failed to create inotify instance for waiting watches: %m");
        r = sd_event_add_io(ww->event, &ww->io, ww->fd, EPOLLIN, on_io, ww);
        if (r < 0)
                return log_error_errno(r, "Failed to add inotify event source for waiting watches: %m");
        (void) sd_event_source_set_description(ww->io, "inotify-wait");
        r = sd_event_source_set_exit_on_failure(ww->io, true);
        if (r >= 0 && ww->disabled)
                r = sd_event_source_set_enabled(ww->io, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up inotify event source for waiting watches: %m");
        return 0;
}

static int wd_ref(WatchWaiter *ww, const char *dir) {
        gpointer n;
        int wd, r;

        r = ensure_fd(ww);
        if (r < 0)
                return r;
        wd = inotify_add_watch(ww->fd, dir, GUARD_MASK);
        if (wd < 0)
                return -errno;
        n = g_hash_table_lookup(ww->wd_refs, GINT_TO_POINTER(wd));
        g_hash_table_insert(ww->wd_refs, GINT_TO_POINTER(wd), GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
        return wd;
}

static void wd_unref(WatchWaiter *ww, int wd) {
        guint n;

        if (wd < 0 || !g_hash_table_contains(ww->wd_refs, GINT_TO_POINTER(wd)))
                return;
        n = GPOINTER_TO_UINT(g_hash_table_lookup(ww->wd_refs, GINT_TO_POINTER(wd)));
        if (n > 1) {
                g_hash_table_insert(ww->wd_refs, GINT_TO_POINTER(wd), GUINT_TO_POINTER(n - 1));
                return;
        }
        g_hash_table_remove(ww->wd_refs, GINT_TO_POINTER(wd));
        (void) inotify_rm_watch(ww->fd, wd);
}

static void guards_release(WatchWaiter *ww, GArray *guards) {
        for (guint i = 0; guards && i < guards->len; i++)
                wd_unref(ww, g_array_index(guards, Guard, i).wd);
}

/* ------------------------------------------------------------------ entries */

static Entry *entry_free(WatchWaiter *ww, Entry *e) {
        if (!e)
                return NULL;
        guards_release(ww, e->guards);
        if (e->guards)
                g_array_unref(e->guards);
        g_free(e);
        return NULL;
}

static Entry *find_entry(WatchWaiter *ww, const Watch *w, guint *ret_index) {
        for (guint i = 0; i < ww->entries->len; i++) {
                Entry *e = ww->entries->pdata[i];

                if (e->watch == w) {
                        if (ret_index)
                                *ret_index = i;
                        return e;
                }
        }
        return NULL;
}

/* Watches e's guards, then plans again: a component that appeared before its directory was watched
 * would otherwise go unseen. New guards are watched before the old ones are let go. */
static void entry_guard(WatchWaiter *ww, Entry *e) {
        for (unsigned round = 0; round < MAX_ROUNDS; round++) {
                g_autoptr(GArray) plan = plan_new(), again = plan_new();

                plan_path(plan, e->watch->path, 0);
                for (guint i = 0; i < plan->len; i++) {
                        Guard *g = &g_array_index(plan, Guard, i);

                        g->wd = wd_ref(ww, g->dir);
                        if (g->wd < 0 && g->wd != -ENOENT && g->wd != -ENOTDIR)
                                log_warning_errno(g->wd, "Watch %s: cannot watch %s for %s to appear, "
                                                  "ignoring: %m", e->watch->name, g->dir, e->watch->path);
                }
                guards_release(ww, e->guards);
                if (e->guards)
                        g_array_unref(e->guards);
                e->guards = g_array_ref(plan);

                plan_path(again, e->watch->path, 0);
                if (plan_equal(plan, again))
                        return;
        }
}

static bool resolve(const char *path, struct stat *st) {
        return stat(path, st) >= 0;
}

/* Looks at e's path: guards it anew and reports a change. */
static void entry_check(WatchWaiter *ww, Entry *e) {
        struct stat st;
        bool exists;

        e->dirty = false;
        entry_guard(ww, e);
        exists = resolve(e->watch->path, &st);
        if (exists == e->exists && (!exists || (st.st_dev == e->dev && st.st_ino == e->ino))) {
                if (!exists || e->watch->active || e->retries >= MAX_RETRIES)
                        return;
                e->retries++;
        } else
                e->retries = 0;
        e->exists = exists;
        e->dev = exists ? st.st_dev : 0;
        e->ino = exists ? st.st_ino : 0;
        ww->callback(ww, e->watch, exists, ww->userdata);
}

static void check_dirty(WatchWaiter *ww) {
        if (ww->disabled)
                return;
        /* The callback attaches and detaches watches, never adds or removes entries. */
        for (guint i = 0; i < ww->entries->len; i++) {
                Entry *e = ww->entries->pdata[i];

                if (e->dirty)
                        entry_check(ww, e);
        }
}

static void mark(WatchWaiter *ww, const struct inotify_event *ev) {
        bool self = ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED);
        const char *name = ev->len > 0 ? ev->name : NULL;

        if (ev->mask & IN_IGNORED)
                /* The kernel dropped it: nothing to remove any more. */
                g_hash_table_remove(ww->wd_refs, GINT_TO_POINTER(ev->wd));
        for (guint i = 0; i < ww->entries->len; i++) {
                Entry *e = ww->entries->pdata[i];

                for (guint k = 0; k < e->guards->len; k++) {
                        Guard *g = &g_array_index(e->guards, Guard, k);

                        if (g->wd != ev->wd)
                                continue;
                        if (ev->mask & IN_IGNORED)
                                g->wd = -1;
                        if (self || (name && streq(name, g->name)))
                                e->dirty = true;
                }
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WatchWaiter *ww = userdata;
        ssize_t l;

        l = read(fd, ww->buffer, BUFFER_SIZE);
        if (l < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                return log_error_errno(errno, "Failed to read inotify events for waiting watches: %m");
        }
        for (uint8_t *p = ww->buffer; p < ww->buffer + l;) {
                const struct inotify_event *ev = (const struct inotify_event *) p;

                if (ev->mask & IN_Q_OVERFLOW)
                        /* Anything may have happened: look at every path. */
                        for (guint i = 0; i < ww->entries->len; i++)
                                ((Entry *) ww->entries->pdata[i])->dirty = true;
                else
                        mark(ww, ev);
                p += sizeof(struct inotify_event) + ev->len;
        }
        check_dirty(ww);
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
        check_dirty(userdata);
        return 0;
}

/* ------------------------------------------------------------------ the waiter */

int watch_waiter_new(WatchWaiter **ret, sd_event *e, WatchWaiterFunc callback, void *userdata) {
        _cleanup_(watch_waiter_freep) WatchWaiter *ww = g_new0(WatchWaiter, 1);
        int r;

        ww->fd = -1;
        ww->event = sd_event_ref(e);
        ww->callback = callback;
        ww->userdata = userdata;
        ww->entries = g_ptr_array_new();
        ww->wd_refs = g_hash_table_new(g_direct_hash, g_direct_equal);
        ww->buffer = g_malloc(BUFFER_SIZE);

        r = sd_event_add_defer(e, &ww->defer, on_defer, ww);
        if (r >= 0)
                r = sd_event_source_set_enabled(ww->defer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event sources for waiting watches: %m");
        (void) sd_event_source_set_description(ww->defer, "inotify-wait-recheck");

        *ret = TAKE_PTR(ww);
        return 0;
}

WatchWaiter *watch_waiter_free(WatchWaiter *ww) {
        if (!ww)
                return NULL;
        ww->io = sd_event_source_disable_unref(ww->io);
        ww->defer = sd_event_source_disable_unref(ww->defer);
        if (ww->entries) {
                for (guint i = 0; i < ww->entries->len; i++)
                        entry_free(ww, ww->entries->pdata[i]);
                g_ptr_array_unref(ww->entries);
        }
        if (ww->wd_refs)
                g_hash_table_unref(ww->wd_refs);
        /* Closing the fd drops every kernel watch at once. */
        ww->fd = safe_close(ww->fd);
        sd_event_unref(ww->event);
        g_free(ww->buffer);
        g_free(ww);
        return NULL;
}

int watch_waiter_add(WatchWaiter *ww, Watch *w) {
        Entry *e = g_new0(Entry, 1);
        struct stat st;

        e->watch = w;
        g_ptr_array_add(ww->entries, e);
        /* Guards first: what appears after this is reported. */
        entry_guard(ww, e);
        e->exists = resolve(w->path, &st);
        e->dev = e->exists ? st.st_dev : 0;
        e->ino = e->exists ? st.st_ino : 0;
        return e->exists;
}

void watch_waiter_remove(WatchWaiter *ww, Watch *w) {
        guint i;
        Entry *e = find_entry(ww, w, &i);

        if (!e)
                return;
        g_ptr_array_remove_index(ww->entries, i);
        entry_free(ww, e);
}

void watch_waiter_recheck(WatchWaiter *ww, Watch *w) {
        Entry *e = find_entry(ww, w, NULL);

        if (!e)
                return;
        e->dirty = true;
        (void) sd_event_source_set_enabled(ww->defer, SD_EVENT_ONESHOT);
}

const char *watch_waiter_waiting_on(WatchWaiter *ww, const Watch *w) {
        Entry *e = find_entry(ww, w, NULL);

        if (!e || e->exists || e->guards->len == 0)
                return NULL;
        return g_array_index(e->guards, Guard, e->guards->len - 1).dir;
}

int watch_waiter_set_enabled(WatchWaiter *ww, bool enabled) {
        ww->disabled = !enabled;
        if (enabled)
                (void) sd_event_source_set_enabled(ww->defer, SD_EVENT_ONESHOT);
        if (!ww->io)
                return 0;
        return sd_event_source_set_enabled(ww->io, enabled ? SD_EVENT_ON : SD_EVENT_OFF);
}
