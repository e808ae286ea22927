/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A configured watch: its settings, its excludes and its initial event, apart from any backend. */
#include <fnmatch.h>
#include <limits.h>
#include <string.h>

#include "watch.h"

int watch_new(Watch **ret, const ConfigWatch *cfg) {
        _cleanup_(watch_freep) Watch *w = NULL;

        w = g_new0(Watch, 1);
        w->name = g_strdup(cfg->name);
        w->path = g_strdup(cfg->path);
        w->recursive = cfg->recursive;
        w->auto_add = cfg->auto_add;
        w->cfg_recursive = cfg->recursive;
        w->cfg_auto_add = cfg->auto_add;
        w->exclude = g_strdupv(cfg->exclude);
        for (char **p = w->exclude; p && *p; p++)
                if (strchr(*p, '/'))
                        w->exclude_has_slash = true;
        w->initial_mask = cfg->initial_mask;
        w->initial_kinds = cfg->initial_kinds;
        w->cfg_backend = w->backend = cfg->backend;
        w->poll_interval = cfg->poll_interval;

        *ret = TAKE_PTR(w);
        return 0;
}

Watch *watch_free(Watch *w) {
        if (!w)
                return NULL;
        g_free(w->name);
        g_free(w->path);
        g_strfreev(w->exclude);
        g_free(w->file_name);
        g_free(w->target);
        g_free(w);
        return NULL;
}

void watch_set_single_file(Watch *w, const char *file_name) {
        g_free(w->file_name);
        w->file_name = g_strdup(file_name);
        /* A single file has nothing below it to recurse into. */
        w->recursive = w->auto_add = false;
}

void watch_detach(Watch *w) {
        w->root = NULL;
        w->active = false;
        w->n_unwatched = 0;
        w->file_name = (g_free(w->file_name), NULL);
        w->target = (g_free(w->target), NULL);
        w->recursive = w->cfg_recursive;
        w->auto_add = w->cfg_auto_add;
}

const char *watch_state(const Watch *w) {
        return w->active ? "active" : w->waiting ? "waiting" : "inactive";
}

bool watch_matches_config(const Watch *w, const ConfigWatch *cfg) {
        return streq(w->name, cfg->name) && streq(w->path, cfg->path) && w->cfg_recursive == cfg->recursive &&
               w->cfg_auto_add == cfg->auto_add && g_strv_equal((const char *const *) w->exclude,
                                                            (const char *const *) cfg->exclude) &&
               w->initial_mask == cfg->initial_mask && w->initial_kinds == cfg->initial_kinds &&
               w->cfg_backend == cfg->backend && w->poll_interval == cfg->poll_interval;
}

/* The path of n's entry name relative to the tree's root ("" for the root itself). */
static char *node_relpath(const WatchNode *n, const char *name) {
        g_autofree char *full = watch_node_child_path(n, name);
        const WatchNode *root = n;
        size_t l;

        while (root->parent)
                root = root->parent;
        l = strlen(watch_node_name(root));
        if (full[l] == 0)
                return g_strdup("");
        return g_strdup(full + l + (full[l] == '/' ? 1 : 0));
}

bool watch_excluded_by_pattern(const Watch *w, const WatchNode *n, const char *name) {
        g_autofree char *rel = NULL;

        for (char **p = w->exclude; *p; p++)
                if (fnmatch(*p, name, 0) == 0)
                        return true;
        if (!w->exclude_has_slash)
                return false;
        rel = node_relpath(n, name);
        for (char **p = w->exclude; *p; p++)
                if (strchr(*p, '/') && fnmatch(*p, rel, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

bool watch_excluded_relpath(const Watch *w, const char *relpath) {
        g_autofree char *rel = NULL;

        if (!w->exclude || !w->exclude[0])
                return false;
        rel = g_strdup(relpath);
        /* Each prefix "a", "a/b", ...: its last component by name, the prefix itself by path. */
        for (char *end = rel, *name = rel;; end++) {
                char c = *end;

                if (c != '/' && c != 0)
                        continue;
                *end = 0;
                for (char **p = w->exclude; *name && *p; p++)
                        if (fnmatch(*p, name, 0) == 0 ||
                            (strchr(*p, '/') && fnmatch(*p, rel, FNM_PATHNAME) == 0))
                                return true;
                if (c == 0)
                        return false;
                *end = c;
                name = end + 1;
        }
}

EventKind watch_initial_kind(const Watch *w) {
        EventKind kind = w->initial_kinds ? (EventKind) __builtin_ctz(w->initial_kinds) : EVENT_KIND_NONE;

        return kind != EVENT_KIND_NONE ? kind : event_kind_from_mask(w->initial_mask);
}

unsigned watch_n_directories(const Watch *w) {
        return w->root ? (unsigned) MIN(watch_tree_root_n_watched(w->root), (size_t) UINT_MAX) : 0;
}
