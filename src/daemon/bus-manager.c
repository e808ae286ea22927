/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.inotaskd1.Manager: lists, verbs and properties over the scheduler, plus the bus connection. */
#include <grp.h>
#include <inttypes.h>
#include <malloc.h>
#include <string.h>

#include "backend.h"
#include "batch.h"
#include "bus.h"
#include "bus-polkit.h"
#include "config.h"
#include "escape.h"
#include "event-names.h"
#include "log.h"
#include "manager.h"
#include "path-check.h"

/* After a lost connection: the first attempt this soon, then twice as long each time, up to the max. */
#define RECONNECT_FIRST_USEC (100 * USEC_PER_MSEC)
#define RECONNECT_MAX_USEC (5 * USEC_PER_SEC)

struct Bus {
        sd_bus *bus;                    /* NULL while disconnected */
        Manager *manager;
        sd_event *event;
        bool user_mode;
        sd_event_source *reconnect;     /* armed while disconnected */
        usec_t reconnect_delay;         /* the next one; 0 while connected with our name */
        usec_t lost_usec;               /* CLOCK_MONOTONIC, 0 if never lost */
        unsigned n_attempts;
        sd_event_source *flush;         /* coalesces PropertiesChanged */
        BusManagerProperty dirty;
        GHashTable *dirty_tasks;        /* uint64 id -> NULL */
        GHashTable *watch_seen;         /* Watch * -> WatchSeen: what clients were last told */
        GHashTable *subscribers;        /* unique name -> Subscriber: per-task signals only for them */
        BusPolkit *polkit;              /* calls waiting for their authorization; made at the first */
        unsigned n_calls;               /* method calls since the heap was last trimmed */
        usec_t trimmed_usec;            /* CLOCK_MONOTONIC of that trim */
};

/* A flood of calls leaves the heap holding megabytes that are free but lie between objects that live on,
 * which glibc does not give back by itself (measured: 5 MB of heap, 0.45 MB in use, after 50 clients for
 * 20 s). After many calls, at most every 250 ms, hand free pages back (what systemd's sd_event_trim_memory
 * does under memory pressure). A quiet bus never gets here. */
#define TRIM_AFTER_CALLS 2048U
#define TRIM_INTERVAL_USEC (250 * USEC_PER_MSEC)

static void maybe_trim_heap(Bus *b) {
        usec_t n;

        if (++b->n_calls < TRIM_AFTER_CALLS)
                return;
        n = now_usec(CLOCK_MONOTONIC);
        if (n - b->trimmed_usec < TRIM_INTERVAL_USEC)
                return;
        b->n_calls = 0;
        b->trimmed_usec = n;
        (void) malloc_trim(0);
}

Manager *bus_get_manager(Bus *b) {
        return b->manager;
}

char *bus_task_path(uint64_t id) {
        return g_strdup_printf(BUS_TASK_PREFIX "/%" PRIu64, id);
}

/* ------------------------------------------------------------------ authorization */

/* Root, our own uid and members of AdminGroup= (by the groups the bus driver recorded at connect time)
 * are let through at once; anyone else is asked about in polkit (bus-polkit.c). Returns 1 when allowed, 0
 * when the answer is pending (the handler returns 1 and is called again with the same message), or a
 * negative error with error set. */
