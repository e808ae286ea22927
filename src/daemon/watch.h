/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A configured watch at run time: what it watches, what it excludes, what InitialEvent= raises. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "event-names.h"
#include "watch-tree.h"

/* Public for reading; the backend that watches it sets root, file_name, active and n_unwatched. */
typedef struct Watch {
        char *name;
        char *path;                     /* Path=: a directory, or a single file */
        bool recursive, auto_add;
        bool cfg_recursive, cfg_auto_add;       /* as configured: a single-file watch clears the two above */
        char **exclude;
        bool exclude_has_slash;         /* some Exclude= pattern holds '/', so match relative paths too */
        uint32_t initial_mask, initial_kinds;

        char *file_name;                /* for a single-file watch: its name in the watched parent dir */
        WatchNode *root;                /* the watched directory (the parent for a single file) */
        unsigned n_unwatched;           /* directories that could not be watched (watch limit) */
        bool active;                    /* the root is watched */
        bool waiting;                   /* Path= does not exist: watched for through its ancestors */
        char *target;                   /* what the kernel watches for the root when Path= is a link */
        BackendKind cfg_backend;        /* Backend= as configured (may be auto) */
        BackendKind backend;            /* the one that watches it (never auto), set by backend_add_watch() */
        usec_t poll_interval;           /* PollIntervalSec= */
        void *impl;                     /* the backend implementation that watches it (backend.c) */

        void *userdata;                 /* the manager's per-watch data (its rules) */
} Watch;

/* A watch for cfg, not yet watching anything. */
int watch_new(Watch **ret, const ConfigWatch *cfg);
Watch *watch_free(Watch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Watch *, watch_free);

/* Makes w a single-file watch of file_name in its parent directory (Path= is not a directory). */
void watch_set_single_file(Watch *w, const char *file_name);

/* Forgets what w was attached to (root, single file, target), back to its configured settings. The
 * backend has dropped the tree already. */
void watch_detach(Watch *w);

/* "active", "waiting" (Path= does not exist yet) or "inactive" (it exists but could not be watched). */
const char *watch_state(const Watch *w);

/* Whether cfg describes the same watch as w (so a reload can keep it and its tree). */
bool watch_matches_config(const Watch *w, const ConfigWatch *cfg);

bool watch_excluded_by_pattern(const Watch *w, const WatchNode *n, const char *name);

/* Whether Exclude= excludes relpath (relative to the watch's root) or any directory on the way to it:
 * for paths that come from a rename rather than from the tree. */
bool watch_excluded_relpath(const Watch *w, const char *relpath);

/* Whether the entry name in directory n (of w's tree) is matched by Exclude= (by name, or by path
 * relative to the root). Inline for the common case of no Exclude=: it is asked for every event. */
static inline bool watch_excluded(const Watch *w, const WatchNode *n, const char *name) {
        if (!w->exclude || !w->exclude[0])
                return false;
        return watch_excluded_by_pattern(w, n, name);
}

/* Whether the entry name of directory n (a node of w's tree) is outside the watch: not the watched
 * file of a single-file watch, or excluded. */
static inline bool watch_skips(const Watch *w, const WatchNode *n, const char *name) {
        if (w->file_name && !n->parent && strcmp(name, w->file_name) != 0)
                return true;
        return watch_excluded(w, n, name);
}

/* The kind InitialEvent= raises: the event kind it names, else the kind of its inotify event. */
EventKind watch_initial_kind(const Watch *w);

/* Directories of w that are watched now. */
unsigned watch_n_directories(const Watch *w);
