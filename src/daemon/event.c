/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Event helpers: paths built on demand from the watch tree. */
#include <string.h>
#include <sys/inotify.h>

#include "backend-inotify.h"
#include "event.h"

const char *event_pathname(Event *ev) {
        size_t l;

        if (ev->pathname)
                return ev->pathname;
        ev->pathname = watch_node_child_path(ev->node, ev->name);
        l = strlen(ev->watch->path);
        if (strncmp(ev->pathname, ev->watch->path, l) != 0 || (ev->pathname[l] != '/' && ev->pathname[l] != 0))
                /* The watch root itself was moved away: no meaningful relative path. */
                ev->relpath_offset = strlen(ev->pathname);
        else if (ev->pathname[l] == 0)
                ev->relpath_offset = l;
        else
                ev->relpath_offset = l > 0 && ev->watch->path[l - 1] == '/' ? l : l + 1;
        return ev->pathname;
}

const char *event_relpath(Event *ev) {
        return event_pathname(ev) + ev->relpath_offset;
}

const char *event_basename(const Event *ev) {
        const char *s;

        if (ev->name)
                return ev->name;
        s = strrchr(ev->node->name, '/');
        return s && s[1] ? s + 1 : ev->node->name;
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
