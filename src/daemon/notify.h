/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the service manager is told: readiness, reloads, stopping, a status line. */
#pragma once

#include "time-util.h"

void notify_ready(const char *status);
void notify_reloading(const char *status);
void notify_stopping(const char *status);
void notify_status(const char *status);

/* During a long scan: EXTEND_TIMEOUT_USEC, a watchdog ping and a STATUS= with the count so far. */
void notify_scan_progress(unsigned n_directories, usec_t extend);
