/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the backends (inotify, fanotify, poll, none: Backend= per watch) offer the manager as one face:
 * watches added and removed, events handed to one sink, snapshots compared, counts. The manager calls
 * only this; each watch is handed to the implementation of its kind, made when first needed. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "event.h"
#include "mount-monitor.h"
#include "time-util.h"
#include "watch.h"

typedef struct Backend Backend;
typedef struct BackendImpl BackendImpl;
typedef struct WatchWaiter WatchWaiter;

/* The event sink: ev is valid for the call only. */
typedef void (*BackendEventFunc)(Backend *b, Event *ev, void *userdata);

typedef struct BackendStats {
        uint64_t n_events;              /* events handed to the callback */
        uint64_t n_overflows;
        unsigned n_watches;             /* configured watches */
        unsigned n_directories;         /* watched directories */
        unsigned n_unwatched;           /* directories that could not be watched */
        unsigned n_waiting;             /* watches whose Path= does not exist (yet) */
} BackendStats;

/* One backend's implementation. Called only through the backend_*() functions below, each for the
 * watches handed to it (w->impl). */
typedef struct BackendOps {
        const char *name;
        size_t size;                                            /* of its object, a BackendImpl first */
        /* The common part is set; undone by done(). Logs why it cannot work (as the error of the watch
         * named, which needs it). */
        int (*init)(BackendImpl *b, const char *watch_name);
        void (*done)(BackendImpl *b);                           /* also for a half-built object */
        int (*set_mask)(BackendImpl *b, uint32_t mask);
        /* Watches and records w, whose path exists; with announce (it just appeared) raises created, and
         * changed for regular files, for what it finds, else nothing. */
        void (*add_watch)(BackendImpl *b, Watch *w, bool announce);
        void (*remove_watch)(BackendImpl *b, Watch *w);             /* before w is freed */
        void (*compare_snapshot)(BackendImpl *b, Watch *w, GHashTable *known, usec_t since);
        int (*set_enabled)(BackendImpl *b, bool enabled);
        void (*drain)(BackendImpl *b);
        void (*get_stats)(const BackendImpl *b, BackendStats *ret); /* n_overflows, n_directories */
        /* Directory n of w is another one now (a mount came or went there): forget what was known
         * below it, watch it again and raise the differences. May be NULL. */
        void (*rescan_dir)(BackendImpl *b, Watch *w, WatchNode *n);
        void (*retry_unwatched)(BackendImpl *b);                    /* may be NULL */
} BackendOps;

/* The part every implementation shares. */
struct BackendImpl {
        const BackendOps *ops;
        Backend *face;
        sd_event *event;
        BackendKind kind;
};

/* The face; for implementations, read-only for everyone else. */
struct Backend {
        sd_event *event;
        BackendEventFunc callback;
        void *userdata;
        void (*watches_changed)(void *userdata);        /* may be NULL; see backend_on_watches_changed() */
        GPtrArray *watches;             /* Watch* (owned), in the order they were added */
        uint64_t n_events;
        WatchWaiter *waiter;            /* follows paths that are missing or links (watch-wait.c) */
        MountMonitor *mounts;           /* NULL if the mount table cannot be watched */
        BackendImpl *impls[_BACKEND_KIND_MAX];  /* made when a watch first needs one */
        uint32_t mask;
        bool disabled;
};

extern const BackendOps backend_inotify_ops;
extern const BackendOps backend_fanotify_ops;
extern const BackendOps backend_poll_ops;
extern const BackendOps backend_none_ops;

/* What Backend=auto picks for a file system of statfs type f_type: poll where writers on other hosts
 * are not seen by inotify (NFS, CIFS/SMB, FUSE such as sshfs, 9p, Ceph, AFS), else inotify. */
BackendKind backend_auto_kind(unsigned long f_type);
/* A name for f_type ("nfs", "fuse", ...), or NULL if it is not one auto knows of. */
const char *backend_fs_type_name(unsigned long f_type);

/* For tests and the fuzzer: handles buf (any bytes) as if one read of b's inotify fd returned it. */
void backend_inotify_feed(Backend *b, const void *buf, size_t len);

int backend_new(Backend **ret, sd_event *e, BackendEventFunc callback, void *userdata);
Backend *backend_free(Backend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Backend *, backend_free);

/* func(userdata) after each event and whenever a watch is lost or found again: a watch's state or
 * directory count may have changed. */
void backend_on_watches_changed(Backend *b, void (*func)(void *userdata));

/* The union of the inotify event bits the rules care about; changing it re-arms every watch. */
int backend_set_mask(Backend *b, uint32_t mask);

/* Watches cfg's path (the whole tree if recursive), remembering what exists. Raises no events. A
 * missing path or a full watch table is not an error: the watch waits (see below) or stays partial and
 * it is logged. Returns the new watch.
 *
 * A path that does not exist waits: it is watched for through its nearest existing directory and
 * attached when it appears, as a directory (the whole tree if recursive) or as a single file, with
 * created (and changed, for regular files) raised for what is found. A root deleted or renamed away
 * waits again. A path that is a link is watched through it (the tree keeps the link's name) and
 * attached anew when the link is replaced. */
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

/* Raises the differences between what w found at start and a snapshot taken before (relpath ->
 * GINT_TO_POINTER(is_dir); entries are removed from it): created for new entries, deleted for
 * vanished ones, changed for files whose ctime is at or after since (CLOCK_REALTIME). */
void backend_compare_snapshot(Backend *b, Watch *w, GHashTable *known, usec_t since);

/* Stops (or resumes) reading events, e.g. while shutting down. */
int backend_set_enabled(Backend *b, bool enabled);

/* Handles what the kernel holds now, if anything (non-blocking), outside the loop's own dispatch. */
void backend_drain(Backend *b);

void backend_get_stats(const Backend *b, BackendStats *ret);

/* The implementation of kind k, made if needed (NULL if it cannot work, logged for watch_name). */
BackendImpl *backend_get_impl(Backend *b, BackendKind k, const char *watch_name);

/* The backend that watches w, as named by Backend= ("inotify", ...). */
const char *backend_watch_backend(const Watch *w);

/* For implementations: w lost its root (deleted, renamed away); it is looked at again from the loop. */
void backend_watch_lost(BackendImpl *b, Watch *w);
/* Tries again to watch the directories that could not be watched (the watch limit may have been
 * raised), raising what changed in them meanwhile. */
void backend_retry_unwatched(Backend *b);

/* A mount appeared or went at path: every watch's directory there (or its root, if path is at or above
 * it) is rescanned. */
void backend_mount_changed(Backend *b, const char *path);

/* For implementations: the kernel reported an unmount; have the mount table read again soon. */
void backend_check_mounts(BackendImpl *b);

/* For implementations: builds the event for entry name of directory n of w (name NULL: n itself) and
 * hands it to the sink. cookie: inotify's move cookie, else 0. */
void backend_emit_one(BackendImpl *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                      EventKind kind, uint32_t cookie, bool synthetic, const char *src_pathname);
