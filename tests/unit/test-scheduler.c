/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scheduler on a real sd-event loop with a fake runner (runner.h): debounce, CancelOn=, IfRunning=
 * (queue, skip, parallel, restart), ForEach=, MaxRunningTasks=, cancelling a running task. */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>

#include "macro.h"
#include <glib.h>

#include "watch.h"
#include "batch.h"
#include "config.h"
#include "event.h"
#include "runner.h"
#include "scheduler.h"

#define DEADLINE_USEC (10 * USEC_PER_SEC)

/* A runner that runs nothing: it remembers what it was asked, and the test ends tasks when it likes. */
typedef struct FakeRunner {
        Runner runner;
        Scheduler *scheduler;
        GPtrArray *started;             /* Task*, in start order (borrowed: the history keeps them) */
        GPtrArray *stopped;             /* Task*, every stop asked for */
        unsigned n_kill;
        bool finish_on_cancel;          /* a cancel ends the task at once, as "cancelled" */
        int start_error;                /* returned by start once, if set */
} FakeRunner;

static int fake_start(Runner *r, Task *t) {
        FakeRunner *f = (FakeRunner *) r;
        int e = f->start_error;

        if (e) {
                f->start_error = 0;
                return e;
        }
        g_ptr_array_add(f->started, t);
        return 0;
}

static void fake_stop(Runner *r, Task *t, RunnerStop how) {
        FakeRunner *f = (FakeRunner *) r;

        g_ptr_array_add(f->stopped, t);
        if (how == RUNNER_STOP_KILL)
                f->n_kill++;
        else if (f->finish_on_cancel)
                scheduler_task_finished(f->scheduler, t, TASK_CANCELLED, "cancelled", 0);
}

static const RunnerOps fake_ops = { .name = "fake", .start = fake_start, .stop = fake_stop };

static Runner *fake_runner_for(const Task *t, void *userdata) {
        /* Plugins have no runner here: the scheduler fails such a task as "start-failed". */
        return t->rule->action == ACTION_PLUGIN ? NULL : userdata;
}

typedef struct Fixture {
        sd_event *event;
        Config *config;
        Scheduler *scheduler;
        FakeRunner fake;
        Watch watch;
} Fixture;

#define CONFIG_HEAD "[Watch w]\nPath=/srv/w\n\n"

static void fixture_setup(Fixture *f, const char *rules) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *text = g_strconcat(CONFIG_HEAD, rules, NULL);
        int r;

        r = config_load_string("test.conf", text, &f->config, errors);
        for (guint i = 0; i < errors->len; i++)
                g_test_message("%s", (char *) errors->pdata[i]);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        f->fake = (FakeRunner) {
                .runner.ops = &fake_ops,
                .started = g_ptr_array_new(),
                .stopped = g_ptr_array_new(),
                .finish_on_cancel = true,
        };
        g_assert_cmpint(scheduler_new(&f->scheduler, f->event, fake_runner_for, &f->fake), ==, 0);
        f->fake.scheduler = f->scheduler;
        f->watch = (Watch) { .name = (char *) "w", .path = (char *) "/srv/w" };
}

static void fixture_teardown(Fixture *f) {
        f->scheduler = scheduler_free(f->scheduler);
        g_ptr_array_unref(f->fake.started);
        g_ptr_array_unref(f->fake.stopped);
        f->config = config_free(f->config);
        f->event = sd_event_unref(f->event);
}

static ConfigRule *rule(Fixture *f, const char *name) {
        ConfigRule *r = (ConfigRule *) config_find_rule(f->config, name);

        g_assert_nonnull(r);
        return r;
}

/* An event for the file name in the watch, as the backend hands it over. */
static void event_on(Fixture *f, const char *rule_name, const char *name, uint32_t mask) {
        Event ev = {
                .watch = &f->watch,
                .mask = mask,
                .pathname = g_strconcat("/srv/w/", name, NULL),
                .relpath_offset = strlen("/srv/w/"),
        };

        scheduler_schedule(f->scheduler, rule(f, rule_name), &ev, NULL);
        event_done(&ev);
}

