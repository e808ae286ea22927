/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Notices mounts and unmounts: /proc/self/mountinfo polled for EPOLLPRI on the event loop, as systemd
 * does, and compared with its last reading. */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct MountMonitor MountMonitor;

/* A mount appeared or went at path (the directory there is another one now). */
typedef void (*MountMonitorFunc)(const char *path, void *userdata);

int mount_monitor_new(MountMonitor **ret, sd_event *e, MountMonitorFunc func, void *userdata);
MountMonitor *mount_monitor_free(MountMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(MountMonitor *, mount_monitor_free);

/* Reads the table again soon (from the loop), e.g. when inotify reports an unmount first. */
void mount_monitor_check_soon(MountMonitor *m);
