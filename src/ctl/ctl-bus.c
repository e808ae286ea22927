/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inotaskctl's side of the bus: connecting (local or over SSH) and turning errors into one line. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "macro.h"

#include <glib.h>
#include <glib/gi18n.h>

#include "ctl.h"


const char *ctl_bus_name(const Ctl *c) {
        return c->user ? _("user") : _("system");
}

/* D-Bus address escaping: anything but [-0-9A-Za-z_/.] becomes %XX. */
static char *bus_address_escape(const char *s) {
        GString *out = g_string_new(NULL);

        for (const char *p = s; *p != '\0'; p++)
                if (g_ascii_isalnum(*p) || strchr("-_/.", *p))
                        g_string_append_c(out, *p);
                else
                        g_string_append_printf(out, "%%%02x", (unsigned char) *p);
        return g_string_free(out, false);
}

/* The user bus of a remote host: like sd_bus_open_system_remote(), ssh runs systemd-stdio-bridge on the
 * other side, here with --user (systemd >= 248 there). HOST is [USER@]HOST[:PORT]; an IPv6 address goes
 * in brackets. */
static int open_user_remote(sd_bus **ret, const char *host) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        g_autofree char *h = NULL, *port = NULL, *eh = NULL, *ep = NULL, *address = NULL;
        const char *at, *colon, *rbracket;
        int r;

        at = strrchr(host, '@');
        rbracket = strchr(at ? at : host, ']');
        colon = strrchr(rbracket ? rbracket : (at ? at : host), ':');
        if (colon && colon[1] != '\0' && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
                h = g_strndup(host, colon - host);
                port = g_strdup(colon + 1);
        } else if (colon)
                return -EINVAL;
        else
                h = g_strdup(host);

        /* ssh wants "user@::1", not "user@[::1]". */
        if (strchr(h, '[')) {
                g_autoptr(GString) s = g_string_new(NULL);
                for (const char *p = h; *p; p++)
                        if (*p != '[' && *p != ']')
                                g_string_append_c(s, *p);
                g_free(h);
                h = g_strdup(s->str);
        }
        if (isempty(h) || h[strlen(h) - 1] == '@')
                return -EINVAL;

        eh = bus_address_escape(h);
        if (port) {
                ep = bus_address_escape(port);
                address = g_strdup_printf("unixexec:path=ssh,argv1=-xT,argv2=-p,argv3=%s,argv4=--,argv5=%s,"
                                          "argv6=systemd-stdio-bridge,argv7=--user", ep, eh);
        } else
                address = g_strdup_printf("unixexec:path=ssh,argv1=-xT,argv2=--,argv3=%s,"
                                          "argv4=systemd-stdio-bridge,argv5=--user", eh);

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(bus);
        return 0;
}

int ctl_connect(Ctl *c) {
        int r;

        if (c->host && c->user)
                r = open_user_remote(&c->bus, c->host);
        else if (c->host)
                r = sd_bus_open_system_remote(&c->bus, c->host);
        else if (c->user)
                r = sd_bus_open_user(&c->bus);
        else
                r = sd_bus_open_system(&c->bus);
        if (r < 0) {
                if (c->host)
                        log_error(_("cannot connect to the %s bus on %s: %s"),
                                  ctl_bus_name(c), c->host, g_strerror(-r));
                else
                        log_error(_("cannot connect to the %s bus: %s"), ctl_bus_name(c), g_strerror(-r));
                return r == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_NOT_RUNNING;
        }
        return 0;
}

int ctl_call(Ctl *c, bool auto_start, const char *path, const char *interface, const char *member,
             sd_bus_error *error, sd_bus_message **reply, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, BUS_NAME, path, interface, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_auto_start(m, auto_start);
        if (r < 0)
                return r;

        if (types) {
                va_list ap;

                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }

        return sd_bus_call(c->bus, m, 0, error, reply);
}

static bool error_is_not_running(const sd_bus_error *e) {
        return sd_bus_error_has_names(e,
                                      SD_BUS_ERROR_SERVICE_UNKNOWN,
                                      SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                      "org.freedesktop.systemd1.NoSuchUnit",
                                      "org.freedesktop.systemd1.UnitMasked") ||
               g_str_has_prefix(e->name, "org.freedesktop.DBus.Error.Spawn.");
}

int ctl_report_error(const Ctl *c, const sd_bus_error *e, int r, uint64_t task_id, const char *what) {
        /* sd_bus_call() turns local failures into "System.Error.E…" errors: those are ours, not the
         * daemon's. */
        if (!sd_bus_error_is_set(e) || g_str_has_prefix(e->name, "System.Error.")) {
                if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ECONNREFUSED) {
                        if (c->host)
                                log_error(_("no connection to the %s bus on %s (ssh failed, or no "
                                            "systemd-stdio-bridge there?)"), ctl_bus_name(c), c->host);
                        else
                                log_error(_("lost the connection to the %s bus"), ctl_bus_name(c));
                        return CTL_EXIT_NOT_RUNNING;
                }
                log_error(_("%s failed: %s"), what, g_strerror(-r));
                return CTL_EXIT_FAILURE;
        }

        if (error_is_not_running(e)) {
                log_error(_("inotaskd is not running (no %s on the %s bus)."), BUS_NAME,
                          ctl_bus_name(c));
                return CTL_EXIT_NOT_RUNNING;
        }

        if (sd_bus_error_has_names(e, SD_BUS_ERROR_ACCESS_DENIED, SD_BUS_ERROR_AUTH_FAILED,
                                   SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)) {
                log_error(_("permission denied: %s"), isempty(e->message) ? what : e->message);
                return CTL_EXIT_PERMISSION;
        }

        if (sd_bus_error_has_name(e, BUS_ERROR_NO_SUCH_TASK) ||
            (task_id != UINT64_MAX && sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT))) {
                if (task_id != UINT64_MAX)
                        log_error(_("no task %" PRIu64), task_id);
                else
                        log_error("%s", strempty(e->message));
                return CTL_EXIT_FAILURE;
        }

        if (sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT)) {
                log_error(_("%s failed: inotaskd did not answer in time"), what);
                return CTL_EXIT_FAILURE;
        }

        if (sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_METHOD, SD_BUS_ERROR_UNKNOWN_INTERFACE,
                                   SD_BUS_ERROR_UNKNOWN_PROPERTY)) {
                log_error(_("%s failed: this inotaskd does not support it (a different version?)"), what);
                return CTL_EXIT_FAILURE;
        }

        log_error("%s: %s", what, isempty(e->message) ? e->name : e->message);
        return CTL_EXIT_FAILURE;
}
