/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tasks as transient units: StartTransientUnit with the task's command, identity, limits and journal
 * fields; the unit's PropertiesChanged tell when its main process ended and how. The unit is started
 * with RemainAfterExit=yes, so that it stays loaded with its result until we have read it (also across a
 * restart of the daemon), and is then stopped and reset, which lets systemd collect it. */
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "batch.h"
#include "escape.h"
#include "log.h"
#include "message-ids.h"
#include "runner-transient.h"
#include "task-command.h"
#include "time-util.h"
#include "template.h"
#include "unit-property.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit"

/* As runner-exec.c: a User= task's PATH is that user's standard one, never the daemon's. */
#define USER_PATH "/usr/local/bin:/usr/bin:/bin"
#define ROOT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* StandardInputData= per unit: systemd takes up to 64 MiB (EXEC_STDIN_DATA_MAX), but the system bus's
 * dbus-daemon passes no message over 32 MiB (max_message_size): a run's stdin is kept to 24 MiB, which
 * leaves room for its argv (ARG_MAX, 2 MiB by default) and the other properties. A bigger list is split
 * into more runs. */
#define STDIN_DATA_MAX (24U * 1024U * 1024U)
/* What systemd adds to a unit's environment (INVOCATION_ID, JOURNAL_STREAM, its own LANG and PATH, ...),
 * counted against the argument limit of a split list. */
#define UNIT_ENV_EXTRA 8192U

/* After the connection to the manager is lost, how often to try again (the units run on meanwhile). */
#define RECONNECT_USEC (1 * USEC_PER_SEC)

struct TransientRunner {
        Runner runner;
        RunnerContext ctx;
        SystemdBus *sbus;
        sd_bus *bus;                    /* sbus's connection while open (borrowed) */
        sd_bus_slot *match;             /* PropertiesChanged below UNIT_PATH_PREFIX */
        GHashTable *units;              /* unit object path -> UnitTask* (owned) */
        sd_event_source *reconnect;
        char *self_user, *self_home, *self_shell;
        unsigned n_left;                /* running tasks left to run on at the daemon's stop */
        size_t stdin_max;               /* STDIN_DATA_MAX, or INOTASKD_TEST_STDIN_DATA_MAX for tests */
};

typedef struct UnitTask {
        TransientRunner *x;
        Task *task;                     /* NULL once finished */
        char *name, *path;
        sd_bus_slot *call;              /* StartTransientUnit or GetUnit, while out */
        sd_bus_slot *query;             /* GetAll of the Service interface, while out */
        bool started;                   /* the unit exists: the start was answered, or it was adopted */
        bool requery;                   /* a change came while a query was out */
        bool seen_active;               /* its ActiveState was activating, active or deactivating */
        bool inactive;                  /* then reached inactive or failed */
        bool stop_pending;              /* a cancel came before the start was answered */
        bool left;                      /* left running at the daemon's stop */
        /* A batch split for the argument or the stdin limit: one unit per run, one after the other
         * (inotaskd-task-N.service, then inotaskd-task-N-2.service, ..). */
        char **argv;                    /* every run's argv when argvs is NULL */
        GPtrArray *argvs;               /* char** per run, or NULL */
        GArray *ends;                   /* size_t end of each run's paths; NULL until prepared */
        char **envp;
        size_t run;                     /* the current run's index */
        TaskState state;                /* the first failed run's outcome, TASK_DONE while none */
        const char *result;
        int status;
        usec_t start_usec;              /* CLOCK_MONOTONIC at the first run (0: adopted, not known) */
} UnitTask;

/* What the Service interface says of the main process. */
typedef struct ServiceResult {
        char result[32];
        int32_t code, status;           /* ExecMainCode (CLD_*, 0 while it runs), ExecMainStatus */
        bool have_code;
} ServiceResult;

char *transient_unit_name(uint64_t id) {
        return g_strdup_printf("inotaskd-task-%" PRIu64 ".service", id);
}

/* Run 0 is the task's own unit name; run k > 0 is "inotaskd-task-N-<k+1>.service". */
static char *run_unit_name(uint64_t id, size_t run) {
        if (run == 0)
                return transient_unit_name(id);
        return g_strdup_printf("inotaskd-task-%" PRIu64 "-%zu.service", id, run + 1);
}

static size_t unit_run_index(const char *name) {
        const char *p = strrchr(name, '-');
        unsigned long long id, k;
        char c;

        /* "inotaskd-task-N.service" has its last '-' before N; "inotaskd-task-N-K.service" before K. */
        if (!p || sscanf(name, "inotaskd-task-%llu-%llu.servic%c", &id, &k, &c) != 3 || k < 2)
                return 0;
        return (size_t) k - 1;
}

