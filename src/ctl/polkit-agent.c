/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A polkit agent on our terminal for the verbs that change something, as systemctl does: pkttyagent,
 * started before the call and stopped at exit, so that polkit can ask for a password. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

#include <glib.h>

#include "ctl.h"

#define POLKIT_AGENT_BINARY "/usr/bin/pkttyagent"

/* How long to wait for the agent to register before calling anyway. */
#define AGENT_READY_TIMEOUT_MSEC (10 * 1000)

/* A password prompt may take a while: the daemon waits up to 5 min for polkit, so do we. */
#define INTERACTIVE_CALL_TIMEOUT_USEC (UINT64_C(5) * 60 * 1000 * 1000)

static _noreturn_ void exec_agent(int notify_fd) {
        char fd_arg[16];

        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Our stdout may be a pipe (--json | jq): the agent talks to the terminal only. */
        if (!isatty(STDOUT_FILENO)) {
                int tty = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);

                if (tty < 0 || dup2(tty, STDOUT_FILENO) < 0)
                        _exit(EXIT_FAILURE);
        }
        /* The notify pipe is the one fd the agent keeps. */
        if (fcntl(notify_fd, F_SETFD, 0) < 0)
                _exit(EXIT_FAILURE);
        (void) snprintf(fd_arg, sizeof(fd_arg), "%d", notify_fd);
        execl(POLKIT_AGENT_BINARY, POLKIT_AGENT_BINARY, "--notify-fd", fd_arg, "--fallback", (char *) NULL);
        _exit(EXIT_FAILURE);
}

void ctl_polkit_agent_open(Ctl *c) {
        struct pollfd p;
        int fds[2];
        pid_t pid;

        /* polkit is on the local system bus; root needs no password; nobody to ask without a terminal. */
        if (!c->ask_password || c->agent_pid > 0 || c->user || c->host || geteuid() == 0 ||
            !isatty(STDIN_FILENO) || access(POLKIT_AGENT_BINARY, X_OK) < 0)
                return;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return;
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                safe_close(fds[0]);
                safe_close(fds[1]);
                return;
        }
        if (pid == 0) {
                safe_close(fds[0]);
                exec_agent(fds[1]);
        }
        safe_close(fds[1]);
        c->agent_pid = pid;

        /* It writes to or closes the pipe once it is registered with polkit, or exits if it cannot. */
        p = (struct pollfd) { .fd = fds[0], .events = POLLIN };
        while (poll(&p, 1, AGENT_READY_TIMEOUT_MSEC) < 0 && errno == EINTR)
                ;
        safe_close(fds[0]);

        (void) sd_bus_set_method_call_timeout(c->bus, INTERACTIVE_CALL_TIMEOUT_USEC);
}

void ctl_polkit_agent_close(Ctl *c) {
        if (c->agent_pid <= 0)
                return;
        (void) kill(c->agent_pid, SIGTERM);
        (void) kill(c->agent_pid, SIGCONT);
        while (waitpid(c->agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        c->agent_pid = 0;
}
