/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inotaskctl: the command line, the verbs and their output; a client of inotaskd's D-Bus interface. */
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

#include <glib.h>
#include <glib/gi18n.h>

#include "ansi.h"
#include "ctl.h"
#include "escape.h"
#include "json.h"
#include "journal.h"
#include "list.h"
#include "locale-dir.h"
#include "pager.h"
#include "properties.h"
#include "table.h"
#include "time-util.h"


void log_error(const char *format, ...) {
        va_list ap;

        fflush(stdout);
        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void help(void) {
        printf(_("Usage: %s [OPTIONS] COMMAND ...\n\n"
                 "Query and control inotaskd, the file-watching task daemon.\n\n"
                 "Commands:\n"
                 "  status [ID...]         state and counters of the daemon (the default); with IDs,\n"
                 "                         each task and the last lines of its journal\n"
                 "  list-tasks [PATTERN...]\n"
                 "                         scheduled and running tasks (--all: finished ones too);\n"
                 "                         PATTERNs are globs on the rule or the path\n"
                 "  list-watches [PATTERN...]\n"
                 "                         the watched paths (PATTERNs: globs on the name or path)\n"
                 "  list-rules [PATTERN...] the rules (PATTERNs: globs on the name)\n"
                 "  show [ID...]           all properties of tasks, or of the manager without ID\n"
                 "  cancel ID...           cancel scheduled tasks, stop running ones\n"
                 "  trigger ID...          run scheduled tasks now, skipping the rest of their delay\n"
                 "  run RULE PATH          run a rule for a path by hand; prints the new task's id\n"
                 "  reload                 re-read the configuration\n"
                 "  monitor                print task events as they happen, until interrupted\n\n"
                 "Options:\n"
                 "      --system           talk to the system instance (default)\n"
                 "      --user             talk to the user's instance on the session bus\n"
                 "  -H, --host=[USER@]HOST talk to the daemon on HOST over SSH; the remote side\n"
                 "                         needs systemd-stdio-bridge (--user needs systemd >= 248)\n"
                 "  -a, --all              list-tasks: include finished tasks from the history\n"
                 "      --state=STATE,...  list-tasks: only tasks in these states (also finished\n"
                 "                         ones); --state=help lists the states\n"
                 "      --json=MODE        one JSON document on stdout: short, pretty, or off (the\n"
                 "                         default); --json alone is short; monitor: one JSON\n"
                 "                         object per line\n"
                 "  -j                     --json=pretty on a terminal, --json=short otherwise\n"
                 "  -l, --full             do not ellipsize tables and journal lines to the\n"
                 "                         terminal's width\n"
                 "  -n, --lines=N          status ID: journal lines to show (default 10)\n"
                 "      --no-legend        no column headers and no summary line\n"
                 "  -p, --property=NAME    show: only this property (may be repeated)\n"
                 "      --value            show: values only, without NAME=\n"
                 "      --no-pager         do not pipe the output into a pager\n"
                 "      --no-ask-password  cancel, trigger, run, reload: do not start a polkit\n"
                 "                         agent, nor let polkit ask for a password\n"
                 "  -h, --help             show this help\n"
                 "      --version          show the version\n\n"
                 "Exit status: 0 success, 1 the daemon refused or the call failed,\n"
                 "3 inotaskd is not running or the bus cannot be reached, 4 permission denied\n"
                 "(the message names the polkit action that was refused),\n"
                 "64 bad command line.\n\n"
                 "Environment: SYSTEMD_PAGER or PAGER (the pager, \"\" or cat for none; default\n"
                 "less), SYSTEMD_LESS (less's options, default FRSXMK), SYSTEMD_PAGERSECURE,\n"
                 "COLUMNS (the width tables fit into), SYSTEMD_COLORS, NO_COLOR.\n"),
               program_invocation_short_name);
}

/* ------------------------------------------------------------------ helpers */

static int parse_task_id(const char *s, uint64_t *ret) {
        guint64 v;

        if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &v, NULL)) {
                log_error(_("not a task id: %s"), s);
                return -CTL_EXIT_USAGE;
        }
        *ret = v;
        return 0;
}

static void print_json(JsonWriter *w) {
        g_autofree char *s = json_writer_finish(w);

        fputs(s, stdout);
}

static void print_legend(const Ctl *c, const char *format, ...) _printf_(2, 3);
static void print_legend(const Ctl *c, const char *format, ...) {
        va_list ap;

        if (!c->legend)
                return;
        putchar('\n');
        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        putchar('\n');
}

static int get_all(Ctl *c, bool auto_start, const char *path, const char *iface, uint64_t task_id,
                   GPtrArray **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_call(c, auto_start, path, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                     "s", iface);
        if (r < 0)
                return -ctl_report_error(c, &error, r, task_id, _("reading properties"));

        r = properties_read(reply, ret);
        if (r < 0) {
                log_error(_("cannot parse the answer of inotaskd: %s"), g_strerror(-r));
                return -CTL_EXIT_FAILURE;
        }
        return 0;
}

static int bad_reply(int r) {
        log_error(_("cannot parse the answer of inotaskd: %s"), g_strerror(-r));
        return CTL_EXIT_FAILURE;
}

/* ------------------------------------------------------------------ status */