static void unit_task_free(UnitTask *u) {
        if (!u)
                return;
        u->call = sd_bus_slot_unref(u->call);
        u->query = sd_bus_slot_unref(u->query);
        if (u->task)
                u->task->runner_data = NULL;
        g_strfreev(u->argv);
        if (u->argvs)
                g_ptr_array_unref(u->argvs);
        if (u->ends)
                g_array_unref(u->ends);
        g_strfreev(u->envp);
        g_free(u->name);
        g_free(u->path);
        g_free(u);
}

static void ignore_reply_call(TransientRunner *x, const char *method, const char *sig, ...);

/* The unit has told its result: stop it (an exited RemainAfterExit= unit is still active) and reset a
 * failed one, so systemd collects it. Errors only mean it is gone already. */
static void release_unit(TransientRunner *x, const char *name) {
        if (!x->bus)
                return;
        ignore_reply_call(x, "StopUnit", "ss", name, "replace");
        ignore_reply_call(x, "ResetFailedUnit", "s", name);
}

static int on_ignored_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                log_debug("A call to systemd for a unit task failed, ignoring: %s", e->message);
        return 0;
}

static void ignore_reply_call(TransientRunner *x, const char *method, const char *sig, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(x->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method);
        if (r >= 0) {
                va_start(ap, sig);
                r = sd_bus_message_appendv(m, sig, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call_async(x->bus, NULL, m, on_ignored_reply, NULL, 0);
        if (r < 0)
                log_debug_errno(r, "Failed to call %s for a unit task, ignoring: %m", method);
}

/* Ends u's task with the state and result given, releases the unit and forgets u. */
static void finish(UnitTask *u, TaskState state, const char *result, int status) {
        TransientRunner *x = u->x;
        Task *t = u->task;
        g_autofree char *name = g_strdup(u->name);
        bool started = u->started;

        if (!t)
                return;
        if (u->left && x->n_left > 0)
                x->n_left--;
        u->task = NULL;
        t->runner_data = NULL;
        g_hash_table_remove(x->units, u->path);        /* frees u */
        if (started)
                release_unit(x, name);
        scheduler_task_finished(x->ctx.scheduler, t, state, result, status);
}

static void run_ended(UnitTask *u, TaskState state, const char *result, int status);

/* Decides from what the unit says whether, and how, the current run ended. */
static void evaluate(UnitTask *u, const ServiceResult *sr) {
        Task *t = u->task;
        bool clean = streq(sr->result, "success");
        LogField f = LOG_FIELD("INOTASKD_UNIT_RESULT", sr->result);

        if (!t || (sr->code == 0 && clean && !u->inactive))
                return;         /* still running */
        if (!clean)
                task_log(LOG_INFO, NULL, t, &f, 1, "Task %" PRIu64 " (%s): unit %s ended with result %s.", t->id,
                         t->rule->name, u->name, sr->result);
        if (streq(sr->result, "timeout"))
                run_ended(u, TASK_TIMEOUT, "timeout", sr->status);
        else if (sr->code == CLD_EXITED && sr->status == 0 && clean)
                run_ended(u, TASK_DONE, "success", 0);
        else if (t->cancel_requested)
                run_ended(u, TASK_CANCELLED, "cancelled", sr->status);
        else if (sr->code == CLD_EXITED)
                run_ended(u, TASK_FAILED, "exit-code", sr->status);
        else if (sr->code == CLD_KILLED || sr->code == CLD_DUMPED)
                run_ended(u, TASK_FAILED, "signal", sr->status);
        else if (clean)
                /* Stopped from outside (systemctl stop inotaskd-task-N) before its command ran to its end. */
                run_ended(u, TASK_CANCELLED, "cancelled", 0);
        else
                run_ended(u, TASK_FAILED, "start-failed", 0);
}

/* Reads Result, ExecMainCode and ExecMainStatus from an a{sv} of the Service interface. */
static int read_service_props(sd_bus_message *m, ServiceResult *sr) {
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "Result")) {
                        const char *v;

                        r = sd_bus_message_read(m, "v", "s", &v);
                        if (r >= 0)
                                g_strlcpy(sr->result, v, sizeof sr->result);
                } else if (streq(key, "ExecMainCode")) {
                        r = sd_bus_message_read(m, "v", "i", &sr->code);
                        sr->have_code = true;
                } else if (streq(key, "ExecMainStatus"))
                        r = sd_bus_message_read(m, "v", "i", &sr->status);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void query(UnitTask *u);

static int on_getall_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitTask *u = userdata;
        ServiceResult sr = { .result = "success" };
        const sd_bus_error *e = sd_bus_message_get_error(m);

        u->query = sd_bus_slot_unref(u->query);
        if (e) {
                /* Gone already (collected after a stop): it ended, with no more to tell. */
                log_debug("Reading unit %s failed: %s", u->name, e->message);
                u->inactive = true;
        } else if (read_service_props(m, &sr) < 0)
                return 0;
        if (u->requery) {
                u->requery = false;
                query(u);
                return 0;
        }
        evaluate(u, &sr);
        return 0;
}

