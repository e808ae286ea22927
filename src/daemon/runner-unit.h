/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=start-unit|stop-unit|restart-unit|reload-unit: a systemd job per task, its result the task's. */
#pragma once

#include <systemd/sd-event.h>

#include "runner-exec.h"

typedef struct UnitRunner UnitRunner;

int unit_runner_new(UnitRunner **ret, sd_event *e, RunnerContext *ctx, bool user_mode);
UnitRunner *unit_runner_free(UnitRunner *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitRunner *, unit_runner_free);

int runner_unit_start(UnitRunner *u, Task *t);

/* systemd-escape for one placeholder value: "/" becomes "-", anything outside [A-Za-z0-9:_.] (and a
 * leading ".") becomes \xNN. Newly allocated. */
char *unit_name_escape(const char *s);

/* Unit= with its placeholders expanded (values escaped); NULL and *ret_error on failure. */
char *unit_name_for_task(const Task *t, char **ret_error);
