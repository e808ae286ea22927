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