static void cancel_event_on(Fixture *f, const char *rule_name, const char *name) {
        Event ev = {
                .watch = &f->watch,
                .mask = IN_DELETE,
                .pathname = g_strconcat("/srv/w/", name, NULL),
                .relpath_offset = strlen("/srv/w/"),
        };

        scheduler_cancel_event(f->scheduler, rule(f, rule_name), &ev);
        event_done(&ev);
}

/* Runs the loop until cond holds; fails after the deadline. */
static void run_until(Fixture *f, bool (*cond)(Fixture *f, gconstpointer data), gconstpointer data) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

        while (!cond(f, data)) {
                g_assert_cmpuint(now_usec(CLOCK_MONOTONIC), <, end);
                g_assert_cmpint(sd_event_run(f->event, 10 * USEC_PER_MSEC), >=, 0);
        }
}

static bool n_started_is(Fixture *f, gconstpointer n) {
        return f->fake.started->len == GPOINTER_TO_UINT(n);
}

static Task *started(Fixture *f, guint i) {
        g_assert_cmpuint(i, <, f->fake.started->len);
        return f->fake.started->pdata[i];
}

static void finish(Fixture *f, Task *t) {
        scheduler_task_finished(f->scheduler, t, TASK_DONE, "success", 0);
}

static SchedulerStats stats(Fixture *f) {
        SchedulerStats s;

        scheduler_get_stats(f->scheduler, &s);
        return s;
}

/* Runs the loop until the scheduler has nothing waiting for its timer or its defer source. */
static bool none_scheduled(Fixture *f, gconstpointer data) {
        return stats(f).n_scheduled == 0;
}

/* ------------------------------------------------------------------ tests */

static void test_debounce(void) {
        Fixture f = {};
        usec_t second;
        Task *t;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE IN_ATTRIB\nDelaySec=0.2s\nExec=/bin/true\n");
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 1);
        /* Taken before the event: its delay starts when the scheduler reads the clock, a little later. */
        second = now_usec(CLOCK_MONOTONIC);
        event_on(&f, "r", "a", IN_ATTRIB);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 1);        /* the same task, its delay started again */
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - second, >=, 200 * USEC_PER_MSEC);
        t = started(&f, 0);
        g_assert_cmpuint(t->id, ==, 1);
        g_assert_cmpuint(t->mask, ==, IN_ATTRIB);              /* the latest event */
        g_assert_cmpint(t->state, ==, TASK_RUNNING);
        finish(&f, t);
        g_assert_cmpint(t->state, ==, TASK_DONE);
        g_assert_cmpuint(stats(&f).n_done, ==, 1);
        /* Another file is a task of its own. */
        event_on(&f, "r", "b", IN_CLOSE_WRITE);
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 2);
        fixture_teardown(&f);
}

static void test_cancel_on(void) {
        Fixture f = {};
        Task *gone;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nCancelOn=IN_DELETE\nDelaySec=0.1s\n"
                          "Exec=/bin/true\n");
        event_on(&f, "r", "gone", IN_CLOSE_WRITE);
        gone = scheduler_get(f.scheduler, 1);
        g_assert_nonnull(gone);
        cancel_event_on(&f, "r", "gone");
        g_assert_cmpint(gone->state, ==, TASK_CANCELLED);
        g_assert_cmpstr(gone->result, ==, "cancelled");
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 0);
        /* A CancelOn= event for a path without a task does nothing. */
        cancel_event_on(&f, "r", "never");
        /* A later file's task, due after the cancelled one would have been, is the only one to start. */
        event_on(&f, "r", "kept", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        g_assert_cmpstr(started(&f, 0)->path, ==, "/srv/w/kept");
        fixture_teardown(&f);
}

/* A renamed directory re-keys the tasks below it (ids and due times kept) and no others; a renamed file's
 * task re-keyed onto a key that has a task already is cancelled; a directory moved away cancels. */
