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

/* These return negative errno and do not log: the caller says what failed. The one exception is a
 * state file that is not a regular file of ours (a FIFO, a symbolic link, someone else's or writable by
 * others): it is refused with an error naming it, and read as if there were none.
 *
 * Files are written atomically: a temporary file, fsync, rename over the old one, fsync of the
 * directory. A failed save (a full disk) leaves the previous file as it was. */

/* Writes every scheduled task of s, and the next task id, to DIR/tasks. Returns how many. */
int state_save_tasks(const char *dir, Scheduler *s);

/* Reads DIR/tasks (format 2, "key=value" fields with names for the event bits and kind, or format 1 of
 * earlier versions) into TaskSeed* entries in due order (owned by the array), and the next task id (0 if
 * unknown). A missing or refused file gives no tasks. */
int state_load_tasks(const char *dir, GPtrArray **ret, uint64_t *ret_next_id);

/* What w knows exists, for the next start to compare with (written after a start, periodically and at
 * stop): a header with w's path and when (CLOCK_REALTIME: files changed since count as changed; a time
 * before the kernel's queue was last read, whose changes w holds), then lines "d\tRELPATH\n" / "f\tRELPATH\n" (RELPATH escaped
 * with escape_display()) relative to w's root directory. */
int state_save_snapshot(const char *dir, const Watch *w, usec_t when);

/* Reads the snapshot of watch (it stays: a crash before the next one is written still finds it):
 * relpath -> GINT_TO_POINTER(is_dir), and the time it was taken. Returns 0 with *ret NULL when there is
 * none, or it was taken for another path. */
int state_load_snapshot(const char *dir, const char *watch, const char *path, GHashTable **ret, usec_t *ret_time);
