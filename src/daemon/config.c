/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration: reads the main file and its conf.d drop-ins line by line, merges them the way systemd
 * merges drop-ins, and validates the result strictly, naming file, line and key for every problem. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include "config.h"
#include "event-names.h"
#include "template.h"
#include "time-util.h"
#include "trust.h"

#define CONFIG_FILE_SIZE_MAX (4U * 1024U * 1024U)

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

/* syslog(3) priorities, indexed by value. */
static const char *const log_level_table[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* Actions the runners can carry out so far. The parser validates every action completely; this is the one
 * place that refuses the ones without a runner yet. Add each action here as its runner lands. */
static bool action_is_implemented(ActionType a) {
        return a >= 0 && a < _ACTION_MAX;
}

/* ------------------------------------------------------------------ object lifetimes */

static ConfigWatch *config_watch_free(ConfigWatch *w) {
        if (!w)
                return NULL;
        g_free(w->name);
        g_free(w->path);
        g_strfreev(w->exclude);
        g_free(w->file);
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

/* ------------------------------------------------------------------ the loader: raw groups and errors */

/* One "Key=Value" line as read; values are applied only once all files are merged, because what a key
 * means can depend on keys read later (Action=, MatchRegex=). */
typedef struct Assignment {
        char *key;
        char *value;
        unsigned file;                  /* index into Loader.files */
        unsigned line;
} Assignment;

typedef enum GroupType {
        GROUP_DAEMON,
        GROUP_WATCH,
        GROUP_RULE,
} GroupType;

typedef struct Group {
        GroupType type;
        char *name;                     /* NULL for [Daemon] */
        unsigned file, line;            /* first header */
        GPtrArray *assignments;         /* Assignment*, in file order */
} Group;

typedef struct LoadError {
        unsigned file, line, seq;
        char *text;
} LoadError;

typedef struct Loader {
        GPtrArray *files;               /* char*, every file read, in order */
        GPtrArray *groups;              /* Group*, in order of first appearance */
        GHashTable *group_by_id;        /* "Watch NAME" -> Group* (borrowed) */
        GPtrArray *errors;              /* LoadError* */
} Loader;

static void assignment_free(gpointer p) {
        Assignment *a = p;
        g_free(a->key);
        g_free(a->value);
        g_free(a);
}

static void group_free(gpointer p) {
        Group *g = p;
        g_free(g->name);
        g_ptr_array_unref(g->assignments);
        g_free(g);
}

static void load_error_free(gpointer p) {
        LoadError *e = p;
        g_free(e->text);
        g_free(e);
}

static void loader_init(Loader *l) {
        *l = (Loader) {
                .files = g_ptr_array_new_with_free_func(g_free),
                .groups = g_ptr_array_new_with_free_func(group_free),
                .group_by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                .errors = g_ptr_array_new_with_free_func(load_error_free),
        };
}

static void loader_done(Loader *l) {
        g_clear_pointer(&l->files, g_ptr_array_unref);
        g_clear_pointer(&l->groups, g_ptr_array_unref);
        g_clear_pointer(&l->group_by_id, g_hash_table_unref);
        g_clear_pointer(&l->errors, g_ptr_array_unref);
}

static const char *loader_file_name(const Loader *l, unsigned file) {
        if (file >= l->files->len)
                return "(defaults)";
        return g_ptr_array_index(l->files, file);
}

static void loader_errorv(Loader *l, unsigned file, unsigned line, const char *key, const char *format,
                          va_list ap) _printf_(5, 0);
static void loader_errorv(Loader *l, unsigned file, unsigned line, const char *key, const char *format,
                          va_list ap) {
        g_autofree char *msg = g_strdup_vprintf(format, ap);
        LoadError *e = g_new0(LoadError, 1);

        e->file = file;
        e->line = line;
        e->seq = l->errors->len;
        if (key)
                e->text = g_strdup_printf("%s:%u: %s: %s", loader_file_name(l, file), line, key, msg);
        else
                e->text = g_strdup_printf("%s:%u: %s", loader_file_name(l, file), line, msg);
        g_ptr_array_add(l->errors, e);
}

static void loader_error(Loader *l, unsigned file, unsigned line, const char *key, const char *format, ...)
        _printf_(5, 6);
static void loader_error(Loader *l, unsigned file, unsigned line, const char *key, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        loader_errorv(l, file, line, key, format, ap);
        va_end(ap);
}

/* An error about one assignment: "FILE:LINE: KEY: message". */
static void key_error(Loader *l, const Assignment *a, const char *format, ...) _printf_(3, 4);
static void key_error(Loader *l, const Assignment *a, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        loader_errorv(l, a->file, a->line, a->key, format, ap);
        va_end(ap);
}

static int load_error_compare(gconstpointer pa, gconstpointer pb) {
        const LoadError *a = *(const LoadError *const *) pa, *b = *(const LoadError *const *) pb;

        if (a->file != b->file)
                return a->file < b->file ? -1 : 1;
        if (a->line != b->line)
                return a->line < b->line ? -1 : 1;
        if (a->seq != b->seq)
                return a->seq < b->seq ? -1 : 1;
        return 0;
}

/* Hands the collected messages to the caller, in file order. */
static void loader_flush_errors(Loader *l, GPtrArray *errors) {
        g_ptr_array_sort(l->errors, load_error_compare);
        for (guint i = 0; i < l->errors->len; i++) {
                LoadError *e = g_ptr_array_index(l->errors, i);
                if (errors)
                        g_ptr_array_add(errors, TAKE_PTR(e->text));
        }
        g_ptr_array_set_size(l->errors, 0);
}

/* ------------------------------------------------------------------ lexical level */

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip_ws(const char *s) {
        while (is_ws(*s))
                s++;
        return s;
}

static void strip_trailing_ws(char *s) {
        size_t n = strlen(s);
        while (n > 0 && is_ws(s[n - 1]))
                s[--n] = 0;
}

/* Drops an inline comment (a '#' right after a space or tab, to the end of the line) and turns every "\#"
 * into a literal '#'. Every other backslash stays: regexes and Destination= need them. */
static char *strip_inline_comment(const char *raw) {
        GString *s = g_string_sized_new(strlen(raw));

        for (size_t i = 0; raw[i]; i++) {
                if (raw[i] == '\\' && raw[i + 1] == '#') {
                        g_string_append_c(s, '#');
                        i++;
                        continue;
                }
                if (raw[i] == '#' && i > 0 && (raw[i - 1] == ' ' || raw[i - 1] == '\t'))
                        break;
                g_string_append_c(s, raw[i]);
        }
        return g_string_free(s, FALSE);
}

/* Trims trailing whitespace; if the line then ends in an unescaped backslash, replaces it by a space (as
 * systemd does) and returns true: the logical line continues on the next one. */
static bool strip_continuation(char *s) {
        size_t n, k = 0;

        strip_trailing_ws(s);
        n = strlen(s);
        while (k < n && s[n - 1 - k] == '\\')
                k++;
        if (k % 2 == 0)
                return false;
        s[n - 1] = ' ';
        return true;
}

static bool valid_group_name(const char *s) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("_.@-", *p))
                        return false;
        return true;
}

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