static void test_follow(void) {
        Fixture f = {};
        Task *a, *b, *other, *t;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nDelaySec=0.1s\nExec=/bin/true\n");
        event_on(&f, "r", "d/a", IN_CLOSE_WRITE);
        event_on(&f, "r", "d/sub/b", IN_CLOSE_WRITE);
        event_on(&f, "r", "dd/c", IN_CLOSE_WRITE);
        a = scheduler_get(f.scheduler, 1);
        b = scheduler_get(f.scheduler, 2);
        other = scheduler_get(f.scheduler, 3);
        scheduler_rename_prefix(f.scheduler, "w", "/srv/w/d", "/srv/w/e", NULL, NULL);
        g_assert_cmpstr(a->path, ==, "/srv/w/e/a");
        g_assert_cmpstr(a->path + a->relpath_offset, ==, "e/a");
        g_assert_cmpstr(b->path, ==, "/srv/w/e/sub/b");
        g_assert_cmpstr(other->path, ==, "/srv/w/dd/c");          /* a sibling sharing the prefix */
        g_assert_true(scheduler_find(f.scheduler, rule(&f, "r"), NULL, "/srv/w/e/a") == a);
        g_assert_null(scheduler_find(f.scheduler, rule(&f, "r"), NULL, "/srv/w/d/a"));
        /* Another watch's rename does not touch them. */
        scheduler_rename_prefix(f.scheduler, "x", "/srv/w/e", "/srv/w/f", NULL, NULL);
        g_assert_cmpstr(a->path, ==, "/srv/w/e/a");
        /* Onto a key with a task: that one stays. */
        scheduler_rekey(f.scheduler, b, "/srv/w/e/a", NULL);
        g_assert_cmpint(b->state, ==, TASK_CANCELLED);
        g_assert_cmpint(a->state, ==, TASK_SCHEDULED);
        scheduler_cancel_below(f.scheduler, "w", "/srv/w/dd", "moved out of the watch");
        g_assert_cmpint(other->state, ==, TASK_CANCELLED);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 1);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        t = started(&f, 0);
        g_assert_true(t == a);
        g_assert_cmpuint(t->id, ==, 1);
        fixture_teardown(&f);
}

/* Paths ending in ".skip" no longer concern their rule; the others get their last component as a group. */
static bool fake_follows(const Task *t, const char *new_path, char ***ret_groups, const char **ret_why,
                         void *userdata) {
        if (g_str_has_suffix(new_path, ".skip")) {
                *ret_why = "no longer matched";
                return false;
        }
        *ret_groups = g_strsplit(strrchr(new_path, '/') + 1, "\n", -1);
        return true;
}

/* A directory's rename asks whether each task below still concerns its rule at the new path. */
static void test_follow_recheck(void) {
        Fixture f = {};
        Task *a, *b;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nDelaySec=0.1s\nExec=/bin/true\n");
        event_on(&f, "r", "d/a", IN_CLOSE_WRITE);
        event_on(&f, "r", "d/b.skip", IN_CLOSE_WRITE);
        a = scheduler_get(f.scheduler, 1);
        b = scheduler_get(f.scheduler, 2);
        scheduler_rename_prefix(f.scheduler, "w", "/srv/w/d", "/srv/w/e", fake_follows, NULL);
        g_assert_cmpstr(a->path, ==, "/srv/w/e/a");
        g_assert_cmpuint(a->n_groups, ==, 1);
        g_assert_cmpstr(a->groups[0], ==, "a");
        g_assert_cmpint(b->state, ==, TASK_CANCELLED);
        g_assert_cmpstr(b->result, ==, "cancelled");
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 1);
        fixture_teardown(&f);
}

/* The backend's drain: the first read after a task started brings a write to b (it came while the start
 * spawned). */
static void drain_writes_b(void *userdata) {
        Fixture *f = userdata;
        static bool done;

        if (f->fake.started->len == 1 && !done) {
                done = true;
                event_on(f, "r", "b", IN_CLOSE_WRITE);
        }
}

static bool started_any(Fixture *f, gconstpointer data) {
        return f->fake.started->len > 0;
}

/* Two tasks due at once: the queue is read again before the second starts, and the write found there
 * postpones it (it ran on the write, then again for its event: twice for one change). */
