/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One normalized change, as the backend hands it to the rules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event-names.h"
#include "watch-tree.h"

typedef struct Watch Watch;

typedef struct Event {
        Watch *watch;
        uint32_t mask;                  /* inotify mask incl. IN_ISDIR; 0 for "exists" and "overflow" */
        EventKind kind;
        uint32_t cookie;
        bool synthetic;                 /* raised by a scan, not read from the kernel */
        bool is_dir;

        /* Where: the directory node and the entry's name in it (NULL for the directory itself). */
        const WatchNode *node;
        const char *name;

        /* For a paired move: the old full path. */
        const char *src_pathname;

        /* Built on demand by event_pathname(). */
        char *pathname;
        size_t relpath_offset;
} Event;

/* Where the path relative to base starts in path: after "base/" (or "/" for the root), at the end
 * when path is base itself, and at the end too when path is not below base. */
size_t relpath_offset(const char *path, const char *base);

/* The full path (cached in the event) and the path relative to the watch ("" for the watch itself). */
const char *event_pathname(Event *ev);
const char *event_relpath(Event *ev);

/* The entry's last component: the name, or the directory's own name for self events. */
const char *event_basename(const Event *ev);

/* {event}: the kind's name if it has one, else the short name of the mask ("close_nowrite"). */
const char *event_display_name(const Event *ev);

void event_done(Event *ev);