int bus_check_admin(sd_bus_message *message, Bus *b, const char *action, sd_bus_error *error) {
        const Config *c = manager_get_config(b->manager);
        gid_t admin = (gid_t) -1;
        struct group *gr;
        int r;

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

/* A listing stops before it grows past its budget: sd-bus offers no size of a message being built, so
 * each element is counted as the bytes of its strings plus a fixed overhead (alignment, lengths, the
 * fixed-size fields), which is never less than what it takes. */
#define ELEMENT_OVERHEAD 64U

typedef struct ListContext {
        sd_bus_message *reply;
        size_t size, budget;
        unsigned n, max;
        uint64_t last_id;
        bool full;                      /* stopped at the budget or max, with tasks left */
        int r;
} ListContext;

static bool append_task(Task *t, void *userdata) {
        ListContext *c = userdata;
        _cleanup_free_ char *path = NULL, *shown = NULL;
        const char *event = strempty(t->event_name), *state = task_state_to_string(t->state);
        size_t size;

        if (c->r < 0)
                return false;
        if (c->n >= c->max) {
                c->full = true;
                return false;
        }
        path = bus_task_path(t->id);
        shown = escape_display(t->path, strlen(t->path));
        /* A batch shows its first path and how many more it has (Paths has them all). */
        if (t->batch && task_batch_size(t->batch) > 1) {
                char *more = g_strdup_printf("%s (+%zu)", shown, task_batch_size(t->batch) - 1);

                free(shown);
                shown = more;
        }
        size = ELEMENT_OVERHEAD + strlen(path) + strlen(t->rule->name) + strlen(shown) + strlen(event) +
               strlen(state);
        /* A page always takes one task, however long: a task's size is bounded (its path by PATH_MAX). */
        if (c->n > 0 && c->size + size > c->budget) {
                c->full = true;
                return false;
        }
        c->r = sd_bus_message_append(c->reply, "(tosssst)", t->id, path, t->rule->name, shown, event, state,
                                     t->state == TASK_SCHEDULED ? t->due_usec : (uint64_t) 0);
        c->size += size;
        c->n++;
        c->last_id = t->id;
        return c->r >= 0;
}

static void append_task_all(Task *t, void *userdata) {
        (void) append_task(t, userdata);
}

/* The read methods: org.inotaskd1.list-tasks, which the policy grants everyone unless a site says
 * otherwise (properties are not checked: a site hiding paths also denies Properties in the bus policy). */
static int check_list(sd_bus_message *message, Bus *b, sd_bus_error *error) {
        return bus_check_admin(message, b, POLKIT_ACTION_LIST_TASKS, error);
}

/* A reply holding the array of c's tasks: all of them in the scheduler's order, or (paged) those after
 * after in id order; c says whether the budget cut it short. */
static int reply_task_array(sd_bus_message *message, Bus *b, ListContext *c, bool paged, uint64_t after,
                            sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Scheduler *s = manager_get_scheduler(b->manager);
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tosssst)");
        if (r < 0)
                return r;
        c->reply = reply;
        if (paged)
                scheduler_foreach_after(s, after, append_task, c);
        else
                scheduler_foreach(s, append_task_all, c);
        if (c->r < 0)
                return c->r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reply);
        return 0;
}