static void test_drain_between_starts(void) {
        Fixture f = {};
        Task *a, *b;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nDelaySec=0.2s\nExec=/bin/true\n");
        scheduler_set_listener(f.scheduler, &(SchedulerListener) { .before_due = drain_writes_b,
                                                                   .userdata = &f });
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        event_on(&f, "r", "b", IN_CLOSE_WRITE);
        a = scheduler_get(f.scheduler, 1);
        b = scheduler_get(f.scheduler, 2);
        run_until(&f, started_any, NULL);
        g_assert_true(f.fake.started->pdata[0] == a);
        /* Without the read between the starts, b started at once with a. */
        g_assert_cmpuint(f.fake.started->len, ==, 1);
        g_assert_cmpint(b->state, ==, TASK_SCHEDULED);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        g_assert_true(f.fake.started->pdata[1] == b);
        fixture_teardown(&f);
}

static bool fake_path_gone(const char *path, void *userdata) {
        return g_str_has_suffix(path, "/gone");
}

/* A task whose path is gone ends as "vanished" without starting, unless its rule runs on deletions. */
static void test_vanished(void) {
        Fixture f = {};
        Task *gone, *del;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nExec=/bin/true\n\n"
                          "[Rule d]\nWatch=w\nOn=IN_CLOSE_WRITE IN_DELETE\nExec=/bin/true\n");
        scheduler_set_listener(f.scheduler, &(SchedulerListener) { .path_gone = fake_path_gone });
        event_on(&f, "r", "gone", IN_CLOSE_WRITE);
        event_on(&f, "d", "gone", IN_CLOSE_WRITE);
        event_on(&f, "r", "kept", IN_CLOSE_WRITE);
        gone = scheduler_get(f.scheduler, 1);
        del = scheduler_get(f.scheduler, 2);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        run_until(&f, none_scheduled, NULL);
        g_assert_cmpint(gone->state, ==, TASK_CANCELLED);
        g_assert_cmpstr(gone->result, ==, "vanished");
        g_assert_cmpint(del->state, ==, TASK_RUNNING);
        g_assert_cmpstr(started(&f, 1)->path, ==, "/srv/w/kept");
        g_assert_cmpuint(f.fake.started->len, ==, 2);
        fixture_teardown(&f);
}

/* RunIfVanished=yes: a task whose path is gone runs anyway. */
static void test_run_if_vanished(void) {
        Fixture f = {};
        Task *t;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nRunIfVanished=yes\nExec=/bin/true\n");
        scheduler_set_listener(f.scheduler, &(SchedulerListener) { .path_gone = fake_path_gone });
        event_on(&f, "r", "gone", IN_CLOSE_WRITE);
        t = scheduler_get(f.scheduler, 1);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        g_assert_true(started(&f, 0) == t);
        g_assert_cmpint(t->state, ==, TASK_RUNNING);
        fixture_teardown(&f);
}

#define IF_RUNNING_RULE(mode) \
        "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE IN_ATTRIB\nIfRunning=" mode "\nExec=/bin/true\n"

static void test_if_running_queue(void) {
        Fixture f = {};
        Task *first, *next;

        fixture_setup(&f, IF_RUNNING_RULE("queue"));
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        first = started(&f, 0);
        /* Two events while it runs: one follow-up task, with the latest event, waiting for it. */
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        event_on(&f, "r", "a", IN_ATTRIB);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 1);
        for (int i = 0; i < 5; i++)
                g_assert_cmpint(sd_event_run(f.event, 0), >=, 0);
        g_assert_cmpuint(f.fake.started->len, ==, 1);
        next = scheduler_get(f.scheduler, first->id + 1);
        g_assert_nonnull(next);
        g_assert_cmpint(next->state, ==, TASK_SCHEDULED);
        g_assert_true(next->ready);
        finish(&f, first);
        g_assert_cmpuint(f.fake.started->len, ==, 2);          /* started as the first one ended */
        g_assert_true(started(&f, 1) == next);
        g_assert_cmpuint(next->mask, ==, IN_ATTRIB);
        g_assert_cmpuint(f.fake.stopped->len, ==, 0);
        fixture_teardown(&f);
}

