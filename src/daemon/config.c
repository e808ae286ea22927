/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inotaskd's configuration model: its sections, key tables and value types on top of the generic key-file
 * parser (config-parser.c), and the validation of the merged result, naming file, line and key for every
 * problem. The dump is config-dump.c. */

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include "config-parser.h"
#include "config.h"
#include "event-names.h"
#include "template.h"
#include "time-util.h"

/* ------------------------------------------------------------------ names of enums */

static const char *const action_table[_ACTION_MAX] = {
        [ACTION_EXEC] = "exec",
        [ACTION_SHELL] = "shell",
        [ACTION_MOVE] = "move",
        [ACTION_COPY] = "copy",
        [ACTION_DELETE] = "delete",
        [ACTION_START_UNIT] = "start-unit",
        [ACTION_STOP_UNIT] = "stop-unit",
        [ACTION_RESTART_UNIT] = "restart-unit",
        [ACTION_RELOAD_UNIT] = "reload-unit",
        [ACTION_PLUGIN] = "plugin",
};

const char *action_type_to_string(ActionType a) {
        if ((unsigned) a >= _ACTION_MAX)
                return NULL;
        return action_table[a];
}

int action_type_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _ACTION_MAX; i++)
                if (streq(action_table[i], s))
                        return (int) i;
        return -EINVAL;
}

static const char *const if_running_table[_IF_RUNNING_MAX] = {
        [IF_RUNNING_QUEUE] = "queue",
        [IF_RUNNING_SKIP] = "skip",
        [IF_RUNNING_PARALLEL] = "parallel",
        [IF_RUNNING_RESTART] = "restart",
};

static const char *const task_units_table[_TASK_UNITS_MAX] = {
        [TASK_UNITS_AUTO] = "auto",
        [TASK_UNITS_YES] = "yes",
        [TASK_UNITS_NO] = "no",
};

const char *task_units_to_string(TaskUnits u) {
        return u >= 0 && u < _TASK_UNITS_MAX ? task_units_table[u] : NULL;
}

static const char *const stdin_format_table[_STDIN_FORMAT_MAX] = {
        [STDIN_NULL] = "null",
        [STDIN_PATHS] = "paths",
        [STDIN_PATHS_NUL] = "paths-nul",
        [STDIN_RELPATHS] = "relpaths",
        [STDIN_RELPATHS_NUL] = "relpaths-nul",
        [STDIN_JSON] = "json",
};

const char *stdin_format_to_string(StdinFormat f) {
        return (unsigned) f < _STDIN_FORMAT_MAX ? stdin_format_table[f] : NULL;
}

int stdin_format_from_string(const char *s) {
        for (int i = 0; s && i < _STDIN_FORMAT_MAX; i++)
                if (streq(stdin_format_table[i], s))
                        return i;
        return -EINVAL;
}

const char *if_running_to_string(IfRunning i) {
        if ((unsigned) i >= _IF_RUNNING_MAX)
                return NULL;
        return if_running_table[i];
}

int if_running_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _IF_RUNNING_MAX; i++)
                if (streq(if_running_table[i], s))
                        return (int) i;
        return -EINVAL;
}

static const char *const backend_kind_table[_BACKEND_KIND_MAX] = {
        [BACKEND_AUTO] = "auto",
        [BACKEND_INOTIFY] = "inotify",
        [BACKEND_FANOTIFY] = "fanotify",
        [BACKEND_POLL] = "poll",
        [BACKEND_NONE] = "none",
};

const char *backend_kind_to_string(BackendKind k) {
        if ((unsigned) k >= _BACKEND_KIND_MAX)
                return NULL;
        return backend_kind_table[k];
}

int backend_kind_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _BACKEND_KIND_MAX; i++)
                if (streq(backend_kind_table[i], s))
                        return (int) i;
        return -EINVAL;
}

/* syslog(3) priorities, indexed by value. */
static const char *const log_level_table[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

const char *config_log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(log_level_table))
                return NULL;
        return log_level_table[level];
}

/* ------------------------------------------------------------------ object lifetimes */

static ConfigWatch *config_watch_free(ConfigWatch *w) {
        if (!w)
                return NULL;
        g_free(w->name);
        g_free(w->path);
        g_strfreev(w->exclude);
        g_free(w->file);
        g_free(w->path_file);
        g_free(w);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigWatch *, config_watch_free);

static void config_watch_free_void(gpointer p) {
        config_watch_free(p);
}

ConfigRule *config_rule_ref(ConfigRule *r) {
        if (!r)
                return NULL;
        g_assert(r->n_ref > 0);
        r->n_ref++;
        return r;
}

ConfigRule *config_rule_unref(ConfigRule *r) {
        if (!r)
                return NULL;
        g_assert(r->n_ref > 0);
        if (--r->n_ref > 0)
                return NULL;

        g_free(r->name);
        g_strfreev(r->watches);
        g_strfreev(r->match);
        g_free(r->match_regex);
        if (r->regex)
                g_regex_unref(r->regex);
        g_strfreev(r->group_names);
        g_strfreev(r->for_each);
        g_free(r->exec);
        exec_template_free(r->exec_template);
        g_free(r->user);
        g_free(r->group);
        g_free(r->working_directory);
        g_strfreev(r->environment);
        g_free(r->slice);
        g_strfreev(r->properties);
        g_strfreev(r->property_origins);
        g_free(r->source);
        if (r->source_regex)
                g_regex_unref(r->source_regex);
        g_free(r->destination);
        g_free(r->owner);
        g_free(r->owner_group);
        g_free(r->unit);
        exec_template_free(r->unit_template);
        g_free(r->plugin);
        g_free(r->plugin_at.file);
        if (r->extra)
                g_hash_table_unref(r->extra);
        g_free(r->file);
        g_free(r);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigRule *, config_rule_unref);