/* A task's properties (GetTask, then GetAll on its object); fails with an exit code, negated, printed. */
static int get_task(Ctl *c, uint64_t id, GPtrArray **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *object;
        int r;

        r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, "GetTask", &error, &reply, "t", id);
        if (r < 0)
                return -ctl_report_error(c, &error, r, id, _("looking up the task"));
        r = sd_bus_message_read(reply, "o", &object);
        if (r < 0)
                return -bad_reply(r);

        return get_all(c, false, object, BUS_TASK_INTERFACE, id, ret);
}

/* A timestamp with how long ago it is, or in how long: "Tue 2026-12-01 17:31:26 UTC; 3s ago". */
static char *format_when(uint64_t t, usec_t now) {
        g_autofree char *abs = format_timestamp_full(t), *rel = format_timestamp_relative(t, now);

        return g_strdup_printf("%s; %s", abs, rel);
}

/* status ID: like systemctl status UNIT, the task's facts and then its journal's last lines. */
static int status_task(Ctl *c, uint64_t id) {
        g_autoptr(GPtrArray) props = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        int r;

        r = get_task(c, id, &props);
        if (r < 0)
                return -r;

        const char *state = properties_get_string(props, "State"),
                   *result = properties_get_string(props, "Result");
        const char *on = c->colors ? task_state_color(state) : NULL, *off = on ? ANSI_NORMAL : "";
        uint64_t created = properties_get_u64(props, "CreatedUSec", 0),
                 due = properties_get_u64(props, "DueUSec", 0),
                 started = properties_get_u64(props, "StartedUSec", 0),
                 finished = properties_get_u64(props, "FinishedUSec", 0),
                 pid = properties_get_u64(props, "MainPID", 0);
        const Property *exit_status = properties_find(props, "ExitStatus");
        /* A unit task's transient unit (empty for a spawned task; a daemon before Unit has none). */
        const char *unit = properties_get_string(props, "Unit");
        g_autofree char *path = table_sanitize(strempty(properties_get_string(props, "Path")));

        struct {
                const char *label;
                char *value;
        } rows[] = {
                { _("State:"), g_strdup_printf("%s%s%s", strempty(on), state ? state : "n/a", off) },
                { _("Rule:"), g_strdup(strempty(properties_get_string(props, "Rule"))) },
                { _("Watch:"), g_strdup(strempty(properties_get_string(props, "Watch"))) },
                { _("Path:"), g_strdup(path) },
                { _("Event:"), g_strdup(strempty(properties_get_string(props, "Event"))) },
                { _("Created:"), created ? format_when(created, now) : NULL },
                { _("Due:"), due && !started ? format_when(due, now) : NULL },
                { _("Started:"), started ? format_when(started, now) : NULL },
                { _("Finished:"), finished ? format_when(finished, now) : NULL },
                { _("Unit:"), !isempty(unit) ? g_strdup(unit) : NULL },
                { _("Main PID:"), pid ? g_strdup_printf("%" PRIu64, pid) : NULL },
                { _("Result:"), !isempty(result) ? (exit_status && finished
                                                    ? g_strdup_printf("%s (%s %" PRIi64 ")", result,
                                                                      _("exit status"), exit_status->i)
                                                    : g_strdup(result)) : NULL },
        };
        size_t width = 0;

        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                width = MAX(width, utf8_display_width(rows[i].label));

        printf("%s%s%s ", strempty(on), g_get_charset(NULL) ? "\u25CF" : "*", off);
        printf(_("Task %" PRIu64 " of rule %s\n"), id, strempty(properties_get_string(props, "Rule")));
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                if (rows[i].value)
                        printf("%*s%s %s\n", (int) (width - utf8_display_width(rows[i].label)), "",
                               rows[i].label, rows[i].value);
                g_free(rows[i].value);
        }

        if (c->lines == 0)
                return CTL_EXIT_SUCCESS;
        if (c->host) {
                printf(_("\n(The journal of %s is not read from here: "
                         "journalctl -H %s INOTASKD_TASK_ID=%" PRIu64 ")\n"),
                       c->host, c->host, id);
                return CTL_EXIT_SUCCESS;
        }
        putchar('\n');
        fflush(stdout);
        r = journal_show_task(stdout, id, c->user, unit, created, c->lines, c->colors, c->width);
        if (r < 0)
                printf(_("(No journal to read: %s)\n"), g_strerror(-r));
        else if (r == 0 && !c->user && geteuid() != 0)
                /* As systemctl status hints: the system's entries are not everyone's to read. */
                printf(_("(No journal entries for task %" PRIu64 " that you may read; members of the groups "
                         "adm and systemd-journal see the system's.)\n"), id);
        else if (r == 0)
                printf(_("(No journal entries for task %" PRIu64 ".)\n"), id);
        return CTL_EXIT_SUCCESS;
}