/* Shell-like word splitting as g_shell_parse_argv() does it: blanks separate words, '...' is literal,
 * "..." knows the escapes \" \\ \$ \`, a backslash outside quotes escapes the next character. Unlike
 * GLib it knows no comments: '#' was dealt with per line. Returns 0, or -EINVAL with a static message. */
static int split_words(const char *s, char ***ret, const char **ret_error) {
        g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
        const char *p = s;

        for (;;) {
                g_autoptr(GString) w = NULL;

                p = skip_ws(p);
                if (!*p)
                        break;

                w = g_string_new(NULL);
                while (*p && !is_ws(*p)) {
                        if (*p == '\'') {
                                for (p++; *p && *p != '\''; p++)
                                        g_string_append_c(w, *p);
                                if (!*p) {
                                        *ret_error = "unterminated quote";
                                        return -EINVAL;
                                }
                                p++;
                        } else if (*p == '"') {
                                for (p++; *p && *p != '"'; p++) {
                                        if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                                                p++;
                                        g_string_append_c(w, *p);
                                }
                                if (!*p) {
                                        *ret_error = "unterminated quote";
                                        return -EINVAL;
                                }
                                p++;
                        } else if (*p == '\\' && p[1]) {
                                g_string_append_c(w, p[1]);
                                p += 2;
                        } else
                                g_string_append_c(w, *p++);
                }

                if (w->len == 0) {
                        *ret_error = "empty list item";
                        return -EINVAL;
                }
                g_ptr_array_add(words, g_string_free(TAKE_PTR(w), FALSE));
        }

        g_ptr_array_add(words, NULL);
        *ret = (char **) g_ptr_array_free(TAKE_PTR(words), FALSE);
        return 0;
}

static void strv_extend(char ***strv, char **items) {
        guint n = g_strv_length(*strv), m = g_strv_length(items);
        char **v = g_renew(char *, *strv, n + m + 1);

        for (guint i = 0; i < m; i++)
                v[n + i] = g_strdup(items[i]);
        v[n + m] = NULL;
        *strv = v;
}

/* Absolute and normalized: no "//", no "." or "..", no trailing slash except for "/" itself. */
static const char *path_check(const char *p) {
        if (p[0] != '/')
                return "is not absolute";
        if (streq(p, "/"))
                return NULL;
        if (g_str_has_suffix(p, "/"))
                return "is not normalized (trailing slash)";
        for (const char *c = p + 1;;) {
                const char *e = strchrnul(c, '/');
                size_t n = (size_t) (e - c);
                if (n == 0)
                        return "is not normalized (\"//\")";
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return "is not normalized (\".\" or \"..\" component)";
                if (!*e)
                        return NULL;
                c = e + 1;
        }
}

/* ------------------------------------------------------------------ value parsers */

/* value is the assignment's value, or the key's default for an empty assignment (NULL: unset/reset).
 * On a bad value, a parser reports it and leaves its fields as they were. */
typedef int (*ParseFunc)(Loader *l, const Assignment *a, const char *value, void *data, void *data2);

static int parse_string(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        char **s = data;
        g_free(*s);
        *s = g_strdup(value);
        return 0;
}

static int parse_path(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        const char *bad;

        if (value && (bad = path_check(value))) {
                key_error(l, a, "path \"%s\" %s", value, bad);
                return -EINVAL;
        }
        return parse_string(l, a, value, data, data2);
}

static int parse_plugin(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        if (value && value[0] != '/') {
                key_error(l, a, "plugin path \"%s\" is not absolute", value);
                return -EINVAL;
        }
        if (value && g_str_has_suffix(value, ":")) {
                key_error(l, a, "empty symbol name after ':' in \"%s\"", value);
                return -EINVAL;
        }
        /* Loading happens later (plugin.c): its errors point at this assignment. */
        {
                ConfigLocation *at = data2;

                g_free(at->file);
                at->file = value ? g_strdup(loader_file_name(l, a->file)) : NULL;
                at->line = value ? a->line : 0;
        }
        return parse_string(l, a, value, data, data2);
}

