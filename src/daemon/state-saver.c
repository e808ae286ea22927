/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When the tasks file and the snapshots are written (state.c says how): coalesced, retried, in order. */
#include <inttypes.h>

#include "event-util.h"
#include "log.h"
#include "state-saver.h"
#include "state.h"

/* Scheduled tasks are saved at most this often (or ten times the last save's duration, for a large set)
 * and at stop: a crash loses at most this much. */
#define STATE_SAVE_USEC (500 * USEC_PER_MSEC)
/* A failed save (a full disk) is tried again after 1 s, doubling up to this. */
#define STATE_RETRY_MAX_USEC (30 * USEC_PER_SEC)
/* The snapshots are written after the start and then, while tasks change, at most this often (or a
 * twentieth of the time for a large tree): what changes while the daemon is down after a crash is found
 * against the latest one. */
#define SNAPSHOT_INTERVAL_USEC (5 * USEC_PER_SEC)
/* A snapshot's time is taken on the clock files are stamped with (CLOCK_REALTIME_COARSE), before the
 * kernel's queue is read: a change after it has a ctime at or after it, so it needs no slack (one
 * within the same tick before it counts as changed: twice, never lost). */

struct StateSaver {
        sd_event *event;
        char *dir;
        Scheduler *scheduler;
        Backend *backend;
        sd_event_source *save_timer, *snapshot_timer;
        usec_t retry_usec;              /* the next retry's delay while saving fails, 0 while it works */
        usec_t save_cost_usec;          /* how long the last save took */
        usec_t snapshot_cost_usec;      /* and the last snapshots */
        bool snapshots_failing;
};

int state_saver_new(StateSaver **ret, sd_event *e, const char *dir, Scheduler *s, Backend *b) {
        StateSaver *v = g_new0(StateSaver, 1);

        v->event = sd_event_ref(e);
        v->dir = g_strdup(dir);
        v->scheduler = s;
        v->backend = b;
        *ret = v;
        return 0;
}

StateSaver *state_saver_free(StateSaver *v) {
        if (!v)
                return NULL;
        v->save_timer = sd_event_source_disable_unref(v->save_timer);
        v->snapshot_timer = sd_event_source_disable_unref(v->snapshot_timer);
        sd_event_unref(v->event);
        g_free(v->dir);
        g_free(v);
        return NULL;
}

static void arm(StateSaver *v, sd_event_source **s, usec_t delay, sd_event_time_handler_t cb, const char *what) {
        if (event_arm_timer(v->event, s, delay, 50 * USEC_PER_MSEC, cb, v, what) < 0)
                log_warning("Failed to arm the %s timer, ignoring.", what);
}

/* Saves the scheduled tasks. A failure is logged once, when saving starts to fail, and success once
 * again when it recovers; the caller retries. */
static int save_tasks(StateSaver *v) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        r = state_save_tasks(v->dir, v->scheduler);
        v->save_cost_usec = now_usec(CLOCK_MONOTONIC) - start;
        if (r < 0) {
                if (v->retry_usec == 0)
                        log_warning_errno(r, "Failed to save scheduled tasks in %s, retrying until it works "
                                          "(the previous file is kept): %m", v->dir);
                return r;
        }
        if (v->retry_usec > 0)
                log_notice("Saved scheduled tasks in %s again (%d tasks).", v->dir, r);
        v->retry_usec = 0;
        /* Everything is on disk: a save that was due has nothing left to do. */
        if (v->save_timer)
                (void) sd_event_source_set_enabled(v->save_timer, SD_EVENT_OFF);
        return 0;
}

static int on_save_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Saving failed: again after the next step of the backoff. */
static void retry_save(StateSaver *v) {
        v->retry_usec = v->retry_usec == 0 ? USEC_PER_SEC : MIN(2 * v->retry_usec, STATE_RETRY_MAX_USEC);
        log_debug("Saving scheduled tasks again in %" PRIu64 " ms.", v->retry_usec / USEC_PER_MSEC);
        arm(v, &v->save_timer, v->retry_usec, on_save_timer, "state-save");
}

static int on_save_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        StateSaver *v = userdata;

        if (save_tasks(v) < 0)
                retry_save(v);
        return 0;
}

static int on_snapshot_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void snapshot_soon(StateSaver *v, usec_t delay) {
        if (!event_source_armed(v->snapshot_timer))
                arm(v, &v->snapshot_timer, delay, on_snapshot_timer, "snapshot");
}

/* when: see state_save_snapshot(). */
static void save_snapshots(StateSaver *v, usec_t when) {
        GPtrArray *watches = backend_get_watches(v->backend);
        usec_t start = now_usec(CLOCK_MONOTONIC);

        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];
                int r;

                if (!w->active)
                        continue;
                r = state_save_snapshot(v->dir, w, when);
                if (r < 0) {
                        if (!v->snapshots_failing)
                                log_warning_errno(r, "Watch %s: failed to save its snapshot in %s, keeping the "
                                                  "previous one: %m", w->name, v->dir);
                        v->snapshots_failing = true;
                        snapshot_soon(v, SNAPSHOT_INTERVAL_USEC);
                        return;
                }
        }
        if (v->snapshots_failing)
                log_notice("Saved the snapshots in %s again.", v->dir);
        v->snapshots_failing = false;
        v->snapshot_cost_usec = now_usec(CLOCK_MONOTONIC) - start;
}

/* A snapshot may only be newer than the saved tasks, never the other way round: a change it already
 * holds must have its task on disk. So the kernel's queue is read, the tasks saved, and only then the
 * snapshots, stamped before the read. */
static int on_snapshot_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        StateSaver *v = userdata;
        usec_t when = now_usec(CLOCK_REALTIME_COARSE);

        backend_drain(v->backend);
        if (save_tasks(v) < 0) {
                if (v->retry_usec == 0)
                        retry_save(v);
                snapshot_soon(v, SNAPSHOT_INTERVAL_USEC);
                return 0;
        }
        save_snapshots(v, when);
        return 0;
}

void state_saver_tasks_changed(StateSaver *v) {
        if (!v)
                return;
        snapshot_soon(v, MAX(SNAPSHOT_INTERVAL_USEC, 20 * v->snapshot_cost_usec));
        if (event_source_armed(v->save_timer))
                return;         /* a save is due, or a retry after a failure */
        /* A large set takes a while to write: not more than a tenth of the time goes into saving it. */
        arm(v, &v->save_timer, MAX(STATE_SAVE_USEC, 10 * v->save_cost_usec), on_save_timer, "state-save");
}

void state_saver_started(StateSaver *v) {
        /* At once, even if restored tasks asked for one later. */
        if (v)
                arm(v, &v->snapshot_timer, 0, on_snapshot_timer, "snapshot");
}

void state_saver_stop(StateSaver *v, usec_t stopped_usec) {
        if (!v)
                return;
        if (save_tasks(v) >= 0)
                save_snapshots(v, stopped_usec ?: now_usec(CLOCK_REALTIME_COARSE));
}
