/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.inotaskd1.Manager: lists, verbs and properties over the scheduler, plus the bus connection. */
#include <grp.h>
#include <inttypes.h>
#include <string.h>

#include "backend-inotify.h"
#include "bus.h"
#include "bus-polkit.h"
#include "config.h"
#include "escape.h"
#include "event-names.h"
#include "log.h"
#include "manager.h"

struct Bus {
        sd_bus *bus;
        Manager *manager;
        sd_event_source *flush;         /* coalesces PropertiesChanged */
        BusManagerProperty dirty;
        GHashTable *dirty_tasks;        /* uint64 id -> NULL */
        sd_bus_track *subscribed;       /* clients that called Subscribe(); per-task signals only for them */
        BusPolkit *polkit;              /* calls waiting for their authorization; made at the first */
};

char *bus_task_path(uint64_t id) {
        return g_strdup_printf(BUS_TASK_PREFIX "/%" PRIu64, id);
}

/* ------------------------------------------------------------------ authorization */

/* Root, our own uid and members of AdminGroup= (by the groups the bus driver recorded at connect time)
 * are let through at once; anyone else is asked about in polkit (bus-polkit.c). Returns 1 when allowed, 0
 * when the answer is pending (the handler returns 1 and is called again with the same message), or a
 * negative error with error set. */
int bus_check_admin(sd_bus_message *message, Manager *m, const char *action, sd_bus_error *error) {
        Bus *b = manager_get_bus(m);
        const Config *c = manager_get_config(m);
        gid_t admin = (gid_t) -1;
        struct group *gr;
        int r;

        if (!b)
                return -ENOTCONN;
        if (!b->polkit) {
                r = bus_polkit_new(&b->polkit);
                if (r < 0)
                        return r;
        }
        if (c && c->daemon.admin_group && (gr = getgrnam(c->daemon.admin_group)))
                admin = gr->gr_gid;
        return bus_polkit_verify(b->polkit, message, action, admin, error);
}

int bus_reply_task_error(sd_bus_error *error, int r, uint64_t id) {
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_TASK, "No task %" PRIu64 ".", id);
        if (r == -EALREADY)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SCHEDULED, "Task %" PRIu64 " is not scheduled.", id);
        return r;
}

/* ------------------------------------------------------------------ methods */

/* The reply of a List* method: an array of element_sig, filled by fill(). */
static int reply_array(sd_bus_message *message, const char *element_sig,
                       int (*fill)(sd_bus_message *reply, void *userdata), void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', element_sig);
        if (r < 0)
                return r;
        r = fill(reply, userdata);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

typedef struct ListContext {
        sd_bus_message *reply;
        int r;
} ListContext;

static void append_task(Task *t, void *userdata) {
        ListContext *c = userdata;
        _cleanup_free_ char *path = NULL, *shown = NULL;

        if (c->r < 0)
                return;
        path = bus_task_path(t->id);
        shown = escape_display(t->path, strlen(t->path));
        c->r = sd_bus_message_append(c->reply, "(tosssst)", t->id, path, t->rule->name, shown,
                                     strempty(t->event_name), task_state_to_string(t->state),
                                     t->state == TASK_SCHEDULED ? t->due_usec : (uint64_t) 0);
}

static int fill_tasks(sd_bus_message *reply, void *userdata) {
        ListContext c = { .reply = reply };

        scheduler_foreach(manager_get_scheduler(userdata), append_task, &c);
        return c.r;
}

/* The read methods: org.inotaskd1.list-tasks, which the policy grants everyone unless a site says
 * otherwise (properties are not checked: a site hiding paths also denies Properties in the bus policy). */
static int check_list(sd_bus_message *message, Manager *m, sd_bus_error *error) {
        return bus_check_admin(message, m, POLKIT_ACTION_LIST_TASKS, error);
}

static int method_list_tasks(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = check_list(message, userdata, error);

        if (r <= 0)
                return r < 0 ? r : 1;
        return reply_array(message, "(tosssst)", fill_tasks, userdata);
}

static int method_get_task(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        Manager *m = userdata;
        uint64_t id;
        int r;

        r = sd_bus_message_read(message, "t", &id);
        if (r < 0)
                return r;
        r = check_list(message, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!scheduler_get(manager_get_scheduler(m), id))
                return bus_reply_task_error(error, -ENOENT, id);
        path = bus_task_path(id);
        return sd_bus_reply_method_return(message, "o", path);
}

static int task_verb(sd_bus_message *message, Manager *m, bool trigger, sd_bus_error *error) {
        Scheduler *s = manager_get_scheduler(m);
        uint64_t id;
        Task *t;
        int r;

        r = sd_bus_message_read(message, "t", &id);
        if (r < 0)
                return r;
        r = bus_check_admin(message, m, POLKIT_ACTION_MANAGE_TASKS, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asked polkit; this message comes back with the answer */
        t = scheduler_get(s, id);
        if (!t)
                return bus_reply_task_error(error, -ENOENT, id);
        r = trigger ? scheduler_trigger(s, t) : scheduler_cancel(s, t);
        if (r < 0)
                return bus_reply_task_error(error, r, id);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_cancel_task(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return task_verb(message, userdata, false, error);
}

static int method_trigger_task(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return task_verb(message, userdata, true, error);
}

static bool path_under(const char *path, const char *dir) {
        size_t l = strlen(dir);

        if (streq(dir, "/"))
                return path[0] == '/';
        return strncmp(path, dir, l) == 0 && (path[l] == '/' || path[l] == 0);
}

static int method_run_rule(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const Config *c = manager_get_config(m);
        const char *rule_name, *path;
        GPtrArray *watches = backend_get_watches(manager_get_backend(m));
        ConfigRule *rule;
        Task *t;
        int r;

        r = sd_bus_message_read(message, "ss", &rule_name, &path);
        if (r < 0)
                return r;
        r = bus_check_admin(message, m, POLKIT_ACTION_MANAGE_TASKS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        rule = c ? (ConfigRule *) config_find_rule(c, rule_name) : NULL;
        if (!rule)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_RULE, "No rule \"%s\".", rule_name);
        if (path[0] != '/')
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Path \"%s\" is not absolute.", path);

        /* The task needs a watch: the first of the rule's watches the path lies under. */
        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];

                if (rule->watches[0] && !g_strv_contains((const char *const *) rule->watches, w->name))
                        continue;
                if (!path_under(path, w->path))
                        continue;
                t = scheduler_run_rule(manager_get_scheduler(m), rule, w->name, w->path, path);
                return sd_bus_reply_method_return(message, "t", t->id);
        }
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Path \"%s\" is not below a watch of rule \"%s\".", path, rule_name);
}

