/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scheduler owns tasks: one per (rule, path, item) key, delayed, debounced, run, remembered. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "event.h"
#include "time-util.h"

typedef enum TaskState {
        TASK_SCHEDULED,
        TASK_RUNNING,
        TASK_DONE,
        TASK_FAILED,
        TASK_CANCELLED,
        TASK_TIMEOUT,
        _TASK_STATE_MAX,
} TaskState;

const char *task_state_to_string(TaskState s);

typedef struct Scheduler Scheduler;
typedef struct Task Task;

/* Public for reading (the bus, the runners); changed only through the scheduler's verbs. */
struct Task {
        uint64_t id;
        ConfigRule *rule;               /* a reference: a reload does not pull it away from a running task */
        /* (rule name, item, path) is the task's key. Strings shared by many tasks are interned. */
        const char *watch;              /* watch name (interned) */
        const char *watch_path;         /* (interned) */
        char *path;                     /* exact bytes */
        size_t relpath_offset;          /* path + relpath_offset is the path relative to watch_path */
        char *src_path;                 /* moves: the old path, else NULL */
        uint32_t mask;                  /* the latest event */
        EventKind kind;
        const char *event_name;         /* {event} of the latest event (interned) */
        char *item;                     /* ForEach= item or NULL */
        char **groups;                  /* MatchRegex= named groups, in the rule's group_names order */
        size_t n_groups;
        /* Batch=yes: the key is (rule, watch, item) and the task collects the distinct paths (batch.h);
         * path is the first of them. NULL for a task of one path. */
        struct TaskBatch *batch;
        bool batch_sealed;              /* BatchMax= reached: takes no more paths, due at once */
        usec_t first_mono;              /* its first event (CLOCK_MONOTONIC): MaxDelaySec= counts from it */

        TaskState state;
        const char *result;             /* "success", "exit-code", "signal", "timeout", "cancelled",
                                         * "start-failed", "dry-run", "file-error", "unsafe-path",
                                         * "job-failed", "vanished" (its path was gone when due);
                                         * NULL while not finished */
        usec_t created_usec, due_usec, started_usec, finished_usec;     /* CLOCK_REALTIME */
        usec_t due_mono;                /* CLOCK_MONOTONIC */
        pid_t pid;
        char *unit_name;                /* a unit task's transient unit ("inotaskd-task-N.service"), kept
                                         * in the state file while it runs, else NULL */
        int exit_status;                /* exit code, or the signal number for result "signal" */

        /* Scheduler internals. */
        Task *prev, *next;              /* in the rule's queue, ordered by due time */
        bool ready;                     /* due, in the ready queue */
        bool gone_rechecked;            /* its path was gone at a start, and the queue read again */
        bool cancel_requested;          /* a cancel was asked of its runner (once) */
        unsigned key_hash;              /* of (rule name, item, path), computed once */
        struct Runner *runner;          /* what runs it, while running */
        void *runner_data;              /* that runner's state for it */
};

typedef struct SchedulerListener {
        void (*task_new)(Task *t, void *userdata);
        void (*task_changed)(Task *t, void *userdata);          /* event or due time changed */
        void (*task_started)(Task *t, void *userdata);
        void (*task_removed)(Task *t, void *userdata);          /* finished, failed, cancelled */
        void (*task_forgotten)(Task *t, void *userdata);        /* dropped from the history, about to be freed */
        void (*counts_changed)(void *userdata);
        /* Tasks that are due are about to start: read what the kernel holds already first, so that a
         * file's own event still debounces into the task a scan made for it. */
        void (*before_due)(void *userdata);
        /* Is path gone (ENOENT)? Asked as a task is about to start: one that is ends as "vanished"
         * unless it or its rule is about deletions. NULL: never asked. */
        bool (*path_gone)(const char *path, void *userdata);
        void *userdata;
} SchedulerListener;

/* The runner for t's action (runner.h), or NULL if none runs it (t then fails as "start-failed"). The
 * scheduler starts and stops tasks only through that face. */
typedef struct Runner *(*SchedulerRunnerFunc)(const Task *t, void *userdata);

int scheduler_new(Scheduler **ret, sd_event *e, SchedulerRunnerFunc runner_for, void *userdata);
Scheduler *scheduler_free(Scheduler *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scheduler *, scheduler_free);

void scheduler_set_listener(Scheduler *s, const SchedulerListener *l);
void scheduler_set_limits(Scheduler *s, unsigned max_running, unsigned task_history);

/* An event matched rule r (groups: its MatchRegex= values, may be NULL): schedule (or debounce) a task
 * for every ForEach= item. */
void scheduler_schedule(Scheduler *s, ConfigRule *r, Event *ev, char **groups);

/* A CancelOn= event: cancels the scheduled tasks of r for the event's path. */
void scheduler_cancel_event(Scheduler *s, ConfigRule *r, Event *ev);

/* Renames: a scheduled task follows its file. The task of (r, item, path), or NULL; a new path for a
 * scheduled task (its key changes, its id stays); cancelling one with a reason. A directory renamed in
 * watch: every scheduled task of that watch below old_dir gets the path below new_dir (walks the
 * scheduled tasks: only on directory moves). A directory moved away: those tasks are cancelled. */