static void test_if_running_skip(void) {
        Fixture f = {};

        fixture_setup(&f, IF_RUNNING_RULE("skip"));
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 0);        /* dropped */
        g_assert_null(scheduler_get(f.scheduler, 2));
        /* Another path is not skipped. */
        event_on(&f, "r", "b", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        finish(&f, started(&f, 0));
        /* Not running any more: the next event is a task again. */
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(3));
        fixture_teardown(&f);
}

static void test_if_running_parallel(void) {
        Fixture f = {};

        fixture_setup(&f, IF_RUNNING_RULE("parallel"));
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        g_assert_cmpuint(stats(&f).n_running, ==, 2);
        g_assert_cmpstr(started(&f, 0)->path, ==, started(&f, 1)->path);
        g_assert_cmpint(started(&f, 0)->state, ==, TASK_RUNNING);
        g_assert_cmpuint(f.fake.stopped->len, ==, 0);
        fixture_teardown(&f);
}

static void test_if_running_restart(void) {
        Fixture f = {};
        Task *first, *second;

        fixture_setup(&f, IF_RUNNING_RULE("restart"));
        /* The runner ends a cancelled task later, as a process does after SIGTERM. */
        f.fake.finish_on_cancel = false;
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        first = started(&f, 0);
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        while (f.fake.stopped->len == 0)
                g_assert_cmpint(sd_event_run(f.event, 10 * USEC_PER_MSEC), >=, 0);
        g_assert_true(f.fake.stopped->pdata[0] == first);
        g_assert_true(first->cancel_requested);
        g_assert_cmpuint(f.fake.started->len, ==, 1);          /* the new one waits for the old one to end */
        /* Asked once, however often the scheduler looks. */
        event_on(&f, "r", "a", IN_ATTRIB);
        for (int i = 0; i < 5; i++)
                g_assert_cmpint(sd_event_run(f.event, 0), >=, 0);
        g_assert_cmpuint(f.fake.stopped->len, ==, 1);
        scheduler_task_finished(f.scheduler, first, TASK_CANCELLED, "cancelled", 0);
        g_assert_cmpuint(f.fake.started->len, ==, 2);
        second = started(&f, 1);
        g_assert_cmpint(first->state, ==, TASK_CANCELLED);
        g_assert_cmpint(second->state, ==, TASK_RUNNING);
        g_assert_false(second->cancel_requested);
        g_assert_cmpuint(second->mask, ==, IN_ATTRIB);
        fixture_teardown(&f);
}

/* A runner that ends a cancelled task at once, from within the stop: the new task starts all the same. */
static void test_if_running_restart_at_once(void) {
        Fixture f = {};

        fixture_setup(&f, IF_RUNNING_RULE("restart"));
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        event_on(&f, "r", "a", IN_ATTRIB);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        g_assert_cmpint(started(&f, 0)->state, ==, TASK_CANCELLED);
        g_assert_cmpint(started(&f, 1)->state, ==, TASK_RUNNING);
        g_assert_cmpuint(stats(&f).n_running, ==, 1);
        fixture_teardown(&f);
}

static void test_for_each(void) {
        Fixture f = {};
        g_autoptr(GHashTable) items = g_hash_table_new(g_str_hash, g_str_equal);

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nForEach=n1 n2\nForEach=n3\nExec=/bin/true\n");
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 3);
        /* Debounced per item. */
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 3);
        run_until(&f, n_started_is, GUINT_TO_POINTER(3));
        for (guint i = 0; i < 3; i++) {
                g_assert_cmpstr(started(&f, i)->path, ==, "/srv/w/a");
                g_hash_table_add(items, started(&f, i)->item);
        }
        g_assert_true(g_hash_table_contains(items, "n1"));
        g_assert_true(g_hash_table_contains(items, "n2"));
        g_assert_true(g_hash_table_contains(items, "n3"));
        fixture_teardown(&f);
}