static int method_list_tasks(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        ListContext c = { .budget = BUS_REPLY_SIZE_MAX, .max = UINT_MAX };
        Bus *b = userdata;
        int r;

        r = check_list(message, b, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = reply_task_array(message, b, &c, false, 0, &reply);
        if (r < 0)
                return r;
        if (c.full)
                return sd_bus_error_setf(error, BUS_ERROR_REPLY_TOO_LARGE,
                                         "The list of tasks is larger than %u bytes, use ListTasksPaged().",
                                         BUS_REPLY_SIZE_MAX);
        return sd_bus_send(NULL, reply, NULL);
}

/* A page: the tasks after after_id in id order, at most max of them and BUS_PAGE_SIZE_MAX bytes; next is
 * the after_id of the next page, 0 once there are no more. Tasks made or ended between two calls are
 * listed or not, as they were at the call; a task that exists throughout is listed exactly once. */
static int method_list_tasks_paged(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        ListContext c = { .budget = BUS_PAGE_SIZE_MAX };
        Bus *b = userdata;
        uint64_t after;
        uint32_t max;
        int r;

        r = sd_bus_message_read(message, "tu", &after, &max);
        if (r < 0)
                return r;
        r = check_list(message, b, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        c.max = max == 0 ? BUS_PAGE_ENTRIES_MAX : MIN(max, BUS_PAGE_ENTRIES_MAX);
        r = reply_task_array(message, b, &c, true, after, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "t", c.full ? c.last_id : (uint64_t) 0);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_task(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        Bus *b = userdata;
        uint64_t id;
        int r;

        r = sd_bus_message_read(message, "t", &id);
        if (r < 0)
                return r;
        r = check_list(message, b, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!scheduler_get(manager_get_scheduler(b->manager), id))
                return bus_reply_task_error(error, -ENOENT, id);
        path = bus_task_path(id);
        return sd_bus_reply_method_return(message, "o", path);
}

static int task_verb(sd_bus_message *message, Bus *b, bool trigger, sd_bus_error *error) {
        Scheduler *s = manager_get_scheduler(b->manager);
        uint64_t id;
        Task *t;
        int r;

        r = sd_bus_message_read(message, "t", &id);
        if (r < 0)
                return r;
        r = bus_check_admin(message, b, POLKIT_ACTION_MANAGE_TASKS, error);
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

/* Before anything else is done with them: the lengths only, so that a huge argument costs nothing more
 * than sd-bus reading it, and is not echoed back. */
static int run_rule_check_lengths(const char *rule_name, const char *path, sd_bus_error *error) {
        size_t l;

        l = strlen(rule_name);
        if (l > BUS_NAME_ARG_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Rule name is %zu bytes long, the limit is %u.", l, BUS_NAME_ARG_MAX);
        l = strlen(path);
        if (l > BUS_PATH_ARG_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_PATH,
                                         "Path is %zu bytes long, the limit is %u.", l, BUS_PATH_ARG_MAX);
        return 0;
}

/* The watch of rule that path lies beneath, or an InvalidPath error. The path must be in normal form: a
 * prefix compare alone would take "w/../outside" for a path in w. (A NUL cannot reach here: D-Bus
 * strings have none.) */
static int run_rule_find_watch(Manager *m, const ConfigRule *rule, const char *path, Watch **ret,
                               sd_bus_error *error) {
        GPtrArray *watches = backend_get_watches(manager_get_backend(m));

        if (!path_is_normalized(path))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_PATH,
                                         "Path \"%s\" is not absolute and normalized (no \".\", \"..\" or "
                                         "empty components, no trailing \"/\").", path);

        /* The task needs a watch: the first of the rule's watches the path lies under. */
        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];

                if (rule->watches[0] && !g_strv_contains((const char *const *) rule->watches, w->name))
                        continue;
                if (!path_is_beneath(path, w->path))
                        continue;
                *ret = w;
                return 0;
        }
        return sd_bus_error_setf(error, BUS_ERROR_INVALID_PATH,
                                 "Path \"%s\" is not below a watch of rule \"%s\".", path, rule->name);
}

static int method_run_rule(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Manager *m = b->manager;
        const Config *c = manager_get_config(m);
        const char *rule_name, *path;
        ConfigRule *rule;
        Watch *w = NULL;
        Task *t;
        int r;

        r = sd_bus_message_read(message, "ss", &rule_name, &path);
        if (r < 0)
                return r;
        r = run_rule_check_lengths(rule_name, path, error);
        if (r < 0)
                return r;
        r = bus_check_admin(message, b, POLKIT_ACTION_MANAGE_TASKS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        rule = c ? (ConfigRule *) config_find_rule(c, rule_name) : NULL;
        if (!rule)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_RULE, "No rule \"%s\".", rule_name);
        r = run_rule_find_watch(m, rule, path, &w, error);
        if (r < 0)
                return r;
        t = scheduler_run_rule(manager_get_scheduler(m), rule, w->name, w->path, path);
        if (!t)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Task ids are used up.");
        return sd_bus_reply_method_return(message, "t", t->id);
}

/* One entry per watch. ListWatches (its first form) has the recursion in effect (none for a single
 * file); ListWatchesEx the configured one and the watch's state: active, waiting (Path= does not exist
 * yet) or inactive; ListWatchesWithBackend also the backend that watches it (Backend=, auto resolved). */
static int append_watches(sd_bus_message *reply, Bus *b, int ex) {
        GPtrArray *watches = backend_get_watches(manager_get_backend(b->manager));
        int r;

        for (guint i = 0; i < watches->len; i++) {
                Watch *w = watches->pdata[i];
                _cleanup_free_ char *shown = escape_display(w->path, strlen(w->path));

                if (ex > 1)
                        r = sd_bus_message_append(reply, "(ssbbuss)", w->name, shown, w->cfg_recursive,
                                                  w->cfg_auto_add, backend_watch_n_directories(w),
                                                  watch_state(w), backend_watch_backend(w));
                else if (ex)
                        r = sd_bus_message_append(reply, "(ssbbus)", w->name, shown, w->cfg_recursive,
                                                  w->cfg_auto_add, backend_watch_n_directories(w), watch_state(w));
                else
                        r = sd_bus_message_append(reply, "(ssbbu)", w->name, shown, w->recursive, w->auto_add,
                                                  backend_watch_n_directories(w));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int fill_watches(sd_bus_message *reply, void *userdata) {
        return append_watches(reply, userdata, 0);
}

static int method_list_watches(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = check_list(message, userdata, error);

        if (r <= 0)
                return r < 0 ? r : 1;
        return reply_array(message, "(ssbbu)", fill_watches, userdata);
}

static int fill_watches_ex(sd_bus_message *reply, void *userdata) {
        return append_watches(reply, userdata, 1);
}

static int fill_watches_backend(sd_bus_message *reply, void *userdata) {
        return append_watches(reply, userdata, 2);
}

static int method_list_watches_backend(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = check_list(message, userdata, error);

        if (r <= 0)
                return r < 0 ? r : 1;
        return reply_array(message, "(ssbbuss)", fill_watches_backend, userdata);
}

static int method_list_watches_ex(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = check_list(message, userdata, error);

        if (r <= 0)
                return r < 0 ? r : 1;
        return reply_array(message, "(ssbbus)", fill_watches_ex, userdata);
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
        Bus *b = userdata;
        const Config *c = manager_get_config(b->manager);
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
        Bus *b = userdata;
        int r;

        r = bus_check_admin(message, b, POLKIT_ACTION_RELOAD, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = manager_reload(b->manager, errors);
        if (r != 0) {
                g_autofree char *text = NULL;

                g_ptr_array_add(errors, NULL);
                text = g_strjoinv("\n", (char **) errors->pdata);
                if (r == CONFIG_E_INVALID)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_CONFIG,
                                                 "Invalid configuration, keeping the running one:\n%s", text);
                /* A file that cannot be read is not an invalid one: the error of its errno. */
                return sd_bus_error_set_errnof(error, r, "Cannot read the configuration, keeping the running "
                                               "one:\n%s", text);
        }
        return sd_bus_reply_method_return(message, NULL);
}

/* Per-task signals cost a message each on a storm, so, like systemd's Manager, they go out only while
 * a client is subscribed. Subscribe() is counted per call, so nested users of one connection each
 * Unsubscribe(). A subscriber that leaves the bus is dropped when its NameOwnerChanged arrives. This is
 * sd_bus_track without its synchronous GetNameOwner call: a call that waits makes sd-bus read ahead and
 * queue whatever a flood of callers has sent meanwhile. */
typedef struct Subscriber {
        Bus *bus;
        char *name;
        unsigned n_ref;
        sd_bus_slot *match, *check;
} Subscriber;

static void subscriber_free(gpointer p) {
        Subscriber *s = p;

        sd_bus_slot_unref(s->match);
        sd_bus_slot_unref(s->check);
        g_free(s->name);
        g_free(s);
}

static int on_subscriber_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Subscriber *s = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, s->name) ||
            !isempty(new_owner))
                return 0;
        g_hash_table_remove(s->bus->subscribers, name);
        return 0;
}

/* Sent after the AddMatch and so answered after it took effect: a client that left before is gone by
 * now, one that leaves later is reported by the match. */
static int on_subscriber_checked(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Subscriber *s = userdata;

        s->check = sd_bus_slot_unref(s->check);
        if (sd_bus_message_is_method_error(m, NULL))
                g_hash_table_remove(s->bus->subscribers, s->name);
        return 0;
}

static int subscriber_add(Bus *b, const char *name) {
        g_autofree char *match = NULL;
        Subscriber *s;
        int r;

        s = g_hash_table_lookup(b->subscribers, name);
        if (s) {
                if (s->n_ref == UINT_MAX)
                        return -EOVERFLOW;
                s->n_ref++;
                return 0;
        }
        s = g_new0(Subscriber, 1);
        s->bus = b;
        s->name = g_strdup(name);
        s->n_ref = 1;
        g_hash_table_insert(b->subscribers, s->name, s);

        match = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'", name);
        r = sd_bus_add_match_async(b->bus, &s->match, match, on_subscriber_owner_changed, NULL, s);
        if (r >= 0)
                r = sd_bus_call_method_async(b->bus, &s->check, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "GetNameOwner", on_subscriber_checked, s,
                                             "s", name);
        if (r < 0)
                g_hash_table_remove(b->subscribers, name);
        return r;
}

static int method_subscribe(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const char *sender = sd_bus_message_get_sender(message);
        int r;

        if (!b->bus)
                return -ENOTCONN;
        if (!sender)
                return -EINVAL;
        r = subscriber_add(b, sender);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_unsubscribe(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const char *sender = sd_bus_message_get_sender(message);
        Subscriber *s = sender ? g_hash_table_lookup(b->subscribers, sender) : NULL;

        if (!s)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUBSCRIBED, "Client is not subscribed.");
        if (--s->n_ref == 0)
                g_hash_table_remove(b->subscribers, sender);
        return sd_bus_reply_method_return(message, NULL);
}

bool bus_has_subscribers(Bus *b) {
        return b && b->bus && g_hash_table_size(b->subscribers) > 0;
}

/* ------------------------------------------------------------------ properties */

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;

        return sd_bus_message_append(reply, "s", manager_state_to_string(manager_get_state(b->manager)));
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = ((Bus *) userdata)->manager;
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
        SD_BUS_METHOD_WITH_ARGS("ListTasksPaged", SD_BUS_ARGS("t", after_id, "u", max),
                                SD_BUS_RESULT("a(tosssst)", tasks, "t", next_id), method_list_tasks_paged,
                                SD_BUS_VTABLE_UNPRIVILEGED),
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
        SD_BUS_METHOD_WITH_ARGS("ListWatchesEx", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssbbus)", watches),
                                method_list_watches_ex, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListWatchesWithBackend", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssbbuss)", watches),
                                method_list_watches_backend, SD_BUS_VTABLE_UNPRIVILEGED),
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

