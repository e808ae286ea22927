/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Event helpers: paths built on demand from the watch tree. */
#include <string.h>
#include <sys/inotify.h>

#include "watch.h"
#include "event.h"

size_t relpath_offset(const char *path, const char *base) {
        size_t l = strlen(base);

        if (l > 0 && base[l - 1] == '/')
                /* The root: "/x" is "x" relative to it. */
                return strncmp(path, base, l) == 0 ? l : strlen(path);
        if (strncmp(path, base, l) != 0 || (path[l] != '/' && path[l] != 0))
                return strlen(path);
        return path[l] == 0 ? l : l + 1;
}

const char *event_pathname(Event *ev) {
        if (ev->pathname)
                return ev->pathname;
        ev->pathname = watch_node_child_path(ev->node, ev->name);
        /* Not below the watch's path only if the watched directory itself was moved away. */
        ev->relpath_offset = relpath_offset(ev->pathname, ev->watch->path);
        return ev->pathname;
}

const char *event_relpath(Event *ev) {
        return event_pathname(ev) + ev->relpath_offset;
}

const char *event_basename(const Event *ev) {
        const char *s;

        if (ev->name)
                return ev->name;
        s = strrchr(watch_node_name(ev->node), '/');
        return s && s[1] ? s + 1 : watch_node_name(ev->node);
}

const char *event_display_name(const Event *ev) {
        if (ev->kind != EVENT_KIND_NONE)
                return event_kind_to_string(ev->kind);
        return event_mask_to_short_string(ev->mask & ~IN_ISDIR);
}

void event_done(Event *ev) {
        g_free(ev->pathname);
        ev->pathname = NULL;
}
