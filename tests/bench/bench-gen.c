/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The benchmarks' load generator: builds trees and makes file events at full speed, recording
 * CLOCK_MONOTONIC times the harness compares with what the watchers report. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000U + (uint64_t) ts.tv_nsec;
}

static const char payload[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static int write_file(const char *path, int flags, size_t size) {
        int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);

        if (fd < 0) {
                fprintf(stderr, "bench-gen: %s: %m\n", path);
                return -1;
        }
        if (size > 0 && write(fd, payload, size < sizeof(payload) - 1 ? size : sizeof(payload) - 1) < 0) {
                close(fd);
                return -1;
        }
        return close(fd);
}

/* A complete FANOUT-ary tree of NDIRS directories below ROOT (d<i>), each with NFILES empty files. */
static int mktree(const char *root, unsigned ndirs, unsigned nfiles, unsigned fanout) {
        char **paths = calloc(ndirs + 1, sizeof(char *));
        char p[4096];

        if (!paths)
                return 1;
        paths[0] = strdup(root);
        (void) mkdir(root, 0755);
        for (unsigned i = 1; i <= ndirs; i++) {
                unsigned parent = (i - 1) / fanout;

                snprintf(p, sizeof(p), "%s/d%u", paths[parent], i);
                paths[i] = strdup(p);
                if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                        fprintf(stderr, "bench-gen: mkdir %s: %m\n", p);
                        return 1;
                }
        }
        for (unsigned i = 0; i <= ndirs; i++) {
                for (unsigned f = 0; f < nfiles; f++) {
                        snprintf(p, sizeof(p), "%s/f%u", paths[i], f);
                        if (write_file(p, O_CREAT | O_TRUNC, 0) < 0)
                                return 1;
                }
                free(paths[i]);
        }
        free(paths);
        return 0;
}

/* N new files, spread over SUBDIRS existing subdirectories s<k> (or DIR itself), as fast as possible. */
static int create(const char *dir, unsigned n, unsigned subdirs, size_t size, const char *prefix) {
        char p[4096];
        uint64_t start = now_ns(), end;

        for (unsigned i = 0; i < n; i++) {
                if (subdirs > 0)
                        snprintf(p, sizeof(p), "%s/s%u/%s%u", dir, i % subdirs, prefix, i);
                else
                        snprintf(p, sizeof(p), "%s/%s%u", dir, prefix, i);
                if (write_file(p, O_CREAT | O_TRUNC, size) < 0)
                        return 1;
        }
        end = now_ns();
        printf("START %llu\nEND %llu\n", (unsigned long long) start, (unsigned long long) end);
        return 0;
}

/* NEVENTS IN_CLOSE_WRITE events cycling over NPATHS files p<k> (created first, before START). */
static int storm(const char *dir, unsigned npaths, unsigned long nevents) {
        char **paths = calloc(npaths, sizeof(char *));
        char p[4096];
        uint64_t start, end;

        if (!paths)
                return 1;
        for (unsigned i = 0; i < npaths; i++) {
                snprintf(p, sizeof(p), "%s/p%u", dir, i);
                paths[i] = strdup(p);
        }
        start = now_ns();
        for (unsigned long i = 0; i < nevents; i++) {
                int fd = open(paths[i % npaths], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

                if (fd < 0 || close(fd) < 0) {
                        fprintf(stderr, "bench-gen: %s: %m\n", paths[i % npaths]);
                        return 1;
                }
        }
        end = now_ns();
        printf("START %llu\nEND %llu\n", (unsigned long long) start, (unsigned long long) end);
        return 0;
}

/* N files l<i>, one every INTERVAL_US; prints "<name> <ns before open>" for each. */
static int latency(const char *dir, unsigned n, unsigned interval_us) {
        char p[4096];
        uint64_t *t = calloc(n, sizeof(uint64_t));
        struct timespec gap = { .tv_sec = interval_us / 1000000, .tv_nsec = (long) (interval_us % 1000000) * 1000 };

        if (!t)
                return 1;
        for (unsigned i = 0; i < n; i++) {
                snprintf(p, sizeof(p), "%s/l%u", dir, i);
                t[i] = now_ns();
                if (write_file(p, O_CREAT | O_TRUNC, 16) < 0)
                        return 1;
                nanosleep(&gap, NULL);
        }
        for (unsigned i = 0; i < n; i++)
                printf("%s/l%u %llu\n", dir, i, (unsigned long long) t[i]);
        return 0;
}

static void usage(void) {
        fprintf(stderr, "Usage: bench-gen mktree ROOT NDIRS NFILES [FANOUT]\n"
                        "       bench-gen create DIR N [SUBDIRS [SIZE [PREFIX]]]\n"
                        "       bench-gen storm DIR NPATHS NEVENTS\n"
                        "       bench-gen latency DIR N INTERVAL_US\n"
                        "       bench-gen now\n");
}

int main(int argc, char *argv[]) {
        if (argc >= 2 && strcmp(argv[1], "now") == 0) {
                printf("%llu\n", (unsigned long long) now_ns());
                return 0;
        }
        if (argc >= 5 && strcmp(argv[1], "mktree") == 0)
                return mktree(argv[2], (unsigned) atoi(argv[3]), (unsigned) atoi(argv[4]),
                              argc > 5 ? (unsigned) atoi(argv[5]) : 40);
        if (argc >= 4 && strcmp(argv[1], "create") == 0)
                return create(argv[2], (unsigned) atoi(argv[3]), argc > 4 ? (unsigned) atoi(argv[4]) : 0,
                              argc > 5 ? (size_t) atoi(argv[5]) : 16, argc > 6 ? argv[6] : "f");
        if (argc == 5 && strcmp(argv[1], "storm") == 0)
                return storm(argv[2], (unsigned) atoi(argv[3]), strtoul(argv[4], NULL, 10));
        if (argc == 5 && strcmp(argv[1], "latency") == 0)
                return latency(argv[2], (unsigned) atoi(argv[3]), (unsigned) atoi(argv[4]));
        usage();
        return 64;
}
