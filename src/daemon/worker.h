/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Work off the loop: jobs run in a thread pool, their completion is handed back to the loop. */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Worker Worker;

typedef void (*WorkerRunFunc)(void *job);       /* in a pool thread */
typedef void (*WorkerDoneFunc)(void *job);      /* on the loop, after run */

int worker_new(Worker **ret, sd_event *e, unsigned max_threads);
Worker *worker_free(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free);

int worker_submit(Worker *w, void *job, WorkerRunFunc run, WorkerDoneFunc done);
