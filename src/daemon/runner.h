/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one face of every action: the scheduler starts a task on a runner and may ask it to stop; the runner
 * reports the task's end through scheduler_task_finished(), exactly once. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "scheduler.h"

/* What every runner shares: the loop, the scheduler it reports to, and whether to only say what it would
 * do. */
typedef struct RunnerContext {
        sd_event *event;
        Scheduler *scheduler;
        bool dry_run;
} RunnerContext;

typedef enum RunnerStop {
        RUNNER_STOP_CANCEL,             /* CancelTask, IfRunning=restart: end it early, as "cancelled" */
        RUNNER_STOP_KILL,               /* ShutdownTimeoutSec= passed: SIGKILL what can be killed */
} RunnerStop;

typedef struct Runner Runner;

typedef struct RunnerOps {
        const char *name;
        /* Starts t, which must later reach scheduler_task_finished() exactly once (possibly from within).
         * A negative errno: t did not start; the scheduler fails it ("start-failed"), or, for a passing
         * shortage (-EMFILE, -ENFILE, -EAGAIN, -ENOMEM) while other tasks run, retries it later. */
        int (*start)(Runner *r, Task *t);
        /* Asks running t to stop. It still ends through scheduler_task_finished(), now or later; with
         * RUNNER_STOP_CANCEL (t->cancel_requested is set) its result is then "cancelled" unless it
         * completed first. */
        void (*stop)(Runner *r, Task *t, RunnerStop how);
} RunnerOps;

/* Each runner's object begins with this. */
struct Runner {
        const RunnerOps *ops;
};

static inline int runner_start(Runner *r, Task *t) {
        return r->ops->start(r, t);
}

static inline void runner_stop(Runner *r, Task *t, RunnerStop how) {
        r->ops->stop(r, t, how);
}