static void config_rule_unref_void(gpointer p) {
        config_rule_unref(p);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        g_free(c->daemon.admin_group);
        g_free(c->daemon.state_directory);
        if (c->watches)
                g_ptr_array_unref(c->watches);
        if (c->rules)
                g_ptr_array_unref(c->rules);
        g_strfreev(c->files);
        g_free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

const ConfigWatch *config_find_watch(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (guint i = 0; i < c->watches->len; i++) {
                const ConfigWatch *w = g_ptr_array_index(c->watches, i);
                if (streq(w->name, name))
                        return w;
        }
        return NULL;
}

const ConfigRule *config_find_rule(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (guint i = 0; i < c->rules->len; i++) {
                const ConfigRule *r = g_ptr_array_index(c->rules, i);
                if (streq(r->name, name))
                        return r;
        }
        return NULL;
}

/* ------------------------------------------------------------------ sections */

typedef enum GroupType {
        GROUP_DAEMON,
        GROUP_WATCH,
        GROUP_RULE,
} GroupType;

static const ConfSection sections[] = {
        [GROUP_DAEMON] = { "Daemon", false },
        [GROUP_WATCH] = { "Watch", true },
        [GROUP_RULE] = { "Rule", true },
        {},
};

/* ------------------------------------------------------------------ names */

/* Keys of the group that the daemon does not know and keeps for a plugin. */
static bool valid_extra_key(const char *s) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("_.-", *p))
                        return false;
        return true;
}