static void query(UnitTask *u) {
        int r;

        if (u->query) {
                u->requery = true;
                return;
        }
        if (!u->x->bus)
                return;
        r = sd_bus_call_method_async(u->x->bus, &u->query, SYSTEMD_DEST, u->path, "org.freedesktop.DBus.Properties",
                                     "GetAll", on_getall_reply, u, "s", "org.freedesktop.systemd1.Service");
        if (r < 0)
                log_warning_errno(r, "Failed to read unit %s, ignoring: %m", u->name);
}

/* Reads ActiveState and SubState from an a{sv} of the Unit interface ("" where not there). */
static int read_unit_state(sd_bus_message *m, char *active, char *sub, size_t size) {
        const char *key, *v;
        int r;

        active[0] = sub[0] = '\0';
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && (streq(key, "ActiveState") || streq(key, "SubState"))) {
                        bool is_active = streq(key, "ActiveState");

                        r = sd_bus_message_read(m, "v", "s", &v);
                        if (r >= 0)
                                g_strlcpy(is_active ? active : sub, v, size);
                } else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r;
}

/* Every unit's changes come here; ours are found by object path. The Service interface's carry the
 * main process's end; the Unit interface's its state, for what ends without one (a stop before it ran). */
static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        TransientRunner *x = userdata;
        UnitTask *u = g_hash_table_lookup(x->units, sd_bus_message_get_path(m));
        const char *iface;

        if (!u || !u->task || !u->started)
                return 0;
        if (sd_bus_message_read(m, "s", &iface) < 0)
                return 0;
        if (streq(iface, "org.freedesktop.systemd1.Service")) {
                ServiceResult sr = { .result = "success" };

                if (read_service_props(m, &sr) < 0 || !sr.have_code)
                        return 0;
                if (u->query)
                        u->requery = true;      /* the query's answer would be older */
                evaluate(u, &sr);
        } else if (streq(iface, "org.freedesktop.systemd1.Unit")) {
                char state[32], sub[32];

                if (read_unit_state(m, state, sub, sizeof state) < 0)
                        return 0;
                if (streq(state, "activating") || streq(state, "active") || streq(state, "deactivating"))
                        u->seen_active = true;
                /* A unit just made may say "inactive" once before it starts: not an end. */
                if (u->seen_active && (streq(state, "inactive") || streq(state, "failed"))) {
                        u->inactive = true;
                        query(u);
                } else if (streq(sub, "exited") || streq(state, "failed"))
                        query(u);
        }
        return 0;
}

static void stop_unit(UnitTask *u, RunnerStop how) {
        if (how == RUNNER_STOP_KILL)
                /* The whole cgroup, what the task forked included. */
                ignore_reply_call(u->x, "KillUnit", "ssi", u->name, "all", (int32_t) SIGKILL);
        else
                ignore_reply_call(u->x, "StopUnit", "ss", u->name, "replace");
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitTask *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        Task *t = u->task;

        u->call = sd_bus_slot_unref(u->call);
        if (!t)
                return 0;
        if (e) {
                LogField f = LOG_FIELD("INOTASKD_ERROR", e->message);

                task_log(LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): systemd refused unit %s: %s", t->id,
                         t->rule->name, u->name, e->message);
                finish(u, TASK_FAILED, "start-failed", 0);
                return 0;
        }
        u->started = true;
        if (u->stop_pending)
                stop_unit(u, RUNNER_STOP_CANCEL);
        /* What happened before our match saw it (a command that ended at once) is read once. */
        query(u);
        return 0;
}

/* ------------------------------------------------------------------ the connection */

static int on_connected(sd_bus *bus, void *userdata) {
        TransientRunner *x = userdata;
        int r;

        x->match = sd_bus_slot_unref(x->match);
        r = sd_bus_match_signal(bus, &x->match, SYSTEMD_DEST, NULL, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_properties_changed, x);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to unit changes: %m");
        x->bus = bus;
        return 0;
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata);

