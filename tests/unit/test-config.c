/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for config: the line format, drop-in merging, every default, the exact error messages, the dump
 * round trip and the default sources. */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

/* By path: a plain "config.h" finds the build's generated config.h first (-I. of the build root). */
#include "src/daemon/config.h"
#include "event-names.h"
#include "template.h"
#include "time-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigSourcesOwned *, config_sources_free);

/* The example of the design document, verbatim. */
#define EXAMPLE_HEAD \
        "[Daemon]\n"                                                                       /*  1 */ \
        "LogLevel=info\n"                                                                           \
        "ShutdownTimeoutSec=30        # wait for running tasks on stop, then kill\n"                \
        "MaxRunningTasks=16\n"                                                                      \
        "TaskHistory=100              # finished tasks kept listed\n"                               \
        "AdminGroup=                  # may cancel/trigger/reload over the system bus besides root\n" \
        "\n"                                                                                        \
        "[Watch uploads]\n"                                                                /*  8 */ \
        "Path=/srv/uploads\n"                                                                       \
        "Recursive=yes\n"                                                                           \
        "AutoAdd=yes                  # new subdirectories get watches, and what was created in them\n" \
        "                             # before the watch existed still produces events\n"           \
        "Exclude=*.part .*\n"                                                                       \
        "InitialEvent=exists          # raised for every existing entry at start (inorun initevent)\n" \
        "\n"                                                                                        \
        "[Rule import]\n"                                                                  /* 16 */ \
        "Watch=uploads\n"                                                                           \
        "On=IN_CLOSE_WRITE IN_MOVED_TO\n"                                                           \
        "CancelOn=IN_DELETE IN_MOVED_FROM\n"                                                        \
        "Match=*.csv\n"                                                                             \
        "Files=yes\n"                                                                               \
        "Directories=no\n"                                                                          \
        "DelaySec=30\n"                                                                             \
        "Action=exec\n"                                                                             \
        "Exec=/usr/local/bin/import --file {pathname} --event {maskname}\n"                         \
        "User=importer\n"                                                                  /* 26 */ \
        "TimeoutSec=5min\n"

#define EXAMPLE_ARCHIVE \
        "\n"                                                                                        \
        "[Rule archive]\n"                                                                 /* 29 */ \
        "Watch=uploads\n"                                                                           \
        "On=changed\n"                                                                              \
        "Action=move\n"                                                                    /* 32 */ \
        "Source=^/srv/uploads/(?P<name>.*)\\.done$\n"                                               \
        "Destination=/srv/archive/\\g<name>\n"                                                      \
        "AutoCreate=yes\n"                                                                          \
        "FileMode=0644\n"                                                                           \
        "DirectoryMode=0755\n"

/* The smallest valid configuration around a rule body. */
#define WATCH_W "[Watch w]\nPath=/srv\n"

/* ------------------------------------------------------------------ helpers */

static GPtrArray *errors_new(void) {
        return g_ptr_array_new_with_free_func(g_free);
}

static char *errors_join(GPtrArray *errors) {
        g_ptr_array_add(errors, NULL);
        char *s = g_strjoinv("\n", (char **) errors->pdata);
        g_ptr_array_remove_index(errors, errors->len - 1);
        return s;
}

static Config *load_ok(const char *text) {
        g_autoptr(GPtrArray) errors = errors_new();
        Config *c = NULL;
        int r;

        r = config_load_string("test.conf", text, &c, errors);
        if (r != 0) {
                g_autofree char *s = errors_join(errors);
                g_test_message("unexpected errors:\n%s", s);
        }
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpuint(errors->len, ==, 0);
        g_assert_nonnull(c);
        return c;
}

/* Loads text that must be rejected; returns every message, joined by newlines. */
static char *load_errors(const char *text) {
        g_autoptr(GPtrArray) errors = errors_new();
        Config *c = NULL;
        int r;

        r = config_load_string("test.conf", text, &c, errors);
        g_assert_cmpint(r, ==, CONFIG_E_INVALID);
        g_assert_null(c);
        g_assert_cmpuint(errors->len, >, 0);
        return errors_join(errors);
}

#define assert_errors(text, expected)                           \
        do {                                                    \
                g_autofree char *_e = load_errors(text);        \
                g_assert_cmpstr(_e, ==, expected);              \
        } while (0)

static void assert_strv(char **v, const char *const *expected) {
        g_assert_nonnull(v);
        g_assert_cmpuint(g_strv_length(v), ==, g_strv_length((char **) expected));
        for (size_t i = 0; expected[i]; i++)
                g_assert_cmpstr(v[i], ==, expected[i]);
}
#define STRV(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define STRV_EMPTY ((const char *const[]) { NULL })

static char *replace(const char *s, const char *from, const char *to) {
        g_auto(GStrv) parts = g_strsplit(s, from, -1);
        g_assert_cmpuint(g_strv_length(parts), ==, 2);
        return g_strjoinv(to, parts);
}

static void write_file(const char *dir, const char *name, const char *text) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents(path, text, -1, &error));
        g_assert_no_error(error);
}

static void rm_rf(const char *path) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *name;

        if (d)
                while ((name = g_dir_read_name(d))) {
                        g_autofree char *p = g_build_filename(path, name, NULL);
                        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                                rm_rf(p);
                        else
                                g_assert_cmpint(g_unlink(p), ==, 0);
                }
        g_assert_cmpint(g_rmdir(path), ==, 0);
}

static uint32_t kind(EventKind k) {
        return EVENT_KIND_BIT(k);
}

static void assert_rules_equal(const ConfigRule *a, const ConfigRule *b) {
        g_assert_cmpstr(a->name, ==, b->name);
        g_assert_cmpint(a->task_units, ==, b->task_units);
        g_assert_cmpstr(a->slice, ==, b->slice);
        assert_strv(a->properties, (const char *const *) b->properties);
        g_assert_cmpint(a->stop_with_daemon, ==, b->stop_with_daemon);
        assert_strv(a->watches, (const char *const *) b->watches);
        g_assert_cmphex(a->on_mask, ==, b->on_mask);
        g_assert_cmphex(a->on_kinds, ==, b->on_kinds);
        g_assert_cmphex(a->cancel_mask, ==, b->cancel_mask);
        g_assert_cmphex(a->cancel_kinds, ==, b->cancel_kinds);
        assert_strv(a->match, (const char *const *) b->match);
        g_assert_cmpstr(a->match_regex, ==, b->match_regex);
        g_assert_true(!a->regex == !b->regex);
        if (a->regex)
                g_assert_cmpstr(g_regex_get_pattern(a->regex), ==, g_regex_get_pattern(b->regex));
        assert_strv(a->group_names, (const char *const *) b->group_names);
        g_assert_cmpint(a->files, ==, b->files);
        g_assert_cmpint(a->directories, ==, b->directories);
        g_assert_cmpuint(a->delay, ==, b->delay);
        g_assert_cmpint(a->if_running, ==, b->if_running);
        assert_strv(a->for_each, (const char *const *) b->for_each);
        g_assert_cmpint(a->action, ==, b->action);
        g_assert_cmpstr(a->exec, ==, b->exec);
        g_assert_true(!a->exec_template == !b->exec_template);
        if (a->exec_template)
                g_assert_cmpstr(exec_template_text(a->exec_template), ==,
                                exec_template_text(b->exec_template));
        g_assert_cmpstr(a->user, ==, b->user);
        g_assert_cmpstr(a->group, ==, b->group);
        g_assert_cmpstr(a->working_directory, ==, b->working_directory);
        assert_strv(a->environment, (const char *const *) b->environment);
        g_assert_cmpuint(a->timeout, ==, b->timeout);
        g_assert_cmpstr(a->source, ==, b->source);
        g_assert_true(!a->source_regex == !b->source_regex);
        g_assert_cmpstr(a->destination, ==, b->destination);
        g_assert_cmpint(a->auto_create, ==, b->auto_create);
        g_assert_cmpint(a->overwrite, ==, b->overwrite);
        g_assert_cmpint(a->recursive, ==, b->recursive);
        g_assert_cmpint(a->file_mode, ==, b->file_mode);
        g_assert_cmpint(a->directory_mode, ==, b->directory_mode);
        g_assert_cmpstr(a->owner, ==, b->owner);
        g_assert_cmpstr(a->owner_group, ==, b->owner_group);
        g_assert_cmpstr(a->unit, ==, b->unit);
        g_assert_cmpstr(a->plugin, ==, b->plugin);
        g_assert_true(!a->extra == !b->extra);
        if (a->extra) {
                GHashTableIter it;
                gpointer k, v;
                g_assert_cmpuint(g_hash_table_size(a->extra), ==, g_hash_table_size(b->extra));
                g_hash_table_iter_init(&it, a->extra);
                while (g_hash_table_iter_next(&it, &k, &v))
                        g_assert_cmpstr(v, ==, g_hash_table_lookup(b->extra, k));
        }
}

