/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Batch=yes: the distinct paths of one task, each with its latest event, and the list as a task's stdin. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event-names.h"

typedef struct BatchEntry {
        char *path;                     /* exact bytes */
        uint32_t mask;                  /* its latest event */
        EventKind kind;
        const char *event_name;         /* interned */
} BatchEntry;

/* Entries in first-seen order, with a table by path so that a path joins once. */
typedef struct TaskBatch {
        GPtrArray *entries;             /* BatchEntry* */
        GHashTable *by_path;            /* path (the entry's own string) -> BatchEntry* */
} TaskBatch;

TaskBatch *task_batch_new(void);
TaskBatch *task_batch_free(TaskBatch *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(TaskBatch *, task_batch_free);

/* Adds path with its event, or gives a path already there its latest event (it keeps its place). True if
 * the path is new. */
bool task_batch_add(TaskBatch *b, const char *path, uint32_t mask, EventKind kind, const char *event_name);
static inline size_t task_batch_size(const TaskBatch *b) {
        return b ? b->entries->len : 0;
}
static inline const BatchEntry *task_batch_get(const TaskBatch *b, size_t i) {
        return b->entries->pdata[i];
}

/* Whether an entry's latest event took its path away (a delete, a move away): {deleted_relpaths}. */
bool batch_entry_is_deletion(const BatchEntry *e);

/* A task's paths, for batches and single tasks alike (a single task has one: its own). The entry is
 * valid until the task changes. */
struct Task;
size_t task_n_paths(const struct Task *t);
void task_path_entry(const struct Task *t, size_t i, BatchEntry *ret);
size_t task_n_deleted(const struct Task *t);

/* What StandardInput=f gives task t on stdin, for its paths [from, to): newly allocated in *ret (not
 * NUL-terminated: *ret_len bytes). Every runner that passes stdin calls this (the exec runner through a
 * pipe; a unit runner as StandardInputData=). json: one object per line,
 *   {"path":"/w/a b","relpath":"a b","event":"created","deleted":false}
 * strings escaped as JSON; a path that is not valid UTF-8 has its invalid bytes as U+FFFD in "path" and
 * "relpath" and, to get the exact bytes back, "path_base64" and "relpath_base64" (RFC 4648). */
int task_stdin_data_range(const struct Task *t, StdinFormat f, size_t from, size_t to, char **ret,
                          size_t *ret_len);
int task_stdin_data(const struct Task *t, StdinFormat f, char **ret, size_t *ret_len);
