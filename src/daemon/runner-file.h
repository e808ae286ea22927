/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=move|copy|delete, off the loop. */
#pragma once

#include "config.h"
#include "macro.h"
#include "runner.h"
#include "worker.h"

/* Runs file actions in the worker's threads; a cancel is seen between chunks of a copy and between the
 * entries of a tree, and leaves no temporary file behind. */
typedef struct FileRunner FileRunner;

int file_runner_new(FileRunner **ret, const RunnerContext *ctx, Worker *w);
FileRunner *file_runner_free(FileRunner *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(FileRunner *, file_runner_free);

Runner *file_runner_runner(FileRunner *f);

