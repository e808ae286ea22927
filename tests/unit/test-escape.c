/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for escape: display escaping round-trips every byte string, JSON escaping, UTF-8 checks. */
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "escape.h"

/* Byte strings with a length, so embedded NULs are part of the input. */
#define B(s) s, sizeof(s) - 1

/* What every escape_display() result must be: valid UTF-8 without any raw control character. */
static void assert_displayable(const char *e) {
        g_assert_true(g_utf8_validate(e, -1, NULL));
        for (const char *p = e; *p; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);

                if (g_unichar_iscntrl(c))
                        g_error("raw control character U+%04X in \"%s\"", c, e);
        }
}

static void assert_round_trip(const char *s, size_t len) {
        g_autofree char *e = escape_display(s, len);
        g_autofree char *back = NULL;
        size_t back_len = 0;

        g_assert_nonnull(e);
        assert_displayable(e);

        back = unescape_display(e, &back_len);
        g_assert_nonnull(back);
        g_assert_cmpmem(back, back_len, s, len);
        g_assert_cmpint(back[back_len], ==, '\0');      /* NUL-terminated as promised */
}

static void test_display_cases(void) {
        static const struct {
                const char *in;
                size_t len;
                const char *out;
        } cases[] = {
                { B(""),                        "" },
                { B("plain/file.txt"),          "plain/file.txt" },
                { B("with space"),              "with space" },
                { B("a\\b"),                    "a\\\\b" },
                { B("\\x41"),                   "\\\\x41" },     /* text that looks like an escape */
                { B("a\nb"),                    "a\\nb" },
                { B("\t\r"),                    "\\t\\r" },
                { B("a\0b"),                    "a\\x00b" },
                { B("\x1b[31mred"),             "\\x1b[31mred" },
                { B("\x01\x1f\x7f"),            "\\x01\\x1f\\x7f" },
                { B("h\xc3\xa9llo"),            "h\xc3\xa9llo" },        /* é stays */
                { B("\xe2\x82\xac"),            "\xe2\x82\xac" },        /* € */
                { B("\xf0\x9f\x98\x80"),        "\xf0\x9f\x98\x80" },    /* U+1F600 */
                { B("\xf4\x8f\xbf\xbf"),        "\xf4\x8f\xbf\xbf" },    /* U+10FFFF */
                { B("\xc2\xa0"),                "\xc2\xa0" },            /* NBSP is no control */
                { B("\xc2\x9b"),                "\\xc2\\x9b" },          /* C1 control CSI */
                { B("\xc2\x80"),                "\\xc2\\x80" },
                { B("\xff\xfe"),                "\\xff\\xfe" },
                { B("\x80"),                    "\\x80" },               /* lone continuation byte */
                { B("a\x80z"),                  "a\\x80z" },
                { B("\xc3"),                    "\\xc3" },               /* truncated sequence */
                { B("\xc3("),                   "\\xc3(" },
                { B("\xe2\x82" "A"),            "\\xe2\\x82A" },
                { B("\xc0\xaf"),                "\\xc0\\xaf" },          /* overlong '/' */
                { B("\xc1\xbf"),                "\\xc1\\xbf" },
                { B("\xe0\x80\xaf"),            "\\xe0\\x80\\xaf" },     /* overlong, 3 bytes */
                { B("\xf0\x80\x80\xaf"),        "\\xf0\\x80\\x80\\xaf" },
                { B("\xed\xa0\x80"),            "\\xed\\xa0\\x80" },     /* surrogate U+D800 */
                { B("\xf4\x90\x80\x80"),        "\\xf4\\x90\\x80\\x80" }, /* above U+10FFFF */
                { B("\xf8\x88\x80\x80\x80"),    "\\xf8\\x88\\x80\\x80\\x80" },
                { B("\xff\xc3\xa9"),            "\\xff\xc3\xa9" },       /* a bad byte, then é */
                { B("\xc3\xc3\xa9"),            "\\xc3\xc3\xa9" },       /* cut sequence, then é */
                { B("\xed\x9f\xbf"),            "\xed\x9f\xbf" },        /* U+D7FF, below surrogates */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *e = escape_display(cases[i].in, cases[i].len);

                g_assert_cmpstr(e, ==, cases[i].out);
                assert_round_trip(cases[i].in, cases[i].len);
        }

        /* Only the length counts, not a NUL: nothing is read beyond len. */
        g_autofree char *cut = escape_display("abcdef", 3);
        g_assert_cmpstr(cut, ==, "abc");
        g_autofree char *none = escape_display(NULL, 0);
        g_assert_cmpstr(none, ==, "");
}

