/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=start-unit|stop-unit|restart-unit|reload-unit: a systemd job per task, its result the task's. */
#pragma once

#include "macro.h"
#include "runner.h"
#include "systemd-bus.h"

/* A cancel cancels the task's job (org.freedesktop.systemd1.Job.Cancel), as `systemctl cancel` does:
 * the task ends as "cancelled" once systemd removes the job. The unit itself is systemd's: what the job
 * had begun (a start's processes) is not stopped — a task asked for a job, not for a unit's state. */
typedef struct UnitRunner UnitRunner;

/* sbus: the shared connection (systemd-bus.h), which must outlive the runner. */
int unit_runner_new(UnitRunner **ret, const RunnerContext *ctx, SystemdBus *sbus);
UnitRunner *unit_runner_free(UnitRunner *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitRunner *, unit_runner_free);

Runner *unit_runner_runner(UnitRunner *u);

/* systemd-escape for one placeholder value: "/" becomes "-", anything outside [A-Za-z0-9:_.] (and a
 * leading ".") becomes \xNN. Newly allocated. */
char *unit_name_escape(const char *s);

/* Unit= with its placeholders expanded (values escaped); NULL and *ret_error on failure. */
char *unit_name_for_task(const Task *t, char **ret_error);
