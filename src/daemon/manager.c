/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's context: loads and reloads the configuration, routes events to rules, keeps systemd
 * informed and stops cleanly. */
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "bus.h"
#include "config.h"
#include "event-util.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"
#include "notify.h"
#include "open-beneath.h"
#include "rule.h"
#include "plugin.h"
#include "runner-exec.h"
#include "runner-file.h"
#include "runner-transient.h"
#include "runner-unit.h"
#include "scheduler.h"
#include "state-saver.h"
#include "state.h"

/* STATUS= is coalesced: at most one update per this interval, and none while nothing changes. */
#define STATUS_INTERVAL_USEC (100 * USEC_PER_MSEC)

struct Manager {
        ManagerOptions options;
        ManagerState state;
        sd_event *event;
        sd_event_source *sig_term, *sig_int, *sig_hup;
        sd_event_source *status_timer, *shutdown_timer;
        char *state_dir;
        StateSaver *saver;              /* when there is a state directory */
        usec_t stop_usec;               /* CLOCK_REALTIME_COARSE (file times) when the stop stopped reading events */

        ConfigSourcesOwned *sources;
        Config *config;
        Backend *backend;
        Scheduler *scheduler;
        RunnerContext runner;
        Worker *worker;                 /* file actions and plugins, off the loop */
        ExecRunner *exec;
        FileRunner *files;
        PluginRunner *plugin_runner;
        UnitRunner *units;
        SystemdBus *sbus;               /* the service manager's bus, for units and unit tasks */
        TransientRunner *transient;     /* TaskUnits=yes */
        int task_units_auto;            /* what TaskUnits=auto means here: -1 not known yet, 0 no, 1 yes */
        GHashTable *plugins;            /* ConfigRule* -> PluginInstance* of the current configuration */
        Bus *bus;

        char *last_status;
        int ready_fd;
        unsigned once_done, once_failed;        /* --once: tasks finished, and of them failed */
        bool shutdown_killed;
};

static const char *const manager_state_table[_MANAGER_STATE_MAX] = {
        [MANAGER_STARTING] = "starting",
        [MANAGER_READY] = "ready",
        [MANAGER_RELOADING] = "reloading",
        [MANAGER_STOPPING] = "stopping",
};

const char *manager_state_to_string(ManagerState s) {
        return s >= 0 && s < _MANAGER_STATE_MAX ? manager_state_table[s] : NULL;
}

/* ------------------------------------------------------------------ status */

static char *status_text(Manager *m) {
        BackendStats b;
        SchedulerStats s;
        GString *t = g_string_new(NULL);

        backend_get_stats(m->backend, &b);
        scheduler_get_stats(m->scheduler, &s);
        if (m->state == MANAGER_STOPPING)
                g_string_append_printf(t, "Stopping: %u running", s.n_running);
        else
                g_string_append_printf(t, "Watching %u directories in %u watches; %u scheduled, %u running",
                                       b.n_directories, b.n_watches, s.n_scheduled, s.n_running);
        if (b.n_waiting > 0)
                g_string_append_printf(t, "; %u waiting for their path", b.n_waiting);
        if (b.n_unwatched > 0)
                g_string_append_printf(t, "; %u not watched (watch limit)", b.n_unwatched);
        if (b.n_overflows > 0)
                g_string_append_printf(t, "; %" PRIu64 " overflows", b.n_overflows);
        return g_string_free(t, false);
}

static void update_status(Manager *m) {
        g_autofree char *s = status_text(m);

        if (m->last_status && streq(m->last_status, s))
                return;
        notify_status(s);
        g_free(m->last_status);
        m->last_status = TAKE_PTR(s);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        update_status(userdata);
        return 0;
}

static void status_changed(Manager *m) {
        if (!event_source_armed(m->status_timer) &&
            event_arm_timer(m->event, &m->status_timer, STATUS_INTERVAL_USEC, 10 * USEC_PER_MSEC, on_status_timer,
                            m, "status") < 0)
                update_status(m);
}