static int status_tasks(Ctl *c, int argc, char **argv) {
        _cleanup_(json_writer_freep) JsonWriter *w = c->json ? json_writer_new(c->json_pretty) : NULL;
        int ret = CTL_EXIT_SUCCESS;

        for (int i = 1; i < argc; i++) {
                uint64_t id;
                int r = parse_task_id(argv[i], &id);

                if (r < 0)
                        return -r;
        }
        if (w && argc > 2)
                json_begin_array(w);
        for (int i = 1; i < argc; i++) {
                uint64_t id;
                int r;

                (void) parse_task_id(argv[i], &id);
                if (w) {
                        g_autoptr(GPtrArray) props = NULL;

                        r = get_task(c, id, &props);
                        if (r < 0)
                                r = -r;
                        else {
                                properties_write_json(w, props, NULL);
                                r = CTL_EXIT_SUCCESS;
                        }
                } else {
                        if (i > 1)
                                putchar('\n');
                        r = status_task(c, id);
                }
                if (r != CTL_EXIT_SUCCESS && ret == CTL_EXIT_SUCCESS)
                        ret = r;
                if (r == CTL_EXIT_NOT_RUNNING)
                        break;
        }
        if (w && argc > 2)
                json_end_array(w);
        if (w && (argc > 2 || ret == CTL_EXIT_SUCCESS))
                print_json(w);
        return ret;
}

static int verb_status(Ctl *c, int argc, char **argv) {
        g_autoptr(GPtrArray) props = NULL;
        const char *state, *version;
        int r;

        if (argc > 1)
                return status_tasks(c, argc, argv);

        /* Looking at the status must not start the daemon by bus activation. */
        r = get_all(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, UINT64_MAX, &props);
        if (r < 0)
                return -r;

        if (c->json) {
                _cleanup_(json_writer_freep) JsonWriter *w = json_writer_new(c->json_pretty);

                properties_write_json(w, props, NULL);
                print_json(w);
                return CTL_EXIT_SUCCESS;
        }

        state = properties_get_string(props, "State");
        version = properties_get_string(props, "Version");
        uint64_t n_watches = properties_get_u64(props, "NWatches", 0),
                 n_dirs = properties_get_u64(props, "NDirectories", 0),
                 n_scheduled = properties_get_u64(props, "NTasksScheduled", 0),
                 n_running = properties_get_u64(props, "NTasksRunning", 0),
                 n_events = properties_get_u64(props, "NEvents", 0),
                 n_overflows = properties_get_u64(props, "NOverflows", 0),
                 n_done = properties_get_u64(props, "NTasksDone", 0),
                 n_failed = properties_get_u64(props, "NTasksFailed", 0);

        const char *labels[] = {
                _("State:"), _("Version:"), _("Watches:"), _("Tasks:"), _("Events:"), _("Finished:"),
        };
        size_t width = 0;
        for (size_t i = 0; i < ELEMENTSOF(labels); i++)
                width = MAX(width, utf8_display_width(labels[i]));

#define LABEL(i) printf("%*s%s ", (int) (width - utf8_display_width(labels[i])), "", labels[i])
        const char *on = c->colors ? manager_state_color(state) : NULL, *off = on ? ANSI_NORMAL : "";
        const bool utf8 = g_get_charset(NULL);

        printf("%s%s%s ", strempty(on), utf8 ? "\u25CF" : "*", off);
        printf(_("inotaskd on the %s bus\n"), ctl_bus_name(c));

        LABEL(0);
        printf("%s%s%s\n", strempty(on), state ? state : "n/a", off);
        LABEL(1);
        printf("%s\n", version ? version : "n/a");
        LABEL(2);
        printf(g_dngettext(NULL, "%" PRIu64 " (%" PRIu64 " directory)\n",
                           "%" PRIu64 " (%" PRIu64 " directories)\n", n_dirs),
               n_watches, n_dirs);
        LABEL(3);
        printf(_("%" PRIu64 " scheduled, %s%" PRIu64 " running%s\n"), n_scheduled,
               c->colors && n_running > 0 ? ANSI_HIGHLIGHT_GREEN : "", n_running,
               c->colors && n_running > 0 ? ANSI_NORMAL : "");
        LABEL(4);
        printf(g_dngettext(NULL, "%" PRIu64 " (%s%" PRIu64 " queue overflow%s)\n",
                           "%" PRIu64 " (%s%" PRIu64 " queue overflows%s)\n", n_overflows),
               n_events, c->colors && n_overflows > 0 ? ANSI_YELLOW : "", n_overflows,
               c->colors && n_overflows > 0 ? ANSI_NORMAL : "");
        LABEL(5);
        printf(_("%" PRIu64 " done, %s%" PRIu64 " failed%s\n"), n_done,
               c->colors && n_failed > 0 ? ANSI_HIGHLIGHT_RED : "", n_failed,
               c->colors && n_failed > 0 ? ANSI_NORMAL : "");
#undef LABEL

        return CTL_EXIT_SUCCESS;
}

/* ------------------------------------------------------------------ list-tasks, list-watches, list-rules */

/* Each list verb's columns, in the order of the daemon's struct; where each goes in the JSON objects and
 * in the table. Both outputs are made from these alone (list.c). */
enum { TASK_ID, TASK_OBJECT, TASK_RULE, TASK_PATH, TASK_EVENT, TASK_STATE, TASK_DUE, TASK_UNIT };
static const ListColumn task_columns[] = {          /* (tosssst), then the Unit property of each task */
        [TASK_ID]     = { 't', LIST_UINT,      "id",         1, N_("ID"),        1, .align_right = true },
        [TASK_OBJECT] = { 'o', LIST_STRING,    "object",     2, NULL,            0 },
        [TASK_RULE]   = { 's', LIST_STRING,    "rule",       4, N_("RULE"),      3 },
        [TASK_PATH]   = { 's', LIST_PATH,      "path",       7, N_("PATH"),      6 },
        [TASK_EVENT]  = { 's', LIST_STRING,    "event",      5, N_("EVENT"),     4 },
        [TASK_STATE]  = { 's', LIST_STRING,    "state",      3, N_("STATE"),     2,
                          .color = task_state_color },
        [TASK_DUE]    = { 't', LIST_TIMESTAMP, "due_usec",   6, N_("DUE"),       5 },
        [TASK_UNIT]   = { 0,   LIST_STRING,    "unit",       8, NULL,            0 },
};

