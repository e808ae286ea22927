/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for unit-property: the systemd-run -p syntax, the (sv) entries it sends (read back from a
 * sealed message), the refused names, and the check against a service manager: a fake one on a peer
 * connection (its introspection data made by sd-bus itself) and the real system manager where one runs. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"

#include <glib.h>
#include <systemd/sd-bus.h>

#include "unit-property.h"

/* A started peer connection on one end of a socket pair: enough to build and seal messages. */
static sd_bus *peer_bus(int fd, bool server) {
        sd_bus *bus = NULL;
        sd_id128_t id;

        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, fd, fd), >=, 0);
        if (server) {
                g_assert_cmpint(sd_id128_randomize(&id), >=, 0);
                g_assert_cmpint(sd_bus_set_server(bus, 1, id), >=, 0);
        }
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        return bus;
}

/* "NAME sig value; ...": the entries the assignment appends, read back. */
static char *entries(const char *assignment) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *error = NULL;
        _cleanup_close_ int other = -1;
        int fds[2];

        /* The other end stays open (unread): the start writes the authentication to it. */
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        other = fds[1];
        bus = peer_bus(fds[0], false);
        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                       "org.freedesktop.systemd1.Manager", "StartTransientUnit"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "(sv)"), >=, 0);
        g_assert_cmpint(unit_property_append(m, assignment, &error), ==, 0);
        g_assert_null(error);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);

        g_assert_cmpint(sd_bus_message_enter_container(m, 'a', "(sv)"), >, 0);
        while (sd_bus_message_enter_container(m, 'r', "sv") > 0) {
                const char *name, *sig, *s;
                uint64_t t;
                uint32_t u;
                int32_t i;
                int b;

                g_assert_cmpint(sd_bus_message_read(m, "s", &name), >, 0);
                g_assert_cmpint(sd_bus_message_peek_type(m, NULL, &sig), >, 0);
                if (out->len > 0)
                        g_string_append(out, "; ");
                g_string_append_printf(out, "%s %s ", name, sig);
                g_assert_cmpint(sd_bus_message_enter_container(m, 'v', sig), >, 0);
                if (streq(sig, "b")) {
                        g_assert_cmpint(sd_bus_message_read(m, "b", &b), >, 0);
                        g_string_append(out, b ? "true" : "false");
                } else if (streq(sig, "s")) {
                        g_assert_cmpint(sd_bus_message_read(m, "s", &s), >, 0);
                        g_string_append_printf(out, "\"%s\"", s);
                } else if (streq(sig, "t")) {
                        g_assert_cmpint(sd_bus_message_read(m, "t", &t), >, 0);
                        g_string_append_printf(out, "%" G_GUINT64_FORMAT, t);
                } else if (streq(sig, "u")) {
                        g_assert_cmpint(sd_bus_message_read(m, "u", &u), >, 0);
                        g_string_append_printf(out, "%" G_GUINT32_FORMAT, u);
                } else if (streq(sig, "i")) {
                        g_assert_cmpint(sd_bus_message_read(m, "i", &i), >, 0);
                        g_string_append_printf(out, "%" G_GINT32_FORMAT, i);
                } else if (streq(sig, "as") || streq(sig, "(bas)")) {
                        char **l = NULL;

                        if (sig[0] == '(') {
                                g_assert_cmpint(sd_bus_message_enter_container(m, 'r', "bas"), >, 0);
                                g_assert_cmpint(sd_bus_message_read(m, "b", &b), >, 0);
                                g_string_append(out, b ? "allow " : "deny ");
                        }
                        g_assert_cmpint(sd_bus_message_read_strv(m, &l), >, 0);
                        for (char **w = l; w && *w; w++)
                                g_string_append_printf(out, "%s[%s]", w == l ? "" : ",", *w);
                        g_strfreev(l);
                        if (sig[0] == '(')
                                g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
                } else
                        g_assert_not_reached();
                g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
                g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
        }
        return g_string_free(g_steal_pointer(&out), false);
}

static void assert_entries(const char *assignment, const char *want) {
        g_autofree char *got = entries(assignment);

        g_test_message("%s -> %s", assignment, got);
        g_assert_cmpstr(got, ==, want);
        g_assert_cmpint(unit_property_check(assignment, NULL), ==, 0);
}