static int parse_bool_value(const char *v) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (g_ascii_strcasecmp(v, yes[i]) == 0)
                        return 1;
                if (g_ascii_strcasecmp(v, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

static int parse_bool(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        bool *b = data;
        int r;

        if (!value) {
                *b = false;
                return 0;
        }
        r = parse_bool_value(value);
        if (r < 0) {
                key_error(l, a, "invalid boolean \"%s\" (use yes or no)", value);
                return r;
        }
        *b = r;
        return 0;
}

static int parse_unsigned(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        unsigned *u = data;
        guint64 v;

        if (!g_ascii_string_to_unsigned(value, 10, 0, UINT_MAX, &v, NULL)) {
                key_error(l, a, "invalid number \"%s\"", value);
                return -EINVAL;
        }
        *u = (unsigned) v;
        return 0;
}

static int parse_time(Loader *l, const Assignment *a, const char *value, usec_t *ret) {
        int r = parse_timespan(value, USEC_PER_SEC, ret);
        if (r == -ERANGE)
                key_error(l, a, "time span \"%s\" is too large", value);
        else if (r < 0)
                key_error(l, a, "invalid time span \"%s\"", value);
        return r;
}

static int parse_timespan_key(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        usec_t *t = data, v;
        int r = parse_time(l, a, value, &v);
        if (r < 0)
                return r;
        *t = v;
        return 0;
}

/* DelaySec=: a delay that never ends would be a rule that never runs. */
static int parse_delay(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        usec_t *t = data, v;
        int r = parse_time(l, a, value, &v);
        if (r < 0)
                return r;
        if (v == USEC_INFINITY) {
                key_error(l, a, "the delay must be finite");
                return -EINVAL;
        }
        *t = v;
        return 0;
}

/* TimeoutSec=: "0" means no timeout, like systemd's TimeoutSec=0. */
static int parse_timeout(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        usec_t *t = data, v;
        int r = parse_time(l, a, value, &v);
        if (r < 0)
                return r;
        *t = v == 0 ? USEC_INFINITY : v;
        return 0;
}

static int parse_log_level(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
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
        key_error(l, a, "invalid log level \"%s\" (emerg, alert, crit, err, warning, notice, info, debug "
                  "or 0-7)", value);
        return -EINVAL;
}

static int parse_if_running(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        IfRunning *i = data;
        int r = if_running_from_string(value);

        if (r < 0) {
                key_error(l, a, "invalid value \"%s\" (queue, skip, parallel or restart)", value);
                return r;
        }
        *i = (IfRunning) r;
        return 0;
}

static int parse_action(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        ActionType *t = data;
        int r = action_type_from_string(value);

        if (r < 0) {
                key_error(l, a, "unknown action \"%s\" (exec, shell, move, copy, delete, start-unit, "
                          "stop-unit, restart-unit, reload-unit or plugin)", value);
                return r;
        }
        *t = (ActionType) r;
        return 0;
}

/* FileMode=, DirectoryMode=: octal, 0 to 07777; unset is -1. */
static int parse_mode(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        int *mode = data;
        guint64 v;

        if (!value) {
                *mode = -1;
                return 0;
        }
        if (strspn(value, "01234567") != strlen(value) ||
            !g_ascii_string_to_unsigned(value, 8, 0, 07777, &v, NULL)) {
                key_error(l, a, "invalid file mode \"%s\" (octal, 0 to 07777)", value);
                return -EINVAL;
        }
        *mode = (int) v;
        return 0;
}

static bool parse_numeric_id(const char *s) {
        guint64 v;
        /* (uid_t) -1 and (gid_t) -1 mean "unchanged" to chown(2), never a real id. */
        return g_ascii_string_to_unsigned(s, 10, 0, UINT32_MAX - 1, &v, NULL);
}

static int parse_user(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        if (value && !parse_numeric_id(value) && !getpwnam(value)) {
                key_error(l, a, "unknown user \"%s\"", value);
                return -EINVAL;
        }
        return parse_string(l, a, value, data, data2);
}

static int parse_group(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        if (value && !parse_numeric_id(value) && !getgrnam(value)) {
                key_error(l, a, "unknown group \"%s\"", value);
                return -EINVAL;
        }
        return parse_string(l, a, value, data, data2);
}

/* List keys: every assignment appends; an empty assignment resets. */
static int parse_list_words(Loader *l, const Assignment *a, const char *value, char ***ret) {
        const char *err = NULL;
        int r = split_words(value, ret, &err);
        if (r < 0)
                key_error(l, a, "%s in \"%s\"", err, value);
        return r;
}

static int parse_strv(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        char ***strv = data;
        _cleanup_strv_free_ char **items = NULL;

        if (!value) {
                g_strfreev(*strv);
                *strv = g_new0(char *, 1);
                return 0;
        }
        if (parse_list_words(l, a, value, &items) < 0)
                return -EINVAL;
        strv_extend(strv, items);
        return 0;
}

static int parse_environment(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        _cleanup_strv_free_ char **items = NULL;
        int r = 0;

        if (!value)
                return parse_strv(l, a, value, data, data2);
        if (parse_list_words(l, a, value, &items) < 0)
                return -EINVAL;
        for (char **i = items; *i; i++) {
                const char *eq = strchr(*i, '=');
                if (!eq || !valid_env_name(*i, (size_t) (eq - *i))) {
                        key_error(l, a, "invalid environment assignment \"%s\" (NAME=value)", *i);
                        r = -EINVAL;
                }
        }
        if (r < 0)
                return r;
        strv_extend(data, items);
        return 0;
}

static void event_error(Loader *l, const Assignment *a, const char *name) {
        g_autofree char *suggestion = event_name_suggest(name);

        if (suggestion)
                key_error(l, a, "unknown event \"%s\", did you mean \"%s\"?", name, suggestion);
        else
                key_error(l, a, "unknown event \"%s\"", name);
}

static int parse_events(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        uint32_t *mask = data, *kinds = data2;
        _cleanup_strv_free_ char **items = NULL;
        uint32_t m = 0, k = 0;
        int r = 0;

        if (!value) {
                *mask = *kinds = 0;
                return 0;
        }
        if (parse_list_words(l, a, value, &items) < 0)
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

static int parse_initial_event(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        uint32_t *mask = data, *kinds = data2, m, k;

        if (!value) {
                *mask = *kinds = 0;
                return 0;
        }
        for (const char *p = value; *p; p++)
                if (is_ws(*p)) {
                        key_error(l, a, "exactly one event name expected, got \"%s\"", value);
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

static int parse_regex(Loader *l, const Assignment *a, const char *value, void *data, void *data2) {
        GRegex **regex = data2;
        g_autoptr(GError) error = NULL;
        GRegex *re = NULL;

        if (value) {
                re = g_regex_new(value, G_REGEX_RAW, 0, &error);
                if (!re) {
                        key_error(l, a, "%s", error->message);
                        return -EINVAL;
                }
        }
        if (*regex)
                g_regex_unref(*regex);
        *regex = re;
        return parse_string(l, a, value, data, NULL);
}

/* ------------------------------------------------------------------ key tables */

#define A(x) (1U << (x))
#define A_EXEC (A(ACTION_EXEC) | A(ACTION_SHELL))
#define A_FILE (A(ACTION_MOVE) | A(ACTION_COPY) | A(ACTION_DELETE))
#define A_MOVE_COPY (A(ACTION_MOVE) | A(ACTION_COPY))
#define A_COPY_DELETE (A(ACTION_COPY) | A(ACTION_DELETE))
#define A_UNIT (A(ACTION_START_UNIT) | A(ACTION_STOP_UNIT) | A(ACTION_RESTART_UNIT) | A(ACTION_RELOAD_UNIT))
#define A_PLUGIN A(ACTION_PLUGIN)

typedef struct KeyDef {
        const char *key;
        ParseFunc parse;
        size_t offset, offset2;
        const char *def;                /* what a missing key and an empty assignment mean; NULL: unset */
        unsigned actions;               /* [Rule] keys: the actions the key is valid with; 0: all */
} KeyDef;

static const KeyDef daemon_keys[] = {
        { "LogLevel", parse_log_level, offsetof(ConfigDaemon, log_level), 0, "info", 0 },
        { "ShutdownTimeoutSec", parse_timespan_key, offsetof(ConfigDaemon, shutdown_timeout), 0, "30", 0 },
        { "MaxRunningTasks", parse_unsigned, offsetof(ConfigDaemon, max_running), 0, "16", 0 },
        { "TaskHistory", parse_unsigned, offsetof(ConfigDaemon, task_history), 0, "100", 0 },
        { "AdminGroup", parse_group, offsetof(ConfigDaemon, admin_group), 0, NULL, 0 },
        { "StateDirectory", parse_path, offsetof(ConfigDaemon, state_directory), 0, NULL, 0 },
        {},
};

static const KeyDef watch_keys[] = {
        { "Path", parse_path, offsetof(ConfigWatch, path), 0, NULL, 0 },
        { "Recursive", parse_bool, offsetof(ConfigWatch, recursive), 0, "no", 0 },
        /* default: Recursive's value, filled in after merging */
        { "AutoAdd", parse_bool, offsetof(ConfigWatch, auto_add), 0, NULL, 0 },
        { "Exclude", parse_strv, offsetof(ConfigWatch, exclude), 0, NULL, 0 },
        { "InitialEvent", parse_initial_event, offsetof(ConfigWatch, initial_mask),
          offsetof(ConfigWatch, initial_kinds), NULL, 0 },
        {},
};

static const KeyDef rule_keys[] = {
        { "Watch", parse_strv, offsetof(ConfigRule, watches), 0, NULL, 0 },
        { "On", parse_events, offsetof(ConfigRule, on_mask), offsetof(ConfigRule, on_kinds), NULL, 0 },
        { "CancelOn", parse_events, offsetof(ConfigRule, cancel_mask), offsetof(ConfigRule, cancel_kinds),
          NULL, 0 },
        { "Match", parse_strv, offsetof(ConfigRule, match), 0, NULL, 0 },
        { "MatchRegex", parse_regex, offsetof(ConfigRule, match_regex), offsetof(ConfigRule, regex),
          NULL, 0 },
        { "Files", parse_bool, offsetof(ConfigRule, files), 0, "yes", 0 },
        { "Directories", parse_bool, offsetof(ConfigRule, directories), 0, "no", 0 },
        { "DelaySec", parse_delay, offsetof(ConfigRule, delay), 0, "0", 0 },
        { "IfRunning", parse_if_running, offsetof(ConfigRule, if_running), 0, "queue", 0 },
        { "ForEach", parse_strv, offsetof(ConfigRule, for_each), 0, NULL, 0 },
        { "Action", parse_action, offsetof(ConfigRule, action), 0, "exec", 0 },
        { "TimeoutSec", parse_timeout, offsetof(ConfigRule, timeout), 0, "infinity", 0 },

        { "Exec", parse_string, offsetof(ConfigRule, exec), 0, NULL, A_EXEC },
        { "User", parse_user, offsetof(ConfigRule, user), 0, NULL, A_EXEC },
        { "Group", parse_group, offsetof(ConfigRule, group), 0, NULL, A_EXEC },
        { "WorkingDirectory", parse_path, offsetof(ConfigRule, working_directory), 0, NULL, A_EXEC },
        { "Environment", parse_environment, offsetof(ConfigRule, environment), 0, NULL, A_EXEC },

        { "Source", parse_regex, offsetof(ConfigRule, source), offsetof(ConfigRule, source_regex),
          NULL, A_FILE },
        { "Destination", parse_string, offsetof(ConfigRule, destination), 0, NULL, A_MOVE_COPY },
        { "AutoCreate", parse_bool, offsetof(ConfigRule, auto_create), 0, "no", A_MOVE_COPY },
        { "Overwrite", parse_bool, offsetof(ConfigRule, overwrite), 0, "no", A_MOVE_COPY },
        { "Recursive", parse_bool, offsetof(ConfigRule, recursive), 0, "no", A_COPY_DELETE },
        { "FileMode", parse_mode, offsetof(ConfigRule, file_mode), 0, NULL, A_MOVE_COPY },
        { "DirectoryMode", parse_mode, offsetof(ConfigRule, directory_mode), 0, NULL, A_MOVE_COPY },
        { "Owner", parse_user, offsetof(ConfigRule, owner), 0, NULL, A_MOVE_COPY },
        { "OwnerGroup", parse_group, offsetof(ConfigRule, owner_group), 0, NULL, A_MOVE_COPY },

        { "Unit", parse_string, offsetof(ConfigRule, unit), 0, NULL, A_UNIT },

        { "Plugin", parse_plugin, offsetof(ConfigRule, plugin), offsetof(ConfigRule, plugin_at), NULL, A_PLUGIN },
        {},
};

static const KeyDef *key_lookup(const KeyDef *table, const char *key) {
        for (const KeyDef *k = table; k->key; k++)
                if (streq(k->key, key))
                        return k;
        return NULL;
}

static int key_apply(Loader *l, const KeyDef *k, const Assignment *a, void *object) {
        const char *value = isempty(a->value) ? k->def : a->value;
        return k->parse(l, a, value, (uint8_t *) object + k->offset, (uint8_t *) object + k->offset2);
}

/* Every field starts out as its key's default, produced by the same parser an empty assignment uses. */
static void keys_apply_defaults(Loader *l, const KeyDef *table, void *object) {
        for (const KeyDef *k = table; k->key; k++) {
                Assignment a = { .key = (char *) k->key, .value = (char *) "", .file = UINT_MAX };
                (void) key_apply(l, k, &a, object);
        }
}

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

/* ------------------------------------------------------------------ reading and lines */

static Group *loader_get_group(Loader *l, GroupType type, const char *name, unsigned file, unsigned line) {
        static const char *const prefix[] = {
                [GROUP_DAEMON] = "Daemon",
                [GROUP_WATCH] = "Watch",
                [GROUP_RULE] = "Rule",
        };
        g_autofree char *id = name ? g_strdup_printf("%s %s", prefix[type], name) : g_strdup(prefix[type]);
        Group *g = g_hash_table_lookup(l->group_by_id, id);

        if (g)
                return g;

        g = g_new0(Group, 1);
        g->type = type;
        g->name = g_strdup(name);
        g->file = file;
        g->line = line;
        g->assignments = g_ptr_array_new_with_free_func(assignment_free);
        g_ptr_array_add(l->groups, g);
        g_hash_table_insert(l->group_by_id, TAKE_PTR(id), g);
        return g;
}

typedef struct ParseState {
        Group *group;                   /* the current group, NULL before the first header */
        bool skip;                      /* after a bad header: its keys are not reported one by one */
} ParseState;

static void parse_header(Loader *l, ParseState *st, unsigned file, unsigned line, const char *s) {
        size_t n = strlen(s);
        g_autofree char *inner = NULL;
        char *name;

        st->group = NULL;
        st->skip = true;

        if (n < 2 || s[n - 1] != ']') {
                loader_error(l, file, line, NULL, "invalid group header \"%s\"", s);
                return;
        }
        inner = g_strndup(s + 1, n - 2);
        g_strstrip(inner);
        name = inner + strcspn(inner, " \t");
        if (*name) {
                *name++ = 0;
                name = (char *) skip_ws(name);
        }

        if (streq(inner, "Daemon") && !*name)
                st->group = loader_get_group(l, GROUP_DAEMON, NULL, file, line);
        else if (streq(inner, "Watch") || streq(inner, "Rule")) {
                if (!*name)
                        loader_error(l, file, line, NULL, "[%s] needs a name: [%s NAME]", inner, inner);
                else if (!valid_group_name(name))
                        loader_error(l, file, line, NULL,
                                     "invalid %s name \"%s\" (allowed: letters, digits and _.@-)",
                                     streq(inner, "Watch") ? "watch" : "rule", name);
                else
                        st->group = loader_get_group(l, streq(inner, "Watch") ? GROUP_WATCH : GROUP_RULE,
                                                     name, file, line);
        } else
                loader_error(l, file, line, NULL, "unknown group %s", s);

        st->skip = !st->group;
}

static void parse_logical_line(Loader *l, ParseState *st, unsigned file, unsigned line, const char *text) {
        g_autofree char *s = g_strstrip(g_strdup(text));
        char *eq, *key, *value;
        Assignment *a;

        if (s[0] == '[') {
                parse_header(l, st, file, line, s);
                return;
        }

        eq = strchr(s, '=');
        if (!eq) {
                loader_error(l, file, line, NULL, "expected [Group] or Key=Value, got \"%s\"", s);
                return;
        }
        *eq = 0;
        key = g_strstrip(s);
        value = g_strstrip(eq + 1);
        if (!*key) {
                loader_error(l, file, line, NULL, "assignment without a key: \"=%s\"", value);
                return;
        }
        if (st->skip)
                return;
        if (!st->group) {
                loader_error(l, file, line, key, "assignment outside of any group");
                return;
        }

        a = g_new0(Assignment, 1);
        a->key = g_strdup(key);
        a->value = g_strdup(value);
        a->file = file;
        a->line = line;
        g_ptr_array_add(st->group->assignments, a);
}

/* Splits text into logical lines (comment lines dropped, inline comments cut, continuations joined) and
 * records groups and assignments. Values are not interpreted here. */
static void loader_parse_text(Loader *l, unsigned file, const char *text) {
        ParseState st = {};
        g_autoptr(GString) logical = NULL;
        unsigned line = 0, logical_line = 0;

        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                g_autofree char *raw = g_strndup(p, len);
                g_autofree char *clean = NULL;
                const char *s;
                bool cont;

                p = nl ? nl + 1 : NULL;
                line++;

                /* Comment lines are skipped, also inside a continuation, as systemd does. */
                s = skip_ws(raw);
                if (*s == '#' || *s == ';')
                        continue;
                if (!logical && !*s)
                        continue;

                clean = strip_inline_comment(raw);
                cont = strip_continuation(clean);
                if (!logical) {
                        logical = g_string_new(NULL);
                        logical_line = line;
                }
                g_string_append(logical, clean);
                if (cont)
                        continue;

                parse_logical_line(l, &st, file, logical_line, logical->str);
                g_string_free(TAKE_PTR(logical), TRUE);
        }

        if (logical)
                parse_logical_line(l, &st, file, logical_line, logical->str);
}

static void loader_add_text(Loader *l, const char *name, const char *text, size_t size) {
        unsigned file = l->files->len;
        const char *nul;

        g_ptr_array_add(l->files, g_strdup(name));

        nul = memchr(text, 0, size);
        if (nul) {
                unsigned line = 1;
                for (const char *p = text; p < nul; p++)
                        if (*p == '\n')
                                line++;
                loader_error(l, file, line, NULL, "NUL byte in line");
                return;
        }
        loader_parse_text(l, file, text);
}

static int read_text_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        g_autoptr(GString) buf = g_string_new(NULL);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                char chunk[16384];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                if (buf->len + (size_t) n > CONFIG_FILE_SIZE_MAX)
                        return -EFBIG;
                g_string_append_len(buf, chunk, n);
        }

        *ret_size = buf->len;
        *ret = g_string_free(TAKE_PTR(buf), FALSE);
        return 0;
}

/* With trusted_only, a file that anyone but root or our own user could write, or that lies below such
 * a directory, is a configuration error: its name in errors, -EINVAL. */
static int check_trusted(const char *path, bool trusted_only, GPtrArray *errors) {
        g_autofree char *err = NULL;

        if (!trusted_only)
                return 0;
        if (trust_check_path(path, geteuid(), &err) >= 0)
                return 0;
        if (errors)
                g_ptr_array_add(errors, TAKE_PTR(err));
        return -EINVAL;
}

static int loader_add_file(Loader *l, const char *path, bool missing_ok, bool trusted_only, GPtrArray *errors) {
        g_autofree char *text = NULL;
        size_t size = 0;
        int r;

        r = read_text_file(path, &text, &size);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0) {
                if (errors)
                        g_ptr_array_add(errors,
                                        g_strdup_printf("%s: cannot read file: %s", path, g_strerror(-r)));
                return r;
        }
        r = check_trusted(path, trusted_only, errors);
        if (r < 0)
                return r;
        loader_add_text(l, path, text, size);
        return 0;
}

/* A masked drop-in: a symlink to /dev/null or an empty file. */
static bool dropin_masked(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return false;   /* reading it will report the problem */
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                return true;
        return S_ISREG(st.st_mode) && st.st_size == 0;
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The keys of a string-keyed table, sorted (borrowed). g_hash_table_get_keys_as_ptr_array() is 2.76. */
static GPtrArray *hash_keys_sorted(GHashTable *h) {
        GPtrArray *keys = g_ptr_array_sized_new(g_hash_table_size(h));
        GHashTableIter it;
        gpointer k;

        g_hash_table_iter_init(&it, h);
        while (g_hash_table_iter_next(&it, &k, NULL))
                g_ptr_array_add(keys, k);
        g_ptr_array_sort(keys, compare_strings);
        return keys;
}

/* The drop-in paths to read, sorted by file name; later directories replace earlier ones' files. */
static int collect_dropins(const char *const *dirs, bool trusted_only, GPtrArray **ret, GPtrArray *errors) {
        g_autoptr(GHashTable) by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GPtrArray) names = NULL, paths = g_ptr_array_new_with_free_func(g_free);

        for (const char *const *dir = dirs; dir && *dir; dir++) {
                DIR *d = opendir(*dir);
                struct dirent *de;

                if (!d) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        int r = -errno;
                        if (errors)
                                g_ptr_array_add(errors, g_strdup_printf("%s: cannot open directory: %s",
                                                                        *dir, g_strerror(-r)));
                        return r;
                }
                while ((errno = 0, de = readdir(d))) {
                        g_autofree char *path = NULL;

                        if (de->d_name[0] == '.' || !g_str_has_suffix(de->d_name, ".conf"))
                                continue;
                        path = g_build_filename(*dir, de->d_name, NULL);
                        /* Masks too: whoever could write one, or its directory, could hide a drop-in. */
                        if (check_trusted(path, trusted_only, errors) < 0) {
                                closedir(d);
                                return -EINVAL;
                        }
                        g_hash_table_replace(by_name, g_strdup(de->d_name), TAKE_PTR(path));
                }
                if (errno != 0) {
                        int r = -errno;
                        closedir(d);
                        if (errors)
                                g_ptr_array_add(errors, g_strdup_printf("%s: cannot read directory: %s",
                                                                        *dir, g_strerror(-r)));
                        return r;
                }
                closedir(d);
        }

        names = hash_keys_sorted(by_name);
        for (guint i = 0; i < names->len; i++) {
                const char *path = g_hash_table_lookup(by_name, g_ptr_array_index(names, i));
                if (!dropin_masked(path))
                        g_ptr_array_add(paths, g_strdup(path));
        }

        *ret = TAKE_PTR(paths);
        return 0;
}