/* Equal as configurations: where things were read (files, lines) does not count. */
static void assert_config_equal(const Config *a, const Config *b) {
        g_assert_cmpint(a->daemon.log_level, ==, b->daemon.log_level);
        g_assert_cmpuint(a->daemon.shutdown_timeout, ==, b->daemon.shutdown_timeout);
        g_assert_cmpuint(a->daemon.max_running, ==, b->daemon.max_running);
        g_assert_cmpuint(a->daemon.task_history, ==, b->daemon.task_history);
        g_assert_cmpstr(a->daemon.admin_group, ==, b->daemon.admin_group);
        g_assert_cmpstr(a->daemon.state_directory, ==, b->daemon.state_directory);
        g_assert_cmpint(a->daemon.task_units, ==, b->daemon.task_units);

        g_assert_cmpuint(a->watches->len, ==, b->watches->len);
        for (guint i = 0; i < a->watches->len; i++) {
                const ConfigWatch *x = a->watches->pdata[i], *y = b->watches->pdata[i];
                g_assert_cmpstr(x->name, ==, y->name);
                g_assert_cmpstr(x->path, ==, y->path);
                g_assert_cmpint(x->recursive, ==, y->recursive);
                g_assert_cmpint(x->auto_add, ==, y->auto_add);
                assert_strv(x->exclude, (const char *const *) y->exclude);
                g_assert_cmphex(x->initial_mask, ==, y->initial_mask);
                g_assert_cmphex(x->initial_kinds, ==, y->initial_kinds);
        }

        g_assert_cmpuint(a->rules->len, ==, b->rules->len);
        for (guint i = 0; i < a->rules->len; i++)
                assert_rules_equal(a->rules->pdata[i], b->rules->pdata[i]);
}

/* ------------------------------------------------------------------ the example and the defaults */

static void test_example(void) {
        /* Verbatim, the example is valid where its user exists. */
        if (getpwnam("importer"))
                config_free(load_ok(EXAMPLE_HEAD EXAMPLE_ARCHIVE));
        else
                assert_errors(EXAMPLE_HEAD EXAMPLE_ARCHIVE, "test.conf:26: User: unknown user \"importer\"");
}

static void test_example_values(void) {
        g_autofree char *text = replace(EXAMPLE_HEAD EXAMPLE_ARCHIVE, "User=importer", "User=root");
        _cleanup_(config_freep) Config *c = load_ok(text);
        const ConfigWatch *w;
        const ConfigRule *r;

        g_assert_cmpint(c->daemon.log_level, ==, LOG_INFO);
        g_assert_cmpuint(c->daemon.shutdown_timeout, ==, 30 * USEC_PER_SEC);
        g_assert_cmpuint(c->daemon.max_running, ==, 16);
        g_assert_cmpuint(c->daemon.task_history, ==, 100);
        g_assert_null(c->daemon.admin_group);
        g_assert_null(c->daemon.state_directory);
        assert_strv(c->files, STRV("test.conf"));

        g_assert_cmpuint(c->watches->len, ==, 1);
        w = config_find_watch(c, "uploads");
        g_assert_true(w == c->watches->pdata[0]);
        g_assert_cmpstr(w->name, ==, "uploads");
        g_assert_cmpstr(w->path, ==, "/srv/uploads");
        g_assert_true(w->recursive);
        g_assert_true(w->auto_add);
        assert_strv(w->exclude, STRV("*.part", ".*"));
        g_assert_cmphex(w->initial_mask, ==, 0);
        g_assert_cmphex(w->initial_kinds, ==, kind(EVENT_KIND_EXISTS));
        g_assert_cmpstr(w->file, ==, "test.conf");
        g_assert_cmpuint(w->line, ==, 8);

        g_assert_cmpuint(c->rules->len, ==, 2);
        r = config_find_rule(c, "import");
        g_assert_true(r == c->rules->pdata[0]);
        g_assert_cmpuint(r->n_ref, ==, 1);
        g_assert_cmpstr(r->name, ==, "import");
        assert_strv(r->watches, STRV("uploads"));
        g_assert_cmphex(r->on_mask, ==, IN_CLOSE_WRITE | IN_MOVED_TO);
        g_assert_cmphex(r->on_kinds, ==, 0);
        g_assert_cmphex(r->cancel_mask, ==, IN_DELETE | IN_MOVED_FROM);
        g_assert_cmphex(r->cancel_kinds, ==, 0);
        assert_strv(r->match, STRV("*.csv"));
        g_assert_null(r->match_regex);
        g_assert_null(r->regex);
        assert_strv(r->group_names, STRV_EMPTY);
        g_assert_true(r->files);
        g_assert_false(r->directories);
        g_assert_cmpuint(r->delay, ==, 30 * USEC_PER_SEC);
        g_assert_cmpint(r->if_running, ==, IF_RUNNING_QUEUE);
        assert_strv(r->for_each, STRV_EMPTY);
        g_assert_cmpint(r->action, ==, ACTION_EXEC);
        g_assert_cmpstr(r->exec, ==, "/usr/local/bin/import --file {pathname} --event {maskname}");
        g_assert_nonnull(r->exec_template);
        g_assert_cmpuint(exec_template_argc(r->exec_template), ==, 5);
        g_assert_true(exec_template_uses(r->exec_template, PLACEHOLDER_PATHNAME));
        g_assert_true(exec_template_uses(r->exec_template, PLACEHOLDER_MASKNAME));
        g_assert_cmpstr(r->user, ==, "root");
        g_assert_null(r->group);
        g_assert_cmpuint(r->timeout, ==, 5 * USEC_PER_MINUTE);
        g_assert_null(r->extra);
        g_assert_cmpstr(r->file, ==, "test.conf");
        g_assert_cmpuint(r->line, ==, 16);

        r = config_find_rule(c, "archive");
        g_assert_true(r == c->rules->pdata[1]);
        assert_strv(r->watches, STRV("uploads"));
        g_assert_cmphex(r->on_mask, ==, 0);
        g_assert_cmphex(r->on_kinds, ==, kind(EVENT_KIND_CHANGED));
        g_assert_cmpint(r->action, ==, ACTION_MOVE);
        g_assert_cmpstr(r->source, ==, "^/srv/uploads/(?P<name>.*)\\.done$");
        g_assert_nonnull(r->source_regex);
        g_assert_cmpstr(r->destination, ==, "/srv/archive/\\g<name>");
        g_assert_true(r->auto_create);
        g_assert_false(r->overwrite);
        g_assert_false(r->recursive);
        g_assert_cmpint(r->file_mode, ==, 0644);
        g_assert_cmpint(r->directory_mode, ==, 0755);
        g_assert_null(r->owner);
        g_assert_null(r->owner_group);
        g_assert_null(r->exec);
        g_assert_null(r->exec_template);
        g_assert_cmpuint(r->timeout, ==, USEC_INFINITY);
        g_assert_cmpuint(r->line, ==, 29);

        g_assert_null(config_find_watch(c, "import"));
        g_assert_null(config_find_rule(c, "uploads"));
        g_assert_null(config_find_rule(NULL, "uploads"));
}

static void test_defaults(void) {
        _cleanup_(config_freep) Config *empty = load_ok("");
        _cleanup_(config_freep) Config *c = load_ok("[Watch w]\nPath=/\n[Rule r]\nOn=created\nExec=true\n");
        const ConfigWatch *w;
        const ConfigRule *r;

        /* No configuration at all is valid: an idle daemon. */
        g_assert_cmpint(empty->daemon.log_level, ==, LOG_INFO);
        g_assert_cmpuint(empty->daemon.shutdown_timeout, ==, 30 * USEC_PER_SEC);
        g_assert_cmpuint(empty->daemon.max_running, ==, 16);
        g_assert_cmpuint(empty->daemon.task_history, ==, 100);
        g_assert_null(empty->daemon.admin_group);
        g_assert_null(empty->daemon.state_directory);
        g_assert_cmpuint(empty->watches->len, ==, 0);
        g_assert_cmpuint(empty->rules->len, ==, 0);

        w = c->watches->pdata[0];
        g_assert_cmpstr(w->path, ==, "/");
        g_assert_false(w->recursive);
        g_assert_false(w->auto_add);
        assert_strv(w->exclude, STRV_EMPTY);
        g_assert_cmphex(w->initial_mask, ==, 0);
        g_assert_cmphex(w->initial_kinds, ==, 0);

        r = c->rules->pdata[0];
        assert_strv(r->watches, STRV_EMPTY);
        g_assert_cmphex(r->on_mask, ==, 0);
        g_assert_cmphex(r->on_kinds, ==, kind(EVENT_KIND_CREATED));
        g_assert_cmphex(r->cancel_mask | r->cancel_kinds, ==, 0);
        assert_strv(r->match, STRV_EMPTY);
        assert_strv(r->group_names, STRV_EMPTY);
        g_assert_true(r->files);
        g_assert_false(r->directories);
        g_assert_cmpuint(r->delay, ==, 0);
        g_assert_cmpint(r->if_running, ==, IF_RUNNING_QUEUE);
        assert_strv(r->for_each, STRV_EMPTY);
        g_assert_cmpint(r->action, ==, ACTION_EXEC);
        g_assert_null(r->user);
        g_assert_null(r->group);
        g_assert_null(r->working_directory);
        assert_strv(r->environment, STRV_EMPTY);
        g_assert_cmpuint(r->timeout, ==, USEC_INFINITY);
        g_assert_null(r->source);
        g_assert_null(r->source_regex);
        g_assert_null(r->destination);
        g_assert_false(r->auto_create);
        g_assert_false(r->overwrite);
        g_assert_false(r->recursive);
        g_assert_cmpint(r->file_mode, ==, -1);
        g_assert_cmpint(r->directory_mode, ==, -1);
        g_assert_null(r->owner);
        g_assert_null(r->owner_group);
        g_assert_null(r->unit);
        g_assert_null(r->plugin);
        g_assert_null(r->extra);
}