Task *scheduler_find(Scheduler *s, ConfigRule *r, const char *item, const char *path);
/* Is t's latest event its path going away (a delete, the renamed-away half of a move)? Such a task
 * stays with the old name. */
bool task_is_deletion(const Task *t);
void scheduler_rekey(Scheduler *s, Task *t, const char *new_path, char **groups);
void scheduler_cancel_task(Scheduler *s, Task *t, const char *why);
/* Does t still concern new_path (its rule's Match=/MatchRegex=, the watch's Exclude=)? If so, *ret_groups
 * may get its new MatchRegex= groups; if not, *ret_why may say why it is cancelled. */
typedef bool (*SchedulerFollowFunc)(const Task *t, const char *new_path, char ***ret_groups,
                                    const char **ret_why, void *userdata);
/* follows (may be NULL: every task follows) is asked for each task below old_dir. */
void scheduler_rename_prefix(Scheduler *s, const char *watch, const char *old_dir, const char *new_dir,
                             SchedulerFollowFunc follows, void *userdata);
void scheduler_cancel_below(Scheduler *s, const char *watch, const char *dir, const char *why);

/* By hand (RunRule): a task for r and path, due now. Returns the task, NULL once task ids are used up
 * (the last id is UINT64_MAX; they never wrap into duplicates). */
Task *scheduler_run_rule(Scheduler *s, ConfigRule *r, const char *watch, const char *watch_path, const char *path);

/* A task saved before a restart, scheduled again with what was left of its delay (possibly none). */
typedef struct TaskSeed {
        uint64_t id;
        usec_t created_usec, due_usec;  /* CLOCK_REALTIME */
        uint32_t mask;
        EventKind kind;
        char *rule, *watch, *path, *src_path, *event_name, *item;
        char **groups;
        char *unit;                     /* a unit task that was running: its unit, else NULL */
        usec_t started_usec;            /* CLOCK_REALTIME, with unit */
        struct TaskBatch *batch;        /* a batch's paths (owned), else NULL */
} TaskSeed;
void task_seed_free(TaskSeed *seed);
Task *scheduler_restore(Scheduler *s, ConfigRule *r, const char *watch_path, const TaskSeed *seed);
/* A unit task that was running before a restart (seed->unit set): it comes back running, on runner, which
 * must then find its unit and finish it as usual. NULL if its id is taken. */
Task *scheduler_adopt(Scheduler *s, ConfigRule *r, const char *watch_path, const TaskSeed *seed,
                      struct Runner *runner);

/* Task ids go on across restarts (journalctl INOTASKD_TASK_ID=N names one task): the next id to hand
 * out, and raising it. */
uint64_t scheduler_get_next_id(const Scheduler *s);
void scheduler_bump_next_id(Scheduler *s, uint64_t id);

Task *scheduler_get(Scheduler *s, uint64_t id);
/* Cancels a scheduled task, or asks a running one's runner to stop it (it ends as "cancelled" unless it
 * completes first). -EALREADY for finished ones. */
int scheduler_cancel(Scheduler *s, Task *t);
/* Runs a scheduled task now. -EALREADY if it is not scheduled. */
int scheduler_trigger(Scheduler *s, Task *t);

/* The runner's report. */
void scheduler_task_finished(Scheduler *s, Task *t, TaskState state, const char *result, int exit_status);
/* The runner changed what the tasks file keeps of running task t (its unit, for a batch's next run): the
 * listeners hear task_changed, so it is saved soon. */
void scheduler_task_runner_changed(Scheduler *s, Task *t);

/* A reload: tasks of rules that still exist get the new rule (by name); those of vanished rules are
 * cancelled. */
void scheduler_replace_rules(Scheduler *s, GPtrArray *rules);

/* Stop: no new starts; returns the number of tasks still running. */
unsigned scheduler_stop(Scheduler *s);
/* The stop's last resort: asks every running task's runner to kill it (RUNNER_STOP_KILL). */
void scheduler_kill_running(Scheduler *s);

typedef struct SchedulerStats {
        unsigned n_scheduled, n_running;
        uint64_t n_done, n_failed;
} SchedulerStats;
void scheduler_get_stats(const Scheduler *s, SchedulerStats *ret);

/* Every task the scheduler knows (scheduled, running, then the history), in id order when sorted. */
void scheduler_foreach(Scheduler *s, void (*f)(Task *t, void *userdata), void *userdata);
/* The tasks with an id above after_id, in id order, until f returns false. */
void scheduler_foreach_after(Scheduler *s, uint64_t after_id, bool (*f)(Task *t, void *userdata),
                             void *userdata);

/* Logs about a task with its INOTASKD_* fields. extra may add fields (INOTASKD_RESULT, ...). task_log()
 * passes the caller's file, line and function for the journal's CODE_* fields. */
typedef struct LogField LogField;
void task_log_full(const char *file, int line, const char *func, int level, const char *message_id,
                   const Task *t, const LogField *extra, size_t n_extra, const char *fmt, ...)
        __attribute__((format(printf, 9, 10)));
#define task_log(...) task_log_full(__FILE__, __LINE__, __func__, __VA_ARGS__)
