/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Spawning tasks: argv from the template, values as arguments and INOTASKD_* environment, never as
 * shell text; output to the log tagged with the task; exit status, signal and timeout recorded. */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "batch.h"
#include "escape.h"
#include "log.h"
#include "message-ids.h"
#include "proc-tree.h"
#include "runner-exec.h"
#include "task-command.h"
#include "template.h"

/* After SIGTERM on TimeoutSec= or a stop, how long a task has before SIGKILL. */
#define KILL_GRACE_USEC (5 * USEC_PER_SEC)
#define OUTPUT_LINE_MAX 4096

/* Output is read at most this much per loop iteration (one pipe buffer), so that a task writing without
 * pause never keeps the loop from its events, timers and watchdog. */
#define OUTPUT_SLICE (64 * 1024)

/* Each task logs at most this much output per interval; the rest is counted and dropped, and a line
 * says how much once the interval is over or the task ends. */
#define OUTPUT_RATE_INTERVAL_USEC (10 * USEC_PER_SEC)
#define OUTPUT_RATE_BURST_LINES 1000
#define OUTPUT_RATE_BURST_BYTES (512 * 1024)

/* A User= task's PATH is that user's standard one (as login(1) sets it), never the daemon's. */
#define USER_PATH "/usr/local/bin:/usr/bin:/bin"
#define ROOT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

/* One stack for every vfork-like child: we are suspended until it is done with it. */
#define SPAWN_STACK_SIZE (64 * 1024)

struct ExecRunner {
        Runner runner;
        RunnerContext ctx;
        /* The daemon's own user, looked up once: tasks without User= run as it. */
        char *self_user, *self_home, *self_shell;
        /* For spawning, set up at the first spawn: /dev/null for stdin, the signals the daemon ignores
         * (a child must not inherit SIG_IGN), and whether a handler anywhere forces posix_spawn(). */
        bool spawn_ready, spawn_posix;
        int null_fd;
        int n_ignored, ignored[64];
        uint8_t *spawn_stack;
        /* Children are reaped from one SIGCHLD source, found by pid: no pidfd, epoll entry and close
         * per child. */
        sd_event_source *sigchld;
        GHashTable *children;           /* pid -> Run* */
        /* The daemon is the child subreaper: what a task leaves behind becomes our child when the task
         * ends, and is ended after it. */
        GHashTable *orphans;            /* pid -> Leftover* */
};

/* The processes one task left behind (our children now, and their own), ended with SIGTERM and after
 * the grace with SIGKILL; gone when the last of them has been reaped. */
typedef struct Leftover {
        ExecRunner *ctx;
        uint64_t task_id;               /* 0: not known */
        char *rule;
        char *who;                      /* "task N (rule)", for messages */
        unsigned n;                     /* its entries in ctx->orphans */
        bool killing;                   /* past the grace: SIGKILL, also for what is found later */
        sd_event_source *timer;
} Leftover;

typedef struct Run {
        ExecRunner *ctx;
        Task *task;
        sd_event_source *timer;
        sd_event_source *output;
        int output_fd;
        GString *line;
        bool timed_out;
        bool term_sent;
        /* The output rate limit: what this interval logged, and what it dropped. */
        usec_t rate_begin;
        size_t rate_lines, rate_bytes;
        uint64_t dropped_lines, dropped_bytes;
        bool dropping;
        /* Batch=yes: a list beyond the argument limit runs as several processes, one after the other
         * (argvs, each for the paths up to its end in ends); the task's result is the first failure's. */
        GPtrArray *argvs;               /* char** per run */
        GArray *ends;                   /* size_t per run */
        size_t next_run;                /* index of the run after the current one */
        char **envp;
        struct Credentials *cred;
        TaskState state;                /* so far: TASK_DONE, or the first failed run's */
        const char *result;
        int status;
        /* StandardInput=: the current run's stdin, written from the loop as the pipe takes it. */
        int stdin_fd;
        sd_event_source *stdin_src;
        char *stdin_buf;
        size_t stdin_len, stdin_off;
} Run;

static void credentials_free(struct Credentials *c);

static void run_free(Run *r) {
        if (!r)
                return;
        /* Its entry in ctx->children, by the task's pid. */
        if (r->task->pid > 0)
                g_hash_table_remove(r->ctx->children, GINT_TO_POINTER(r->task->pid));
        r->timer = sd_event_source_disable_unref(r->timer);
        r->output = sd_event_source_disable_unref(r->output);
        r->output_fd = safe_close(r->output_fd);
        if (r->line)
                g_string_free(r->line, true);
        r->stdin_src = sd_event_source_disable_unref(r->stdin_src);
        r->stdin_fd = safe_close(r->stdin_fd);
        g_free(r->stdin_buf);
        if (r->argvs)
                g_ptr_array_unref(r->argvs);
        if (r->ends)
                g_array_unref(r->ends);
        g_strfreev(r->envp);
        credentials_free(r->cred);
        g_free(r);
}

/* ------------------------------------------------------------------ output */

