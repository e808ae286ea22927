/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=move|copy|delete, off the loop. */
#pragma once

#include "config.h"
#include "runner-exec.h"
#include "worker.h"

int runner_file_start(RunnerContext *ctx, Worker *w, Task *t);
