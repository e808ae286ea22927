/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for list: one column table reads a D-Bus array of structs and drives both the table and the
 * JSON array (their orders, hidden columns, formats, path_bytes), a filter and the sort. */
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "list.h"
#include "properties.h"
#include "table.h"

/* A struct shaped like ListTasks' and ListWatches' elements, in a third order of its own. */
enum { COL_ID, COL_OBJECT, COL_NAME, COL_PATH, COL_ON, COL_DELAY, COL_DUE, COL_N };
static const ListColumn columns[] = {                /* (tossbtt) */
        [COL_ID]     = { 't', LIST_UINT,      "id",      2, "ID",    3, .align_right = true },
        [COL_OBJECT] = { 'o', LIST_STRING,    "object",  3, NULL,    0 },
        [COL_NAME]   = { 's', LIST_STRING,    "name",    1, "NAME",  1 },
        [COL_PATH]   = { 's', LIST_PATH,      "path",    4, "PATH",  6 },
        [COL_ON]     = { 'b', LIST_BOOL,      "on",      5, "ON",    2 },
        [COL_DELAY]  = { 't', LIST_TIMESPAN,  "delay",   6, "DELAY", 4 },
        [COL_DUE]    = { 't', LIST_TIMESTAMP, NULL,      0, "DUE",   5 },
};

typedef struct Row {
        uint64_t id;
        const char *object, *name, *path;
        bool on;
        uint64_t delay, due;
} Row;

static const Row rows[] = {
        { 12, "/x/12", "b", "/w/a\\xffb", true, 90 * G_USEC_PER_SEC, 0 },
        { 3, "/x/3", "a-long-name", "/w/plain", false, 0, 0 },
        { 7, "/x/7", "hidden", "/w/h", true, 1, 0 },
};

/* A message holding the rows, sealed and rewound for reading: sd-bus builds messages only on a bus
 * that is open, which one end of a socket pair is as soon as it starts authenticating. */
static sd_bus_message *make_reply(sd_bus **ret_bus, int fds[2]) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.example", "/", "org.example", "List"),
                        >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "(tossbtt)"), >=, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
                g_assert_cmpint(sd_bus_message_append(m, "(tossbtt)", rows[i].id, rows[i].object,
                                                      rows[i].name, rows[i].path, (int) rows[i].on,
                                                      rows[i].delay, rows[i].due), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);
        *ret_bus = bus;
        return m;
}

static bool keep_visible(const ListValue *row, void *userdata) {
        size_t *n_hidden = userdata;

        if (!streq(row[COL_NAME].s, "hidden"))
                return true;
        (*n_hidden)++;
        return false;
}

/* What f() writes on stdout. */
static char *capture_stdout(void (*f)(const List *l, bool arg), const List *l, bool arg) {
        int fd = memfd_create("stdout", MFD_CLOEXEC), saved;
        char buf[4096];
        ssize_t n;

        g_assert_cmpint(fd, >=, 0);
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        g_assert_cmpint(dup2(fd, STDOUT_FILENO), ==, STDOUT_FILENO);
        f(l, arg);
        fflush(stdout);
        g_assert_cmpint(dup2(saved, STDOUT_FILENO), ==, STDOUT_FILENO);
        close(saved);
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        g_assert_cmpint(n, >=, 0);
        close(fd);
        buf[n] = '\0';
        return g_strdup(buf);
}

static void print_table_no_colors(const List *l, bool header) {
        list_print_table(l, header, false, 0);
}

/* The width a table is fitted into: 30 columns (the table above is 37 wide). */
static void print_table_30(const List *l, bool header) {
        list_print_table(l, header, false, 30);
}

static void test_list_outputs(void) {
        sd_bus *bus = NULL;
        int fds[2];
        sd_bus_message *m = make_reply(&bus, fds);
        List *l = list_new(columns, COL_N);
        size_t n_hidden = 0;
        g_autofree char *json = NULL, *pretty = NULL, *table = NULL, *bare = NULL, *narrow = NULL;

        g_assert_cmpint(list_read(l, m, keep_visible, &n_hidden), >=, 0);
        g_assert_cmpuint(list_get_rows(l), ==, 2);
        g_assert_cmpuint(n_hidden, ==, 1);
        list_sort(l, COL_ID);

        /* JSON: json_pos order, DUE left out, path_bytes after a path whose bytes differ (0xff). */
        json = capture_stdout(list_print_json, l, false);
        g_assert_cmpstr(json, ==,
                        "[{\"name\":\"a-long-name\",\"id\":3,\"object\":\"/x/3\",\"path\":\"/w/plain\","
                        "\"on\":false,\"delay\":0},"
                        "{\"name\":\"b\",\"id\":12,\"object\":\"/x/12\",\"path\":\"/w/a\\\\xffb\","
                        "\"path_bytes\":[47,119,47,97,255,98],\"on\":true,\"delay\":90000000}]\n");
        pretty = capture_stdout(list_print_json, l, true);
        g_assert_true(g_str_has_prefix(pretty, "[\n  {\n    \"name\": \"a-long-name\",\n    \"id\": 3,\n"));

        /* Table: table_pos order, the object left out, ID right-aligned, yes/no, spans, "-" for no time. */
        table = capture_stdout(print_table_no_colors, l, true);
        g_assert_cmpstr(table, ==,
                        "NAME        ON  ID DELAY    DUE PATH\n"
                        "a-long-name no   3 0        -   /w/plain\n"
                        "b           yes 12 1min 30s -   /w/a\\xffb\n");
        bare = capture_stdout(print_table_no_colors, l, false);
        g_assert_cmpstr(bare, ==,
                        "a-long-name no   3 0        - /w/plain\n"
                        "b           yes 12 1min 30s - /w/a\\xffb\n");

        /* Fitted into 30 columns (it is 41 wide): the widest column that may be cut goes first, NAME (a
         * string: cut at its end) to 6, then PATH (a path: cut in its middle, the name's end stays) to 6;
         * there it stops (33), as numbers, spans and times are never cut and no column below 6. */
        narrow = capture_stdout(print_table_30, l, true);
        g_assert_cmpstr(narrow, ==,
                        "NAME   ON  ID DELAY    DUE PATH\n"
                        "a-lon… no   3 0        -   /w/…in\n"
                        "b      yes 12 1min 30s -   /w/…fb\n");

        list_free(l);
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus);     /* no flush: the other end never answers */
        close(fds[1]);
}