static bool valid_env_name(const char *s, size_t n) {
        if (n == 0 || g_ascii_isdigit(s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_isalnum(s[i]) && s[i] != '_')
                        return false;
        return true;
}

/* ------------------------------------------------------------------ value parsers */

static int parse_plugin(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        /* An absolute path, or a bare name looked up in the plugin directories (plugin.c). */
        if (value && value[0] != '/' && (strchr(value, '/') || value[0] == ':' || value[0] == '.')) {
                conf_key_error(l, a, "plugin \"%s\" is neither an absolute path nor a bare module name",
                               value);
                return -EINVAL;
        }
        if (value && g_str_has_suffix(value, ":")) {
                conf_key_error(l, a, "empty symbol name after ':' in \"%s\"", value);
                return -EINVAL;
        }
        /* Loading happens later (plugin.c): its errors point at this assignment. */
        {
                ConfigLocation *at = data2;

                g_free(at->file);
                at->file = value ? g_strdup(conf_parser_file_name(l, a->file)) : NULL;
                at->line = value ? a->line : 0;
        }
        return conf_parse_string(l, a, value, data, data2);
}

/* DelaySec=: a delay that never ends would be a rule that never runs. */
static int parse_delay(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        usec_t *t = data, v;
        int r = conf_parse_time(l, a, value, &v);
        if (r < 0)
                return r;
        if (v == USEC_INFINITY) {
                conf_key_error(l, a, "the delay must be finite");
                return -EINVAL;
        }
        *t = v;
        return 0;
}

/* TimeoutSec=: "0" means no timeout, like systemd's TimeoutSec=0. */
static int parse_timeout(ConfParser *l, const ConfAssignment *a, const char *value,
                         void *data, void *data2) {
        usec_t *t = data, v;
        int r = conf_parse_time(l, a, value, &v);
        if (r < 0)
                return r;
        *t = v == 0 ? USEC_INFINITY : v;
        return 0;
}

static int parse_log_level(ConfParser *l, const ConfAssignment *a, const char *value,
                           void *data, void *data2) {
        int *level = data;

        if (value[0] >= '0' && value[0] <= '7' && value[1] == 0) {
                *level = value[0] - '0';
                return 0;
        }
        if (streq(value, "error")) {
                *level = LOG_ERR;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(log_level_table); i++)
                if (streq(value, log_level_table[i])) {
                        *level = (int) i;
                        return 0;
                }
        conf_key_error(l, a, "invalid log level \"%s\" (emerg, alert, crit, err, warning, notice, info, "
                       "debug or 0-7)", value);
        return -EINVAL;
}

static int parse_if_running(ConfParser *l, const ConfAssignment *a, const char *value,
                            void *data, void *data2) {
        IfRunning *i = data;
        int r = if_running_from_string(value);

        if (r < 0) {
                conf_key_error(l, a, "invalid value \"%s\" (queue, skip, parallel or restart)", value);
                return r;
        }
        *i = (IfRunning) r;
        return 0;
}

static int parse_stdin_format(ConfParser *l, const ConfAssignment *a, const char *value,
                              void *data, void *data2) {
        StdinFormat *f = data;
        int r = stdin_format_from_string(value);

        if (r < 0) {
                conf_key_error(l, a, "invalid value \"%s\" (null, paths, paths-nul, relpaths, relpaths-nul or "
                               "json)", value);
                return r;
        }
        *f = (StdinFormat) r;
        return 0;
}

/* BatchMax=: at least one path per batch. */
static int parse_batch_max(ConfParser *l, const ConfAssignment *a, const char *value, void *data,
                           void *data2) {
        unsigned *u = data, v = 0;
        int r = conf_parse_unsigned(l, a, value, &v, NULL);

        if (r < 0)
                return r;
        if (v == 0) {
                conf_key_error(l, a, "a batch holds at least one path");
                return -EINVAL;
        }
        *u = v;
        return 0;
}

static int parse_backend(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        BackendKind *k = data;
        int r = backend_kind_from_string(value);

        if (r < 0) {
                conf_key_error(l, a, "unknown backend \"%s\" (auto, inotify, fanotify, poll or none)", value);
                return r;
        }
        *k = (BackendKind) r;
        return 0;
}

static int parse_poll_interval(ConfParser *l, const ConfAssignment *a, const char *value,
                               void *data, void *data2) {
        usec_t *u = data;
        int r = conf_parse_timespan(l, a, value, data, data2);

        if (r >= 0 && (*u == 0 || *u == USEC_INFINITY)) {
                conf_key_error(l, a, "must be more than 0 and finite, got \"%s\"", value);
                return -EINVAL;
        }
        return r;
}

static int parse_action(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        ActionType *t = data;
        int r = action_type_from_string(value);

        if (r < 0) {
                conf_key_error(l, a, "unknown action \"%s\" (exec, shell, move, copy, delete, start-unit, "
                               "stop-unit, restart-unit, reload-unit or plugin)", value);
                return r;
        }
        *t = (ActionType) r;
        return 0;
}

static int parse_environment(ConfParser *l, const ConfAssignment *a, const char *value,
                             void *data, void *data2) {
        _cleanup_strv_free_ char **items = NULL;
        int r = 0;

        if (!value)
                return conf_parse_strv(l, a, value, data, data2);
        if (conf_parse_words(l, a, value, &items) < 0)
                return -EINVAL;
        for (char **i = items; *i; i++) {
                const char *eq = strchr(*i, '=');
                if (!eq || !valid_env_name(*i, (size_t) (eq - *i))) {
                        conf_key_error(l, a, "invalid environment assignment \"%s\" (NAME=value)", *i);
                        r = -EINVAL;
                }
        }
        if (r < 0)
                return r;
        conf_strv_extend(data, items);
        return 0;
}

/* TaskUnits=auto|yes|no (and the booleans' other spellings); unset in a rule: the daemon's. */
static int parse_task_units(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        TaskUnits *u = data;

        if (isempty(value)) {
                *u = TASK_UNITS_INHERIT;     /* a rule's default; the daemon's is "auto" */
                return 0;
        }
        if (streq(value, "auto")) {
                *u = TASK_UNITS_AUTO;
                return 0;
        }
        if (g_strv_contains((const char *const[]) { "yes", "true", "on", "1", NULL }, value))
                *u = TASK_UNITS_YES;
        else if (g_strv_contains((const char *const[]) { "no", "false", "off", "0", NULL }, value))
                *u = TASK_UNITS_NO;
        else {
                conf_key_error(l, a, "invalid value \"%s\" (auto, yes or no)", value);
                return -EINVAL;
        }
        return 0;
}

/* Slice=: a slice unit's name ("inotaskd.slice", "inotaskd-heavy.slice"). */
static int parse_slice(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        char **slice = data;
        size_t n;

        if (isempty(value)) {
                g_clear_pointer(slice, g_free);
                return 0;
        }
        n = strlen(value);
        if (n > 255 || !g_str_has_suffix(value, ".slice") || n == strlen(".slice") ||
            strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\") != n) {
                conf_key_error(l, a, "invalid slice name \"%s\" (NAME.slice)", value);
                return -EINVAL;
        }
        g_free(*slice);
        *slice = g_strdup(value);
        return 0;
}

/* Property=NAME=VALUE, one per line (VALUE may hold spaces, as with systemd-run -p); empty resets the
 * list. Only the shape here: what the name and value mean is unit-property.c's, checked at load. */
static int parse_property(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        char ***props = data;
        /* Where each one was set, for the load-time check's messages (Property= is only a rule's). */
        char ***origins = &((ConfigRule *) ((char *) data - offsetof(ConfigRule, properties)))->property_origins;
        const char *eq;
        guint n;

        if (isempty(value)) {
                g_strfreev(*props);
                g_strfreev(*origins);
                *props = g_new0(char *, 1);
                *origins = NULL;
                return 0;
        }
        eq = strchr(value, '=');
        if (!eq || eq == value || !g_ascii_isupper(value[0]) ||
            strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != (size_t) (eq - value)) {
                conf_key_error(l, a, "invalid property assignment \"%s\" (NAME=VALUE, as systemd-run -p)", value);
                return -EINVAL;
        }
        n = *props ? g_strv_length(*props) : 0;
        *props = g_renew(char *, *props, n + 2);
        (*props)[n] = g_strdup(value);
        (*props)[n + 1] = NULL;
        *origins = g_renew(char *, *origins, n + 2);
        (*origins)[n] = g_strdup_printf("%s:%u", conf_parser_file_name(l, a->file), a->line);
        (*origins)[n + 1] = NULL;
        return 0;
}

static void event_error(ConfParser *l, const ConfAssignment *a, const char *name) {
        g_autofree char *suggestion = event_name_suggest(name);

        if (suggestion)
                conf_key_error(l, a, "unknown event \"%s\", did you mean \"%s\"?", name, suggestion);
        else
                conf_key_error(l, a, "unknown event \"%s\"", name);
}

static int parse_events(ConfParser *l, const ConfAssignment *a, const char *value, void *data, void *data2) {
        uint32_t *mask = data, *kinds = data2;
        _cleanup_strv_free_ char **items = NULL;
        uint32_t m = 0, k = 0;
        int r = 0;

        if (!value) {
                *mask = *kinds = 0;
                return 0;
        }
        if (conf_parse_words(l, a, value, &items) < 0)
                return -EINVAL;
        for (char **i = items; *i; i++) {
                uint32_t im, ik;
                if (event_name_parse(*i, &im, &ik) < 0) {
                        event_error(l, a, *i);
                        r = -EINVAL;
                        continue;
                }
                m |= im;
                k |= ik;
        }
        if (r < 0)
                return r;
        *mask |= m;
        *kinds |= k;
        return 0;
}

static int parse_initial_event(ConfParser *l, const ConfAssignment *a, const char *value,
                               void *data, void *data2) {
        uint32_t *mask = data, *kinds = data2, m, k;

        if (!value) {
                *mask = *kinds = 0;
                return 0;
        }
        for (const char *p = value; *p; p++)
                if (conf_is_ws(*p)) {
                        conf_key_error(l, a, "exactly one event name expected, got \"%s\"", value);
                        return -EINVAL;
                }
        if (event_name_parse(value, &m, &k) < 0) {
                event_error(l, a, value);
                return -EINVAL;
        }
        *mask = m;
        *kinds = k;
        return 0;
}

/* ------------------------------------------------------------------ key tables */

#define A(x) (1U << (x))
#define A_EXEC (A(ACTION_EXEC) | A(ACTION_SHELL))
#define A_FILE (A(ACTION_MOVE) | A(ACTION_COPY) | A(ACTION_DELETE))
#define A_MOVE_COPY (A(ACTION_MOVE) | A(ACTION_COPY))
#define A_COPY_DELETE (A(ACTION_COPY) | A(ACTION_DELETE))
#define A_UNIT (A(ACTION_START_UNIT) | A(ACTION_STOP_UNIT) | A(ACTION_RESTART_UNIT) | A(ACTION_RELOAD_UNIT))
#define A_PLUGIN A(ACTION_PLUGIN)

/* A ConfKeyDef's flags, for [Rule] keys: the actions the key is valid with; 0: all. */
static const ConfKeyDef daemon_keys[] = {
        { "LogLevel", parse_log_level, offsetof(ConfigDaemon, log_level), 0, "info", 0 },
        { "ShutdownTimeoutSec", conf_parse_timespan, offsetof(ConfigDaemon, shutdown_timeout), 0, "30", 0 },
        { "MaxRunningTasks", conf_parse_unsigned, offsetof(ConfigDaemon, max_running), 0, "16", 0 },
        { "TaskHistory", conf_parse_unsigned, offsetof(ConfigDaemon, task_history), 0, "100", 0 },
        { "AdminGroup", conf_parse_group, offsetof(ConfigDaemon, admin_group), 0, NULL, 0 },
        { "StateDirectory", conf_parse_path, offsetof(ConfigDaemon, state_directory), 0, NULL, 0 },
        { "TaskUnits", parse_task_units, offsetof(ConfigDaemon, task_units), 0, "auto", 0 },
        {},
};

static const ConfKeyDef watch_keys[] = {
        { "Path", conf_parse_path, offsetof(ConfigWatch, path), 0, NULL, 0 },
        { "Recursive", conf_parse_bool, offsetof(ConfigWatch, recursive), 0, "no", 0 },
        /* default: Recursive's value, filled in after merging */
        { "AutoAdd", conf_parse_bool, offsetof(ConfigWatch, auto_add), 0, NULL, 0 },
        { "Exclude", conf_parse_strv, offsetof(ConfigWatch, exclude), 0, NULL, 0 },
        { "InitialEvent", parse_initial_event, offsetof(ConfigWatch, initial_mask),
          offsetof(ConfigWatch, initial_kinds), NULL, 0 },
        { "Backend", parse_backend, offsetof(ConfigWatch, backend), 0, "auto", 0 },
        { "PollIntervalSec", parse_poll_interval, offsetof(ConfigWatch, poll_interval), 0, "2", 0 },
        {},
};

static const ConfKeyDef rule_keys[] = {
        { "Watch", conf_parse_strv, offsetof(ConfigRule, watches), 0, NULL, 0 },
        { "On", parse_events, offsetof(ConfigRule, on_mask), offsetof(ConfigRule, on_kinds), NULL, 0 },
        { "CancelOn", parse_events, offsetof(ConfigRule, cancel_mask), offsetof(ConfigRule, cancel_kinds),
          NULL, 0 },
        { "Match", conf_parse_strv, offsetof(ConfigRule, match), 0, NULL, 0 },
        { "MatchRegex", conf_parse_regex, offsetof(ConfigRule, match_regex), offsetof(ConfigRule, regex),
          NULL, 0 },
        { "Files", conf_parse_bool, offsetof(ConfigRule, files), 0, "yes", 0 },
        { "Directories", conf_parse_bool, offsetof(ConfigRule, directories), 0, "no", 0 },
        { "DelaySec", parse_delay, offsetof(ConfigRule, delay), 0, "0", 0 },
        { "IfRunning", parse_if_running, offsetof(ConfigRule, if_running), 0, "queue", 0 },
        { "RunIfVanished", conf_parse_bool, offsetof(ConfigRule, run_if_vanished), 0, "no", 0 },
        { "ForEach", conf_parse_strv, offsetof(ConfigRule, for_each), 0, NULL, 0 },
        { "MaxDelaySec", parse_timeout, offsetof(ConfigRule, max_delay), 0, "infinity", 0 },
        { "Batch", conf_parse_bool, offsetof(ConfigRule, batch), 0, "no", A_EXEC },
        { "BatchMax", parse_batch_max, offsetof(ConfigRule, batch_max), 0, "10000", A_EXEC },
        { "StandardInput", parse_stdin_format, offsetof(ConfigRule, standard_input), 0, "null", A_EXEC },
        { "Action", parse_action, offsetof(ConfigRule, action), 0, "exec", 0 },
        { "TimeoutSec", parse_timeout, offsetof(ConfigRule, timeout), 0, "infinity", 0 },

        { "Exec", conf_parse_string, offsetof(ConfigRule, exec), 0, NULL, A_EXEC },
        { "User", conf_parse_user, offsetof(ConfigRule, user), 0, NULL, A_EXEC },
        { "Group", conf_parse_group, offsetof(ConfigRule, group), 0, NULL, A_EXEC },
        { "WorkingDirectory", conf_parse_path, offsetof(ConfigRule, working_directory), 0, NULL, A_EXEC },
        { "Environment", parse_environment, offsetof(ConfigRule, environment), 0, NULL, A_EXEC },
        { "TaskUnits", parse_task_units, offsetof(ConfigRule, task_units), 0, NULL, A_EXEC },
        { "Slice", parse_slice, offsetof(ConfigRule, slice), 0, NULL, A_EXEC },
        { "Property", parse_property, offsetof(ConfigRule, properties), 0, NULL, A_EXEC },
        { "StopWithDaemon", conf_parse_bool, offsetof(ConfigRule, stop_with_daemon), 0, "yes", A_EXEC },

        { "Source", conf_parse_regex, offsetof(ConfigRule, source), offsetof(ConfigRule, source_regex),
          NULL, A_FILE },
        { "Destination", conf_parse_string, offsetof(ConfigRule, destination), 0, NULL, A_MOVE_COPY },
        { "AutoCreate", conf_parse_bool, offsetof(ConfigRule, auto_create), 0, "no", A_MOVE_COPY },
        { "Overwrite", conf_parse_bool, offsetof(ConfigRule, overwrite), 0, "no", A_MOVE_COPY },
        { "Recursive", conf_parse_bool, offsetof(ConfigRule, recursive), 0, "no", A_COPY_DELETE },
        { "FileMode", conf_parse_mode, offsetof(ConfigRule, file_mode), 0, NULL, A_MOVE_COPY },
        { "DirectoryMode", conf_parse_mode, offsetof(ConfigRule, directory_mode), 0, NULL, A_MOVE_COPY },
        { "Owner", conf_parse_user, offsetof(ConfigRule, owner), 0, NULL, A_MOVE_COPY },
        { "OwnerGroup", conf_parse_group, offsetof(ConfigRule, owner_group), 0, NULL, A_MOVE_COPY },

        { "Unit", conf_parse_string, offsetof(ConfigRule, unit), 0, NULL, A_UNIT },

        { "Plugin", parse_plugin, offsetof(ConfigRule, plugin), offsetof(ConfigRule, plugin_at), NULL,
          A_PLUGIN },
        {},
};

/* "Action=move or Action=copy" */
static char *actions_to_string(unsigned actions) {
        GString *s = g_string_new(NULL);
        unsigned n = (unsigned) __builtin_popcount(actions), i = 0;

        for (unsigned a = 0; a < _ACTION_MAX; a++) {
                if (!(actions & A(a)))
                        continue;
                if (i > 0)
                        g_string_append(s, i + 1 == n ? " or " : ", ");
                g_string_append_printf(s, "Action=%s", action_type_to_string(a));
                i++;
        }
        return g_string_free(s, FALSE);
}

/* The key tables by group name, for the manual's coverage test (tests/docs); NULL: no such group. */
const ConfKeyDef *config_group_keys(const char *group) {
        static const ConfKeyDef *const tables[] = {
                [GROUP_DAEMON] = daemon_keys,
                [GROUP_WATCH] = watch_keys,
                [GROUP_RULE] = rule_keys,
        };

        for (size_t i = 0; i < G_N_ELEMENTS(tables); i++)
                if (streq(sections[i].name, group))
                        return tables[i];
        return NULL;
}

const char *config_group_name(size_t i) {
        return i < G_N_ELEMENTS(sections) ? sections[i].name : NULL;
}

/* ------------------------------------------------------------------ building the model */

static ConfigWatch *build_watch(ConfParser *l, const ConfGroup *g) {
        _cleanup_(config_watch_freep) ConfigWatch *w = g_new0(ConfigWatch, 1);
        const ConfAssignment *auto_add, *path;

        w->name = g_strdup(g->name);
        w->file = g_strdup(conf_parser_file_name(l, g->file));
        w->line = g->line;
        conf_keys_apply_defaults(l, watch_keys, w);

        {
                g_autofree char *what = g_strdup_printf("Watch %s", g->name);
                conf_group_apply(l, g, watch_keys, w, what);
        }

        path = conf_group_last_assignment(g, "Path");
        if (path) {
                w->path_file = g_strdup(conf_parser_file_name(l, path->file));
                w->path_line = path->line;
        }

        auto_add = conf_group_last_assignment(g, "AutoAdd");
        if (!auto_add || isempty(auto_add->value))
                w->auto_add = w->recursive;

        if (!w->path && conf_group_key_unassigned(g, "Path"))
                conf_parser_error(l, g->file, g->line, "Path", "Path= is required in [Watch %s]", g->name);

        return TAKE_PTR(w);
}

/* The names of the named groups of a regex: (?P<name>...), (?<name>...), (?'name'...). GLib has no API
 * to list them, so scan the pattern and keep what the compiled regex confirms. */
static char **regex_group_names(const char *pattern, const GRegex *re) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

        for (const char *p = pattern; *p; p++) {
                const char *q, *e;
                char close;

                if (*p == '\\') {
                        if (p[1])
                                p++;
                        continue;
                }
                if (p[0] != '(' || p[1] != '?')
                        continue;
                q = p + 2;
                if (q[0] == 'P' && q[1] == '<') {
                        q += 2;
                        close = '>';
                } else if (q[0] == '<' && q[1] != '=' && q[1] != '!') {
                        q++;
                        close = '>';
                } else if (q[0] == '\'') {
                        q++;
                        close = '\'';
                } else
                        continue;

                e = strchr(q, close);
                if (!e || e == q)
                        continue;

                g_autofree char *name = g_strndup(q, (gsize) (e - q));
                bool dup = false;
                for (guint i = 0; i < names->len; i++)
                        if (streq(g_ptr_array_index(names, i), name))
                                dup = true;
                if (!dup && g_regex_get_string_number(re, name) >= 0)
                        g_ptr_array_add(names, TAKE_PTR(name));
                p = e;
        }

        g_ptr_array_add(names, NULL);
        return (char **) g_ptr_array_free(TAKE_PTR(names), FALSE);
}