static const ListColumn watch_columns[] = {         /* (ssbbu) */
        { 's', LIST_STRING,    "name",        1, N_("NAME"),      1 },
        { 's', LIST_PATH,      "path",        5, N_("PATH"),      5 },
        { 'b', LIST_BOOL,      "recursive",   2, N_("RECURSIVE"), 2 },
        { 'b', LIST_BOOL,      "auto_add",    3, N_("AUTOADD"),   3 },
        { 'u', LIST_UINT,      "directories", 4, N_("DIRS"),      4, .align_right = true },
};

/* ListWatchesEx: the same with the watch's state (active, waiting, inactive). */
static const ListColumn watch_ex_columns[] = {      /* (ssbbus) */
        { 's', LIST_STRING,    "name",        1, N_("NAME"),      1 },
        { 's', LIST_PATH,      "path",        6, N_("PATH"),      6 },
        { 'b', LIST_BOOL,      "recursive",   3, N_("RECURSIVE"), 3 },
        { 'b', LIST_BOOL,      "auto_add",    4, N_("AUTOADD"),   4 },
        { 'u', LIST_UINT,      "directories", 5, N_("DIRS"),      5, .align_right = true },
        { 's', LIST_STRING,    "state",       2, N_("STATE"),     2 },
};

/* ListWatchesWithBackend: the same with the backend that watches it. */
static const ListColumn watch_backend_columns[] = {     /* (ssbbuss) */
        { 's', LIST_STRING,    "name",        1, N_("NAME"),      1 },
        { 's', LIST_PATH,      "path",        7, N_("PATH"),      7 },
        { 'b', LIST_BOOL,      "recursive",   4, N_("RECURSIVE"), 4 },
        { 'b', LIST_BOOL,      "auto_add",    5, N_("AUTOADD"),   5 },
        { 'u', LIST_UINT,      "directories", 6, N_("DIRS"),      6, .align_right = true },
        { 's', LIST_STRING,    "state",       2, N_("STATE"),     2 },
        { 's', LIST_STRING,    "backend",     3, N_("BACKEND"),   3 },
};

static const ListColumn rule_columns[] = {          /* (sssst) */
        { 's', LIST_STRING,    "name",        1, N_("NAME"),      1 },
        { 's', LIST_STRING,    "action",      2, N_("ACTION"),    2 },
        { 's', LIST_STRV,      "events",      3, N_("EVENTS"),    5, .separator = '|' },
        { 's', LIST_STRV,      "watches",     4, N_("WATCHES"),   4, .separator = ' ' },
        { 't', LIST_TIMESPAN,  "delay_usec",  5, N_("DELAY"),     3 },
};

static bool task_state_is_active(const char *state) {
        return streq(state, "scheduled") || streq(state, "running");
}

static void message_unref(gpointer m) {
        sd_bus_message_unref(m);
}

/* The task states, for --state=help; a state the daemon knows and we do not is still accepted. */
static const char *const task_states[] = {
        "scheduled", "running", "done", "failed", "cancelled", "timeout",
};

/* Like systemctl list-units PATTERN: shell globs, "*" also across "/". */
static bool match_patterns(char **patterns, const char *a, const char *b) {
        if (!patterns)
                return true;
        for (char **p = patterns; *p; p++)
                if (fnmatch(*p, a, 0) == 0 || (b && fnmatch(*p, b, 0) == 0))
                        return true;
        return false;
}

typedef struct TaskFilter {
        bool all;
        char **states;                  /* NULL: active ones, or all with --all */
        char **patterns;                /* on the rule or the path; NULL: every task */
        size_t n_hidden;
} TaskFilter;

static bool keep_task(const ListValue *row, void *userdata) {
        TaskFilter *f = userdata;

        if (!match_patterns(f->patterns, row[TASK_RULE].s, row[TASK_PATH].s))
                return false;
        if (f->states)
                return g_strv_contains((const char *const *) f->states, row[TASK_STATE].s);
        if (f->all || task_state_is_active(row[TASK_STATE].s))
                return true;
        f->n_hidden++;
        return false;
}

/* list-watches and list-rules: the name (column 0) or the path. */
typedef struct NameFilter {
        char **patterns;
        int path_column;                /* -1: none */
} NameFilter;

static bool keep_named(const ListValue *row, void *userdata) {
        NameFilter *f = userdata;

        return match_patterns(f->patterns, row[0].s, f->path_column >= 0 ? row[f->path_column].s : NULL);
}

/* Every task, a page at a time: one reply for all of them could be larger than the bus takes. A daemon
 * without ListTasksPaged() (an older one) is asked ListTasks() instead. Looking does not start the
 * daemon. The replies are kept in replies: the rows point into them. */