static void log_dropped(Run *r) {
        char lines[32], bytes[32];
        LogField f[2];

        if (r->dropped_bytes == 0 && r->dropped_lines == 0)
                return;
        snprintf(lines, sizeof lines, "%" PRIu64, r->dropped_lines);
        snprintf(bytes, sizeof bytes, "%" PRIu64, r->dropped_bytes);
        f[0] = LOG_FIELD("INOTASKD_DROPPED_LINES", lines);
        f[1] = LOG_FIELD("INOTASKD_DROPPED_BYTES", bytes);
        task_log(LOG_WARNING, MESSAGE_ID_TASK_OUTPUT_DROPPED, r->task, f, 2,
                 "Task %" PRIu64 " (%s): %" PRIu64 " bytes of output (%" PRIu64 " lines) dropped by the "
                 "rate limit.", r->task->id, r->task->rule->name, r->dropped_bytes, r->dropped_lines);
        r->dropped_lines = r->dropped_bytes = 0;
}

/* Whether the rate limit drops output now; a new interval logs what the last one dropped. */
static bool output_dropping(Run *r) {
        usec_t now;

        if (!r->dropping && r->rate_lines < OUTPUT_RATE_BURST_LINES &&
            r->rate_bytes < OUTPUT_RATE_BURST_BYTES)
                return false;
        now = now_usec(CLOCK_MONOTONIC);
        if (now - r->rate_begin < OUTPUT_RATE_INTERVAL_USEC) {
                if (!r->dropping)
                        task_log(LOG_WARNING, NULL, r->task, NULL, 0,
                                 "Task %" PRIu64 " (%s): more than %d lines or %d KiB of output in %ds, "
                                 "dropping output for now.", r->task->id, r->task->rule->name,
                                 OUTPUT_RATE_BURST_LINES, OUTPUT_RATE_BURST_BYTES / 1024,
                                 (int) (OUTPUT_RATE_INTERVAL_USEC / USEC_PER_SEC));
                r->dropping = true;
                return true;
        }
        log_dropped(r);
        r->dropping = false;
        r->rate_begin = now;
        r->rate_lines = r->rate_bytes = 0;
        return false;
}

/* One line of output, len bytes at s, and its newline if nl. */
static void log_line(Run *r, const char *s, size_t len, bool nl) {
        LogField f = { .name = "INOTASKD_OUTPUT", .value = s, .len = len };
        g_autofree char *shown = NULL;

        if (r->rate_lines == 0 && r->rate_bytes == 0)
                r->rate_begin = now_usec(CLOCK_MONOTONIC);
        if (output_dropping(r)) {
                r->dropped_lines++;
                r->dropped_bytes += len + nl;
                return;
        }
        r->rate_lines++;
        r->rate_bytes += len + nl;
        shown = escape_display(s, len);
        task_log(LOG_INFO, NULL, r->task, &f, 1, "Task %" PRIu64 " (%s): %s", r->task->id,
                 r->task->rule->name, shown);
}

/* Logs the complete lines in r->line (and, with all, the rest), pieces of OUTPUT_LINE_MAX of a longer
 * one; what is left waits for its end. One erase at the end: a slice of many short lines stays linear. */
static void flush_lines(Run *r, bool all) {
        const char *p = r->line->str, *end = p + r->line->len, *nl;

        while (p < end) {
                size_t n;

                nl = memchr(p, '\n', (size_t) (end - p));
                if (nl)
                        n = (size_t) (nl - p);
                else if ((size_t) (end - p) >= OUTPUT_LINE_MAX)
                        n = OUTPUT_LINE_MAX;
                else if (all)
                        n = (size_t) (end - p);
                else
                        break;
                log_line(r, p, MIN(n, (size_t) OUTPUT_LINE_MAX), nl && n <= OUTPUT_LINE_MAX);
                p += MIN(n, (size_t) OUTPUT_LINE_MAX) + (nl && n <= OUTPUT_LINE_MAX);
        }
        g_string_erase(r->line, 0, (gssize) (p - r->line->str));
}

/* Takes n bytes of output: while the rate limit drops, only counted. */
static void add_output(Run *r, const char *buf, size_t n) {
        if (r->dropping && output_dropping(r)) {
                const char *p = buf, *end = buf + n, *nl;

                r->dropped_bytes += n + r->line->len;
                g_string_truncate(r->line, 0);
                while ((nl = memchr(p, '\n', (size_t) (end - p)))) {
                        r->dropped_lines++;
                        p = nl + 1;
                }
                return;
        }
        g_string_append_len(r->line, buf, (gssize) n);
        flush_lines(r, false);
}

/* Reads one slice of what is there: 1 if it read some, 0 if nothing is there now, -1 at end of file or
 * on an error. */
static int read_output(Run *r) {
        char buf[OUTPUT_SLICE];
        ssize_t n = read(r->output_fd, buf, sizeof buf);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
                return -1;
        add_output(r, buf, (size_t) n);
        return 1;
}

static void close_output(Run *r) {
        flush_lines(r, true);
        log_dropped(r);
        r->output = sd_event_source_disable_unref(r->output);
        r->output_fd = safe_close(r->output_fd);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Run *r = userdata;

        if (read_output(r) < 0)
                close_output(r);
        return 0;
}

/* ------------------------------------------------------------------ what tasks leave behind */

static void leftover_free(Leftover *l) {
        if (!l)
                return;
        l->timer = sd_event_source_disable_unref(l->timer);
        g_free(l->rule);
        g_free(l->who);
        g_free(l);
}

/* sig to pid and everything below it; SIGCONT after SIGTERM, so that a stopped process sees it. */
static void signal_tree(pid_t pid, bool include_root, int sig) {
        (void) proc_signal_tree(pid, include_root, sig);
        if (sig == SIGTERM)
                (void) proc_signal_tree(pid, include_root, SIGCONT);
}

