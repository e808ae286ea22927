/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree of watched directories, indexed by watch descriptor; paths are built on demand. */
#include <string.h>
#include <sys/types.h>

#include "watch-tree.h"

/* Both indexes are open-addressing tables of node pointers with linear probing: a slot costs 8 bytes,
 * where a GHashTable entry costs 20 and a table of its own per directory. Removal shifts the following
 * entries back, so there are no tombstones. Tables grow past 3/4 full. */
typedef struct NodeTable {
        WatchNode **slots;
        size_t cap;             /* a power of two, or 0 */
        size_t n;
} NodeTable;

/* In front of a root's node: the count of its tree's watched nodes, and its owner (which must come last,
 * right before the node: watch_node_owner() reads it there). */
typedef struct RootHead {
        size_t n_watched;
        void *owner;
} RootHead;

#define ROOT_HEAD(n) ((RootHead *) ((char *) (n) - sizeof(RootHead)))

static size_t kids_cap(const WatchNode *n);

static WatchNode *root_of(WatchNode *n) {
        while (n->parent)
                n = n->parent;
        return n;
}

struct WatchTree {
        NodeTable by_wd;        /* every watched node; overlapping watches put several with one wd */
        GPtrArray *roots;
        size_t n_nodes;
        size_t n_watched;
};

static inline size_t wd_slot(int wd, size_t cap) {
        return ((uint32_t) wd * 2654435769U) & (cap - 1);
}

static inline size_t name_slot(const char *name, size_t cap) {
        return g_str_hash(name) & (cap - 1);
}

/* ------------------------------------------------------------------ the wd index */

static void wd_insert_slot(WatchNode **slots, size_t cap, WatchNode *n) {
        size_t i = wd_slot(n->wd, cap);

        while (slots[i])
                i = (i + 1) & (cap - 1);
        slots[i] = n;
}

static void wd_index(WatchTree *t, WatchNode *n) {
        NodeTable *h = &t->by_wd;

        if ((h->n + 1) * 4 > h->cap * 3) {
                size_t cap = h->cap ? h->cap * 2 : 64;
                WatchNode **slots = g_new0(WatchNode *, cap);

                for (size_t i = 0; i < h->cap; i++)
                        if (h->slots[i])
                                wd_insert_slot(slots, cap, h->slots[i]);
                g_free(h->slots);
                h->slots = slots;
                h->cap = cap;
        }
        wd_insert_slot(h->slots, h->cap, n);
        h->n++;
}

/* Backward-shift deletion: the entries after the hole that may move into it do. */
static void table_delete_at(WatchNode **slots, size_t cap, size_t hole, size_t (*home)(const WatchNode *, size_t)) {
        for (size_t j = (hole + 1) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1)) {
                size_t k = home(slots[j], cap);

                /* slots[j] may fill the hole unless its home lies cyclically in (hole, j]. */
                if (hole <= j ? (hole < k && k <= j) : (hole < k || k <= j))
                        continue;
                slots[hole] = slots[j];
                hole = j;
        }
        slots[hole] = NULL;
}

static size_t wd_home(const WatchNode *n, size_t cap) {
        return wd_slot(n->wd, cap);
}

static void wd_unindex(WatchTree *t, WatchNode *n) {
        NodeTable *h = &t->by_wd;

        for (size_t i = wd_slot(n->wd, h->cap); h->slots[i]; i = (i + 1) & (h->cap - 1))
                if (h->slots[i] == n) {
                        table_delete_at(h->slots, h->cap, i, wd_home);
                        h->n--;
                        return;
                }
}

void watch_wd_iter_init(WatchWdIter *i, const WatchTree *t, int wd) {
        *i = (WatchWdIter) { .tree = t, .wd = wd, .left = t->by_wd.cap };
        if (t->by_wd.cap > 0)
                i->pos = wd_slot(wd, t->by_wd.cap);
}

