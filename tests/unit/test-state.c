/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tasks file and the snapshots (state.c): a round trip in format 2, format 1 of earlier versions,
 * fields a later version may add, due order, refused files, a failed save that keeps the previous
 * file, and task ids that end at UINT64_MAX instead of wrapping. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "event.h"
#include "runner.h"
#include "scheduler.h"
#include "batch.h"
#include "state.h"
#include "watch.h"

typedef struct Fixture {
        sd_event *event;
        Config *config;
        Scheduler *scheduler;
        Watch watch;
        char *dir;
} Fixture;

static const char config_text[] =
        "[Watch w]\nPath=/srv/w\n\n"
        "[Rule held]\nWatch=w\nOn=IN_CLOSE_WRITE\nDelaySec=1h\nExec=/bin/true {pathname}\n\n"
        "[Rule each]\nWatch=w\nOn=IN_CLOSE_WRITE\nDelaySec=2h\nForEach=x y\nExec=/bin/true {item}\n\n"
        "[Rule batch]\nWatch=w\nOn=IN_CLOSE_WRITE\nBatch=yes\nDelaySec=3h\nExec=/bin/true {pathnames}\n\n"
        "[Rule small]\nWatch=w\nOn=IN_CLOSE_WRITE\nBatch=yes\nBatchMax=2\nDelaySec=3h\nExec=/bin/true\n";

static Runner *no_runner(const Task *t, void *userdata) {
        return NULL;
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);

        g_assert_cmpint(config_load_string("test.conf", config_text, &f->config, errors), ==, 0);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(scheduler_new(&f->scheduler, f->event, no_runner, NULL), ==, 0);
        f->watch = (Watch) { .name = (char *) "w", .path = (char *) "/srv/w" };
        f->dir = g_dir_make_tmp("test-state.XXXXXX", NULL);
        g_assert_nonnull(f->dir);
}

static void remove_tree(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);

                if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                        remove_tree(p);
                else
                        (void) unlink(p);
        }
        (void) rmdir(dir);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        f->scheduler = scheduler_free(f->scheduler);
        f->config = config_free(f->config);
        f->event = sd_event_unref(f->event);
        remove_tree(f->dir);
        g_free(f->dir);
}

static void event_on(Fixture *f, const char *rule_name, const char *name) {
        Event ev = {
                .watch = &f->watch,
                .mask = IN_CLOSE_WRITE,
                .kind = EVENT_KIND_CHANGED,
                .pathname = g_strconcat("/srv/w/", name, NULL),
                .relpath_offset = strlen("/srv/w/"),
        };

        scheduler_schedule(f->scheduler, (ConfigRule *) config_find_rule(f->config, rule_name), &ev, NULL);
        event_done(&ev);
}

static char *read_file(Fixture *f, const char *name) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        char *text = NULL;

        g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
        return text;
}

static void write_file(Fixture *f, const char *name, const char *text, mode_t mode) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);

        g_assert_true(g_file_set_contents(p, text, -1, NULL));
        g_assert_cmpint(chmod(p, mode), ==, 0);
}

static GPtrArray *load(Fixture *f, uint64_t *ret_next_id) {
        GPtrArray *seeds = NULL;
        uint64_t next_id;

        g_assert_cmpint(state_load_tasks(f->dir, &seeds, &next_id), ==, 0);
        g_assert_nonnull(seeds);
        if (ret_next_id)
                *ret_next_id = next_id;
        return seeds;
}

static const TaskSeed *seed_with_path(GPtrArray *seeds, const char *path, const char *item) {
        for (guint i = 0; i < seeds->len; i++) {
                const TaskSeed *s = seeds->pdata[i];

                if (streq(s->path, path) && streq(strempty(s->item), strempty(item)))
                        return s;
        }
        return NULL;
}

