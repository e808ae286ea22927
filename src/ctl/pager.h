/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Paging inotaskctl's output like systemctl does, and the terminal width its tables fit into. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The width tables are fitted into: $COLUMNS if it is a positive number, else the width of the terminal on
 * stdout, else 0 (not a terminal: no limit, scripts get whole lines). Call it before pager_open(), whose
 * pipe is no terminal. */
size_t terminal_width(void);

/* Sends stdout through a pager if stdout is a terminal: $SYSTEMD_PAGER, else $PAGER (run by sh -c), else
 * pager, less, more, or a plain copy if none exists; none if the one chosen is "" or "cat". less gets
 * LESS=$SYSTEMD_LESS or "FRSXMK" (quit if one screen, raw colours, chop long lines, no init, Ctrl-C quits)
 * like systemd's. In systemd's secure mode ($SYSTEMD_PAGERSECURE, or by default when we do not run as the
 * owner of our login session, e.g. under sudo) LESSSECURE=1, and without $SYSTEMD_PAGERSECURE only less
 * or the plain copy. Does nothing on a second call. Returns 1 if a pager was started, 0 if not, <0 on
 * failure (the output then goes to the terminal directly). */
int pager_open(void);

/* Flushes and closes our end of the pipe and waits for the pager to quit (the user reads on). */
void pager_close(void);
