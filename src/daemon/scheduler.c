/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tasks keyed by (rule, item, path): delayed with one timer, debounced, limited, run and remembered. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

#include "escape.h"
#include "batch.h"
#include "watch.h"
#include "log.h"
#include "message-ids.h"
#include "runner.h"
#include "scheduler.h"

/* Tasks of one rule share its delay, so a rescheduled task simply goes to the tail: the queue stays in
 * due order without a heap. */
typedef struct RuleQueue {
        Task *head, *tail;
} RuleQueue;

struct Scheduler {
        sd_event *event;
        sd_event_source *timer;
        sd_event_source *due_now;       /* defer: tasks already due start without the timer */
        SchedulerRunnerFunc runner_for;
        void *runner_userdata;
        SchedulerListener listener;

        unsigned max_running;
        unsigned task_history;
        bool stopping;
        bool starting, start_again;     /* start_ready() runs; a nested call asks it to look again */
        bool starved;                   /* a start ran out of fds or processes: wait for a task to end */
        bool ids_exhausted;             /* next_id wrapped to 0 (logged) */

        uint64_t next_id;
        GHashTable *by_id;              /* uint64 id -> Task* (every task, the history too) */
        GTree *ordered;                 /* the same tasks by id, for listing in pages */
        GHashTable *scheduled;          /* Task* (scheduled ones, waiting or ready), by key */
        GHashTable *running;            /* a running Task* (its key) -> GPtrArray of running tasks of that key */
        GHashTable *queues;             /* rule name -> RuleQueue* */
        GQueue ready;                   /* due tasks waiting for a slot, in due order */
        GQueue history;                 /* finished tasks, oldest first */

        unsigned n_scheduled, n_running;
        uint64_t n_done, n_failed;
};

static const char *const task_state_table[_TASK_STATE_MAX] = {
        [TASK_SCHEDULED] = "scheduled",
        [TASK_RUNNING] = "running",
        [TASK_DONE] = "done",
        [TASK_FAILED] = "failed",
        [TASK_CANCELLED] = "cancelled",
        [TASK_TIMEOUT] = "timeout",
};

const char *task_state_to_string(TaskState s) {
        return s >= 0 && s < _TASK_STATE_MAX ? task_state_table[s] : NULL;
}

static void task_free(Task *t) {
        if (!t)
                return;
        config_rule_unref(t->rule);
        g_free(t->path);
        g_free(t->src_path);
        g_free(t->item);
        g_strfreev(t->groups);
        g_free(t->unit_name);
        task_batch_free(t->batch);
        g_free(t);
}

/* The key of a task, without a string of its own: rule name, ForEach= item, path. Its hash is computed
 * once per task (and once per lookup), not on every table operation. */
static unsigned task_key_compute(const ConfigRule *r, const char *item, const char *path) {
        return g_str_hash(path) ^ (g_str_hash(r->name) * 31U) ^ (item ? g_str_hash(item) * 7U : 0U);
}

static guint task_key_hash(gconstpointer p) {
        return ((const Task *) p)->key_hash;
}

/* A batch is keyed by its watch instead of a path: (rule, watch, item). */
static const char *task_key_path(const Task *t) {
        return t->batch ? t->watch : t->path;
}

/* The key of the running tables: batches of one key run one after the other, sealed or not. */
static gboolean task_key_equal_running(gconstpointer a, gconstpointer b) {
        const Task *x = a, *y = b;

        return x->key_hash == y->key_hash && !x->batch == !y->batch &&
               streq(task_key_path(x), task_key_path(y)) && streq(x->rule->name, y->rule->name) &&
               streq(strempty(x->item), strempty(y->item));
}

/* The key of the scheduled table: a sealed batch (BatchMax= reached) is no longer found by its key, so
 * that the next event opens the next batch; it is still removed by itself. */
static gboolean task_key_equal(gconstpointer a, gconstpointer b) {
        const Task *x = a, *y = b;

        if ((x->batch_sealed || y->batch_sealed) && x != y)
                return false;
        return task_key_equal_running(a, b);
}

/* A stand-in for looking a key up. */
#define TASK_PROBE(r, i, p)                                                                             \
        ((Task) { .rule = (ConfigRule *) (r), .item = (char *) (i), .path = (char *) (p),              \
                  .key_hash = task_key_compute((r), (i), (p)) })

/* The same for a batch of r in watch w; batch only needs to be non-NULL. */
static TaskBatch batch_probe_marker;
#define BATCH_PROBE(r, i, w)                                                                            \
        ((Task) { .rule = (ConfigRule *) (r), .item = (char *) (i), .watch = (w),                      \
                  .batch = &batch_probe_marker, .key_hash = task_key_compute((r), (i), (w)) })