WatchNode *watch_wd_iter_next(WatchWdIter *i) {
        const NodeTable *h = &i->tree->by_wd;

        while (i->left > 0 && h->slots[i->pos]) {
                WatchNode *n = h->slots[i->pos];

                i->pos = (i->pos + 1) & (h->cap - 1);
                i->left--;
                if (n->wd == i->wd)
                        return n;
        }
        i->left = 0;
        return NULL;
}

WatchNode *watch_tree_lookup_wd(const WatchTree *t, int wd) {
        WatchWdIter i;

        watch_wd_iter_init(&i, t, wd);
        return watch_wd_iter_next(&i);
}

bool watch_tree_wd_shared(const WatchTree *t, const WatchNode *n) {
        WatchWdIter i;
        WatchNode *o;

        if (n->wd < 0)
                return false;
        watch_wd_iter_init(&i, t, n->wd);
        while ((o = watch_wd_iter_next(&i)))
                if (o != n)
                        return true;
        return false;
}

static void unindex(WatchTree *t, WatchNode *n) {
        if (n->wd < 0)
                return;
        wd_unindex(t, n);
        n->wd = -1;
        t->n_watched--;
        ROOT_HEAD(root_of(n))->n_watched--;
}

void watch_tree_set_wd(WatchTree *t, WatchNode *n, int wd) {
        if (n->wd == wd)
                return;
        unindex(t, n);
        if (wd < 0)
                return;
        n->wd = wd;
        wd_index(t, n);
        t->n_watched++;
        ROOT_HEAD(root_of(n))->n_watched++;
}

size_t watch_tree_root_n_watched(const WatchNode *root) {
        g_return_val_if_fail(!root->parent, 0);
        return ROOT_HEAD(root)->n_watched;
}

static size_t count_watched(const WatchNode *n) {
        size_t c = n->wd >= 0;

        for (size_t i = 0; i < kids_cap(n); i++)
                if (n->kids[i])
                        c += count_watched(n->kids[i]);
        return c;
}

/* ------------------------------------------------------------------ children */

static size_t kids_cap(const WatchNode *n) {
        return n->kids ? (size_t) 1 << n->kids_shift : 0;
}

static size_t name_home(const WatchNode *n, size_t cap) {
        return name_slot(watch_node_name(n), cap);
}

static void kid_insert_slot(WatchNode **slots, size_t cap, WatchNode *c) {
        size_t i = name_slot(watch_node_name(c), cap);

        while (slots[i])
                i = (i + 1) & (cap - 1);
        slots[i] = c;
}

static void kids_add(WatchNode *p, WatchNode *c) {
        size_t cap = kids_cap(p);

        if (p->n_kids >= WATCH_NODE_KIDS_MAX)
                g_error("A directory with more than %u subdirectories.", (unsigned) WATCH_NODE_KIDS_MAX);
        if (((size_t) p->n_kids + 1) * 4 > cap * 3) {
                size_t ncap = cap ? cap * 2 : 4;
                WatchNode **slots = g_new0(WatchNode *, ncap);

                for (size_t i = 0; i < cap; i++)
                        if (p->kids[i])
                                kid_insert_slot(slots, ncap, p->kids[i]);
                g_free(p->kids);
                p->kids = slots;
                p->kids_shift = (uint8_t) g_bit_nth_lsf(ncap, -1);
                cap = ncap;
        }
        kid_insert_slot(p->kids, cap, c);
        p->n_kids++;
}

static void kids_remove(WatchNode *p, WatchNode *c) {
        size_t cap = kids_cap(p);

        if (cap == 0)
                return;
        for (size_t i = name_slot(watch_node_name(c), cap); p->kids[i]; i = (i + 1) & (cap - 1))
                if (p->kids[i] == c) {
                        table_delete_at(p->kids, cap, i, name_home);
                        if (--p->n_kids == 0)
                                g_clear_pointer(&p->kids, g_free);
                        return;
                }
}

WatchNode *watch_node_child(const WatchNode *n, const char *name) {
        size_t cap = kids_cap(n);

        if (cap == 0)
                return NULL;
        for (size_t i = name_slot(name, cap); n->kids[i]; i = (i + 1) & (cap - 1))
                if (streq(watch_node_name(n->kids[i]), name))
                        return n->kids[i];
        return NULL;
}