/* ------------------------------------------------------------------ building the model */

static const Assignment *group_last_assignment(const Group *g, const char *key) {
        for (guint i = g->assignments->len; i > 0; i--) {
                const Assignment *a = g_ptr_array_index(g->assignments, i - 1);
                if (streq(a->key, key))
                        return a;
        }
        return NULL;
}

/* A required key is reported missing only when nothing was assigned or it was reset: a bad value has
 * already been reported where it stands. */
static bool group_key_unassigned(const Group *g, const char *key) {
        const Assignment *a = group_last_assignment(g, key);
        return !a || isempty(a->value);
}

static void build_daemon(Loader *l, const Group *g, ConfigDaemon *d) {
        for (guint i = 0; i < g->assignments->len; i++) {
                const Assignment *a = g_ptr_array_index(g->assignments, i);
                const KeyDef *k = key_lookup(daemon_keys, a->key);

                if (!k) {
                        key_error(l, a, "unknown key in [Daemon]");
                        continue;
                }
                (void) key_apply(l, k, a, d);
        }
}

static ConfigWatch *build_watch(Loader *l, const Group *g) {
        _cleanup_(config_watch_freep) ConfigWatch *w = g_new0(ConfigWatch, 1);
        const Assignment *auto_add;

        w->name = g_strdup(g->name);
        w->file = g_strdup(loader_file_name(l, g->file));
        w->line = g->line;
        keys_apply_defaults(l, watch_keys, w);

        for (guint i = 0; i < g->assignments->len; i++) {
                const Assignment *a = g_ptr_array_index(g->assignments, i);
                const KeyDef *k = key_lookup(watch_keys, a->key);

                if (!k) {
                        key_error(l, a, "unknown key in [Watch %s]", g->name);
                        continue;
                }
                (void) key_apply(l, k, a, w);
        }

        auto_add = group_last_assignment(g, "AutoAdd");
        if (!auto_add || isempty(auto_add->value))
                w->auto_add = w->recursive;

        if (!w->path && group_key_unassigned(g, "Path"))
                loader_error(l, g->file, g->line, "Path", "Path= is required in [Watch %s]", g->name);

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

static void rule_require(Loader *l, const Group *g, const ConfigRule *r, const char *key,
                         const void *value) {
        if (!value && group_key_unassigned(g, key))
                loader_error(l, g->file, g->line, key, "%s= is required with Action=%s", key,
                             action_type_to_string(r->action));
}

static ConfigRule *build_rule(Loader *l, const Group *g, const Config *c) {
        _cleanup_(config_rule_unrefp) ConfigRule *r = g_new0(ConfigRule, 1);
        const KeyDef *action_key = key_lookup(rule_keys, "Action");
        const Assignment *action = NULL, *exec, *unit;
        bool action_ok = true;

        r->n_ref = 1;
        r->name = g_strdup(g->name);
        r->file = g_strdup(loader_file_name(l, g->file));
        r->line = g->line;
        r->group_names = g_new0(char *, 1);
        keys_apply_defaults(l, rule_keys, r);

        /* Action= first: it decides which other keys are valid. */
        for (guint i = 0; i < g->assignments->len; i++) {
                const Assignment *a = g_ptr_array_index(g->assignments, i);
                if (!streq(a->key, "Action"))
                        continue;
                if (key_apply(l, action_key, a, r) < 0)
                        action_ok = false;
                action = a;
        }
        if (r->action == ACTION_PLUGIN)
                r->extra = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        for (guint i = 0; i < g->assignments->len; i++) {
                const Assignment *a = g_ptr_array_index(g->assignments, i);
                const KeyDef *k = key_lookup(rule_keys, a->key);

                if (k == action_key)
                        continue;
                if (!k && r->extra) {
                        if (!valid_extra_key(a->key))
                                key_error(l, a, "invalid key name (allowed: letters, digits and _.-)");
                        else
                                g_hash_table_replace(r->extra, g_strdup(a->key), g_strdup(a->value));
                        continue;
                }
                if (!k) {
                        key_error(l, a, "unknown key in [Rule %s]", g->name);
                        continue;
                }
                if (k->actions != 0 && !(k->actions & A(r->action))) {
                        /* With a bad Action= the real action is unknown: do not guess. */
                        if (action_ok) {
                                g_autofree char *valid = actions_to_string(k->actions);
                                key_error(l, a, "%s= is only valid with %s", a->key, valid);
                        }
                        continue;
                }
                (void) key_apply(l, k, a, r);
        }

        if (r->regex) {
                g_strfreev(r->group_names);
                r->group_names = regex_group_names(r->match_regex, r->regex);
        }

        exec = group_last_assignment(g, "Exec");
        if (r->exec && exec && r->action == ACTION_EXEC) {
                g_autofree char *err = NULL;
                const char *const *groups = (const char *const *) r->group_names;
                if (exec_template_new(&r->exec_template, r->exec, groups, &err) < 0)
                        key_error(l, exec, "%s", err ? err : "invalid command line");
        } else if (r->exec && exec && r->action == ACTION_SHELL) {
                g_autofree char *err = NULL;
                if (shell_script_check(r->exec, &err) < 0)
                        key_error(l, exec, "%s", err ? err : "invalid shell script");
        }

        /* Unit= is compiled once, like Exec=; its expansion is checked per task (one unit name). */
        unit = group_last_assignment(g, "Unit");
        if (r->unit && unit && (r->action == ACTION_START_UNIT || r->action == ACTION_STOP_UNIT ||
                                r->action == ACTION_RESTART_UNIT || r->action == ACTION_RELOAD_UNIT)) {
                g_autofree char *err = NULL;
                const char *const *groups = (const char *const *) r->group_names;
                if (exec_template_new(&r->unit_template, r->unit, groups, &err) < 0)
                        key_error(l, unit, "%s", err ? err : "invalid unit name");
        }

        if (r->on_mask == 0 && r->on_kinds == 0 && group_key_unassigned(g, "On"))
                loader_error(l, g->file, g->line, "On", "On= is required in [Rule %s]", g->name);

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
                                loader_error(l, g->file, g->line, "Watch", "no [Watch %s] is defined", *w);
        } else if (c->watches->len == 0)
                loader_error(l, g->file, g->line, "Watch",
                             "the rule applies to every watch, but no [Watch] is defined");

        if (action_ok && action && !action_is_implemented(r->action))
                key_error(l, action, "Action=%s is not implemented yet", action_type_to_string(r->action));

        return TAKE_PTR(r);
}

