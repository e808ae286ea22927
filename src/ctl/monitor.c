/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inotaskctl monitor: one line per task signal and manager property change, until interrupted. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "ansi.h"
#include "ctl.h"
#include "escape.h"
#include "json.h"
#include "properties.h"
#include "time-util.h"


/* What a line says about a task besides its id; fetched once when the task is first seen. */
typedef struct TaskInfo {
        char *rule, *event, *path;
        GBytes *path_bytes;
} TaskInfo;

typedef struct Monitor {
        Ctl *c;
        GHashTable *tasks;      /* id (uint64_t*) -> TaskInfo* */
} Monitor;

static void task_info_free(gpointer data) {
        TaskInfo *i = data;

        g_free(i->rule);
        g_free(i->event);
        g_free(i->path);
        if (i->path_bytes)
                g_bytes_unref(i->path_bytes);
        g_free(i);
}

static const char *format_timestamp_line(usec_t usec, char *buf, size_t size) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        char s[32];

        if (!localtime_r(&sec, &tm) || strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm) == 0)
                g_snprintf(buf, size, "%" PRIu64, usec);
        else
                g_snprintf(buf, size, "%s.%03u", s, (unsigned) (usec % USEC_PER_SEC / USEC_PER_MSEC));
        return buf;
}

/* The task's rule, event and path, from the monitor's memory or its object. NULL if it is gone
 * already (a task seen only at its end, after the history dropped it). */
static TaskInfo *task_info_get(Monitor *m, uint64_t id, const char *object) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autoptr(GPtrArray) props = NULL;
        const Property *p;
        TaskInfo *i;
        uint64_t *key;

        i = g_hash_table_lookup(m->tasks, &id);
        if (i)
                return i;

        /* A synchronous call from a match callback is fine with sd-bus: messages arriving meanwhile
         * are queued and dispatched in order after it. */
        if (ctl_call(m->c, false, object, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                     "s", BUS_TASK_INTERFACE) < 0)
                return NULL;
        if (properties_read(reply, &props) < 0)
                return NULL;

        i = g_new0(TaskInfo, 1);
        i->rule = g_strdup(properties_get_string(props, "Rule"));
        i->event = g_strdup(properties_get_string(props, "Event"));
        i->path = g_strdup(properties_get_string(props, "Path"));
        p = properties_find(props, "PathBytes");
        if (p && p->bytes)
                i->path_bytes = g_bytes_ref(p->bytes);

        key = g_new(uint64_t, 1);
        *key = id;
        g_hash_table_insert(m->tasks, key, i);
        return i;
}

static void json_line_begin(JsonWriter *w, usec_t now, const char *signal) {
        json_begin_object(w);
        json_key(w, "timestamp_usec");
        json_uint(w, now);
        json_key(w, "signal");
        json_string(w, signal);
}

static void json_line_end(JsonWriter *w) {
        g_autofree char *s = NULL;

        json_end_object(w);
        s = json_writer_finish(w);
        fputs(s, stdout);
        fflush(stdout);
}

static void print_task_line(Monitor *m, const char *signal, uint64_t id, const char *object,
                            const char *result) {
        TaskInfo *i = task_info_get(m, id, object);
        usec_t now = now_usec(CLOCK_REALTIME);
        char ts[64];

        if (m->c->json) {
                _cleanup_(json_writer_freep) JsonWriter *w = json_writer_new(false);

                json_line_begin(w, now, signal);
                json_key(w, "id");
                json_uint(w, id);
                json_key(w, "task");
                json_string(w, object);
                if (result) {
                        json_key(w, "result");
                        json_string(w, result);
                }
                if (i) {
                        json_key(w, "rule");
                        json_string(w, i->rule);
                        json_key(w, "event");
                        json_string(w, i->event);
                        json_key(w, "path");
                        json_string(w, i->path);
                        if (i->path_bytes) {
                                size_t n;
                                const char *b = g_bytes_get_data(i->path_bytes, &n);

                                if (!i->path || strlen(i->path) != n || memcmp(i->path, b, n) != 0) {
                                        json_key(w, "path_bytes");
                                        json_byte_array(w, b, n);
                                }
                        }
                }
                json_line_end(w);
                return;
        }

        const char *color = NULL;
        if (m->c->colors && result)
                color = streq(result, "success") ? ANSI_GREEN :
                        streq(result, "cancelled") ? ANSI_YELLOW : ANSI_HIGHLIGHT_RED;

        /* Key=value after the fixed columns; the path last because it may contain blanks. */
        printf("%s %-12s id=%" PRIu64, format_timestamp_line(now, ts, sizeof(ts)), signal, id);
        if (result)
                printf(" result=%s%s%s", color ? color : "", result, color ? ANSI_NORMAL : "");
        if (i)
                printf(" rule=%s event=%s path=%s",
                       strempty(i->rule), strempty(i->event), strempty(i->path));
        putchar('\n');
        fflush(stdout);
}

static int on_task_new(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Monitor *m = userdata;
        const char *object;
        uint64_t id;

        if (sd_bus_message_read(msg, "to", &id, &object) < 0)
                return 0;
        print_task_line(m, "TaskNew", id, object, NULL);
        return 0;
}

static int on_task_started(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Monitor *m = userdata;
        const char *object;
        uint64_t id;

        if (sd_bus_message_read(msg, "to", &id, &object) < 0)
                return 0;
        print_task_line(m, "TaskStarted", id, object, NULL);
        return 0;
}

static int on_task_removed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Monitor *m = userdata;
        const char *object, *result;
        uint64_t id;

        if (sd_bus_message_read(msg, "tos", &id, &object, &result) < 0)
                return 0;
        print_task_line(m, "TaskRemoved", id, object, result);
        (void) g_hash_table_remove(m->tasks, &id);
        return 0;
}