static void test_auto_add_default(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                "[Watch a]\nPath=/a\nRecursive=yes\n"
                "[Watch b]\nPath=/b\nRecursive=yes\nAutoAdd=no\n"
                /* an empty AutoAdd= resets it to the default: Recursive='s value */
                "[Watch c]\nPath=/c\nAutoAdd=no\nAutoAdd=\nRecursive=on\n"
                "[Watch d]\nPath=/d\nAutoAdd=true\n");

        g_assert_true(((ConfigWatch *) c->watches->pdata[0])->auto_add);
        g_assert_false(((ConfigWatch *) c->watches->pdata[1])->auto_add);
        g_assert_true(((ConfigWatch *) c->watches->pdata[2])->auto_add);
        g_assert_false(((ConfigWatch *) c->watches->pdata[3])->recursive);
        g_assert_true(((ConfigWatch *) c->watches->pdata[3])->auto_add);
}

static void test_backend(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                "[Watch a]\nPath=/a\n"
                "[Watch b]\nPath=/b\nBackend=poll\nPollIntervalSec=500ms\n"
                "[Watch c]\nPath=/c\nBackend=fanotify\n"
                "[Watch d]\nPath=/d\nBackend=none\nBackend=\n"        /* empty: the default again */
                "[Watch e]\nPath=/e\nBackend=inotify\nPollIntervalSec=1min\n");
        const BackendKind want[] = { BACKEND_AUTO, BACKEND_POLL, BACKEND_FANOTIFY, BACKEND_AUTO, BACKEND_INOTIFY };
        const usec_t interval[] = { 2 * USEC_PER_SEC, 500 * USEC_PER_MSEC, 2 * USEC_PER_SEC, 2 * USEC_PER_SEC,
                                    60 * USEC_PER_SEC };

        for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
                const ConfigWatch *w = c->watches->pdata[i];

                g_assert_cmpint(w->backend, ==, want[i]);
                g_assert_cmpuint(w->poll_interval, ==, interval[i]);
        }
        for (int k = 0; k < _BACKEND_KIND_MAX; k++)
                g_assert_cmpint(backend_kind_from_string(backend_kind_to_string(k)), ==, k);
        g_assert_cmpint(backend_kind_from_string("gamin"), ==, -EINVAL);

        assert_errors("[Watch a]\nPath=/a\nBackend=gamin\nPollIntervalSec=0\nPollIntervalSec=infinity\n",
                      "test.conf:3: Backend: unknown backend \"gamin\" (auto, inotify, fanotify, poll or none)\n"
                      "test.conf:4: PollIntervalSec: must be more than 0 and finite, got \"0\"\n"
                      "test.conf:5: PollIntervalSec: must be more than 0 and finite, got \"infinity\"");
}

static void test_values(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                "[Daemon]\n"
                "LogLevel=7\n"
                "ShutdownTimeoutSec=1min 30s\n"
                "MaxRunningTasks=0\n"
                "TaskHistory=0\n"
                "AdminGroup=0\n"
                "StateDirectory=/var/lib/x\n"
                WATCH_W
                "[Rule r]\n"
                "On=IN_CLOSE close_write IN_MOVED_TO\n"
                "On=overflow\n"
                "IfRunning=restart\n"
                "TimeoutSec=0\n"
                "DelaySec=1.5s\n"
                "User=0\n"
                "Group=root\n"
                "WorkingDirectory=/tmp\n"
                "ForEach=node1 node2\n"
                "ForEach=node3\n"
                "Exec=true\n");
        const ConfigRule *r = c->rules->pdata[0];

        g_assert_cmpint(c->daemon.log_level, ==, LOG_DEBUG);
        g_assert_cmpuint(c->daemon.shutdown_timeout, ==, 90 * USEC_PER_SEC);
        g_assert_cmpuint(c->daemon.max_running, ==, 0);
        g_assert_cmpuint(c->daemon.task_history, ==, 0);
        g_assert_cmpstr(c->daemon.admin_group, ==, "0");
        g_assert_cmpstr(c->daemon.state_directory, ==, "/var/lib/x");

        g_assert_cmphex(r->on_mask, ==, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_MOVED_TO);
        g_assert_cmphex(r->on_kinds, ==, kind(EVENT_KIND_OVERFLOW));
        g_assert_cmpint(r->if_running, ==, IF_RUNNING_RESTART);
        g_assert_cmpuint(r->timeout, ==, USEC_INFINITY);
        g_assert_cmpuint(r->delay, ==, 1500 * USEC_PER_MSEC);
        g_assert_cmpstr(r->user, ==, "0");
        g_assert_cmpstr(r->group, ==, "root");
        g_assert_cmpstr(r->working_directory, ==, "/tmp");
        assert_strv(r->for_each, STRV("node1", "node2", "node3"));
}

static void test_log_levels(void) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT }, { "err", LOG_ERR },
                { "error", LOG_ERR },   { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO },   { "debug", LOG_DEBUG }, { "0", 0 }, { "3", 3 }, { "7", 7 },
        };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                g_autofree char *text = g_strdup_printf("[Daemon]\nLogLevel=%s\n", levels[i].name);
                _cleanup_(config_freep) Config *c = load_ok(text);
                g_assert_cmpint(c->daemon.log_level, ==, levels[i].level);
        }

        assert_errors("[Daemon]\nLogLevel=8\nLogLevel=warn\n",
                      "test.conf:2: LogLevel: invalid log level \"8\" (emerg, alert, crit, err, warning, notice, "
                      "info, debug or 0-7)\n"
                      "test.conf:3: LogLevel: invalid log level \"warn\" (emerg, alert, crit, err, warning, notice, "
                      "info, debug or 0-7)");
}

/* ------------------------------------------------------------------ the line format */

static void test_comments_and_continuations(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                "# comment\n"
                "; also a comment\n"
                "   # indented comment\n"
                "[Watch w]   # comment after a header\n"
                "  Path   =   /srv/a\\#b   # comment\n"
                "Exclude=a#b \"c \\#d\" \\\n"
                "   # a comment line inside a continuation is skipped\n"
                "   e\\\n"
                "f\n"
                "\r\n"
                "[Rule r]\r\n"
                "On=created \\\n"
                "   deleted\n"
                "Exec=/bin/echo x\\\n"
                "\n"
                "ForEach=x\t# tab before the comment\n"
                "Environment=A=1\\\n");                 /* a continuation at the end of the file */
        const ConfigWatch *w = c->watches->pdata[0];
        const ConfigRule *r = c->rules->pdata[0];

        g_assert_cmpstr(w->path, ==, "/srv/a#b");
        assert_strv(w->exclude, STRV("a#b", "c #d", "e", "f"));
        g_assert_cmphex(r->on_kinds, ==, kind(EVENT_KIND_CREATED) | kind(EVENT_KIND_DELETED));
        g_assert_cmpstr(r->exec, ==, "/bin/echo x");
        assert_strv(r->for_each, STRV("x"));
        assert_strv(r->environment, STRV("A=1"));
        g_assert_cmpuint(r->line, ==, 11);

        /* A continued line is reported at its first line. */
        assert_errors(WATCH_W "[Rule r]\nExec=true\nOn=created \\\n   IN_WRITE_CLOSE\n",
                      "test.conf:5: On: unknown event \"IN_WRITE_CLOSE\", did you mean \"IN_CLOSE_WRITE\"?");

        /* A backslash before a carriage return in mid-line would end the value, and no dump could write that
         * value back (found by fuzz-config): refused. */
        assert_errors("[Watch w]\r\nPath=/srv/a \\\r \\\r\n",
                      "test.conf:1: Path: Path= is required in [Watch w]\n"
                      "test.conf:2: Path: the value ends in a backslash, which would continue the line");
}

/* A key given again in its group: the last one wins, a list adds, an empty value resets. A named group given
 * twice in one file is an error (issue 17: it was merged silently); a drop-in extending a group of another
 * file is test_dropins(). */
static void test_repeated_groups_and_keys(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                "[Watch w]\nPath=/a\nExclude=x\nPath=/b\nExclude=y\n"
                "[Rule r]\nOn=created\nExec=/bin/one\nDelaySec=5\nExec=/bin/two\nDelaySec=\n"
                "[Daemon]\nMaxRunningTasks=3\n[Daemon]\nTaskHistory=7\n"   /* unnamed: one section */
                "[Watch v]\nPath=/b\n");                        /* the same path twice is fine */
        const ConfigWatch *w = c->watches->pdata[0];
        const ConfigRule *r = c->rules->pdata[0];

        g_assert_cmpuint(c->watches->len, ==, 2);
        g_assert_cmpuint(c->rules->len, ==, 1);
        g_assert_cmpstr(w->path, ==, "/b");
        assert_strv(w->exclude, STRV("x", "y"));
        g_assert_cmpuint(w->line, ==, 1);
        g_assert_cmpstr(r->exec, ==, "/bin/two");
        g_assert_cmpuint(r->delay, ==, 0);
        g_assert_cmpuint(c->daemon.max_running, ==, 3);
        g_assert_cmpuint(c->daemon.task_history, ==, 7);
        g_assert_cmpstr(((ConfigWatch *) c->watches->pdata[1])->name, ==, "v");

        assert_errors("[Watch w]\nPath=/a\n"
                      "[Rule r]\nWatch=w\nOn=created\nExec=/bin/one\n"
                      "[Watch w]\nPath=/b\n"
                      "[Rule r]\nExec=/bin/two\n",
                      "test.conf:7: duplicate group [Watch w], first at line 1\n"
                      "test.conf:9: duplicate group [Rule r], first at line 3");
}

