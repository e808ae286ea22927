/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs Action=exec and Action=shell tasks as child processes, without blocking the loop. */
#pragma once

#include "macro.h"
#include "runner.h"

/* Owns what spawning needs: the SIGCHLD source and the table of children it reaps by pid, /dev/null for
 * stdin and the stack the vfork-like clone runs on (set up at the first spawn). */
typedef struct ExecRunner ExecRunner;

int exec_runner_new(ExecRunner **ret, const RunnerContext *ctx);
ExecRunner *exec_runner_free(ExecRunner *x);
DEFINE_TRIVIAL_CLEANUP_FUNC(ExecRunner *, exec_runner_free);

Runner *exec_runner_runner(ExecRunner *x);