static void test_display_all_single_bytes(void) {
        for (unsigned b = 0; b < 256; b++) {
                char c = (char) b;
                g_autofree char *e = escape_display(&c, 1);

                assert_round_trip(&c, 1);
                /* Printable ASCII other than the backslash is the only byte shown as itself. */
                if (b >= 0x20 && b < 0x7f && b != '\\')
                        g_assert_cmpuint(strlen(e), ==, 1);
                else
                        g_assert_cmpint(e[0], ==, '\\');
        }
}

static void test_display_all_byte_pairs(void) {
        for (unsigned i = 0; i < 65536; i++) {
                char s[2] = { (char) (i >> 8), (char) (i & 0xff) };

                assert_round_trip(s, 2);
        }
}

static void test_display_random(void) {
        /* Random bytes, and random mixes of fragments that are likely to meet at odd places. */
        static const char *const fragments[] = {
                "\\", "\\x", "x4", "n", "\n", "\xc3", "\xa9", "\xe2\x82", "\xac", "\xf0\x9f", "\x98\x80",
                "\xed\xa0\x80", "\xc2\x9b", "a", "/", "\xff",
        };

        for (unsigned n = 0; n < 5000; n++) {
                char buf[48];
                size_t len = g_test_rand_int_range(0, sizeof(buf));

                for (size_t i = 0; i < len; i++)
                        buf[i] = (char) g_test_rand_int_range(0, 256);
                assert_round_trip(buf, len);
        }

        for (unsigned n = 0; n < 5000; n++) {
                g_autoptr(GString) s = g_string_new(NULL);
                int parts = g_test_rand_int_range(0, 12);

                for (int i = 0; i < parts; i++)
                        g_string_append(s, fragments[g_test_rand_int_range(0, ELEMENTSOF(fragments))]);
                assert_round_trip(s->str, s->len);
        }
}

/* The console log: a name escaped by escape_display() goes through escape_controls() unchanged (its
 * backslashes once, not twice), a raw control byte or invalid byte of the rest is still escaped. */
static void test_controls(void) {
        static const char name[] = "t\tx\\y\xff";          /* tab, backslash, invalid byte */
        g_autofree char *once = escape_display(B(name));
        g_autofree char *console = escape_controls(once, strlen(once));
        g_autofree char *raw = escape_controls(B("a\\b\tc\xff\x1b"));

        g_assert_cmpstr(once, ==, "t\\tx\\\\y\\xff");
        g_assert_cmpstr(console, ==, once);
        g_assert_true(controls_are_plain(once, strlen(once)));
        g_assert_false(display_is_plain(once, strlen(once)));
        g_assert_cmpstr(raw, ==, "a\\b\\tc\\xff\\x1b");
        assert_displayable(raw);
        g_assert_false(controls_are_plain(B("a\tb")));
}

