/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The benchmarks' command: like /bin/true, but first appends "<CLOCK_MONOTONIC ns> <arg>" to a file, so
 * the harness knows when (and for which file) each command started. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        struct timespec ts;
        char line[4200];
        const char *arg;
        int fd, n;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (argc < 2) {
                fprintf(stderr, "Usage: stamp FILE [NAME]\n");
                return 64;
        }
        arg = argc > 2 ? argv[2] : "-";
        /* One write() on an O_APPEND file: lines of concurrent commands never interleave. */
        n = snprintf(line, sizeof(line), "%lld %s\n",
                     (long long) ts.tv_sec * 1000000000LL + (long long) ts.tv_nsec, arg);
        if (n < 0 || (size_t) n >= sizeof(line))
                return 1;
        fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, line, (size_t) n) != n)
                return 1;
        return 0;
}
