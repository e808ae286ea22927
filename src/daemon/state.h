/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Scheduled tasks kept in the state directory, so a restart or a crash loses no work. */
#pragma once

#include <glib.h>

#include "scheduler.h"

/* The state directory to use, or NULL for none: StateDirectory= from the configuration, else
 * $STATE_DIRECTORY (systemd's StateDirectory=), else — only for the default configuration, not for
 * an ad-hoc -c file — /var/lib/inotaskd or $XDG_STATE_HOME/inotaskd. Newly allocated. */
char *state_directory(const char *configured, bool user_mode, bool explicit_config);

/* Writes every scheduled task of s to DIR/tasks (atomically). */
int state_save_tasks(const char *dir, Scheduler *s);

/* Reads DIR/tasks into TaskSeed* entries (owned by the array). A missing file is no error. */
int state_load_tasks(const char *dir, GPtrArray **ret);
