/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit actions over systemd's D-Bus API: StartUnit & co. in "replace" mode, then JobRemoved tells the
 * job's result. The connection is opened on first use (the system manager, or the user manager). */
#include <inttypes.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "escape.h"
#include "log.h"
#include "runner-unit.h"
#include "systemd-bus.h"
#include "template.h"

struct UnitRunner {
        Runner runner;
        RunnerContext ctx;
        SystemdBus *sbus;
        sd_bus *bus;                    /* sbus's connection while it is open (borrowed) */
        sd_bus_slot *match;
        GHashTable *jobs;               /* job object path -> Task* (whose runner_data is that path) */
        /* JobRemoved of jobs not known yet: possibly ours, with the reply to the call still to come. Only
         * heard while a call is out, and kept only while a call sent before it is still out: a job
         * removed after every earlier call was answered is someone else's. So it stays as small as the
         * jobs that end while calls are out, however many foreign jobs the manager runs. */
        GHashTable *early;              /* job path -> Early* (owned by early_order) */
        GQueue early_order;             /* Early*, in arrival order (so by seq) */
        GQueue calls;                   /* Call* out, in the order sent (so by seq) */
        uint64_t n_sent;                /* calls sent so far */
};

typedef struct Early {
        char *job, *result;
        uint64_t seq;                   /* calls sent when it came: it can only be the job of those */
} Early;

typedef struct Call {
        UnitRunner *runner;
        uint64_t task_id;
        uint64_t seq;                   /* 1 for the first call */
} Call;

static void early_free(Early *e) {
        g_free(e->job);
        g_free(e->result);
        g_free(e);
}

/* Forgets the early results no call still out can claim: those that came before the oldest call out
 * was sent (or all of them, with no call out). */
static void early_prune(UnitRunner *u) {
        const Call *oldest = g_queue_peek_head(&u->calls);
        Early *e;

        while ((e = g_queue_peek_head(&u->early_order)) && (!oldest || e->seq < oldest->seq)) {
                g_queue_pop_head(&u->early_order);
                g_hash_table_remove(u->early, e->job);
                early_free(e);
        }
}

static void early_clear(UnitRunner *u) {
        g_hash_table_remove_all(u->early);
        g_queue_clear_full(&u->early_order, (GDestroyNotify) early_free);
}

char *unit_name_escape(const char *s) {
        GString *o = g_string_new(NULL);

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '/')
                        g_string_append_c(o, '-');
                else if (g_ascii_isalnum(*p) || *p == ':' || *p == '_' || (*p == '.' && p != (const unsigned char *) s))
                        g_string_append_c(o, (char) *p);
                else
                        g_string_append_printf(o, "\\x%02x", *p);
        }
        return g_string_free(o, false);
}

char *unit_name_for_task(const Task *t, char **ret_error) {
        _cleanup_free_ char *id = NULL, *mask = NULL, *dir = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        TemplateValues v, escaped = {};
        char *esc[_PLACEHOLDER_MAX] = {};
        g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func(g_free);
        char *name = NULL;

        /* Compiled at load, like Exec=; a rule without it failed to load. */
        if (!t->rule->unit_template) {
                *ret_error = g_strdup("Unit= is not compiled");
                return NULL;
        }
        task_template_values(t, &v, &id, &mask, &dir);
        for (int p = 0; p < _PLACEHOLDER_MAX; p++)
                escaped.fixed[p] = esc[p] = unit_name_escape(strempty(v.fixed[p]));
        for (size_t i = 0; i < v.n_groups; i++)
                g_ptr_array_add(groups, unit_name_escape(strempty(v.groups[i])));
        escaped.groups = (const char *const *) groups->pdata;
        escaped.n_groups = groups->len;

        argv = exec_template_expand(t->rule->unit_template, &escaped);
        if (g_strv_length(argv) != 1)
                *ret_error = g_strdup("Unit= must be one unit name");
        else
                name = g_strdup(argv[0]);
        for (int p = 0; p < _PLACEHOLDER_MAX; p++)
                g_free(esc[p]);
        return name;
}

