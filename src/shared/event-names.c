/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The names rules use for events: inotify's IN_* bits, their short forms, and the high-level kinds. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "event-names.h"

typedef struct EventName {
        const char *name;       /* "IN_CLOSE_WRITE" */
        const char *short_name; /* "close_write" */
        uint32_t mask;
} EventName;

/* Single bits first, in the kernel's bit order and with IN_ISDIR (a flag, not an event) last: this is
 * the order event_mask_to_string() prints. The combinations follow; they are never printed. */
static const EventName event_names[] = {
        { "IN_ACCESS",        "access",        IN_ACCESS        },
        { "IN_MODIFY",        "modify",        IN_MODIFY        },
        { "IN_ATTRIB",        "attrib",        IN_ATTRIB        },
        { "IN_CLOSE_WRITE",   "close_write",   IN_CLOSE_WRITE   },
        { "IN_CLOSE_NOWRITE", "close_nowrite", IN_CLOSE_NOWRITE },
        { "IN_OPEN",          "open",          IN_OPEN          },
        { "IN_MOVED_FROM",    "moved_from",    IN_MOVED_FROM    },
        { "IN_MOVED_TO",      "moved_to",      IN_MOVED_TO      },
        { "IN_CREATE",        "create",        IN_CREATE        },
        { "IN_DELETE",        "delete",        IN_DELETE        },
        { "IN_DELETE_SELF",   "delete_self",   IN_DELETE_SELF   },
        { "IN_MOVE_SELF",     "move_self",     IN_MOVE_SELF     },
        { "IN_UNMOUNT",       "unmount",       IN_UNMOUNT       },
        { "IN_Q_OVERFLOW",    "q_overflow",    IN_Q_OVERFLOW    },
        { "IN_IGNORED",       "ignored",       IN_IGNORED       },
        { "IN_ISDIR",         "isdir",         IN_ISDIR         },
        { "IN_CLOSE",         "close",         IN_CLOSE         },
        { "IN_MOVE",          "move",          IN_MOVE          },
        { "IN_ALL_EVENTS",    "all_events",    IN_ALL_EVENTS    },
};

/* Rows of event_names[] that are single bits. */
#define N_EVENT_BITS 16

static const char *const event_kind_table[_EVENT_KIND_MAX] = {
        [EVENT_KIND_NONE] = "none",
        [EVENT_KIND_EXISTS] = "exists",
        [EVENT_KIND_CREATED] = "created",
        [EVENT_KIND_CHANGED] = "changed",
        [EVENT_KIND_DELETED] = "deleted",
        [EVENT_KIND_MOVED] = "moved",
        [EVENT_KIND_OVERFLOW] = "overflow",
};

const char *event_kind_to_string(EventKind k) {
        if ((unsigned) k >= _EVENT_KIND_MAX)
                return NULL;
        return event_kind_table[k];
}

EventKind event_kind_from_string(const char *s) {
        if (!s)
                return EVENT_KIND_NONE;
        for (EventKind k = EVENT_KIND_NONE + 1; k < _EVENT_KIND_MAX; k++)
                if (streq(event_kind_table[k], s))
                        return k;
        return EVENT_KIND_NONE;
}

int event_name_parse(const char *name, uint32_t *ret_mask, uint32_t *ret_kinds) {
        uint32_t mask = 0, kinds = 0;
        EventKind k;

        if (isempty(name))
                return -EINVAL;

        k = event_kind_from_string(name);
        if (k != EVENT_KIND_NONE)
                kinds = EVENT_KIND_BIT(k);
        else
                for (size_t i = 0; i < ELEMENTSOF(event_names); i++)
                        if (streq(event_names[i].name, name) || streq(event_names[i].short_name, name)) {
                                mask = event_names[i].mask;
                                break;
                        }

        /* A queue overflow is not an event on a path that a watch could ask for: it is the
         * "overflow" kind, raised by the backend after it rescanned. */
        if (mask == IN_Q_OVERFLOW) {
                mask = 0;
                kinds = EVENT_KIND_BIT(EVENT_KIND_OVERFLOW);
        }

        if (mask == 0 && kinds == 0)
                return -EINVAL;

        if (ret_mask)
                *ret_mask = mask;
        if (ret_kinds)
                *ret_kinds = kinds;
        return 0;
}

int event_names_parse_list(const char *list, uint32_t *ret_mask, uint32_t *ret_kinds, char **ret_bad) {
        _cleanup_strv_free_ char **words = NULL;
        uint32_t mask = 0, kinds = 0;

        words = g_strsplit_set(strempty(list), " \t\n\r\f\v", -1);
        for (char **w = words; *w; w++) {
                uint32_t m, k;

                if (**w == '\0')        /* runs of whitespace give empty words */
                        continue;
                if (event_name_parse(*w, &m, &k) < 0) {
                        if (ret_bad)
                                *ret_bad = g_strdup(*w);
                        return -EINVAL;
                }
                mask |= m;
                kinds |= k;
        }

        if (ret_mask)
                *ret_mask = mask;
        if (ret_kinds)
                *ret_kinds = kinds;
        return 0;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), ASCII case folded. */
#define SUGGEST_MAX_LEN 64
static unsigned edit_distance(const char *a, const char *b) {
        unsigned d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
        size_t la = strlen(a), lb = strlen(b);

        g_assert(la <= SUGGEST_MAX_LEN && lb <= SUGGEST_MAX_LEN);

        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;

        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        char ca = g_ascii_tolower(a[i - 1]), cb = g_ascii_tolower(b[j - 1]);
                        unsigned v = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);

                        v = MIN(v, d[i - 1][j - 1] + (ca != cb));
                        if (i > 1 && j > 1 && ca == g_ascii_tolower(b[j - 2]) &&
                            g_ascii_tolower(a[i - 2]) == cb)
                                v = MIN(v, d[i - 2][j - 2] + 1);
                        d[i][j] = v;
                }

        return d[la][lb];
}

