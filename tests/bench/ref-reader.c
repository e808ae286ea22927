/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The benchmarks' yardstick: the least a recursive inotify watcher must do (walk, add_watch, epoll,
 * 256 KiB reads, posix_spawn per event), with nothing else, so the other tools are measured against it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_BUFFER_SIZE (256U * 1024U)
/* The same kernel mask inotaskd asks for with a rule On=IN_CLOSE_WRITE: the tree's needs plus the rule's. */
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
                    IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

extern char **environ;

static int ifd = -1;
static char **wd_path;          /* wd -> full path (wds are small, dense integers) */
static size_t wd_cap;
static uint64_t n_watches, n_events, n_counted, n_reads, n_spawned, n_reaped, n_spawn_failed;
static uint64_t last_ns;
static char **cmd;              /* argv template; "{}" is replaced by the event's path */
static int cmd_argc;

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000U + (uint64_t) ts.tv_nsec;
}

static void remember(int wd, const char *path) {
        if ((size_t) wd >= wd_cap) {
                size_t n = wd_cap ? wd_cap : 1024;

                while (n <= (size_t) wd)
                        n *= 2;
                wd_path = realloc(wd_path, n * sizeof(char *));
                if (!wd_path)
                        abort();
                memset(wd_path + wd_cap, 0, (n - wd_cap) * sizeof(char *));
                wd_cap = n;
        }
        if (!wd_path[wd])
                n_watches++;
        free(wd_path[wd]);
        wd_path[wd] = strdup(path);
}

static int add_watch(const char *path) {
        int wd = inotify_add_watch(ifd, path, WATCH_MASK);

        if (wd < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        fprintf(stderr, "ref-reader: inotify_add_watch %s: %m\n", path);
                return -errno;
        }
        remember(wd, path);
        return 0;
}

/* Walk 1: nftw, which lstat()s every entry. */
static int nftw_cb(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_D)
                (void) add_watch(path);
        return FTW_CONTINUE;
}

/* Walk 2: readdir's d_type and openat() relative to the parent, no stat at all on tmpfs/ext4/xfs. */
static void walk_at(int dfd, char *path, size_t len) {
        DIR *d = fdopendir(dfd);
        struct dirent *de;

        if (!d) {
                close(dfd);
                return;
        }
        while ((de = readdir(d))) {
                size_t n;
                int sub;

                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                        continue;
                n = strlen(de->d_name);
                if (len + 1 + n >= PATH_MAX)
                        continue;
                sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;       /* DT_UNKNOWN that is not a directory, or gone */
                path[len] = '/';
                memcpy(path + len + 1, de->d_name, n + 1);
                if (add_watch(path) >= 0)
                        walk_at(sub, path, len + 1 + n);
                else
                        close(sub);
                path[len] = 0;
        }
        closedir(d);
}

static bool use_nftw;

static void watch_tree(const char *root) {
        char path[PATH_MAX];
        int fd;

        if (use_nftw) {
                if (nftw(root, nftw_cb, 64, FTW_PHYS | FTW_ACTIONRETVAL) < 0)
                        fprintf(stderr, "ref-reader: nftw %s: %m\n", root);
                return;
        }
        if (strlen(root) >= sizeof(path))
                return;
        strcpy(path, root);
        if (add_watch(path) < 0)
                return;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                walk_at(fd, path, strlen(path));
}

static void notify_ready(bool notify) {
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (!notify || !e || strlen(e) >= sizeof(sa.sun_path)) {
                printf("READY %" PRIu64 "\n", n_watches);
                fflush(stdout);
                return;
        }
        strcpy(sa.sun_path, e);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *) &sa,
                             (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(e))) < 0)
                fprintf(stderr, "ref-reader: notify: %m\n");
        if (fd >= 0)
                close(fd);
}

static posix_spawnattr_t spawn_attr;

static char **spawn_argv;       /* cmd_argc + 1 entries, filled per spawn */

static void spawn(const char *path) {
        char **argv = spawn_argv;
        pid_t pid;
        int r;

        for (int i = 0; i < cmd_argc; i++)
                argv[i] = strcmp(cmd[i], "{}") == 0 ? (char *) path : cmd[i];
        argv[cmd_argc] = NULL;
        r = posix_spawn(&pid, argv[0], NULL, &spawn_attr, argv, environ);
        if (r != 0) {
                n_spawn_failed++;
                return;
        }
        n_spawned++;
}

static void reap(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                n_reaped++;
}

static void handle(const struct inotify_event *e, uint32_t count_mask) {
        const char *dir;
        char path[PATH_MAX];

        n_events++;
        if (e->mask & IN_Q_OVERFLOW) {
                fprintf(stderr, "ref-reader: queue overflow\n");
                return;
        }
        if ((size_t) e->wd >= wd_cap || !(dir = wd_path[e->wd]))
                return;
        if (e->mask & IN_IGNORED) {
                free(wd_path[e->wd]);
                wd_path[e->wd] = NULL;
                return;
        }
        if (e->len == 0)
                return;
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, e->name) >= sizeof(path))
                return;
        if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) {
                /* A new directory: watch it and what it already holds. */
                watch_tree(path);
                return;
        }
        if (!(e->mask & count_mask) || (e->mask & IN_ISDIR))
                return;
        n_counted++;
        last_ns = now_ns();
        if (cmd_argc > 0)
                spawn(path);
}

