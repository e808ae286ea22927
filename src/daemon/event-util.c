/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers for sd-event sources the daemon arms again and again. */
#include "event-util.h"

bool event_source_armed(sd_event_source *s) {
        int enabled = SD_EVENT_OFF;

        if (s)
                (void) sd_event_source_get_enabled(s, &enabled);
        return enabled != SD_EVENT_OFF;
}

int event_arm_timer(sd_event *e, sd_event_source **s, usec_t delay, usec_t accuracy,
                    sd_event_time_handler_t callback, void *userdata, const char *description) {
        int r;

        if (!*s) {
                r = sd_event_add_time_relative(e, s, CLOCK_MONOTONIC, delay, accuracy, callback, userdata);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(*s, description);
                return 0;
        }
        r = sd_event_source_set_time_relative(*s, delay);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
}
