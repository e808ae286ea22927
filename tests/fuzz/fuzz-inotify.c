/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes the inotify backend's reading of the event stream: any bytes, as if read from the fd, are
 * handled by the real backend on a real small tree (three watches, two of them overlapping, one on a
 * single file): truncated and misaligned records, unknown and shared wds, odd and huge names, moves
 * without their pair, overflows, a root's own deletion. Nothing may crash, leak or read out of bounds,
 * and every event raised must have a path under its watch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "backend.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (256U * 1024U)    /* one read's worth */

static char *tree;

static void make_tree(void) {
        const char *dirs[] = { "a", "a/b", "a/b/c", "d", NULL };
        const char *files[] = { "f", "a/g", "a/b/h", NULL };

        tree = g_dir_make_tmp("fuzz-inotify.XXXXXX", NULL);
        if (!tree)
                abort();
        for (size_t i = 0; dirs[i]; i++) {
                g_autofree char *p = g_build_filename(tree, dirs[i], NULL);

                if (mkdir(p, 0700) < 0)
                        abort();
        }
        for (size_t i = 0; files[i]; i++) {
                g_autofree char *p = g_build_filename(tree, files[i], NULL);

                if (!g_file_set_contents(p, "x", 1, NULL))
                        abort();
        }
        log_set_max_level(LOG_CRIT);
}

static void on_event(Backend *b, Event *ev, void *userdata) {
        const char *p = event_pathname(ev);
        size_t *n = userdata;

        /* Every path lies under the watch's directory. */
        if (!p || !g_str_has_prefix(p, tree))
                abort();
        (*n)++;
}

/* One backend for all inputs: closing an inotify fd waits for an RCU grace period (about 10 ms), which
 * would leave the fuzzer a hundred runs a second. Each input gets fresh watches, so a fresh tree. */
static Backend *backend;
static sd_event *event;
static size_t n_events;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *sub = NULL, *file = NULL;
        ConfigWatch cw[3];
        GPtrArray *ws;

        if (size > INPUT_MAX)
                return 0;
        if (!tree) {
                make_tree();
                if (sd_event_new(&event) < 0)
                        abort();
                if (backend_new(&backend, event, on_event, &n_events) < 0)
                        abort();
                if (backend_set_mask(backend, IN_ALL_EVENTS) < 0)
                        abort();
        }
        sub = g_build_filename(tree, "a", NULL);
        file = g_build_filename(tree, "f", NULL);
        cw[0] = (ConfigWatch) { .name = (char *) "all", .path = tree, .recursive = true, .auto_add = true };
        cw[1] = (ConfigWatch) { .name = (char *) "sub", .path = sub, .recursive = true, .auto_add = true };
        cw[2] = (ConfigWatch) { .name = (char *) "file", .path = file };
        for (size_t i = 0; i < ELEMENTSOF(cw); i++) {
                Watch *w;

                if (backend_add_watch(backend, &cw[i], &w) < 0)
                        abort();
        }
        backend_inotify_feed(backend, data, size);
        ws = backend_get_watches(backend);
        while (ws->len > 0)
                backend_remove_watch(backend, g_ptr_array_index(ws, ws->len - 1));
        return 0;
}