static void rule_require(ConfParser *l, const ConfGroup *g, const ConfigRule *r, const char *key,
                         const void *value) {
        if (!value && conf_group_key_unassigned(g, key))
                conf_parser_error(l, g->file, g->line, key, "%s= is required with Action=%s", key,
                                  action_type_to_string(r->action));
}

static ConfigRule *build_rule(ConfParser *l, const ConfGroup *g, const Config *c) {
        _cleanup_(config_rule_unrefp) ConfigRule *r = g_new0(ConfigRule, 1);
        const ConfKeyDef *action_key = conf_key_lookup(rule_keys, "Action");
        const ConfAssignment *exec, *unit;
        bool action_ok = true;

        r->n_ref = 1;
        r->name = g_strdup(g->name);
        r->file = g_strdup(conf_parser_file_name(l, g->file));
        r->line = g->line;
        r->group_names = g_new0(char *, 1);
        conf_keys_apply_defaults(l, rule_keys, r);

        /* Action= first: it decides which other keys are valid. */
        for (guint i = 0; i < g->assignments->len; i++) {
                const ConfAssignment *a = g_ptr_array_index(g->assignments, i);
                if (!streq(a->key, "Action"))
                        continue;
                if (conf_key_apply(l, action_key, a, r) < 0)
                        action_ok = false;
        }
        if (r->action == ACTION_PLUGIN)
                r->extra = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        for (guint i = 0; i < g->assignments->len; i++) {
                const ConfAssignment *a = g_ptr_array_index(g->assignments, i);
                const ConfKeyDef *k = conf_key_lookup(rule_keys, a->key);

                if (k == action_key)
                        continue;
                if (!k && r->extra) {
                        if (!valid_extra_key(a->key))
                                conf_key_error(l, a, "invalid key name (allowed: letters, digits and _.-)");
                        else
                                g_hash_table_replace(r->extra, g_strdup(a->key), g_strdup(a->value));
                        continue;
                }
                if (!k) {
                        const char *suggestion = conf_key_suggest(rule_keys, a->key);

                        if (suggestion)
                                conf_key_error(l, a, "unknown key in [Rule %s], did you mean %s=?", g->name,
                                               suggestion);
                        else
                                conf_key_error(l, a, "unknown key in [Rule %s]", g->name);
                        continue;
                }
                if (k->flags != 0 && !(k->flags & A(r->action))) {
                        /* With a bad Action= the real action is unknown: do not guess. */
                        if (action_ok) {
                                g_autofree char *valid = actions_to_string(k->flags);
                                conf_key_error(l, a, "%s= is only valid with %s", a->key, valid);
                        }
                        continue;
                }
                (void) conf_key_apply(l, k, a, r);
        }

        if (r->regex) {
                g_strfreev(r->group_names);
                r->group_names = regex_group_names(r->match_regex, r->regex);
        }

        exec = conf_group_last_assignment(g, "Exec");
        if (r->exec && exec && r->action == ACTION_EXEC) {
                g_autofree char *err = NULL;
                const char *const *groups = (const char *const *) r->group_names;
                if (exec_template_new(&r->exec_template, r->exec, groups, &err) < 0)
                        conf_key_error(l, exec, "%s", err ? err : "invalid command line");
        } else if (r->exec && exec && r->action == ACTION_SHELL) {
                g_autofree char *err = NULL;
                if (shell_script_check(r->exec, &err) < 0)
                        conf_key_error(l, exec, "%s", err ? err : "invalid shell script");
        }

        /* Unit= is compiled once, like Exec=; its expansion is checked per task (one unit name). */
        unit = conf_group_last_assignment(g, "Unit");
        if (r->unit && unit && (r->action == ACTION_START_UNIT || r->action == ACTION_STOP_UNIT ||
                                r->action == ACTION_RESTART_UNIT || r->action == ACTION_RELOAD_UNIT)) {
                g_autofree char *err = NULL;
                const char *const *groups = (const char *const *) r->group_names;
                if (exec_template_new(&r->unit_template, r->unit, groups, &err) < 0)
                        conf_key_error(l, unit, "%s", err ? err : "invalid unit name");
                else if (exec_template_uses_list(r->unit_template))
                        conf_key_error(l, unit, "{pathnames}, {relpaths} and {deleted_relpaths} name several "
                                       "paths, a unit name one");
        }

        /* A batch collects paths; cancelling one path of it is not a thing a batch does. */
        if (r->batch && (r->cancel_mask || r->cancel_kinds))
                conf_parser_error(l, g->file, g->line, "CancelOn",
                                  "CancelOn= cannot be used with Batch=yes");

        if (r->on_mask == 0 && r->on_kinds == 0 && conf_group_key_unassigned(g, "On"))
                conf_parser_error(l, g->file, g->line, "On", "On= is required in [Rule %s]", g->name);

        if (action_ok)
                switch (r->action) {
                case ACTION_EXEC:
                case ACTION_SHELL:
                        rule_require(l, g, r, "Exec", r->exec);
                        break;
                case ACTION_MOVE:
                case ACTION_COPY:
                        rule_require(l, g, r, "Source", r->source);
                        rule_require(l, g, r, "Destination", r->destination);
                        break;
                case ACTION_DELETE:
                        rule_require(l, g, r, "Source", r->source);
                        break;
                case ACTION_START_UNIT:
                case ACTION_STOP_UNIT:
                case ACTION_RESTART_UNIT:
                case ACTION_RELOAD_UNIT:
                        rule_require(l, g, r, "Unit", r->unit);
                        break;
                case ACTION_PLUGIN:
                        rule_require(l, g, r, "Plugin", r->plugin);
                        break;
                default:
                        g_assert_not_reached();
                }

        if (r->watches[0]) {
                for (char **w = r->watches; *w; w++)
                        if (!config_find_watch(c, *w))
                                conf_parser_error(l, g->file, g->line, "Watch", "no [Watch %s] is defined",
                                                  *w);
        } else if (c->watches->len == 0)
                conf_parser_error(l, g->file, g->line, "Watch",
                                  "the rule applies to every watch, but no [Watch] is defined");

        return TAKE_PTR(r);
}