/* ------------------------------------------------------------------ events -> rules */

/* The scheduled tasks of r for path (one per ForEach= item) after the move or removal ev. */
static void follow_tasks_of(Manager *m, ConfigRule *r, const char *path, Event *ev) {
        const char *no_items[] = { NULL, NULL };
        const char *const *items = r->for_each && r->for_each[0] ? (const char *const *) r->for_each : no_items;

        for (size_t i = 0; i == 0 || items[i]; i++) {
                Task *t = scheduler_find(m->scheduler, r, items[i], path);
                _cleanup_strv_free_ char **groups = NULL;

                /* A task for the old name's going away (IN_MOVED_FROM, a delete) stays with it. */
                if (!t || task_is_deletion(t))
                        continue;
                if (ev->kind == EVENT_KIND_DELETED)
                        scheduler_cancel_task(m->scheduler, t, "moved out of the watch");
                else if (ev->kind != EVENT_KIND_MOVED)
                        scheduler_cancel_task(m->scheduler, t, "renamed away (deleted)");
                else if (rule_match_entry(r, ev, &groups))
                        scheduler_rekey(m->scheduler, t, event_pathname(ev), groups);
                else
                        scheduler_cancel_task(m->scheduler, t, "renamed to a name its rule does not match");
        }
}

/* A task below a renamed directory (userdata: the directory's move) at its new path: does its rule still
 * match it (Match=, MatchRegex= with its groups anew), and is the path not excluded by the watch? */
static bool task_follows(const Task *t, const char *new_path, char ***ret_groups, const char **ret_why,
                         void *userdata) {
        Event *dir = userdata;
        const char *base = strrchr(new_path, '/');
        Event ev = {
                .watch = dir->watch,
                .mask = t->mask,
                .kind = t->kind,
                .is_dir = t->mask & IN_ISDIR,
                .node = dir->node,
                .name = base ? base + 1 : new_path,
                .pathname = g_strdup(new_path),
                .relpath_offset = relpath_offset(new_path, dir->watch->path),
        };
        bool ok;

        if (watch_excluded_relpath(dir->watch, event_relpath(&ev))) {
                *ret_why = "renamed to a path the watch excludes";
                ok = false;
        } else if (!(ok = rule_match_entry(t->rule, &ev, ret_groups)))
                *ret_why = "renamed to a path its rule does not match";
        event_done(&ev);
        return ok;
}

/* Waiting tasks follow their files (only moves get here, no cost for other events). The renamed-away
 * half of a move (kind none) is a deletion for rules with CancelOn=deleted; the arriving half (moved,
 * with the old path) re-keys the old name's tasks, or cancels them if the rule no longer matches; a
 * move out of the watch (deleted) cancels them. A directory takes the tasks below it along. */
static void follow_move(Manager *m, Event *ev, GPtrArray *rules) {
        const char *old;

        if (ev->kind == EVENT_KIND_NONE) {
                old = event_pathname(ev);
                for (guint i = 0; i < rules->len; i++) {
                        ConfigRule *r = rules->pdata[i];

                        if ((r->cancel_kinds & EVENT_KIND_BIT(EVENT_KIND_DELETED)) ||
                            (r->cancel_mask & (IN_DELETE | IN_MOVED_FROM)))
                                follow_tasks_of(m, r, old, ev);
                }
                return;
        }
        old = ev->kind == EVENT_KIND_MOVED ? ev->src_pathname : event_pathname(ev);
        if (!old)
                return;
        for (guint i = 0; i < rules->len; i++)
                follow_tasks_of(m, rules->pdata[i], old, ev);
        if (!ev->is_dir)
                return;
        if (ev->kind == EVENT_KIND_MOVED)
                scheduler_rename_prefix(m->scheduler, ev->watch->name, old, event_pathname(ev), task_follows,
                                        ev);
        else
                scheduler_cancel_below(m->scheduler, ev->watch->name, old, "moved out of the watch");
}