static bool has_in_prefix(const char *s) {
        return g_ascii_strncasecmp(s, "IN_", 3) == 0;
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The '_'-separated words after an "IN_" prefix, lower-cased and sorted, joined again by '_': two
 * names with the same words in another order ("IN_WRITE_CLOSE", "IN_CLOSE_WRITE") get the same key. */
static char *word_key(const char *name) {
        _cleanup_free_ char *lower = g_ascii_strdown(has_in_prefix(name) ? name + 3 : name, -1);
        _cleanup_strv_free_ char **words = g_strsplit(lower, "_", -1);

        qsort(words, g_strv_length(words), sizeof(char *), compare_strings);
        return g_strjoinv("_", words);
}

typedef struct Candidate {
        const char *name;
        unsigned distance;
} Candidate;

static void consider(Candidate *best, const char *bad, const char *name) {
        unsigned d;

        if (streq(bad, name))   /* a valid name asked about: offer a different one */
                return;

        d = edit_distance(bad, name);
        if (d < best->distance) {
                best->name = name;
                best->distance = d;
        }
}

char *event_name_suggest(const char *bad) {
        Candidate best = { .distance = UINT_MAX };
        _cleanup_free_ char *bad_key = NULL;
        size_t len;
        unsigned limit;

        if (isempty(bad))
                return NULL;
        len = strlen(bad);
        if (len > SUGGEST_MAX_LEN)
                return NULL;

        /* Swapped words first (pyinotifyd's documentation says IN_WRITE_CLOSE): edit distance is
         * large for those, but the intent is plain. Answer in the form that was asked for. */
        bad_key = word_key(bad);
        for (size_t i = 0; i < ELEMENTSOF(event_names); i++) {
                const char *name = has_in_prefix(bad) ? event_names[i].name : event_names[i].short_name;
                _cleanup_free_ char *key = word_key(name);

                if (streq(key, bad_key) && !streq(name, bad))
                        return g_strdup(name);
        }

        /* Then the closest name by edit distance, case-insensitively so that a wrong case is a
         * distance of 0; on a tie the first in table order wins: IN_* names, short forms, kinds. */
        for (size_t i = 0; i < ELEMENTSOF(event_names); i++)
                consider(&best, bad, event_names[i].name);
        for (size_t i = 0; i < ELEMENTSOF(event_names); i++)
                consider(&best, bad, event_names[i].short_name);
        for (EventKind k = EVENT_KIND_NONE + 1; k < _EVENT_KIND_MAX; k++)
                consider(&best, bad, event_kind_table[k]);

        /* About one typo per four characters; beyond that the suggestion would be a guess. */
        limit = MAX(1u, (unsigned) (len + 1) / 4);
        if (!best.name || best.distance > limit)
                return NULL;

        return g_strdup(best.name);
}

const char *name_suggest(const char *bad, const char *const *names) {
        Candidate best = { .distance = UINT_MAX };
        size_t len;

        if (isempty(bad) || (len = strlen(bad)) > SUGGEST_MAX_LEN)
                return NULL;
        for (const char *const *n = names; n && *n; n++)
                if (strlen(*n) <= SUGGEST_MAX_LEN && !streq(*n, bad))
                        consider(&best, bad, *n);
        if (!best.name || best.distance > MAX(1u, (unsigned) (len + 1) / 4))
                return NULL;
        return best.name;
}

const char *event_mask_bit_to_string(uint32_t bit) {
        for (size_t i = 0; i < N_EVENT_BITS; i++)
                if (event_names[i].mask == bit)
                        return event_names[i].name;
        return NULL;
}

const char *event_mask_to_string(uint32_t mask, char *buf) {
        uint32_t unknown = mask;
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < N_EVENT_BITS; i++) {
                if (!(mask & event_names[i].mask))
                        continue;
                n += snprintf(buf + n, EVENT_MASK_STRING_MAX - n, "%s%s",
                              n > 0 ? "|" : "", event_names[i].name);
                unknown &= ~event_names[i].mask;
        }

        /* Flags that are not events (IN_ONESHOT, …) or bits no kernel defines yet: shown, not lost.
         * All 16 names, their separators and this fit into EVENT_MASK_STRING_MAX. */
        if (unknown != 0)
                (void) snprintf(buf + n, EVENT_MASK_STRING_MAX - n, "%s0x%" PRIx32,
                                n > 0 ? "|" : "", unknown);

        return buf;
}

const char *event_mask_to_short_string(uint32_t mask) {
        /* Events before IN_ISDIR, which only qualifies them; IN_ISDIR alone still gets a name. */
        for (size_t i = N_EVENT_BITS - 1; i > 0; i--)
                if (mask & event_names[i - 1].mask)
                        return event_names[i - 1].short_name;
        if (mask & IN_ISDIR)
                return "isdir";
        return "";
}

EventKind event_kind_from_mask(uint32_t mask) {
        if (mask & IN_Q_OVERFLOW)
                return EVENT_KIND_OVERFLOW;
        if (mask & (IN_CREATE | IN_MOVED_TO))
                return EVENT_KIND_CREATED;
        if (mask & (IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM))
                return EVENT_KIND_DELETED;
        if (mask & (IN_CLOSE_WRITE | IN_ATTRIB))
                return EVENT_KIND_CHANGED;
        return EVENT_KIND_NONE;
}