static int on_leftover_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Leftover *l = userdata;
        GHashTableIter i;
        gpointer k, v;

        log_warning("%u processes left behind by %s did not stop, killing them.", l->n, l->who);
        l->killing = true;
        g_hash_table_iter_init(&i, l->ctx->orphans);
        while (g_hash_table_iter_next(&i, &k, &v))
                if (v == l)
                        signal_tree((pid_t) GPOINTER_TO_INT(k), true, SIGKILL);
        return 0;
}

/* Whether our child pid is not what an ended task left behind: a child of the daemon's own (a
 * library's), in the daemon's session, which no task's process can rejoin; or one of a task still
 * running, in its main process's session or process group (only posix_spawn()'d tasks, whose main
 * process is no subreaper, let an orphan reach us while they run). */
static bool not_left_behind(ExecRunner *ctx, const ProcInfo *pi) {
        return pi->sid == getsid(0) || g_hash_table_contains(ctx->children, GINT_TO_POINTER(pi->sid)) ||
               g_hash_table_contains(ctx->children, GINT_TO_POINTER(pi->pgid));
}

/* Our children that are no task's main process and not known yet: left behind by the task that just
 * ended (task_id, rule), or by the one l stands for. Each is sent SIGTERM (SIGKILL once l is past its
 * grace) with everything below it. */
static Leftover *adopt_orphans(ExecRunner *ctx, Leftover *l, uint64_t task_id, const char *rule) {
        g_autoptr(GArray) kids = g_array_new(false, false, sizeof(pid_t));
        unsigned found = 0;

        if (!ctx->orphans || proc_children(getpid(), kids) < 0)
                return l;
        for (guint i = 0; i < kids->len; i++) {
                pid_t pid = g_array_index(kids, pid_t, i);
                ProcInfo pi;

                if (g_hash_table_contains(ctx->children, GINT_TO_POINTER(pid)) ||
                    g_hash_table_contains(ctx->orphans, GINT_TO_POINTER(pid)) || proc_info(pid, &pi) < 0 ||
                    not_left_behind(ctx, &pi))
                        continue;
                if (!l) {
                        l = g_new0(Leftover, 1);
                        l->ctx = ctx;
                        l->task_id = task_id;
                        l->rule = g_strdup(rule);
                        l->who = task_id > 0 ? g_strdup_printf("task %" PRIu64 " (%s)", task_id, rule)
                                             : g_strdup("an ended task");
                }
                g_hash_table_insert(ctx->orphans, GINT_TO_POINTER(pid), l);
                l->n++;
                /* A zombie is only to be reaped; below it, what lives is reparented to us in turn. */
                if (pi.state == 'Z')
                        continue;
                found++;
                signal_tree(pid, true, l->killing ? SIGKILL : SIGTERM);
        }
        if (found == 0 || l->timer)
                return l;
        log_info("%c%s left %u processes behind, terminating them.", g_ascii_toupper(l->who[0]), l->who + 1,
                 found);
        if (sd_event_add_time_relative(ctx->ctx.event, &l->timer, CLOCK_MONOTONIC, KILL_GRACE_USEC,
                                       USEC_PER_MSEC, on_leftover_timeout, l) < 0)
                (void) on_leftover_timeout(NULL, 0, l);
        return l;
}

/* A left-behind process has been reaped: what it left in turn is the same task's. */
static void orphan_reaped(ExecRunner *ctx, pid_t pid) {
        Leftover *l = g_hash_table_lookup(ctx->orphans, GINT_TO_POINTER(pid));

        if (!l)
                return;
        g_hash_table_remove(ctx->orphans, GINT_TO_POINTER(pid));
        (void) adopt_orphans(ctx, l, l->task_id, l->rule);
        if (--l->n == 0) {
                log_debug("What %s left behind is gone.", l->who);
                leftover_free(l);
        }
}

/* ------------------------------------------------------------------ exit and timeout */

static int run_next(Run *r);

static void child_exited(Run *r, const siginfo_t *si) {
        ExecRunner *ctx = r->ctx;
        Task *t = r->task;
        Scheduler *sched = ctx->ctx.scheduler;
        TaskState state;
        const char *result;
        int status = si->si_status;

        /* Whatever the child wrote before it exited is in the pipe now, a pipe buffer or a few (one it
         * enlarged); a grandchild that holds it open and goes on writing is not listened to, the task
         * is over. */
        if (r->output_fd >= 0) {
                for (int i = 0; i < 16 && read_output(r) > 0; i++)
                        ;
                close_output(r);
        }

        if (r->timed_out) {
                state = TASK_TIMEOUT;
                result = "timeout";
        } else if (t->cancel_requested) {
                state = TASK_CANCELLED;
                result = "cancelled";
        } else if (si->si_code == CLD_EXITED) {
                state = status == 0 ? TASK_DONE : TASK_FAILED;
                result = status == 0 ? "success" : "exit-code";
        } else {
                state = TASK_FAILED;
                result = "signal";
        }

        r->stdin_src = sd_event_source_disable_unref(r->stdin_src);
        r->stdin_fd = safe_close(r->stdin_fd);
        if (r->argvs && !r->timed_out && !t->cancel_requested) {
                if (state != TASK_DONE && r->state == TASK_DONE) {
                        r->state = state;
                        r->result = result;
                        r->status = status;
                }
                if (r->next_run < r->argvs->len && run_next(r) >= 0)
                        return;
                state = r->state;
                result = r->result;
                status = r->status;
        }

        run_free(r);
        t->runner_data = NULL;
        /* Its children are ours now, reparented when it exited: they end with it. */
        (void) adopt_orphans(ctx, NULL, t->id, t->rule->name);
        scheduler_task_finished(sched, t, state, result, status);
}