static void test_unescape(void) {
        static const struct {
                const char *in;
                const char *out;
                size_t len;
        } good[] = {
                { "",                   B("") },
                { "plain",              B("plain") },
                { "h\xc3\xa9",          B("h\xc3\xa9") },        /* unescaped text passes as it is */
                { "\\\\",               B("\\") },
                { "\\n\\t\\r",          B("\n\t\r") },
                { "\\x41\\x42",         B("AB") },
                { "\\x00",              B("\0") },
                { "a\\x00b",            B("a\0b") },
                { "\\xff\\xFE",         B("\xff\xfe") },         /* either case of hex digit */
                { "\\x411",             B("A1") },               /* exactly two digits */
                { "\\\\x41",            B("\\x41") },
        };
        static const char *const bad[] = {
                "\\", "abc\\", "\\q", "\\N", "\\T", "\\0", "\\a", "\\\"", "\\u0041", "\\X41",
                "\\x", "\\x4", "\\xg0", "\\x4g", "\\x 1", "ok\\x", "ok\\x4", "\\\\\\",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                size_t len = 99;
                g_autofree char *s = unescape_display(good[i].in, &len);

                g_assert_nonnull(s);
                g_assert_cmpmem(s, len, good[i].out, good[i].len);
                g_assert_cmpint(s[len], ==, '\0');
        }

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                size_t len = 99;

                g_test_message("malformed \"%s\"", bad[i]);
                g_assert_null(unescape_display(bad[i], &len));
                g_assert_cmpuint(len, ==, 99);
        }

        /* The length is optional. */
        g_autofree char *s = unescape_display("\\x41", NULL);
        g_assert_cmpstr(s, ==, "A");
}

