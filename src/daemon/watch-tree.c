/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree of watched directories, indexed by watch descriptor; paths are built on demand. */
#include <string.h>
#include <sys/types.h>

#include "watch-tree.h"

struct WatchTree {
        GHashTable *by_wd;      /* int wd -> first WatchNode* with it */
        GPtrArray *roots;
        size_t n_nodes;
        size_t n_watched;
};

int watch_tree_new(WatchTree **ret) {
        WatchTree *t = g_new0(WatchTree, 1);

        t->by_wd = g_hash_table_new(g_direct_hash, g_direct_equal);
        t->roots = g_ptr_array_new();
        *ret = t;
        return 0;
}

static void files_free(void *f);

static void node_free_one(WatchTree *t, WatchNode *n) {
        if (n->children)
                g_hash_table_unref(n->children);
        files_free(n->files);
        g_free(n->name);
        g_free(n);
        t->n_nodes--;
}

static void unindex(WatchTree *t, WatchNode *n) {
        WatchNode *head, **p;

        if (n->wd < 0)
                return;
        head = g_hash_table_lookup(t->by_wd, GINT_TO_POINTER(n->wd));
        for (p = &head; *p; p = &(*p)->wd_next)
                if (*p == n) {
                        *p = n->wd_next;
                        break;
                }
        if (head)
                g_hash_table_insert(t->by_wd, GINT_TO_POINTER(n->wd), head);
        else
                g_hash_table_remove(t->by_wd, GINT_TO_POINTER(n->wd));
        n->wd_next = NULL;
        n->wd = -1;
        t->n_watched--;
}

static void remove_recursive(WatchTree *t, WatchNode *n, WatchNodeFunc on_remove, void *userdata) {
        if (n->children) {
                GHashTableIter i;
                gpointer v;

                g_hash_table_iter_init(&i, n->children);
                while (g_hash_table_iter_next(&i, NULL, &v)) {
                        g_hash_table_iter_steal(&i);
                        remove_recursive(t, v, on_remove, userdata);
                }
        }
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
        g_hash_table_unref(t->by_wd);
        g_free(t);
        return NULL;
}

static WatchNode *node_new(WatchTree *t, WatchNode *parent, void *owner, const char *name) {
        WatchNode *n = g_new0(WatchNode, 1);

        n->parent = parent;
        n->owner = owner;
        n->name = g_strdup(name);
        n->wd = -1;
        t->n_nodes++;
        return n;
}

WatchNode *watch_tree_add_root(WatchTree *t, void *owner, const char *path) {
        WatchNode *n = node_new(t, NULL, owner, path);

        g_ptr_array_add(t->roots, n);
        return n;
}

WatchNode *watch_node_child(const WatchNode *n, const char *name) {
        return n->children ? g_hash_table_lookup(n->children, name) : NULL;
}

WatchNode *watch_tree_add_child(WatchTree *t, WatchNode *parent, const char *name) {
        WatchNode *n = watch_node_child(parent, name);

        if (n)
                return n;
        n = node_new(t, parent, parent->owner, name);
        if (!parent->children)
                parent->children = g_hash_table_new(g_str_hash, g_str_equal);
        /* The key is the node's own name, so a rename must re-insert. */
        g_hash_table_insert(parent->children, n->name, n);
        return n;
}

void watch_tree_set_wd(WatchTree *t, WatchNode *n, int wd) {
        WatchNode *head;

        if (n->wd == wd)
                return;
        unindex(t, n);
        if (wd < 0)
                return;
        n->wd = wd;
        head = g_hash_table_lookup(t->by_wd, GINT_TO_POINTER(wd));
        n->wd_next = head;
        g_hash_table_insert(t->by_wd, GINT_TO_POINTER(wd), n);
        t->n_watched++;
}

WatchNode *watch_tree_lookup_wd(const WatchTree *t, int wd) {
        return g_hash_table_lookup(t->by_wd, GINT_TO_POINTER(wd));
}

bool watch_tree_wd_shared(const WatchTree *t, const WatchNode *n) {
        WatchNode *head;

        if (n->wd < 0)
                return false;
        head = watch_tree_lookup_wd(t, n->wd);
        return head && (head != n || n->wd_next);
}

static void detach(WatchTree *t, WatchNode *n) {
        if (n->parent)
                g_hash_table_steal(n->parent->children, n->name);
        else
                g_ptr_array_remove(t->roots, n);
}

void watch_tree_move(WatchTree *t, WatchNode *n, WatchNode *new_parent, const char *new_name,
                     WatchNodeFunc on_remove, void *userdata) {
        WatchNode *old = watch_node_child(new_parent, new_name);

        if (old == n)
                return;
        if (old)
                watch_tree_remove(t, old, on_remove, userdata);
        detach(t, n);
        g_free(n->name);
        n->name = g_strdup(new_name);
        n->parent = new_parent;
        if (!new_parent->children)
                new_parent->children = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_insert(new_parent->children, n->name, n);
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
                len += 1 + strlen(n->name);
                below = true;
        }
        len += strlen(n->name);
        if (below && g_str_has_suffix(n->name, "/"))
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
        memcpy(p, root->name, MIN(strlen(root->name), len));
        p[len] = 0;
        if (name)
                pos = put_component(p, pos, name);
        for (; n->parent; n = n->parent)
                pos = put_component(p, pos, n->name);
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
        uint32_t n;             /* names */
        uint32_t len;           /* bytes used in data */
        uint32_t cap;           /* bytes allocated for data */
        char data[];
} PackedFiles;

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
        if (!p || p->len + l > p->cap) {
                uint32_t cap = p ? p->cap : 0;

                while (cap < (p ? p->len : 0) + l)
                        cap = cap ? cap * 2 : (uint32_t) MAX(l, 32U);
                p = g_realloc(p, sizeof(PackedFiles) + cap);
                if (!n->files)
                        p->n = p->len = 0;
                p->cap = cap;
                n->files = p;
        }
        memcpy(p->data + p->len, name, l);
        p->len += (uint32_t) l;
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
        p->len -= (uint32_t) l;
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
