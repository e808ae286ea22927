/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The benchmarks' bus client (user bus, i.e. $DBUS_SESSION_BUS_ADDRESS): times ListTasks against a
 * trivial call in one process, hammers ListTasks in a loop, and reads or waits for counters. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define DEST "org.inotaskd1"
#define PATH "/org/inotaskd1"
#define IFACE "org.inotaskd1.Manager"

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000U + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned n) {
        qsort(v, n, sizeof(uint64_t), cmp_u64);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Returns the number of entries, or a negative errno. */
static volatile sig_atomic_t stop;

static int list_tasks(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r, n = 0;

        r = sd_bus_call_method(bus, DEST, PATH, IFACE, "ListTasks", &error, &reply, NULL);
        if (r < 0) {
                if (!stop)
                        fprintf(stderr, "bench-bus: ListTasks: %s\n", error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(tosssst)");
        while (r >= 0) {
                uint64_t id, due;
                const char *o, *rule, *path, *event, *state;

                r = sd_bus_message_read(reply, "(tosssst)", &id, &o, &rule, &path, &event, &state, &due);
                if (r <= 0)
                        break;
                n++;
        }
        sd_bus_message_unref(reply);
        return r < 0 ? r : n;
}

static int get_count(sd_bus *bus, const char *prop, uint64_t *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char type = (strcmp(prop, "NEvents") == 0 || strcmp(prop, "NOverflows") == 0 ||
                     strcmp(prop, "NTasksDone") == 0 || strcmp(prop, "NTasksFailed") == 0) ? 't' : 'u';
        int r;

        if (type == 't')
                r = sd_bus_get_property_trivial(bus, DEST, PATH, IFACE, prop, &error, 't', ret);
        else {
                uint32_t v;

                r = sd_bus_get_property_trivial(bus, DEST, PATH, IFACE, prop, &error, 'u', &v);
                *ret = v;
        }
        if (r < 0)
                fprintf(stderr, "bench-bus: %s: %s\n", prop, error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        return r;
}

static void on_signal(int sig) {
        stop = 1;
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int r;

        if (argc < 2) {
                fprintf(stderr, "Usage: bench-bus time N | loop | get PROP... | wait PROP MIN TIMEOUT_MS\n");
                return 64;
        }
        r = sd_bus_open_user(&bus);
        if (r < 0) {
                fprintf(stderr, "bench-bus: cannot connect to the user bus: %s\n", strerror(-r));
                return 1;
        }

        if (strcmp(argv[1], "time") == 0 && argc == 3) {
                unsigned n = (unsigned) atoi(argv[2]);
                uint64_t *trivial = calloc(n, sizeof(uint64_t)), *list = calloc(n, sizeof(uint64_t));
                int entries = 0;

                for (unsigned i = 0; i < n; i++) {
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        char *version = NULL;
                        uint64_t t0 = now_ns();

                        r = sd_bus_get_property_string(bus, DEST, PATH, IFACE, "Version", &error, &version);
                        trivial[i] = now_ns() - t0;
                        free(version);
                        sd_bus_error_free(&error);
                        if (r < 0)
                                return 1;
                        t0 = now_ns();
                        entries = list_tasks(bus);
                        list[i] = now_ns() - t0;
                        if (entries < 0)
                                return 1;
                }
                printf("trivial_us=%.1f list_us=%.1f entries=%d\n", median(trivial, n) / 1e3,
                       median(list, n) / 1e3, entries);
                return 0;
        }

        if (strcmp(argv[1], "loop") == 0) {
                uint64_t calls = 0, errors = 0, t0 = now_ns();
                int last = 0;

                signal(SIGTERM, on_signal);
                signal(SIGINT, on_signal);
                while (!stop) {
                        int n = list_tasks(bus);

                        if (n < 0 && !stop)
                                errors++;
                        else
                                last = n;
                        /* The harness starts the event storm once the client is really calling. */
                        if (calls++ == 0)
                                fprintf(stderr, "looping\n");
                }
                printf("calls=%" PRIu64 " errors=%" PRIu64 " last_entries=%d seconds=%.3f\n", calls, errors, last,
                       (now_ns() - t0) / 1e9);
                return 0;
        }

        if (strcmp(argv[1], "get") == 0) {
                for (int i = 2; i < argc; i++) {
                        uint64_t v;

                        if (get_count(bus, argv[i], &v) < 0)
                                return 1;
                        printf("%s=%" PRIu64 "\n", argv[i], v);
                }
                return 0;
        }

        if (strcmp(argv[1], "wait") == 0 && argc == 5) {
                uint64_t min = strtoull(argv[3], NULL, 10), v = 0;
                uint64_t deadline = now_ns() + strtoull(argv[4], NULL, 10) * 1000000ULL;

                for (;;) {
                        if (get_count(bus, argv[2], &v) < 0)
                                return 1;
                        if (v >= min || now_ns() >= deadline)
                                break;
                        usleep(20000);
                }
                printf("%s=%" PRIu64 "\n", argv[2], v);
                return v >= min ? 0 : 2;
        }
        fprintf(stderr, "bench-bus: unknown command %s\n", argv[1]);
        return 64;
}