void watch_child_iter_init(WatchChildIter *i, const WatchNode *n) {
        *i = (WatchChildIter) { .node = n };
}

WatchNode *watch_child_iter_next(WatchChildIter *i) {
        size_t cap = kids_cap(i->node);

        while (i->pos < cap) {
                WatchNode *c = i->node->kids[i->pos++];

                if (c)
                        return c;
        }
        return NULL;
}

size_t watch_node_n_children(const WatchNode *n) {
        return n->n_kids;
}

/* ------------------------------------------------------------------ nodes */

int watch_tree_new(WatchTree **ret) {
        WatchTree *t = g_new0(WatchTree, 1);

        t->roots = g_ptr_array_new();
        *ret = t;
        return 0;
}

static void files_free(void *f);

/* The inline block of a node: what its first name took, and never less than a pointer. */
static size_t inline_size(size_t name_size) {
        return MAX(name_size, sizeof(char *));
}

static void clear_name(WatchNode *n) {
        if (n->name_is_ptr) {
                char *p;

                memcpy(&p, n->name_inline, sizeof(p));
                g_free(p);
                n->name_is_ptr = false;
        }
}

static void set_name(WatchNode *n, const char *name, size_t inline_cap) {
        size_t l = strlen(name) + 1;

        clear_name(n);
        if (l <= inline_cap)
                memcpy(n->name_inline, name, l);
        else {
                char *p = g_strdup(name);

                memcpy(n->name_inline, &p, sizeof(p));
                n->name_is_ptr = true;
        }
}

/* A root has its head in front of it: the start of its allocation. */
static void *node_block(WatchNode *n) {
        return n->parent ? (void *) n : (void *) ROOT_HEAD(n);
}

static void node_free_one(WatchTree *t, WatchNode *n) {
        g_free(n->kids);
        files_free(n->files);
        clear_name(n);
        g_free(node_block(n));
        t->n_nodes--;
}

static void remove_recursive(WatchTree *t, WatchNode *n, WatchNodeFunc on_remove, void *userdata) {
        for (size_t i = 0; i < kids_cap(n); i++)
                if (n->kids[i])
                        remove_recursive(t, n->kids[i], on_remove, userdata);
        if (on_remove)
                on_remove(t, n, userdata);
        unindex(t, n);
        node_free_one(t, n);
}

WatchTree *watch_tree_free(WatchTree *t) {
        if (!t)
                return NULL;
        while (t->roots->len > 0)
                watch_tree_remove(t, g_ptr_array_index(t->roots, t->roots->len - 1), NULL, NULL);
        g_ptr_array_unref(t->roots);
        g_free(t->by_wd.slots);
        g_free(t);
        return NULL;
}

/* With a root's head in front (head_room: sizeof(RootHead)) or not (0). */
static WatchNode *node_new(WatchTree *t, WatchNode *parent, size_t head_room, const char *name) {
        size_t l = strlen(name) + 1;
        char *block = g_malloc0(head_room + sizeof(WatchNode) + inline_size(l));
        WatchNode *n = (WatchNode *) (block + head_room);

        n->parent = parent;
        memcpy(n->name_inline, name, l);
        n->wd = -1;
        t->n_nodes++;
        return n;
}

WatchNode *watch_tree_add_root(WatchTree *t, void *owner, const char *path) {
        WatchNode *n = node_new(t, NULL, sizeof(RootHead), path);

        ROOT_HEAD(n)->owner = owner;
        g_ptr_array_add(t->roots, n);
        return n;
}

WatchNode *watch_tree_add_child(WatchTree *t, WatchNode *parent, const char *name) {
        WatchNode *n = watch_node_child(parent, name);

        if (n)
                return n;
        n = node_new(t, parent, 0, name);
        kids_add(parent, n);
        return n;
}