/* Our children that have exited, one by one: tasks' main processes, and what tasks left behind (an
 * unknown zombie may be one found only now). A zombie that is not ours (a library's) stays for its
 * owner: then each of ours is asked by pid instead. */
static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *ssi, void *userdata) {
        ExecRunner *ctx = userdata;

        for (;;) {
                siginfo_t si = {};
                Run *r;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid <= 0)
                        return 0;
                r = g_hash_table_lookup(ctx->children, GINT_TO_POINTER(si.si_pid));
                if (!r && !g_hash_table_contains(ctx->orphans, GINT_TO_POINTER(si.si_pid)))
                        (void) adopt_orphans(ctx, NULL, 0, NULL);
                if (!r && !g_hash_table_contains(ctx->orphans, GINT_TO_POINTER(si.si_pid)))
                        break;
                if (waitid(P_PID, (id_t) si.si_pid, &si, WEXITED) < 0)
                        return 0;
                if (r)
                        child_exited(r, &si);
                else
                        orphan_reaped(ctx, si.si_pid);
        }

        g_autofree gpointer *orphans = (gpointer *) g_hash_table_get_keys_as_array(ctx->orphans, NULL);
        for (gpointer *p = orphans; *p; p++) {
                siginfo_t si = {};

                if (waitid(P_PID, (id_t) GPOINTER_TO_INT(*p), &si, WEXITED | WNOHANG) >= 0 && si.si_pid > 0)
                        orphan_reaped(ctx, si.si_pid);
        }

        g_autofree gpointer *pids = (gpointer *) g_hash_table_get_keys_as_array(ctx->children, NULL);
        for (gpointer *p = pids; *p; p++) {
                siginfo_t si = {};
                Run *r;

                if (waitid(P_PID, (id_t) GPOINTER_TO_INT(*p), &si, WEXITED | WNOHANG) < 0 || si.si_pid <= 0)
                        continue;
                r = g_hash_table_lookup(ctx->children, *p);
                if (r)
                        child_exited(r, &si);
        }
        return 0;
}

/* sig to a running task: whatever below its main process left its process group (a setsid'd child),
 * then the group. In this order: once the main process is gone, its children are no longer below it. */