static void on_event(Backend *b, Event *ev, void *userdata) {
        Manager *m = userdata;
        GPtrArray *rules = ev->watch->userdata;

        if (!rules)
                return;
        if ((ev->mask & IN_MOVED_FROM) || ev->kind == EVENT_KIND_MOVED)
                follow_move(m, ev, rules);
        for (guint i = 0; i < rules->len; i++) {
                ConfigRule *r = rules->pdata[i];
                _cleanup_strv_free_ char **groups = NULL;

                switch (rule_match(r, ev, &groups)) {
                case RULE_SCHEDULE:
                        if (rule_on_by_replacement(r, ev)) {
                                /* {event} is "changed" for it; the path stays the event's (borrowed). */
                                Event change = *ev;

                                (void) event_pathname(ev);
                                change.pathname = ev->pathname;
                                change.relpath_offset = ev->relpath_offset;
                                change.kind = EVENT_KIND_CHANGED;
                                scheduler_schedule(m->scheduler, r, &change, groups);
                        } else
                                scheduler_schedule(m->scheduler, r, ev, groups);
                        break;
                case RULE_CANCEL:
                        scheduler_cancel_event(m->scheduler, r, ev);
                        break;
                case RULE_IGNORE:
                        break;
                }
        }
}

/* The set of scheduled tasks changed: save it soon, once for a whole burst. */
static void state_changed(Manager *m) {
        state_saver_tasks_changed(m->saver);
}

static void on_before_due(void *userdata) {
        backend_drain(((Manager *) userdata)->backend);
}

static bool on_path_gone(const char *path, void *userdata) {
        struct stat st;

        return lstat_any_length(path, &st) == -ENOENT;
}

static void on_task_new(Task *t, void *userdata) {
        bus_task_new(((Manager *) userdata)->bus, t);
        state_changed(userdata);
}

static void on_task_changed(Task *t, void *userdata) {
        bus_task_changed(((Manager *) userdata)->bus, t);
        state_changed(userdata);
}

static void on_task_started(Task *t, void *userdata) {
        bus_task_started(((Manager *) userdata)->bus, t);
        state_changed(userdata);
}

static void on_task_removed(Task *t, void *userdata) {
        Manager *m = userdata;

        bus_task_removed(m->bus, t);
        state_changed(userdata);
        if (m->options.once) {
                m->once_done++;
                if (t->state != TASK_DONE) {
                        m->once_failed++;
                        log_error("--once: task %" PRIu64 " (rule %s, %s) did not succeed: %s.", t->id,
                                  t->rule->name, t->path, t->result ?: "unknown");
                }
        }
}

