/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tail of one task's journal for inotaskctl status ID, like systemctl status shows a unit's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Prints the last n entries with INOTASKD_TASK_ID=id, and those of its unit if unit is not empty (what
 * the unit logged, what its manager said about it), not older than since (a CLOCK_REALTIME timestamp,
 * 0: any), in journalctl's short format to f (of the user's instance if user: those of our own uid),
 * each line cut to width (0: whole lines) like systemctl status without --full. Returns the number of
 * entries printed, or a negative errno if the journal cannot be opened or read. */
int journal_show_task(FILE *f, uint64_t id, bool user, const char *unit, uint64_t since, unsigned n,
                      bool colors, size_t width);
