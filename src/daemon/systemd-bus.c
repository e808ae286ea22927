/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared connection to systemd: lazily opened, attached to the loop, Subscribe()d, and its users
 * told when it ends so that they fail what waited on it and connect again on next use. */
#include <errno.h>
#include <unistd.h>

#include "macro.h"

#include <glib.h>

#include "time-util.h"

#include "log.h"
#include "systemd-bus.h"

#define REACHABLE_TIMEOUT_USEC (2 * USEC_PER_SEC)

struct SystemdBus {
        sd_event *event;
        bool user_mode;
        sd_bus *bus;
        GArray *clients;                /* SystemdBusClient */
};

int systemd_bus_new(SystemdBus **ret, sd_event *e, bool user_mode) {
        SystemdBus *b = g_new0(SystemdBus, 1);

        b->event = sd_event_ref(e);
        b->user_mode = user_mode;
        b->clients = g_array_new(false, false, sizeof(SystemdBusClient));
        *ret = b;
        return 0;
}

SystemdBus *systemd_bus_free(SystemdBus *b) {
        if (!b)
                return NULL;
        b->bus = sd_bus_flush_close_unref(b->bus);
        g_array_unref(b->clients);
        sd_event_unref(b->event);
        g_free(b);
        return NULL;
}

void systemd_bus_add_client(SystemdBus *b, const SystemdBusClient *c) {
        g_array_append_val(b->clients, *c);
}

bool systemd_bus_user_mode(const SystemdBus *b) {
        return b->user_mode;
}

static int on_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SystemdBus *b = userdata;

        if (!sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected"))
                return 0;
        for (guint i = 0; i < b->clients->len; i++) {
                const SystemdBusClient *c = &g_array_index(b->clients, SystemdBusClient, i);

                if (c->disconnected)
                        c->disconnected(c->userdata);
        }
        return 0;
}

static int connect_bus(SystemdBus *b) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = b->user_mode ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus for systemd: %m",
                                       b->user_mode ? "user" : "system");
        r = sd_bus_attach_event(bus, b->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the systemd bus to the loop: %m");
        r = sd_bus_add_filter(bus, NULL, on_filter, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the systemd bus: %m");
        for (guint i = 0; i < b->clients->len; i++) {
                const SystemdBusClient *c = &g_array_index(b->clients, SystemdBusClient, i);

                r = c->connected ? c->connected(bus, c->userdata) : 0;
                if (r < 0)
                        return r;
        }
        /* systemd sends job and unit signals only to subscribed clients. */
        r = sd_bus_call_method_async(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd: %m");
        b->bus = TAKE_PTR(bus);
        return 0;
}

int systemd_bus_get(SystemdBus *b, sd_bus **ret) {
        int r;

        if (!b->bus || sd_bus_is_open(b->bus) <= 0) {
                if (b->bus) {
                        (void) sd_bus_detach_event(b->bus);
                        b->bus = sd_bus_flush_close_unref(b->bus);
                }
                r = connect_bus(b);
                if (r < 0)
                        return r;
        }
        *ret = b->bus;
        return 0;
}

bool systemd_bus_manager_reachable(SystemdBus *b) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus *bus;

        if (systemd_bus_get(b, &bus) < 0)
                return false;
        if (sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.DBus.Peer", "Ping") < 0)
                return false;
        return sd_bus_call(bus, m, REACHABLE_TIMEOUT_USEC, &e, &reply) >= 0;
}

int systemd_bus_own_job_type(SystemdBus *b, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *job_type = NULL;
        const char *unit, *job;
        uint32_t id;
        sd_bus *bus;
        int r;

        *ret = NULL;
        r = systemd_bus_get(b, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnitByPID", &e, &reply, "u",
                               (uint32_t) getpid());
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &unit);
        if (r < 0)
                return r;
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *jr = NULL;

                r = sd_bus_get_property(bus, "org.freedesktop.systemd1", unit, "org.freedesktop.systemd1.Unit",
                                        "Job", &e, &jr, "(uo)");
                if (r < 0)
                        return r;
                r = sd_bus_message_read(jr, "(uo)", &id, &job);
                if (r < 0)
                        return r;
                if (id == 0)
                        return 0;
                r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job, "org.freedesktop.systemd1.Job",
                                               "JobType", &e, &job_type);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(job_type);
        return 0;
}