static int loader_build(ConfParser *l, Config **ret, GPtrArray *errors) {
        _cleanup_(config_freep) Config *c = g_new0(Config, 1);

        c->watches = g_ptr_array_new_with_free_func(config_watch_free_void);
        c->rules = g_ptr_array_new_with_free_func(config_rule_unref_void);
        conf_keys_apply_defaults(l, daemon_keys, &c->daemon);

        for (guint i = 0; i < l->groups->len; i++) {
                const ConfGroup *g = g_ptr_array_index(l->groups, i);
                if (g->section == GROUP_DAEMON)
                        conf_group_apply(l, g, daemon_keys, &c->daemon, "Daemon");
                else if (g->section == GROUP_WATCH)
                        g_ptr_array_add(c->watches, build_watch(l, g));
        }
        /* Rules after all watches: Watch= may name a watch defined further down or in a drop-in. */
        for (guint i = 0; i < l->groups->len; i++) {
                const ConfGroup *g = g_ptr_array_index(l->groups, i);
                if (g->section == GROUP_RULE)
                        g_ptr_array_add(c->rules, build_rule(l, g, c));
        }

        g_ptr_array_add(l->files, NULL);
        c->files = g_strdupv((char **) l->files->pdata);
        g_ptr_array_remove_index(l->files, l->files->len - 1);

        if (conf_parser_failed(l)) {
                conf_parser_flush_errors(l, errors);
                return CONFIG_E_INVALID;
        }
        if (ret)
                *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const ConfigSources *sources, Config **ret, GPtrArray *errors) {
        ConfParser l;
        g_autoptr(GPtrArray) dropins = NULL;
        int r;

        g_return_val_if_fail(sources, -EINVAL);

        conf_parser_init(&l, sections);
        l.translate = sources->translate_messages;

        if (sources->main_file) {
                r = conf_parser_add_file(&l, sources->main_file, sources->main_missing_ok,
                                         sources->trusted_only, errors);
                if (r != 0)
                        goto finish;
        }

        r = conf_collect_dropins(sources->dropin_dirs, sources->trusted_only, &dropins, errors);
        if (r != 0)
                goto finish;
        for (guint i = 0; i < dropins->len; i++) {
                /* Checked by conf_collect_dropins(), masks too. */
                r = conf_parser_add_file(&l, g_ptr_array_index(dropins, i), false, false, errors);
                if (r != 0)
                        goto finish;
        }

        r = loader_build(&l, ret, errors);
        if (r == 0 && ret)
                (*ret)->trusted_only = sources->trusted_only;
finish:
        conf_parser_done(&l);
        return r;
}