/* --once: nothing is scheduled or running any more: exit, 0 if every task succeeded. */
static void once_check(Manager *m) {
        SchedulerStats s;

        if (!m->options.once || m->state != MANAGER_READY)
                return;
        scheduler_get_stats(m->scheduler, &s);
        if (s.n_scheduled > 0 || s.n_running > 0)
                return;
        if (m->once_failed > 0)
                log_error("--once: %u of %u tasks failed, exiting with failure.", m->once_failed,
                          m->once_done);
        else
                log_info("--once: %u tasks run, all succeeded.", m->once_done);
        (void) sd_event_exit(m->event, m->once_failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static void on_watches_changed(void *userdata) {
        bus_watches_changed(((Manager *) userdata)->bus);
}

static void on_task_forgotten(Task *t, void *userdata) {
        bus_task_forgotten(((Manager *) userdata)->bus, t);
}

static void set_state(Manager *m, ManagerState state) {
        m->state = state;
        bus_manager_changed(m->bus, BUS_PROP_STATE);
}

static void on_counts_changed(void *userdata) {
        Manager *m = userdata;

        status_changed(m);
        bus_manager_changed(m->bus, BUS_PROP_COUNTS);
        if (m->state == MANAGER_STOPPING) {
                SchedulerStats s;

                scheduler_get_stats(m->scheduler, &s);
                /* Unit tasks left to run on past the stop are not waited for. */
                if (s.n_running <= transient_runner_n_left(m->transient))
                        (void) sd_event_exit(m->event, 0);
        }
        once_check(m);
}

/* TaskUnits=auto: yes when systemd started us (INVOCATION_ID) and its manager answers on the bus; in
 * the foreground no. Found out once, on first need. */
static bool task_units_auto(Manager *m) {
        if (m->task_units_auto < 0) {
                m->task_units_auto = getenv("INVOCATION_ID") && sd_booted() > 0 &&
                                     systemd_bus_manager_reachable(m->sbus);
                log_info("TaskUnits=auto: tasks run %s.", m->task_units_auto ? "as transient units" :
                         "as child processes (no service manager)");
        }
        return m->task_units_auto > 0;
}

static bool task_units_for(Manager *m, const ConfigRule *r) {
        TaskUnits u = r->task_units != TASK_UNITS_INHERIT ? r->task_units :
                      m->config ? m->config->daemon.task_units : TASK_UNITS_AUTO;

        return u == TASK_UNITS_YES || (u == TASK_UNITS_AUTO && task_units_auto(m));
}

static Runner *runner_for(const Task *t, void *userdata) {
        Manager *m = userdata;

        switch (t->rule->action) {
        case ACTION_EXEC:
        case ACTION_SHELL:
                if (task_units_for(m, t->rule)) {
                        if (transient_runner_can_run(t))
                                return transient_runner_runner(m->transient);
                        task_log(LOG_NOTICE, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): its path is not UTF-8 text "
                                 "a unit can take, spawning it directly.", t->id, t->rule->name);
                }
                return exec_runner_runner(m->exec);
        case ACTION_MOVE:
        case ACTION_COPY:
        case ACTION_DELETE:
                return file_runner_runner(m->files);
        case ACTION_START_UNIT:
        case ACTION_STOP_UNIT:
        case ACTION_RESTART_UNIT:
        case ACTION_RELOAD_UNIT:
                return unit_runner_runner(m->units);
        case ACTION_PLUGIN:
                return plugin_runner_runner(m->plugin_runner);
        default:
                task_log(LOG_ERR, NULL, t, NULL, 0, "Task %" PRIu64 ": Action=%s is not supported.", t->id,
                         action_type_to_string(t->rule->action));
                return NULL;
        }
}

/* ------------------------------------------------------------------ configuration */

static void watch_rules_free(Watch *w) {
        if (w->userdata)
                g_ptr_array_unref(w->userdata);
        w->userdata = NULL;
}

/* Which rules each watch feeds. */
static void bind_rules(Config *c, GPtrArray *watches) {
        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];
                GPtrArray *rules = g_ptr_array_new();

                for (guint j = 0; j < c->rules->len; j++) {
                        ConfigRule *r = c->rules->pdata[j];

                        if (!r->watches[0] || g_strv_contains((const char *const *) r->watches, w->name))
                                g_ptr_array_add(rules, r);
                }
                watch_rules_free(w);
                w->userdata = rules;
        }
}

/* r: config_load_with_plugins()'s answer. Only an invalid configuration is MESSAGE_ID_CONFIG_INVALID. */
static void log_config_errors(GPtrArray *errors, int level, int r) {
        for (guint i = 0; i < errors->len; i++) {
                LogField f = LOG_FIELD("INOTASKD_CONFIG_ERROR", errors->pdata[i]);

                if (r == CONFIG_E_INVALID)
                        (void) log_struct(level, 0, MESSAGE_ID_CONFIG_INVALID, &f, 1, "%s",
                                          (const char *) errors->pdata[i]);
                else
                        (void) log_struct(level, r, NULL, &f, 1, "%s", (const char *) errors->pdata[i]);
        }
}

void manager_set_log_level_override(Manager *m, int level) {
        m->options.log_level_override = level;
        log_set_max_level(level);
}