static int on_properties_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Monitor *m = userdata;
        g_autoptr(GPtrArray) props = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        const char *iface;
        char ts[64];

        if (sd_bus_message_read(msg, "s", &iface) < 0 || !streq(iface, BUS_MANAGER_INTERFACE))
                return 0;
        if (properties_read(msg, &props) < 0)
                return 0;
        /* The invalidated names are not read: the manager sends values for everything it emits. */

        if (m->c->json) {
                _cleanup_(json_writer_freep) JsonWriter *w = json_writer_new(false);

                json_line_begin(w, now, "PropertiesChanged");
                json_key(w, "properties");
                properties_write_json(w, props, NULL);
                json_line_end(w);
                return 0;
        }

        printf("%s %-12s", format_timestamp_line(now, ts, sizeof(ts)), "Manager");
        for (size_t k = 0; k < props->len; k++) {
                const Property *p = props->pdata[k];
                g_autofree char *v = property_format(p);

                if (v)
                        printf(" %s=%s", p->name, v);
        }
        putchar('\n');
        fflush(stdout);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Monitor *m = userdata;
        const char *name, *old_owner, *new_owner;
        usec_t now = now_usec(CLOCK_REALTIME);
        bool running;
        char ts[64];

        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 ||
            !streq(name, BUS_NAME))
                return 0;
        running = !isempty(new_owner);

        /* Ids are the daemon's: a new instance starts over, and sends task signals only once asked. */
        if (!running)
                g_hash_table_remove_all(m->tasks);
        else
                (void) sd_bus_call_method_async(m->c->bus, NULL, BUS_NAME, BUS_PATH,
                                                BUS_MANAGER_INTERFACE, "Subscribe", NULL, NULL, NULL);

        if (m->c->json) {
                _cleanup_(json_writer_freep) JsonWriter *w = json_writer_new(false);

                json_line_begin(w, now, "NameOwnerChanged");
                json_key(w, "running");
                json_bool(w, running);
                json_line_end(w);
                return 0;
        }

        printf("%s %-12s %s\n", format_timestamp_line(now, ts, sizeof(ts)), "Daemon",
               running ? _("inotaskd appeared on the bus") : _("inotaskd left the bus"));
        fflush(stdout);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), CTL_EXIT_SUCCESS);
}

int verb_monitor(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autoptr(GHashTable) tasks =
                g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, task_info_free);
        Monitor m = { .c = c, .tasks = tasks };
        const char *version = NULL;
        sigset_t mask;
        int r, code;

        static const struct {
                const char *member;
                sd_bus_message_handler_t handler;
        } task_signals[] = {
                { "TaskNew", on_task_new },
                { "TaskStarted", on_task_started },
                { "TaskRemoved", on_task_removed },
        };

        /* The signals are blocked before the sources are added, so none is lost in between. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                log_error(_("cannot block signals: %s"), g_strerror(errno));
                return CTL_EXIT_FAILURE;
        }

        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, NULL);
        if (r < 0) {
                log_error(_("cannot set up the event loop: %s"), g_strerror(-r));
                return CTL_EXIT_FAILURE;
        }

        /* Matches first, then the check that the daemon is there: nothing falls between the two. */
        for (size_t i = 0; i < ELEMENTSOF(task_signals); i++) {
                r = sd_bus_match_signal(c->bus, NULL, BUS_NAME, BUS_PATH,
                                        BUS_MANAGER_INTERFACE, task_signals[i].member,
                                        task_signals[i].handler, &m);
                if (r < 0)
                        goto match_failed;
        }
        r = sd_bus_match_signal(c->bus, NULL, BUS_NAME, BUS_PATH,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, &m);
        if (r < 0)
                goto match_failed;
        r = sd_bus_add_match(c->bus, NULL,
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                             "arg0='" BUS_NAME "'",
                             on_name_owner_changed, &m);
        if (r < 0)
                goto match_failed;

        /* The daemon sends task signals only while someone is subscribed; leaving the bus unsubscribes. */
        r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, "Subscribe", &error, NULL, NULL);
        if (r < 0)
                return ctl_report_error(c, &error, r, UINT64_MAX, _("monitor"));
        r = ctl_call(c, false, BUS_PATH, "org.freedesktop.DBus.Properties", "Get", &error, &reply,
                     "ss", BUS_MANAGER_INTERFACE, "Version");
        if (r < 0)
                return ctl_report_error(c, &error, r, UINT64_MAX, _("monitor"));
        (void) sd_bus_message_read(reply, "v", "s", &version);

        r = sd_bus_attach_event(c->bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(c->bus, true);
        if (r < 0) {
                log_error(_("cannot set up the event loop: %s"), g_strerror(-r));
                return CTL_EXIT_FAILURE;
        }

        /* On stderr, so that stdout has only events; also tells a script that the matches are in place. */
        fprintf(stderr, _("Monitoring inotaskd %s on the %s bus; press Ctrl+C to stop.\n"),
                strempty(version), ctl_bus_name(c));

        r = sd_event_loop(e);
        code = r;
        (void) sd_bus_detach_event(c->bus);
        if (r < 0) {
                log_error(_("the event loop failed: %s"), g_strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        if (code != CTL_EXIT_SUCCESS) {
                log_error(_("lost the connection to the %s bus"), ctl_bus_name(c));
                return CTL_EXIT_NOT_RUNNING;
        }
        return CTL_EXIT_SUCCESS;

match_failed:
        log_error(_("cannot subscribe to inotaskd's signals: %s"), g_strerror(-r));
        return CTL_EXIT_FAILURE;
}