int config_load_string(const char *name, const char *text, Config **ret, GPtrArray *errors) {
        ConfParser l;
        int r;

        g_return_val_if_fail(name, -EINVAL);
        g_return_val_if_fail(text, -EINVAL);

        conf_parser_init(&l, sections);
        conf_parser_add_text(&l, name, text, strlen(text));
        r = loader_build(&l, ret, errors);
        conf_parser_done(&l);
        return r;
}

/* ------------------------------------------------------------------ sources */

ConfigSourcesOwned *config_sources_free(ConfigSourcesOwned *s) {
        if (!s)
                return NULL;
        g_free(s->main_file);
        g_strfreev(s->dropin_dirs);
        g_free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigSourcesOwned *, config_sources_free);

/* A one-element strv that takes ownership of s. */
static char **strv_new_take(char *s) {
        char **v = g_new0(char *, 2);
        v[0] = s;
        return v;
}

/* dir/conf.d and dir/NAME.d, each newly allocated, in this order. */
static char **dropin_pair(const char *dir, const char *name) {
        g_autofree char *dotd = g_strconcat(name, ".d", NULL);
        char **v = g_new0(char *, 3);

        v[0] = g_build_filename(dir, "conf.d", NULL);
        v[1] = g_build_filename(dir, dotd, NULL);
        return v;
}