/* The units run on without us: connect again, then read each one's state. */
static void on_disconnected(void *userdata) {
        TransientRunner *x = userdata;
        GHashTableIter i;
        gpointer v;

        x->match = sd_bus_slot_unref(x->match);
        x->bus = NULL;
        g_hash_table_iter_init(&i, x->units);
        while (g_hash_table_iter_next(&i, NULL, &v)) {
                UnitTask *u = v;

                u->call = sd_bus_slot_unref(u->call);
                u->query = sd_bus_slot_unref(u->query);
        }
        if (g_hash_table_size(x->units) == 0)
                return;
        log_warning("Lost the connection to systemd with %u unit tasks running, connecting again.",
                    g_hash_table_size(x->units));
        (void) sd_event_add_time_relative(x->ctx.event, &x->reconnect, CLOCK_MONOTONIC, RECONNECT_USEC,
                                          USEC_PER_MSEC, on_reconnect, x);
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        TransientRunner *x = userdata;
        sd_bus *bus;
        g_autoptr(GList) units = NULL;

        if (systemd_bus_get(x->sbus, &bus) < 0) {
                (void) sd_event_source_set_time_relative(s, RECONNECT_USEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        x->reconnect = sd_event_source_disable_unref(x->reconnect);
        units = g_hash_table_get_values(x->units);
        for (GList *l = units; l; l = l->next) {
                UnitTask *u = l->data;

                /* A start that was out when the connection went: the unit exists if systemd took it. */
                u->started = true;
                query(u);
        }
        return 0;
}

/* ------------------------------------------------------------------ starting */

static const char *task_path(const ConfigRule *rule) {
        const char *path;

        if (rule->user)
                return streq(rule->user, "root") || streq(rule->user, "0") ? ROOT_PATH : USER_PATH;
        path = getenv("PATH");
        return path ?: ROOT_PATH;
}

/* The environment a spawned task gets too: without User=, the daemon's own user's (with it, systemd sets
 * HOME, USER, LOGNAME and SHELL itself). */
static char **build_env(TransientRunner *x, const Task *t, const TemplateValues *v) {
        GPtrArray *env = g_ptr_array_new();

        g_ptr_array_add(env, g_strconcat("PATH=", task_path(t->rule), NULL));
        if (!t->rule->user) {
                if (!x->self_user) {
                        struct passwd *pw = getpwuid(getuid());

                        x->self_user = pw ? g_strdup(pw->pw_name) : g_strdup_printf("%u", (unsigned) getuid());
                        x->self_home = g_strdup(pw ? pw->pw_dir : "/");
                        x->self_shell = g_strdup(pw ? pw->pw_shell : "/bin/sh");
                }
                g_ptr_array_add(env, g_strconcat("HOME=", x->self_home, NULL));
                g_ptr_array_add(env, g_strconcat("USER=", x->self_user, NULL));
                g_ptr_array_add(env, g_strconcat("LOGNAME=", x->self_user, NULL));
                g_ptr_array_add(env, g_strconcat("SHELL=", x->self_shell, NULL));
        }
        if (getenv("LANG"))
                g_ptr_array_add(env, g_strconcat("LANG=", getenv("LANG"), NULL));
        task_command_env_append(env, t, v);
        g_ptr_array_add(env, NULL);
        return (char **) g_ptr_array_free(env, false);
}

/* One LogExtraFields= entry "NAME=value"; a value with a newline (which a journal field set so cannot
 * hold) is escaped. */
static int append_log_field(sd_bus_message *m, const char *name, const char *value) {
        g_autofree char *escaped = NULL, *field = NULL;

        if (!value)
                return 0;
        if (strchr(value, '\n'))
                value = escaped = escape_display(value, strlen(value));
        field = g_strconcat(name, "=", value, NULL);
        return sd_bus_message_append_array(m, 'y', field, strlen(field));
}

/* in: the run's StandardInputData= (in_len bytes; none: StandardInput=null, systemd's default). runtime_max:
 * what is left of TimeoutSec= for this run (USEC_INFINITY: none). */
static int append_properties(sd_bus_message *m, const Task *t, char **argv, char **envp, const char *in,
                             size_t in_len, usec_t runtime_max, char **ret_error) {
        const ConfigRule *rule = t->rule;
        g_autofree char *desc = NULL, *id = NULL;
        int r;

        desc = g_strdup_printf("inotaskd task %" PRIu64 " (%s)", t->id, rule->name);
        id = g_strdup_printf("%" PRIu64, t->id);
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", desc, "Type", "s", "exec",
                                  "RemainAfterExit", "b", 1, "Slice", "s", rule->slice ?: TASK_UNITS_DEFAULT_SLICE);
        if (r < 0)
                return r;

        /* ExecStart: a(sasb), one command, its failure not ignored. */
        r = unit_property_open(m, "ExecStart", "a(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[0]);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", 0);
        for (int i = 0; i < 2 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_property_close(m);
        if (r < 0)
                return r;

        r = unit_property_open(m, "Environment", "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, envp);
        if (r >= 0)
                r = unit_property_close(m);
        if (r < 0)
                return r;

        if (rule->user && (r = sd_bus_message_append(m, "(sv)", "User", "s", rule->user)) < 0)
                return r;
        if (rule->group && (r = sd_bus_message_append(m, "(sv)", "Group", "s", rule->group)) < 0)
                return r;
        if (rule->working_directory &&
            (r = sd_bus_message_append(m, "(sv)", "WorkingDirectory", "s", rule->working_directory)) < 0)
                return r;
        if (runtime_max != USEC_INFINITY &&
            (r = sd_bus_message_append(m, "(sv)", "RuntimeMaxUSec", "t", (uint64_t) runtime_max)) < 0)
                return r;
        if (in_len > 0) {
                r = sd_bus_message_append(m, "(sv)", "StandardInput", "s", "data");
                if (r >= 0)
                        r = unit_property_open(m, "StandardInputData", "ay");
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', in, in_len);
                if (r >= 0)
                        r = unit_property_close(m);
                if (r < 0)
                        return r;
        }

        /* The journal fields of the task's output, as the daemon logs it for spawned tasks: no MESSAGE_ID,
         * so journalctl -x explains the task's start and end, not each of its lines. */
        r = unit_property_open(m, "LogExtraFields", "aay");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "ay");
        if (r >= 0)
                r = append_log_field(m, "INOTASKD_TASK_ID", id);
        if (r >= 0)
                r = append_log_field(m, "INOTASKD_RULE", rule->name);
        if (r >= 0)
                r = append_log_field(m, "INOTASKD_WATCH", t->watch);
        if (r >= 0)
                r = append_log_field(m, "INOTASKD_PATH", t->path);
        if (r >= 0)
                r = append_log_field(m, "INOTASKD_EVENT", t->event_name);
        if (r >= 0)
                r = append_log_field(m, "INOTASKD_ITEM", t->item);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_property_close(m);
        if (r < 0)
                return r;

        for (char **p = rule->properties; p && *p; p++) {
                r = unit_property_append(m, *p, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The command of u's task, split into its runs: its argv, environment and the paths of each run. */
static int prepare(UnitTask *u, Task *t, char **ret_shown) {
        TransientRunner *x = u->x;
        _cleanup_free_ char *id = NULL, *mask = NULL, *dir = NULL, *exe = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        TemplateValues v;
        int r;

        task_template_values(t, &v, &id, &mask, &dir);
        argv = task_command_argv(t, &v);
        /* systemd wants an absolute ExecStart: a bare name is looked up here, in the task's PATH. */
        if (!strchr(argv[0], '/')) {
                exe = task_command_find_program(argv[0], task_path(t->rule));
                if (!exe) {
                        task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): command not found: %s",
                                 t->id, t->rule->name, argv[0]);
                        return -ENOENT;
                }
                g_free(argv[0]);
                argv[0] = TAKE_PTR(exe);
        }
        g_strfreev(u->envp);
        u->envp = build_env(x, t, &v);
        if (u->ends)
                g_array_unref(u->ends);
        if (u->argvs)
                g_ptr_array_unref(u->argvs);
        u->ends = NULL;
        u->argvs = NULL;
        r = task_command_runs(t, &v, argv, u->envp, UNIT_ENV_EXTRA, x->stdin_max, &u->argvs, &u->ends);
        if (r < 0) {
                task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): a single path does not fit the "
                         "argument or stdin limit.", t->id, t->rule->name);
                return r;
        }
        if (ret_shown) {
                _cleanup_free_ char *shown = task_command_display(argv);

                /* The list is not logged whole (10,000 paths): how many, and in how many runs. */
                if (t->batch || u->argvs)
                        *ret_shown = g_strdup_printf("%s [%zu paths, %u runs]", shown, task_n_paths(t),
                                                     u->ends->len);
                else
                        *ret_shown = TAKE_PTR(shown);
        }
        g_strfreev(u->argv);
        u->argv = TAKE_PTR(argv);
        return 0;
}

/* What is left of TimeoutSec= for the next run: TimeoutSec= bounds the whole task, as when spawned. 0 when
 * nothing is left. */
static usec_t runtime_left(const UnitTask *u, const Task *t) {
        usec_t now;

        if (t->rule->timeout == USEC_INFINITY || t->rule->timeout == 0)
                return USEC_INFINITY;
        if (u->start_usec == 0)
                return t->rule->timeout;
        now = now_usec(CLOCK_MONOTONIC);
        return now - u->start_usec >= t->rule->timeout ? 0 : t->rule->timeout - (now - u->start_usec);
}

/* Asks systemd for the unit of u's current run (u->run). Sets u->name and u->path. */
static int start_run(UnitTask *u, Task *t, usec_t runtime_max) {
        TransientRunner *x = u->x;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *in = NULL, *err = NULL;
        size_t from = u->run > 0 ? g_array_index(u->ends, size_t, u->run - 1) : 0;
        size_t to = g_array_index(u->ends, size_t, u->run), in_len = 0;
        char **argv = u->argvs ? u->argvs->pdata[u->run] : u->argv;
        sd_bus *bus;
        int r;

        r = systemd_bus_get(x->sbus, &bus);
        if (r < 0)
                return r;
        g_free(u->name);
        g_free(u->path);
        u->path = NULL;
        u->name = run_unit_name(t->id, u->run);
        r = sd_bus_path_encode(UNIT_PATH_PREFIX, u->name, &u->path);
        if (r < 0)
                return r;
        if (t->rule->standard_input != STDIN_NULL) {
                r = task_stdin_data_range(t, t->rule->standard_input, from, to, &in, &in_len);
                if (r < 0)
                        return r;
        }
        task_command_set_npaths(u->envp, to - from);

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", u->name, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_properties(m, t, argv, u->envp, in, in_len, runtime_max, &err);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0) {
                task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): cannot build unit %s: %s", t->id,
                         t->rule->name, u->name, err ?: strerror(-r));
                return r;
        }
        r = sd_bus_call_async(bus, &u->call, m, on_start_reply, u, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to call StartTransientUnit: %m");
        return 0;
}