static void detach(WatchTree *t, WatchNode *n) {
        if (n->parent)
                kids_remove(n->parent, n);
        else
                g_ptr_array_remove(t->roots, n);
}

void watch_tree_move(WatchTree *t, WatchNode *n, WatchNode *new_parent, const char *new_name,
                     WatchNodeFunc on_remove, void *userdata) {
        WatchNode *old = watch_node_child(new_parent, new_name);
        size_t cap;

        /* A root's block starts before it: it stays a root. */
        g_return_if_fail(n->parent);
        if (old == n)
                return;
        if (old)
                watch_tree_remove(t, old, on_remove, userdata);
        /* The name is the key in the parent's table: out under the old one, in under the new. */
        /* Into another tree (another watch's): its watched nodes count there now. */
        if (root_of(n) != root_of(new_parent)) {
                size_t c = count_watched(n);

                ROOT_HEAD(root_of(n))->n_watched -= c;
                ROOT_HEAD(root_of(new_parent))->n_watched += c;
        }
        detach(t, n);
        /* The inline block holds at least a pointer and what it holds now; a name that fits reuses it. */
        cap = inline_size(n->name_is_ptr ? 0 : strlen(n->name_inline) + 1);
        set_name(n, new_name, cap);
        n->parent = new_parent;
        kids_add(new_parent, n);
}

void watch_tree_remove(WatchTree *t, WatchNode *n, WatchNodeFunc on_remove, void *userdata) {
        detach(t, n);
        remove_recursive(t, n, on_remove, userdata);
}

/* Length of the path of n plus, if name is given, "/name". A root that ends in '/' ("/") does not
 * get a second slash. */
static size_t path_len(const WatchNode *n, const char *name, const WatchNode **ret_root) {
        size_t len = name ? 1 + strlen(name) : 0;
        bool below = name != NULL;

        for (; n->parent; n = n->parent) {
                len += 1 + strlen(watch_node_name(n));
                below = true;
        }
        len += strlen(watch_node_name(n));
        if (below && g_str_has_suffix(watch_node_name(n), "/"))
                len--;
        *ret_root = n;
        return len;
}

size_t watch_node_path_len(const WatchNode *n) {
        const WatchNode *root;

        return path_len(n, NULL, &root);
}

static size_t put_component(char *p, size_t pos, const char *c) {
        size_t l = strlen(c);

        pos -= l;
        memcpy(p + pos, c, l);
        p[--pos] = '/';
        return pos;
}

char *watch_node_child_path(const WatchNode *n, const char *name) {
        const WatchNode *root;
        size_t len = path_len(n, name, &root), pos = len;
        char *p = g_malloc(len + 1);

        /* The root first: for "/" the last slash written below lands on its own slash. */
        memcpy(p, watch_node_name(root), MIN(strlen(watch_node_name(root)), len));
        p[len] = 0;
        if (name)
                pos = put_component(p, pos, name);
        for (; n->parent; n = n->parent)
                pos = put_component(p, pos, watch_node_name(n));
        return p;
}

char *watch_node_path(const WatchNode *n) {
        return watch_node_child_path(n, NULL);
}

/* Most directories hold a few files: their names are packed into one small block ("a\0b\0"), found
 * by a linear scan. A directory that grows past FILES_PACKED_MAX names switches to a hash table. The
 * low bit of the pointer says which (both are at least 2-aligned). */
#define FILES_PACKED_MAX 48U

typedef struct PackedFiles {
        uint16_t n;             /* names (at most FILES_PACKED_MAX) */
        uint16_t len;           /* bytes used in data (at most FILES_PACKED_MAX * 256) */
        char data[];            /* allocated: PACKED_CAP(len) bytes */
} PackedFiles;

/* The block is sized by what it holds, in steps of 16: no capacity to store. */
#define PACKED_CAP(len) (((size_t) (len) + 15U) & ~(size_t) 15U)

#define FILES_IS_HASH(p) (((uintptr_t) (p)) & 1U)
#define FILES_HASH(p) ((GHashTable *) (((uintptr_t) (p)) & ~(uintptr_t) 1U))
#define FILES_TAG_HASH(h) ((void *) (((uintptr_t) (h)) | 1U))