static int fill_watches(sd_bus_message *reply, void *userdata) {
        GPtrArray *watches = backend_get_watches(manager_get_backend(userdata));
        int r;

        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];
                _cleanup_free_ char *shown = escape_display(w->path, strlen(w->path));

                r = sd_bus_message_append(reply, "(ssbbu)", w->name, shown, w->recursive, w->auto_add,
                                          backend_watch_n_directories(w));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int method_list_watches(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = check_list(message, userdata, error);

        if (r <= 0)
                return r < 0 ? r : 1;
        return reply_array(message, "(ssbbu)", fill_watches, userdata);
}

static char *rule_events(const ConfigRule *r) {
        GString *s = g_string_new(NULL);
        char buf[EVENT_MASK_STRING_MAX];

        if (r->on_mask)
                g_string_append(s, event_mask_to_string(r->on_mask, buf));
        for (int k = 0; k < _EVENT_KIND_MAX; k++)
                if (r->on_kinds & EVENT_KIND_BIT(k)) {
                        if (s->len > 0)
                                g_string_append_c(s, '|');
                        g_string_append(s, event_kind_to_string(k));
                }
        return g_string_free(s, false);
}

static int fill_rules(sd_bus_message *reply, void *userdata) {
        const Config *c = manager_get_config(userdata);
        int r;

        for (guint i = 0; c && i < c->rules->len; i++) {
                ConfigRule *rule = c->rules->pdata[i];
                _cleanup_free_ char *events = rule_events(rule);
                _cleanup_free_ char *watches = g_strjoinv(" ", rule->watches);

                r = sd_bus_message_append(reply, "(sssst)", rule->name, action_type_to_string(rule->action),
                                          events, watches, rule->delay == USEC_INFINITY ? UINT64_MAX : rule->delay);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int method_list_rules(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = check_list(message, userdata, error);

        if (r <= 0)
                return r < 0 ? r : 1;
        return reply_array(message, "(sssst)", fill_rules, userdata);
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        Manager *m = userdata;
        int r;

        r = bus_check_admin(message, m, POLKIT_ACTION_RELOAD, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = manager_reload(m, errors);
        if (r == -EINVAL) {
                g_autofree char *text = NULL;

                g_ptr_array_add(errors, NULL);
                text = g_strjoinv("\n", (char **) errors->pdata);
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_CONFIG,
                                         "Invalid configuration, keeping the running one:\n%s", text);
        }
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

/* Per-task signals cost a message each on a storm, so, like systemd's Manager, they go out only while
 * a client is subscribed. A subscriber that leaves the bus is dropped by the track; Subscribe() is
 * counted per call, so nested users of one connection each Unsubscribe(). */
static int method_subscribe(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = manager_get_bus(userdata);
        int r;

        if (!b)
                return -ENOTCONN;
        if (!b->subscribed) {
                r = sd_bus_track_new(sd_bus_message_get_bus(message), &b->subscribed, NULL, NULL);
                if (r < 0)
                        return r;
                (void) sd_bus_track_set_recursive(b->subscribed, true);
        }
        r = sd_bus_track_add_sender(b->subscribed, message);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_unsubscribe(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = manager_get_bus(userdata);
        int r;

        r = b && b->subscribed ? sd_bus_track_remove_sender(b->subscribed, message) : 0;
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUBSCRIBED, "Client is not subscribed.");
        return sd_bus_reply_method_return(message, NULL);
}

bool bus_has_subscribers(Bus *b) {
        return b && sd_bus_track_count(b->subscribed) > 0;
}

/* ------------------------------------------------------------------ properties */

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_state_to_string(manager_get_state(userdata)));
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        BackendStats b;
        SchedulerStats s;

        backend_get_stats(manager_get_backend(m), &b);
        scheduler_get_stats(manager_get_scheduler(m), &s);
        if (streq(property, "NWatches"))
                return sd_bus_message_append(reply, "u", b.n_watches);
        if (streq(property, "NDirectories"))
                return sd_bus_message_append(reply, "u", b.n_directories);
        if (streq(property, "NTasksScheduled"))
                return sd_bus_message_append(reply, "u", s.n_scheduled);
        if (streq(property, "NTasksRunning"))
                return sd_bus_message_append(reply, "u", s.n_running);
        if (streq(property, "NEvents"))
                return sd_bus_message_append(reply, "t", b.n_events);
        if (streq(property, "NOverflows"))
                return sd_bus_message_append(reply, "t", b.n_overflows);
        if (streq(property, "NTasksDone"))
                return sd_bus_message_append(reply, "t", s.n_done);
        if (streq(property, "NTasksFailed"))
                return sd_bus_message_append(reply, "t", s.n_failed);
        return -EINVAL;
}

const sd_bus_vtable bus_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListTasks", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tosssst)", tasks),
                                method_list_tasks, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTask", SD_BUS_ARGS("t", id), SD_BUS_RESULT("o", task), method_get_task,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CancelTask", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_cancel_task,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("TriggerTask", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_trigger_task,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RunRule", SD_BUS_ARGS("s", rule, "s", path), SD_BUS_RESULT("t", id),
                                method_run_rule, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListWatches", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssbbu)", watches),
                                method_list_watches, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListRules", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssst)", rules),
                                method_list_rules, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Subscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_subscribe,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unsubscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_unsubscribe,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("TaskNew", SD_BUS_ARGS("t", id, "o", task), 0),
        SD_BUS_SIGNAL_WITH_ARGS("TaskStarted", SD_BUS_ARGS("t", id, "o", task), 0),
        SD_BUS_SIGNAL_WITH_ARGS("TaskRemoved", SD_BUS_ARGS("t", id, "o", task, "s", result), 0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NWatches", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NDirectories", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NTasksScheduled", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NTasksRunning", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NEvents", "t", property_get_count, 0, 0),
        SD_BUS_PROPERTY("NOverflows", "t", property_get_count, 0, 0),
        SD_BUS_PROPERTY("NTasksDone", "t", property_get_count, 0, 0),
        SD_BUS_PROPERTY("NTasksFailed", "t", property_get_count, 0, 0),
        SD_BUS_VTABLE_END
};