/* A reply whose elements do not have the columns' signature is an error, not a half list. */
static void test_list_wrong_signature(void) {
        static const ListColumn two[] = {
                { 's', LIST_STRING, "a", 1, "A", 1 },
                { 's', LIST_STRING, "b", 2, "B", 2 },
        };
        sd_bus *bus = NULL;
        int fds[2];
        sd_bus_message *m = make_reply(&bus, fds);
        List *l = list_new(two, G_N_ELEMENTS(two));

        g_assert_cmpint(list_read(l, m, NULL, NULL), <, 0);
        g_assert_cmpuint(list_get_rows(l), ==, 0);

        list_free(l);
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus);     /* no flush: the other end never answers */
        close(fds[1]);
}

/* A column that is not in the reply (dbus_type 0): the others are read as the struct has them, it is ""
 * until set, then the copy the list keeps, in its JSON place; not in the table (no header). */
static void test_list_set_later(void) {
        static const ListColumn cols[] = {                /* (to) of the (tossbtt) above, then unit */
                { 't', LIST_UINT,   "id",     1, "ID", 1 },
                { 'o', LIST_STRING, "object", 2, NULL, 0 },
                { 0,   LIST_STRING, "unit",   3, NULL, 0 },
                { 's', LIST_STRING, "name",   4, "NAME", 2 },
                { 's', LIST_PATH,   NULL,     0, NULL, 0 },
                { 'b', LIST_BOOL,   NULL,     0, NULL, 0 },
                { 't', LIST_UINT,   NULL,     0, NULL, 0 },
                { 't', LIST_UINT,   NULL,     0, NULL, 0 },
        };
        sd_bus *bus = NULL;
        int fds[2];
        sd_bus_message *m = make_reply(&bus, fds);
        List *l = list_new(cols, G_N_ELEMENTS(cols));
        g_autofree char *json = NULL, *table = NULL;
        char *unit = g_strdup("inotaskd-task-12.service");

        g_assert_cmpint(list_read(l, m, NULL, NULL), >=, 0);
        g_assert_cmpuint(list_get_rows(l), ==, 3);
        g_assert_cmpstr(list_get_row(l, 0)[2].s, ==, "");
        g_assert_cmpstr(list_get_row(l, 1)[3].s, ==, "a-long-name");
        list_set_string(l, 0, 2, unit);
        g_free(unit);           /* the list has its own copy */

        json = capture_stdout(list_print_json, l, false);
        g_assert_cmpstr(json, ==,
                        "[{\"id\":12,\"object\":\"/x/12\",\"unit\":\"inotaskd-task-12.service\",\"name\":\"b\"},"
                        "{\"id\":3,\"object\":\"/x/3\",\"unit\":\"\",\"name\":\"a-long-name\"},"
                        "{\"id\":7,\"object\":\"/x/7\",\"unit\":\"\",\"name\":\"hidden\"}]\n");
        table = capture_stdout(print_table_no_colors, l, false);
        g_assert_cmpstr(table, ==, "12 b\n3  a-long-name\n7  hidden\n");

        list_free(l);
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus);     /* no flush: the other end never answers */
        close(fds[1]);
}

/* Cutting by display width: at the end, in the middle, wide characters never split. */
static void test_ellipsize(void) {
        static const struct {
                const char *in;
                size_t width;
                bool middle;
                const char *out;
        } cases[] = {
                { "short", 10, false, "short" },
                { "exactly-10", 10, false, "exactly-10" },
                { "a-long-name", 6, false, "a-lon…" },
                { "/srv/data/file", 9, true, "/srv…file" },
                { "/srv/data/file", 8, true, "/srv…ile" },
                { "日本語文字", 6, false, "日本…" },     /* 2+2+1, not 2+2+2+1 */
                { "abc", 1, false, "…" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *s = ellipsize(cases[i].in, cases[i].width, cases[i].middle);

                g_assert_cmpstr(s, ==, cases[i].out);
                g_assert_cmpuint(utf8_display_width(s), <=, cases[i].width);
        }
}

/* One key style in every --json output: the D-Bus property names in snake_case. */
static void test_json_keys(void) {
        static const char *const cases[][2] = {
                { "Id", "id" }, { "NTasksRunning", "n_tasks_running" }, { "CreatedUSec", "created_usec" },
                { "MainPID", "main_pid" }, { "PathBytes", "path_bytes" }, { "NWatches", "n_watches" },
                { "ExitStatus", "exit_status" }, { "State", "state" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *k = property_json_key(cases[i][0]);
                g_assert_cmpstr(k, ==, cases[i][1]);
        }
}

int main(int argc, char *argv[]) {
        setlocale(LC_ALL, "C.UTF-8");
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/list/ellipsize", test_ellipsize);
        g_test_add_func("/list/json-keys", test_json_keys);
        g_test_add_func("/list/outputs", test_list_outputs);
        g_test_add_func("/list/set-later", test_list_set_later);
        g_test_add_func("/list/wrong-signature", test_list_wrong_signature);
        return g_test_run();
}
