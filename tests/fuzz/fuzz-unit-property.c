/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes Property= parsing: check and append agree on every input, a refusal always comes with a
 * "Property=" message, and what append wrote always closes and seals into a valid a(sv). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"

#include <glib.h>
#include <systemd/sd-bus.h>

#include "unit-property.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One started peer connection for all inputs: enough to build messages (the other end is never read). */
static sd_bus *message_bus(void) {
        static sd_bus *bus;
        int fds[2];

        if (bus)
                return bus;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0)
                abort();
        return bus;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        g_autofree char *text = g_strndup((const char *) data, size), *e1 = NULL, *e2 = NULL;
        int r1, r2;

        r1 = unit_property_check(text, &e1);
        if (sd_bus_message_new_method_call(message_bus(), &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit") < 0 ||
            sd_bus_message_open_container(m, 'a', "(sv)") < 0)
                abort();
        r2 = unit_property_append(m, text, &e2);
        if (r1 != r2 || (r1 != 0 && r1 != -EINVAL))
                abort();
        if (r1 < 0) {
                if (!e1 || !e2 || !streq(e1, e2) || !g_str_has_prefix(e1, "Property="))
                        abort();
                return 0;
        }
        if (e1 || e2)
                abort();
        if (sd_bus_message_close_container(m) < 0 || sd_bus_message_seal(m, 1, 0) < 0)
                abort();
        return 0;
}