/* Unknown groups and keys name the one they resemble, as unknown events do; a guess too far is not made. */
static void test_did_you_mean(void) {
        assert_errors("[Wacth w]\nPath=/a\n[Watch v]\nPath=/b\n",
                      "test.conf:1: unknown group [Wacth w], did you mean [Watch w]?");
        assert_errors("[daemon]\nLogLevel=info\n[Watch w]\nPath=/a\n",
                      "test.conf:1: unknown group [daemon], did you mean [Daemon]?");
        assert_errors("[Frobnicate]\n[Watch w]\nPath=/a\n",
                      "test.conf:1: unknown group [Frobnicate]");
        assert_errors("[Watch w]\nPath=/a\nRecursve=yes\n",
                      "test.conf:3: Recursve: unknown key in [Watch w], did you mean Recursive=?");
        assert_errors("[Watch w]\nPath=/a\n[Rule r]\nOn=created\nExec=/bin/true\nDelaysec=1\n",
                      "test.conf:6: Delaysec: unknown key in [Rule r], did you mean DelaySec=?");
        assert_errors("[Watch w]\nPath=/a\nColour=blue\n",
                      "test.conf:3: Colour: unknown key in [Watch w]");
}

static void test_lists(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                WATCH_W
                "Exclude=dropped\n"
                "Exclude=\n"
                "Exclude='a b' \"c d\" e\\ f \"q\\\"uote\" 'it'\\''s' *.tmp\n"
                "[Rule r]\nOn=created\nExec=true\n"
                "Environment=A=1 \"B=two words\" C= _D9=x\n"
                "Match=*.csv\nMatch=\nMatch=*.txt '*.a b'\n");
        const ConfigWatch *w = c->watches->pdata[0];
        const ConfigRule *r = c->rules->pdata[0];

        assert_strv(w->exclude, STRV("a b", "c d", "e f", "q\"uote", "it's", "*.tmp"));
        assert_strv(r->environment, STRV("A=1", "B=two words", "C=", "_D9=x"));
        assert_strv(r->match, STRV("*.txt", "*.a b"));

        assert_errors(WATCH_W "Exclude=\"abc\nExclude=a '' b\n[Rule r]\nOn=created\nExec=true\n"
                      "Environment=1A=x B -=y\n",
                      "test.conf:3: Exclude: unterminated quote in \"\"abc\"\n"
                      "test.conf:4: Exclude: empty list item in \"a '' b\"\n"
                      "test.conf:8: Environment: invalid environment assignment \"1A=x\" (NAME=value)\n"
                      "test.conf:8: Environment: invalid environment assignment \"B\" (NAME=value)\n"
                      "test.conf:8: Environment: invalid environment assignment \"-=y\" (NAME=value)");
}

/* ------------------------------------------------------------------ errors */

static void test_errors_collected(void) {
        assert_errors("Foo=bar\n"                               /*  1 */
                      "[Daemon]\n"
                      "LogLevel=loud\n"
                      "ShutdownTimeoutSec=5 parsecs\n"
                      "MaxRunningTasks=-1\n"                    /*  5 */
                      "Bogus=1\n"
                      "[Frobnicate]\n"
                      "Key=ignored\n"
                      "[Watch bad name]\n"
                      "[Watch w]\n"                             /* 10 */
                      "Path=relative/path\n"
                      "Recursive=maybe\n"
                      "InitialEvent=created deleted\n"
                      "just some words\n"
                      "[Rule r]\n"                              /* 15 */
                      "Watch=w nosuch\n"
                      "On=IN_WRITE_CLOSE\n"
                      "DelaySec=infinity\n"
                      "Exec=/bin/true {pathnme}\n"
                      "Destination=/x\n"                        /* 20 */
                      "FileMode=0644\n",
                      "test.conf:1: Foo: assignment outside of any group\n"
                      "test.conf:3: LogLevel: invalid log level \"loud\" (emerg, alert, crit, err, warning, notice, "
                      "info, debug or 0-7)\n"
                      "test.conf:4: ShutdownTimeoutSec: invalid time span \"5 parsecs\"\n"
                      "test.conf:5: MaxRunningTasks: invalid number \"-1\"\n"
                      "test.conf:6: Bogus: unknown key in [Daemon]\n"
                      "test.conf:7: unknown group [Frobnicate]\n"
                      "test.conf:9: invalid watch name \"bad name\" (allowed: letters, digits and _.@-)\n"
                      "test.conf:11: Path: path \"relative/path\" is not absolute\n"
                      "test.conf:12: Recursive: invalid boolean \"maybe\" (use yes or no)\n"
                      "test.conf:13: InitialEvent: exactly one event name expected, got \"created deleted\"\n"
                      "test.conf:14: expected [Group] or Key=Value, got \"just some words\"\n"
                      "test.conf:15: Watch: no [Watch nosuch] is defined\n"
                      "test.conf:17: On: unknown event \"IN_WRITE_CLOSE\", did you mean \"IN_CLOSE_WRITE\"?\n"
                      "test.conf:18: DelaySec: the delay must be finite\n"
                      "test.conf:19: Exec: unknown placeholder {pathnme}\n"
                      "test.conf:20: Destination: Destination= is only valid with Action=move or Action=copy\n"
                      "test.conf:21: FileMode: FileMode= is only valid with Action=move or Action=copy");
}

static void test_errors_groups(void) {
        assert_errors("[Daemon x]\n[Watch]\n[Rule]\n[Watch a\n[]\n=value\n[Watch ok]\nPath=/\n"
                      "[Watch w@1.a_b-c]\nPath=/x\n",
                      "test.conf:1: unknown group [Daemon x]\n"
                      "test.conf:2: [Watch] needs a name: [Watch NAME]\n"
                      "test.conf:3: [Rule] needs a name: [Rule NAME]\n"
                      "test.conf:4: invalid group header \"[Watch a\"\n"
                      "test.conf:5: unknown group []\n"
                      "test.conf:6: assignment without a key: \"=value\"");

        assert_errors(WATCH_W "Frob=1\n[Rule r]\nOn=created\nExec=true\nfrob=2\nexec=x\n",
                      "test.conf:3: Frob: unknown key in [Watch w]\n"
                      "test.conf:7: frob: unknown key in [Rule r]\n"
                      "test.conf:8: exec: unknown key in [Rule r], did you mean Exec=?");
}

static void test_errors_required(void) {
        /* After merging: reported at the group's first header. */
        assert_errors("[Watch w]\nRecursive=yes\n[Rule r]\nAction=exec\n[Rule s]\nOn=created\nAction=shell\n"
                      "[Rule t]\nOn=created\nExec=true\nOn=\n",
                      "test.conf:1: Path: Path= is required in [Watch w]\n"
                      "test.conf:3: On: On= is required in [Rule r]\n"
                      "test.conf:3: Exec: Exec= is required with Action=exec\n"
                      "test.conf:5: Exec: Exec= is required with Action=shell\n"
                      "test.conf:8: On: On= is required in [Rule t]");

        /* A bad value is reported where it stands, not once more as missing. */
        assert_errors("[Watch w]\nPath=srv\n", "test.conf:2: Path: path \"srv\" is not absolute");

        /* Every watch, and there is none. */
        assert_errors("[Rule r]\nOn=created\nExec=true\n",
                      "test.conf:1: Watch: the rule applies to every watch, but no [Watch] is defined");
        assert_errors("[Rule r]\nWatch=a b\nOn=created\nExec=true\n",
                      "test.conf:1: Watch: no [Watch a] is defined\n"
                      "test.conf:1: Watch: no [Watch b] is defined");

        /* Watch= may name a watch defined further down. */
        config_free(load_ok("[Rule r]\nWatch=later\nOn=created\nExec=true\n[Watch later]\nPath=/l\n"));
}

static void test_errors_values(void) {
        assert_errors("[Daemon]\n"
                      "ShutdownTimeoutSec=-5\n"
                      "TaskHistory=1x\n"
                      "AdminGroup=no-such-group-here\n"
                      "StateDirectory=/var/lib/\n"
                      "[Watch a]\nPath=/srv//x\n"
                      "[Watch b]\nPath=/srv/./x\n"
                      "[Watch c]\nPath=/srv/..\n"               /* 10 */
                      "InitialEvent=IN_CRATE\n"
                      "[Rule r]\n"
                      "On=created bogus\n"
                      "CancelOn=deleted creatd\n"
                      "Files=2\n"                               /* 16 */
                      "IfRunning=sometimes\n"
                      "User=no-such-user-here\n"
                      "Group=no-such-group-here\n"
                      "WorkingDirectory=tmp\n"
                      "TimeoutSec=soon\n"                       /* 21 */
                      "Exec=true\n",
                      "test.conf:2: ShutdownTimeoutSec: invalid time span \"-5\"\n"
                      "test.conf:3: TaskHistory: invalid number \"1x\"\n"
                      "test.conf:4: AdminGroup: unknown group \"no-such-group-here\"\n"
                      "test.conf:5: StateDirectory: path \"/var/lib/\" is not normalized (trailing slash)\n"
                      "test.conf:7: Path: path \"/srv//x\" is not normalized (\"//\")\n"
                      "test.conf:9: Path: path \"/srv/./x\" is not normalized (\".\" or \"..\" component)\n"
                      "test.conf:11: Path: path \"/srv/..\" is not normalized (\".\" or \"..\" component)\n"
                      "test.conf:12: InitialEvent: unknown event \"IN_CRATE\", did you mean \"IN_CREATE\"?\n"
                      "test.conf:14: On: unknown event \"bogus\"\n"
                      "test.conf:15: CancelOn: unknown event \"creatd\", did you mean \"create\"?\n"
                      "test.conf:16: Files: invalid boolean \"2\" (use yes or no)\n"
                      "test.conf:17: IfRunning: invalid value \"sometimes\" (queue, skip, parallel or restart)\n"
                      "test.conf:18: User: unknown user \"no-such-user-here\"\n"
                      "test.conf:19: Group: unknown group \"no-such-group-here\"\n"
                      "test.conf:20: WorkingDirectory: path \"tmp\" is not absolute\n"
                      "test.conf:21: TimeoutSec: invalid time span \"soon\"");
}