static void test_types(void) {
        assert_entries("PrivateNetwork=yes", "PrivateNetwork b true");
        assert_entries("DynamicUser=off", "DynamicUser b false");
        assert_entries("NoNewPrivileges=1", "NoNewPrivileges b true");
        assert_entries("ProtectSystem=strict", "ProtectSystem s \"strict\"");
        assert_entries("ProtectSystem=true", "ProtectSystem s \"yes\"");
        assert_entries("ProtectHome=read-only", "ProtectHome s \"read-only\"");
        assert_entries("MemoryMax=512M", "MemoryMax t 536870912");
        assert_entries("MemoryMax=1.5G", "MemoryMax t 1610612736");
        assert_entries("MemoryHigh=infinity", "MemoryHigh t 18446744073709551615");
        assert_entries("MemoryMax=4096", "MemoryMax t 4096");
        assert_entries("MemoryMax=50%", "MemoryMaxScale u 2147483648");
        assert_entries("MemoryHigh=100%", "MemoryHighScale u 4294967295");
        assert_entries("TasksMax=12", "TasksMax t 12");
        assert_entries("TasksMax=infinity", "TasksMax t 18446744073709551615");
        assert_entries("TasksMax=10%", "TasksMaxScale u 429496730");
        assert_entries("CPUQuota=150%", "CPUQuotaPerSecUSec t 1500000");
        assert_entries("CPUQuota=2.5%", "CPUQuotaPerSecUSec t 25000");
        assert_entries("CPUQuota=", "CPUQuotaPerSecUSec t 18446744073709551615");
        assert_entries("IOWeight=100", "IOWeight t 100");
        assert_entries("CPUWeight=idle", "CPUWeight t 0");
        assert_entries("CPUWeight=", "CPUWeight t 18446744073709551615");
        assert_entries("Nice=-5", "Nice i -5");
        assert_entries("OOMScoreAdjust=500", "OOMScoreAdjust i 500");
        assert_entries("TimeoutStopSec=1min 30s", "TimeoutStopUSec t 90000000");
        assert_entries("RestartSec=500ms", "RestartUSec t 500000");
        assert_entries("TimeoutStartSec=infinity", "TimeoutStartUSec t 18446744073709551615");
        assert_entries("LimitNOFILE=4096", "LimitNOFILE t 4096; LimitNOFILESoft t 4096");
        assert_entries("LimitNOFILE=1024:4096", "LimitNOFILE t 4096; LimitNOFILESoft t 1024");
        assert_entries("LimitCORE=infinity", "LimitCORE t 18446744073709551615; LimitCORESoft t 18446744073709551615");
        assert_entries("LimitFSIZE=1K", "LimitFSIZE t 1024; LimitFSIZESoft t 1024");
        assert_entries("LimitCPU=1min", "LimitCPU t 60; LimitCPUSoft t 60");
        assert_entries("ReadWritePaths=/srv/a -/srv/b +/srv/c", "ReadWritePaths as [/srv/a],[-/srv/b],[+/srv/c]");
        assert_entries("ReadWritePaths=", "ReadWritePaths as ");
        assert_entries("Environment=\"A=1 2\" B=3", "Environment as [A=1 2],[B=3]");
        assert_entries("StateDirectory=inotaskd/x", "StateDirectory as [inotaskd/x]");
        assert_entries("SupplementaryGroups=adm users", "SupplementaryGroups as [adm],[users]");
        assert_entries("RestrictAddressFamilies=AF_INET AF_INET6",
                       "RestrictAddressFamilies (bas) allow [AF_INET],[AF_INET6]");
        assert_entries("RestrictAddressFamilies=~AF_PACKET", "RestrictAddressFamilies (bas) deny [AF_PACKET]");
        assert_entries("SystemCallFilter=@system-service", "SystemCallFilter (bas) allow [@system-service]");
        assert_entries("KillSignal=SIGINT", "KillSignal i 2");
        assert_entries("KillSignal=HUP", "KillSignal i 1");
        assert_entries("KillSignal=9", "KillSignal i 9");
        assert_entries("KillMode=mixed", "KillMode s \"mixed\"");
        assert_entries("UMask=0027", "UMask u 23");
        assert_entries("StandardOutput=null", "StandardOutput s \"null\"");
        assert_entries("StandardOutput=append:/var/log/x", "StandardOutputFileToAppend s \"/var/log/x\"");
        assert_entries("StandardError=file:/tmp/e", "StandardErrorFile s \"/tmp/e\"");
        assert_entries("SyslogIdentifier=mirror", "SyslogIdentifier s \"mirror\"");
        /* Names outside the table: the type follows the name and the value. */
        assert_entries("JobTimeoutSec=5", "JobTimeoutUSec t 5000000");
        assert_entries("SomeNewTimeoutSec=2s", "SomeNewTimeoutUSec t 2000000");
        assert_entries("ProtectFoo=yes", "ProtectFoo b true");
        assert_entries("ManagedOOMMemoryPressureLimit=50", "ManagedOOMMemoryPressureLimit t 50");
        assert_entries("ManagedOOMPreference=avoid", "ManagedOOMPreference s \"avoid\"");
}