typedef struct WatchSeen {
        const char *state;              /* watch_state()'s, a static string */
        unsigned n_directories;
} WatchSeen;

/* Remembers what w's State and NDirectories are now; true if that is news. */
static bool watch_seen_update(Bus *b, Watch *w) {
        WatchSeen *seen = g_hash_table_lookup(b->watch_seen, w);
        const char *state = watch_state(w);
        unsigned n = backend_watch_n_directories(w);

        if (seen && seen->state == state && seen->n_directories == n)
                return false;
        if (!seen) {
                seen = g_new(WatchSeen, 1);
                g_hash_table_insert(b->watch_seen, w, seen);
        }
        *seen = (WatchSeen) { .state = state, .n_directories = n };
        return true;
}

/* PropertiesChanged for each watch whose State or NDirectories moved since clients were last told, and
 * the manager's counts with them. A directory count is O(1) (watch_tree_root_n_watched()). */
static void flush_watches(Bus *b) {
        GPtrArray *ws = backend_get_watches(manager_get_backend(b->manager));

        for (guint j = 0; j < ws->len; j++) {
                Watch *w = ws->pdata[j];
                _cleanup_free_ char *path = NULL;

                if (!watch_seen_update(b, w) || bus_watch_path(w, &path) < 0)
                        continue;
                (void) sd_bus_emit_properties_changed(b->bus, path, BUS_WATCH_INTERFACE, "State", "NDirectories",
                                                      NULL);
                b->dirty |= BUS_PROP_COUNTS;
        }
}

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;
        GHashTableIter i;
        gpointer k;

        if (!b->bus) {                  /* nobody to tell: a client that comes back reads afresh */
                b->dirty = 0;
                g_hash_table_remove_all(b->dirty_tasks);
                g_hash_table_remove_all(b->watch_seen);
                return 0;
        }
        if (b->dirty & BUS_PROP_WATCHES)
                flush_watches(b);
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
                        (void) sd_bus_emit_properties_changed(b->bus, path, BUS_TASK_INTERFACE, "Rule", "Path",
                                                              "PathBytes", "Paths", "NPaths",
                                                              "Event", "State", "Result", "DueUSec", "StartedUSec",
                                                              "FinishedUSec", "MainPID", "ExitStatus", "Unit", NULL);
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

