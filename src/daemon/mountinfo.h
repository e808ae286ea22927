/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mount table as /proc/self/mountinfo shows it, and what changed between two readings of it. */
#pragma once

#include <glib.h>

/* Parses a mountinfo text into a set of its mounts: "ID PATH" keys (mount ID and unescaped mount point)
 * for g_hash_table_contains(). Returns 0, or -EBADMSG for a line that is not a mountinfo line. */
int mountinfo_parse(const char *text, GHashTable **ret);

/* The mount points (paths) of the mounts in one set and not in the other, sorted, without those below
 * another changed one (rescanning that one covers them). */
GPtrArray *mountinfo_diff(GHashTable *old, GHashTable *new);
