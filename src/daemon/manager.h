/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's context: configuration, backend, scheduler and runners on one sd-event loop. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "macro.h"

typedef enum ManagerState {
        MANAGER_STARTING,
        MANAGER_READY,
        MANAGER_RELOADING,
        MANAGER_STOPPING,
        _MANAGER_STATE_MAX,
} ManagerState;

const char *manager_state_to_string(ManagerState s);

typedef struct ManagerOptions {
        bool user_mode;
        bool dry_run;
        const char *config_file;        /* -c, or NULL */
        int log_level_override;         /* from -v, or -1 */
        int ready_fd;                   /* -d: written to once ready, or -1 */
        bool once;                      /* --once: InitialEvent= of every watch, its tasks, then exit */
} ManagerOptions;

typedef struct Manager Manager;

int manager_new(Manager **ret, const ManagerOptions *o);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads the configuration, watches, raises the initial events and reports readiness. A configuration
 * that is invalid gives CONFIG_E_INVALID, one that cannot be read its negative errno; both are logged. */
int manager_start(Manager *m);

/* Runs the loop until stopped; returns the exit code. */
int manager_run(Manager *m);

typedef struct Backend Backend;
typedef struct Scheduler Scheduler;
typedef struct Config Config;
typedef struct Watch Watch;
typedef struct Bus Bus;

/* For the bus layer, which reads state and calls verbs. */
Backend *manager_get_backend(Manager *m);
Scheduler *manager_get_scheduler(Manager *m);
const Config *manager_get_config(Manager *m);
ManagerState manager_get_state(Manager *m);
/* The log level from now on, whatever LogLevel= says, also after a reload (LogControl1, like -v). */
void manager_set_log_level_override(Manager *m, int level);

/* Re-reads the configuration. On failure the running configuration stays, errors (char*) has the
 * messages (logged as warnings), and the answer is CONFIG_E_INVALID for an invalid configuration or the
 * negative errno of a file that cannot be read. */
int manager_reload(Manager *m, GPtrArray *errors);