/* Few and seldom (a reload), so unlike tasks they are announced to everyone. */
static void emit_watch(Bus *b, Watch *w, bool added) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!b || !b->bus)
                return;
        r = bus_watch_path(w, &path);
        if (r >= 0 && added)
                r = sd_bus_emit_object_added(b->bus, path);
        else if (r >= 0)
                r = sd_bus_emit_object_removed(b->bus, path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce watch %s %s, ignoring: %m", w->name,
                                added ? "added" : "removed");
}

void bus_watch_added(Bus *b, Watch *w) {
        if (!b)
                return;
        /* InterfacesAdded carries the values of now. */
        (void) watch_seen_update(b, w);
        emit_watch(b, w, true);
}

void bus_watch_removing(Bus *b, Watch *w) {
        if (!b)
                return;
        emit_watch(b, w, false);
        g_hash_table_remove(b->watch_seen, w);
}

void bus_watches_changed(Bus *b) {
        if (!b || (b->dirty & BUS_PROP_WATCHES))
                return;
        b->dirty |= BUS_PROP_WATCHES;
        schedule_flush(b);
}

void bus_task_forgotten(Bus *b, Task *t) {
        if (b)
                g_hash_table_remove(b->dirty_tasks, &t->id);
}

/* ------------------------------------------------------------------ filter: reply size guard, disconnection */

