/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers for sd-event sources the daemon arms again and again. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "time-util.h"

/* Whether s exists and is enabled: a oneshot timer that has still to fire. */
bool event_source_armed(sd_event_source *s);

/* Arms *s, a oneshot CLOCK_MONOTONIC timer, to fire delay from now (made on first use, with
 * description). Returns 0 or a negative errno (nothing armed). */
int event_arm_timer(sd_event *e, sd_event_source **s, usec_t delay, usec_t accuracy,
                    sd_event_time_handler_t callback, void *userdata, const char *description);