/* ------------------------------------------------------------------ signals, coalesced */

/* PropertiesChanged go out at most this often: a stream of events makes a few signals, not one each. */
#define FLUSH_USEC (100 * USEC_PER_MSEC)

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;
        GHashTableIter i;
        gpointer k;

        if (b->dirty & BUS_PROP_STATE)
                (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, BUS_MANAGER_INTERFACE, "State", NULL);
        if (b->dirty & BUS_PROP_COUNTS)
                (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, BUS_MANAGER_INTERFACE, "NWatches",
                                                      "NDirectories", "NTasksScheduled", "NTasksRunning", NULL);
        b->dirty = 0;

        g_hash_table_iter_init(&i, b->dirty_tasks);
        while (g_hash_table_iter_next(&i, &k, NULL)) {
                uint64_t id = *(uint64_t *) k;
                _cleanup_free_ char *path = bus_task_path(id);

                Task *t = scheduler_get(manager_get_scheduler(b->manager), id);

                /* A task that ended meanwhile was announced by TaskRemoved, with its result. */
                if (t && (t->state == TASK_SCHEDULED || t->state == TASK_RUNNING))
                        (void) sd_bus_emit_properties_changed(b->bus, path, BUS_TASK_INTERFACE, "Rule", "Event",
                                                              "State", "Result", "DueUSec", "StartedUSec",
                                                              "FinishedUSec", "MainPID", "ExitStatus", NULL);
        }
        g_hash_table_remove_all(b->dirty_tasks);
        return 0;
}