typedef struct SizeContext {
        size_t size;
        size_t per_task;
        bool managed;                   /* GetManagedObjects: every property of every task */
} SizeContext;

static void add_task_size(Task *t, void *userdata) {
        SizeContext *c = userdata;

        c->size += c->per_task;
        /* Path is escaped (at most 4 bytes per byte), PathBytes exact. */
        if (c->managed)
                c->size += 5 * strlen(t->path) + strlen(t->rule->name) + strlen(t->watch) +
                           strlen(strempty(t->event_name)) + strlen(strempty(t->result));
        /* A batch's Paths: each path and its array header. */
        for (size_t i = 0; c->managed && t->batch && i < task_batch_size(t->batch); i++)
                c->size += strlen(task_batch_get(t->batch, i)->path) + 8;
}

/* The replies sd-bus builds itself grow with the number of tasks: GetManagedObjects (all properties of
 * every task) and Introspect (a node per task). Refused before they are built when they would be larger
 * than what the bus takes; ListTasksPaged() and the task objects' GetAll answer instead. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error);

static int on_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const char *path = sd_bus_message_get_path(m);
        SizeContext c = {};

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected"))
                return on_disconnected(m, userdata, error);
        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        maybe_trim_heap(b);
        if (!path || !(streq(path, BUS_PATH) || g_str_has_prefix(path, BUS_PATH "/")))
                return 0;
        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")) {
                c.managed = true;
                c.per_task = 1024;
        } else if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Introspectable", "Introspect") &&
                   (streq(path, BUS_PATH) || streq(path, BUS_TASK_PREFIX)))
                c.per_task = 48;
        else
                return 0;

        scheduler_foreach(manager_get_scheduler(b->manager), add_task_size, &c);
        if (c.size <= BUS_REPLY_SIZE_MAX)
                return 0;
        log_debug("%s() on %s from %s would be about %zu bytes, refusing.", sd_bus_message_get_member(m), path,
                  sd_bus_message_get_sender(m) ?: "?", c.size);
        return sd_bus_error_setf(error, BUS_ERROR_REPLY_TOO_LARGE,
                                 "The reply would be larger than %u bytes, use ListTasksPaged().",
                                 BUS_REPLY_SIZE_MAX);
}

/* ------------------------------------------------------------------ connection */