static int fetch_tasks(Ctl *c, GPtrArray *replies, List *list, TaskFilter *filter) {
        uint64_t after = 0;

        for (;;) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int r;

                r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, "ListTasksPaged", &error, &reply,
                             "tu", after, (uint32_t) 0);
                if (r < 0 && after == 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                        sd_bus_error_free(&error);
                        r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, "ListTasks", &error,
                                     &reply, NULL);
                        if (r < 0)
                                return ctl_report_error(c, &error, r, UINT64_MAX, _("listing tasks"));
                        g_ptr_array_add(replies, reply);
                        r = list_read(list, reply, keep_task, filter);
                        return r < 0 ? bad_reply(r) : CTL_EXIT_SUCCESS;
                }
                if (r < 0)
                        return ctl_report_error(c, &error, r, UINT64_MAX, _("listing tasks"));
                g_ptr_array_add(replies, reply);
                r = list_read(list, reply, keep_task, filter);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "t", &after);
                if (r < 0)
                        return bad_reply(r);
                if (after == 0)
                        return CTL_EXIT_SUCCESS;
        }
}

/* --json: each task's unit, its Unit property, asked of every task that started (one that is still
 * scheduled has none), the calls a window at a time in flight: a round trip each would be slow over -H
 * (and the system bus lets a client wait for 128 replies at most). A task that left the history
 * meanwhile, or a daemon without Unit, leaves "". */
#define UNIT_CALLS_IN_FLIGHT 64

typedef struct UnitLookup {
        List *list;
        size_t row;
        size_t *n_pending;
        sd_bus_slot *slot;              /* of the call; its unref cancels it if we stop early */
} UnitLookup;

static int on_unit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitLookup *u = userdata;
        const char *unit;

        (*u->n_pending)--;
        if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "v", "s", &unit) > 0)
                list_set_string(u->list, u->row, TASK_UNIT, unit);
        return 0;
}

static int fetch_units(Ctl *c, List *list) {
        size_t n = list_get_rows(list), n_pending = 0, next = 0;
        g_autofree UnitLookup *lookups = g_new0(UnitLookup, MAX(n, (size_t) 1));
        int r = 0;

        while (r >= 0 && (next < n || n_pending > 0)) {
                while (next < n && n_pending < UNIT_CALLS_IN_FLIGHT) {
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                        const ListValue *row = list_get_row(list, next);

                        lookups[next] = (UnitLookup) { list, next, &n_pending, NULL };
                        next++;
                        if (streq(row[TASK_STATE].s, "scheduled"))
                                continue;
                        r = sd_bus_message_new_method_call(c->bus, &m, BUS_NAME, row[TASK_OBJECT].s,
                                                           "org.freedesktop.DBus.Properties", "Get");
                        if (r >= 0)
                                r = sd_bus_message_set_auto_start(m, false);
                        if (r >= 0)
                                r = sd_bus_message_append(m, "ss", BUS_TASK_INTERFACE, "Unit");
                        if (r >= 0)
                                r = sd_bus_call_async(c->bus, &lookups[next - 1].slot, m, on_unit_reply,
                                                      &lookups[next - 1], 0);
                        if (r < 0)
                                break;
                        n_pending++;
                }
                if (r < 0 || n_pending == 0)
                        break;
                r = sd_bus_process(c->bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(c->bus, UINT64_MAX);
        }
        for (size_t i = 0; i < next; i++)
                sd_bus_slot_unref(lookups[i].slot);
        if (r < 0) {
                log_error(_("cannot ask for the tasks' units: %s"), g_strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_SUCCESS;
}

/* The listing as --json or a table; the verb prints its legend after a table. */
static void print_list(const Ctl *c, const List *list) {
        if (c->json)
                list_print_json(list, c->json_pretty);
        else
                list_print_table(list, c->legend, c->colors, c->width);
}

static int verb_list_tasks(Ctl *c, int argc, char **argv) {
        /* The replies go after the list: its strings point into them. */
        g_autoptr(GPtrArray) replies = g_ptr_array_new_with_free_func(message_unref);
        _cleanup_(list_freep) List *list = list_new(task_columns, ELEMENTSOF(task_columns));
        TaskFilter filter = {
                .all = c->all,
                .states = c->states,
                .patterns = argc > 1 ? argv + 1 : NULL,
        };
        size_t n;
        int r;

        r = fetch_tasks(c, replies, list, &filter);
        if (r != CTL_EXIT_SUCCESS)
                return r;

        list_sort(list, TASK_ID);
        if (c->json) {
                r = fetch_units(c, list);
                if (r != CTL_EXIT_SUCCESS)
                        return r;
        }
        print_list(c, list);
        if (c->json)
                return CTL_EXIT_SUCCESS;

        n = list_get_rows(list);
        print_legend(c, g_dngettext(NULL, "%u task listed.", "%u tasks listed.", n), (unsigned) n);
        if (c->legend && filter.n_hidden > 0)
                printf(g_dngettext(NULL, "%zu finished task not shown; pass --all to see it.\n",
                                   "%zu finished tasks not shown; pass --all to see them.\n", filter.n_hidden),
                       filter.n_hidden);
        return CTL_EXIT_SUCCESS;
}

/* A list verb of one call without arguments; what says what failed. The verb prints its legend after a
 * table, from the count of rows in ret_n. */
static int list_simple(Ctl *c, const char *method, const ListColumn *columns, size_t n_columns,
                       NameFilter *filter, const char *what, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(list_freep) List *list = list_new(columns, n_columns);
        int r;

        r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, method, &error, &reply, NULL);
        if (r < 0)
                return ctl_report_error(c, &error, r, UINT64_MAX, what);
        r = list_read(list, reply, keep_named, filter);
        if (r < 0)
                return bad_reply(r);

        print_list(c, list);
        *ret_n = list_get_rows(list);
        return CTL_EXIT_SUCCESS;
}

static int verb_list_watches(Ctl *c, int argc, char **argv) {
        const ListColumn *columns = watch_backend_columns;
        size_t n_columns = ELEMENTSOF(watch_backend_columns);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(list_freep) List *list = NULL;
        NameFilter filter = { .patterns = argc > 1 ? argv + 1 : NULL, .path_column = 1 };
        size_t n;
        int r;

        /* With the state and backend of each watch; an older daemon lists without them. */
        r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, "ListWatchesWithBackend", &error, &reply, NULL);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                sd_bus_error_free(&error);
                r = ctl_call(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, "ListWatchesEx", &error, &reply, NULL);
                columns = watch_ex_columns;
                n_columns = ELEMENTSOF(watch_ex_columns);
        }
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                sd_bus_error_free(&error);
                r = list_simple(c, "ListWatches", watch_columns, ELEMENTSOF(watch_columns), &filter,
                                _("listing watches"), &n);
        } else if (r < 0)
                return ctl_report_error(c, &error, r, UINT64_MAX, _("listing watches"));
        else {
                list = list_new(columns, n_columns);
                r = list_read(list, reply, keep_named, &filter);
                if (r < 0)
                        return bad_reply(r);
                print_list(c, list);
                n = list_get_rows(list);
                r = CTL_EXIT_SUCCESS;
        }
        if (r == CTL_EXIT_SUCCESS && !c->json)
                print_legend(c, g_dngettext(NULL, "%u watch listed.", "%u watches listed.", n),
                             (unsigned) n);
        return r;
}