static void signal_task(Task *t, int sig) {
        signal_tree(t->pid, false, sig);
        (void) kill(-t->pid, sig);
        if (sig == SIGTERM)
                (void) kill(-t->pid, SIGCONT);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Run *r = userdata;

        if (!r->term_sent) {
                task_log(LOG_WARNING, NULL, r->task, NULL, 0, "Task %" PRIu64 " (%s) timed out, terminating.",
                         r->task->id, r->task->rule->name);
                r->timed_out = r->term_sent = true;
                signal_task(r->task, SIGTERM);
                (void) sd_event_source_set_time_relative(s, KILL_GRACE_USEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else {
                task_log(LOG_WARNING, NULL, r->task, NULL, 0, "Task %" PRIu64 " (%s) did not stop, killing.",
                         r->task->id, r->task->rule->name);
                signal_task(r->task, SIGKILL);
        }
        return 0;
}

/* ------------------------------------------------------------------ spawning */

typedef struct Credentials {
        bool set;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        int n_groups;
        char *home, *shell, *user;
} Credentials;

static void credentials_done(Credentials *c) {
        g_free(c->groups);
        g_free(c->home);
        g_free(c->shell);
        g_free(c->user);
}

static void credentials_free(Credentials *c) {
        if (!c)
                return;
        credentials_done(c);
        g_free(c);
}

static int resolve_gid(const char *name, gid_t *ret) {
        struct group *gr;
        char *end;
        unsigned long n;

        errno = 0;
        n = strtoul(name, &end, 10);
        if (*name && !*end && errno == 0) {
                *ret = (gid_t) n;
                return 0;
        }
        gr = getgrnam(name);
        if (!gr)
                return -ESRCH;
        *ret = gr->gr_gid;
        return 0;
}

/* Looked up in the parent: NSS is not safe after fork(). The daemon's own entry once, not per task. */
static int credentials_resolve(ExecRunner *ctx, const ConfigRule *rule, Credentials *c) {
        struct passwd *pw = NULL;
        int r;

        *c = (Credentials) {};
        if (!rule->user && !ctx->self_user) {
                pw = getpwuid(getuid());
                ctx->self_user = pw ? g_strdup(pw->pw_name) : g_strdup_printf("%u", (unsigned) getuid());
                ctx->self_home = g_strdup(pw ? pw->pw_dir : "/");
                ctx->self_shell = g_strdup(pw ? pw->pw_shell : "/bin/sh");
        }
        if (rule->user) {
                pw = getpwnam(rule->user);
                if (!pw) {
                        char *end;
                        unsigned long n = strtoul(rule->user, &end, 10);

                        if (!*end)
                                pw = getpwuid((uid_t) n);
                }
                if (!pw)
                        return -ESRCH;
                c->uid = pw->pw_uid;
                c->gid = pw->pw_gid;
                c->home = g_strdup(pw->pw_dir);
                c->shell = g_strdup(pw->pw_shell);
                c->user = g_strdup(pw->pw_name);
        } else {
                c->uid = getuid();
                c->gid = getgid();
                c->home = g_strdup(ctx->self_home);
                c->shell = g_strdup(ctx->self_shell);
                c->user = g_strdup(ctx->self_user);
        }
        if (rule->group) {
                r = resolve_gid(rule->group, &c->gid);
                if (r < 0)
                        return r;
        }
        if (!rule->user && !rule->group)
                return 0;

        c->set = true;
        if (pw && rule->user) {
                int n = 32;

                c->groups = g_new(gid_t, n);
                if (getgrouplist(pw->pw_name, c->gid, c->groups, &n) < 0) {
                        c->groups = g_renew(gid_t, c->groups, n);
                        if (getgrouplist(pw->pw_name, c->gid, c->groups, &n) < 0)
                                n = 0;
                }
                c->n_groups = n;
        } else {
                c->groups = g_new(gid_t, 1);
                c->groups[0] = c->gid;
                c->n_groups = 1;
        }
        return 0;
}

/* A User= task gets its user's environment; a task without one runs as the daemon, with its PATH. */
static const char *task_path(const ConfigRule *rule, const Credentials *c) {
        const char *path;

        if (rule->user)
                return c->uid == 0 ? ROOT_PATH : USER_PATH;
        path = getenv("PATH");
        return path ?: ROOT_PATH;
}

static char **build_env(const Task *t, const TemplateValues *v, const Credentials *c) {
        GPtrArray *env = g_ptr_array_new();

        g_ptr_array_add(env, g_strconcat("PATH=", task_path(t->rule, c), NULL));
        g_ptr_array_add(env, g_strconcat("HOME=", c->home, NULL));
        g_ptr_array_add(env, g_strconcat("USER=", c->user, NULL));
        g_ptr_array_add(env, g_strconcat("LOGNAME=", c->user, NULL));
        g_ptr_array_add(env, g_strconcat("SHELL=", c->shell, NULL));
        if (getenv("LANG"))
                g_ptr_array_add(env, g_strconcat("LANG=", getenv("LANG"), NULL));
        task_command_env_append(env, t, v);
        g_ptr_array_add(env, NULL);
        return (char **) g_ptr_array_free(env, false);
}

/* What the daemon itself inherited (an fd its parent left open) is not the task's: every fd above
 * stderr is closed, the output pipe being on 1 and 2 by then. One system call; the loop up to the
 * soft fd limit is the fallback for kernels before 5.9. */
static int close_inherited_fds(void) {
        struct rlimit rl;

        if (close_range(STDERR_FILENO + 1, ~0U, 0) >= 0)
                return 0;
        if (errno != ENOSYS || getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -1;
        for (rlim_t fd = STDERR_FILENO + 1; fd < rl.rlim_cur && fd < (rlim_t) INT_MAX; fd++)
                (void) close((int) fd);
        return 0;
}

/* The child after fork() when it must change identity: only async-signal-safe calls. */
_noreturn_ static void child_exec(char **argv, char **envp, const Credentials *c, const char *wd, int in_fd,
                                  int out_fd) {
        sigset_t none;
        int null_fd;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) setsid();
        null_fd = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0 || close_inherited_fds() < 0)
                _exit(127);
        if (c->set && (setgroups((size_t) c->n_groups, c->groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
                       setresuid(c->uid, c->uid, c->uid) < 0))
                _exit(126);
        if (wd && chdir(wd) < 0)
                _exit(200);
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        execve(argv[0], argv, envp);
        _exit(errno == ENOENT ? 127 : 126);
}

/* Looks once at what a child would inherit: ignored signals (reset in the child), and handlers, which a
 * child sharing our memory must never run (with one, every spawn goes through posix_spawn(), which
 * resets all 64 dispositions in the child). */
static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *ssi, void *userdata);

static int spawn_setup(ExecRunner *ctx) {
        int r;

        /* A task that closes its stdin early must not end the daemon writing to it: EPIPE instead. Ignored
         * before the look below, so that children get it back as default. */
        (void) signal(SIGPIPE, SIG_IGN);
        /* SIGCHLD is blocked since the start (the manager blocks it with the signals it handles). */
        r = sd_event_add_signal(ctx->ctx.event, &ctx->sigchld, SIGCHLD, on_sigchld, ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for exited tasks: %m");
        ctx->children = g_hash_table_new(g_direct_hash, g_direct_equal);
        /* What a task leaves behind is given to us, not to init, so that it ends with the task. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                log_warning_errno(errno, "Failed to become the child subreaper, ignoring: %m");
        ctx->orphans = g_hash_table_new(g_direct_hash, g_direct_equal);
        ctx->spawn_stack = g_malloc(SPAWN_STACK_SIZE);
        ctx->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        ctx->n_ignored = 0;
        ctx->spawn_posix = ctx->null_fd < 0;
        for (int sig = 1; sig < SIGRTMIN && !ctx->spawn_posix; sig++) {
                struct sigaction sa;

                if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
                        continue;
                if (sa.sa_handler == SIG_IGN)
                        ctx->ignored[ctx->n_ignored++] = sig;
                else if (sa.sa_handler != SIG_DFL)
                        ctx->spawn_posix = true;
        }
        for (int sig = SIGRTMIN; sig <= SIGRTMAX && !ctx->spawn_posix; sig++) {
                struct sigaction sa;

                if (sigaction(sig, NULL, &sa) >= 0 && sa.sa_handler != SIG_DFL)
                        ctx->spawn_posix = true;
        }
        ctx->spawn_ready = true;
        return 0;
}

typedef struct SpawnArgs {
        const ExecRunner *ctx;
        char **argv, **envp;
        const char *wd;
        int in_fd, out_fd;
        int error;              /* set by the child if it fails before execve() succeeds */
} SpawnArgs;

/* The child of clone(CLONE_VM | CLONE_VFORK): it shares our memory and we wait until it has exec'd,
 * so it only makes system calls, and reports a failure through the shared SpawnArgs. */
static int spawn_child(void *userdata) {
        SpawnArgs *a = userdata;
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;

        for (int i = 0; i < a->ctx->n_ignored; i++)
                (void) sigaction(a->ctx->ignored[i], &dfl, NULL);
        if (setsid() < 0 || dup2(a->in_fd, STDIN_FILENO) < 0 || dup2(a->out_fd, STDOUT_FILENO) < 0 ||
            dup2(a->out_fd, STDERR_FILENO) < 0 || close_inherited_fds() < 0 || (a->wd && chdir(a->wd) < 0))
                goto fail;
        /* An orphan below the task stays below it while it runs: only when it ends do its children (and so
         * everything it started) come to us, to end with it. */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        execve(a->argv[0], a->argv, a->envp);
fail:
        a->error = errno ?: EIO;
        _exit(127);
}

static int spawn(ExecRunner *ctx, char **argv, char **envp, const Credentials *c, const char *wd, int in_fd,
                 int out_fd, pid_t *ret) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all, old;
        pid_t pid;
        int r;

        if (c->set) {
                pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0)
                        child_exec(argv, envp, c, wd, in_fd, out_fd);
                *ret = pid;
                return 0;
        }

        /* The usual case needs no identity change. A vfork-like clone on our own stack costs less than
         * posix_spawn(), which maps a stack and resets every signal disposition in the child, each time. */
        if (!ctx->spawn_posix) {
                SpawnArgs a = { .ctx = ctx, .argv = argv, .envp = envp, .wd = wd,
                                .in_fd = in_fd >= 0 ? in_fd : ctx->null_fd, .out_fd = out_fd };

                /* Blocked across the clone, so no signal reaches the child before its mask is reset. */
                sigfillset(&all);
                (void) pthread_sigmask(SIG_SETMASK, &all, &old);
                pid = clone(spawn_child, ctx->spawn_stack + SPAWN_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
                r = pid < 0 ? -errno : 0;
                (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (r < 0)
                        return r;
                if (a.error != 0) {
                        (void) waitpid(pid, NULL, 0);
                        return -a.error;
                }
                *ret = pid;
                return 0;
        }

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawn_file_actions_init(&fa);
        if (in_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
        else if (ctx->null_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, ctx->null_fd, STDIN_FILENO);
        else
                posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
        posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
        if (wd)
                posix_spawn_file_actions_addchdir_np(&fa, wd);
        r = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;
        *ret = pid;
        return 0;
}

/* ------------------------------------------------------------------ batches: runs and stdin */

/* A pipe whose ends are both above stderr (started with 0-2 closed, a pipe could be one of them, which the
 * child's dup2() calls would then close or keep wrongly). */
static int pipe_above_stdio(int fds[2]) {
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        for (int i = 0; i < 2; i++)
                if (fds[i] <= STDERR_FILENO) {
                        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

                        if (fd < 0) {
                                int r = -errno;

                                (void) safe_close(fds[0]);
                                (void) safe_close(fds[1]);
                                return r;
                        }
                        (void) safe_close(fds[i]);
                        fds[i] = fd;
                }
        return 0;
}

/* Spawns one run of t for its paths [from, to): its output pipe's read end, and with StandardInput= its
 * stdin pipe's write end and what to write there. */
static int start_process(ExecRunner *ctx, Task *t, char **argv, char **envp, const Credentials *c, size_t from,
                         size_t to, int *ret_out, int *ret_in, char **ret_buf, size_t *ret_len) {
        _cleanup_close_ int out_read = -1, out_write = -1, in_read = -1, in_write = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int fds[2], r;

        r = pipe_above_stdio(fds);
        if (r < 0) {
                /* EMFILE while many tasks run: the scheduler retries when one ends. */
                task_log(LOG_DEBUG, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): no output pipe: %s", t->id,
                         t->rule->name, strerror(-r));
                return r;
        }
        out_read = fds[0];
        out_write = fds[1];
        if (t->rule->standard_input != STDIN_NULL) {
                r = task_stdin_data_range(t, t->rule->standard_input, from, to, &buf, &len);
                if (r < 0)
                        return r;
                r = pipe_above_stdio(fds);
                if (r < 0)
                        return r;
                in_read = fds[0];
                in_write = fds[1];
                (void) fcntl(in_write, F_SETFL, O_NONBLOCK);
        }

        r = spawn(ctx, argv, envp, c, t->rule->working_directory, in_read, out_write, &t->pid);
        if (r == -EAGAIN || r == -EMFILE || r == -ENFILE || r == -ENOMEM)
                return r;
        if (r < 0) {
                task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): failed to start %s: %s", t->id,
                         t->rule->name, argv[0], strerror(-r));
                return r;
        }
        *ret_out = TAKE_FD(out_read);
        *ret_in = TAKE_FD(in_write);
        *ret_buf = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static void stdin_close(Run *r) {
        r->stdin_src = sd_event_source_disable_unref(r->stdin_src);
        r->stdin_fd = safe_close(r->stdin_fd);
        g_clear_pointer(&r->stdin_buf, g_free);
}

/* Writes what the pipe takes, a slice per loop iteration; a task that does not read waits on its full
 * pipe without holding up the loop, one that exits or closes its stdin ends the writing (EPIPE). */
static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Run *r = userdata;

        if (r->stdin_off < r->stdin_len) {
                ssize_t n = write(r->stdin_fd, r->stdin_buf + r->stdin_off,
                                  MIN(r->stdin_len - r->stdin_off, (size_t) OUTPUT_SLICE));

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n > 0)
                        r->stdin_off += (size_t) n;
                if (n > 0 && r->stdin_off < r->stdin_len)
                        return 0;
                if (n < 0)
                        task_log(LOG_DEBUG, NULL, r->task, NULL, 0, "Task %" PRIu64 " (%s): stdin closed after "
                                 "%zu of %zu bytes: %m", r->task->id, r->task->rule->name, r->stdin_off,
                                 r->stdin_len);
        }
        stdin_close(r);
        return 0;
}

