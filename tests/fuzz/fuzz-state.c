/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes the reading of the state directory's files: any bytes as DIR/tasks (the saved scheduled tasks,
 * format 1 or 2) and as DIR/snapshot-w (a watch's snapshot). Reading may refuse or skip lines, never
 * crash, leak or read out of bounds, and every task read back is one. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "log.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (256U * 1024U)

static char *dir;

static void put(const char *name, const uint8_t *data, size_t size) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                abort();
        if (size > 0 && write(fd, data, size) != (ssize_t) size)
                abort();
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GPtrArray) tasks = NULL;
        g_autoptr(GHashTable) known = NULL;
        uint64_t next_id = 0;
        usec_t when = 0;
        int r;

        if (size > INPUT_MAX)
                return 0;
        if (!dir) {
                dir = g_dir_make_tmp("fuzz-state.XXXXXX", NULL);
                if (!dir)
                        abort();
                log_set_max_level(LOG_CRIT);
        }

        put("tasks", data, size);
        r = state_load_tasks(dir, &tasks, &next_id);
        if (r >= 0 && tasks) {
                for (guint i = 0; i < tasks->len; i++)
                        if (!tasks->pdata[i])
                                abort();
        }

        put("snapshot-w", data, size);
        (void) state_load_snapshot(dir, "w", "/srv/w", &known, &when);
        return 0;
}
