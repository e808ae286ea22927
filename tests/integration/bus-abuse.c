/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A hostile client of inotaskd for the bus-robustness test (user bus, $DBUS_SESSION_BUS_ADDRESS):
 *   bus-abuse flood SECONDS [N,N...]
 *                             every method, property and standard interface in a loop, up to 32 calls in
 *                             flight (pipelined, as a client that does not wait), until SECONDS pass;
 *                             prints "calls N replies N errors N"; exits 2 if the connection is lost;
 *                             without the calls numbered N of the cycle (to find what costs)
 *   bus-abuse long-path N BYTES RULE DIR
 *                             N RunRule(RULE, PATH) calls, PATH BYTES long: DIR, "/" and "a"s, one at a
 *                             time; prints the error name (or "ok") of each
 * Bounded in time and count; it stops by itself. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define DEST "org.inotaskd1"
#define PATH "/org/inotaskd1"
#define TASK "/org/inotaskd1/task/1"
#define IFACE "org.inotaskd1.Manager"
#define TASK_IFACE "org.inotaskd1.Task"
#define PROPS "org.freedesktop.DBus.Properties"
#define IN_FLIGHT_MAX 32

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

static unsigned in_flight;
static bool skip[24];                   /* flood: calls of the cycle left out, to find what costs */
static uint64_t n_calls, n_replies, n_errors;
static char *long_arg;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        in_flight--;
        if (sd_bus_message_is_method_error(m, NULL))
                n_errors++;
        else
                n_replies++;
        return 0;
}

/* Call number i of the cycle over everything the daemon serves. */
static int send_call(sd_bus *bus, unsigned i) {
        sd_bus_message *m = NULL;
        const char *path = PATH, *iface = IFACE, *member;
        int r;

        switch (i % 24) {
        case 0: member = "ListTasks"; break;
        case 1: member = "ListTasksPaged"; break;
        case 2: member = "GetTask"; break;
        case 3: member = "CancelTask"; break;
        case 4: member = "TriggerTask"; break;
        case 5: case 6: case 7: member = "RunRule"; break;
        case 8: member = "ListWatches"; break;
        case 9: member = "ListRules"; break;
        case 10: member = "Subscribe"; break;
        case 11: member = "Unsubscribe"; break;
        case 12: member = "Reload"; break;
        case 13: iface = PROPS; member = "GetAll"; break;
        case 14: iface = PROPS; member = "Get"; break;
        case 15: iface = "org.freedesktop.DBus.Introspectable"; member = "Introspect"; break;
        case 16: iface = "org.freedesktop.DBus.Introspectable"; member = "Introspect";
                 path = "/org/inotaskd1/task"; break;
        case 17: iface = "org.freedesktop.DBus.ObjectManager"; member = "GetManagedObjects"; break;
        case 18: iface = PROPS; member = "GetAll"; path = TASK; break;
        case 19: iface = TASK_IFACE; member = "Cancel"; path = TASK; break;
        case 20: iface = TASK_IFACE; member = "Trigger"; path = TASK; break;
        case 21: iface = "org.freedesktop.DBus.Peer"; member = "Ping"; break;
        case 22: iface = PROPS; member = "Set"; break;
        default: member = "NoSuchMethod"; break;
        }

        r = sd_bus_message_new_method_call(bus, &m, DEST, path, iface, member);
        if (r < 0)
                return r;
        switch (i % 24) {
        case 1: r = sd_bus_message_append(m, "tu", (uint64_t) (i % 7), (uint32_t) (i % 5)); break;
        case 2: case 3: case 4: r = sd_bus_message_append(m, "t", (uint64_t) (i % 11)); break;
        case 5: r = sd_bus_message_append(m, "ss", "r", "/tmp/../etc/passwd"); break;
        case 6: r = sd_bus_message_append(m, "ss", "r", long_arg); break;
        case 7: r = sd_bus_message_append(m, "ss", long_arg, "/x"); break;
        case 13: r = sd_bus_message_append(m, "s", IFACE); break;
        case 14: r = sd_bus_message_append(m, "ss", IFACE, "State"); break;
        case 18: r = sd_bus_message_append(m, "s", TASK_IFACE); break;
        case 22: r = sd_bus_message_append(m, "ssv", IFACE, "State", "s", "ready"); break;
        default: r = 0;
        }
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, m, on_reply, NULL, 30 * 1000000ULL);
        sd_bus_message_unref(m);
        if (r < 0)
                return r;
        in_flight++;
        n_calls++;
        return 0;
}

static int flood(sd_bus *bus, unsigned seconds) {
        uint64_t end = now_ms() + seconds * 1000ULL;
        unsigned i = 0;
        int r;

        long_arg = malloc(64 * 1024 + 1);
        if (!long_arg)
                return 1;
        memset(long_arg, 'a', 64 * 1024);
        long_arg[0] = '/';
        long_arg[64 * 1024] = 0;

        while (now_ms() < end) {
                while (in_flight < IN_FLIGHT_MAX) {
                        while (skip[i % 24])
                                i++;
                        r = send_call(bus, i++);
                        if (r < 0) {
                                fprintf(stderr, "bus-abuse: sending: %s\n", strerror(-r));
                                return 2;
                        }
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "bus-abuse: connection lost: %s\n", strerror(-r));
                        return 2;
                }
                if (r == 0) {
                        r = sd_bus_wait(bus, 100000);
                        if (r < 0) {
                                fprintf(stderr, "bus-abuse: waiting: %s\n", strerror(-r));
                                return 2;
                        }
                }
        }
        printf("calls %" PRIu64 " replies %" PRIu64 " errors %" PRIu64 "\n", n_calls, n_replies, n_errors);
        free(long_arg);
        return 0;
}

static int long_path(sd_bus *bus, unsigned n, size_t bytes, const char *rule, const char *dir) {
        size_t l = strlen(dir);
        char *path = malloc(bytes + 1);

        if (!path || bytes < l + 2)
                return 1;
        memset(path, 'a', bytes);
        memcpy(path, dir, l);
        path[l] = '/';
        path[bytes] = 0;
        for (unsigned i = 0; i < n; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int r;

                r = sd_bus_call_method(bus, DEST, PATH, IFACE, "RunRule", &error, &reply, "ss", rule, path);
                printf("%s\n", r >= 0 ? "ok" : error.name ? error.name : strerror(-r));
                sd_bus_error_free(&error);
                sd_bus_message_unref(reply);
        }
        free(path);
        return 0;
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int r, ret;

        if (argc < 3 || (strcmp(argv[1], "flood") != 0 && strcmp(argv[1], "long-path") != 0) ||
            (strcmp(argv[1], "long-path") == 0 && argc != 6)) {
                fprintf(stderr, "usage: bus-abuse flood SECONDS [N,N...] | long-path N BYTES RULE DIR\n");
                return 64;
        }
        r = sd_bus_open_user(&bus);
        if (r < 0) {
                fprintf(stderr, "bus-abuse: cannot connect: %s\n", strerror(-r));
                return 1;
        }
        if (strcmp(argv[1], "flood") == 0 && argc > 3)
                for (char *p = argv[3]; *p; p += strspn(p, ","))
                        skip[strtoul(p, &p, 10) % 24] = true;
        if (strcmp(argv[1], "flood") == 0)
                ret = flood(bus, (unsigned) strtoul(argv[2], NULL, 10));
        else
                ret = long_path(bus, (unsigned) strtoul(argv[2], NULL, 10), strtoull(argv[3], NULL, 10),
                                argv[4], argv[5]);
        sd_bus_flush_close_unref(bus);
        return ret;
}