static void run_watch_stdin(Run *r) {
        r->stdin_off = 0;
        if (r->stdin_fd < 0)
                return;
        if (r->stdin_len == 0 ||
            sd_event_add_io(r->ctx->ctx.event, &r->stdin_src, r->stdin_fd, EPOLLOUT, on_stdin, r) < 0) {
                stdin_close(r);
                return;
        }
        (void) sd_event_source_set_description(r->stdin_src, "task-stdin");
}

/* The next run of a batch split for the argument limit; on failure the task ends as "start-failed"
 * (unless an earlier run failed already). */
static int run_next(Run *r) {
        ExecRunner *ctx = r->ctx;
        Task *t = r->task;
        size_t k = r->next_run;
        size_t from = g_array_index(r->ends, size_t, k - 1), to = g_array_index(r->ends, size_t, k);
        char **argv = r->argvs->pdata[k];
        int out = -1, in = -1, q;

        g_hash_table_remove(ctx->children, GINT_TO_POINTER(t->pid));
        t->pid = 0;
        task_command_set_npaths(r->envp, to - from);
        q = start_process(ctx, t, argv, r->envp, r->cred, from, to, &out, &in, &r->stdin_buf, &r->stdin_len);
        if (q < 0) {
                if (r->state == TASK_DONE) {
                        r->state = TASK_FAILED;
                        r->result = "start-failed";
                        r->status = 0;
                }
                return q;
        }
        r->next_run++;
        r->output_fd = out;
        r->stdin_fd = in;
        (void) fcntl(r->output_fd, F_SETFL, O_NONBLOCK);
        g_hash_table_insert(ctx->children, GINT_TO_POINTER(t->pid), r);
        task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): run %zu of %u started for paths %zu-%zu "
                 "(pid %d).", t->id, t->rule->name, k + 1, r->argvs->len, from + 1, to, (int) t->pid);
        run_watch_stdin(r);
        if (sd_event_add_io(ctx->ctx.event, &r->output, r->output_fd, EPOLLIN, on_output, r) < 0)
                r->output_fd = safe_close(r->output_fd);
        else
                (void) sd_event_source_set_priority(r->output, SD_EVENT_PRIORITY_NORMAL + 10);
        return 0;
}