static void test_errors_modes(void) {
        assert_errors(WATCH_W "[Rule r]\nOn=created\nAction=copy\nSource=^(.*)$\nDestination=/d/\\1\n"
                      "FileMode=0999\nDirectoryMode=10000\nFileMode=rw\nFileMode=-1\n",
                      "test.conf:8: FileMode: invalid file mode \"0999\" (octal, 0 to 07777)\n"
                      "test.conf:9: DirectoryMode: invalid file mode \"10000\" (octal, 0 to 07777)\n"
                      "test.conf:10: FileMode: invalid file mode \"rw\" (octal, 0 to 07777)\n"
                      "test.conf:11: FileMode: invalid file mode \"-1\" (octal, 0 to 07777)");
}

static void test_booleans(void) {
        static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
        static const char *const no[] = { "no", "false", "off", "0", "No", "OFF" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                g_autofree char *t1 = g_strdup_printf("[Watch w]\nPath=/\nRecursive=%s\n", yes[i]);
                g_autofree char *t0 = g_strdup_printf("[Watch w]\nPath=/\nRecursive=%s\n", no[i]);
                _cleanup_(config_freep) Config *c1 = load_ok(t1);
                _cleanup_(config_freep) Config *c0 = load_ok(t0);
                g_assert_true(((ConfigWatch *) c1->watches->pdata[0])->recursive);
                g_assert_false(((ConfigWatch *) c0->watches->pdata[0])->recursive);
        }
}

/* ------------------------------------------------------------------ actions */

static void test_actions(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                WATCH_W
                "[Rule mv]\nOn=created\nAction=move\nSource=^/srv/(?P<n>.*)$\nDestination=/d/\\g<n>\n"
                "AutoCreate=yes\nOverwrite=no\nFileMode=0644\nDirectoryMode=755\nOwner=root\nOwnerGroup=0\n"
                "[Rule cp]\nOn=created\nAction=copy\nSource=x\nDestination=/d\nRecursive=yes\nOverwrite=yes\n"
                "[Rule rm]\nOn=created\nAction=delete\nSource=x\nRecursive=yes\n"
                "[Rule unit]\nOn=created\nAction=start-unit\nUnit=foo@{name}.service\nTimeoutSec=10\n"
                "[Rule plug]\nOn=created\nAction=plugin\nPlugin=/usr/lib/x.so:setup\n"
                "color=blue\nsize=3\ncolor=red\nempty=\n");
        g_autoptr(GError) error = NULL;
        g_autoptr(GRegex) bad_source = NULL;
        g_autofree char *expected = NULL;
        const ConfigRule *r;

        r = config_find_rule(c, "mv");
        g_assert_cmpint(r->action, ==, ACTION_MOVE);
        g_assert_cmpstr(r->source, ==, "^/srv/(?P<n>.*)$");
        g_assert_nonnull(r->source_regex);
        g_assert_cmpstr(r->destination, ==, "/d/\\g<n>");
        g_assert_true(r->auto_create);
        g_assert_false(r->overwrite);
        g_assert_cmpint(r->file_mode, ==, 0644);
        g_assert_cmpint(r->directory_mode, ==, 0755);
        g_assert_cmpstr(r->owner, ==, "root");
        g_assert_cmpstr(r->owner_group, ==, "0");
        g_assert_null(r->extra);

        r = config_find_rule(c, "cp");
        g_assert_cmpint(r->action, ==, ACTION_COPY);
        g_assert_true(r->recursive);
        g_assert_true(r->overwrite);
        g_assert_cmpint(r->file_mode, ==, -1);

        r = config_find_rule(c, "rm");
        g_assert_cmpint(r->action, ==, ACTION_DELETE);
        g_assert_true(r->recursive);
        g_assert_null(r->destination);

        r = config_find_rule(c, "unit");
        g_assert_cmpint(r->action, ==, ACTION_START_UNIT);
        g_assert_cmpstr(r->unit, ==, "foo@{name}.service");
        g_assert_cmpuint(r->timeout, ==, 10 * USEC_PER_SEC);

        /* Action=plugin keeps the keys the daemon does not know, last value wins. */
        r = config_find_rule(c, "plug");
        g_assert_cmpint(r->action, ==, ACTION_PLUGIN);
        g_assert_cmpstr(r->plugin, ==, "/usr/lib/x.so:setup");
        g_assert_nonnull(r->extra);
        g_assert_cmpuint(g_hash_table_size(r->extra), ==, 3);
        g_assert_cmpstr(g_hash_table_lookup(r->extra, "color"), ==, "red");
        g_assert_cmpstr(g_hash_table_lookup(r->extra, "size"), ==, "3");
        g_assert_cmpstr(g_hash_table_lookup(r->extra, "empty"), ==, "");

        /* Keys of another action. */
        assert_errors(WATCH_W "[Rule r]\nOn=created\nExec=true\nSource=x\nRecursive=yes\nUnit=a.service\n"
                      "Plugin=/x.so\nOwner=root\n",
                      "test.conf:6: Source: Source= is only valid with Action=move, Action=copy or Action=delete\n"
                      "test.conf:7: Recursive: Recursive= is only valid with Action=copy or Action=delete\n"
                      "test.conf:8: Unit: Unit= is only valid with Action=start-unit, Action=stop-unit, "
                      "Action=restart-unit or Action=reload-unit\n"
                      "test.conf:9: Plugin: Plugin= is only valid with Action=plugin\n"
                      "test.conf:10: Owner: Owner= is only valid with Action=move or Action=copy");
        assert_errors(WATCH_W "[Rule r]\nOn=created\nAction=delete\nSource=x\nExec=true\nUser=root\n"
                      "Destination=/d\nAutoCreate=yes\n",
                      "test.conf:7: Exec: Exec= is only valid with Action=exec or Action=shell\n"
                      "test.conf:8: User: User= is only valid with Action=exec or Action=shell\n"
                      "test.conf:9: Destination: Destination= is only valid with Action=move or Action=copy\n"
                      "test.conf:10: AutoCreate: AutoCreate= is only valid with Action=move or Action=copy");

        /* Required keys of each action, at the group header; a bad Source= is not reported missing too. */
        bad_source = g_regex_new("(", G_REGEX_RAW, 0, &error);
        g_assert_null(bad_source);
        expected = g_strdup_printf(
                      "test.conf:3: Source: Source= is required with Action=move\n"
                      "test.conf:3: Destination: Destination= is required with Action=move\n"
                      "test.conf:6: Source: Source= is required with Action=delete\n"
                      "test.conf:9: Unit: Unit= is required with Action=reload-unit\n"
                      "test.conf:12: Plugin: Plugin= is required with Action=plugin\n"
                      "test.conf:18: Source: %s", error->message);
        assert_errors(WATCH_W "[Rule a]\nOn=created\nAction=move\n[Rule b]\nOn=created\nAction=delete\n"
                      "[Rule c]\nOn=created\nAction=reload-unit\n[Rule d]\nOn=created\nAction=plugin\n"
                      "[Rule e]\nOn=created\nAction=copy\nSource=(\nDestination=/x\n",
                      expected);

        /* A bad Action= leaves the action unknown: no guessing about the other keys. */
        assert_errors(WATCH_W "[Rule r]\nOn=created\nAction=run\nDestination=/x\n",
                      "test.conf:5: Action: unknown action \"run\" (exec, shell, move, copy, delete, start-unit, "
                      "stop-unit, restart-unit, reload-unit or plugin)");

        /* Plugin keys the daemon does not know must still look like keys; the plugin is an absolute path or
         * a bare name (looked up in the plugin directories when loaded), not a relative path. */
        assert_errors(WATCH_W "[Rule r]\nOn=created\nAction=plugin\nPlugin=lib/x.so\nbad key=1\nPlugin=/x.so:\n",
                      "test.conf:6: Plugin: plugin \"lib/x.so\" is neither an absolute path nor a bare module name\n"
                      "test.conf:7: bad key: invalid key name (allowed: letters, digits and _.-)\n"
                      "test.conf:8: Plugin: empty symbol name after ':' in \"/x.so:\"");

        /* Action=, like the other keys, may come last (or from a drop-in's [Rule r]: a group given twice in
         * one file is an error now, test_repeated_groups_and_keys()). */
        config_free(load_ok(WATCH_W "[Rule r]\nOn=created\nExec=echo \"$1\"\nAction=shell\n"));

        {
                _cleanup_(config_freep) Config *bare = load_ok(
                        WATCH_W "[Rule r]\nOn=created\nAction=plugin\nPlugin=inotaskd-example-plugin:setup\n");
                g_autofree char *dump = config_dump(bare);

                g_assert_cmpstr(((ConfigRule *) bare->rules->pdata[0])->plugin, ==, "inotaskd-example-plugin:setup");
                g_assert_nonnull(strstr(dump, "\nPlugin=inotaskd-example-plugin:setup\n"));
        }
        assert_errors(WATCH_W "[Rule r]\nOn=created\nAction=plugin\nPlugin=./x.so\n",
                      "test.conf:6: Plugin: plugin \"./x.so\" is neither an absolute path nor a bare module name");
}

