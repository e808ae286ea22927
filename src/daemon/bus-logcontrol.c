/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.freedesktop.LogControl1 at /org/freedesktop/LogControl1: "systemctl service-log-level inotaskd debug"
 * and "service-log-target" (through the unit's BusName=) change the daemon's log level and target. */
#include <string.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "manager.h"

#define LOG_CONTROL_PATH "/org/freedesktop/LogControl1"
#define LOG_CONTROL_INTERFACE "org.freedesktop.LogControl1"

static int log_level_from_name(const char *s) {
        for (int i = LOG_EMERG; i <= LOG_DEBUG; i++)
                if (streq(s, config_log_level_to_string(i)))
                        return i;
        return -EINVAL;
}

static int property_get_level(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", config_log_level_to_string(log_get_max_level()));
}

static int property_set_level(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *value, void *userdata, sd_bus_error *error) {
        const char *s;
        int r, level;

        r = sd_bus_message_read(value, "s", &s);
        if (r < 0)
                return r;
        level = log_level_from_name(s);
        if (level < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid log level \"%s\".", s);

        /* Until the daemon ends: a reload does not put LogLevel= of the files back (as -v). */
        manager_set_log_level_override(bus_get_manager(userdata), level);
        log_info("Log level set to %s through %s.", s, LOG_CONTROL_INTERFACE);
        return 0;
}

static int property_get_target(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_target_to_string(log_get_target()));
}

static int property_set_target(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *value, void *userdata, sd_bus_error *error) {
        const char *s;
        int r, t;

        r = sd_bus_message_read(value, "s", &s);
        if (r < 0)
                return r;
        t = log_target_from_string(s);
        if (t < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid log target \"%s\" (auto, console, console-prefixed, journal, "
                                         "kmsg or null).", s);
        r = log_setup(t);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to open /dev/kmsg, logging to the console: %m");
        log_info("Log target set to %s through %s.", s, LOG_CONTROL_INTERFACE);
        return 0;
}

static int property_get_identifier(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", "inotaskd");
}

/* Writable by anyone as far as sd-bus is concerned (its own check would ask the bus driver synchronously);
 * on_log_control() authorizes a Set before it reaches the setters. EmitsChangedSignal is "false", as the
 * specification has it. */
static const sd_bus_vtable log_control_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_WRITABLE_PROPERTY("LogLevel", "s", property_get_level, property_set_level, 0,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_WRITABLE_PROPERTY("LogTarget", "s", property_get_target, property_set_target, 0,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("SyslogIdentifier", "s", property_get_identifier, 0, 0),
        SD_BUS_VTABLE_END
};

/* Runs before the vtable on every call to the path: a Properties.Set of our interface goes on (return 0)
 * only once the caller is authorized like Reload (root, our uid, AdminGroup=, else polkit's
 * org.inotaskd1.reload, asked asynchronously: the message comes back with the answer). */
static int on_log_control(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *interface;
        int r;

        if (!sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "Set"))
                return 0;
        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(m, true);
        if (r < 0)
                return r;
        if (!streq(interface, LOG_CONTROL_INTERFACE))
                return 0;

        r = bus_check_admin(m, userdata, POLKIT_ACTION_RELOAD, error);
        if (r < 0)
                return r;
        return r == 0 ? 1 : 0;     /* 0: pending, this handler sees the message again */
}

int bus_log_control_add(sd_bus *bus, Bus *b) {
        int r;

        r = sd_bus_add_object(bus, NULL, LOG_CONTROL_PATH, on_log_control, b);
        if (r < 0)
                return r;
        return sd_bus_add_object_vtable(bus, NULL, LOG_CONTROL_PATH, LOG_CONTROL_INTERFACE, log_control_vtable, b);
}