static int verb_list_rules(Ctl *c, int argc, char **argv) {
        NameFilter filter = { .patterns = argc > 1 ? argv + 1 : NULL, .path_column = -1 };
        size_t n;
        int r;

        r = list_simple(c, "ListRules", rule_columns, ELEMENTSOF(rule_columns), &filter, _("listing rules"),
                        &n);
        if (r == CTL_EXIT_SUCCESS && !c->json)
                print_legend(c, g_dngettext(NULL, "%u rule listed.", "%u rules listed.", n), (unsigned) n);
        return r;
}

/* ------------------------------------------------------------------ show */

static bool property_wanted(const Ctl *c, const char *name) {
        return !c->properties || g_strv_contains((const char *const *) c->properties, name);
}

static void show_properties(const Ctl *c, GPtrArray *props, JsonWriter *w) {
        if (w) {
                properties_write_json(w, props, c->properties);
                return;
        }

        for (size_t i = 0; i < props->len; i++) {
                const Property *p = props->pdata[i];
                g_autofree char *v = NULL;

                if (!property_wanted(c, p->name))
                        continue;
                /* Readable times for a reader; with -p or --value raw ones, for scripts. */
                v = c->properties || c->value_only ? property_format(p) : property_format_readable(p);
                if (!v)
                        continue;
                /* Values are printed as they are, like systemctl show: the daemon escapes paths. */
                if (c->value_only)
                        printf("%s\n", v);
                else
                        printf("%s=%s\n", p->name, v);
        }
}

static int show_task(Ctl *c, uint64_t id, JsonWriter *w) {
        g_autoptr(GPtrArray) props = NULL;
        int r;

        r = get_task(c, id, &props);
        if (r < 0)
                return -r;

        show_properties(c, props, w);
        return CTL_EXIT_SUCCESS;
}

static int verb_show(Ctl *c, int argc, char **argv) {
        _cleanup_(json_writer_freep) JsonWriter *w = c->json ? json_writer_new(c->json_pretty) : NULL;
        int ret = CTL_EXIT_SUCCESS;

        if (argc <= 1) {
                g_autoptr(GPtrArray) props = NULL;
                int r = get_all(c, false, BUS_PATH, BUS_MANAGER_INTERFACE, UINT64_MAX, &props);

                if (r < 0)
                        return -r;
                show_properties(c, props, w);
                if (w)
                        print_json(w);
                return CTL_EXIT_SUCCESS;
        }

        /* Several ids: an array (of the tasks that exist); one id: just its object. */
        if (w && argc > 2)
                json_begin_array(w);
        for (int i = 1; i < argc; i++) {
                uint64_t id;
                int r = parse_task_id(argv[i], &id);

                if (r < 0)
                        return -r;
                if (!w && i > 1)
                        putchar('\n');
                r = show_task(c, id, w);
                if (r != CTL_EXIT_SUCCESS && ret == CTL_EXIT_SUCCESS)
                        ret = r;
        }
        if (w && argc > 2)
                json_end_array(w);

        /* One failed id with --json: no half document on stdout. */
        if (w && (argc > 2 || ret == CTL_EXIT_SUCCESS))
                print_json(w);
        return ret;
}

/* ------------------------------------------------------------------ cancel, trigger, run, reload */