static const char *bus_kind(const Bus *b) {
        return b->user_mode ? "user" : "system";
}

static void schedule_reconnect(Bus *b);

static void drop_connection(Bus *b) {
        /* The subscribers were clients of that bus; their slots go before it. */
        g_hash_table_remove_all(b->subscribers);
        /* So were the calls waiting for their authorization. */
        b->polkit = bus_polkit_free(b->polkit);
        if (b->bus) {
                (void) sd_bus_detach_event(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
}

/* sd-bus sends itself this when the connection ends: dbus-daemon went away or dropped us (a message too
 * large for it, say). The tasks go on; the bus is made again from a timer, not from within its own
 * callback. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;

        if (b->reconnect && sd_event_source_get_enabled(b->reconnect, NULL) > 0)
                return 0;
        log_warning("Lost the connection to the %s bus; watching and running tasks go on, reconnecting.",
                    bus_kind(b));
        /* The delay starts over only after a connection that got its name: one that is dropped again
         * at once (refused by the bus) keeps backing off. */
        if (b->reconnect_delay == 0) {
                b->lost_usec = now_usec(CLOCK_MONOTONIC);
                b->n_attempts = 0;
                b->reconnect_delay = RECONNECT_FIRST_USEC;
        }
        schedule_reconnect(b);
        return 0;
}

static int on_name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        g_autofree char *took = NULL;

        if (e) {
                /* Someone else has it: we stay connected and serve our objects by unique name. */
                log_error("Failed to take bus name %s again: %s", BUS_NAME, e->message ?: e->name);
                return 0;
        }
        b->reconnect_delay = 0;
        took = format_timespan(now_usec(CLOCK_MONOTONIC) - b->lost_usec);
        log_info("Back on the %s bus as %s, %s after the connection was lost (%u attempts).", bus_kind(b),
                 BUS_NAME, took, b->n_attempts);
        bus_manager_changed(b, BUS_PROP_STATE | BUS_PROP_COUNTS);
        return 0;
}

/* Opens the connection and serves everything on it; the name is taken synchronously at start (so that a
 * started unit can be called at once) and asynchronously on a reconnect (never blocking the loop). */