static void schedule_flush(Bus *b) {
        int enabled = SD_EVENT_OFF;

        (void) sd_event_source_get_enabled(b->flush, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time_relative(b->flush, FLUSH_USEC);
        (void) sd_event_source_set_enabled(b->flush, SD_EVENT_ONESHOT);
}

void bus_manager_changed(Bus *b, BusManagerProperty what) {
        if (!b)
                return;
        b->dirty |= what;
        schedule_flush(b);
}

static void task_dirty(Bus *b, Task *t) {
        uint64_t *id = g_new(uint64_t, 1);

        *id = t->id;
        g_hash_table_replace(b->dirty_tasks, id, NULL);
        schedule_flush(b);
}

static void emit_task_signal(Bus *b, const char *member, Task *t, const char *result) {
        _cleanup_free_ char *path = bus_task_path(t->id);

        if (result)
                (void) sd_bus_emit_signal(b->bus, BUS_PATH, BUS_MANAGER_INTERFACE, member, "tos", t->id, path,
                                          result);
        else
                (void) sd_bus_emit_signal(b->bus, BUS_PATH, BUS_MANAGER_INTERFACE, member, "to", t->id, path);
}

/* Task objects come and go with TaskNew and TaskRemoved. No InterfacesAdded/InterfacesRemoved on top:
 * they would repeat each task's whole property set on every event of a storm, for the same news;
 * GetManagedObjects still lists every task. All of a task's signals, its PropertiesChanged included,
 * wait for a subscriber; ListTasks and the task objects show every task either way. */
void bus_task_new(Bus *b, Task *t) {
        if (bus_has_subscribers(b))
                emit_task_signal(b, "TaskNew", t, NULL);
}

void bus_task_changed(Bus *b, Task *t) {
        if (bus_has_subscribers(b))
                task_dirty(b, t);
}

void bus_task_started(Bus *b, Task *t) {
        if (!bus_has_subscribers(b))
                return;
        emit_task_signal(b, "TaskStarted", t, NULL);
        task_dirty(b, t);
}

void bus_task_removed(Bus *b, Task *t) {
        if (bus_has_subscribers(b))
                emit_task_signal(b, "TaskRemoved", t, strempty(t->result));
}

void bus_task_forgotten(Bus *b, Task *t) {
        if (b)
                g_hash_table_remove(b->dirty_tasks, &t->id);
}

/* ------------------------------------------------------------------ connection */

int bus_new(Bus **ret, Manager *m, sd_event *e, bool user_mode) {
        _cleanup_(bus_freep) Bus *b = g_new0(Bus, 1);
        int r;

        b->manager = m;
        b->dirty_tasks = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);

        r = user_mode ? sd_bus_open_user(&b->bus) : sd_bus_open_system(&b->bus);
        if (r < 0)
                return log_warning_errno(r, "Failed to connect to the %s bus: %m", user_mode ? "user" : "system");
        (void) sd_bus_set_description(b->bus, "inotaskd");

        r = sd_bus_add_object_vtable(b->bus, NULL, BUS_PATH, BUS_MANAGER_INTERFACE, bus_manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add manager object: %m");
        r = sd_bus_add_fallback_vtable(b->bus, NULL, BUS_TASK_PREFIX, BUS_TASK_INTERFACE, bus_task_vtable,
                                       bus_task_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add task objects: %m");
        r = sd_bus_add_node_enumerator(b->bus, NULL, BUS_TASK_PREFIX, bus_task_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add task enumerator: %m");
        r = sd_bus_add_object_manager(b->bus, NULL, BUS_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add object manager: %m");

        r = sd_event_add_time_relative(e, &b->flush, CLOCK_MONOTONIC, FLUSH_USEC, 10 * USEC_PER_MSEC, on_flush, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add bus flush source: %m");
        (void) sd_event_source_set_enabled(b->flush, SD_EVENT_OFF);

        r = sd_bus_attach_event(b->bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");

        /* Taken before READY=1, so a started unit can be called at once. */
        r = sd_bus_request_name(b->bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire bus name %s: %m", BUS_NAME);

        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        b->flush = sd_event_source_disable_unref(b->flush);
        b->subscribed = sd_bus_track_unref(b->subscribed);
        b->polkit = bus_polkit_free(b->polkit);
        if (b->bus) {
                (void) sd_bus_flush(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
        if (b->dirty_tasks)
                g_hash_table_unref(b->dirty_tasks);
        g_free(b);
        return NULL;
}