static void test_round_trip(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) seeds = NULL;
        g_autofree char *text = NULL;
        const TaskSeed *s;
        uint64_t next_id;

        event_on(f, "held", "plain");
        event_on(f, "held", "tab\tand\nnewline \xff");
        event_on(f, "each", "e");
        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), ==, 4);

        text = read_file(f, "tasks");
        g_assert_true(g_str_has_prefix(text, "# inotaskd scheduled tasks, format 2\nnext-id\t5\n"));
        g_assert_nonnull(strstr(text, "\tmask=IN_CLOSE_WRITE\t"));
        g_assert_nonnull(strstr(text, "\tkind=changed\t"));
        g_assert_nonnull(strstr(text, "\tpath=/srv/w/tab\\tand\\nnewline \\xff"));

        seeds = load(f, &next_id);
        g_assert_cmpuint(next_id, ==, 5);
        g_assert_cmpuint(seeds->len, ==, 4);
        s = seed_with_path(seeds, "/srv/w/tab\tand\nnewline \xff", NULL);
        g_assert_nonnull(s);
        g_assert_cmpuint(s->id, ==, 2);
        g_assert_cmpuint(s->mask, ==, IN_CLOSE_WRITE);
        g_assert_cmpint(s->kind, ==, EVENT_KIND_CHANGED);
        g_assert_cmpstr(s->rule, ==, "held");
        g_assert_cmpstr(s->watch, ==, "w");
        g_assert_cmpstr(s->event_name, ==, "changed");     /* {event}: the kind when there is one */
        g_assert_null(s->src_path);
        s = seed_with_path(seeds, "/srv/w/e", "y");
        g_assert_nonnull(s);
        g_assert_cmpstr(s->rule, ==, "each");
        /* Due order: the three of "held" (1 h) before the two of "each" (2 h). */
        for (guint i = 1; i < seeds->len; i++)
                g_assert_cmpuint(((TaskSeed *) seeds->pdata[i - 1])->due_usec, <=,
                                 ((TaskSeed *) seeds->pdata[i])->due_usec);
        g_assert_cmpstr(((TaskSeed *) seeds->pdata[seeds->len - 1])->rule, ==, "each");
}

/* A batch keeps its paths, in order, each with its event, through the file and back into a scheduler. */
static void test_batch(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) seeds = NULL;
        _cleanup_(scheduler_freep) Scheduler *s2 = NULL;
        const TaskSeed *s;
        Task *t;

        event_on(f, "batch", "one");
        event_on(f, "batch", "tab\tand\nnewline \xff");
        event_on(f, "batch", "one");
        event_on(f, "batch", "three");
        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), ==, 1);
        seeds = load(f, NULL);
        g_assert_cmpuint(seeds->len, ==, 1);
        s = seeds->pdata[0];
        g_assert_cmpstr(s->path, ==, "/srv/w/one");
        g_assert_nonnull(s->batch);
        g_assert_cmpuint(task_batch_size(s->batch), ==, 3);
        g_assert_cmpstr(task_batch_get(s->batch, 1)->path, ==, "/srv/w/tab\tand\nnewline \xff");
        g_assert_cmpuint(task_batch_get(s->batch, 2)->mask, ==, IN_CLOSE_WRITE);
        g_assert_cmpint(task_batch_get(s->batch, 2)->kind, ==, EVENT_KIND_CHANGED);
        g_assert_cmpstr(task_batch_get(s->batch, 2)->event_name, ==, "changed");

        g_assert_cmpint(scheduler_new(&s2, f->event, no_runner, NULL), ==, 0);
        t = scheduler_restore(s2, (ConfigRule *) config_find_rule(f->config, "batch"), "/srv/w", s);
        g_assert_nonnull(t);
        g_assert_cmpuint(task_n_paths(t), ==, 3);
        g_assert_cmpstr(task_batch_get(t->batch, 2)->path, ==, "/srv/w/three");
}

/* A full batch and the next one of the same key both come back; new paths join the later one. */
static void test_two_batches(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) seeds = NULL;
        _cleanup_(scheduler_freep) Scheduler *s2 = NULL;
        ConfigRule *r = (ConfigRule *) config_find_rule(f->config, "small");
        Task *a, *b;

        event_on(f, "small", "1");
        event_on(f, "small", "2");
        event_on(f, "small", "3");
        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), ==, 2);
        seeds = load(f, NULL);
        g_assert_cmpuint(seeds->len, ==, 2);
        g_assert_cmpint(scheduler_new(&s2, f->event, no_runner, NULL), ==, 0);
        a = scheduler_restore(s2, r, "/srv/w", seeds->pdata[0]);
        b = scheduler_restore(s2, r, "/srv/w", seeds->pdata[1]);
        g_assert_nonnull(a);
        g_assert_nonnull(b);
        g_assert_cmpuint(task_n_paths(a), ==, 2);
        g_assert_cmpuint(task_n_paths(b), ==, 1);
        g_assert_true(a->batch_sealed);
        g_assert_false(b->batch_sealed);
}