static int loader_build(Loader *l, Config **ret, GPtrArray *errors) {
        _cleanup_(config_freep) Config *c = g_new0(Config, 1);

        c->watches = g_ptr_array_new_with_free_func(config_watch_free_void);
        c->rules = g_ptr_array_new_with_free_func(config_rule_unref_void);
        keys_apply_defaults(l, daemon_keys, &c->daemon);

        for (guint i = 0; i < l->groups->len; i++) {
                const Group *g = g_ptr_array_index(l->groups, i);
                if (g->type == GROUP_DAEMON)
                        build_daemon(l, g, &c->daemon);
                else if (g->type == GROUP_WATCH)
                        g_ptr_array_add(c->watches, build_watch(l, g));
        }
        /* Rules after all watches: Watch= may name a watch defined further down or in a drop-in. */
        for (guint i = 0; i < l->groups->len; i++) {
                const Group *g = g_ptr_array_index(l->groups, i);
                if (g->type == GROUP_RULE)
                        g_ptr_array_add(c->rules, build_rule(l, g, c));
        }

        g_ptr_array_add(l->files, NULL);
        c->files = g_strdupv((char **) l->files->pdata);
        g_ptr_array_remove_index(l->files, l->files->len - 1);

        if (l->errors->len > 0) {
                loader_flush_errors(l, errors);
                return -EINVAL;
        }
        if (ret)
                *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const ConfigSources *sources, Config **ret, GPtrArray *errors) {
        Loader l;
        g_autoptr(GPtrArray) dropins = NULL;
        int r;

        g_return_val_if_fail(sources, -EINVAL);

        loader_init(&l);

        if (sources->main_file) {
                r = loader_add_file(&l, sources->main_file, sources->main_missing_ok, sources->trusted_only,
                                    errors);
                if (r < 0)
                        goto finish;
        }

        r = collect_dropins(sources->dropin_dirs, sources->trusted_only, &dropins, errors);
        if (r < 0)
                goto finish;
        for (guint i = 0; i < dropins->len; i++) {
                /* Checked by collect_dropins(), masks too. */
                r = loader_add_file(&l, g_ptr_array_index(dropins, i), false, false, errors);
                if (r < 0)
                        goto finish;
        }

        r = loader_build(&l, ret, errors);
        if (r >= 0 && ret)
                (*ret)->trusted_only = sources->trusted_only;
finish:
        loader_done(&l);
        return r;
}