static void running_array_free(gpointer p) {
        g_ptr_array_unref(p);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_due_now(sd_event_source *s, void *userdata);

static gint task_id_compare(gconstpointer a, gconstpointer b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

int scheduler_new(Scheduler **ret, sd_event *e, SchedulerRunnerFunc runner_for, void *userdata) {
        _cleanup_(scheduler_freep) Scheduler *s = g_new0(Scheduler, 1);
        int r;

        s->event = sd_event_ref(e);
        s->runner_for = runner_for;
        s->runner_userdata = userdata;
        s->max_running = 16;
        s->task_history = 100;
        s->next_id = 1;
        s->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
        s->ordered = g_tree_new(task_id_compare);
        s->scheduled = g_hash_table_new(task_key_hash, task_key_equal);
        s->running = g_hash_table_new_full(task_key_hash, task_key_equal_running, NULL, running_array_free);
        s->queues = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        /* Accuracy 1 µs: sd-event's default (accuracy 0) lets a timer fire up to 250 ms late, which
         * would be the latency of every DelaySec=0 task. */
        r = sd_event_add_time(e, &s->timer, CLOCK_MONOTONIC, USEC_INFINITY, 1, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add scheduler timer: %m");
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->timer, "scheduler");

        /* A DelaySec=0 task is due as it is made: a defer source starts it after the current batch of
         * events, without reprogramming the timerfd for every task (a third of the CPU in a stream). */
        r = sd_event_add_defer(e, &s->due_now, on_due_now, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add scheduler source: %m");
        (void) sd_event_source_set_enabled(s->due_now, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->due_now, "scheduler-due");

        *ret = TAKE_PTR(s);
        return 0;
}

Scheduler *scheduler_free(Scheduler *s) {
        GHashTableIter i;
        gpointer v;

        if (!s)
                return NULL;
        s->timer = sd_event_source_disable_unref(s->timer);
        s->due_now = sd_event_source_disable_unref(s->due_now);
        if (s->by_id) {
                g_hash_table_iter_init(&i, s->by_id);
                while (g_hash_table_iter_next(&i, NULL, &v))
                        task_free(v);
                g_hash_table_unref(s->by_id);
        }
        if (s->ordered)
                g_tree_destroy(s->ordered);
        if (s->scheduled)
                g_hash_table_unref(s->scheduled);
        if (s->running)
                g_hash_table_unref(s->running);
        if (s->queues)
                g_hash_table_unref(s->queues);
        g_queue_clear(&s->ready);
        g_queue_clear(&s->history);
        sd_event_unref(s->event);
        g_free(s);
        return NULL;
}

void scheduler_set_listener(Scheduler *s, const SchedulerListener *l) {
        s->listener = *l;
}

void scheduler_set_limits(Scheduler *s, unsigned max_running, unsigned task_history) {
        s->max_running = max_running;
        s->task_history = task_history;
}

#define NOTIFY(s, what, t)                                                      \
        do {                                                                    \
                if ((s)->listener.what)                                         \
                        (s)->listener.what((t), (s)->listener.userdata);        \
        } while (0)

static void counts_changed(Scheduler *s) {
        if (s->listener.counts_changed)
                s->listener.counts_changed(s->listener.userdata);
}

/* ------------------------------------------------------------------ logging */

void task_log_full(const char *file, int line, const char *func, int level, const char *message_id,
                   const Task *t, const LogField *extra, size_t n_extra, const char *fmt, ...) {
        LogField f[16];
        size_t n = 0;
        char id[32];
        g_autofree char *msg = NULL;
        va_list ap;

        if (log_get_max_level() < level)
                return;
        snprintf(id, sizeof id, "%" PRIu64, t->id);
        f[n++] = LOG_FIELD("INOTASKD_TASK_ID", id);
        f[n++] = LOG_FIELD("INOTASKD_RULE", t->rule->name);
        f[n++] = LOG_FIELD("INOTASKD_WATCH", t->watch);
        f[n++] = LOG_FIELD("INOTASKD_PATH", t->path);
        f[n++] = LOG_FIELD("INOTASKD_EVENT", t->event_name);
        if (t->item)
                f[n++] = LOG_FIELD("INOTASKD_ITEM", t->item);
        for (size_t i = 0; i < n_extra && n < ELEMENTSOF(f); i++)
                f[n++] = extra[i];

        /* As long as it is: a message that names a long path must not lose its end. */
        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        (void) log_internal(level, 0, message_id, f, n, file, line, func, "%s", msg);
}

/* ------------------------------------------------------------------ queues and the timer */

static RuleQueue *queue_of(Scheduler *s, const ConfigRule *r) {
        RuleQueue *q = g_hash_table_lookup(s->queues, r->name);

        if (!q) {
                q = g_new0(RuleQueue, 1);
                g_hash_table_insert(s->queues, g_strdup(r->name), q);
        }
        return q;
}

static void queue_unlink(Scheduler *s, Task *t) {
        RuleQueue *q = g_hash_table_lookup(s->queues, t->rule->name);

        if (!q)
                return;
        if (t->prev)
                t->prev->next = t->next;
        else if (q->head == t)
                q->head = t->next;
        if (t->next)
                t->next->prev = t->prev;
        else if (q->tail == t)
                q->tail = t->prev;
        t->prev = t->next = NULL;
}

/* Inserts by due time, searching from the tail: O(1) for the usual append. */
static void queue_insert(Scheduler *s, Task *t) {
        RuleQueue *q = queue_of(s, t->rule);
        Task *after = q->tail;

        while (after && after->due_mono > t->due_mono)
                after = after->prev;
        t->prev = after;
        t->next = after ? after->next : q->head;
        if (t->next)
                t->next->prev = t;
        else
                q->tail = t;
        if (after)
                after->next = t;
        else
                q->head = t;
}

static void arm_timer(Scheduler *s) {
        usec_t earliest = USEC_INFINITY;
        GHashTableIter i;
        gpointer v;

        /* Only waiting tasks need the timer: ready ones start when a slot frees (a task ends). */
        g_hash_table_iter_init(&i, s->queues);
        while (g_hash_table_iter_next(&i, NULL, &v)) {
                RuleQueue *q = v;

                if (q->head && q->head->due_mono < earliest)
                        earliest = q->head->due_mono;
        }
        if (earliest == USEC_INFINITY || s->stopping) {
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(s->due_now, SD_EVENT_OFF);
                return;
        }
        if (earliest <= now_usec(CLOCK_MONOTONIC)) {
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(s->due_now, SD_EVENT_ONESHOT);
                return;
        }
        (void) sd_event_source_set_enabled(s->due_now, SD_EVENT_OFF);
        (void) sd_event_source_set_time(s->timer, earliest);
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

/* ------------------------------------------------------------------ running */

static GPtrArray *running_of(Scheduler *s, const Task *key) {
        return g_hash_table_lookup(s->running, key);
}

/* Takes t out of the running tasks of its key. The table's key is one of those tasks: hand it over to
 * another one while some remain, drop the entry when none does. */
static void running_remove(Scheduler *s, Task *t) {
        GPtrArray *a;
        gpointer old_key;

        if (!g_hash_table_lookup_extended(s->running, t, &old_key, (gpointer *) &a))
                return;
        g_ptr_array_remove(a, t);
        if (a->len == 0)
                g_hash_table_remove(s->running, t);
        else if (old_key == t) {
                g_hash_table_steal(s->running, t);
                g_hash_table_insert(s->running, a->pdata[0], a);
        }
}

static void running_add(Scheduler *s, Task *t) {
        GPtrArray *a = running_of(s, t);

        if (!a) {
                a = g_ptr_array_new();
                g_hash_table_insert(s->running, t, a);
        }
        g_ptr_array_add(a, t);
}

#define IN_SET_RESOURCE(r) ((r) == -EMFILE || (r) == -ENFILE || (r) == -EAGAIN || (r) == -ENOMEM)

static void unstart_task(Scheduler *s, Task *t) {
        running_remove(s, t);
        s->n_running--;
        t->state = TASK_SCHEDULED;
        t->started_usec = 0;
        t->pid = 0;
        t->runner = NULL;
        t->runner_data = NULL;
        t->due_usec = now_usec(CLOCK_REALTIME);
        /* A batch back from a start takes no more paths: a newer one of its key may be open already. */
        if (t->batch)
                t->batch_sealed = true;
        g_hash_table_add(s->scheduled, t);
        s->n_scheduled++;
        t->ready = true;
        g_queue_push_head(&s->ready, t);
        NOTIFY(s, task_changed, t);
        counts_changed(s);
}

static void end_scheduled(Scheduler *s, Task *t, const char *result, const char *why);

/* A task whose path is gone (the listener's path_gone says so) does not start, unless it is about the
 * deletion or its rule runs on deletions (those run on a path that is not there by design), or its rule
 * says RunIfVanished=yes. */
bool task_is_deletion(const Task *t) {
        return t->kind == EVENT_KIND_DELETED || (t->mask & (IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM));
}

static bool task_vanished(const Scheduler *s, const Task *t) {
        const ConfigRule *r = t->rule;

        /* A batch's paths may come and go by design: a deletion is one of its entries. */
        if (!s->listener.path_gone || r->run_if_vanished || t->batch)
                return false;
        if (task_is_deletion(t) || streq(strempty(t->event_name), "manual") || t->kind == EVENT_KIND_OVERFLOW)
                return false;
        if ((r->on_kinds & EVENT_KIND_BIT(EVENT_KIND_DELETED)) ||
            (r->on_mask & (IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM)))
                return false;
        return s->listener.path_gone(t->path, s->listener.userdata);
}

static void start_task(Scheduler *s, Task *t) {
        int r;

        if (task_vanished(s, t)) {
                if (!t->gone_rechecked && s->listener.before_due) {
                        /* A rename that took the file elsewhere may still be in the queue: read it (its
                         * move re-keys the task) and look again, from the head of the ready queue, which
                         * reading may have changed (t itself may be cancelled). Once per task. */
                        t->gone_rechecked = true;
                        s->start_again = true;
                        s->listener.before_due(s->listener.userdata);
                        return;
                }
                end_scheduled(s, t, "vanished", "its path no longer exists");
                return;
        }

        g_queue_remove(&s->ready, t);
        t->ready = false;
        g_hash_table_remove(s->scheduled, t);
        s->n_scheduled--;

        t->state = TASK_RUNNING;
        t->started_usec = now_usec(CLOCK_REALTIME);
        t->due_usec = 0;
        running_add(s, t);
        s->n_running++;
        NOTIFY(s, task_started, t);
        counts_changed(s);

        t->runner = s->runner_for(t, s->runner_userdata);
        r = t->runner ? runner_start(t->runner, t) : -EOPNOTSUPP;
        if (r >= 0 || t->state != TASK_RUNNING)
                return;
        /* Out of file descriptors or processes is a passing state while other tasks run: put the task
         * back at the head of the queue and retry when one of them ends. Alone, it is a failure. */
        if (IN_SET_RESOURCE(r) && s->n_running > 1) {
                unstart_task(s, t);
                s->starved = true;
                return;
        }
        scheduler_task_finished(s, t, TASK_FAILED, "start-failed", 0);
}

static void cancel_running(Task *t) {
        if (t->cancel_requested || !t->runner)
                return;
        t->cancel_requested = true;
        runner_stop(t->runner, t, RUNNER_STOP_CANCEL);
}

/* IfRunning=restart: every running task of the key is asked to stop. Stopping one may end it at once,
 * which changes the array: walk a copy. */
static void stop_running_of_key(GPtrArray *a) {
        g_autoptr(GPtrArray) copy = g_ptr_array_copy(a, NULL, NULL);

        for (guint i = 0; i < copy->len; i++)
                cancel_running(copy->pdata[i]);
}

/* Starts what may start: ready tasks in due order, within MaxRunningTasks=, and after a running task of
 * the same key unless the rule says parallel. */
static void start_ready(Scheduler *s) {
        GList *l, *next;

        if (s->stopping)
                return;
        /* A runner may finish a task from within start_task(), which wants to start more: loop here
         * instead of recursing over a list being walked. */
        if (s->starting) {
                s->start_again = true;
                return;
        }
        /* A slot came free (or tasks became due): what is still in the kernel's queue may postpone or
         * re-key a ready task, so it is read first, as before any start. */
        if (!g_queue_is_empty(&s->ready) && s->listener.before_due)
                s->listener.before_due(s->listener.userdata);
        s->starting = true;
        do {
                s->start_again = false;
                for (l = s->ready.head; l; l = next) {
                        Task *t = l->data;
                        GPtrArray *a;

                        next = l->next;
                        if (s->starved || (s->max_running > 0 && s->n_running >= s->max_running))
                                break;
                        a = running_of(s, t);
                        if (a && a->len > 0 && t->rule->if_running != IF_RUNNING_PARALLEL) {
                                if (t->rule->if_running == IF_RUNNING_RESTART)
                                        stop_running_of_key(a);
                                continue;
                        }
                        start_task(s, t);
                        if (s->start_again)
                                break;
                }
        } while (s->start_again && !s->stopping);
        s->starting = false;
}

static void make_ready(Scheduler *s, Task *t) {
        queue_unlink(s, t);
        t->ready = true;
        g_queue_push_tail(&s->ready, t);
}

static gint compare_due(gconstpointer a, gconstpointer b) {
        const Task *x = *(Task *const *) a, *y = *(Task *const *) b;

        if (x->due_mono != y->due_mono)
                return x->due_mono < y->due_mono ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

static void run_due(Scheduler *s) {
        g_autoptr(GPtrArray) due = g_ptr_array_new();
        GHashTableIter i;
        usec_t now;
        gpointer v;

        if (s->listener.before_due)
                s->listener.before_due(s->listener.userdata);
        now = now_usec(CLOCK_MONOTONIC);

        g_hash_table_iter_init(&i, s->queues);
        while (g_hash_table_iter_next(&i, NULL, &v))
                for (Task *t = ((RuleQueue *) v)->head; t && t->due_mono <= now; t = t->next)
                        g_ptr_array_add(due, t);
        /* Rules have queues of their own: merge what is due, so tasks start in due order across rules. */
        g_ptr_array_sort(due, compare_due);
        for (guint k = 0; k < due->len; k++)
                make_ready(s, due->pdata[k]);
        start_ready(s);
        arm_timer(s);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        run_due(userdata);
        return 0;
}

static int on_due_now(sd_event_source *source, void *userdata) {
        run_due(userdata);
        return 0;
}

/* ------------------------------------------------------------------ finishing */

static void history_add(Scheduler *s, Task *t) {
        g_queue_push_tail(&s->history, t);
        while (g_queue_get_length(&s->history) > s->task_history) {
                Task *old = g_queue_pop_head(&s->history);

                NOTIFY(s, task_forgotten, old);
                g_hash_table_remove(s->by_id, &old->id);
                g_tree_remove(s->ordered, &old->id);
                task_free(old);
        }
}

void scheduler_task_runner_changed(Scheduler *s, Task *t) {
        NOTIFY(s, task_changed, t);
}

void scheduler_task_finished(Scheduler *s, Task *t, TaskState state, const char *result, int exit_status) {
        char status[32];
        LogField f[2];

        if (t->state != TASK_RUNNING)
                return;
        running_remove(s, t);
        s->n_running--;
        s->starved = false;
        t->state = state;
        t->result = result;
        t->exit_status = exit_status;
        t->finished_usec = now_usec(CLOCK_REALTIME);
        t->runner = NULL;
        t->runner_data = NULL;
        if (state == TASK_DONE)
                s->n_done++;
        else
                s->n_failed++;

        snprintf(status, sizeof status, "%d", exit_status);
        f[0] = LOG_FIELD("INOTASKD_RESULT", result);
        f[1] = LOG_FIELD("INOTASKD_EXIT_STATUS", status);
        if (state == TASK_DONE)
                /* A dry run said what it would have done already: one line per task is enough. */
                task_log(streq(result, "dry-run") ? LOG_DEBUG : LOG_INFO, MESSAGE_ID_TASK_FINISHED, t, f, 2,
                         "Task %" PRIu64 " (%s) finished: %s.", t->id, t->rule->name, result);
        else if (state == TASK_CANCELLED)
                task_log(LOG_INFO, NULL, t, f, 2, "Task %" PRIu64 " (%s) cancelled: stopped while running.",
                         t->id, t->rule->name);
        else
                task_log(LOG_WARNING, MESSAGE_ID_TASK_FAILED, t, f, 2,
                         "Task %" PRIu64 " (%s) failed: %s%s%s.", t->id, t->rule->name, result,
                         streq(result, "exit-code") ? ", status " : streq(result, "signal") ? ", signal " : "",
                         streq(result, "exit-code") || streq(result, "signal") ? status : "");

        NOTIFY(s, task_removed, t);
        history_add(s, t);
        counts_changed(s);
        start_ready(s);
        arm_timer(s);
}

static void end_scheduled(Scheduler *s, Task *t, const char *result, const char *why) {
        if (t->ready)
                g_queue_remove(&s->ready, t);
        else
                queue_unlink(s, t);
        t->ready = false;
        g_hash_table_remove(s->scheduled, t);
        s->n_scheduled--;
        t->state = TASK_CANCELLED;
        t->result = result;
        t->due_usec = 0;
        t->finished_usec = now_usec(CLOCK_REALTIME);
        {
                LogField f = LOG_FIELD("INOTASKD_RESULT", result);

                task_log(LOG_INFO, NULL, t, &f, 1, "Task %" PRIu64 " (%s) %s: %s.", t->id, t->rule->name,
                         result, why);
        }
        NOTIFY(s, task_removed, t);
        history_add(s, t);
        counts_changed(s);
        arm_timer(s);
}

static void cancel_scheduled(Scheduler *s, Task *t, const char *why) {
        end_scheduled(s, t, "cancelled", why);
}

/* ------------------------------------------------------------------ scheduling */

static void set_event(Task *t, Event *ev, char **groups) {
        g_free(t->src_path);
        t->src_path = g_strdup(ev->src_pathname);
        t->mask = ev->mask;
        t->kind = ev->kind;
        t->event_name = g_intern_string(event_display_name(ev));
        g_strfreev(t->groups);
        t->groups = g_strdupv(groups);
        t->n_groups = groups ? g_strv_length(groups) : 0;
}

static void set_due(Task *t, usec_t delay) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        /* MaxDelaySec=: new events postpone a task at most this long past its first one. */
        if (delay != USEC_INFINITY && t->rule->max_delay != USEC_INFINITY && t->first_mono > 0) {
                usec_t cap = t->rule->max_delay >= USEC_INFINITY - t->first_mono
                                     ? USEC_INFINITY - 1
                                     : t->first_mono + t->rule->max_delay;

                delay = cap > now ? MIN(delay, cap - now) : 0;
        }
        t->due_mono = delay == USEC_INFINITY ? USEC_INFINITY - 1 : now + delay;
        t->due_usec = now_usec(CLOCK_REALTIME) + (delay == USEC_INFINITY ? 0 : delay);
}

/* A task with id (unused, nonzero). */
static Task *task_new_with_id(Scheduler *s, uint64_t id, ConfigRule *r, const char *watch,
                              const char *watch_path, const char *path, size_t relpath_offset, const char *item,
                              bool batch) {
        Task *t = g_new0(Task, 1);

        t->id = id;
        t->rule = config_rule_ref(r);
        t->watch = g_intern_string(watch);
        t->watch_path = g_intern_string(watch_path);
        t->path = g_strdup(path);
        t->relpath_offset = relpath_offset;
        t->item = g_strdup(item);
        t->batch = batch ? task_batch_new() : NULL;
        t->key_hash = task_key_compute(r, item, task_key_path(t));
        t->state = TASK_SCHEDULED;
        t->created_usec = now_usec(CLOCK_REALTIME);
        t->first_mono = now_usec(CLOCK_MONOTONIC);
        g_hash_table_insert(s->by_id, &t->id, t);
        g_tree_insert(s->ordered, &t->id, t);
        g_hash_table_add(s->scheduled, t);
        s->n_scheduled++;
        return t;
}

/* A task with the next id, or NULL once the ids are used up: ids are never handed out twice (the last
 * one is UINT64_MAX, next_id then stays 0). Logged once. */
static Task *task_new(Scheduler *s, ConfigRule *r, const char *watch, const char *watch_path, const char *path,
                      size_t relpath_offset, const char *item, bool batch) {
        if (s->next_id == 0) {
                if (!s->ids_exhausted)
                        log_error("Task ids are used up (the last one was %" PRIu64 "), no new tasks are "
                                  "scheduled.", UINT64_MAX);
                s->ids_exhausted = true;
                return NULL;
        }
        return task_new_with_id(s, s->next_id++, r, watch, watch_path, path, relpath_offset, item, batch);
}

/* A file a scan finds (in a new directory, after an overflow) may still be open for writing, and then
 * its own IN_CLOSE_WRITE is on the way. Its task waits this long at least, so that the close debounces
 * into it and the task runs once, on the whole file, due at once from the close on. */
#define SCAN_SETTLE_USEC (100 * USEC_PER_MSEC)

static usec_t event_delay(const ConfigRule *r, const Event *ev) {
        if (ev->synthetic && (ev->kind == EVENT_KIND_CREATED || ev->kind == EVENT_KIND_CHANGED) &&
            r->delay < SCAN_SETTLE_USEC)
                return SCAN_SETTLE_USEC;
        return r->delay;
}

/* The source of a move within the watch is gone from it: a batch notes it as a deletion, so that a
 * mirror removes the old name. */
static void batch_add_event(Task *t, Event *ev) {
        const char *src = ev->src_pathname;

        if (ev->kind == EVENT_KIND_MOVED && src && src[relpath_offset(src, t->watch_path)])
                (void) task_batch_add(t->batch, src, IN_MOVED_FROM, EVENT_KIND_DELETED, "moved-away");
        (void) task_batch_add(t->batch, event_pathname(ev), ev->mask, ev->kind, event_display_name(ev));
}

/* Batch=yes: the event joins the open batch of (rule, watch, item), or opens one. A batch that reaches
 * BatchMax= is sealed and due at once: its paths run now, later ones go to the next batch. The delay
 * starts again with every event (up to MaxDelaySec= past the first). */
static void schedule_batch(Scheduler *s, ConfigRule *r, Event *ev, char **groups, const char *item) {
        Task probe = BATCH_PROBE(r, item, ev->watch->name);
        Task *t = g_hash_table_lookup(s->scheduled, &probe);
        GPtrArray *a;

        if (t && task_batch_size(t->batch) >= r->batch_max &&
            !g_hash_table_contains(t->batch->by_path, event_pathname(ev))) {
                t->batch_sealed = true;
                if (!t->ready) {
                        set_due(t, 0);
                        queue_unlink(s, t);
                        queue_insert(s, t);
                }
                NOTIFY(s, task_changed, t);
                t = NULL;
        }
        if (t) {
                set_event(t, ev, groups);
                batch_add_event(t, ev);
                if (!t->ready) {
                        queue_unlink(s, t);
                        set_due(t, event_delay(r, ev));
                        queue_insert(s, t);
                }
                NOTIFY(s, task_changed, t);
                return;
        }

        a = running_of(s, &probe);
        if (a && a->len > 0 && r->if_running == IF_RUNNING_SKIP) {
                log_debug("Rule %s: a batch is running, skipping the event.", r->name);
                return;
        }

        t = task_new(s, r, ev->watch->name, ev->watch->path, event_pathname(ev), ev->relpath_offset, item,
                     true);
        if (!t)
                return;
        set_event(t, ev, groups);
        batch_add_event(t, ev);
        /* The first path is what ListTasks and Path show: the event's own, even after a move's source. */
        set_due(t, event_delay(r, ev));
        queue_insert(s, t);
        task_log(LOG_DEBUG, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) scheduled for %s (a batch).", t->id,
                 r->name, t->path);
        NOTIFY(s, task_new, t);
        counts_changed(s);
}

static void schedule_one(Scheduler *s, ConfigRule *r, Event *ev, char **groups, const char *item) {
        const char *path = event_pathname(ev);
        Task probe = TASK_PROBE(r, item, path);
        Task *t = g_hash_table_lookup(s->scheduled, &probe);
        GPtrArray *a;

        if (t) {
                /* Debounce: same id, latest event, the delay starts again. */
                set_event(t, ev, groups);
                if (t->ready)
                        g_queue_remove(&s->ready, t);
                else
                        queue_unlink(s, t);
                t->ready = false;
                set_due(t, event_delay(r, ev));
                queue_insert(s, t);
                NOTIFY(s, task_changed, t);
                return;
        }

        a = running_of(s, &probe);
        if (a && a->len > 0 && r->if_running == IF_RUNNING_SKIP) {
                log_debug("Rule %s: task for %s is running, skipping the event.", r->name, path);
                return;
        }

        t = task_new(s, r, ev->watch->name, ev->watch->path, path, ev->relpath_offset, item, false);
        if (!t)
                return;
        set_event(t, ev, groups);
        set_due(t, event_delay(r, ev));
        queue_insert(s, t);
        if (log_get_max_level() >= LOG_DEBUG) {
                g_autofree char *shown = escape_display(path, strlen(path));

                task_log(LOG_DEBUG, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) scheduled for %s.", t->id, r->name,
                         shown);
        }
        NOTIFY(s, task_new, t);
        counts_changed(s);
}

void scheduler_schedule(Scheduler *s, ConfigRule *r, Event *ev, char **groups) {
        if (s->stopping)
                return;
        if (!r->for_each || !r->for_each[0])
                (r->batch ? schedule_batch : schedule_one)(s, r, ev, groups, NULL);
        else
                for (char **i = r->for_each; *i; i++)
                        (r->batch ? schedule_batch : schedule_one)(s, r, ev, groups, *i);
        arm_timer(s);
}

void scheduler_cancel_event(Scheduler *s, ConfigRule *r, Event *ev) {
        const char *path = event_pathname(ev);
        const char *no_items[] = { NULL, NULL };
        const char *const *items = r->for_each && r->for_each[0] ? (const char *const *) r->for_each : no_items;

        /* Without ForEach= the one key has no item: loop once with NULL. */
        for (size_t i = 0; i == 0 || items[i]; i++) {
                Task probe = TASK_PROBE(r, items[i], path);
                Task *t = g_hash_table_lookup(s->scheduled, &probe);

                if (t)
                        cancel_scheduled(s, t, event_display_name(ev));
        }
}

Task *scheduler_run_rule(Scheduler *s, ConfigRule *r, const char *watch, const char *watch_path,
                         const char *path) {
        Task probe = TASK_PROBE(r, NULL, path);
        Task *t = g_hash_table_lookup(s->scheduled, &probe);

        if (!t) {
                t = task_new(s, r, watch, watch_path, path, relpath_offset(path, watch_path), NULL, false);
                if (!t)
                        return NULL;
                t->event_name = g_intern_static_string("manual");
                NOTIFY(s, task_new, t);
                counts_changed(s);
        } else if (t->ready)
                return t;
        else
                queue_unlink(s, t);
        set_due(t, 0);
        make_ready(s, t);
        start_ready(s);
        arm_timer(s);
        return t;
}

void task_seed_free(TaskSeed *seed) {
        if (!seed)
                return;
        g_free(seed->rule);
        g_free(seed->watch);
        g_free(seed->path);
        g_free(seed->src_path);
        g_free(seed->event_name);
        g_free(seed->item);
        g_strfreev(seed->groups);
        g_free(seed->unit);
        task_batch_free(seed->batch);
        g_free(seed);
}

Task *scheduler_restore(Scheduler *s, ConfigRule *r, const char *watch_path, const TaskSeed *seed) {
        Task probe = seed->batch ? BATCH_PROBE(r, seed->item, seed->watch)
                                 : TASK_PROBE(r, seed->item, seed->path);
        Task *open = g_hash_table_lookup(s->scheduled, &probe);
        usec_t now = now_usec(CLOCK_REALTIME), left;
        Task *t;

        if (seed->id == 0 || (!seed->batch && open) || g_hash_table_contains(s->by_id, &seed->id))
                return NULL;
        /* Two batches of one key (a full one and the next, in due order): the earlier takes no more. */
        if (open)
                open->batch_sealed = true;
        /* Keep the id the task had, so what a person noted down still names it. */
        t = task_new_with_id(s, seed->id, r, seed->watch, watch_path, seed->path,
                             relpath_offset(seed->path, watch_path), seed->item, !!seed->batch);
        for (size_t i = 0; seed->batch && i < task_batch_size(seed->batch); i++) {
                const BatchEntry *e = task_batch_get(seed->batch, i);

                (void) task_batch_add(t->batch, e->path, e->mask, e->kind, e->event_name);
        }
        if (s->next_id != 0 && seed->id >= s->next_id)
                s->next_id = seed->id + 1;      /* 0 after UINT64_MAX: used up */

        t->src_path = g_strdup(seed->src_path);
        t->mask = seed->mask;
        t->kind = seed->kind;
        t->event_name = g_intern_string(seed->event_name);
        t->groups = g_strdupv(seed->groups);
        t->n_groups = t->groups ? g_strv_length(t->groups) : 0;
        t->created_usec = seed->created_usec;

        left = seed->due_usec > now ? seed->due_usec - now : 0;
        t->due_mono = now_usec(CLOCK_MONOTONIC) + left;
        t->due_usec = now + left;
        queue_insert(s, t);
        /* Debug: a start with 200,000 of them says how many once. */
        task_log(LOG_DEBUG, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) restored for %s, due in %" PRIu64 " ms.",
                 t->id, r->name, t->path, left / USEC_PER_MSEC);
        NOTIFY(s, task_new, t);
        counts_changed(s);
        arm_timer(s);
        return t;
}

Task *scheduler_adopt(Scheduler *s, ConfigRule *r, const char *watch_path, const TaskSeed *seed,
                      struct Runner *runner) {
        Task *t;

        if (seed->id == 0 || !seed->unit || g_hash_table_contains(s->by_id, &seed->id))
                return NULL;
        t = task_new_with_id(s, seed->id, r, seed->watch, watch_path, seed->path,
                             relpath_offset(seed->path, watch_path), seed->item, !!seed->batch);
        for (size_t i = 0; seed->batch && i < task_batch_size(seed->batch); i++) {
                const BatchEntry *e = task_batch_get(seed->batch, i);

                (void) task_batch_add(t->batch, e->path, e->mask, e->kind, e->event_name);
        }
        if (s->next_id != 0 && seed->id >= s->next_id)
                s->next_id = seed->id + 1;
        g_hash_table_remove(s->scheduled, t);
        s->n_scheduled--;
        t->src_path = g_strdup(seed->src_path);
        t->mask = seed->mask;
        t->kind = seed->kind;
        t->event_name = g_intern_string(seed->event_name);
        t->groups = g_strdupv(seed->groups);
        t->n_groups = t->groups ? g_strv_length(t->groups) : 0;
        t->created_usec = seed->created_usec;
        t->started_usec = seed->started_usec ?: now_usec(CLOCK_REALTIME);
        t->unit_name = g_strdup(seed->unit);
        t->state = TASK_RUNNING;
        t->runner = runner;
        running_add(s, t);
        s->n_running++;
        NOTIFY(s, task_new, t);
        NOTIFY(s, task_started, t);
        counts_changed(s);
        return t;
}

/* ------------------------------------------------------------------ following renames */

Task *scheduler_find(Scheduler *s, ConfigRule *r, const char *item, const char *path) {
        Task probe = TASK_PROBE(r, item, path);

        /* A batch follows no file: a move comes to it as an event of its own (the source a deletion). */
        if (r->batch)
                return NULL;
        return g_hash_table_lookup(s->scheduled, &probe);
}

void scheduler_cancel_task(Scheduler *s, Task *t, const char *why) {
        if (t->state == TASK_SCHEDULED)
                cancel_scheduled(s, t, why);
}

/* Gives a scheduled task a new path: its key changes, its id and due time stay. If the new key has a
 * task already, that one stays and t is cancelled (they are the same file's work). */
void scheduler_rekey(Scheduler *s, Task *t, const char *new_path, char **groups) {
        Task probe = TASK_PROBE(t->rule, t->item, new_path);
        Task *other;

        if (t->state != TASK_SCHEDULED || t->batch || streq(t->path, new_path))
                return;
        other = g_hash_table_lookup(s->scheduled, &probe);
        if (other) {
                cancel_scheduled(s, t, "its file was renamed onto a path with a task");
                return;
        }
        g_hash_table_remove(s->scheduled, t);
        g_free(t->path);
        t->path = g_strdup(new_path);
        t->relpath_offset = relpath_offset(t->path, t->watch_path);
        t->key_hash = probe.key_hash;
        if (groups) {
                g_strfreev(t->groups);
                t->groups = g_strdupv(groups);
                t->n_groups = g_strv_length(groups);
        }
        g_hash_table_add(s->scheduled, t);
        task_log(LOG_DEBUG, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) follows its file to %s.", t->id,
                 t->rule->name, t->path);
        NOTIFY(s, task_changed, t);
}