static void test_format_1(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) seeds = NULL;
        const TaskSeed *s;
        uint64_t next_id;

        /* As an earlier version wrote it: numbers for the mask (IN_MOVED_TO) and the kind (moved). */
        write_file(f, "tasks",
                   "# inotaskd scheduled tasks, format 1\nnext-id\t42\n"
                   "9\t100\t300\t128\t5\theld\tw\t/srv/w/new\t/srv/w/old\tmoved_to\t\tg1\t\n"
                   "8\t100\t200\t8\t3\theld\tw\t/srv/w/a\\tb\t\tclose_write\t\n"
                   "0\t100\t200\t8\t3\theld\tw\t/srv/w/no-id\t\tclose_write\t\n"
                   "garbage\n", 0600);
        seeds = load(f, &next_id);
        g_assert_cmpuint(next_id, ==, 42);
        g_assert_cmpuint(seeds->len, ==, 2);
        s = seeds->pdata[0];            /* due 200 first */
        g_assert_cmpuint(s->id, ==, 8);
        g_assert_cmpstr(s->path, ==, "/srv/w/a\tb");
        s = seeds->pdata[1];
        g_assert_cmpuint(s->id, ==, 9);
        g_assert_cmpuint(s->mask, ==, IN_MOVED_TO);
        g_assert_cmpint(s->kind, ==, EVENT_KIND_MOVED);
        g_assert_cmpstr(s->src_path, ==, "/srv/w/old");
        g_assert_nonnull(s->groups);
        g_assert_cmpstr(s->groups[0], ==, "g1");
        g_assert_cmpstr(s->groups[1], ==, "");
        g_assert_null(s->groups[2]);
}

static void test_later_format(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) seeds = NULL;
        const TaskSeed *s;

        /* A later version's file: keys and event bits this one does not know are skipped; an unknown
         * kind refuses that task only. */
        write_file(f, "tasks",
                   "# inotaskd scheduled tasks, format 3\nnext-id\t10\n"
                   "task\tid=3\tdue=5\tpriority=high\tmask=IN_CLOSE_WRITE|IN_SOMETHING_NEW|IN_ISDIR\t"
                   "kind=changed\trule=held\twatch=w\tpath=/srv/w/x\tgroup=a\tgroup=\n"
                   "task\tid=4\tdue=6\tkind=teleported\trule=held\twatch=w\tpath=/srv/w/y\n", 0600);
        seeds = load(f, NULL);
        g_assert_cmpuint(seeds->len, ==, 1);
        s = seeds->pdata[0];
        g_assert_cmpuint(s->id, ==, 3);
        g_assert_cmpuint(s->mask, ==, IN_CLOSE_WRITE | IN_ISDIR);
        g_assert_cmpstr(s->groups[0], ==, "a");
        g_assert_cmpstr(s->groups[1], ==, "");
}

static void assert_refused(Fixture *f) {
        g_autoptr(GPtrArray) seeds = load(f, NULL);
        g_autoptr(GHashTable) known = NULL;
        usec_t when = 0;

        g_assert_cmpuint(seeds->len, ==, 0);
        g_assert_cmpint(state_load_snapshot(f->dir, "w", "/srv/w", &known, &when), ==, 0);
        g_assert_null(known);
}

static const char v1_file[] = "# inotaskd scheduled tasks, format 1\nnext-id\t2\n"
                              "1\t100\t200\t8\t3\theld\tw\t/srv/w/a\t\tclose_write\t\n";
static const char snapshot_file[] = "# inotaskd snapshot, format 1\n100\t/srv/w\nf\ta\n";

