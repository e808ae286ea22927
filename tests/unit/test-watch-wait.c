/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the waiter on a real sd-event loop: a missing path is reported when it appears (also
 * after an ancestor came and went), a recheck reports it gone, a link is reported when it is replaced,
 * and a path that exists and is no link costs no inotify instance. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "time-util.h"
#include "watch-wait.h"

#define DEADLINE_USEC (10 * USEC_PER_SEC)

typedef struct Seen {
        unsigned n;
        bool exists;
} Seen;

static void on_change(WatchWaiter *ww, Watch *w, bool exists, void *userdata) {
        Seen *s = userdata;

        s->n++;
        s->exists = exists;
        /* As a backend would: attached while it exists. */
        w->active = exists;
}

/* Runs the loop until s has seen n reports (or the deadline passes). */
static void run_until(sd_event *e, Seen *s, unsigned n) {
        usec_t until = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

        while (s->n < n && now_usec(CLOCK_MONOTONIC) < until)
                g_assert_cmpint(sd_event_run(e, 100 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpuint(s->n, ==, n);
}

/* Handles what is queued: inotify events are queued by the system call that caused them. */
static void drain(sd_event *e) {
        while (sd_event_run(e, 0) > 0)
                ;
}

static unsigned count_inotify_fds(void) {
        g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
        const char *name;
        unsigned n = 0;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename("/proc/self/fd", name, NULL);
                g_autofree char *target = g_file_read_link(p, NULL);

                n += target && streq(target, "anon_inode:inotify");
        }
        return n;
}

static Watch *new_watch(const char *path) {
        ConfigWatch cw = { .name = (char *) "t", .path = (char *) path };
        Watch *w = NULL;

        g_assert_cmpint(watch_new(&w, &cw), ==, 0);
        return w;
}

static void rm_rf(const char *path) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

        g_assert_cmpint(system(cmd), ==, 0);
}

static void test_missing_appears_and_goes(void) {
        g_autofree char *dir = g_dir_make_tmp("test-watch-wait.XXXXXX", NULL);
        g_autofree char *a = g_build_filename(dir, "a", NULL);
        g_autofree char *ab = g_build_filename(dir, "a", "b", NULL);
        g_autofree char *path = g_build_filename(dir, "a", "b", "w", NULL);
        _cleanup_(watch_freep) Watch *w = new_watch(path);
        sd_event *e = NULL;
        WatchWaiter *ww = NULL;
        Seen s = {};

        g_assert_cmpint(sd_event_new(&e), >=, 0);
        g_assert_cmpint(watch_waiter_new(&ww, e, on_change, &s), ==, 0);
        g_assert_cmpint(watch_waiter_add(ww, w), ==, 0);
        g_assert_cmpstr(watch_waiter_waiting_on(ww, w), ==, dir);

        /* An ancestor that comes and goes moves the guard down and back up. */
        g_assert_cmpint(g_mkdir_with_parents(ab, 0755), ==, 0);
        drain(e);
        g_assert_cmpstr(watch_waiter_waiting_on(ww, w), ==, ab);
        rm_rf(a);
        drain(e);
        g_assert_cmpstr(watch_waiter_waiting_on(ww, w), ==, dir);
        g_assert_cmpuint(s.n, ==, 0);

        g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
        run_until(e, &s, 1);
        g_assert_true(s.exists);

        /* A plain directory that exists has no guard: the backend says when it lost it. */
        rm_rf(a);
        watch_waiter_recheck(ww, w);
        run_until(e, &s, 2);
        g_assert_false(s.exists);

        ww = watch_waiter_free(ww);
        e = sd_event_unref(e);
        rm_rf(dir);
}

static void test_link_replaced(void) {
        g_autofree char *dir = g_dir_make_tmp("test-watch-wait.XXXXXX", NULL);
        g_autofree char *r1 = g_build_filename(dir, "r1", NULL);
        g_autofree char *r2 = g_build_filename(dir, "r2", NULL);
        g_autofree char *cur = g_build_filename(dir, "current", NULL);
        g_autofree char *tmp = g_build_filename(dir, ".current.tmp", NULL);
        _cleanup_(watch_freep) Watch *w = new_watch(cur);
        sd_event *e = NULL;
        WatchWaiter *ww = NULL;
        Seen s = {};

        g_assert_cmpint(g_mkdir(r1, 0755), ==, 0);
        g_assert_cmpint(g_mkdir(r2, 0755), ==, 0);
        g_assert_cmpint(symlink("r1", cur), ==, 0);
        g_assert_cmpint(sd_event_new(&e), >=, 0);
        g_assert_cmpint(watch_waiter_new(&ww, e, on_change, &s), ==, 0);
        g_assert_cmpint(watch_waiter_add(ww, w), ==, 1);
        w->active = true;

        /* Something else in the link's directory is not a change. */
        g_assert_cmpint(g_mkdir(tmp, 0755), ==, 0);
        g_assert_cmpint(g_rmdir(tmp), ==, 0);
        drain(e);
        g_assert_cmpuint(s.n, ==, 0);

        /* ln -sfn r2 current */
        g_assert_cmpint(symlink("r2", tmp), ==, 0);
        g_assert_cmpint(rename(tmp, cur), ==, 0);
        run_until(e, &s, 1);
        g_assert_true(s.exists);

        ww = watch_waiter_free(ww);
        e = sd_event_unref(e);
        rm_rf(dir);
}

static void test_existing_costs_nothing(void) {
        g_autofree char *dir = g_dir_make_tmp("test-watch-wait.XXXXXX", NULL);
        _cleanup_(watch_freep) Watch *w = new_watch(dir);
        unsigned before = count_inotify_fds();
        sd_event *e = NULL;
        WatchWaiter *ww = NULL;
        Seen s = {};

        g_assert_cmpint(sd_event_new(&e), >=, 0);
        g_assert_cmpint(watch_waiter_new(&ww, e, on_change, &s), ==, 0);
        g_assert_cmpint(watch_waiter_add(ww, w), ==, 1);
        g_assert_null(watch_waiter_waiting_on(ww, w));
        g_assert_cmpuint(count_inotify_fds(), ==, before);
        watch_waiter_remove(ww, w);

        ww = watch_waiter_free(ww);
        e = sd_event_unref(e);
        rm_rf(dir);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/watch-wait/missing-appears-and-goes", test_missing_appears_and_goes);
        g_test_add_func("/watch-wait/link-replaced", test_link_replaced);
        g_test_add_func("/watch-wait/existing-costs-nothing", test_existing_costs_nothing);
        return g_test_run();
}
