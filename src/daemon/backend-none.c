/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend=none (Bcfg2's Pseudo): what exists is recorded for InitialEvent=, nothing is monitored. */
#include "backend-tree.h"

static int none_init(BackendImpl *base, const char *watch_name) {
        tree_backend_init((TreeBackend *) base);
        return 0;
}

static void none_done(BackendImpl *base) {
        tree_backend_done((TreeBackend *) base);
}

static int none_set_mask(BackendImpl *base, uint32_t mask) {
        return 0;
}

static int none_set_enabled(BackendImpl *base, bool enabled) {
        return 0;
}

static void none_drain(BackendImpl *base) {
}

const BackendOps backend_none_ops = {
        .name = "none",
        .size = sizeof(TreeBackend),
        .init = none_init,
        .done = none_done,
        .set_mask = none_set_mask,
        .add_watch = tree_backend_add_watch,
        .remove_watch = tree_backend_remove_watch,
        .compare_snapshot = tree_backend_compare_snapshot,
        .set_enabled = none_set_enabled,
        .drain = none_drain,
        .get_stats = tree_backend_get_stats,
};