/* The current run's unit ended so: the task ends, or its next run starts. The task's result is that of its
 * first run that failed; a cancel or a timeout ends it at once. */
static void run_ended(UnitTask *u, TaskState state, const char *result, int status) {
        TransientRunner *x = u->x;
        Task *t = u->task;
        usec_t left;
        size_t from, to;
        LogField f;
        int r;

        if (!t)
                return;
        if (state != TASK_DONE && u->state == TASK_DONE) {
                u->state = state;
                u->result = result;
                u->status = status;
        }
        if (state == TASK_TIMEOUT || state == TASK_CANCELLED) {
                finish(u, state, result, status);
                return;
        }
        if (!u->ends && prepare(u, t, NULL) < 0) {      /* adopted: its runs are known again */
                finish(u, u->state, u->result, u->status);
                return;
        }
        if (u->run + 1 >= u->ends->len) {
                finish(u, u->state, u->result, u->status);
                return;
        }
        if (t->cancel_requested) {
                finish(u, TASK_CANCELLED, "cancelled", 0);
                return;
        }
        left = runtime_left(u, t);
        if (left == 0) {
                finish(u, TASK_TIMEOUT, "timeout", 0);
                return;
        }

        /* The next run, under the same task, in a unit of its own. */
        if (u->started)
                release_unit(x, u->name);
        g_hash_table_steal(x->units, u->path);
        u->query = sd_bus_slot_unref(u->query);
        u->started = u->requery = u->seen_active = u->inactive = false;
        u->run++;
        r = start_run(u, t, left);
        if (r < 0) {
                if (!u->path)
                        u->path = g_strdup("/");        /* only as its key in units, to be removed */
                g_hash_table_insert(x->units, u->path, u);
                if (u->state == TASK_DONE)
                        finish(u, TASK_FAILED, "start-failed", 0);
                else
                        finish(u, u->state, u->result, u->status);
                return;
        }
        g_hash_table_insert(x->units, u->path, u);
        g_free(t->unit_name);
        t->unit_name = g_strdup(u->name);
        scheduler_task_runner_changed(x->ctx.scheduler, t);     /* a restart must find this unit */
        from = g_array_index(u->ends, size_t, u->run - 1);
        to = g_array_index(u->ends, size_t, u->run);
        f = LOG_FIELD("INOTASKD_UNIT", u->name);
        task_log(LOG_INFO, NULL, t, &f, 1, "Task %" PRIu64 " (%s): run %zu of %u started for paths %zu-%zu "
                 "(unit %s).", t->id, t->rule->name, u->run + 1, u->ends->len, from + 1, to, u->name);
}