static void test_shell(void) {
        _cleanup_(config_freep) Config *c = load_ok(WATCH_W "[Rule r]\nOn=created\nAction=shell\n"
                                                   "Exec=echo \"$1\" \"${INOTASKD_PATHNAME}\" | wc -c\n");
        const ConfigRule *r = c->rules->pdata[0];

        g_assert_cmpint(r->action, ==, ACTION_SHELL);
        g_assert_cmpstr(r->exec, ==, "echo \"$1\" \"${INOTASKD_PATHNAME}\" | wc -c");
        g_assert_null(r->exec_template);

        assert_errors(WATCH_W "[Rule r]\nOn=created\nAction=shell\nExec=echo {pathname}\n",
                      "test.conf:6: Exec: placeholders are not expanded in Action=shell scripts, use "
                      "\"$INOTASKD_PATHNAME\" or \"$1\"");
}

static void test_regex(void) {
        _cleanup_(config_freep) Config *c = load_ok(
                WATCH_W "[Rule r]\nOn=created\n"
                "MatchRegex=^/srv/(?P<user>[^/]+)/(?<kind>[a-z]+)(?<=[a-z])/(?'file'.*)\\((?:x)\\)$\n"
                "Exec=/bin/import {user} {kind} --file={file} {pathname}\n");
        const ConfigRule *r = c->rules->pdata[0];
        g_autoptr(GError) error = NULL;
        g_autoptr(GRegex) bad = NULL;
        g_autofree char *expected = NULL;

        g_assert_nonnull(r->regex);
        assert_strv(r->group_names, STRV("user", "kind", "file"));
        g_assert_cmpuint(exec_template_argc(r->exec_template), ==, 5);

        /* Raw bytes, not UTF-8. */
        config_free(load_ok(WATCH_W "[Rule r]\nOn=created\nMatchRegex=^/srv/\xff+$\nExec=true\n"));

        /* GLib's own message. */
        bad = g_regex_new("^(unclosed", G_REGEX_RAW, 0, &error);
        g_assert_null(bad);
        expected = g_strdup_printf("test.conf:5: MatchRegex: %s", error->message);
        assert_errors(WATCH_W "[Rule r]\nOn=created\nMatchRegex=^(unclosed\nExec=true\n", expected);

        /* A placeholder that is neither fixed nor a named group of MatchRegex=. */
        assert_errors(WATCH_W "[Rule r]\nOn=created\nMatchRegex=(?P<a>x)\nExec=/bin/x {b}\n",
                      "test.conf:6: Exec: unknown placeholder {b}");
}

/* ------------------------------------------------------------------ files and drop-ins */

static void test_dropins(void) {
        g_autoptr(GError) error = NULL;
        g_autofree char *tmp = g_dir_make_tmp("test-config-XXXXXX", &error);
        g_autofree char *main_file = NULL, *d1 = NULL, *d2 = NULL, *d3 = NULL, *masked = NULL;
        g_autoptr(GPtrArray) errors = errors_new();
        _cleanup_(config_freep) Config *c = NULL;
        const ConfigWatch *w;
        const ConfigRule *r;

        g_assert_no_error(error);
        main_file = g_build_filename(tmp, "main.conf", NULL);
        d1 = g_build_filename(tmp, "d1", NULL);
        d2 = g_build_filename(tmp, "d2", NULL);
        d3 = g_build_filename(tmp, "missing", NULL);
        g_assert_cmpint(g_mkdir(d1, 0755), ==, 0);
        g_assert_cmpint(g_mkdir(d2, 0755), ==, 0);

        write_file(tmp, "main.conf",
                   "[Watch w]\nPath=/srv\nExclude=a b\n[Rule r]\nOn=created\nExec=/bin/main\nDelaySec=5\n");
        write_file(d1, "10-x.conf", "[Rule r]\nExec=/bin/d1\n");
        write_file(d1, "20-y.conf", "[Watch w]\nExclude=replaced-by-d2\n");
        write_file(d2, "20-y.conf", "[Watch w]\nExclude=c\n");
        write_file(d2, "15-z.conf", "[Watch w]\nExclude=\nExclude=d\n");
        write_file(d2, "9-late.conf", "[Rule r]\nDelaySec=7\n");
        write_file(d1, "30-masked.conf", "[Daemon]\nTaskHistory=7\n");
        write_file(d1, "40-emptied.conf", "[Daemon]\nMaxRunningTasks=3\n");
        write_file(d2, "40-emptied.conf", "");
        write_file(d2, "README", "not a drop-in\n");
        write_file(d2, ".hidden.conf", "not a drop-in either\n");
        masked = g_build_filename(d2, "30-masked.conf", NULL);
        g_assert_cmpint(symlink("/dev/null", masked), ==, 0);

        {
                const char *const dirs[] = { d1, d3, d2, NULL };
                const ConfigSources s = { .main_file = main_file, .dropin_dirs = dirs };
                g_autofree char *f10 = g_build_filename(d1, "10-x.conf", NULL);
                g_autofree char *f15 = g_build_filename(d2, "15-z.conf", NULL);
                g_autofree char *f20 = g_build_filename(d2, "20-y.conf", NULL);
                g_autofree char *f9 = g_build_filename(d2, "9-late.conf", NULL);

                g_assert_cmpint(config_load(&s, &c, errors), ==, 0);
                g_assert_cmpuint(errors->len, ==, 0);
                /* Sorted by file name (strcmp), after the main file; masked and replaced files not read. */
                assert_strv(c->files, STRV(main_file, f10, f15, f20, f9));
        }

        w = c->watches->pdata[0];
        r = c->rules->pdata[0];
        assert_strv(w->exclude, STRV("d", "c"));
        g_assert_cmpstr(r->exec, ==, "/bin/d1");
        g_assert_cmpuint(r->delay, ==, 7 * USEC_PER_SEC);
        g_assert_cmpuint(c->daemon.task_history, ==, 100);
        g_assert_cmpuint(c->daemon.max_running, ==, 16);
        g_assert_cmpstr(w->file, ==, main_file);
        g_assert_cmpstr(r->file, ==, main_file);
        g_clear_pointer(&c, config_free);

        /* Errors name the drop-in they are in, in file order; errors found after merging name the file of
         * the group's first header. */
        write_file(d1, "50-bad.conf", "[Rule r]\nDelaySec=x\n[Rule new]\nExec=true\n");
        write_file(d2, "45-bad.conf", "[Watch w]\nRecursive=x\n");
        {
                const char *const dirs[] = { d1, d2, NULL };
                const ConfigSources s = { .main_file = main_file, .dropin_dirs = dirs };
                g_autofree char *joined = NULL, *expected = NULL;

                g_assert_cmpint(config_load(&s, &c, errors), ==, CONFIG_E_INVALID);
                g_assert_null(c);
                joined = errors_join(errors);
                expected = g_strdup_printf("%s/45-bad.conf:2: Recursive: invalid boolean \"x\" (use yes or no)\n"
                                           "%s/50-bad.conf:2: DelaySec: invalid time span \"x\"\n"
                                           "%s/50-bad.conf:3: On: On= is required in [Rule new]",
                                           d2, d1, d1);
                g_assert_cmpstr(joined, ==, expected);
                g_ptr_array_set_size(errors, 0);
        }

        /* The main file may be missing only when allowed. */
        {
                const char *const dirs[] = { d3, NULL };
                g_autofree char *missing = g_build_filename(tmp, "nope.conf", NULL);
                g_autofree char *expected = g_strdup_printf("%s: cannot read file: %s", missing,
                                                            g_strerror(ENOENT));
                ConfigSources s = { .main_file = missing, .main_missing_ok = true, .dropin_dirs = dirs };

                g_assert_cmpint(config_load(&s, &c, errors), ==, 0);
                g_assert_cmpuint(errors->len, ==, 0);
                assert_strv(c->files, STRV_EMPTY);
                g_assert_cmpuint(c->watches->len, ==, 0);
                g_clear_pointer(&c, config_free);

                s.main_missing_ok = false;
                g_assert_cmpint(config_load(&s, &c, errors), ==, -ENOENT);
                g_assert_null(c);
                g_assert_cmpuint(errors->len, ==, 1);
                g_assert_cmpstr(errors->pdata[0], ==, expected);
                g_ptr_array_set_size(errors, 0);
        }

        /* A NUL byte is an error at its line. */
        {
                static const char text[] = "[Daemon]\nLogLevel=info\nTask\0History=1\n";
                g_autofree char *path = g_build_filename(tmp, "nul.conf", NULL);
                g_autofree char *expected = g_strdup_printf("%s:3: NUL byte in line", path);
                const ConfigSources s = { .main_file = path };

                g_assert_true(g_file_set_contents(path, text, sizeof(text) - 1, NULL));
                g_assert_cmpint(config_load(&s, &c, errors), ==, CONFIG_E_INVALID);
                g_assert_cmpuint(errors->len, ==, 1);
                g_assert_cmpstr(errors->pdata[0], ==, expected);
                g_ptr_array_set_size(errors, 0);
        }

        rm_rf(tmp);
}

