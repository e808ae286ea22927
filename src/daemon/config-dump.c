/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --dump-config: the merged configuration written back as one key file that parses to the same model. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include "config-parser.h"
#include "config.h"
#include "event-names.h"
#include "time-util.h"

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
                if (conf_is_ws(*p) || strchr("'\"\\", *p))
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
        dump_bool(s, "RunIfVanished", r->run_if_vanished);
        dump_list(s, "ForEach", r->for_each);
        dump_timespan(s, "MaxDelaySec", r->max_delay);
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
                dump_string(s, "TaskUnits", task_units_to_string(r->task_units));
                dump_string(s, "Slice", r->slice);
                for (char **p = r->properties; p && *p; p++)
                        dump_raw(s, "Property", *p);
                dump_bool(s, "StopWithDaemon", r->stop_with_daemon);
                dump_bool(s, "Batch", r->batch);
                dump_unsigned(s, "BatchMax", r->batch_max);
                dump_raw(s, "StandardInput", stdin_format_to_string(r->standard_input));
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
                        g_autoptr(GPtrArray) keys = conf_hash_keys_sorted(r->extra);
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

        g_assert(config_log_level_to_string(c->daemon.log_level));
        dump_raw(s, "LogLevel", config_log_level_to_string(c->daemon.log_level));
        dump_timespan(s, "ShutdownTimeoutSec", c->daemon.shutdown_timeout);
        dump_unsigned(s, "MaxRunningTasks", c->daemon.max_running);
        dump_unsigned(s, "TaskHistory", c->daemon.task_history);
        dump_string(s, "AdminGroup", c->daemon.admin_group);
        dump_string(s, "StateDirectory", c->daemon.state_directory);
        dump_raw(s, "TaskUnits", task_units_to_string(c->daemon.task_units));

        for (guint i = 0; i < c->watches->len; i++) {
                const ConfigWatch *w = g_ptr_array_index(c->watches, i);

                g_string_append_printf(s, "\n[Watch %s]\n", w->name);
                dump_string(s, "Path", w->path);
                dump_bool(s, "Recursive", w->recursive);
                dump_bool(s, "AutoAdd", w->auto_add);
                dump_list(s, "Exclude", w->exclude);
                dump_initial_event(s, "InitialEvent", w->initial_mask, w->initial_kinds);
                dump_raw(s, "Backend", backend_kind_to_string(w->backend));
                dump_timespan(s, "PollIntervalSec", w->poll_interval);
        }

        for (guint i = 0; i < c->rules->len; i++)
                dump_rule(s, g_ptr_array_index(c->rules, i));

        return g_string_free(s, FALSE);
}
