/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.inotaskd1.Task objects, served from one fallback vtable: no object is registered per task. */
#include <inttypes.h>
#include <string.h>

#include "batch.h"
#include "bus.h"
#include "bus-polkit.h"
#include "escape.h"
#include "manager.h"

static int parse_task_path(const char *path, uint64_t *ret) {
        const char *p;
        char *end;
        uint64_t id;

        if (!g_str_has_prefix(path, BUS_TASK_PREFIX "/"))
                return -EINVAL;
        p = path + strlen(BUS_TASK_PREFIX "/");
        if (*p < '1' || *p > '9')
                return -EINVAL;
        errno = 0;
        id = g_ascii_strtoull(p, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = id;
        return 0;
}

int bus_task_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                  sd_bus_error *error) {
        Task *t;
        uint64_t id;

        if (parse_task_path(path, &id) < 0)
                return 0;
        t = scheduler_get(manager_get_scheduler(bus_get_manager(userdata)), id);
        if (!t)
                return 0;
        *ret_found = t;
        return 1;
}

static void add_node(Task *t, void *userdata) {
        g_ptr_array_add(userdata, bus_task_path(t->id));
}

int bus_task_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        GPtrArray *paths = g_ptr_array_new();

        scheduler_foreach(manager_get_scheduler(bus_get_manager(userdata)), add_node, paths);
        g_ptr_array_add(paths, NULL);
        *ret_nodes = (char **) g_ptr_array_free(paths, false);
        return 0;
}

/* ------------------------------------------------------------------ properties */

static int property_get_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;
        _cleanup_free_ char *shown = escape_display(t->path, strlen(t->path));

        return sd_bus_message_append(reply, "s", shown);
}

static int property_get_path_bytes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;

        return sd_bus_message_append_array(reply, 'y', t->path, strlen(t->path));
}

/* Batch=yes: every path, exact bytes, in first-seen order; a single task has its one. */
static int property_get_paths(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "ay");
        if (r < 0)
                return r;
        for (size_t i = 0; i < task_n_paths(t); i++) {
                BatchEntry e;

                task_path_entry(t, i, &e);
                r = sd_bus_message_append_array(reply, 'y', e.path, strlen(e.path));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_npaths(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        size_t n = task_n_paths(userdata);

        return sd_bus_message_append(reply, "u", (uint32_t) MIN(n, (size_t) UINT32_MAX));
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;
        const char *v = NULL;

        if (streq(property, "Rule"))
                v = t->rule->name;
        else if (streq(property, "Watch"))
                v = t->watch;
        else if (streq(property, "Event"))
                v = t->event_name;
        else if (streq(property, "State"))
                v = task_state_to_string(t->state);
        else if (streq(property, "Result"))
                v = t->result;
        else if (streq(property, "Unit"))
                v = t->unit_name;
        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_due(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;

        return sd_bus_message_append(reply, "t", t->state == TASK_SCHEDULED ? t->due_usec : (uint64_t) 0);
}

static int property_get_pid(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;

        return sd_bus_message_append(reply, "u", t->state == TASK_RUNNING && t->pid > 0 ? (uint32_t) t->pid : 0U);
}

/* ------------------------------------------------------------------ methods */

static int task_method(sd_bus_message *message, Task *t, bool trigger, sd_bus_error *error) {
        /* The handler gets the task (from bus_task_find); the Bus is the fallback slot's own userdata. */
        Bus *b = sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(message)));
        Scheduler *s = manager_get_scheduler(bus_get_manager(b));
        int r;

        r = bus_check_admin(message, b, POLKIT_ACTION_MANAGE_TASKS, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asked polkit; this message comes back with the answer */
        r = trigger ? scheduler_trigger(s, t) : scheduler_cancel(s, t);
        if (r < 0)
                return bus_reply_task_error(error, r, t->id);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_cancel(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return task_method(message, userdata, false, error);
}

static int method_trigger(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return task_method(message, userdata, true, error);
}

const sd_bus_vtable bus_task_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_cancel,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Trigger", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_trigger,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Id", "t", NULL, offsetof(Task, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Rule", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Watch", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Path", "s", property_get_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PathBytes", "ay", property_get_path_bytes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Paths", "aay", property_get_paths, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("NPaths", "u", property_get_npaths, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Event", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Result", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedUSec", "t", NULL, offsetof(Task, created_usec), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DueUSec", "t", property_get_due, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StartedUSec", "t", NULL, offsetof(Task, started_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FinishedUSec", "t", NULL, offsetof(Task, finished_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_get_pid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitStatus", "i", NULL, offsetof(Task, exit_status), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Unit", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END
};
