/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for proc-tree: /proc/PID/stat read right (a name with spaces and parentheses), a
 * process's children, and a signal reaching a whole subtree, a part in a session of its own too. */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "proc-tree.h"

static void test_info_self(void) {
        ProcInfo pi;

        /* A name that tries to look like the end of the field. */
        g_assert_cmpint(prctl(PR_SET_NAME, "a) b (c", 0, 0, 0), ==, 0);
        g_assert_cmpint(proc_info(getpid(), &pi), ==, 0);
        g_assert_cmpint(pi.pid, ==, getpid());
        g_assert_cmpint(pi.ppid, ==, getppid());
        g_assert_cmpint(pi.pgid, ==, getpgid(0));
        g_assert_cmpint(pi.sid, ==, getsid(0));
        g_assert_cmpint(pi.state, ==, 'R');
        g_assert_cmpuint(pi.start_time, >, 0);
        g_assert_cmpint(proc_info(-1, &pi), <, 0);
}

/* Waits (with a deadline) until pid is a zombie or gone. */
static bool wait_dead(pid_t pid) {
        for (int i = 0; i < 1000; i++) {
                ProcInfo pi;

                if (proc_info(pid, &pi) < 0 || pi.state == 'Z')
                        return true;
                g_usleep(10 * 1000);
        }
        return false;
}

/* A child (its own session) with a grandchild in yet another session and a great-grandchild; each
 * pauses. The grandchild's pid comes back through the pipe. */
static pid_t make_tree(pid_t *ret_grandchild, pid_t *ret_great) {
        int fds[2];
        pid_t pid, pids[2];

        g_assert_cmpint(pipe(fds), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                pid_t g;

                (void) setsid();
                g = fork();
                if (g == 0) {
                        pid_t gg;

                        (void) setsid();
                        gg = fork();
                        if (gg == 0) {
                                for (;;)
                                        pause();
                        }
                        pids[0] = getpid();
                        pids[1] = gg;
                        (void) !write(fds[1], pids, sizeof pids);
                        for (;;)
                                pause();
                }
                for (;;)
                        pause();
        }
        (void) close(fds[1]);
        g_assert_cmpint(read(fds[0], pids, sizeof pids), ==, (ssize_t) sizeof pids);
        (void) close(fds[0]);
        *ret_grandchild = pids[0];
        *ret_great = pids[1];
        return pid;
}

static void test_children_and_signal_tree(void) {
        g_autoptr(GArray) kids = g_array_new(false, false, sizeof(pid_t));
        pid_t child, grand, great;
        ProcInfo pi;
        bool found = false;

        child = make_tree(&grand, &great);
        g_assert_cmpint(proc_children(getpid(), kids), ==, 0);
        for (guint i = 0; i < kids->len; i++)
                found = found || g_array_index(kids, pid_t, i) == child;
        g_assert_true(found);
        g_array_set_size(kids, 0);
        g_assert_cmpint(proc_children(child, kids), ==, 0);
        g_assert_cmpuint(kids->len, ==, 1);
        g_assert_cmpint(g_array_index(kids, pid_t, 0), ==, grand);
        g_assert_cmpint(proc_info(grand, &pi), ==, 0);
        g_assert_cmpint(pi.sid, ==, grand);     /* a session of its own: a process group kill misses it */

        /* Below the child only: the child stays. */
        g_assert_cmpint(proc_signal_tree(child, false, SIGKILL), ==, 2);
        g_assert_true(wait_dead(great));
        g_assert_true(wait_dead(grand));
        g_assert_cmpint(proc_info(child, &pi), ==, 0);
        g_assert_cmpint(pi.state, !=, 'Z');

        /* With the root. */
        g_assert_cmpint(proc_signal_tree(child, true, SIGKILL), ==, 1);
        g_assert_cmpint(waitpid(child, NULL, 0), ==, child);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/proc-tree/info-self", test_info_self);
        g_test_add_func("/proc-tree/children-and-signal-tree", test_children_and_signal_tree);
        return g_test_run();
}
