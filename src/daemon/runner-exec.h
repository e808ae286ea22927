/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs Action=exec and Action=shell tasks as child processes, without blocking the loop. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "scheduler.h"

typedef struct RunnerContext {
        sd_event *event;
        Scheduler *scheduler;
        bool dry_run;
        /* The daemon's own user, looked up once: tasks without User= run as it. */
        char *self_user, *self_home, *self_shell;
        /* For spawning, set up at the first spawn: /dev/null for stdin, the signals the daemon ignores
         * (a child must not inherit SIG_IGN), and whether a handler anywhere forces posix_spawn(). */
        bool spawn_ready, spawn_posix;
        int null_fd;
        int n_ignored, ignored[64];
        /* Children are reaped from one SIGCHLD source, found by pid: no pidfd, epoll entry and close
         * per child. */
        sd_event_source *sigchld;
        GHashTable *children;           /* pid -> Run* */
} RunnerContext;

void runner_context_done(RunnerContext *c);

/* Spawns t's command; the result reaches scheduler_task_finished() from a child source. */
int runner_exec_start(RunnerContext *c, Task *t);

/* Fills v with t's placeholder values; buffers (task id, mask name, dir) are kept in the three scratch
 * strings, which the caller frees. */
typedef struct TemplateValues TemplateValues;
void task_template_values(const Task *t, TemplateValues *v, char **scratch_id, char **scratch_mask,
                          char **scratch_dir);