static void files_free(void *f) {
        if (!f)
                return;
        if (FILES_IS_HASH(f))
                g_hash_table_unref(FILES_HASH(f));
        else
                g_free(f);
}

/* Offset of name in the packed block, or -1. */
static ssize_t packed_find(const PackedFiles *p, const char *name) {
        size_t l = strlen(name) + 1;

        for (size_t off = 0; off < p->len;) {
                size_t el = strlen(p->data + off) + 1;

                if (el == l && memcmp(p->data + off, name, l) == 0)
                        return (ssize_t) off;
                off += el;
        }
        return -1;
}

bool watch_node_has_file(const WatchNode *n, const char *name) {
        if (!n->files)
                return false;
        if (FILES_IS_HASH(n->files))
                return g_hash_table_contains(FILES_HASH(n->files), name);
        return packed_find(n->files, name) >= 0;
}

bool watch_node_add_file(WatchNode *n, const char *name) {
        size_t l = strlen(name) + 1;
        PackedFiles *p = n->files;

        if (watch_node_has_file(n, name))
                return false;
        if (p && FILES_IS_HASH(p)) {
                g_hash_table_add(FILES_HASH(p), g_strdup(name));
                return true;
        }
        if (p && p->n >= FILES_PACKED_MAX) {
                GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

                for (size_t off = 0; off < p->len; off += strlen(p->data + off) + 1)
                        g_hash_table_add(h, g_strdup(p->data + off));
                g_hash_table_add(h, g_strdup(name));
                g_free(p);
                n->files = FILES_TAG_HASH(h);
                return true;
        }
        if (!p || PACKED_CAP(p->len) < p->len + l) {
                size_t len = p ? p->len : 0;

                p = g_realloc(p, sizeof(PackedFiles) + PACKED_CAP(len + l));
                if (!n->files)
                        p->n = p->len = 0;
                n->files = p;
        }
        memcpy(p->data + p->len, name, l);
        p->len += (uint16_t) l;
        p->n++;
        return true;
}

bool watch_node_remove_file(WatchNode *n, const char *name) {
        PackedFiles *p = n->files;
        ssize_t off;
        size_t l;

        if (!p)
                return false;
        if (FILES_IS_HASH(p))
                return g_hash_table_remove(FILES_HASH(p), name);
        off = packed_find(p, name);
        if (off < 0)
                return false;
        l = strlen(name) + 1;
        memmove(p->data + off, p->data + off + l, p->len - (size_t) off - l);
        p->len -= (uint16_t) l;
        if (--p->n == 0) {
                g_free(p);
                n->files = NULL;
        }
        return true;
}

size_t watch_node_n_files(const WatchNode *n) {
        if (!n->files)
                return 0;
        if (FILES_IS_HASH(n->files))
                return g_hash_table_size(FILES_HASH(n->files));
        return ((const PackedFiles *) n->files)->n;
}

void watch_file_iter_init(WatchFileIter *i, const WatchNode *n) {
        i->node = n;
        i->pos = 0;
        if (n->files && FILES_IS_HASH(n->files))
                g_hash_table_iter_init(&i->hash, FILES_HASH(n->files));
}

bool watch_file_iter_next(WatchFileIter *i, const char **ret_name) {
        const PackedFiles *p = i->node->files;
        gpointer k;

        if (!p)
                return false;
        if (FILES_IS_HASH(p)) {
                if (!g_hash_table_iter_next(&i->hash, &k, NULL))
                        return false;
                *ret_name = k;
                return true;
        }
        if (i->pos >= p->len)
                return false;
        *ret_name = p->data + i->pos;
        i->pos += strlen(p->data + i->pos) + 1;
        return true;
}

size_t watch_tree_n_nodes(const WatchTree *t) {
        return t->n_nodes;
}

size_t watch_tree_n_watched(const WatchTree *t) {
        return t->n_watched;
}