int config_load_string(const char *name, const char *text, Config **ret, GPtrArray *errors) {
        Loader l;
        int r;

        g_return_val_if_fail(name, -EINVAL);
        g_return_val_if_fail(text, -EINVAL);

        loader_init(&l);
        loader_add_text(&l, name, text, strlen(text));
        r = loader_build(&l, ret, errors);
        loader_done(&l);
        return r;
}

/* ------------------------------------------------------------------ dump */

/* Writes "Key=value" so that the parser reads value back: every '#' is written as "\#". */
static void dump_raw(GString *s, const char *key, const char *value) {
        g_string_append_printf(s, "%s=", key);
        for (const char *p = value; *p; p++) {
                if (*p == '#')
                        g_string_append_c(s, '\\');
                g_string_append_c(s, *p);
        }
        g_string_append_c(s, '\n');
}

static void dump_string(GString *s, const char *key, const char *value) {
        if (value)
                dump_raw(s, key, value);
}

static void dump_bool(GString *s, const char *key, bool b) {
        dump_raw(s, key, b ? "yes" : "no");
}

static void dump_unsigned(GString *s, const char *key, unsigned u) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%u", u);
        dump_raw(s, key, buf);
}

static void dump_timespan(GString *s, const char *key, usec_t t) {
        _cleanup_free_ char *f = format_timespan(t);
        dump_raw(s, key, f ? f : "infinity");
}