static void apply_daemon_settings(Manager *m, const Config *c) {
        if (m->options.log_level_override >= 0)
                log_set_max_level(m->options.log_level_override);
        else
                log_set_max_level(c->daemon.log_level);
        scheduler_set_limits(m->scheduler, c->daemon.max_running, c->daemon.task_history);
}

/* Watches: keep the ones that did not change (with their trees and kernel watches), drop the rest,
 * add the new ones. Returns the added watches, which still owe their InitialEvent=. */
static GPtrArray *apply_watches(Manager *m, Config *c) {
        g_autoptr(GPtrArray) old = g_ptr_array_copy(backend_get_watches(m->backend), NULL, NULL);
        GPtrArray *added = g_ptr_array_new();
        uint32_t mask = 0;

        for (guint i = 0; i < c->rules->len; i++)
                mask |= rule_inotify_mask(c->rules->pdata[i]);
        (void) backend_set_mask(m->backend, mask);

        for (guint i = 0; i < old->len; i++) {
                Watch *w = old->pdata[i];
                const ConfigWatch *cw = config_find_watch(c, w->name);

                if (cw && backend_watch_matches(w, cw) && w->active)
                        continue;
                watch_rules_free(w);
                bus_watch_removing(m->bus, w);
                backend_remove_watch(m->backend, w);
        }
        for (guint i = 0; i < c->watches->len; i++) {
                ConfigWatch *cw = c->watches->pdata[i];
                Watch *w;

                if (backend_find_watch(m->backend, cw->name))
                        continue;
                if (backend_add_watch(m->backend, cw, &w) >= 0) {
                        g_ptr_array_add(added, w);
                        bus_watch_added(m->bus, w);
                }
        }
        bind_rules(c, backend_get_watches(m->backend));
        return added;
}

/* Tasks saved by the previous run come back with what was left of their delay. */
static void restore_tasks(Manager *m) {
        g_autoptr(GPtrArray) seeds = NULL;
        uint64_t next_id = 0;
        unsigned n = 0;
        int k;

        /* --once runs what the initial events schedule, not a service's saved tasks, and saves nothing
         * that the service would find. */
        if (m->options.once)
                return;
        m->state_dir = state_directory(m->config->daemon.state_directory, m->options.user_mode,
                                       m->options.config_file || getenv("INOTASKD_CONFIG"));
        if (!m->state_dir)
                return;
        (void) state_saver_new(&m->saver, m->event, m->state_dir, m->scheduler, m->backend);
        k = state_load_tasks(m->state_dir, &seeds, &next_id);
        if (k < 0)
                return (void) log_warning_errno(k, "Failed to read scheduled tasks from %s, ignoring: %m",
                                                m->state_dir);
        scheduler_bump_next_id(m->scheduler, next_id);
        for (guint i = 0; i < seeds->len; i++) {
                TaskSeed *seed = seeds->pdata[i];
                ConfigRule *r = (ConfigRule *) config_find_rule(m->config, seed->rule);
                const Watch *w = backend_find_watch(m->backend, seed->watch);

                if (!r || !w) {
                        log_notice("Saved task %" PRIu64 " for %s: its rule or watch is gone, dropping it.",
                                   seed->id, seed->path);
                        if (seed->unit)
                                transient_runner_release(m->transient, seed->unit);
                        continue;
                }
                if (seed->unit) {
                        Task *t = scheduler_adopt(m->scheduler, r, w->path, seed,
                                                  transient_runner_runner(m->transient));

                        if (t)
                                transient_runner_adopt(m->transient, t);
                        continue;
                }
                if (scheduler_restore(m->scheduler, r, w->path, seed))
                        n++;
        }
        if (n > 0)
                log_info("Restored %u scheduled tasks from %s.", n, m->state_dir);
}

