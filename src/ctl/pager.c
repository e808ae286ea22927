/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pager: a child reading our stdout through a pipe, chosen and configured the way systemd's is. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-login.h>

#include "macro.h"

#include <glib.h>

#include "ansi.h"
#include "pager.h"

static pid_t pager_pid;

size_t terminal_width(void) {
        const char *e = getenv("COLUMNS");
        struct winsize ws = {};
        guint64 v;

        if (e && g_ascii_string_to_unsigned(e, 10, 1, 100000, &v, NULL))
                return v;
        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 0;
}

/* Without less or more: the pipe copied to the terminal as it is, so nothing is lost. */
_noreturn_ static void copy_through(void) {
        char buf[16 * 1024];
        ssize_t n;

        while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
                for (ssize_t done = 0; done < n;) {
                        ssize_t k = write(STDOUT_FILENO, buf + done, n - done);

                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                _exit(EXIT_FAILURE);
                        done += k;
                }
        _exit(n < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* Secure mode, as systemd's pager: under sudo (or any changed uid) a pager must not be a way to a root
 * shell. $SYSTEMD_PAGERSECURE decides if it is a boolean, and then $PAGER is trusted either way; otherwise
 * it is on unless we run as the owner of our login session, and only less (with LESSSECURE=1) or the
 * plain copy may page. */
static bool secure_mode(bool *ret_trust_pager) {
        const char *e = getenv("SYSTEMD_PAGERSECURE");
        uid_t owner;
        int b = e ? parse_boolean(e) : -EINVAL;

        *ret_trust_pager = b >= 0;
        if (b >= 0)
                return b;
        if (sd_pid_get_owner_uid(0, &owner) < 0)
                return true;
        return getuid() != owner || geteuid() != owner;
}

int pager_open(void) {
        const char *pager;
        bool secure, trust_pager;
        int fds[2];
        pid_t pid;

        if (pager_pid > 0)
                return 1;
        if (!isatty(STDOUT_FILENO))
                return 0;

        pager = getenv("SYSTEMD_PAGER");
        if (!pager)
                pager = getenv("PAGER");
        if (pager && (pager[strspn(pager, " \t")] == '\0' || streq(pager, "cat")))
                return 0;
        secure = secure_mode(&trust_pager);

        fflush(stdout);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;

        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                const char *less = getenv("SYSTEMD_LESS");

                /* The pager: our pipe on its stdin; it goes when we do. */
                if (dup2(fds[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                close(fds[0]);
                close(fds[1]);
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);

                (void) setenv("LESS", less ? less : "FRSXMK", 1);
                if (g_get_charset(NULL))
                        (void) setenv("LESSCHARSET", "utf-8", 0);
                if (secure)
                        (void) setenv("LESSSECURE", "1", 1);

                if (pager && (trust_pager || !secure)) {
                        execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
                        _exit(127);
                }
                if (!secure)
                        execlp("pager", "pager", (char *) NULL);
                execlp("less", "less", (char *) NULL);
                if (!secure)
                        execlp("more", "more", (char *) NULL);
                copy_through();
        }

        /* Ours: stdout into the pipe. */
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
                int r = -errno;
                close(fds[0]);
                close(fds[1]);
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        close(fds[0]);
        close(fds[1]);
        pager_pid = pid;
        return 1;
}

void pager_close(void) {
        if (pager_pid <= 0)
                return;

        /* EOF for the pager; then the user reads until they quit it. */
        fflush(stdout);
        (void) close(STDOUT_FILENO);
        (void) kill(pager_pid, SIGCONT);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
}