static int bus_connect(Bus *b, bool sync_name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = b->user_mode ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        (void) sd_bus_set_description(bus, "inotaskd");
        /* The default already, but this is what the reconnecting relies on. */
        r = sd_bus_set_exit_on_disconnect(bus, false);
        if (r < 0)
                return r;

        /* The filter sees the local Disconnected signal too, without a match on the bus (an AddMatch
         * call that would wait for dbus-daemon). */
        r = sd_bus_add_filter(bus, NULL, on_filter, b);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, BUS_PATH, BUS_MANAGER_INTERFACE, bus_manager_vtable, b);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, BUS_TASK_PREFIX, BUS_TASK_INTERFACE, bus_task_vtable,
                                       bus_task_find, b);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, NULL, BUS_TASK_PREFIX, bus_task_enumerate, b);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, BUS_WATCH_PREFIX, BUS_WATCH_INTERFACE, bus_watch_vtable,
                                       bus_watch_find, b);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, NULL, BUS_WATCH_PREFIX, bus_watch_enumerate, b);
        if (r < 0)
                return r;
        r = sd_bus_add_object_manager(bus, NULL, BUS_PATH);
        if (r < 0)
                return r;
        r = bus_log_control_add(bus, b);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(bus, b->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;

        if (sync_name) {
                r = sd_bus_request_name(bus, BUS_NAME, 0);
                if (r < 0)
                        return r;
        } else {
                r = sd_bus_request_name_async(bus, NULL, BUS_NAME, 0, on_name_acquired, b);
                if (r < 0)
                        return r;
        }

        b->bus = TAKE_PTR(bus);
        return 0;
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;
        g_autofree char *next = NULL;
        int r;

        drop_connection(b);
        b->n_attempts++;
        r = bus_connect(b, false);
        if (r < 0) {
                next = format_timespan(b->reconnect_delay);
                log_debug_errno(r, "Reconnecting to the %s bus failed (attempt %u), next in %s: %m",
                                bus_kind(b), b->n_attempts, next);
                schedule_reconnect(b);
                return 0;
        }
        log_info("Reconnected to the %s bus, taking %s again.", bus_kind(b), BUS_NAME);
        return 0;
}

static void schedule_reconnect(Bus *b) {
        usec_t delay = b->reconnect_delay;

        b->reconnect_delay = MIN(b->reconnect_delay * 2, RECONNECT_MAX_USEC);
        if (sd_event_source_set_time_relative(b->reconnect, delay) < 0 ||
            sd_event_source_set_enabled(b->reconnect, SD_EVENT_ONESHOT) < 0)
                log_error("Failed to arm the bus reconnect timer, staying off the bus.");
}

int bus_new(Bus **ret, Manager *m, sd_event *e, bool user_mode) {
        _cleanup_(bus_freep) Bus *b = g_new0(Bus, 1);
        int r;

        b->manager = m;
        b->event = sd_event_ref(e);
        b->user_mode = user_mode;
        b->dirty_tasks = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        b->watch_seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        b->subscribers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, subscriber_free);

        r = sd_event_add_time_relative(e, &b->flush, CLOCK_MONOTONIC, FLUSH_USEC, 10 * USEC_PER_MSEC, on_flush, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->flush, SD_EVENT_OFF);
        r = sd_event_add_time_relative(e, &b->reconnect, CLOCK_MONOTONIC, RECONNECT_FIRST_USEC,
                                       10 * USEC_PER_MSEC, on_reconnect, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->reconnect, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->reconnect, "bus-reconnect");

        r = bus_connect(b, true);
        if (r < 0) {
                /* Without a bus the daemon still does its work: D-Bus is for watching and steering it. */
                log_warning_errno(r, "Failed to connect to the %s bus and take %s, trying again in the "
                                  "background: %m", bus_kind(b), BUS_NAME);
                drop_connection(b);
                b->lost_usec = now_usec(CLOCK_MONOTONIC);
                b->reconnect_delay = RECONNECT_FIRST_USEC;
                schedule_reconnect(b);
        }

        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        b->flush = sd_event_source_disable_unref(b->flush);
        b->reconnect = sd_event_source_disable_unref(b->reconnect);
        if (b->subscribers)
                g_hash_table_unref(b->subscribers);
        b->polkit = bus_polkit_free(b->polkit);
        if (b->bus) {
                (void) sd_bus_flush(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
        if (b->dirty_tasks)
                g_hash_table_unref(b->dirty_tasks);
        if (b->watch_seen)
                g_hash_table_unref(b->watch_seen);
        sd_event_unref(b->event);
        g_free(b);
        return NULL;
}
