/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=move|copy|delete, off the loop. */
#pragma once

#include "config.h"
#include "runner-exec.h"
#include "worker.h"

int runner_file_start(RunnerContext *ctx, Worker *w, Task *t);

/* Destination= with Source=’s groups (\g<name>, \1) for path; NULL and *ret_error if Source= does
 * not match. Newly allocated. */
char *file_destination(const ConfigRule *r, const char *path, char **ret_error);
