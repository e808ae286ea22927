/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for event-names: parsing IN_* names, short forms and kinds, suggestions, mask names. */
#include <string.h>
#include <sys/inotify.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "event-names.h"

typedef struct NameCase {
        const char *name;
        const char *short_name;
        uint32_t mask;
} NameCase;

/* Every event name of <sys/inotify.h>, in the kernel's bit order; the combinations at the end. */
static const NameCase names[] = {
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
        { "IN_IGNORED",       "ignored",       IN_IGNORED       },
        { "IN_ISDIR",         "isdir",         IN_ISDIR         },
        { "IN_CLOSE",         "close",         IN_CLOSE_WRITE | IN_CLOSE_NOWRITE },
        { "IN_MOVE",          "move",          IN_MOVED_FROM | IN_MOVED_TO },
        { "IN_ALL_EVENTS",    "all_events",    0xfff },
};

static void test_parse_names(void) {
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                uint32_t mask = 42, kinds = 42;

                g_test_message("%s / %s", names[i].name, names[i].short_name);
                g_assert_cmpint(event_name_parse(names[i].name, &mask, &kinds), ==, 0);
                g_assert_cmphex(mask, ==, names[i].mask);
                g_assert_cmphex(kinds, ==, 0);

                mask = kinds = 42;
                g_assert_cmpint(event_name_parse(names[i].short_name, &mask, &kinds), ==, 0);
                g_assert_cmphex(mask, ==, names[i].mask);
                g_assert_cmphex(kinds, ==, 0);
        }

        /* The header's own constants agree with the table above. */
        g_assert_cmphex(IN_ALL_EVENTS, ==, 0xfff);
        g_assert_cmphex(IN_CLOSE, ==, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
        g_assert_cmphex(IN_MOVE, ==, IN_MOVED_FROM | IN_MOVED_TO);

        /* Either result pointer may be left out. */
        g_assert_cmpint(event_name_parse("IN_CREATE", NULL, NULL), ==, 0);
        g_assert_cmpint(event_name_parse("created", NULL, NULL), ==, 0);
}

static void test_parse_kinds(void) {
        static const struct {
                const char *name;
                EventKind kind;
        } kinds[] = {
                { "exists",        EVENT_KIND_EXISTS },
                { "created",       EVENT_KIND_CREATED },
                { "changed",       EVENT_KIND_CHANGED },
                { "deleted",       EVENT_KIND_DELETED },
                { "moved",         EVENT_KIND_MOVED },
                { "overflow",      EVENT_KIND_OVERFLOW },
                /* A queue overflow is offered to rules as the kind, not as a mask bit. */
                { "IN_Q_OVERFLOW", EVENT_KIND_OVERFLOW },
                { "q_overflow",    EVENT_KIND_OVERFLOW },
        };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                uint32_t mask = 42, k = 42;

                g_assert_cmpint(event_name_parse(kinds[i].name, &mask, &k), ==, 0);
                g_assert_cmphex(mask, ==, 0);
                g_assert_cmphex(k, ==, EVENT_KIND_BIT(kinds[i].kind));
        }
}

static void test_parse_invalid(void) {
        static const char *const bad[] = {
                "", "none", "IN_", "in_", "IN",
                "in_create", "IN_create", "In_Create", "CREATE", "Create", "Created", "EXISTS", "Q_OVERFLOW",
                "IN_CREATED", "IN_EXISTS", "in_exists",      /* kinds have no IN_ form */
                "IN_WRITE_CLOSE", "write_close", "IN_CLOSEWRITE", "closewrite", "close-write",
                "IN_ONESHOT", "oneshot", "IN_ONLYDIR", "onlydir", "IN_DONT_FOLLOW", "IN_EXCL_UNLINK",
                "IN_MASK_ADD", "IN_MASK_CREATE",              /* watch flags, not events */
                " IN_CREATE", "IN_CREATE ", "IN_CREATE|IN_ISDIR", "IN_CREATE,IN_DELETE", "create created",
                "0x100", "256", "*", "all",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint32_t mask = 42, kinds = 42;

                g_test_message("reject \"%s\"", bad[i]);
                g_assert_cmpint(event_name_parse(bad[i], &mask, &kinds), ==, -EINVAL);
                g_assert_cmphex(mask, ==, 42);          /* untouched on failure */
                g_assert_cmphex(kinds, ==, 42);
        }

        g_assert_cmpint(event_name_parse(NULL, NULL, NULL), ==, -EINVAL);
}

