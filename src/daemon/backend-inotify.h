/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inotify backend: one raw inotify fd on the loop, the watch tree, scans, move pairing, overflow. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "event.h"
#include "watch-tree.h"

typedef struct Backend Backend;

/* A configured watch at run time. Public for reading; the backend owns it. */
struct Watch {
        char *name;
        char *path;                     /* Path=: a directory, or a single file */
        bool recursive, auto_add;
        char **exclude;
        bool exclude_has_slash;         /* some Exclude= pattern holds '/', so match relative paths too */
        uint32_t initial_mask, initial_kinds;

        char *file_name;                /* for a single-file watch: its name in the watched parent dir */
        WatchNode *root;                /* the watched directory (the parent for a single file) */
        unsigned n_unwatched;           /* directories that could not be watched (watch limit) */
        bool active;                    /* the root is watched */

        void *userdata;                 /* the manager's per-watch data (its rules) */
};

typedef void (*BackendEventFunc)(Backend *b, Event *ev, void *userdata);

int backend_new(Backend **ret, sd_event *e, BackendEventFunc callback, void *userdata);
Backend *backend_free(Backend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Backend *, backend_free);

/* The union of the inotify event bits the rules care about; changing it re-arms every watch. */
int backend_set_mask(Backend *b, uint32_t mask);

/* Watches cfg's path (the whole tree if recursive), remembering what exists. Raises no events. A
 * missing path or a full watch table is not an error: the watch stays inactive or partial and it is
 * logged. Returns the new watch. */
int backend_add_watch(Backend *b, const ConfigWatch *cfg, Watch **ret);

/* The watches, in the order they were added (read-only; adding or removing changes it). */
GPtrArray *backend_get_watches(Backend *b);

Watch *backend_find_watch(Backend *b, const char *name);

/* Directories of w that are watched now. */
unsigned backend_watch_n_directories(const Watch *w);

/* Stops watching and forgets w. */
void backend_remove_watch(Backend *b, Watch *w);

/* Whether cfg describes the same watch as w (so a reload can keep it and its tree). */
bool backend_watch_matches(const Watch *w, const ConfigWatch *cfg);

/* Raises w's InitialEvent= for its root and every entry below it. */
void backend_raise_initial(Backend *b, Watch *w);

/* What w knows exists, as lines "d\tRELPATH\n" / "f\tRELPATH\n" (RELPATH escaped with escape_display()),
 * relative to w's root directory. Newly allocated. */
char *backend_snapshot(Backend *b, Watch *w);

/* Raises the differences between what w found at start and a snapshot taken before (relpath ->
 * GINT_TO_POINTER(is_dir); entries are removed from it): created for new entries, deleted for
 * vanished ones, changed for files whose ctime is at or after since (CLOCK_REALTIME). */
void backend_compare_snapshot(Backend *b, Watch *w, GHashTable *known, usec_t since);

/* Stops (or resumes) reading events, e.g. while shutting down. */
int backend_set_enabled(Backend *b, bool enabled);

/* Handles what the inotify queue holds now, if anything (one non-blocking read), outside the loop's
 * own dispatch. */
void backend_drain(Backend *b);

typedef struct BackendStats {
        uint64_t n_events;              /* events handed to the callback */
        uint64_t n_overflows;
        unsigned n_watches;             /* configured watches */
        unsigned n_directories;         /* watched directories */
        unsigned n_unwatched;           /* directories that could not be watched */
} BackendStats;

void backend_get_stats(const Backend *b, BackendStats *ret);