static int task_verb(Ctl *c, int argc, char **argv, bool cancel) {
        const char *method = cancel ? "CancelTask" : "TriggerTask";
        int ret = CTL_EXIT_SUCCESS;

        /* All ids are checked before anything is done. */
        for (int i = 1; i < argc; i++) {
                uint64_t id;
                int r = parse_task_id(argv[i], &id);
                if (r < 0)
                        return -r;
        }

        ctl_polkit_agent_open(c);
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                uint64_t id;
                int r;

                (void) parse_task_id(argv[i], &id);
                r = ctl_call(c, true, BUS_PATH, BUS_MANAGER_INTERFACE, method, &error, NULL, "t", id);
                if (r < 0) {
                        g_autofree char *what =
                                cancel ? g_strdup_printf(_("cannot cancel task %" PRIu64), id)
                                       : g_strdup_printf(_("cannot trigger task %" PRIu64), id);

                        r = ctl_report_error(c, &error, r, id, what);
                        if (ret == CTL_EXIT_SUCCESS)
                                ret = r;
                        /* Without a daemon or a bus, the other ids would fail the same way. */
                        if (r == CTL_EXIT_NOT_RUNNING)
                                break;
                }
        }
        return ret;
}

static int verb_cancel(Ctl *c, int argc, char **argv) {
        return task_verb(c, argc, argv, true);
}

static int verb_trigger(Ctl *c, int argc, char **argv) {
        return task_verb(c, argc, argv, false);
}

static int verb_run(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *path = NULL;
        uint64_t id;
        int r;

        /* The daemon runs elsewhere: a relative path means one relative to our directory, which only
         * makes sense locally. */
        if (!g_path_is_absolute(argv[2]) && !c->host)
                path = g_canonicalize_filename(argv[2], NULL);
        else
                path = g_strdup(argv[2]);

        if (!g_utf8_validate(path, -1, NULL)) {
                log_error(_("the path is not valid UTF-8, which the bus cannot carry: %s"), argv[2]);
                return CTL_EXIT_USAGE;
        }

        ctl_polkit_agent_open(c);
        r = ctl_call(c, true, BUS_PATH, BUS_MANAGER_INTERFACE, "RunRule", &error, &reply, "ss",
                     argv[1], path);
        if (r < 0) {
                g_autofree char *what = g_strdup_printf(_("cannot run rule %s"), argv[1]);
                return ctl_report_error(c, &error, r, UINT64_MAX, what);
        }
        r = sd_bus_message_read(reply, "t", &id);
        if (r < 0)
                return bad_reply(r);

        if (c->json) {
                _cleanup_(json_writer_freep) JsonWriter *w = json_writer_new(c->json_pretty);

                json_begin_object(w);
                json_key(w, "id");
                json_uint(w, id);
                json_end_object(w);
                print_json(w);
        } else
                printf("%" PRIu64 "\n", id);
        return CTL_EXIT_SUCCESS;
}

static int verb_reload(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        ctl_polkit_agent_open(c);
        r = ctl_call(c, true, BUS_PATH, BUS_MANAGER_INTERFACE, "Reload", &error, NULL, NULL);
        if (r >= 0)
                return CTL_EXIT_SUCCESS;

        if (sd_bus_error_has_name(&error, BUS_ERROR_INVALID_CONFIG)) {
                /* The message says that the running configuration stays, then lists the
                 * FILE:LINE: KEY: message lines. */
                log_error("%s", isempty(error.message) ? _("the new configuration is invalid")
                                                       : error.message);
                return CTL_EXIT_FAILURE;
        }
        return ctl_report_error(c, &error, r, UINT64_MAX, _("cannot reload"));
}

/* ------------------------------------------------------------------ command line */

typedef struct Verb {
        const char *name;
        int min_args, max_args;         /* without the verb; -1: any number */
        int (*run)(Ctl *c, int argc, char **argv);
        bool pager;                     /* its output goes through the pager on a terminal */
} Verb;

static const Verb verbs[] = {
        { "status",       0, -1, verb_status,       .pager = true },
        { "list-tasks",   0, -1, verb_list_tasks,   .pager = true },
        { "list-watches", 0, -1, verb_list_watches, .pager = true },
        { "list-rules",   0, -1, verb_list_rules,   .pager = true },
        { "show",         0, -1, verb_show,         .pager = true },
        { "cancel",       1, -1, verb_cancel },
        { "trigger",      1, -1, verb_trigger },
        { "run",          2,  2, verb_run },
        { "reload",       0,  0, verb_reload },
        { "monitor",      0,  0, verb_monitor },
};

enum {
        ARG_SYSTEM = 0x100,
        ARG_USER,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NO_PAGER,
        ARG_NO_ASK_PASSWORD,
        ARG_VALUE,
        ARG_VERSION,
        ARG_STATE,
};