static void assert_error(const char *assignment, const char *want) {
        g_autofree char *error = NULL;

        g_assert_cmpint(unit_property_check(assignment, &error), ==, -EINVAL);
        g_test_message("%s -> %s", assignment, error);
        g_assert_cmpstr(error, ==, want);
}

static void test_errors(void) {
        assert_error("MemoryMax", "Property=MemoryMax: expected NAME=VALUE");
        assert_error("=5", "Property=: expected NAME=VALUE");
        assert_error("memoryMax=5", "Property=memoryMax: not a property name");
        assert_error("Memory-Max=5", "Property=Memory-Max: not a property name");
        assert_error("MemoryMax=12Q", "Property=MemoryMax: not a size (bytes with K, M, G, T, P, E, or N%) or "
                     "\"infinity\": \"12Q\"");
        assert_error("MemoryMax=", "Property=MemoryMax: not a size (bytes with K, M, G, T, P, E, or N%) or "
                     "\"infinity\": \"\"");
        assert_error("MemoryMax=101%", "Property=MemoryMax: not a percentage in 0%..100%: \"101%\"");
        assert_error("MemoryMax=99999999999999999999", "Property=MemoryMax: not a size (bytes with K, M, G, T, P, "
                     "E, or N%) or \"infinity\": \"99999999999999999999\"");
        assert_error("TasksMax=1K", "Property=TasksMax: not a number, N% or \"infinity\": \"1K\"");
        assert_error("CPUQuota=0%", "Property=CPUQuota: not a percentage above 0%: \"0%\"");
        assert_error("CPUQuota=50", "Property=CPUQuota: not a percentage above 0%: \"50\"");
        assert_error("IOWeight=0", "Property=IOWeight: not a weight in 1..10000: \"0\"");
        assert_error("IOWeight=idle", "Property=IOWeight: not a weight in 1..10000: \"idle\"");
        assert_error("CPUWeight=10001", "Property=CPUWeight: not a weight in 1..10000 or \"idle\": \"10001\"");
        assert_error("Nice=20", "Property=Nice: not an integer in -20..19: \"20\"");
        assert_error("Nice=high", "Property=Nice: not an integer in -20..19: \"high\"");
        assert_error("PrivateNetwork=maybe", "Property=PrivateNetwork: not a boolean: \"maybe\"");
        assert_error("ProtectSystem=half", "Property=ProtectSystem: \"half\" is not one of: yes no true false on "
                     "off 1 0 y n t f full strict");
        assert_error("TimeoutStopSec=soon", "Property=TimeoutStopSec: not a time span: \"soon\"");
        assert_error("LimitNOFILE=10:5", "Property=LimitNOFILE: soft limit above the hard limit");
        assert_error("LimitNOFILE=1:2:3", "Property=LimitNOFILE: expected VALUE or SOFT:HARD, got \"1:2:3\"");
        assert_error("ReadWritePaths=/ok relative", "Property=ReadWritePaths: not an absolute path: \"relative\"");
        assert_error("ReadWritePaths=\"/unterminated", "Property=ReadWritePaths: unterminated quote");
        assert_error("StateDirectory=../up", "Property=StateDirectory: not a relative directory name: \"../up\"");
        assert_error("Environment=1A=b", "Property=Environment: not a NAME=VALUE assignment: \"1A=b\"");
        assert_error("Environment=NOVALUE", "Property=Environment: not a NAME=VALUE assignment: \"NOVALUE\"");
        assert_error("RestrictAddressFamilies=INET", "Property=RestrictAddressFamilies: not an address family: "
                     "\"INET\"");
        assert_error("KillSignal=SIGNOPE", "Property=KillSignal: not a signal: \"SIGNOPE\"");
        assert_error("UMask=0999", "Property=UMask: not an octal mode: \"0999\"");
        assert_error("StandardOutput=file:rel", "Property=StandardOutput: not an absolute path: \"rel\"");
        assert_error("Description\xff=x", "Property=: not valid UTF-8");      /* found by fuzz-unit-property */
        assert_error("SyslogIdentifier=a\xc3", "Property=: not valid UTF-8");
        assert_error("SomethingSec=forever", "Property=SomethingSec: not a time span: \"forever\"");
        /* What the daemon sets itself: the message names the key to use. */
        assert_error("ExecStart=/bin/true", "Property=ExecStart: set by inotaskd from the rule's Exec=");
        assert_error("ExecStopPost=/bin/true", "Property=ExecStopPost: not supported for tasks (the command is "
                     "the rule's Exec=)");
        assert_error("Type=oneshot", "Property=Type: set by inotaskd (Type=exec)");
        assert_error("Slice=x.slice", "Property=Slice: use the rule's Slice=");
        assert_error("User=root", "Property=User: use the rule's User=");
        assert_error("Group=root", "Property=Group: use the rule's Group=");
        assert_error("WorkingDirectory=/", "Property=WorkingDirectory: use the rule's WorkingDirectory=");
        assert_error("RuntimeMaxSec=5", "Property=RuntimeMaxSec: use the rule's TimeoutSec=");
        assert_error("StandardInput=null", "Property=StandardInput: use the rule's StandardInput=");
        assert_error("LogExtraFields=A=b", "Property=LogExtraFields: set by inotaskd (INOTASKD_TASK_ID, "
                     "INOTASKD_RULE, ...)");
        /* NULL ret_error is allowed; append refuses a NULL message. */
        g_assert_cmpint(unit_property_check("Nice=99", NULL), ==, -EINVAL);
        g_assert_cmpint(unit_property_append(NULL, "Nice=1", NULL), ==, -EINVAL);
}

