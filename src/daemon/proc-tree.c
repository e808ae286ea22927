/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Processes as a tree, read from /proc: what a task left behind is found and ended with it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "proc-tree.h"

int proc_info(pid_t pid, ProcInfo *ret) {
        char path[64], buf[1024], *p;
        _cleanup_close_ int fd = -1;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        /* The name is in parentheses and may hold anything: the fields follow the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        *ret = (ProcInfo) { .pid = pid };
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
         * cstime priority nice num_threads itrealvalue starttime */
        if (sscanf(p + 1, " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                   &ret->state, &ret->ppid, &ret->pgid, &ret->sid, &ret->start_time) != 5)
                return -EIO;
        return 0;
}

/* Every process of /proc (those that vanish meanwhile are left out). */
static int proc_all(GArray *ret) {
        DIR *d = opendir("/proc");
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                ProcInfo pi;

                if (*end || pid <= 0 || proc_info((pid_t) pid, &pi) < 0)
                        continue;
                g_array_append_val(ret, pi);
        }
        closedir(d);
        return 0;
}

int proc_children(pid_t pid, GArray *ret) {
        g_autoptr(GArray) all = NULL;
        g_autofree char *text = NULL;
        char path[64];
        int r;

        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) pid, (int) pid);
        if (g_file_get_contents(path, &text, NULL, NULL)) {
                for (char *p = text, *end; *p; p = end) {
                        long c = strtol(p, &end, 10);

                        if (end == p)
                                break;
                        if (c > 0) {
                                pid_t v = (pid_t) c;

                                g_array_append_val(ret, v);
                        }
                }
                return 0;
        }
        /* No CONFIG_PROC_CHILDREN: every process, by its parent. */
        all = g_array_new(false, false, sizeof(ProcInfo));
        r = proc_all(all);
        if (r < 0)
                return r;
        for (guint i = 0; i < all->len; i++) {
                const ProcInfo *pi = &g_array_index(all, ProcInfo, i);

                if (pi->ppid == pid)
                        g_array_append_val(ret, pi->pid);
        }
        return 0;
}

static int pidfd_open_(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal_(int fd, int sig) {
        return (int) syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* sig to the process pi found, never to one that took its pid since. */
static bool signal_checked(const ProcInfo *pi, int sig) {
        _cleanup_close_ int fd = pidfd_open_(pi->pid);
        ProcInfo now;

        if (fd < 0) {
                /* Kernels before 5.3: by pid, just after the check. */
                if (errno != ENOSYS || proc_info(pi->pid, &now) < 0 || now.start_time != pi->start_time)
                        return false;
                return kill(pi->pid, sig) >= 0;
        }
        /* The pidfd holds the process: if it is still the one found, the signal goes to it. */
        if (proc_info(pi->pid, &now) < 0 || now.start_time != pi->start_time)
                return false;
        return pidfd_send_signal_(fd, sig) >= 0;
}

int proc_signal_tree(pid_t root, bool include_root, int sig) {
        g_autoptr(GArray) all = g_array_new(false, false, sizeof(ProcInfo));
        g_autoptr(GArray) tree = g_array_new(false, false, sizeof(pid_t));
        g_autoptr(GHashTable) in_tree = g_hash_table_new(g_direct_hash, g_direct_equal);
        int r, n = 0;

        r = proc_all(all);
        if (r < 0)
                return r;
        /* The walk's list grows as it goes: each process's children are appended after it. */
        g_array_append_val(tree, root);
        g_hash_table_add(in_tree, GINT_TO_POINTER(root));
        for (guint k = 0; k < tree->len; k++) {
                pid_t parent = g_array_index(tree, pid_t, k);

                for (guint i = 0; i < all->len; i++) {
                        const ProcInfo *pi = &g_array_index(all, ProcInfo, i);

                        if (pi->ppid != parent || g_hash_table_contains(in_tree, GINT_TO_POINTER(pi->pid)))
                                continue;
                        g_array_append_val(tree, pi->pid);
                        g_hash_table_add(in_tree, GINT_TO_POINTER(pi->pid));
                }
        }
        for (guint i = 0; i < all->len; i++) {
                const ProcInfo *pi = &g_array_index(all, ProcInfo, i);

                if (!g_hash_table_contains(in_tree, GINT_TO_POINTER(pi->pid)) || pi->state == 'Z' ||
                    (pi->pid == root && !include_root))
                        continue;
                if (signal_checked(pi, sig))
                        n++;
        }
        return n;
}