static GPtrArray *scheduled_below(Scheduler *s, const char *watch, const char *dir) {
        GPtrArray *a = g_ptr_array_new();
        size_t l = strlen(dir);
        GHashTableIter i;
        gpointer v;

        g_hash_table_iter_init(&i, s->scheduled);
        while (g_hash_table_iter_next(&i, NULL, &v)) {
                Task *t = v;

                if (!t->batch && streq(t->watch, watch) && strneq(t->path, dir, l) && t->path[l] == '/' &&
                    !task_is_deletion(t))
                        g_ptr_array_add(a, t);
        }
        return a;
}

void scheduler_rename_prefix(Scheduler *s, const char *watch, const char *old_dir, const char *new_dir,
                             SchedulerFollowFunc follows, void *userdata) {
        g_autoptr(GPtrArray) a = scheduled_below(s, watch, old_dir);
        size_t l = strlen(old_dir);

        for (guint k = 0; k < a->len; k++) {
                Task *t = a->pdata[k];
                g_autofree char *p = g_strconcat(new_dir, t->path + l, NULL);
                _cleanup_strv_free_ char **groups = NULL;
                const char *why = NULL;

                if (follows && !follows(t, p, &groups, &why, userdata))
                        cancel_scheduled(s, t, why ?: "renamed to a path its rule does not match");
                else
                        scheduler_rekey(s, t, p, groups);
        }
}

