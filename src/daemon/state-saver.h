/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When the state directory is written: the tasks soon after they change (a failed save retried with
 * backoff), the snapshots after the start, while tasks change and at stop, never ahead of the tasks. */
#pragma once

#include <systemd/sd-event.h>

#include "backend.h"
#include "scheduler.h"
#include "time-util.h"

typedef struct StateSaver StateSaver;

/* Saves s's tasks and b's watches' snapshots in dir (borrowed: they outlive the saver). */
int state_saver_new(StateSaver **ret, sd_event *e, const char *dir, Scheduler *s, Backend *b);
StateSaver *state_saver_free(StateSaver *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(StateSaver *, state_saver_free);

/* The scheduled tasks changed: saved soon, once for a burst; the snapshots within a while. */
void state_saver_tasks_changed(StateSaver *v);

/* The start is done (what the snapshots told is scheduled): they are replaced once that is saved. */
void state_saver_started(StateSaver *v);

/* The last save, at stop: the tasks, then (if that worked) the snapshots, stamped stopped_usec
 * (CLOCK_REALTIME, when the events stopped being read). */
void state_saver_stop(StateSaver *v, usec_t stopped_usec);
