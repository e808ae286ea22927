/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Processes as a tree, read from /proc: a process's children, and a signal to a whole subtree. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* One process as /proc/PID/stat shows it. */
typedef struct ProcInfo {
        pid_t pid, ppid, pgid, sid;
        unsigned long long start_time;          /* in clock ticks since boot: with pid, one process */
        char state;                             /* 'Z' for a zombie */
} ProcInfo;

/* /proc/PID/stat of pid. -ENOENT (-ESRCH) when it is gone. */
int proc_info(pid_t pid, ProcInfo *ret);

/* The children of pid (a pid_t array, zombies too): /proc/PID/task/PID/children (the thread that
 * orphans are given to), else a walk of /proc. */
int proc_children(pid_t pid, GArray *ret);

/* Sends sig to every descendant of root, and with include_root to root too, each checked to be the
 * process the walk found (by pidfd and start time) so that a reused pid is never signalled. Returns how
 * many were signalled, or -errno if /proc cannot be read. */
int proc_signal_tree(pid_t root, bool include_root, int sig);
