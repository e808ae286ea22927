/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One connection to the service manager's bus (the system bus, or the user bus with --user) for every
 * runner that talks to systemd: opened on first use, subscribed to its signals, opened again after a
 * disconnect. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct SystemdBus SystemdBus;

/* A user of the connection: connected() adds its matches on each new connection (a negative errno fails
 * that connection); disconnected() is told that the old one is gone, with what was pending on it. */
typedef struct SystemdBusClient {
        int (*connected)(sd_bus *bus, void *userdata);
        void (*disconnected)(void *userdata);
        void *userdata;
} SystemdBusClient;

int systemd_bus_new(SystemdBus **ret, sd_event *e, bool user_mode);
SystemdBus *systemd_bus_free(SystemdBus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(SystemdBus *, systemd_bus_free);

/* c is copied; registered before the first systemd_bus_get(). */
void systemd_bus_add_client(SystemdBus *b, const SystemdBusClient *c);

/* The open connection (borrowed), connecting first if needed. Logs on failure. */
int systemd_bus_get(SystemdBus *b, sd_bus **ret);

bool systemd_bus_user_mode(const SystemdBus *b);

/* Whether a service manager answers on that bus now: a blocking call with a short timeout, for the
 * start (TaskUnits=auto) and the stop (restart or stop?), never while tasks run. */
bool systemd_bus_manager_reachable(SystemdBus *b);

/* The type of the job systemd runs for the daemon's own unit now ("restart", "stop", ...), NULL in *ret
 * when there is none: how a SIGTERM is meant. Blocking (called once, at the stop). */
int systemd_bus_own_job_type(SystemdBus *b, char **ret);