/* ------------------------------------------------------------------ a fake manager */

static int get_none(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) reply, (void) userdata;
        return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "fake");
}

#define P(name, sig) SD_BUS_PROPERTY(name, sig, get_none, 0, SD_BUS_VTABLE_PROPERTY_CONST)
static const sd_bus_vtable unit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        P("Description", "s"),
        P("JobTimeoutUSec", "t"),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        P("MemoryMax", "t"),
        P("CPUQuotaPerSecUSec", "t"),
        P("PrivateNetwork", "b"),
        P("Nice", "i"),
        P("Environment", "as"),
        P("RestrictAddressFamilies", "(bas)"),
        P("LimitNOFILE", "t"),
        P("LimitNOFILESoft", "t"),
        P("TimeoutStopUSec", "t"),
        P("ManagedOOMMemoryPressureLimit", "u"),
        SD_BUS_VTABLE_END,
};

static int list_units(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata, (void) error;
        return sd_bus_reply_method_return(m, "a(ssssssouso)", 1, "fake.service", "", "loaded", "active",
                                          "running", "", "/org/freedesktop/systemd1/unit/fake_2eservice",
                                          (uint32_t) 0, "", "/");
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("ListUnitsByPatterns", "asas", "a(ssssssouso)", list_units, 0),
        SD_BUS_VTABLE_END,
};

typedef struct Fake {
        int fd;
        atomic_bool stop;
} Fake;

static void *fake_manager(void *data) {
        Fake *f = data;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = peer_bus(f->fd, true);
        const char *unit = "/org/freedesktop/systemd1/unit/fake_2eservice";

        g_assert_cmpint(sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1",
                                                 "org.freedesktop.systemd1.Manager", manager_vtable, NULL), >=, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(bus, NULL, unit, "org.freedesktop.systemd1.Unit", unit_vtable,
                                                 NULL), >=, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(bus, NULL, unit, "org.freedesktop.systemd1.Service",
                                                 service_vtable, NULL), >=, 0);
        while (!atomic_load(&f->stop)) {
                int r = sd_bus_process(bus, NULL);

                if (r < 0)      /* the client hung up */
                        break;
                if (r == 0)
                        (void) sd_bus_wait(bus, 100 * 1000);
        }
        return NULL;
}