static int transient_start(Runner *runner, Task *t) {
        TransientRunner *x = (TransientRunner *) runner;
        _cleanup_free_ char *shown = NULL;
        UnitTask *u;
        LogField f;
        int r;

        if (x->ctx.dry_run) {
                _cleanup_free_ char *id = NULL, *mask = NULL, *dir = NULL;
                _cleanup_strv_free_ char **argv = NULL;
                TemplateValues v;

                task_template_values(t, &v, &id, &mask, &dir);
                argv = task_command_argv(t, &v);
                shown = task_command_display(argv);
                task_log(LOG_INFO, MESSAGE_ID_TASK_STARTED, t, NULL, 0, "Task %" PRIu64 " (%s) would run in a "
                         "unit: %s", t->id, t->rule->name, shown);
                scheduler_task_finished(x->ctx.scheduler, t, TASK_DONE, "dry-run", 0);
                return 0;
        }

        u = g_new0(UnitTask, 1);
        u->x = x;
        u->state = TASK_DONE;
        u->result = "success";
        r = prepare(u, t, &shown);
        if (r >= 0) {
                u->start_usec = now_usec(CLOCK_MONOTONIC);
                r = start_run(u, t, runtime_left(u, t));
        }
        if (r < 0) {
                u->call = sd_bus_slot_unref(u->call);
                unit_task_free(u);
                return r;
        }

        u->task = t;
        t->runner_data = u;
        g_free(t->unit_name);
        t->unit_name = g_strdup(u->name);
        g_hash_table_insert(x->units, u->path, u);
        f = LOG_FIELD("INOTASKD_UNIT", u->name);
        task_log(LOG_INFO, MESSAGE_ID_TASK_STARTED, t, &f, 1, "Task %" PRIu64 " (%s) started: %s (unit %s)", t->id,
                 t->rule->name, shown, u->name);
        return 0;
}

