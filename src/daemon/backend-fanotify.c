/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend=fanotify: placeholder. */
#include "backend-tree.h"
#include "log.h"

static int fan_init(BackendImpl *base, const char *watch_name) {
        tree_backend_init((TreeBackend *) base);
        return log_error_errno(-EOPNOTSUPP, "Watch %s: Backend=fanotify is not built.", watch_name);
}

static void fan_done(BackendImpl *base) {
        tree_backend_done((TreeBackend *) base);
}

const BackendOps backend_fanotify_ops = {
        .name = "fanotify",
        .size = sizeof(TreeBackend),
        .init = fan_init,
        .done = fan_done,
};