/* What changed while the daemon was not running: compare each watch with its snapshot. */
static void compare_snapshots(Manager *m, GPtrArray *watches) {
        if (!m->state_dir)
                return;
        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];
                g_autoptr(GHashTable) known = NULL;
                usec_t since = 0;

                if (state_load_snapshot(m->state_dir, w->name, w->path, &known, &since) < 0 || !known)
                        continue;
                log_info("Watch %s: comparing with its last snapshot.", w->name);
                backend_compare_snapshot(m->backend, w, known, since);
        }
}

int manager_start(Manager *m) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) added = NULL;
        g_autofree char *st = NULL;
        int r;

        r = config_load_with_plugins(&m->sources->sources, &m->config, &m->plugins, errors);
        if (r != 0) {
                /* Invalid: exit 78, systemd does not restart into the same mistake. Unreadable (a
                 * missing mount, a wrong mode): a failure like any other, which a restart may cure. */
                log_config_errors(errors, LOG_ERR, r);
                return r;
        }
        apply_daemon_settings(m, m->config);

        added = apply_watches(m, m->config);

        /* Without a bus the daemon still does its work: D-Bus is for watching and steering it. */
        r = bus_new(&m->bus, m, m->event, m->options.user_mode);
        if (r < 0)
                log_warning_errno(r, "Failed to set up the D-Bus interface, continuing without it: %m");

        restore_tasks(m);
        compare_snapshots(m, added);
        /* The saved tasks and snapshots were read into memory now freed, between the tasks: give the
         * pages back. */
        (void) malloc_trim(0);
        for (guint i = 0; i < added->len; i++)
                backend_raise_initial(m->backend, added->pdata[i]);
        if (m->options.once)
                /* Only what the initial events scheduled runs: nothing more is heard. */
                (void) backend_set_enabled(m->backend, false);
        state_saver_started(m->saver);

        set_state(m, MANAGER_READY);
        st = status_text(m);
        notify_ready(st);
        g_free(m->last_status);
        m->last_status = TAKE_PTR(st);
        log_info("Ready: %s.", m->last_status);
        if (m->ready_fd >= 0) {
                (void) write(m->ready_fd, "R", 1);
                m->ready_fd = safe_close(m->ready_fd);
        }
        once_check(m);
        return 0;
}

Backend *manager_get_backend(Manager *m) {
        return m->backend;
}

Scheduler *manager_get_scheduler(Manager *m) {
        return m->scheduler;
}

const Config *manager_get_config(Manager *m) {
        return m->config;
}

ManagerState manager_get_state(Manager *m) {
        return m->state;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);

        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        /* What is still scheduled runs after the next start; what changes meanwhile is found by
         * comparing with the snapshot. */
        state_saver_stop(m->saver, m->stop_usec);
        log_info("Stopped.");
        return r;
}

int manager_reload(Manager *m, GPtrArray *errors) {
        g_autoptr(GHashTable) plugins = NULL;
        Config *c = NULL;
        g_autoptr(GPtrArray) added = NULL;
        g_autofree char *st = NULL;
        int r;

        st = status_text(m);
        notify_reloading(st);
        set_state(m, MANAGER_RELOADING);

        r = config_load_with_plugins(&m->sources->sources, &c, &plugins, errors);
        if (r != 0) {
                /* Keep everything as it is: rules, watches and scheduled tasks. */
                log_config_errors(errors, LOG_WARNING, r);
                if (r > 0)
                        log_warning("Reload failed: the configuration has %u error%s, keeping the running "
                                    "one.", errors->len, errors->len == 1 ? "" : "s");
                else
                        log_warning_errno(r, "Reload failed: cannot read the configuration (%m), keeping "
                                          "the running one.");
                set_state(m, MANAGER_READY);
                g_free(st);
                st = status_text(m);
                notify_ready(st);
                return r;
        }

        added = apply_watches(m, c);
        /* The watch limit may have been raised, as its message asks. */
        backend_retry_unwatched(m->backend);
        scheduler_replace_rules(m->scheduler, c->rules);
        apply_daemon_settings(m, c);
        config_free(m->config);
        m->config = c;
        /* Running plugin jobs keep their instance alive; the old rules' instances go with them. */
        if (m->plugins)
                g_hash_table_unref(m->plugins);
        m->plugins = TAKE_PTR(plugins);
        for (guint i = 0; i < added->len; i++)
                backend_raise_initial(m->backend, added->pdata[i]);

        set_state(m, MANAGER_READY);
        g_free(st);
        st = status_text(m);
        notify_ready(st);
        (void) log_struct(LOG_INFO, 0, MESSAGE_ID_CONFIG_RELOADED, NULL, 0,
                          "Configuration reloaded: %u watches, %u rules.", c->watches->len, c->rules->len);
        return 0;
}