static void test_max_running(void) {
        Fixture f = {};
        const char *names[] = { "a", "b", "c", "d", "e" };

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nExec=/bin/true\n");
        scheduler_set_limits(f.scheduler, 2, 100);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                event_on(&f, "r", names[i], IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        for (int i = 0; i < 5; i++)
                g_assert_cmpint(sd_event_run(f.event, 0), >=, 0);
        g_assert_cmpuint(stats(&f).n_running, ==, 2);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 3);
        /* In due order, one for each that ends. */
        g_assert_cmpstr(started(&f, 0)->path, ==, "/srv/w/a");
        g_assert_cmpstr(started(&f, 1)->path, ==, "/srv/w/b");
        finish(&f, started(&f, 0));
        g_assert_cmpuint(f.fake.started->len, ==, 3);
        g_assert_cmpstr(started(&f, 2)->path, ==, "/srv/w/c");
        finish(&f, started(&f, 1));
        finish(&f, started(&f, 2));
        g_assert_cmpuint(f.fake.started->len, ==, 5);
        g_assert_cmpuint(stats(&f).n_running, ==, 2);
        run_until(&f, none_scheduled, NULL);
        fixture_teardown(&f);
}

static void test_cancel_running(void) {
        Fixture f = {};
        Task *t;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nExec=/bin/true\n");
        f.fake.finish_on_cancel = false;
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        t = started(&f, 0);
        /* The runner is asked, once; the task ends when the runner says so. */
        g_assert_cmpint(scheduler_cancel(f.scheduler, t), ==, 0);
        g_assert_cmpint(scheduler_cancel(f.scheduler, t), ==, 0);
        g_assert_cmpuint(f.fake.stopped->len, ==, 1);
        g_assert_cmpint(t->state, ==, TASK_RUNNING);
        /* The stop's last resort goes to the runner too. */
        scheduler_kill_running(f.scheduler);
        g_assert_cmpuint(f.fake.n_kill, ==, 1);
        scheduler_task_finished(f.scheduler, t, TASK_CANCELLED, "cancelled", 0);
        g_assert_cmpint(t->state, ==, TASK_CANCELLED);
        g_assert_cmpint(scheduler_cancel(f.scheduler, t), ==, -EALREADY);
        g_assert_null(t->runner);
        fixture_teardown(&f);
}

static void test_start_failures(void) {
        Fixture f = {};
        Task *t;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nExec=/bin/true\n"
                          "[Rule p]\nWatch=w\nOn=IN_CLOSE_WRITE\nAction=plugin\nPlugin=/nonexistent.so\n");
        /* No runner for the action. */
        event_on(&f, "p", "a", IN_CLOSE_WRITE);
        t = scheduler_get(f.scheduler, 1);
        run_until(&f, none_scheduled, NULL);
        g_assert_cmpint(t->state, ==, TASK_FAILED);
        g_assert_cmpstr(t->result, ==, "start-failed");
        /* A runner's error alone is a failure too. */
        f.fake.start_error = -EIO;
        event_on(&f, "r", "b", IN_CLOSE_WRITE);
        t = scheduler_get(f.scheduler, 2);
        run_until(&f, none_scheduled, NULL);
        g_assert_cmpint(t->state, ==, TASK_FAILED);
        g_assert_cmpstr(t->result, ==, "start-failed");
        g_assert_cmpuint(f.fake.started->len, ==, 0);
        fixture_teardown(&f);
}

/* Batch=yes: distinct paths in first-seen order with their latest event, one task; BatchMax= seals a full
 * batch (due at once) and opens the next; a batch waits for the running one of its key. */
