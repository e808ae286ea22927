/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parsing /proc/self/mountinfo (proc(5)): only a mount's ID and mount point matter here, a mount
 * changed in place (remount, propagation) keeps both and is no change to the tree below it. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"
#include "mountinfo.h"

/* The kernel escapes space, tab, newline and backslash in the mount point as \ooo. */
static char *unescape(const char *s, size_t l) {
        GString *o = g_string_sized_new(l);

        for (size_t i = 0; i < l; i++) {
                if (s[i] == '\\' && i + 3 < l && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        g_string_append_c(o, (char) ((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
                                                     (s[i + 3] - '0')));
                        i += 3;
                } else
                        g_string_append_c(o, s[i]);
        }
        return g_string_free(o, false);
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the mount's key "ID MOUNTPOINT". */
static int parse_line(const char *line, size_t len, char **ret) {
        const char *f[5], *p = line, *end = line + len;
        size_t fl[5];
        g_autofree char *mp = NULL;

        for (size_t k = 0; k < ELEMENTSOF(f); k++) {
                while (p < end && *p == ' ')
                        p++;
                f[k] = p;
                while (p < end && *p != ' ')
                        p++;
                fl[k] = (size_t) (p - f[k]);
                if (fl[k] == 0)
                        return -EBADMSG;
        }
        if (strspn(f[0], "0123456789") != fl[0] || f[4][0] != '/')
                return -EBADMSG;
        mp = unescape(f[4], fl[4]);
        *ret = g_strdup_printf("%.*s %s", (int) fl[0], f[0], mp);
        return 0;
}

int mountinfo_parse(const char *text, GHashTable **ret) {
        g_autoptr(GHashTable) set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t) (nl - p) : strlen(p);
                char *key;
                int r;

                if (l > 0) {
                        r = parse_line(p, l, &key);
                        if (r < 0)
                                return r;
                        g_hash_table_add(set, key);
                }
                p += l + (nl ? 1 : 0);
        }
        *ret = g_steal_pointer(&set);
        return 0;
}

static void add_missing(GPtrArray *out, GHashTable *from, GHashTable *in) {
        GHashTableIter i;
        gpointer key;

        g_hash_table_iter_init(&i, from);
        while (g_hash_table_iter_next(&i, &key, NULL))
                if (!g_hash_table_contains(in, key))
                        g_ptr_array_add(out, g_strdup(strchr(key, ' ') + 1));
}

static int compare_paths(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Whether path is parent or below it (parent != "/" has no trailing slash). */
static bool path_below(const char *path, const char *parent) {
        size_t l = strlen(parent);

        if (streq(parent, "/"))
                return true;
        return strncmp(path, parent, l) == 0 && (path[l] == 0 || path[l] == '/');
}

GPtrArray *mountinfo_diff(GHashTable *old, GHashTable *new) {
        g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_free);
        GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

        add_missing(all, old, new);
        add_missing(all, new, old);
        g_ptr_array_sort(all, compare_paths);
        /* Sorted, a path comes after every one it lies below; the lists are short. */
        for (guint i = 0; i < all->len; i++) {
                const char *p = all->pdata[i];
                bool below = false;

                for (guint j = 0; j < out->len && !below; j++)
                        below = path_below(p, out->pdata[j]);
                if (!below)
                        g_ptr_array_add(out, g_strdup(p));
        }
        return out;
}
