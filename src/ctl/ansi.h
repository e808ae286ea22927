/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Terminal colours for inotaskctl, and whether to use them at all. */
#pragma once

#include <stdbool.h>

#define ANSI_NORMAL "\x1B[0m"
#define ANSI_BOLD "\x1B[1m"
#define ANSI_UNDERLINE "\x1B[4m"
#define ANSI_GREY "\x1B[0;38;5;245m"
#define ANSI_RED "\x1B[0;31m"
#define ANSI_GREEN "\x1B[0;32m"
#define ANSI_YELLOW "\x1B[0;33m"
#define ANSI_HIGHLIGHT_RED "\x1B[0;1;31m"
#define ANSI_HIGHLIGHT_GREEN "\x1B[0;1;32m"

/* 1 for "1", "yes", "y", "true", "t", "on", 0 for their opposites (any case), -EINVAL otherwise. */
int parse_boolean(const char *v);

/* Colours on stdout: $SYSTEMD_COLORS, if it is a boolean, decides; otherwise none with $NO_COLOR, with
 * TERM=dumb, or when stdout is not a terminal. Computed once. */
bool colors_enabled(void);

/* The colour a task state or a manager state is shown in, or NULL. */
const char *task_state_color(const char *state);
const char *manager_state_color(const char *state);
