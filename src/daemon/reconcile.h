/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one walk that reconciles a watch's tree with the disk: for a new directory, after an overflow and
 * against a snapshot saved at the last stop. Any backend uses it; it knows no kernel interface. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "time-util.h"
#include "watch.h"

/* In this order: the last two compare with what was known before. */
typedef enum ReconcileMode {
        RECONCILE_RECORD,       /* remember what is there, raise nothing (start, reload) */
        RECONCILE_CREATED,      /* a new directory: raise created (and, for files, changed) for all inside */
        RECONCILE_RESCAN,       /* the tree is what was known: raise what appeared, vanished or changed */
        RECONCILE_SNAPSHOT,     /* a snapshot is what was known, the tree what is: raise the differences */
} ReconcileMode;

/* What the walk asks of the backend. */
typedef struct ReconcileOps {
        /* Arms directory n, open as fd (the watch must be added through fd: a rename of an ancestor not
         * yet applied to the tree leaves the tree's path stale): 1 watched, 0 not (the backend notes why),
         * <0 gone. */
        int (*watch_dir)(void *userdata, WatchNode *n, int fd);
        /* Forgets n and its subtree. */
        void (*remove_subtree)(void *userdata, WatchNode *n);
        /* Raises a synthetic event for entry name of directory n (of watch w). */
        void (*emit)(void *userdata, Watch *w, const WatchNode *n, const char *name, uint32_t mask);
        /* RESCAN: whether the change of file name of n with this ctime was already handled (its event
         * came before the queue overflowed, and the file did not change after). May be NULL. */
        bool (*handled)(void *userdata, const WatchNode *n, const char *name, usec_t ctime);
        /* Once per directory added: long walks block the loop. May be NULL. */
        void (*progress)(void *userdata);
} ReconcileOps;

typedef struct Reconciler {
        const ReconcileOps *ops;
        void *userdata;
        WatchTree *tree;
} Reconciler;

/* Walks directory n (of the watch that owns it) in mode RECORD, CREATED or RESCAN. For RESCAN, files
 * changed at or after since (CLOCK_REALTIME) count as changed. */
void reconcile_node(const Reconciler *r, WatchNode *n, ReconcileMode mode, usec_t since);

/* A directory called name appeared in parent: adds it to the tree, watches it, walks it in mode. Returns
 * -ENOENT (and does nothing) if parent is not found at its path: a rename of it or of an ancestor the tree
 * has not applied yet; the caller tries again once it has. */
int reconcile_new_dir(const Reconciler *r, WatchNode *parent, const char *name, ReconcileMode mode);

/* Raises deleted for everything the tree knows below n, deepest first, as rm -r reports it; the tree
 * itself is left as it is. */
void reconcile_raise_gone(const Reconciler *r, WatchNode *n);

/* Raises the differences between w's tree and a snapshot taken before (relpath ->
 * GINT_TO_POINTER(is_dir); entries are removed from it): created for new entries, deleted for vanished
 * ones, changed for files whose ctime is at or after since. Entries the tree does not hold yet are
 * left to the kernel's own events. */
void reconcile_snapshot(const Reconciler *r, Watch *w, GHashTable *known, usec_t since);