static void finish(UnitRunner *u, Task *t, const char *result) {
        bool ok = streq(result, "done");
        bool cancelled = !ok && t->cancel_requested && streq(result, "canceled");
        LogField f = LOG_FIELD("INOTASKD_JOB_RESULT", result);

        t->runner_data = NULL;
        task_log(ok || cancelled ? LOG_INFO : LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): job %s.",
                 t->id, t->rule->name, result);
        if (cancelled)
                scheduler_task_finished(u->ctx.scheduler, t, TASK_CANCELLED, "cancelled", 0);
        else
                scheduler_task_finished(u->ctx.scheduler, t, ok ? TASK_DONE : TASK_FAILED,
                                        ok ? "success" : "job-failed", 0);
}

static int on_cancel_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        /* The job may be gone already (it ended meanwhile): its JobRemoved tells what happened. */
        if (e)
                log_debug("Cancelling a unit job failed, ignoring: %s", e->message);
        return 0;
}

static void cancel_job(UnitRunner *u, Task *t, const char *job) {
        int r = sd_bus_call_method_async(u->bus, NULL, "org.freedesktop.systemd1", job,
                                         "org.freedesktop.systemd1.Job", "Cancel", on_cancel_reply, NULL, NULL);

        if (r < 0)
                task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): cannot cancel job %s: %s", t->id,
                         t->rule->name, job, strerror(-r));
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        UnitRunner *u = userdata;
        const char *job, *unit, *result;
        uint32_t id;
        Task *t;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        t = g_hash_table_lookup(u->jobs, job);
        if (!t) {
                Early *e;

                /* Possibly ours, with the reply still to come; not if no call is out. */
                if (g_queue_is_empty(&u->calls) || g_hash_table_contains(u->early, job))
                        return 0;
                e = g_new(Early, 1);
                *e = (Early) { .job = g_strdup(job), .result = g_strdup(result), .seq = u->n_sent };
                g_queue_push_tail(&u->early_order, e);
                g_hash_table_insert(u->early, e->job, e);
                return 0;
        }
        t->runner_data = NULL;
        g_hash_table_remove(u->jobs, job);
        finish(u, t, result);
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        UnitRunner *u = c->runner;
        Task *t = scheduler_get(u->ctx.scheduler, c->task_id);
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *job;
        Early *early;

        /* Still counted as out while its own early result is looked up, then the table is pruned. */
        g_queue_remove(&u->calls, c);
        g_free(c);
        if (!t || t->state != TASK_RUNNING) {
                early_prune(u);
                return 0;
        }
        if (e) {
                LogField f = LOG_FIELD("INOTASKD_ERROR", e->message);

                early_prune(u);
                task_log(LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): %s", t->id, t->rule->name, e->message);
                scheduler_task_finished(u->ctx.scheduler, t, TASK_FAILED, "job-failed", 0);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &job) < 0) {
                early_prune(u);
                scheduler_task_finished(u->ctx.scheduler, t, TASK_FAILED, "job-failed", 0);
                return 0;
        }
        early = g_hash_table_lookup(u->early, job);
        if (early) {
                g_autofree char *r = g_strdup(early->result);

                g_hash_table_remove(u->early, job);
                g_queue_remove(&u->early_order, early);
                early_free(early);
                early_prune(u);
                finish(u, t, r);
                return 0;
        }
        early_prune(u);
        t->runner_data = g_strdup(job);
        g_hash_table_insert(u->jobs, t->runner_data, t);
        /* A cancel that came while the call was out. */
        if (t->cancel_requested)
                cancel_job(u, t, job);
        return 0;
}

/* The connection ended (dbus-daemon restarted): the JobRemoved of the jobs still out is lost with it, so
 * their tasks end now, as failed, instead of running forever; the next unit action connects again. */
static void on_disconnected(void *userdata) {
        UnitRunner *u = userdata;
        GList *waiting;

        u->match = sd_bus_slot_unref(u->match);
        u->bus = NULL;
        log_warning("Lost the connection to the %s bus for unit actions, failing %u tasks waiting for a job.",
                    systemd_bus_user_mode(u->sbus) ? "user" : "system", g_hash_table_size(u->jobs));
        /* Taken out first: finishing a task may start another, which adds to the table. */
        waiting = g_hash_table_get_values(u->jobs);
        for (GList *l = waiting; l; l = l->next)
                ((Task *) l->data)->runner_data = NULL;
        g_hash_table_remove_all(u->jobs);      /* the paths go, the tasks stay */
        early_clear(u);
        for (GList *l = waiting; l; l = l->next)
                finish(u, l->data, "connection-lost");
        g_list_free(waiting);
}