/* ------------------------------------------------------------------ dump */

static void assert_round_trip(const char *text) {
        _cleanup_(config_freep) Config *a = load_ok(text), *b = NULL, *c = NULL;
        g_autofree char *dump_a = config_dump(a), *dump_b = NULL, *dump_c = NULL;

        g_test_message("dump:\n%s", dump_a);
        g_assert_true(g_str_has_prefix(dump_a, "# inotaskd configuration, merged from: test.conf\n"));
        b = load_ok(dump_a);
        assert_config_equal(a, b);

        /* The dump of the dump is the same text. */
        dump_b = config_dump(b);
        g_assert_cmpstr(dump_a, ==, dump_b);

        /* And what was defaults stays defaults. */
        c = load_ok(dump_b);
        dump_c = config_dump(c);
        g_assert_cmpstr(dump_c, ==, dump_a);
}

static void test_dump(void) {
        g_autofree char *example = replace(EXAMPLE_HEAD EXAMPLE_ARCHIVE, "User=importer", "User=root");

        assert_round_trip("");
        assert_round_trip(example);
        assert_round_trip("[Watch a]\nPath=/a\nBackend=poll\nPollIntervalSec=1.5s\n"
                          "[Watch b]\nPath=/b\nBackend=none\n[Watch c]\nPath=/c\nBackend=fanotify\n");
        assert_round_trip(
                "[Daemon]\nLogLevel=debug\nShutdownTimeoutSec=infinity\nMaxRunningTasks=0\nTaskHistory=7\n"
                "AdminGroup=root\nStateDirectory=/var/lib/x y\n"
                "[Watch a]\nPath=/srv/a \\# b\nRecursive=yes\nAutoAdd=no\n"
                "Exclude='a b' \"q\\\"uote\" 'it'\\''s' back\\\\slash \\#hash\n"
                "InitialEvent=IN_CLOSE\n"
                "[Watch b]\nPath=/\nInitialEvent=IN_ALL_EVENTS\n"
                "[Watch c]\nPath=/c\nInitialEvent=overflow\n"
                "[Watch d]\nPath=/d\nInitialEvent=IN_MOVED_TO\n"
                "[Rule r1]\nWatch=a b\nOn=IN_ALL_EVENTS overflow moved\nCancelOn=IN_DELETE exists\n"
                "Match=*.csv '* *'\nMatchRegex=^/srv/(?P<n>[^\\#]+) \\#x$\nFiles=no\nDirectories=yes\n"
                "DelaySec=1.5s\nIfRunning=parallel\nForEach='node one' node2\nTimeoutSec=0\n"
                "Exec=/bin/x --n={n} \"\\# not a comment\" 'a\\b'\nUser=0\nGroup=root\nWorkingDirectory=/tmp\n"
                "Environment=A=1 'B=two words' C= D=\\\\\n"
                "[Rule r2]\nOn=created\nAction=shell\nExec=echo \"$1\" | tr a b\nTimeoutSec=1h 2min\n"
                "DelaySec=90\nIfRunning=skip\nRunIfVanished=yes\n"
                "[Rule r3]\nOn=created\nAction=copy\nSource=^/srv/(.*) \\#$\nDestination=/d/\\1\nOverwrite=yes\n"
                "Recursive=yes\nFileMode=0\nDirectoryMode=07777\nOwner=0\nOwnerGroup=root\n"
                "[Rule r4]\nOn=deleted\nAction=delete\nSource=x\nRecursive=yes\n"
                "[Rule r5]\nOn=changed\nAction=stop-unit\nUnit=a@{name}.service\n"
                "[Rule r6]\nOn=changed\nAction=plugin\nPlugin=/usr/lib/p.so:init\nz=last\na=\nm=x \\# y 'q'\n");
}

/* TaskUnits=, Slice=, Property=, StopWithDaemon= (issue 14): defaults, values, errors, the dump. */
static void test_task_units(void) {
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;
        const ConfigRule *r;

        c = load_ok(WATCH_W "[Rule r]\nOn=created\nExec=/bin/true\n");
        g_assert_cmpint(c->daemon.task_units, ==, TASK_UNITS_AUTO);
        r = config_find_rule(c, "r");
        g_assert_cmpint(r->task_units, ==, TASK_UNITS_INHERIT);
        g_assert_null(r->slice);
        assert_strv(r->properties, STRV_EMPTY);
        g_assert_true(r->stop_with_daemon);

        d = load_ok("[Daemon]\nTaskUnits=no\n" WATCH_W
                    "[Rule r]\nOn=created\nExec=/bin/true\nTaskUnits=yes\nSlice=inotaskd-heavy.slice\n"
                    "Property=MemoryMax=64M\nProperty=CPUQuota=20%\nProperty=Environment=A=1 B=2\n"
                    "StopWithDaemon=no\n"
                    "[Rule s]\nOn=created\nAction=shell\nExec=true\nTaskUnits=auto\nProperty=IOWeight=10\n"
                    "Property=\nProperty=PrivateNetwork=yes\n");
        g_assert_cmpint(d->daemon.task_units, ==, TASK_UNITS_NO);
        r = config_find_rule(d, "r");
        g_assert_cmpint(r->task_units, ==, TASK_UNITS_YES);
        g_assert_cmpstr(r->slice, ==, "inotaskd-heavy.slice");
        assert_strv(r->properties, STRV("MemoryMax=64M", "CPUQuota=20%", "Environment=A=1 B=2"));
        g_assert_false(r->stop_with_daemon);
        r = config_find_rule(d, "s");
        g_assert_cmpint(r->task_units, ==, TASK_UNITS_AUTO);
        /* An empty Property= drops what came before. */
        assert_strv(r->properties, STRV("PrivateNetwork=yes"));

        assert_errors("[Daemon]\nTaskUnits=maybe\n", "test.conf:2: TaskUnits: invalid value \"maybe\" (auto, yes or no)");
        assert_errors(WATCH_W "[Rule r]\nOn=created\nExec=/bin/true\nSlice=system\n",
                      "test.conf:6: Slice: invalid slice name \"system\" (NAME.slice)");
        assert_errors(WATCH_W "[Rule r]\nOn=created\nExec=/bin/true\nProperty=memorymax\n",
                      "test.conf:6: Property: invalid property assignment \"memorymax\" (NAME=VALUE, as "
                      "systemd-run -p)");
        /* Only for the actions that run commands. */
        {
                g_autofree char *e = load_errors(WATCH_W "[Rule r]\nOn=created\nAction=delete\nSource=x\n"
                                                 "Slice=a.slice\n");

                g_assert_nonnull(strstr(e, "Slice"));
        }

        assert_round_trip("[Daemon]\nTaskUnits=yes\n" WATCH_W
                          "[Rule r]\nOn=created\nExec=/bin/true\nTaskUnits=no\nSlice=x-y.slice\n"
                          "Property=MemoryMax=64M\nProperty=Environment=A=1 B=\\#2\nStopWithDaemon=no\n"
                          "[Rule s]\nOn=created\nExec=/bin/true\n");
}

/* ------------------------------------------------------------------ sources, enums, references */

static void test_sources(void) {
        _cleanup_(config_sources_freep) ConfigSourcesOwned *s = NULL;

        g_unsetenv("INOTASKD_CONFIG");
        g_unsetenv("INOTASKD_CONFIG_DIR");

        s = config_sources_new(false, NULL);
        g_assert_cmpstr(s->sources.main_file, ==, SYSCONFDIR "/inotaskd/inotaskd.conf");
        g_assert_true(s->sources.main_missing_ok);
        assert_strv((char **) s->sources.dropin_dirs,
                    STRV("/usr/lib/inotaskd/conf.d", "/usr/lib/inotaskd/inotaskd.conf.d",
                         "/usr/local/lib/inotaskd/inotaskd.conf.d", "/run/inotaskd/conf.d",
                         "/run/inotaskd/inotaskd.conf.d", SYSCONFDIR "/inotaskd/conf.d",
                         SYSCONFDIR "/inotaskd/inotaskd.conf.d"));
        g_clear_pointer(&s, config_sources_free);

        g_setenv("XDG_CONFIG_HOME", "/xdg", true);
        s = config_sources_new(true, NULL);
        g_assert_cmpstr(s->sources.main_file, ==, "/xdg/inotaskd/inotaskd.conf");
        g_assert_true(s->sources.main_missing_ok);
        assert_strv((char **) s->sources.dropin_dirs, STRV("/xdg/inotaskd/conf.d", "/xdg/inotaskd/inotaskd.conf.d"));
        g_clear_pointer(&s, config_sources_free);

        g_unsetenv("XDG_CONFIG_HOME");
        g_setenv("HOME", "/home/u", true);
        s = config_sources_new(true, NULL);
        g_assert_cmpstr(s->sources.main_file, ==, "/home/u/.config/inotaskd/inotaskd.conf");
        assert_strv((char **) s->sources.dropin_dirs, STRV("/home/u/.config/inotaskd/conf.d",
                                                                 "/home/u/.config/inotaskd/inotaskd.conf.d"));
        g_clear_pointer(&s, config_sources_free);

        /* INOTASKD_CONFIG names the main file: it must exist, and its drop-ins are beside it. */
        g_setenv("INOTASKD_CONFIG", "/etc/x/main.conf", true);
        s = config_sources_new(false, NULL);
        g_assert_cmpstr(s->sources.main_file, ==, "/etc/x/main.conf");
        g_assert_false(s->sources.main_missing_ok);
        assert_strv((char **) s->sources.dropin_dirs, STRV("/etc/x/conf.d", "/etc/x/main.conf.d"));
        g_clear_pointer(&s, config_sources_free);

        /* -c wins over INOTASKD_CONFIG. */
        s = config_sources_new(true, "/opt/a.conf");
        g_assert_cmpstr(s->sources.main_file, ==, "/opt/a.conf");
        g_assert_false(s->sources.main_missing_ok);
        assert_strv((char **) s->sources.dropin_dirs, STRV("/opt/conf.d", "/opt/a.conf.d"));
        g_clear_pointer(&s, config_sources_free);

        s = config_sources_new(false, "a.conf");
        assert_strv((char **) s->sources.dropin_dirs, STRV("./conf.d", "./a.conf.d"));
        g_clear_pointer(&s, config_sources_free);

        /* INOTASKD_CONFIG_DIR replaces the drop-in directories, whatever the main file. */
        g_setenv("INOTASKD_CONFIG_DIR", "/d", true);
        s = config_sources_new(false, "/opt/a.conf");
        assert_strv((char **) s->sources.dropin_dirs, STRV("/d"));
        g_clear_pointer(&s, config_sources_free);

        g_unsetenv("INOTASKD_CONFIG");
        s = config_sources_new(false, NULL);
        g_assert_cmpstr(s->sources.main_file, ==, SYSCONFDIR "/inotaskd/inotaskd.conf");
        g_assert_true(s->sources.main_missing_ok);
        assert_strv((char **) s->sources.dropin_dirs, STRV("/d"));
        g_clear_pointer(&s, config_sources_free);
        g_unsetenv("INOTASKD_CONFIG_DIR");

        g_assert_null(config_sources_free(NULL));
}

