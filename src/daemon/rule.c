/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Matching events against rules, cheapest test first: the full path is built only when needed. */
#include <fnmatch.h>
#include <string.h>
#include <sys/inotify.h>

#include "rule.h"

static uint32_t kinds_to_mask(uint32_t kinds) {
        uint32_t m = 0;

        if (kinds & EVENT_KIND_BIT(EVENT_KIND_CREATED))
                m |= IN_CREATE | IN_MOVED_TO;
        if (kinds & EVENT_KIND_BIT(EVENT_KIND_CHANGED))
                m |= IN_CLOSE_WRITE | IN_ATTRIB;
        if (kinds & EVENT_KIND_BIT(EVENT_KIND_DELETED))
                m |= IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF;
        if (kinds & EVENT_KIND_BIT(EVENT_KIND_MOVED))
                m |= IN_MOVED_FROM | IN_MOVED_TO;
        return m;
}

uint32_t rule_inotify_mask(const ConfigRule *r) {
        return r->on_mask | r->cancel_mask | kinds_to_mask(r->on_kinds | r->cancel_kinds);
}

/* A file renamed onto a name (the arriving half of a move, paired or moved in) replaces what that name
 * held: for the name, a change (rsync's and editors' temporary file, `mv tmp final`), whether or not
 * its old name was seen (excluded, outside the watch). */
static bool event_replaces(const Event *ev) {
        return !ev->is_dir && (ev->mask & IN_MOVED_TO);
}

static bool events_hit(uint32_t mask, uint32_t kinds, const Event *ev) {
        if ((mask & ev->mask & ~IN_ISDIR) || (kinds & EVENT_KIND_BIT(ev->kind)))
                return true;
        return (kinds & EVENT_KIND_BIT(EVENT_KIND_CHANGED)) && event_replaces(ev);
}

bool rule_on_by_replacement(const ConfigRule *r, const Event *ev) {
        return !(r->on_mask & ev->mask & ~IN_ISDIR) && !(r->on_kinds & EVENT_KIND_BIT(ev->kind)) &&
               (r->on_kinds & EVENT_KIND_BIT(EVENT_KIND_CHANGED)) && event_replaces(ev);
}

static bool glob_hit(char **patterns, Event *ev) {
        if (!patterns || !patterns[0])
                return true;
        for (char **p = patterns; *p; p++) {
                if (strchr(*p, '/')) {
                        if (fnmatch(*p, event_relpath(ev), FNM_PATHNAME) == 0)
                                return true;
                } else if (fnmatch(*p, event_basename(ev), 0) == 0)
                        return true;
        }
        return false;
}

RuleVerdict rule_match(const ConfigRule *r, Event *ev, char ***ret_groups) {
        bool cancel = events_hit(r->cancel_mask, r->cancel_kinds, ev);
        bool on = !cancel && events_hit(r->on_mask, r->on_kinds, ev);

        if (!cancel && !on)
                return RULE_IGNORE;
        /* An overflow concerns the whole watch, not an entry: no entry filters apply. */
        if (ev->kind == EVENT_KIND_OVERFLOW)
                return cancel ? RULE_CANCEL : RULE_SCHEDULE;
        if (!rule_match_entry(r, ev, on ? ret_groups : NULL))
                return RULE_IGNORE;
        return cancel ? RULE_CANCEL : RULE_SCHEDULE;
}

bool rule_match_entry(const ConfigRule *r, Event *ev, char ***ret_groups) {
        g_autoptr(GMatchInfo) mi = NULL;

        if (ev->is_dir ? !r->directories : !r->files)
                return false;
        if (!glob_hit(r->match, ev))
                return false;
        /* Source= of a file-manager rule selects the paths it acts on, like pyinotifyd's src_re. */
        if (r->source_regex && !g_regex_match(r->source_regex, event_pathname(ev), 0, NULL))
                return false;
        if (r->regex) {
                const char *p = event_pathname(ev);

                if (!g_regex_match_full(r->regex, p, (gssize) strlen(p), 0, 0, &mi, NULL))
                        return false;
                if (ret_groups && r->group_names && r->group_names[0]) {
                        size_t n = g_strv_length(r->group_names);
                        char **g = g_new0(char *, n + 1);

                        for (size_t i = 0; i < n; i++) {
                                g[i] = g_match_info_fetch_named(mi, r->group_names[i]);
                                if (!g[i])
                                        g[i] = g_strdup("");
                        }
                        *ret_groups = g;
                }
        }
        return true;
}

char *file_destination(const ConfigRule *r, const char *path, char **ret_error) {
        g_autoptr(GMatchInfo) mi = NULL;
        g_autoptr(GError) e = NULL;
        char *d;

        if (!r->source_regex || !g_regex_match_full(r->source_regex, path, -1, 0, 0, &mi, NULL)) {
                *ret_error = g_strdup("the path does not match Source=");
                return NULL;
        }
        if (!r->destination)
                return g_strdup("");
        d = g_match_info_expand_references(mi, r->destination, &e);
        if (!d)
                *ret_error = g_strdup(e->message);
        return d;
}
