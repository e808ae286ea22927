/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every inotaskctl verb gets: the parsed options and the bus, plus the exit codes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "macro.h"

/* Exit codes, documented in --help and the man page:
 *   0   success
 *   1   the daemon refused or a call failed (no such task, invalid configuration on reload, ...)
 *   3   inotaskd is not running, or the bus cannot be reached (systemctl's "not active")
 *   4   permission denied (LSB "insufficient privilege")
 *   64  bad command line (EX_USAGE, as inotaskd itself uses) */
#define CTL_EXIT_SUCCESS 0
#define CTL_EXIT_FAILURE 1
#define CTL_EXIT_NOT_RUNNING 3
#define CTL_EXIT_PERMISSION 4
#define CTL_EXIT_USAGE 64

typedef struct Ctl {
        /* options */
        bool user;
        const char *host;
        bool legend;
        bool json;
        bool json_pretty;
        bool all;
        bool colors;
        bool value_only;                /* show --value */
        char **properties;              /* show -p, NULL for all */
        bool ask_password;              /* false with --no-ask-password: no agent, no interactive polkit */
        bool pager;                     /* false with --no-pager */
        bool full;                      /* --full: no ellipsis */
        size_t width;                   /* the tables' width, 0: no limit (--full, not a terminal) */
        char **states;                  /* list-tasks --state=, NULL for the default */
        unsigned lines;                 /* status ID: journal lines (-n) */

        pid_t agent_pid;                /* pkttyagent, if started */

        sd_bus *bus;
} Ctl;

/* "inotaskctl: " and the message on stderr. */
void log_error(const char *format, ...) _printf_(1, 2);

/* "system" or "user", translated, for messages ("... on the user bus"). */
const char *ctl_bus_name(const Ctl *c);

/* Opens c->bus as the options say. Prints the error and returns an exit code on failure, 0 on success. */
int ctl_connect(Ctl *c);

/* A method call on the daemon. auto_start false: do not bus-activate inotaskd for it (every read-only
 * verb: status, list-*, show, monitor; looking must not start it). */
int ctl_call(Ctl *c, bool auto_start, const char *path, const char *interface, const char *member,
             sd_bus_error *error, sd_bus_message **reply, const char *types, ...);

/* Prints one line for a failed call and returns the exit code for it. task_id is named in NoSuchTask
 * messages if not UINT64_MAX; what says what failed ("cancel task 5"). */
int ctl_report_error(const Ctl *c, const sd_bus_error *error, int r, uint64_t task_id, const char *what);

/* Before a call that polkit may have to ask about: a pkttyagent on our terminal (polkit-agent.c), if
 * stdin is one and --no-ask-password was not given; once. Stopped by ctl_polkit_agent_close(). */
void ctl_polkit_agent_open(Ctl *c);
void ctl_polkit_agent_close(Ctl *c);

/* The verbs that live in their own files. */
int verb_monitor(Ctl *c, int argc, char **argv);