static uint32_t parse_mask(const char *s) {
        static const struct { const char *name; uint32_t mask; } names[] = {
                { "close_write", IN_CLOSE_WRITE }, { "create", IN_CREATE }, { "delete", IN_DELETE },
                { "moved_to", IN_MOVED_TO }, { "moved_from", IN_MOVED_FROM }, { "attrib", IN_ATTRIB },
        };
        uint32_t m = 0;
        char *copy = strdup(s), *save = NULL;

        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                bool found = false;

                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                        if (strcasecmp(w, names[i].name) == 0 ||
                            (strncasecmp(w, "IN_", 3) == 0 && strcasecmp(w + 3, names[i].name) == 0)) {
                                m |= names[i].mask;
                                found = true;
                        }
                if (!found) {
                        fprintf(stderr, "ref-reader: unknown event %s\n", w);
                        exit(64);
                }
        }
        free(copy);
        return m;
}

static void usage(void) {
        fprintf(stderr,
                "Usage: ref-reader [--walk=nftw|readdir] [--notify] [--events=close_write,...] [--exit-after=N]\n"
                "                  [--idle-exit=MS] [--exit-after-ready] DIR [-- COMMAND ARG... ({} = path)]\n"
                "Prints READY once every directory is watched (or sends READY=1 to $NOTIFY_SOCKET with\n"
                "--notify), and at exit: DONE counted=N events=N reads=N spawned=N reaped=N last_ns=T.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "walk", required_argument, NULL, 'w' },
                { "notify", no_argument, NULL, 'n' },
                { "events", required_argument, NULL, 'e' },
                { "exit-after", required_argument, NULL, 'x' },
                { "idle-exit", required_argument, NULL, 'i' },
                { "exit-after-ready", no_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        uint32_t count_mask = IN_CLOSE_WRITE;
        uint64_t exit_after = 0;
        int idle_ms = -1, c, ep, sfd = -1;
        bool notify = false, exit_after_ready = false, stop = false;
        struct epoll_event ev;
        sigset_t ss;
        char *buf;
        const char *root;
        uint64_t cpu_us;

        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0)
                switch (c) {
                case 'w':
                        if (strcmp(optarg, "nftw") == 0)
                                use_nftw = true;
                        else if (strcmp(optarg, "readdir") == 0)
                                use_nftw = false;
                        else {
                                usage();
                                return 64;
                        }
                        break;
                case 'n':
                        notify = true;
                        break;
                case 'e':
                        count_mask = parse_mask(optarg);
                        break;
                case 'x':
                        exit_after = strtoull(optarg, NULL, 10);
                        break;
                case 'i':
                        idle_ms = atoi(optarg);
                        break;
                case 'r':
                        exit_after_ready = true;
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 64;
                }
        if (optind >= argc) {
                usage();
                return 64;
        }
        root = argv[optind++];
        if (optind < argc && strcmp(argv[optind], "--") == 0)
                optind++;
        if (optind < argc) {
                cmd = argv + optind;
                cmd_argc = argc - optind;
                spawn_argv = calloc((size_t) cmd_argc + 1, sizeof(char *));
                if (!spawn_argv)
                        return 1;
        }

        /* SIGCHLD through a signalfd, so that reaping is one more epoll source. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return 1;
        {
                sigset_t none;

                /* Children start with nothing blocked. */
                sigemptyset(&none);
                posix_spawnattr_init(&spawn_attr);
                posix_spawnattr_setsigmask(&spawn_attr, &none);
                posix_spawnattr_setflags(&spawn_attr, POSIX_SPAWN_SETSIGMASK);
        }

        ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ifd < 0 || ep < 0) {
                perror("ref-reader: inotify/epoll");
                return 1;
        }
        watch_tree(root);
        notify_ready(notify);
        if (exit_after_ready) {
                printf("DONE counted=0 events=0 reads=0 spawned=0 reaped=0 last_ns=0 watches=%" PRIu64 " cpu_us=0\n",
                       n_watches);
                return 0;
        }

        ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = ifd };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, ifd, &ev) < 0)
                return 1;
        if (cmd_argc > 0) {
                sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
                ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = sfd };
                if (sfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
                        return 1;
        }
        buf = aligned_alloc(8, READ_BUFFER_SIZE);

        while (!(stop && n_reaped >= n_spawned)) {
                int n = epoll_wait(ep, &ev, 1, stop || n_counted == 0 ? -1 : idle_ms);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (n == 0)
                        break;          /* idle: whatever was lost stays lost */
                if (ev.data.fd == sfd) {
                        struct signalfd_siginfo si;

                        while (read(sfd, &si, sizeof(si)) > 0)
                                ;
                        reap();
                        continue;
                }
                if (stop) {
                        /* Only children are waited for now; the rest of the queue is not ours to count. */
                        (void) epoll_ctl(ep, EPOLL_CTL_DEL, ifd, NULL);
                        continue;
                }
                for (;;) {
                        ssize_t l = read(ifd, buf, READ_BUFFER_SIZE);

                        if (l <= 0)
                                break;
                        n_reads++;
                        for (char *p = buf; p < buf + l;) {
                                const struct inotify_event *e = (const struct inotify_event *) p;

                                handle(e, count_mask);
                                p += sizeof(struct inotify_event) + e->len;
                        }
                        if (exit_after > 0 && n_counted >= exit_after) {
                                stop = true;
                                break;
                        }
                }
                if (stop)
                        (void) epoll_ctl(ep, EPOLL_CTL_DEL, ifd, NULL);
        }
        while (n_reaped < n_spawned && waitpid(-1, NULL, 0) > 0)
                n_reaped++;
        {
                struct rusage ru;

                getrusage(RUSAGE_SELF, &ru);
                cpu_us = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000U +
                         (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        }
        printf("DONE counted=%" PRIu64 " events=%" PRIu64 " reads=%" PRIu64 " spawned=%" PRIu64 " reaped=%" PRIu64
               " last_ns=%" PRIu64 " watches=%" PRIu64 " cpu_us=%" PRIu64 "\n",
               n_counted, n_events, n_reads, n_spawned, n_reaped, last_ns, n_watches, cpu_us);
        return 0;
}