static void test_batch(void) {
        Fixture f = {};
        Task *b, *full, *next;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE IN_DELETE\nBatch=yes\nBatchMax=3\nDelaySec=0.2s\n"
                          "Exec=/bin/x {pathnames}\n");
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        event_on(&f, "r", "b", IN_CLOSE_WRITE);
        event_on(&f, "r", "a", IN_DELETE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 1);
        b = scheduler_get(f.scheduler, 1);
        g_assert_nonnull(b);
        g_assert_cmpuint(task_n_paths(b), ==, 2);
        g_assert_cmpstr(b->path, ==, "/srv/w/a");
        g_assert_cmpstr(task_batch_get(b->batch, 0)->path, ==, "/srv/w/a");
        g_assert_cmpuint(task_batch_get(b->batch, 0)->mask, ==, IN_DELETE);    /* its latest event */
        g_assert_true(batch_entry_is_deletion(task_batch_get(b->batch, 0)));
        g_assert_cmpuint(task_n_deleted(b), ==, 1);
        event_on(&f, "r", "c", IN_CLOSE_WRITE);
        g_assert_cmpuint(task_n_paths(b), ==, 3);
        /* Full: "d" seals it and opens the next batch; "a" again joins the new one, not the full one. */
        event_on(&f, "r", "d", IN_CLOSE_WRITE);
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        g_assert_cmpuint(stats(&f).n_scheduled, ==, 2);
        g_assert_true(b->batch_sealed);
        next = scheduler_get(f.scheduler, 2);
        g_assert_cmpuint(task_n_paths(next), ==, 2);
        g_assert_cmpuint(task_n_paths(b), ==, 3);
        /* The full one is due at once; the next waits its delay and then for the running one of its key. */
        run_until(&f, n_started_is, GUINT_TO_POINTER(1));
        full = started(&f, 0);
        g_assert_true(full == b);
        g_assert_false(scheduler_find(f.scheduler, rule(&f, "r"), NULL, "/srv/w/a"));  /* batches follow nothing */
        for (int i = 0; i < 40; i++)
                g_assert_cmpint(sd_event_run(f.event, 10 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpuint(f.fake.started->len, ==, 1);
        finish(&f, full);
        run_until(&f, n_started_is, GUINT_TO_POINTER(2));
        g_assert_true(started(&f, 1) == next);
        finish(&f, next);
        fixture_teardown(&f);
}

/* MaxDelaySec=: events every 50 ms keep postponing a DelaySec=0.3s task, but it runs by 0.5 s after the
 * first one. */
static void test_max_delay(void) {
        Fixture f = {};
        usec_t first;

        fixture_setup(&f, "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE\nDelaySec=0.3s\nMaxDelaySec=0.5s\nExec=/bin/x\n");
        first = now_usec(CLOCK_MONOTONIC);
        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        while (f.fake.started->len == 0) {
                usec_t next = now_usec(CLOCK_MONOTONIC) + 50 * USEC_PER_MSEC;

                g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - first, <, DEADLINE_USEC);
                while (now_usec(CLOCK_MONOTONIC) < next && f.fake.started->len == 0)
                        g_assert_cmpint(sd_event_run(f.event, 10 * USEC_PER_MSEC), >=, 0);
                if (f.fake.started->len == 0)
                        event_on(&f, "r", "a", IN_CLOSE_WRITE);
        }
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - first, >=, 500 * USEC_PER_MSEC - 10 * USEC_PER_MSEC);
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - first, <, 800 * USEC_PER_MSEC);
        finish(&f, started(&f, 0));
        fixture_teardown(&f);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/scheduler/debounce", test_debounce);
        g_test_add_func("/scheduler/batch", test_batch);
        g_test_add_func("/scheduler/max-delay", test_max_delay);
        g_test_add_func("/scheduler/cancel-on", test_cancel_on);
        g_test_add_func("/scheduler/follow", test_follow);
        g_test_add_func("/scheduler/follow-recheck", test_follow_recheck);
        g_test_add_func("/scheduler/vanished", test_vanished);
        g_test_add_func("/scheduler/drain-between-starts", test_drain_between_starts);
        g_test_add_func("/scheduler/run-if-vanished", test_run_if_vanished);
        g_test_add_func("/scheduler/if-running/queue", test_if_running_queue);
        g_test_add_func("/scheduler/if-running/skip", test_if_running_skip);
        g_test_add_func("/scheduler/if-running/parallel", test_if_running_parallel);
        g_test_add_func("/scheduler/if-running/restart", test_if_running_restart);
        g_test_add_func("/scheduler/if-running/restart-at-once", test_if_running_restart_at_once);
        g_test_add_func("/scheduler/for-each", test_for_each);
        g_test_add_func("/scheduler/max-running", test_max_running);
        g_test_add_func("/scheduler/cancel-running", test_cancel_running);
        g_test_add_func("/scheduler/start-failures", test_start_failures);
        return g_test_run();
}
