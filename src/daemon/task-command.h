/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What an exec or shell task runs, shared by the runner that spawns it and the one that hands it to systemd
 * as a transient unit: its argv, its INOTASKD_* environment, the program looked up in a PATH. */
#pragma once

#include <glib.h>

#include "scheduler.h"
#include "template.h"

/* Action=exec: the expanded Exec= template; Action=shell: /bin/sh -c SCRIPT inotaskd "$1".. Newly
 * allocated, NULL-terminated. */
char **task_command_argv(const Task *t, const TemplateValues *v);

/* Appends (newly allocated "NAME=value" strings) the INOTASKD_* values, INOTASKD_MATCH_<GROUP> of
 * MatchRegex= and then the rule's Environment= to env. */
void task_command_env_append(GPtrArray *env, const Task *t, const TemplateValues *v);

/* The first executable name in the absolute directories of path (a PATH value), or NULL. */
char *task_command_find_program(const char *name, const char *path);

/* argv for a log line: each argument escaped, quoted where a shell would need it. */
char *task_command_display(char **argv);

/* The runs of t, for batches: with {pathnames}, {relpaths} or {deleted_relpaths} in Exec= the paths are
 * split so that each run's argv stays within the kernel's argument limit (the environment envp, plus
 * env_extra bytes that others add to it, included); with stdin_max > 0 and StandardInput= set, also so
 * that each run's stdin stays within stdin_max bytes. Nothing is ever left out. *ret_ends: the end index
 * of each run's paths (one run [0, n) if nothing splits); *ret_argvs: each run's argv (argv[0] as in argv),
 * or NULL when Exec= has no list placeholder (then argv is every run's). -E2BIG when one path alone does
 * not fit. */
int task_command_runs(const Task *t, const TemplateValues *v, char **argv, char **envp, size_t env_extra,
                      size_t stdin_max, GPtrArray **ret_argvs, GArray **ret_ends);

/* Sets INOTASKD_NPATHS= in envp to n, the paths of one run. */
void task_command_set_npaths(char **envp, size_t n);