/* ------------------------------------------------------------------ signals and stopping */

/* After SIGKILL the children are reaped at once; only work in threads (file actions, plugins) can
 * outlast it, and that cannot be killed: give up on it after this long. */
#define SHUTDOWN_KILL_GRACE_USEC (2 * USEC_PER_SEC)

static int on_shutdown_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (m->shutdown_killed) {
                log_warning("Tasks still running after being killed, exiting anyway.");
                (void) sd_event_exit(m->event, 0);
                return 0;
        }
        log_warning("Tasks still running after ShutdownTimeoutSec=, killing them.");
        m->shutdown_killed = true;
        scheduler_kill_running(m->scheduler);
        (void) sd_event_source_set_time_relative(s, SHUTDOWN_KILL_GRACE_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* Unit tasks run on across a restart (systemctl restart: our unit's job is a restart), and across a stop
 * where their rule says StopWithDaemon=no; the next start finds them in the state file. */
static unsigned leave_unit_tasks(Manager *m) {
        g_autofree char *job = NULL;
        unsigned n;
        int r;

        if (transient_runner_leave_running(m->transient, false) == 0 && !transient_runner_has_running(m->transient))
                return 0;
        r = systemd_bus_own_job_type(m->sbus, &job);
        if (r < 0)
                log_warning_errno(r, "Failed to ask systemd whether this is a restart, taking it for a stop: %m");
        n = transient_runner_leave_running(m->transient, job && (streq(job, "restart") || streq(job, "try-restart")));
        if (n > 0)
                log_info("Stopping for a %s: %u unit tasks run on, the next start follows them.",
                         job ?: "stop", n);
        return n;
}

static void begin_stop(Manager *m) {
        g_autofree char *st = NULL;
        SchedulerStats s;
        unsigned running;

        if (m->state == MANAGER_STOPPING)
                return;
        set_state(m, MANAGER_STOPPING);
        (void) backend_set_enabled(m->backend, false);
        m->stop_usec = now_usec(CLOCK_REALTIME_COARSE);
        running = scheduler_stop(m->scheduler);
        running -= leave_unit_tasks(m);
        scheduler_get_stats(m->scheduler, &s);
        st = status_text(m);
        notify_stopping(st);
        if (s.n_scheduled > 0)
                log_notice("Stopping with %u scheduled tasks not run%s.", s.n_scheduled,
                           m->state_dir ? ", they are saved for the next start" : "");
        if (running == 0) {
                (void) sd_event_exit(m->event, 0);
                return;
        }
        {
                g_autofree char *t = format_timespan(m->config->daemon.shutdown_timeout);

                log_info("Stopping: waiting up to %s for %u running tasks.", t, running);
        }
        (void) sd_event_add_time_relative(m->event, &m->shutdown_timer, CLOCK_MONOTONIC,
                                          m->config->daemon.shutdown_timeout, USEC_PER_MSEC, on_shutdown_timeout, m);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        begin_stop(userdata);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);

        if (m->state == MANAGER_STOPPING)
                return 0;
        (void) manager_reload(m, errors);
        return 0;
}

/* ------------------------------------------------------------------ life */

int manager_new(Manager **ret, const ManagerOptions *o) {
        _cleanup_(manager_freep) Manager *m = g_new0(Manager, 1);
        sigset_t ss;
        int r;

        m->options = *o;
        m->ready_fd = o->ready_fd;
        m->state = MANAGER_STARTING;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");

        /* A bus message can be megabytes (a refused RunRule with a huge path): glibc would raise its mmap
         * threshold to that size after the first one and keep later ones in the heap when freed. A fixed
         * threshold gives such buffers back at once; at 32 KiB, a flood of 64 KiB calls does not leave
         * the heap fragmented between the small objects that live on (RSS 7.5-11.2 MB -> see the note). */
        (void) mallopt(M_MMAP_THRESHOLD, 32 * 1024);

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add signal sources: %m");

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable watchdog, ignoring: %m");

        r = backend_new(&m->backend, m->event, on_event, m);
        if (r < 0)
                return r;
        backend_on_watches_changed(m->backend, on_watches_changed);
        r = scheduler_new(&m->scheduler, m->event, runner_for, m);
        if (r < 0)
                return r;
        scheduler_set_listener(m->scheduler, &(SchedulerListener) {
                .task_new = on_task_new,
                .task_changed = on_task_changed,
                .task_started = on_task_started,
                .task_removed = on_task_removed,
                .task_forgotten = on_task_forgotten,
                .counts_changed = on_counts_changed,
                .before_due = on_before_due,
                .path_gone = on_path_gone,
                .userdata = m,
        });
        m->runner = (RunnerContext) {
                .event = m->event,
                .scheduler = m->scheduler,
                .dry_run = o->dry_run,
        };
        r = worker_new(&m->worker, m->event, 4);
        if (r < 0)
                return r;
        r = exec_runner_new(&m->exec, &m->runner);
        if (r >= 0)
                r = file_runner_new(&m->files, &m->runner, m->worker);
        if (r >= 0)
                r = plugin_runner_new(&m->plugin_runner, &m->runner, m->worker, &m->plugins);
        if (r >= 0)
                r = systemd_bus_new(&m->sbus, m->event, o->user_mode);
        if (r >= 0)
                r = unit_runner_new(&m->units, &m->runner, m->sbus);
        if (r >= 0)
                r = transient_runner_new(&m->transient, &m->runner, m->sbus);
        if (r < 0)
                return r;
        m->task_units_auto = -1;
        m->sources = config_sources_new(o->user_mode, o->config_file);

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->sig_term = sd_event_source_disable_unref(m->sig_term);
        m->sig_int = sd_event_source_disable_unref(m->sig_int);
        m->sig_hup = sd_event_source_disable_unref(m->sig_hup);
        m->status_timer = sd_event_source_disable_unref(m->status_timer);
        m->shutdown_timer = sd_event_source_disable_unref(m->shutdown_timer);
        m->saver = state_saver_free(m->saver);
        g_free(m->state_dir);
        /* The scheduler first: its tasks hold references to the configuration's rules. */
        m->bus = bus_free(m->bus);
        /* Workers finish their jobs and report to the scheduler: before it goes. */
        m->worker = worker_free(m->worker);
        m->units = unit_runner_free(m->units);
        m->transient = transient_runner_free(m->transient);
        m->sbus = systemd_bus_free(m->sbus);
        m->files = file_runner_free(m->files);
        m->plugin_runner = plugin_runner_free(m->plugin_runner);
        /* Its children's records point at tasks: before the scheduler. */
        m->exec = exec_runner_free(m->exec);
        m->scheduler = scheduler_free(m->scheduler);
        if (m->plugins)
                g_hash_table_unref(m->plugins);
        if (m->backend) {
                GPtrArray *ws = backend_get_watches(m->backend);

                for (guint i = 0; i < ws->len; i++)
                        watch_rules_free(ws->pdata[i]);
        }
        m->backend = backend_free(m->backend);
        m->config = config_free(m->config);
        m->sources = config_sources_free(m->sources);
        g_free(m->last_status);
        m->ready_fd = safe_close(m->ready_fd);
        sd_event_unref(m->event);
        g_free(m);
        return NULL;
}