static void test_refused(Fixture *f, gconstpointer data) {
        g_autofree char *tasks = g_build_filename(f->dir, "tasks", NULL);
        g_autofree char *snap = g_build_filename(f->dir, "snapshot-w", NULL);
        g_autofree char *other = g_build_filename(f->dir, "other", NULL);
        g_autofree char *other2 = g_build_filename(f->dir, "other2", NULL);

        /* A FIFO: opening it must not wait for a writer. */
        g_assert_cmpint(mkfifo(tasks, 0600), ==, 0);
        g_assert_cmpint(mkfifo(snap, 0600), ==, 0);
        assert_refused(f);
        g_assert_cmpint(unlink(tasks), ==, 0);
        g_assert_cmpint(unlink(snap), ==, 0);

        /* A symbolic link to a good file. */
        write_file(f, "other", v1_file, 0600);
        write_file(f, "other2", snapshot_file, 0600);
        g_assert_cmpint(symlink(other, tasks), ==, 0);
        g_assert_cmpint(symlink(other2, snap), ==, 0);
        assert_refused(f);
        g_assert_cmpint(unlink(tasks), ==, 0);
        g_assert_cmpint(unlink(snap), ==, 0);

        /* Writable by others. */
        write_file(f, "tasks", v1_file, 0622);
        write_file(f, "snapshot-w", snapshot_file, 0620);
        assert_refused(f);

        /* A directory. */
        g_assert_cmpint(unlink(tasks), ==, 0);
        g_assert_cmpint(mkdir(tasks, 0700), ==, 0);
        assert_refused(f);
}

static void test_snapshot_kept(Fixture *f, gconstpointer data) {
        g_autoptr(GHashTable) known = NULL;
        g_autofree char *snap = g_build_filename(f->dir, "snapshot-w", NULL);
        usec_t when = 0;

        write_file(f, "snapshot-w", snapshot_file, 0600);
        g_assert_cmpint(state_load_snapshot(f->dir, "w", "/srv/w", &known, &when), ==, 0);
        g_assert_nonnull(known);
        g_assert_cmpuint(when, ==, 100);
        g_assert_true(g_hash_table_contains(known, "a"));
        g_assert_true(g_file_test(snap, G_FILE_TEST_IS_REGULAR));      /* read, not removed */
}

static void test_failed_save_keeps_file(Fixture *f, gconstpointer data) {
        g_autofree char *tmp = g_build_filename(f->dir, ".tasks.new", NULL);
        g_autofree char *text = NULL;

        event_on(f, "held", "a");
        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), ==, 1);
        event_on(f, "held", "b");
        /* The temporary file's name taken by a directory: the save fails, as on a full disk. */
        g_assert_cmpint(mkdir(tmp, 0700), ==, 0);
        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), <, 0);
        text = read_file(f, "tasks");
        g_assert_nonnull(strstr(text, "/srv/w/a"));
        g_assert_null(strstr(text, "/srv/w/b"));
        g_assert_cmpint(rmdir(tmp), ==, 0);
        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), ==, 2);
        g_free(text);
        text = read_file(f, "tasks");
        g_assert_nonnull(strstr(text, "/srv/w/b"));
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
}

static void test_ids_exhausted(Fixture *f, gconstpointer data) {
        ConfigRule *r = (ConfigRule *) config_find_rule(f->config, "held");
        SchedulerStats st;
        TaskSeed seed = {
                .id = 1, .due_usec = 1, .kind = EVENT_KIND_CHANGED,
                .rule = (char *) "held", .watch = (char *) "w", .path = (char *) "/srv/w/saved",
        };

        g_assert_nonnull(scheduler_restore(f->scheduler, r, "/srv/w", &seed));
        scheduler_bump_next_id(f->scheduler, UINT64_MAX);
        event_on(f, "held", "a");
        g_assert_nonnull(scheduler_find(f->scheduler, r, NULL, "/srv/w/a"));
        g_assert_cmpuint(scheduler_find(f->scheduler, r, NULL, "/srv/w/a")->id, ==, UINT64_MAX);
        /* No id left: no task, and never 0 or 1 again. */
        event_on(f, "held", "b");
        event_on(f, "held", "c");
        g_assert_null(scheduler_find(f->scheduler, r, NULL, "/srv/w/b"));
        g_assert_null(scheduler_run_rule(f->scheduler, r, "w", "/srv/w", "/srv/w/d"));
        scheduler_get_stats(f->scheduler, &st);
        g_assert_cmpuint(st.n_scheduled, ==, 2);
        g_assert_cmpstr(scheduler_get(f->scheduler, 1)->path, ==, "/srv/w/saved");
        g_assert_cmpuint(scheduler_get_next_id(f->scheduler), ==, 0);
        /* A restore does not bring it back either. */
        scheduler_bump_next_id(f->scheduler, 5);
        g_assert_cmpuint(scheduler_get_next_id(f->scheduler), ==, 0);
}

