/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=exec|shell with TaskUnits=yes: each task a transient service "inotaskd-task-<id>.service" that
 * systemd starts, confines and accounts; the task follows its unit to its result. */
#pragma once

#include "macro.h"
#include "runner.h"
#include "systemd-bus.h"

typedef struct TransientRunner TransientRunner;

/* sbus: the shared connection (systemd-bus.h), which must outlive the runner. */
int transient_runner_new(TransientRunner **ret, const RunnerContext *ctx, SystemdBus *sbus);
TransientRunner *transient_runner_free(TransientRunner *x);
DEFINE_TRIVIAL_CLEANUP_FUNC(TransientRunner *, transient_runner_free);

Runner *transient_runner_runner(TransientRunner *x);

/* A task that was running in its unit before a restart (scheduler_adopt()): finds the unit by name and
 * follows it, or records the result it ended with meanwhile. */
void transient_runner_adopt(TransientRunner *x, Task *t);

/* A saved unit task that cannot come back (its rule or watch is gone): its unit is stopped and reset, so
 * that systemd collects it instead of keeping it loaded for a result nobody reads. */
void transient_runner_release(TransientRunner *x, const char *unit);

/* The daemon stops: the unit tasks left running (a restart leaves all, a stop those whose rule says
 * StopWithDaemon=no) are not waited for; they stay in the state file for the next start. Returns how
 * many are left running so. */
unsigned transient_runner_leave_running(TransientRunner *x, bool restarting);
bool transient_runner_has_running(const TransientRunner *x);
/* How many running tasks were left so (0 before transient_runner_leave_running()). */
unsigned transient_runner_n_left(const TransientRunner *x);

/* Whether t's values can go to a unit (valid UTF-8, no control characters but tab and newline): a path
 * that cannot is run by the spawning runner instead, with its exact bytes. */
bool transient_runner_can_run(const Task *t);

/* The transient unit of task id. Newly allocated. */
char *transient_unit_name(uint64_t id);

/* Every Property= of c checked with unit_property_check(): CONFIG_E_INVALID with a message per error
 * ("FILE:LINE: [Rule NAME] Property=...: ...") appended to errors, else 0. */
int task_units_check_config(const Config *c, GPtrArray *errors);

/* --check-config: the same against the service manager itself (what it does not know). A negative errno
 * when it cannot be asked (nothing appended: the check is skipped). */
int task_units_check_manager(const Config *c, bool user_mode, GPtrArray *errors);