static void test_manager_fake(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        char *const ok[] = { "MemoryMax=1G", "MemoryMax=10%", "CPUQuota=50%", "PrivateNetwork=yes", "Nice=3",
                             "Environment=A=1", "RestrictAddressFamilies=AF_INET", "LimitNOFILE=100",
                             "TimeoutStopSec=3", "JobTimeoutSec=1", NULL };
        char *const bad[] = { "MemoryMax=1G", "Bogus=1", "ProtectSystem=strict", "CPUQuota=5%",
                              "ManagedOOMMemoryPressureLimit=50", "Nice=99", NULL };
        Fake f = { .stop = false };
        pthread_t thread;
        int fds[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        f.fd = fds[1];
        g_assert_cmpint(pthread_create(&thread, NULL, fake_manager, &f), ==, 0);
        bus = peer_bus(fds[0], false);

        g_assert_cmpint(unit_property_check_manager(bus, ok, errors), ==, 0);
        g_assert_cmpuint(errors->len, ==, 0);
        g_assert_cmpint(unit_property_check_manager(bus, NULL, errors), ==, 0);

        g_assert_cmpint(unit_property_check_manager(bus, bad, errors), ==, 4);
        g_assert_cmpuint(errors->len, ==, 4);
        for (guint i = 0; i < errors->len; i++)
                g_test_message("%s", (char *) errors->pdata[i]);
        g_assert_cmpstr(errors->pdata[0], ==, "Property=Bogus: unknown to the service manager");
        g_assert_cmpstr(errors->pdata[1], ==, "Property=ProtectSystem: unknown to the service manager");
        g_assert_cmpstr(errors->pdata[2], ==, "Property=ManagedOOMMemoryPressureLimit: the service manager "
                        "expects type 'u' for ManagedOOMMemoryPressureLimit, not 't'");
        g_assert_cmpstr(errors->pdata[3], ==, "Property=Nice: not an integer in -20..19: \"99\"");

        atomic_store(&f.stop, true);
        bus = sd_bus_flush_close_unref(bus);
        g_assert_cmpint(pthread_join(thread, NULL), ==, 0);
}

static void test_manager_unreachable(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        char *const some[] = { "MemoryMax=1G", NULL };
        int fds[2];

        /* The other end goes away: an error, nothing reported. */
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        bus = peer_bus(fds[0], false);
        (void) close(fds[1]);
        g_assert_cmpint(unit_property_check_manager(bus, some, errors), <, 0);
        g_assert_cmpuint(errors->len, ==, 0);
        g_assert_cmpint(unit_property_check_manager(NULL, some, errors), ==, -EINVAL);
}

/* The real manager, where this runs under one: every property of the table that a service of systemd
 * 252 has must be known with the type sent. */
static void test_manager_real(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        char *const ok[] = { "MemoryMax=1G", "MemoryHigh=50%", "TasksMax=10%", "CPUQuota=50%", "IOWeight=10",
                             "CPUWeight=100", "Nice=3", "PrivateNetwork=yes", "ProtectSystem=strict",
                             "DynamicUser=yes", "NoNewPrivileges=yes", "ReadWritePaths=/srv",
                             "Environment=A=1", "RestrictAddressFamilies=AF_INET", "LimitNOFILE=100",
                             "TimeoutStopSec=3", "KillSignal=INT", "UMask=0022", "StandardOutput=journal",
                             "ProtectHome=yes", "PrivateTmp=yes", "SystemCallFilter=@system-service",
                             "JobTimeoutSec=1", NULL };
        char *const bad[] = { "NoSuchProperty=1", NULL };
        int r;

        if (sd_bus_open_system(&bus) < 0 ||
            sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, NULL) < 0) {
                g_test_skip("no system manager reachable on the system bus (checked against a fake one above)");
                return;
        }
        r = unit_property_check_manager(bus, ok, errors);
        for (guint i = 0; i < errors->len; i++)
                g_test_message("%s", (char *) errors->pdata[i]);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(unit_property_check_manager(bus, bad, errors), ==, 1);
        g_assert_cmpstr(errors->pdata[0], ==, "Property=NoSuchProperty: unknown to the service manager");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/unit-property/types", test_types);
        g_test_add_func("/unit-property/errors", test_errors);
        g_test_add_func("/unit-property/manager-fake", test_manager_fake);
        g_test_add_func("/unit-property/manager-unreachable", test_manager_unreachable);
        g_test_add_func("/unit-property/manager-real", test_manager_real);
        return g_test_run();
}