/* Returns 1 to go on, 0 to exit successfully, <0 (an exit code, negated) to fail. */
static int parse_argv(int argc, char *argv[], Ctl *c, GPtrArray *properties, GPtrArray *states) {
        static const struct option options[] = {
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "user", no_argument, NULL, ARG_USER },
                { "host", required_argument, NULL, 'H' },
                { "all", no_argument, NULL, 'a' },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "property", required_argument, NULL, 'p' },
                { "value", no_argument, NULL, ARG_VALUE },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                { "full", no_argument, NULL, 'l' },
                { "state", required_argument, NULL, ARG_STATE },
                { "lines", required_argument, NULL, 'n' },
                {}
        };
        bool want_help = false;
        int o;

        opterr = 0;
        while ((o = getopt_long(argc, argv, ":hH:ap:jln:", options, NULL)) >= 0)
                switch (o) {
                case ARG_SYSTEM:
                        c->user = false;
                        break;
                case ARG_USER:
                        c->user = true;
                        break;
                case 'H':
                        if (isempty(optarg)) {
                                log_error(_("--host= needs a host name"));
                                return -CTL_EXIT_USAGE;
                        }
                        c->host = optarg;
                        break;
                case 'a':
                        c->all = true;
                        break;
                case ARG_JSON:
                        if (optarg && streq(optarg, "help")) {
                                puts("short\npretty\noff");
                                return 0;
                        }
                        if (optarg && streq(optarg, "off")) {
                                c->json = false;
                                break;
                        }
                        if (!optarg || streq(optarg, "short"))
                                c->json_pretty = false;
                        else if (streq(optarg, "pretty"))
                                c->json_pretty = true;
                        else {
                                log_error(_("unknown JSON mode: %s (short, pretty or off)"), optarg);
                                return -CTL_EXIT_USAGE;
                        }
                        c->json = true;
                        break;
                case 'j':
                        /* As systemctl -j: for a reader on a terminal, for a program otherwise. */
                        c->json = true;
                        c->json_pretty = isatty(STDOUT_FILENO);
                        break;
                case 'l':
                        c->full = true;
                        break;
                case 'n': {
                        guint64 v;

                        if (!g_ascii_string_to_unsigned(optarg, 10, 0, 100000, &v, NULL)) {
                                log_error(_("not a number of lines: %s"), optarg);
                                return -CTL_EXIT_USAGE;
                        }
                        c->lines = v;
                        break;
                }
                case ARG_STATE: {
                        g_auto(GStrv) names = g_strsplit(optarg, ",", -1);

                        for (char **n = names; *n; n++) {
                                if (streq(*n, "help")) {
                                        for (size_t i = 0; i < ELEMENTSOF(task_states); i++)
                                                puts(task_states[i]);
                                        return 0;
                                }
                                if (**n)
                                        g_ptr_array_add(states, g_strdup(*n));
                        }
                        break;
                }
                case ARG_NO_LEGEND:
                        c->legend = false;
                        break;
                case ARG_NO_PAGER:
                        c->pager = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        c->ask_password = false;
                        break;
                case 'p': {
                        /* Like systemctl: -p A,B and -p A -p B. */
                        g_auto(GStrv) names = g_strsplit(optarg, ",", -1);
                        for (char **n = names; *n; n++)
                                if (**n)
                                        g_ptr_array_add(properties, g_strdup(*n));
                        break;
                }
                case ARG_VALUE:
                        c->value_only = true;
                        break;
                case ARG_VERSION:
                        printf("inotaskctl %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        want_help = true;
                        break;
                case ':':
                        log_error(_("option %s needs an argument"), argv[optind - 1]);
                        return -CTL_EXIT_USAGE;
                case '?':
                default:
                        if (optopt)
                                log_error(_("unknown option -%c; see --help"), optopt);
                        else
                                log_error(_("unknown option %s; see --help"), argv[optind - 1]);
                        return -CTL_EXIT_USAGE;
                }

        if (want_help) {
                /* Like systemctl --help: paged on a terminal (unless --no-pager, wherever it stood). */
                if (c->pager)
                        (void) pager_open();
                help();
                pager_close();
                return 0;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        g_autoptr(GPtrArray) properties = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func(g_free);
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Ctl c = {
                .legend = true,
                .ask_password = true,
                .pager = true,
                .lines = 10,
        };
        const Verb *verb = NULL;
        char *default_argv[] = { (char *) "status", NULL };
        char **vargv;
        int vargc, r;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, locale_dir());
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);

        r = parse_argv(argc, argv, &c, properties, states);
        if (r <= 0)
                return -r;

        if (properties->len > 0) {
                g_ptr_array_add(properties, NULL);
                c.properties = (char **) properties->pdata;
        }
        if (states->len > 0) {
                g_ptr_array_add(states, NULL);
                c.states = (char **) states->pdata;
        }
        /* Both from the terminal on stdout, before a pager takes its place. */
        c.colors = !c.json && colors_enabled();
        c.width = c.full ? 0 : terminal_width();

        vargc = argc - optind;
        vargv = argv + optind;
        if (vargc == 0) {
                vargc = 1;
                vargv = default_argv;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, vargv[0]))
                        verb = &verbs[i];
        if (!verb) {
                log_error(_("unknown command: %s; see --help"), vargv[0]);
                return CTL_EXIT_USAGE;
        }
        if (vargc - 1 < verb->min_args) {
                log_error(_("too few arguments for %s; see --help"), verb->name);
                return CTL_EXIT_USAGE;
        }
        if (verb->max_args >= 0 && vargc - 1 > verb->max_args) {
                log_error(_("too many arguments for %s; see --help"), verb->name);
                return CTL_EXIT_USAGE;
        }

        r = ctl_connect(&c);
        if (r != 0)
                return r;
        bus = c.bus;
        /* Like systemctl: polkit may ask through an agent (ours on the terminal, or the session's). */
        (void) sd_bus_set_allow_interactive_authorization(bus, c.ask_password);

        if (verb->pager && c.pager)
                (void) pager_open();
        r = verb->run(&c, vargc, vargv);
        ctl_polkit_agent_close(&c);
        pager_close();
        return r;
}