static void test_parse_list(void) {
        static const struct {
                const char *list;
                uint32_t mask, kinds;
        } good[] = {
                { "",                                   0, 0 },
                { "   \t\n ",                           0, 0 },
                { "IN_CLOSE_WRITE",                     IN_CLOSE_WRITE, 0 },
                { "IN_CLOSE_WRITE IN_MOVED_TO",         IN_CLOSE_WRITE | IN_MOVED_TO, 0 },
                { "  close_write\tIN_MOVED_TO \n",      IN_CLOSE_WRITE | IN_MOVED_TO, 0 },
                { "IN_DELETE IN_MOVED_FROM",            IN_DELETE | IN_MOVED_FROM, 0 },
                { "changed",                            0, EVENT_KIND_BIT(EVENT_KIND_CHANGED) },
                { "created deleted IN_ATTRIB overflow", IN_ATTRIB,
                  EVENT_KIND_BIT(EVENT_KIND_CREATED) | EVENT_KIND_BIT(EVENT_KIND_DELETED) |
                  EVENT_KIND_BIT(EVENT_KIND_OVERFLOW) },
                { "IN_Q_OVERFLOW IN_CREATE",            IN_CREATE, EVENT_KIND_BIT(EVENT_KIND_OVERFLOW) },
                { "IN_CLOSE close_write",               IN_CLOSE, 0 },       /* overlaps are fine */
                { "IN_ALL_EVENTS IN_ISDIR",             IN_ALL_EVENTS | IN_ISDIR, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                uint32_t mask = 42, kinds = 42;
                char *bad = NULL;

                g_assert_cmpint(event_names_parse_list(good[i].list, &mask, &kinds, &bad), ==, 0);
                g_assert_cmphex(mask, ==, good[i].mask);
                g_assert_cmphex(kinds, ==, good[i].kinds);
                g_assert_null(bad);
        }

        uint32_t mask = 42, kinds = 42;
        g_assert_cmpint(event_names_parse_list(NULL, &mask, &kinds, NULL), ==, 0);
        g_assert_cmphex(mask, ==, 0);
        g_assert_cmphex(kinds, ==, 0);
}

static void test_parse_list_bad(void) {
        static const struct {
                const char *list;
                const char *first_bad;
        } cases[] = {
                { "IN_CREATE IN_WRITE_CLOSE IN_FOO",    "IN_WRITE_CLOSE" },
                { "foo",                                "foo" },
                { "  created\tCHANGED deleted",         "CHANGED" },
                { "IN_CREATE,IN_DELETE",                "IN_CREATE,IN_DELETE" },  /* commas do not split */
                { "IN_CREATE|IN_ISDIR",                 "IN_CREATE|IN_ISDIR" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t mask = 42, kinds = 42;
                g_autofree char *bad = NULL;

                g_assert_cmpint(event_names_parse_list(cases[i].list, &mask, &kinds, &bad), ==, -EINVAL);
                g_assert_cmpstr(bad, ==, cases[i].first_bad);
                g_assert_cmphex(mask, ==, 42);
                g_assert_cmphex(kinds, ==, 42);
        }

        /* The bad name is optional. */
        g_assert_cmpint(event_names_parse_list("IN_CREATE nope", NULL, NULL, NULL), ==, -EINVAL);
}

static void test_suggest(void) {
        static const struct {
                const char *bad;
                const char *suggestion;
        } cases[] = {
                { "IN_WRITE_CLOSE",     "IN_CLOSE_WRITE" },     /* pyinotifyd's documentation */
                { "in_write_close",     "IN_CLOSE_WRITE" },
                { "write_close",        "close_write" },
                { "IN_FROM_MOVED",      "IN_MOVED_FROM" },
                { "self_delete",        "delete_self" },
                { "IN_EVENTS_ALL",      "IN_ALL_EVENTS" },
                { "create",             "created" },            /* valid, but a kind is nearer the intent */
                { "Created",            "created" },
                { "CHANGED",            "changed" },
                { "in_create",          "IN_CREATE" },
                { "In_Close_Write",     "IN_CLOSE_WRITE" },
                { "CLOSE_WRITE",        "close_write" },
                { "IN_CREATED",         "IN_CREATE" },
                { "IN_CLOSEWRITE",      "IN_CLOSE_WRITE" },
                { "IN_CLOSE_WRIET",     "IN_CLOSE_WRITE" },     /* transposed letters */
                { "IN_MOVED_FORM",      "IN_MOVED_FROM" },
                { "IN_MODIFIED",        "IN_MODIFY" },
                { "IN_ALL_EVENT",       "IN_ALL_EVENTS" },
                { "all-events",         "all_events" },
                { "chnaged",            "changed" },
                { "delted",             "deleted" },
                { "exist",              "exists" },
                { "overflw",            "overflow" },
                { "IN_QOVERFLOW",       "IN_Q_OVERFLOW" },
                { "opne",               "open" },
        };
        static const char *const hopeless[] = {
                "", "x", "foo", "xyz", "banana", "IN_FOO", "IN_", "IN_BANANA_SPLIT", "everything",
                "/srv/uploads", "0x100",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *s = event_name_suggest(cases[i].bad);

                g_test_message("suggest for \"%s\"", cases[i].bad);
                g_assert_cmpstr(s, ==, cases[i].suggestion);
                g_assert_cmpint(event_name_parse(s, NULL, NULL), ==, 0);
        }

        for (size_t i = 0; i < ELEMENTSOF(hopeless); i++) {
                g_autofree char *s = event_name_suggest(hopeless[i]);

                g_test_message("no suggestion for \"%s\"", hopeless[i]);
                g_assert_null(s);
        }

        /* Very long input is no typo of a name; it is refused without work. */
        g_autofree char *lng = g_strnfill(4096, 'a');
        g_assert_null(event_name_suggest(lng));
        g_assert_null(event_name_suggest(NULL));
}

static void test_suggest_is_valid(void) {
        /* Whatever is suggested parses, for random mutations of valid names. */
        for (unsigned n = 0; n < 3000; n++) {
                const NameCase *c = &names[g_test_rand_int_range(0, ELEMENTSOF(names))];
                g_autofree char *s = g_strdup(g_test_rand_bit() ? c->name : c->short_name);
                size_t len = strlen(s);
                g_autofree char *suggestion = NULL;

                s[g_test_rand_int_range(0, len)] = (char) g_test_rand_int_range('A', 'z' + 1);
                suggestion = event_name_suggest(s);
                if (suggestion)
                        g_assert_cmpint(event_name_parse(suggestion, NULL, NULL), ==, 0);
        }
}

static void test_mask_bit_to_string(void) {
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (__builtin_popcount(names[i].mask) == 1)
                        g_assert_cmpstr(event_mask_bit_to_string(names[i].mask), ==, names[i].name);

        g_assert_cmpstr(event_mask_bit_to_string(IN_Q_OVERFLOW), ==, "IN_Q_OVERFLOW");
        g_assert_null(event_mask_bit_to_string(0));
        g_assert_null(event_mask_bit_to_string(IN_CLOSE));      /* two bits */
        g_assert_null(event_mask_bit_to_string(IN_ALL_EVENTS));
        g_assert_null(event_mask_bit_to_string(0x1000));        /* unused bit */
        g_assert_null(event_mask_bit_to_string(IN_ONESHOT));    /* a watch flag */
        g_assert_null(event_mask_bit_to_string(IN_ONLYDIR));
}

static void test_mask_to_string(void) {
        static const struct {
                uint32_t mask;
                const char *text;
        } cases[] = {
                { 0,                                    "" },
                { IN_CREATE,                            "IN_CREATE" },
                { IN_CREATE | IN_ISDIR,                 "IN_CREATE|IN_ISDIR" },
                { IN_ISDIR | IN_DELETE | IN_ACCESS,     "IN_ACCESS|IN_DELETE|IN_ISDIR" },
                { IN_CLOSE,                             "IN_CLOSE_WRITE|IN_CLOSE_NOWRITE" },
                { IN_MOVE,                              "IN_MOVED_FROM|IN_MOVED_TO" },
                { IN_IGNORED,                           "IN_IGNORED" },
                { IN_Q_OVERFLOW,                        "IN_Q_OVERFLOW" },
                { IN_UNMOUNT | IN_IGNORED,              "IN_UNMOUNT|IN_IGNORED" },
                { IN_MOVE_SELF | IN_ISDIR,              "IN_MOVE_SELF|IN_ISDIR" },
                { IN_ONESHOT,                           "0x80000000" },   /* kept, not dropped */
                { IN_CREATE | IN_ONLYDIR,               "IN_CREATE|0x1000000" },
                { IN_ISDIR | 0x1000,                    "IN_ISDIR|0x1000" },
                { IN_ALL_EVENTS,
                  "IN_ACCESS|IN_MODIFY|IN_ATTRIB|IN_CLOSE_WRITE|IN_CLOSE_NOWRITE|IN_OPEN|IN_MOVED_FROM|"
                  "IN_MOVED_TO|IN_CREATE|IN_DELETE|IN_DELETE_SELF|IN_MOVE_SELF" },
        };
        char buf[EVENT_MASK_STRING_MAX];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                g_assert_cmpstr(event_mask_to_string(cases[i].mask, buf), ==, cases[i].text);

        /* The return value is the buffer. */
        g_assert_true(event_mask_to_string(IN_OPEN, buf) == buf);
}

static void test_mask_to_string_order(void) {
        char buf[EVENT_MASK_STRING_MAX];
        GString *want = g_string_new(NULL);

        /* All bits: the named ones in the kernel's bit order with IN_ISDIR last, then the rest in
         * hex; the longest possible result still fits. */
        for (unsigned b = 0; b < 32; b++) {
                const char *n = event_mask_bit_to_string(1U << b);

                if (n && (1U << b) != IN_ISDIR)
                        g_string_append_printf(want, "%s%s", want->len > 0 ? "|" : "", n);
        }
        g_string_append(want, "|IN_ISDIR|0xbfff1000");

        memset(buf, 'X', sizeof(buf));
        event_mask_to_string(UINT32_MAX, buf);
        g_assert_cmpstr(buf, ==, want->str);
        g_assert_cmpuint(strlen(buf), <, EVENT_MASK_STRING_MAX);
        g_string_free(want, true);

        /* Every set of two named bits lists the lower bit first, except that IN_ISDIR goes last. */
        for (unsigned a = 0; a < 32; a++)
                for (unsigned b = a + 1; b < 32; b++) {
                        const char *na = event_mask_bit_to_string(1U << a);
                        const char *nb = event_mask_bit_to_string(1U << b);
                        g_autofree char *expected = NULL;

                        if (!na || !nb)
                                continue;
                        expected = g_strdup_printf("%s|%s", na, nb);
                        g_assert_cmpstr(event_mask_to_string((1U << a) | (1U << b), buf), ==, expected);
                }
}

static void test_mask_to_short_string(void) {
        static const struct {
                uint32_t mask;
                const char *text;
        } cases[] = {
                { 0,                            "" },
                { IN_CLOSE_WRITE,               "close_write" },
                { IN_CREATE | IN_ISDIR,         "create" },     /* IN_ISDIR only qualifies the event */
                { IN_ACCESS | IN_MODIFY,        "modify" },     /* the most significant event bit */
                { IN_MOVED_FROM | IN_MOVED_TO,  "moved_to" },
                { IN_DELETE_SELF | IN_IGNORED,  "ignored" },
                { IN_Q_OVERFLOW,                "q_overflow" },
                { IN_UNMOUNT,                   "unmount" },
                { IN_ISDIR,                     "isdir" },
                { IN_ONESHOT,                   "" },           /* no name at all */
                { IN_ONESHOT | IN_OPEN,         "open" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                g_assert_cmpstr(event_mask_to_short_string(cases[i].mask), ==, cases[i].text);

        /* Each single event bit gives its own short name. */
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (__builtin_popcount(names[i].mask) == 1)
                        g_assert_cmpstr(event_mask_to_short_string(names[i].mask), ==, names[i].short_name);
}

static void test_kind_strings(void) {
        static const char *const expected[_EVENT_KIND_MAX] = {
                "none", "exists", "created", "changed", "deleted", "moved", "overflow",
        };

        for (EventKind k = 0; k < _EVENT_KIND_MAX; k++) {
                g_assert_cmpstr(event_kind_to_string(k), ==, expected[k]);
                g_assert_cmpint(event_kind_from_string(expected[k]), ==, k);
        }

        g_assert_null(event_kind_to_string(_EVENT_KIND_MAX));
        g_assert_null(event_kind_to_string((EventKind) -1));
        g_assert_cmpint(event_kind_from_string("Created"), ==, EVENT_KIND_NONE);
        g_assert_cmpint(event_kind_from_string("IN_CREATE"), ==, EVENT_KIND_NONE);
        g_assert_cmpint(event_kind_from_string(""), ==, EVENT_KIND_NONE);
        g_assert_cmpint(event_kind_from_string(NULL), ==, EVENT_KIND_NONE);
}

static void test_kind_from_mask(void) {
        static const struct {
                uint32_t mask;
                EventKind kind;
        } cases[] = {
                { IN_CREATE,                    EVENT_KIND_CREATED },
                { IN_CREATE | IN_ISDIR,         EVENT_KIND_CREATED },
                { IN_MOVED_TO,                  EVENT_KIND_CREATED },
                { IN_MOVED_TO | IN_ISDIR,       EVENT_KIND_CREATED },
                { IN_CLOSE_WRITE,               EVENT_KIND_CHANGED },
                { IN_ATTRIB,                    EVENT_KIND_CHANGED },
                { IN_ATTRIB | IN_ISDIR,         EVENT_KIND_CHANGED },
                { IN_DELETE,                    EVENT_KIND_DELETED },
                { IN_DELETE | IN_ISDIR,         EVENT_KIND_DELETED },
                { IN_DELETE_SELF,               EVENT_KIND_DELETED },
                { IN_MOVED_FROM,                EVENT_KIND_DELETED },
                { IN_Q_OVERFLOW,                EVENT_KIND_OVERFLOW },
                { 0,                            EVENT_KIND_NONE },
                { IN_MODIFY,                    EVENT_KIND_NONE },      /* wait for the close */
                { IN_ACCESS,                    EVENT_KIND_NONE },
                { IN_OPEN,                      EVENT_KIND_NONE },
                { IN_CLOSE_NOWRITE,             EVENT_KIND_NONE },
                { IN_MOVE_SELF,                 EVENT_KIND_NONE },
                { IN_UNMOUNT,                   EVENT_KIND_NONE },
                { IN_IGNORED,                   EVENT_KIND_NONE },
                { IN_ISDIR,                     EVENT_KIND_NONE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[EVENT_MASK_STRING_MAX];

                g_test_message("kind of %s", event_mask_to_string(cases[i].mask, buf));
                g_assert_cmpint(event_kind_from_mask(cases[i].mask), ==, cases[i].kind);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/event-names/parse/names", test_parse_names);
        g_test_add_func("/event-names/parse/kinds", test_parse_kinds);
        g_test_add_func("/event-names/parse/invalid", test_parse_invalid);
        g_test_add_func("/event-names/parse-list/valid", test_parse_list);
        g_test_add_func("/event-names/parse-list/bad", test_parse_list_bad);
        g_test_add_func("/event-names/suggest/cases", test_suggest);
        g_test_add_func("/event-names/suggest/random", test_suggest_is_valid);
        g_test_add_func("/event-names/mask/bit-to-string", test_mask_bit_to_string);
        g_test_add_func("/event-names/mask/to-string", test_mask_to_string);
        g_test_add_func("/event-names/mask/to-string-order", test_mask_to_string_order);
        g_test_add_func("/event-names/mask/to-short-string", test_mask_to_short_string);
        g_test_add_func("/event-names/kind/strings", test_kind_strings);
        g_test_add_func("/event-names/kind/from-mask", test_kind_from_mask);

        return g_test_run();
}
