/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.inotaskd1.Watch objects at /org/inotaskd1/watch/<name escaped by sd_bus_path_encode()>, served from
 * one fallback vtable like the task objects: what a watch is, which backend watches it and how far. */
#include <string.h>

#include "backend.h"
#include "bus.h"
#include "escape.h"
#include "manager.h"

int bus_watch_path(const Watch *w, char **ret) {
        return sd_bus_path_encode(BUS_WATCH_PREFIX, w->name, ret);
}

int bus_watch_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                   sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Watch *w;
        int r;

        r = sd_bus_path_decode(path, BUS_WATCH_PREFIX, &name);
        if (r <= 0)
                return r;
        w = backend_find_watch(manager_get_backend(bus_get_manager(userdata)), name);
        if (!w)
                return 0;
        *ret_found = w;
        return 1;
}

int bus_watch_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                        sd_bus_error *error) {
        GPtrArray *watches = backend_get_watches(manager_get_backend(bus_get_manager(userdata)));
        char **nodes = g_new0(char *, watches->len + 1);
        int r;

        for (guint i = 0; i < watches->len; i++) {
                r = bus_watch_path(watches->pdata[i], &nodes[i]);
                if (r < 0) {
                        g_strfreev(nodes);
                        return r;
                }
        }
        *ret_nodes = nodes;
        return 0;
}

/* ------------------------------------------------------------------ properties */

static int property_get_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        _cleanup_free_ char *shown = escape_display(w->path, strlen(w->path));

        return sd_bus_message_append(reply, "s", shown);
}

static int property_get_path_bytes(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Watch *w = userdata;

        return sd_bus_message_append_array(reply, 'y', w->path, strlen(w->path));
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        const char *v = NULL;

        if (streq(property, "Backend"))
                v = backend_watch_backend(w);
        else if (streq(property, "BackendSetting"))
                v = backend_kind_to_string(w->cfg_backend);
        else if (streq(property, "State"))
                v = watch_state(w);
        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_n_directories(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", backend_watch_n_directories(userdata));
}

static int property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        int v = streq(property, "Recursive") ? w->cfg_recursive : w->cfg_auto_add;     /* "b" takes an int */

        return sd_bus_message_append(reply, "b", v);
}

static int property_get_poll_interval(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        Watch *w = userdata;

        return sd_bus_message_append(reply, "t", (uint64_t) w->poll_interval);
}

/* A watch whose settings change on a reload is another object (removed and added again), so what the
 * configuration says is const, and so is the backend (Backend=auto is resolved when the watch is added). The
 * state and the directory count change under the watch: PropertiesChanged carries both, coalesced with the
 * bus's other changes (bus-manager.c: a walk of a million directories sends one, not one per directory). */
const sd_bus_vtable bus_watch_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Watch, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Path", "s", property_get_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PathBytes", "ay", property_get_path_bytes, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Backend", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BackendSetting", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Recursive", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AutoAdd", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NDirectories", "u", property_get_n_directories, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PollIntervalUSec", "t", property_get_poll_interval, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END
};
