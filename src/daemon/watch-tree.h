/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree of watched directories: nodes with a name and a parent, indexed by inotify watch descriptor. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"

typedef struct WatchTree WatchTree;
typedef struct WatchNode WatchNode;

/* Read-only for everyone but watch-tree.c. A full path is built only when asked for, so renaming a
 * directory is one update of its node, whatever lies below it. A node is one allocation of 32 bytes with
 * its name at the end (a rename to a longer name puts a pointer to a block of its own there); children
 * and watch descriptors are found through open-addressing tables of node pointers. The watch a node
 * belongs to is its root's: a root is allocated with that pointer, and the count of its tree's watched
 * nodes, in front of it. For a million
 * directories with short names that is about 80 bytes per directory, tables included. */
struct WatchNode {
        WatchNode *parent;      /* NULL for a root */
        void *files;            /* names of the non-directory entries last seen (see below), NULL when none */
        WatchNode **kids;       /* children by name hash, 1 << kids_shift slots; NULL when none */
        int wd;                 /* -1 while not watched */
        uint32_t n_kids : 26;
        uint32_t kids_shift : 5;
        uint32_t name_is_ptr : 1;       /* name_inline holds a char * (renamed to a longer name) */
        char name_inline[];     /* a root's name is its full path; at least sizeof(char *) bytes */
};

#define WATCH_NODE_KIDS_MAX ((UINT32_C(1) << 26) - 1)

/* The node's name: its entry name in its parent, a root's full path. */
static inline const char *watch_node_name(const WatchNode *n) {
        if (n->name_is_ptr) {
                const char *p;

                memcpy(&p, n->name_inline, sizeof(p));
                return p;
        }
        return n->name_inline;
}

/* The watch the node belongs to: its root's owner. */
static inline void *watch_node_owner(const WatchNode *n) {
        void *owner;

        while (n->parent)
                n = n->parent;
        memcpy(&owner, (const char *) n - sizeof(void *), sizeof(owner));
        return owner;
}

int watch_tree_new(WatchTree **ret);
WatchTree *watch_tree_free(WatchTree *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(WatchTree *, watch_tree_free);

/* A root for path, owned by owner, not yet watched. */
WatchNode *watch_tree_add_root(WatchTree *t, void *owner, const char *path);

/* The child called name of parent, created if missing (not watched). */
WatchNode *watch_tree_add_child(WatchTree *t, WatchNode *parent, const char *name);

WatchNode *watch_node_child(const WatchNode *n, const char *name);

/* Iterating the children; the set must not change during the iteration. */
typedef struct WatchChildIter {
        const WatchNode *node;
        size_t pos;
} WatchChildIter;
void watch_child_iter_init(WatchChildIter *i, const WatchNode *n);
WatchNode *watch_child_iter_next(WatchChildIter *i);
size_t watch_node_n_children(const WatchNode *n);

/* Sets the node's wd and indexes it (wd -1 unindexes). */
void watch_tree_set_wd(WatchTree *t, WatchNode *n, int wd);

/* The number of watched nodes (wd set) in the tree of root, root included. */
size_t watch_tree_root_n_watched(const WatchNode *root);

/* A node watched with wd, or NULL. Overlapping watches share a wd: use the iterator for all of them. */
WatchNode *watch_tree_lookup_wd(const WatchTree *t, int wd);

/* Iterating the nodes watched with wd; the tree must not change during the iteration. */
typedef struct WatchWdIter {
        const WatchTree *tree;
        int wd;
        size_t pos, left;
} WatchWdIter;
void watch_wd_iter_init(WatchWdIter *i, const WatchTree *t, int wd);
WatchNode *watch_wd_iter_next(WatchWdIter *i);

/* Whether any node other than n is watched with n's wd. */
bool watch_tree_wd_shared(const WatchTree *t, const WatchNode *n);

/* Moves n (and so its whole subtree) under new_parent as new_name. If new_parent already has a child
 * of that name, that child's subtree is removed first (through on_remove, as watch_tree_remove). */
typedef void (*WatchNodeFunc)(WatchTree *t, WatchNode *n, void *userdata);
void watch_tree_move(WatchTree *t, WatchNode *n, WatchNode *new_parent, const char *new_name,
                     WatchNodeFunc on_remove, void *userdata);

/* Removes n and its subtree. on_remove (may be NULL) is called for every node, children before their
 * parent, while the node is still complete (its path can be built). */
void watch_tree_remove(WatchTree *t, WatchNode *n, WatchNodeFunc on_remove, void *userdata);

/* The full path of n, or of its entry name (name may be NULL). Newly allocated. */
char *watch_node_path(const WatchNode *n);
char *watch_node_child_path(const WatchNode *n, const char *name);

/* Length of the path watch_node_path() would return. */
size_t watch_node_path_len(const WatchNode *n);

/* Remembered non-directory entries, for finding what changed after a queue overflow. */
bool watch_node_add_file(WatchNode *n, const char *name);     /* true if it was new */
bool watch_node_remove_file(WatchNode *n, const char *name);  /* true if it was there */
bool watch_node_has_file(const WatchNode *n, const char *name);
size_t watch_node_n_files(const WatchNode *n);

/* Iterating the remembered files; the set must not change during the iteration. */
typedef struct WatchFileIter {
        const WatchNode *node;
        GHashTableIter hash;
        size_t pos;
} WatchFileIter;
void watch_file_iter_init(WatchFileIter *i, const WatchNode *n);
bool watch_file_iter_next(WatchFileIter *i, const char **ret_name);

size_t watch_tree_n_nodes(const WatchTree *t);
size_t watch_tree_n_watched(const WatchTree *t);