/* $XDG_CONFIG_HOME, read now rather than through GLib's cached g_get_user_config_dir(). */
static char *user_config_home(void) {
        const char *e = g_getenv("XDG_CONFIG_HOME");

        if (e && e[0] == '/')   /* the XDG spec says to ignore relative values */
                return g_strdup(e);
        e = g_getenv("HOME");
        return g_build_filename(e && e[0] == '/' ? e : g_get_home_dir(), ".config", NULL);
}

ConfigSourcesOwned *config_sources_new(bool user_mode, const char *main_file) {
        _cleanup_(config_sources_freep) ConfigSourcesOwned *s = g_new0(ConfigSourcesOwned, 1);
        const char *env_main = g_getenv("INOTASKD_CONFIG"), *env_dir = g_getenv("INOTASKD_CONFIG_DIR");
        g_autofree char *home = user_mode ? user_config_home() : NULL;
        bool explicit_main = true;

        if (!isempty(main_file))
                s->main_file = g_strdup(main_file);
        else if (!isempty(env_main))
                s->main_file = g_strdup(env_main);
        else {
                explicit_main = false;
                s->main_file = user_mode ? g_build_filename(home, "inotaskd", "inotaskd.conf", NULL)
                                         : g_strdup(SYSCONFDIR "/inotaskd/inotaskd.conf");
        }

        /* Drop-ins in FILE.d/ beside the main file, as systemd expects them ("systemd-analyze cat-config
         * inotaskd/inotaskd.conf" shows them); the older conf.d/ is still read, just before the new name of
         * the same place, so that a file of the same name in inotaskd.conf.d/ replaces it. */
        if (!isempty(env_dir))
                s->dropin_dirs = strv_new_take(g_strdup(env_dir));
        else if (explicit_main) {
                g_autofree char *dir = g_path_get_dirname(s->main_file);
                g_autofree char *base = g_path_get_basename(s->main_file);

                s->dropin_dirs = dropin_pair(dir, base);
        } else if (user_mode) {
                g_autofree char *dir = g_build_filename(home, "inotaskd", NULL);

                s->dropin_dirs = dropin_pair(dir, "inotaskd.conf");
        } else
                s->dropin_dirs = g_strdupv((char *[]) {
                        (char *) "/usr/lib/inotaskd/conf.d",
                        (char *) "/usr/lib/inotaskd/inotaskd.conf.d",
                        (char *) "/usr/local/lib/inotaskd/inotaskd.conf.d",
                        (char *) "/run/inotaskd/conf.d",
                        (char *) "/run/inotaskd/inotaskd.conf.d",
                        (char *) SYSCONFDIR "/inotaskd/conf.d",
                        (char *) SYSCONFDIR "/inotaskd/inotaskd.conf.d",
                        NULL,
                });

        s->sources.main_file = s->main_file;
        s->sources.main_missing_ok = !explicit_main;
        s->sources.trusted_only = true;
        s->sources.dropin_dirs = (const char *const *) s->dropin_dirs;
        return TAKE_PTR(s);
}
