/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Authorization of bus calls: root and our own uid from the bus driver's credentials, AdminGroup= from the
 * groups the driver recorded at connect time, everyone else by asking polkit, asynchronously. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "macro.h"

/* Calls waiting for an answer at once, of one sender and of all; more are refused with LimitsExceeded.
 * Each holds its whole request message: the bounds keep a flood of callers from growing the daemon. */
#define POLKIT_PENDING_PER_SENDER_MAX 64U
#define POLKIT_PENDING_MAX 256U

typedef struct BusPolkit BusPolkit;

int bus_polkit_new(BusPolkit **ret);
BusPolkit *bus_polkit_free(BusPolkit *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(BusPolkit *, bus_polkit_free);

/* Whether the caller of message may do action. admin_gid (or (gid_t) -1 for none) is AdminGroup=.
 * Returns 1: allowed; 0: a query was started, the handler must return 1 without touching anything and
 * will be called again with the same message when the answer is in; negative: refused or failed, with
 * error set (AccessDenied or InteractiveAuthorizationRequired naming the action). Call it before any
 * change of state. */
int bus_polkit_verify(BusPolkit *p, sd_bus_message *message, const char *action, gid_t admin_gid,
                      sd_bus_error *error);

/* Whether the allowed-without-polkit check passes: uid 0 or our own euid, or admin_gid among gids. Pure. */
bool bus_polkit_trusted(uid_t uid, const gid_t *gids, size_t n_gids, gid_t admin_gid);