static int on_connected(sd_bus *bus, void *userdata) {
        UnitRunner *u = userdata;
        int r;

        u->match = sd_bus_slot_unref(u->match);
        r = sd_bus_match_signal(bus, &u->match, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, u);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to JobRemoved: %m");
        u->bus = bus;
        return 0;
}

static int connect_bus(UnitRunner *u) {
        sd_bus *bus;

        return systemd_bus_get(u->sbus, &bus);
}

static int unit_start(Runner *runner, Task *t);
static void unit_stop(Runner *runner, Task *t, RunnerStop how);

static const RunnerOps unit_runner_ops = {
        .name = "unit",
        .start = unit_start,
        .stop = unit_stop,
};

int unit_runner_new(UnitRunner **ret, const RunnerContext *ctx, SystemdBus *sbus) {
        UnitRunner *u = g_new0(UnitRunner, 1);

        u->runner.ops = &unit_runner_ops;
        u->ctx = *ctx;
        sd_event_ref(u->ctx.event);
        u->sbus = sbus;
        systemd_bus_add_client(sbus, &(SystemdBusClient) {
                .connected = on_connected,
                .disconnected = on_disconnected,
                .userdata = u,
        });
        u->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        u->early = g_hash_table_new(g_str_hash, g_str_equal);
        g_queue_init(&u->early_order);
        g_queue_init(&u->calls);
        *ret = u;
        return 0;
}

UnitRunner *unit_runner_free(UnitRunner *u) {
        if (!u)
                return NULL;
        u->match = sd_bus_slot_unref(u->match);
        g_hash_table_unref(u->jobs);
        early_clear(u);
        g_hash_table_unref(u->early);
        /* Calls still out: their replies never come now. */
        g_queue_clear_full(&u->calls, g_free);
        sd_event_unref(u->ctx.event);
        g_free(u);
        return NULL;
}

static const char *method_for(ActionType a) {
        switch (a) {
        case ACTION_START_UNIT:
                return "StartUnit";
        case ACTION_STOP_UNIT:
                return "StopUnit";
        case ACTION_RESTART_UNIT:
                return "RestartUnit";
        case ACTION_RELOAD_UNIT:
                return "ReloadUnit";
        default:
                return NULL;
        }
}

Runner *unit_runner_runner(UnitRunner *u) {
        return &u->runner;
}

static int unit_start(Runner *runner, Task *t) {
        UnitRunner *u = (UnitRunner *) runner;
        g_autofree char *name = NULL, *err = NULL;
        const char *method = method_for(t->rule->action);
        Call *c;
        int r;

        name = unit_name_for_task(t, &err);
        if (!name) {
                task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): bad Unit=: %s", t->id, t->rule->name,
                         strempty(err));
                return -EINVAL;
        }
        if (u->ctx.dry_run) {
                task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) would call %s(%s).", t->id,
                         t->rule->name, method, name);
                scheduler_task_finished(u->ctx.scheduler, t, TASK_DONE, "dry-run", 0);
                return 0;
        }
        r = connect_bus(u);
        if (r < 0)
                return r;
        task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) started: %s %s", t->id, t->rule->name, method,
                 name);
        c = g_new(Call, 1);
        *c = (Call) { .runner = u, .task_id = t->id, .seq = u->n_sent + 1 };
        r = sd_bus_call_method_async(u->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", method, on_reply, c, "ss", name, "replace");
        if (r < 0) {
                g_free(c);
                return log_error_errno(r, "Failed to call %s: %m", method);
        }
        u->n_sent++;
        g_queue_push_tail(&u->calls, c);
        return 0;
}

/* The job is cancelled, once its path is known (else on_reply does it). A job cannot be killed: KILL is
 * a cancel as well, so the stop does not wait on a job that systemd may keep for long. */
static void unit_stop(Runner *runner, Task *t, RunnerStop how) {
        UnitRunner *u = (UnitRunner *) runner;

        if (how == RUNNER_STOP_KILL && t->cancel_requested)
                return;
        if (t->runner_data && u->bus)
                cancel_job(u, t, t->runner_data);
}