static void test_enums(void) {
        for (ActionType a = 0; a < _ACTION_MAX; a++) {
                g_assert_nonnull(action_type_to_string(a));
                g_assert_cmpint(action_type_from_string(action_type_to_string(a)), ==, a);
        }
        g_assert_cmpstr(action_type_to_string(ACTION_START_UNIT), ==, "start-unit");
        g_assert_null(action_type_to_string(_ACTION_MAX));
        g_assert_cmpint(action_type_from_string("Exec"), ==, -EINVAL);
        g_assert_cmpint(action_type_from_string(NULL), ==, -EINVAL);

        for (IfRunning i = 0; i < _IF_RUNNING_MAX; i++)
                g_assert_cmpint(if_running_from_string(if_running_to_string(i)), ==, i);
        g_assert_cmpstr(if_running_to_string(IF_RUNNING_QUEUE), ==, "queue");
        g_assert_null(if_running_to_string(_IF_RUNNING_MAX));
        g_assert_cmpint(if_running_from_string("wait"), ==, -EINVAL);
}

/* Unit= is compiled at load, like Exec=: its placeholders (fixed ones and MatchRegex= groups) are
 * checked then, not when a task runs. */
static void test_unit_template(void) {
        Config *c = load_ok(WATCH_W "[Rule u]\nOn=created\nMatchRegex=(?P<app>[a-z]+)$\nAction=start-unit\n"
                                    "Unit=app@{app}-{name}.service\n");
        const ConfigRule *r = config_find_rule(c, "u");

        g_assert_nonnull(r->unit_template);
        g_assert_cmpuint(exec_template_argc(r->unit_template), ==, 1);
        g_assert_true(exec_template_uses(r->unit_template, PLACEHOLDER_NAME));
        config_free(c);

        assert_errors(WATCH_W "[Rule u]\nOn=created\nAction=stop-unit\nUnit=app@{nme}.service\n",
                      "test.conf:6: Unit: unknown placeholder {nme}");
}

/* Batch=, BatchMax=, MaxDelaySec=, StandardInput=: defaults, values, errors, the dump. */
static void test_batch(void) {
        _cleanup_(config_freep) Config *d = load_ok("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nExec=/bin/x\n");
        _cleanup_(config_freep) Config *c = load_ok(
                "[Watch w]\nPath=/w\n[Rule r]\nOn=created\nBatch=yes\nBatchMax=5\nMaxDelaySec=2s\n"
                "StandardInput=paths-nul\nExec=/bin/x --list {pathnames} -- {relpaths} {deleted_relpaths}\n");
        const ConfigRule *r = config_find_rule(d, "r");

        g_assert_false(r->batch);
        g_assert_cmpuint(r->batch_max, ==, 10000);
        g_assert_cmpuint(r->max_delay, ==, USEC_INFINITY);
        g_assert_cmpint(r->standard_input, ==, STDIN_NULL);
        r = config_find_rule(c, "r");
        g_assert_true(r->batch);
        g_assert_cmpuint(r->batch_max, ==, 5);
        g_assert_cmpuint(r->max_delay, ==, 2 * USEC_PER_SEC);
        g_assert_cmpint(r->standard_input, ==, STDIN_PATHS_NUL);
        g_assert_true(exec_template_uses_list(r->exec_template));

        for (int f = 0; f < _STDIN_FORMAT_MAX; f++)
                g_assert_cmpint(stdin_format_from_string(stdin_format_to_string(f)), ==, f);
        g_assert_cmpint(stdin_format_from_string("lines"), ==, -EINVAL);

        assert_round_trip("[Watch w]\nPath=/w\n[Rule r]\nWatch=w\nOn=created\nBatch=yes\nBatchMax=7\n"
                          "MaxDelaySec=1min\nStandardInput=json\nExec=/bin/x {relpaths}\n"
                          "[Rule s]\nWatch=w\nOn=created\nAction=shell\nMaxDelaySec=3\n"
                          "StandardInput=relpaths-nul\nExec=cat\n");

        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nExec=/bin/x --files={pathnames}\n",
                      "test.conf:5: Exec: {pathnames} must be a whole argument");
        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nExec={relpaths} x\n",
                      "test.conf:5: Exec: {relpaths} cannot be the command");
        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nBatchMax=0\nExec=/bin/x\n",
                      "test.conf:5: BatchMax: a batch holds at least one path");
        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nStandardInput=tty\nExec=/bin/x\n",
                      "test.conf:5: StandardInput: invalid value \"tty\" (null, paths, paths-nul, relpaths, "
                      "relpaths-nul or json)");
        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nAction=delete\nSource=x\nBatch=yes\n",
                      "test.conf:7: Batch: Batch= is only valid with Action=exec or Action=shell");
        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nCancelOn=deleted\nBatch=yes\nExec=/bin/x\n",
                      "test.conf:3: CancelOn: CancelOn= cannot be used with Batch=yes");
        assert_errors("[Watch w]\nPath=/w\n[Rule r]\nOn=created\nAction=start-unit\nUnit=a@ {relpaths}\n",
                      "test.conf:6: Unit: {pathnames}, {relpaths} and {deleted_relpaths} name several paths, a "
                      "unit name one");
}

static void test_rule_ref(void) {
        Config *c = load_ok(WATCH_W "[Rule r]\nOn=created\nExec=true\n");
        ConfigRule *r = c->rules->pdata[0];

        g_assert_cmpuint(r->n_ref, ==, 1);
        g_assert_true(config_rule_ref(r) == r);
        g_assert_cmpuint(r->n_ref, ==, 2);

        /* The rule outlives the configuration that held it. */
        g_assert_null(config_free(c));
        g_assert_cmpuint(r->n_ref, ==, 1);
        g_assert_cmpstr(r->name, ==, "r");
        g_assert_null(config_rule_unref(r));

        g_assert_null(config_rule_ref(NULL));
        g_assert_null(config_rule_unref(NULL));
        g_assert_null(config_free(NULL));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/config/example", test_example);
        g_test_add_func("/config/example-values", test_example_values);
        g_test_add_func("/config/defaults", test_defaults);
        g_test_add_func("/config/auto-add-default", test_auto_add_default);
        g_test_add_func("/config/values", test_values);
        g_test_add_func("/config/backend", test_backend);
        g_test_add_func("/config/log-levels", test_log_levels);
        g_test_add_func("/config/booleans", test_booleans);
        g_test_add_func("/config/comments-and-continuations", test_comments_and_continuations);
        g_test_add_func("/config/repeated-groups-and-keys", test_repeated_groups_and_keys);
        g_test_add_func("/config/did-you-mean", test_did_you_mean);
        g_test_add_func("/config/lists", test_lists);
        g_test_add_func("/config/errors/collected", test_errors_collected);
        g_test_add_func("/config/errors/groups", test_errors_groups);
        g_test_add_func("/config/errors/required", test_errors_required);
        g_test_add_func("/config/errors/values", test_errors_values);
        g_test_add_func("/config/errors/modes", test_errors_modes);
        g_test_add_func("/config/actions", test_actions);
        g_test_add_func("/config/shell", test_shell);
        g_test_add_func("/config/regex", test_regex);
        g_test_add_func("/config/dropins", test_dropins);
        g_test_add_func("/config/dump", test_dump);
        g_test_add_func("/config/task-units", test_task_units);
        g_test_add_func("/config/sources", test_sources);
        g_test_add_func("/config/enums", test_enums);
        g_test_add_func("/config/rule-ref", test_rule_ref);
        g_test_add_func("/config/batch", test_batch);
        g_test_add_func("/config/unit-template", test_unit_template);

        return g_test_run();
}