/* A cancel stops the unit (SIGTERM to its whole cgroup, then systemd's SIGKILL); the stop's last resort
 * kills the cgroup at once. A task left to run on past the daemon's stop is not touched. */
static void transient_stop(Runner *runner, Task *t, RunnerStop how) {
        UnitTask *u = t->runner_data;

        if (!u || u->left)
                return;
        if (!u->started) {
                u->stop_pending = true;
                return;
        }
        stop_unit(u, how);
}

/* ------------------------------------------------------------------ adoption after a restart */

static int on_get_unit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitTask *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        Task *t = u->task;

        u->call = sd_bus_slot_unref(u->call);
        if (!t)
                return 0;
        if (e) {
                LogField f = LOG_FIELD("INOTASKD_ERROR", e->message);

                task_log(LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): its unit %s is gone, its result is "
                         "not known: %s", t->id, t->rule->name, u->name, e->message);
                finish(u, TASK_FAILED, "lost", 0);
                return 0;
        }
        u->started = true;
        task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): found its unit %s again.", t->id,
                 t->rule->name, u->name);
        query(u);
        return 0;
}

void transient_runner_adopt(TransientRunner *x, Task *t) {
        UnitTask *u = g_new0(UnitTask, 1);
        sd_bus *bus;
        int r;

        u->x = x;
        u->name = g_strdup(t->unit_name);
        u->run = unit_run_index(u->name);
        u->state = TASK_DONE;
        u->result = "success";
        u->task = t;
        t->runner_data = u;
        r = sd_bus_path_encode(UNIT_PATH_PREFIX, u->name, &u->path);
        if (r < 0) {
                t->runner_data = NULL;
                u->task = NULL;
                unit_task_free(u);
                scheduler_task_finished(x->ctx.scheduler, t, TASK_FAILED, "lost", 0);
                return;
        }
        g_hash_table_insert(x->units, u->path, u);
        r = systemd_bus_get(x->sbus, &bus);
        if (r >= 0)
                r = sd_bus_call_method_async(bus, &u->call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit",
                                             on_get_unit_reply, u, "s", u->name);
        if (r < 0) {
                task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): cannot look for its unit %s: %s",
                         t->id, t->rule->name, u->name, strerror(-r));
                finish(u, TASK_FAILED, "lost", 0);
        }
}

void transient_runner_release(TransientRunner *x, const char *unit) {
        sd_bus *bus;

        if (systemd_bus_get(x->sbus, &bus) >= 0)
                release_unit(x, unit);
}

unsigned transient_runner_leave_running(TransientRunner *x, bool restarting) {
        GHashTableIter i;
        gpointer v;

        g_hash_table_iter_init(&i, x->units);
        while (g_hash_table_iter_next(&i, NULL, &v)) {
                UnitTask *u = v;

                if (!u->task || u->left || !(restarting || !u->task->rule->stop_with_daemon))
                        continue;
                u->left = true;
                x->n_left++;
        }
        return x->n_left;
}

bool transient_runner_has_running(const TransientRunner *x) {
        return x && g_hash_table_size(x->units) > 0;
}

unsigned transient_runner_n_left(const TransientRunner *x) {
        return x ? x->n_left : 0;
}

/* ------------------------------------------------------------------ life */

static const RunnerOps transient_runner_ops = {
        .name = "transient",
        .start = transient_start,
        .stop = transient_stop,
};