void scheduler_cancel_below(Scheduler *s, const char *watch, const char *dir, const char *why) {
        g_autoptr(GPtrArray) a = scheduled_below(s, watch, dir);

        for (guint k = 0; k < a->len; k++)
                cancel_scheduled(s, a->pdata[k], why);
}

/* ------------------------------------------------------------------ verbs */

uint64_t scheduler_get_next_id(const Scheduler *s) {
        return s->next_id;
}

void scheduler_bump_next_id(Scheduler *s, uint64_t id) {
        if (s->next_id != 0 && id > s->next_id)
                s->next_id = id;
}

Task *scheduler_get(Scheduler *s, uint64_t id) {
        return g_hash_table_lookup(s->by_id, &id);
}

int scheduler_cancel(Scheduler *s, Task *t) {
        if (t->state == TASK_SCHEDULED) {
                cancel_scheduled(s, t, "by request");
                return 0;
        }
        if (t->state == TASK_RUNNING) {
                cancel_running(t);
                return 0;
        }
        return -EALREADY;
}

int scheduler_trigger(Scheduler *s, Task *t) {
        if (t->state != TASK_SCHEDULED)
                return -EALREADY;
        if (!t->ready) {
                set_due(t, 0);
                make_ready(s, t);
        }
        /* Run it before others that were ready earlier: it was asked for now. */
        g_queue_remove(&s->ready, t);
        g_queue_push_head(&s->ready, t);
        NOTIFY(s, task_changed, t);
        start_ready(s);
        arm_timer(s);
        return 0;
}