/* A unit task's runner for scheduler_adopt(): nothing runs, the task stays running. */
static int fake_start(Runner *r, Task *t) {
        return 0;
}

static void fake_stop(Runner *r, Task *t, RunnerStop how) {
}

static const RunnerOps fake_ops = { .name = "fake", .start = fake_start, .stop = fake_stop };

/* Running unit tasks (issue 14): a "running" line with its unit, read back as a seed with the unit,
 * adopted as running with the same id, and saved again as such; a "running" line without a unit is
 * malformed. */
static void test_running_unit_task(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) seeds = NULL, again = NULL;
        g_autofree char *text = NULL;
        Runner fake = { .ops = &fake_ops };
        const TaskSeed *s;
        SchedulerStats st;
        Task *t;

        write_file(f, "tasks",
                   "# inotaskd scheduled tasks, format 2\nnext-id\t9\n"
                   "running\tid=7\tcreated=100\tstarted=200\tunit=inotaskd-task-7.service\tmask=IN_CLOSE_WRITE\t"
                   "kind=changed\trule=held\twatch=w\tpath=/srv/w/r\tevent=changed\n"
                   "running\tid=8\tcreated=100\tstarted=200\trule=held\twatch=w\tpath=/srv/w/nounit\n"
                   "task\tid=6\tcreated=100\tdue=300\tunit=x.service\trule=held\twatch=w\tpath=/srv/w/s\n", 0600);
        seeds = load(f, NULL);
        g_assert_cmpuint(seeds->len, ==, 2);
        s = seed_with_path(seeds, "/srv/w/r", NULL);
        g_assert_nonnull(s);
        g_assert_cmpstr(s->unit, ==, "inotaskd-task-7.service");
        g_assert_cmpuint(s->started_usec, ==, 200);
        /* unit= belongs to running lines only. */
        g_assert_null(seed_with_path(seeds, "/srv/w/s", NULL)->unit);

        t = scheduler_adopt(f->scheduler, (ConfigRule *) config_find_rule(f->config, "held"), "/srv/w", s, &fake);
        g_assert_nonnull(t);
        g_assert_cmpuint(t->id, ==, 7);
        g_assert_cmpint(t->state, ==, TASK_RUNNING);
        g_assert_cmpstr(t->unit_name, ==, "inotaskd-task-7.service");
        g_assert_true(t->runner == &fake);
        g_assert_cmpuint(t->started_usec, ==, 200);
        g_assert_null(scheduler_adopt(f->scheduler, (ConfigRule *) config_find_rule(f->config, "held"), "/srv/w", s,
                                      &fake));
        scheduler_get_stats(f->scheduler, &st);
        g_assert_cmpuint(st.n_running, ==, 1);
        g_assert_cmpuint(st.n_scheduled, ==, 0);
        g_assert_cmpuint(scheduler_get_next_id(f->scheduler), ==, 8);

        g_assert_cmpint(state_save_tasks(f->dir, f->scheduler), >=, 0);
        text = read_file(f, "tasks");
        g_assert_nonnull(strstr(text, "running\tid=7\tcreated=100\tstarted=200\tunit=inotaskd-task-7.service\t"));
        again = load(f, NULL);
        g_assert_cmpuint(again->len, ==, 1);
        g_assert_cmpstr(((TaskSeed *) again->pdata[0])->unit, ==, "inotaskd-task-7.service");
        scheduler_task_finished(f->scheduler, t, TASK_DONE, "success", 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/state/round-trip", test_round_trip);
        ADD("/state/batch", test_batch);
        ADD("/state/two-batches", test_two_batches);
        ADD("/state/format-1", test_format_1);
        ADD("/state/later-format", test_later_format);
        ADD("/state/refused", test_refused);
        ADD("/state/snapshot-kept", test_snapshot_kept);
        ADD("/state/failed-save-keeps-file", test_failed_save_keeps_file);
        ADD("/state/ids-exhausted", test_ids_exhausted);
        ADD("/state/running-unit-task", test_running_unit_task);
        return g_test_run();
}
