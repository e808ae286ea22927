/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sd_notify() messages; without NOTIFY_SOCKET they are no-ops. */
#include <inttypes.h>
#include <stdbool.h>
#include <systemd/sd-daemon.h>

#include "notify.h"

void notify_ready(const char *status) {
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", status);
}

void notify_reloading(const char *status) {
        (void) sd_notifyf(false, "RELOADING=1\nSTATUS=%s", status);
}

void notify_stopping(const char *status) {
        (void) sd_notifyf(false, "STOPPING=1\nSTATUS=%s", status);
}

void notify_status(const char *status) {
        (void) sd_notifyf(false, "STATUS=%s", status);
}

void notify_scan_progress(unsigned n_directories, usec_t extend) {
        (void) sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%" PRIu64 "\nWATCHDOG=1\nSTATUS=Scanning: %u directories so far",
                          extend, n_directories);
}
