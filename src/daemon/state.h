/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Scheduled tasks kept in the state directory, so a restart or a crash loses no work. */
#pragma once

#include <glib.h>

#include "scheduler.h"
#include "watch.h"

/* The state directory to use, or NULL for none: StateDirectory= from the configuration, else
 * $STATE_DIRECTORY (systemd's StateDirectory=), else — only for the default configuration, not for
 * an ad-hoc -c file — /var/lib/inotaskd or $XDG_STATE_HOME/inotaskd. Newly allocated. */
char *state_directory(const char *configured, bool user_mode, bool explicit_config);

/* These return negative errno and do not log: the caller says what failed. */

/* Writes every scheduled task of s, and the next task id, to DIR/tasks (atomically). */
int state_save_tasks(const char *dir, Scheduler *s);

/* Reads DIR/tasks into TaskSeed* entries (owned by the array) and the next task id (0 if unknown). A
 * missing file is no error. */
int state_load_tasks(const char *dir, GPtrArray **ret, uint64_t *ret_next_id);

/* What w knows exists, written at a clean stop for the next start to compare with: a header with w's
 * path and the time, then lines "d\tRELPATH\n" / "f\tRELPATH\n" (RELPATH escaped with escape_display())
 * relative to w's root directory. */
int state_save_snapshot(const char *dir, const Watch *w);

/* Reads and removes the snapshot of watch: relpath -> GINT_TO_POINTER(is_dir), and the time it was
 * taken. Returns 0 with *ret NULL when there is none, or it was taken for another path. */
int state_take_snapshot(const char *dir, const char *watch, const char *path, GHashTable **ret, usec_t *ret_time);
