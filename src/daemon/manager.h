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
} ManagerOptions;

typedef struct Manager Manager;

int manager_new(Manager **ret, const ManagerOptions *o);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads the configuration (-EINVAL with the messages logged on a bad one), watches, raises the initial
 * events and reports readiness. */
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
Bus *manager_get_bus(Manager *m);
bool manager_is_user_mode(Manager *m);

/* Re-reads the configuration. On -EINVAL the running configuration stays and errors (char*) has the
 * messages. */
int manager_reload(Manager *m, GPtrArray *errors);
