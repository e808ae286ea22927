/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the backends without a kernel watch per directory (fanotify, poll, none) share: a tree of the
 * watches' directories, each with an id of its own instead of an inotify wd, kept by the reconcile walk. */
#pragma once

#include <sys/types.h>

#include "backend.h"
#include "reconcile.h"

typedef struct TreeBackend {
        BackendImpl base;
        WatchTree *tree;
        Reconciler reconciler;
        int next_id;
        uint64_t n_overflows;
        /* With tree_backend_index_inodes(): a directory's id (wd) is its inode (the low 31 bits), so the
         * tree's wd index finds directories by inode at no cost in memory, for backends whose kernel
         * names directories by handle rather than by a watch descriptor. */
        bool wd_is_ino;
        /* With wd_is_ino: an inode number is only unique on its file system, so the tree knows each
         * directory's device too, without a field per node: a root's and that of each directory whose
         * device differs from its parent's (a mount below the root) are kept here (WatchNode * -> dev_t);
         * every other directory has its parent's. */
        GHashTable *devs;
        /* Called (may be NULL) when a directory on another device than its parent's, or a root, is
         * given its id, open as fd: fanotify marks that file system. */
        void (*new_dev)(struct TreeBackend *b, WatchNode *n, int fd);
        /* With tree_backend_note_walks(): "watch\npath" -> the ctime (ns) a walk saw when it raised
         * changed for that file; see tree_backend_walk_saw(). NULL otherwise. */
        GHashTable *walked;
} TreeBackend;

void tree_backend_init(TreeBackend *b);
void tree_backend_index_inodes(TreeBackend *b);
/* The device of directory n (with wd_is_ino). */
dev_t tree_backend_node_dev(const TreeBackend *b, const WatchNode *n);
/* The wd that directories with inode ino have. */
static inline int tree_backend_ino_wd(uint64_t ino) {
        return (int) (ino & 0x7fffffff);
}
void tree_backend_done(TreeBackend *b);

/* For a backend whose kernel queue may still hold a file's close when a walk (of a new directory, a
 * rescan) raises changed for it: fanotify, whose mark hears a new directory before it is walked. The walk
 * notes each file it raises changed for, with its ctime; tree_backend_walk_saw() then tells whether a close
 * of entry name of n (of watch w) is one that walk raised already: the file has no later ctime. Each note
 * answers once; tree_backend_forget_walks() drops them once a read emptied the queue (everything queued
 * before the walk has been read). Beyond WALKED_MAX notes a close is raised again: twice, never lost. A
 * close within the ctime's granularity after the walk is taken for the walk's: the walk's task waits
 * (SCAN_SETTLE_USEC) and reads the file after it. */
void tree_backend_note_walks(TreeBackend *b);
bool tree_backend_walk_saw(TreeBackend *b, const Watch *w, const WatchNode *n, const char *name);
void tree_backend_forget_walks(TreeBackend *b);

/* Records what is at w's path (a directory tree or a single file) in the tree; with announce raises
 * created (and changed for files) for it. Returns 1 if attached, or negative errno (w waits again). */
int tree_backend_attach(TreeBackend *b, Watch *w, bool announce);
void tree_backend_detach(TreeBackend *b, Watch *w);

/* Raises one event for entry name of directory n of w (name NULL: n itself). */
void tree_backend_emit(TreeBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask,
                       EventKind kind, bool synthetic, const char *src_pathname);

/* Gives directory n an id (it is "watched"); with fd (or -1: by its path) it is indexed by inode. */
void tree_backend_mark(TreeBackend *b, WatchNode *n);
void tree_backend_mark_fd(TreeBackend *b, WatchNode *n, int fd);

/* Forgets n and its subtree. */
void tree_backend_remove(TreeBackend *b, WatchNode *n);
/* watch_tree_move(), forgetting what a replaced subtree held. */
void tree_backend_move(TreeBackend *b, WatchNode *n, WatchNode *new_parent, const char *new_name);

/* The BackendOps members they share. */
void tree_backend_add_watch(BackendImpl *b, Watch *w, bool announce);
void tree_backend_remove_watch(BackendImpl *b, Watch *w);
void tree_backend_compare_snapshot(BackendImpl *b, Watch *w, GHashTable *known, usec_t since);
void tree_backend_get_stats(const BackendImpl *b, BackendStats *ret);
void tree_backend_rescan_dir(BackendImpl *b, Watch *w, WatchNode *n);
