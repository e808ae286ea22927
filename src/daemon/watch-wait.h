/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Watches that wait and come back, as systemd's .path units: a Path= that does not exist is followed
 * through its nearest existing directory, a Path= that is a link through the link's directory, on an
 * inotify instance of its own; what the path resolves to changing is handed to one callback. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "watch.h"

typedef struct WatchWaiter WatchWaiter;

/* w's path resolves to something else than the waiter last said: it appeared, vanished, was replaced,
 * or its link points elsewhere now. exists: whether it resolves now. */
typedef void (*WatchWaiterFunc)(WatchWaiter *ww, Watch *w, bool exists, void *userdata);

int watch_waiter_new(WatchWaiter **ret, sd_event *e, WatchWaiterFunc callback, void *userdata);
WatchWaiter *watch_waiter_free(WatchWaiter *ww);
DEFINE_TRIVIAL_CLEANUP_FUNC(WatchWaiter *, watch_waiter_free);

/* Follows w's path from now on. Returns 1 if it resolves now (the caller attaches w), 0 if not (w
 * waits), or a negative errno. */
int watch_waiter_add(WatchWaiter *ww, Watch *w);
void watch_waiter_remove(WatchWaiter *ww, Watch *w);

/* Looks at w's path again soon, from the loop (never from within this call): its backend lost the
 * root (deleted, renamed away). */
void watch_waiter_recheck(WatchWaiter *ww, Watch *w);

/* The directory watched for w's path to appear, while it waits (NULL otherwise). */
const char *watch_waiter_waiting_on(WatchWaiter *ww, const Watch *w);

int watch_waiter_set_enabled(WatchWaiter *ww, bool enabled);

/* For --check-config: warns (file, line, key) about every Path= of c that does not exist yet. */
void watch_wait_warn_missing(const Config *c);