void scheduler_replace_rules(Scheduler *s, GPtrArray *rules) {
        g_autoptr(GPtrArray) tasks = g_ptr_array_new();
        GHashTableIter i;
        gpointer v;

        g_hash_table_iter_init(&i, s->scheduled);
        while (g_hash_table_iter_next(&i, NULL, &v))
                g_ptr_array_add(tasks, v);
        /* In due order: each goes back to its queue's tail, not a walk through it. */
        g_ptr_array_sort(tasks, compare_due);

        for (guint k = 0; k < tasks->len; k++) {
                Task *t = tasks->pdata[k];
                ConfigRule *nr = NULL;

                for (guint j = 0; j < rules->len; j++)
                        if (streq(((ConfigRule *) rules->pdata[j])->name, t->rule->name))
                                nr = rules->pdata[j];
                if (!nr) {
                        cancel_scheduled(s, t, "its rule was removed");
                        continue;
                }
                if (nr == t->rule)
                        continue;
                /* Same name, new definition: keep the task and its due time. */
                if (!t->ready)
                        queue_unlink(s, t);
                config_rule_unref(t->rule);
                t->rule = config_rule_ref(nr);
                if (!t->ready)
                        queue_insert(s, t);
        }
        arm_timer(s);
}

unsigned scheduler_stop(Scheduler *s) {
        s->stopping = true;
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(s->due_now, SD_EVENT_OFF);
        return s->n_running;
}