static void test_json(void) {
        static const struct {
                const char *in;
                const char *out;
        } cases[] = {
                { "",                   "" },
                { "plain",              "plain" },
                { "a\"b",               "a\\\"b" },
                { "\\",                 "\\\\" },
                { "C:\\dir\\\"x\"",     "C:\\\\dir\\\\\\\"x\\\"" },
                { "\n\t\r\b\f",         "\\n\\t\\r\\b\\f" },
                { "\x01",               "\\u0001" },
                { "\x1b[0m",            "\\u001b[0m" },
                { "\x1f",               "\\u001f" },
                { "\x0b",               "\\u000b" },
                { "\x7f",               "\x7f" },                /* DEL needs no escape in JSON */
                { "/path/",             "/path/" },              /* '/' needs none either */
                { "h\xc3\xa9 \xe2\x82\xac", "h\xc3\xa9 \xe2\x82\xac" },
                { "'single'",           "'single'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *j = escape_json(cases[i].in);

                g_assert_cmpstr(j, ==, cases[i].out);
        }

        /* Every control character is escaped; nothing below 0x20 survives. */
        for (unsigned c = 1; c < 0x20; c++) {
                char in[2] = { (char) c, '\0' };
                g_autofree char *j = escape_json(in);

                g_assert_cmpint(j[0], ==, '\\');
                for (const char *p = j; *p; p++)
                        g_assert_cmpuint((unsigned char) *p, >=, 0x20);
                if (!strchr("\n\t\r\b\f", c)) {
                        g_autofree char *want = g_strdup_printf("\\u%04x", c);
                        g_assert_cmpstr(j, ==, want);
                }
        }
}

static void test_utf8_cases(void) {
        static const struct {
                const char *s;
                size_t len;
        } valid[] = {
                { B("") }, { B("abc") }, { B("h\xc3\xa9") }, { B("\xe2\x82\xac") },
                { B("\xf0\x9f\x98\x80") },
                { B("\xc2\x80") },              /* U+0080, the smallest 2-byte form */
                { B("\xdf\xbf") },              /* U+07FF */
                { B("\xe0\xa0\x80") },          /* U+0800, the smallest 3-byte form */
                { B("\xed\x9f\xbf") },          /* U+D7FF */
                { B("\xee\x80\x80") },          /* U+E000 */
                { B("\xef\xbf\xbf") },          /* U+FFFF */
                { B("\xf0\x90\x80\x80") },      /* U+10000 */
                { B("\xf4\x8f\xbf\xbf") },      /* U+10FFFF */
                { B("a\0b") },                  /* U+0000 is valid UTF-8 */
        };
        static const struct {
                const char *s;
                size_t len;
        } invalid[] = {
                { B("\x80") }, { B("\xbf") }, { B("a\x80") },           /* lone continuation */
                { B("\xc3") }, { B("\xe2\x82") }, { B("\xf0\x9f\x98") }, /* truncated */
                { B("\xc3" "a") }, { B("\xe2\x28\xa1") },               /* bad continuation */
                { B("\xc0\x80") }, { B("\xc0\xaf") }, { B("\xc1\xbf") }, /* overlong, 2 bytes */
                { B("\xe0\x80\xaf") }, { B("\xe0\x9f\xbf") },           /* overlong, 3 bytes */
                { B("\xf0\x80\x80\xaf") }, { B("\xf0\x8f\xbf\xbf") },   /* overlong, 4 bytes */
                { B("\xed\xa0\x80") }, { B("\xed\xbf\xbf") },           /* surrogates */
                { B("\xed\xa0\xbd\xed\xb8\x80") },                      /* CESU-8 surrogate pair */
                { B("\xf4\x90\x80\x80") }, { B("\xf5\x80\x80\x80") },   /* above U+10FFFF */
                { B("\xf8\x88\x80\x80\x80") }, { B("\xfc\x84\x80\x80\x80\x80") },
                { B("\xfe") }, { B("\xff") }, { B("\xff\xfe") },
        };

        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                g_assert_true(utf8_is_valid(valid[i].s, valid[i].len));
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                g_assert_false(utf8_is_valid(invalid[i].s, invalid[i].len));

        /* The length is honoured: a sequence cut by it is invalid, bytes after it are not read. */
        g_assert_false(utf8_is_valid("\xc3\xa9", 1));
        g_assert_true(utf8_is_valid("ab\xff", 2));
        g_assert_true(utf8_is_valid(NULL, 0));
}

static void test_utf8_matches_glib(void) {
        /* GLib's validator agrees on everything without a NUL (it stops at one): every 1- and 2-byte
         * string, and every 3-byte string whose first byte is not ASCII. */
        for (unsigned i = 1; i < 256; i++) {
                char s[1] = { (char) i };
                g_assert_cmpint(utf8_is_valid(s, 1), ==, g_utf8_validate_len(s, 1, NULL));
        }
        for (unsigned i = 0; i < 65536; i++) {
                char s[2] = { (char) (i >> 8), (char) (i & 0xff) };

                if (s[0] == 0 || s[1] == 0)
                        continue;
                g_assert_cmpint(utf8_is_valid(s, 2), ==, g_utf8_validate_len(s, 2, NULL));
        }
        for (unsigned a = 0x80; a < 256; a++)
                for (unsigned i = 0; i < 65536; i++) {
                        char s[3] = { (char) a, (char) (i >> 8), (char) (i & 0xff) };

                        if (s[1] == 0 || s[2] == 0)
                                continue;
                        if (utf8_is_valid(s, 3) != g_utf8_validate_len(s, 3, NULL))
                                g_error("disagree on %02x %02x %02x", a, i >> 8, i & 0xff);
                }
        for (unsigned n = 0; n < 200000; n++) {
                char s[4];

                /* Lead bytes F0..F4 and continuation-range bytes, where the 4-byte rules bite. */
                s[0] = (char) g_test_rand_int_range(0xf0, 0xf8);
                for (int k = 1; k < 4; k++)
                        s[k] = (char) g_test_rand_int_range(0x70, 0xc8);
                if (utf8_is_valid(s, 4) != g_utf8_validate_len(s, 4, NULL))
                        g_error("disagree on %02x %02x %02x %02x", (guint8) s[0], (guint8) s[1],
                                (guint8) s[2], (guint8) s[3]);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/escape/display/cases", test_display_cases);
        g_test_add_func("/escape/display/all-single-bytes", test_display_all_single_bytes);
        g_test_add_func("/escape/display/all-byte-pairs", test_display_all_byte_pairs);
        g_test_add_func("/escape/display/random", test_display_random);
        g_test_add_func("/escape/controls", test_controls);
        g_test_add_func("/escape/unescape", test_unescape);
        g_test_add_func("/escape/json", test_json);
        g_test_add_func("/escape/utf8/cases", test_utf8_cases);
        g_test_add_func("/escape/utf8/matches-glib", test_utf8_matches_glib);

        return g_test_run();
}