static void dump_mode(GString *s, const char *key, int mode) {
        char buf[16];
        if (mode < 0)
                return;
        snprintf(buf, sizeof(buf), "0%03o", (unsigned) mode);
        dump_raw(s, key, buf);
}

/* Quotes an item for split_words() where needed. */
static void append_word(GString *s, const char *w) {
        bool plain = *w != 0;

        for (const char *p = w; *p; p++)
                if (is_ws(*p) || strchr("'\"\\", *p))
                        plain = false;
        if (plain) {
                g_string_append(s, w);
                return;
        }
        g_string_append_c(s, '\'');
        for (const char *p = w; *p; p++) {
                if (*p == '\'')
                        g_string_append(s, "'\\''");
                else
                        g_string_append_c(s, *p);
        }
        g_string_append_c(s, '\'');
}

static void dump_list(GString *s, const char *key, char **items) {
        g_autoptr(GString) v = NULL;

        if (!items || !items[0])
                return;
        v = g_string_new(NULL);
        for (char **i = items; *i; i++) {
                if (i != items)
                        g_string_append_c(v, ' ');
                append_word(v, *i);
        }
        dump_raw(s, key, v->str);
}

static void dump_events(GString *s, const char *key, uint32_t mask, uint32_t kinds) {
        g_autoptr(GPtrArray) names = g_ptr_array_new();

        for (unsigned b = 0; b < 32; b++)
                if (mask & (UINT32_C(1) << b)) {
                        const char *n = event_mask_bit_to_string(UINT32_C(1) << b);
                        if (n)
                                g_ptr_array_add(names, (char *) n);
                }
        for (unsigned k = EVENT_KIND_NONE + 1; k < _EVENT_KIND_MAX; k++)
                if (kinds & EVENT_KIND_BIT(k))
                        g_ptr_array_add(names, (char *) event_kind_to_string((EventKind) k));
        if (names->len == 0)
                return;
        g_ptr_array_add(names, NULL);
        dump_list(s, key, (char **) names->pdata);
}