void scheduler_kill_running(Scheduler *s) {
        g_autoptr(GPtrArray) tasks = g_ptr_array_new();
        GHashTableIter i;
        gpointer v;

        /* Collected first: a runner may end a task at once, which changes the table. */
        g_hash_table_iter_init(&i, s->running);
        while (g_hash_table_iter_next(&i, NULL, &v))
                g_ptr_array_extend(tasks, v, NULL, NULL);
        for (guint k = 0; k < tasks->len; k++) {
                Task *t = tasks->pdata[k];

                if (t->state == TASK_RUNNING && t->runner)
                        runner_stop(t->runner, t, RUNNER_STOP_KILL);
        }
}

void scheduler_get_stats(const Scheduler *s, SchedulerStats *ret) {
        *ret = (SchedulerStats) {
                .n_scheduled = s->n_scheduled,
                .n_running = s->n_running,
                .n_done = s->n_done,
                .n_failed = s->n_failed,
        };
}

void scheduler_foreach(Scheduler *s, void (*f)(Task *t, void *userdata), void *userdata) {
        GHashTableIter i;
        gpointer v;

        g_hash_table_iter_init(&i, s->by_id);
        while (g_hash_table_iter_next(&i, NULL, &v))
                f(v, userdata);
}

void scheduler_foreach_after(Scheduler *s, uint64_t after_id, bool (*f)(Task *t, void *userdata),
                             void *userdata) {
        GTreeNode *n;
        uint64_t from = after_id + 1;

        if (after_id == UINT64_MAX)
                return;
        for (n = g_tree_lower_bound(s->ordered, &from); n; n = g_tree_node_next(n))
                if (!f(g_tree_node_value(n), userdata))
                        return;
}