static int exec_start(Runner *runner, Task *t) {
        ExecRunner *ctx = (ExecRunner *) runner;
        _cleanup_free_ char *id = NULL, *mask = NULL, *dir = NULL, *shown = NULL, *exe = NULL;
        _cleanup_strv_free_ char **argv = NULL, **envp = NULL;
        _cleanup_(credentials_done) Credentials cred = {};
        _cleanup_close_ int out_read = -1, in_write = -1;
        _cleanup_free_ char *stdin_buf = NULL;
        g_autoptr(GPtrArray) argvs = NULL;
        g_autoptr(GArray) ends = NULL;
        char **run_argv;
        size_t stdin_len = 0;
        TemplateValues v;
        Run *run;
        int r;
        char pid_buf[32];
        LogField f;

        task_template_values(t, &v, &id, &mask, &dir);
        argv = task_command_argv(t, &v);
        shown = task_command_display(argv);

        if (ctx->ctx.dry_run) {
                task_log(LOG_INFO, MESSAGE_ID_TASK_STARTED, t, NULL, 0, "Task %" PRIu64 " (%s) would run: %s",
                         t->id, t->rule->name, shown);
                scheduler_task_finished(ctx->ctx.scheduler, t, TASK_DONE, "dry-run", 0);
                return 0;
        }

        if (!ctx->spawn_ready) {
                r = spawn_setup(ctx);
                if (r < 0)
                        return r;
        }

        r = credentials_resolve(ctx, t->rule, &cred);
        if (r < 0) {
                task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): cannot resolve User=%s/Group=%s.",
                         t->id, t->rule->name, strempty(t->rule->user), strempty(t->rule->group));
                return r;
        }
        envp = build_env(t, &v, &cred);

        /* execve() does not search PATH: resolve a bare command name here, in the parent, in the
         * task's own PATH. */
        if (!strchr(argv[0], '/')) {
                exe = task_command_find_program(argv[0], task_path(t->rule, &cred));
                if (!exe) {
                        task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): command not found: %s",
                                 t->id, t->rule->name, argv[0]);
                        return -ENOENT;
                }
                g_free(argv[0]);
                argv[0] = TAKE_PTR(exe);
        }

        r = task_command_runs(t, &v, argv, envp, 0, 0, &argvs, &ends);
        if (r < 0) {
                task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): a single path does not fit the "
                         "argument limit.", t->id, t->rule->name);
                return r;
        }
        if (argvs) {
                g_strfreev(argv);
                argv = NULL;
        }
        run_argv = argvs ? argvs->pdata[0] : argv;
        task_command_set_npaths(envp, g_array_index(ends, size_t, 0));
        /* The list is not logged whole (10,000 paths): how many, and in how many runs. */
        if (t->batch || argvs) {
                char *more = g_strdup_printf("%s [%zu paths, %u runs]", shown, task_n_paths(t), ends->len);

                g_free(shown);
                shown = more;
        }

        r = start_process(ctx, t, run_argv, envp, &cred, 0, g_array_index(ends, size_t, 0), &out_read,
                          &in_write, &stdin_buf, &stdin_len);
        if (r < 0)
                return r;

        run = g_new0(Run, 1);
        run->ctx = ctx;
        run->task = t;
        run->output_fd = TAKE_FD(out_read);
        run->line = g_string_new(NULL);
        run->stdin_fd = TAKE_FD(in_write);
        run->stdin_buf = TAKE_PTR(stdin_buf);
        run->stdin_len = stdin_len;
        run->argvs = TAKE_PTR(argvs);
        run->ends = TAKE_PTR(ends);
        run->next_run = 1;
        run->envp = TAKE_PTR(envp);
        run->cred = g_memdup2(&cred, sizeof cred);
        cred = (Credentials) {};
        run->state = TASK_DONE;
        run->result = "success";
        t->runner_data = run;
        (void) fcntl(run->output_fd, F_SETFL, O_NONBLOCK);

        snprintf(pid_buf, sizeof pid_buf, "%d", (int) t->pid);
        f = LOG_FIELD("INOTASKD_PID", pid_buf);
        task_log(LOG_INFO, MESSAGE_ID_TASK_STARTED, t, &f, 1, "Task %" PRIu64 " (%s) started: %s (pid %d)", t->id,
                 t->rule->name, shown, (int) t->pid);

        /* Reaped by on_sigchld(), even while the loop is exiting, so a stop waits for it. */
        g_hash_table_insert(ctx->children, GINT_TO_POINTER(t->pid), run);
        run_watch_stdin(run);
        r = sd_event_add_io(ctx->ctx.event, &run->output, run->output_fd, EPOLLIN, on_output, run);
        if (r < 0)
                run->output_fd = safe_close(run->output_fd);
        else
                /* Events, timers and finished work go first; output waits in its pipe meanwhile. */
                (void) sd_event_source_set_priority(run->output, SD_EVENT_PRIORITY_NORMAL + 10);
        if (t->rule->timeout != USEC_INFINITY && t->rule->timeout > 0)
                (void) sd_event_add_time_relative(ctx->ctx.event, &run->timer, CLOCK_MONOTONIC, t->rule->timeout,
                                                  USEC_PER_MSEC, on_timeout, run);
        return 0;
}