/* One name standing for exactly this mask: a single bit, or a combination like IN_CLOSE. */
static void dump_initial_event(GString *s, const char *key, uint32_t mask, uint32_t kinds) {
        static const char *const combos[] = { "IN_CLOSE", "IN_MOVE", "IN_ALL_EVENTS" };

        if (mask == 0 && kinds == 0)
                return;
        if (mask == 0) {
                for (unsigned k = EVENT_KIND_NONE + 1; k < _EVENT_KIND_MAX; k++)
                        if (kinds == EVENT_KIND_BIT(k)) {
                                dump_raw(s, key, event_kind_to_string((EventKind) k));
                                return;
                        }
        } else if (kinds == 0) {
                const char *n = event_mask_bit_to_string(mask);
                if (n) {
                        dump_raw(s, key, n);
                        return;
                }
                for (size_t i = 0; i < ELEMENTSOF(combos); i++) {
                        uint32_t m, k;
                        if (event_name_parse(combos[i], &m, &k) >= 0 && m == mask && k == 0) {
                                dump_raw(s, key, combos[i]);
                                return;
                        }
                }
        }
        /* Not reachable from a parsed configuration: say so rather than writing something else. */
        g_string_append_printf(s, "# %s= mask 0x%" PRIx32 " kinds 0x%" PRIx32 " has no single name\n",
                               key, mask, kinds);
}

static void dump_rule(GString *s, const ConfigRule *r) {
        g_string_append_printf(s, "\n[Rule %s]\n", r->name);
        dump_list(s, "Watch", r->watches);
        dump_events(s, "On", r->on_mask, r->on_kinds);
        dump_events(s, "CancelOn", r->cancel_mask, r->cancel_kinds);
        dump_list(s, "Match", r->match);
        dump_string(s, "MatchRegex", r->match_regex);
        dump_bool(s, "Files", r->files);
        dump_bool(s, "Directories", r->directories);
        dump_timespan(s, "DelaySec", r->delay);
        dump_raw(s, "IfRunning", if_running_to_string(r->if_running));
        dump_list(s, "ForEach", r->for_each);
        dump_timespan(s, "TimeoutSec", r->timeout);
        dump_raw(s, "Action", action_type_to_string(r->action));

        switch (r->action) {
        case ACTION_EXEC:
        case ACTION_SHELL:
                dump_string(s, "Exec", r->exec);
                dump_string(s, "User", r->user);
                dump_string(s, "Group", r->group);
                dump_string(s, "WorkingDirectory", r->working_directory);
                dump_list(s, "Environment", r->environment);
                break;
        case ACTION_MOVE:
        case ACTION_COPY:
        case ACTION_DELETE:
                dump_string(s, "Source", r->source);
                if (r->action == ACTION_DELETE) {
                        dump_bool(s, "Recursive", r->recursive);
                        break;
                }
                dump_string(s, "Destination", r->destination);
                dump_bool(s, "AutoCreate", r->auto_create);
                dump_bool(s, "Overwrite", r->overwrite);
                if (r->action == ACTION_COPY)
                        dump_bool(s, "Recursive", r->recursive);
                dump_mode(s, "FileMode", r->file_mode);
                dump_mode(s, "DirectoryMode", r->directory_mode);
                dump_string(s, "Owner", r->owner);
                dump_string(s, "OwnerGroup", r->owner_group);
                break;
        case ACTION_START_UNIT:
        case ACTION_STOP_UNIT:
        case ACTION_RESTART_UNIT:
        case ACTION_RELOAD_UNIT:
                dump_string(s, "Unit", r->unit);
                break;
        case ACTION_PLUGIN:
                dump_string(s, "Plugin", r->plugin);
                if (r->extra) {
                        g_autoptr(GPtrArray) keys = hash_keys_sorted(r->extra);
                        for (guint i = 0; i < keys->len; i++) {
                                const char *k = g_ptr_array_index(keys, i);
                                dump_raw(s, k, g_hash_table_lookup(r->extra, k));
                        }
                }
                break;
        default:
                break;
        }
}

char *config_dump(const Config *c) {
        GString *s = g_string_new("# inotaskd configuration, merged from: ");

        g_return_val_if_fail(c, NULL);

        if (c->files && c->files[0])
                for (char **f = c->files; *f; f++)
                        g_string_append_printf(s, "%s%s", f == c->files ? "" : ", ", *f);
        else
                g_string_append(s, "(no files, defaults)");
        g_string_append(s, "\n\n[Daemon]\n");

        g_assert(c->daemon.log_level >= 0 && (size_t) c->daemon.log_level < ELEMENTSOF(log_level_table));
        dump_raw(s, "LogLevel", log_level_table[c->daemon.log_level]);
        dump_timespan(s, "ShutdownTimeoutSec", c->daemon.shutdown_timeout);
        dump_unsigned(s, "MaxRunningTasks", c->daemon.max_running);
        dump_unsigned(s, "TaskHistory", c->daemon.task_history);
        dump_string(s, "AdminGroup", c->daemon.admin_group);
        dump_string(s, "StateDirectory", c->daemon.state_directory);

        for (guint i = 0; i < c->watches->len; i++) {
                const ConfigWatch *w = g_ptr_array_index(c->watches, i);

                g_string_append_printf(s, "\n[Watch %s]\n", w->name);
                dump_string(s, "Path", w->path);
                dump_bool(s, "Recursive", w->recursive);
                dump_bool(s, "AutoAdd", w->auto_add);
                dump_list(s, "Exclude", w->exclude);
                dump_initial_event(s, "InitialEvent", w->initial_mask, w->initial_kinds);
        }

        for (guint i = 0; i < c->rules->len; i++)
                dump_rule(s, g_ptr_array_index(c->rules, i));

        return g_string_free(s, FALSE);
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

        if (!isempty(env_dir))
                s->dropin_dirs = strv_new_take(g_strdup(env_dir));
        else if (explicit_main) {
                g_autofree char *dir = g_path_get_dirname(s->main_file);
                s->dropin_dirs = strv_new_take(g_build_filename(dir, "conf.d", NULL));
        } else if (user_mode)
                s->dropin_dirs = strv_new_take(g_build_filename(home, "inotaskd", "conf.d", NULL));
        else
                s->dropin_dirs = g_strdupv((char *[]) {
                        (char *) "/usr/lib/inotaskd/conf.d",
                        (char *) "/run/inotaskd/conf.d",
                        (char *) SYSCONFDIR "/inotaskd/conf.d",
                        NULL,
                });

        s->sources.main_file = s->main_file;
        s->sources.main_missing_ok = !explicit_main;
        s->sources.trusted_only = true;
        s->sources.dropin_dirs = (const char *const *) s->dropin_dirs;
        return TAKE_PTR(s);
}