int transient_runner_new(TransientRunner **ret, const RunnerContext *ctx, SystemdBus *sbus) {
        TransientRunner *x = g_new0(TransientRunner, 1);

        x->runner.ops = &transient_runner_ops;
        x->ctx = *ctx;
        x->sbus = sbus;
        x->units = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) unit_task_free);
        x->stdin_max = STDIN_DATA_MAX;
        /* Only for the tests, which cannot make 24 MiB lists quickly: a smaller limit. */
        if (getenv("INOTASKD_TEST_STDIN_DATA_MAX")) {
                uint64_t v = g_ascii_strtoull(getenv("INOTASKD_TEST_STDIN_DATA_MAX"), NULL, 10);

                if (v > 0 && v < STDIN_DATA_MAX)
                        x->stdin_max = (size_t) v;
        }
        systemd_bus_add_client(sbus, &(SystemdBusClient) {
                .connected = on_connected,
                .disconnected = on_disconnected,
                .userdata = x,
        });
        *ret = x;
        return 0;
}

TransientRunner *transient_runner_free(TransientRunner *x) {
        if (!x)
                return NULL;
        /* Units still running are systemd's: they go on, and the state file names them. */
        x->match = sd_bus_slot_unref(x->match);
        x->reconnect = sd_event_source_disable_unref(x->reconnect);
        g_hash_table_unref(x->units);
        g_free(x->self_user);
        g_free(x->self_home);
        g_free(x->self_shell);
        g_free(x);
        return NULL;
}

Runner *transient_runner_runner(TransientRunner *x) {
        return &x->runner;
}

/* D-Bus strings are UTF-8, and systemd takes no control character but tab and newline in an environment
 * value: a value that is neither cannot reach a unit. */
static bool value_fits(const char *v) {
        if (!v)
                return true;
        if (!g_utf8_validate(v, -1, NULL))
                return false;
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
                        return false;
        return true;
}

bool transient_runner_can_run(const Task *t) {
        if (!value_fits(t->path) || !value_fits(t->src_path) || !value_fits(t->item))
                return false;
        for (size_t i = 0; i < t->n_groups; i++)
                if (!value_fits(t->groups[i]))
                        return false;
        /* A batch's paths in its argv ({pathnames} ..) are D-Bus strings too; on its stdin they are bytes. */
        if (t->batch && t->rule->action == ACTION_EXEC && exec_template_uses_list(t->rule->exec_template))
                for (size_t i = 0; i < task_n_paths(t); i++) {
                        BatchEntry e;

                        task_path_entry(t, i, &e);
                        if (!g_utf8_validate(e.path, -1, NULL))
                                return false;
                }
        return true;
}

/* ------------------------------------------------------------------ configuration checks */

int task_units_check_config(const Config *c, GPtrArray *errors) {
        guint n = errors->len;

        for (guint i = 0; i < c->rules->len; i++) {
                const ConfigRule *r = c->rules->pdata[i];

                for (size_t k = 0; r->properties && r->properties[k]; k++) {
                        g_autofree char *e = NULL, *at = NULL;
                        const char *p = r->properties[k];

                        if (unit_property_check(p, &e) < 0) {
                                /* At the Property= line itself where known, else at the rule's header. */
                                if (r->property_origins && k < g_strv_length(r->property_origins))
                                        at = g_strdup(r->property_origins[k]);
                                else
                                        at = g_strdup_printf("%s:%u", r->file, r->line);
                                g_ptr_array_add(errors, g_strdup_printf("%s: [Rule %s] %s", at, r->name, e ?: p));
                        }
                }
        }
        return errors->len > n ? CONFIG_E_INVALID : 0;
}

int task_units_check_manager(const Config *c, bool user_mode, GPtrArray *errors) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        guint n = errors->len;
        bool any = false;
        int r;

        for (guint i = 0; i < c->rules->len && !any; i++)
                any = ((const ConfigRule *) c->rules->pdata[i])->properties[0] != NULL;
        if (!any)
                return 0;
        r = user_mode ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        for (guint i = 0; i < c->rules->len; i++) {
                const ConfigRule *rule = c->rules->pdata[i];
                g_autoptr(GPtrArray) e = g_ptr_array_new_with_free_func(g_free);

                r = unit_property_check_manager(bus, rule->properties, e);
                if (r < 0)
                        return r;
                for (guint k = 0; k < e->len; k++)
                        g_ptr_array_add(errors, g_strdup_printf("%s:%u: [Rule %s] %s", rule->file, rule->line,
                                                                rule->name, (const char *) e->pdata[k]));
        }
        return errors->len > n ? CONFIG_E_INVALID : 0;
}