/* A cancel asks the process group to end with SIGTERM (the result "cancelled", from child_exited()); the
 * stop's last resort kills it. The scheduler asks for a cancel once. */
static void exec_stop(Runner *runner, Task *t, RunnerStop how) {
        Run *r = t->runner_data;

        if (!r || t->pid <= 0)
                return;
        signal_task(t, how == RUNNER_STOP_KILL ? SIGKILL : SIGTERM);
}

static const RunnerOps exec_runner_ops = {
        .name = "exec",
        .start = exec_start,
        .stop = exec_stop,
};

int exec_runner_new(ExecRunner **ret, const RunnerContext *ctx) {
        ExecRunner *x = g_new0(ExecRunner, 1);

        x->runner.ops = &exec_runner_ops;
        x->ctx = *ctx;
        x->null_fd = -1;
        *ret = x;
        return 0;
}

ExecRunner *exec_runner_free(ExecRunner *x) {
        if (!x)
                return NULL;
        x->sigchld = sd_event_source_disable_unref(x->sigchld);
        if (x->children) {
                /* Tasks still running are the scheduler's: their Run goes, the process is left alone. */
                g_autoptr(GList) runs = g_hash_table_get_values(x->children);

                for (GList *l = runs; l; l = l->next) {
                        Run *r = l->data;

                        r->task->runner_data = NULL;
                        run_free(r);
                }
                g_hash_table_unref(x->children);
        }
        if (x->orphans) {
                /* The daemon stops: what ended tasks left behind ends now, without its grace. */
                g_autoptr(GHashTable) leftovers = g_hash_table_new(g_direct_hash, g_direct_equal);
                GHashTableIter i;
                gpointer k, v;

                g_hash_table_iter_init(&i, x->orphans);
                while (g_hash_table_iter_next(&i, &k, &v)) {
                        signal_tree((pid_t) GPOINTER_TO_INT(k), true, SIGKILL);
                        g_hash_table_add(leftovers, v);
                }
                g_hash_table_iter_init(&i, leftovers);
                while (g_hash_table_iter_next(&i, &k, NULL))
                        leftover_free(k);
                g_hash_table_unref(x->orphans);
        }
        x->null_fd = safe_close(x->null_fd);
        g_free(x->spawn_stack);
        g_free(x->self_user);
        g_free(x->self_home);
        g_free(x->self_shell);
        g_free(x);
        return NULL;
}

Runner *exec_runner_runner(ExecRunner *x) {
        return &x->runner;
}
