/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for time-util: systemd.time(7) spans, their formatting, and relative timestamps. */
#include <errno.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "time-util.h"

#define SEC USEC_PER_SEC
#define MIN_ USEC_PER_MINUTE
#define HOUR USEC_PER_HOUR
#define DAY USEC_PER_DAY
#define WEEK (7 * DAY)
#define MONTH (2629800ULL * SEC)
#define YEAR (31557600ULL * SEC)

typedef struct SpanCase {
        const char *text;
        usec_t default_unit;
        usec_t expected;
} SpanCase;

static void test_parse_valid(void) {
        static const SpanCase cases[] = {
                { "0",                 SEC,  0 },
                { "0s",                SEC,  0 },
                { "30",                SEC,  30 * SEC },
                { "30",                MIN_, 30 * MIN_ },
                { "30",                1,    30 },
                { "5min",              SEC,  5 * MIN_ },
                { "  5min ",           SEC,  5 * MIN_ },
                { "5 min",             SEC,  5 * MIN_ },
                { "1h 30s",            SEC,  HOUR + 30 * SEC },
                { "1h30s",             SEC,  HOUR + 30 * SEC },
                { "1 h 30 s",          SEC,  HOUR + 30 * SEC },
                { "\t1h\n30s\r",       SEC,  HOUR + 30 * SEC },
                { "5min30",            SEC,  5 * MIN_ + 30 * SEC },
                { "1 2",               SEC,  3 * SEC },
                { "1.5s",              SEC,  1500 * USEC_PER_MSEC },
                { "1.5",               SEC,  1500 * USEC_PER_MSEC },
                { "1.5",               MIN_, 90 * SEC },
                { ".5s",               SEC,  500 * USEC_PER_MSEC },
                { "0.5ms",             SEC,  500 },
                { "2.25min",           SEC,  135 * SEC },
                { "1.000001s",         SEC,  SEC + 1 },
                { "1.0000009s",        SEC,  SEC },       /* below a microsecond: truncated */
                { "0.9us",             SEC,  0 },
                { "1.5h",              SEC,  90 * MIN_ },
                { "0.5d",              SEC,  12 * HOUR },
                { "1s.5ms",            SEC,  SEC + 500 },
                { "007s",              SEC,  7 * SEC },
                { "1y 2M 3w 4d 5h 6min 7s 8ms 9us", SEC,
                  YEAR + 2 * MONTH + 3 * WEEK + 4 * DAY + 5 * HOUR + 6 * MIN_ + 7 * SEC + 8000 + 9 },
                { "2h 2h",             SEC,  4 * HOUR },  /* parts add up, repeats included */
                { "infinity",          SEC,  USEC_INFINITY },
                { "  infinity\t",      SEC,  USEC_INFINITY },
                { "18446744073709551614us", SEC, UINT64_MAX - 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                usec_t t = 42;

                g_test_message("parse \"%s\"", cases[i].text);
                g_assert_cmpint(parse_timespan(cases[i].text, cases[i].default_unit, &t), ==, 0);
                g_assert_cmpuint(t, ==, cases[i].expected);
        }
}

static void test_parse_every_unit(void) {
        static const struct {
                const char *unit;
                usec_t usec;
        } units[] = {
                { "us", 1 }, { "usec", 1 }, { "\xc2\xb5s", 1 }, { "\xce\xbcs", 1 },
                { "ms", USEC_PER_MSEC }, { "msec", USEC_PER_MSEC },
                { "s", SEC }, { "sec", SEC }, { "second", SEC }, { "seconds", SEC },
                { "m", MIN_ }, { "min", MIN_ }, { "minute", MIN_ }, { "minutes", MIN_ },
                { "h", HOUR }, { "hr", HOUR }, { "hour", HOUR }, { "hours", HOUR },
                { "d", DAY }, { "day", DAY }, { "days", DAY },
                { "w", WEEK }, { "week", WEEK }, { "weeks", WEEK },
                { "M", MONTH }, { "month", MONTH }, { "months", MONTH },
                { "y", YEAR }, { "year", YEAR }, { "years", YEAR },
        };

        /* A month is a twelfth of a 365.25-day year, as in systemd (systemd.time(7): "30.44 days"). */
        g_assert_cmpuint(12 * MONTH, ==, YEAR);
        g_assert_cmpuint(MONTH, ==, (usec_t) (30.4375 * DAY));

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                g_autofree char *one = g_strdup_printf("1%s", units[i].unit);
                g_autofree char *seven = g_strdup_printf("7 %s", units[i].unit);
                usec_t t;

                g_test_message("unit \"%s\"", units[i].unit);
                g_assert_cmpint(parse_timespan(one, SEC, &t), ==, 0);
                g_assert_cmpuint(t, ==, units[i].usec);
                g_assert_cmpint(parse_timespan(seven, SEC, &t), ==, 0);
                g_assert_cmpuint(t, ==, 7 * units[i].usec);
        }
}

static void test_parse_invalid(void) {
        static const char *const bad[] = {
                "", "   ", "\t\n",
                "-1", "-0", "+5s", "- 5s", "1h -30s", "1h-30s",
                "5 parsecs", "5x", "5 S", "5MIN", "5 Min", "5mins", "5secs", "1hrs", "5 s s",
                "1.2.3s", "1.2.3", "1.", "1.s", "1. s", ".", ".s", "s", "min", "ms5",
                "1,5s", "0x10", "1e3", "5_s", "5s;", "5s,3s",
                "infinity 5s", "5s infinity", "infinityx", "Infinity", "inf", "-infinity",
                "\xc2\xb5", "5\xc2", "5\xffs",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                g_autofree char *shown = g_strescape(bad[i], NULL);  /* keep TAP output UTF-8 */
                usec_t t = 42;

                g_test_message("reject \"%s\"", shown);
                g_assert_cmpint(parse_timespan(bad[i], SEC, &t), ==, -EINVAL);
                g_assert_cmpuint(t, ==, 42);    /* untouched on failure */
        }

        g_assert_cmpint(parse_timespan(NULL, SEC, &(usec_t) { 0 }), ==, -EINVAL);
}

static void test_parse_overflow(void) {
        static const char *const big[] = {
                "18446744073709551616",         /* 2^64 does not fit the number itself */
                "99999999999999999999999999s",
                "18446744073709551615us",       /* UINT64_MAX is reserved for "infinity" */
                "18446744073709551615",
                "584543y",                      /* 2^64 µs is about 584542 years */
                "300000y 300000y",              /* each fits, the sum does not */
                "18446744073709551614us 1us",
                "18446744073709551614.9ms",
                "213503983d",
        };

        for (size_t i = 0; i < ELEMENTSOF(big); i++) {
                usec_t t = 42;

                g_test_message("overflow \"%s\"", big[i]);
                g_assert_cmpint(parse_timespan(big[i], 1, &t), ==, -ERANGE);
                g_assert_cmpuint(t, ==, 42);
        }

        /* Just below the limit still works. */
        usec_t t;
        g_assert_cmpint(parse_timespan("584542y", SEC, &t), ==, 0);
        g_assert_cmpuint(t, ==, 584542 * YEAR);
        g_assert_cmpint(parse_timespan("213503982d", SEC, &t), ==, 0);
        g_assert_cmpuint(t, ==, 213503982ULL * DAY);
}

static void test_format_timespan(void) {
        static const struct {
                usec_t t;
                const char *text;
        } cases[] = {
                { 0,                                 "0" },
                { USEC_INFINITY,                     "infinity" },
                { 1,                                 "1us" },
                { 999,                               "999us" },
                { 500 * USEC_PER_MSEC,               "500ms" },
                { SEC,                               "1s" },
                { SEC + 1,                           "1s 1us" },
                { 1500 * USEC_PER_MSEC,              "1s 500ms" },
                { 30 * SEC,                          "30s" },
                { 123 * SEC,                         "2min 3s" },
                { 5 * MIN_,                          "5min" },
                { HOUR + 30 * SEC,                   "1h 30s" },
                { 90 * MIN_,                         "1h 30min" },
                { DAY,                               "1d" },
                { 2 * DAY + 3 * HOUR,                "2d 3h" },
                { WEEK,                              "1w" },
                { MONTH,                             "1month" },
                { YEAR,                              "1y" },
                { YEAR + 2 * MONTH + 3 * WEEK + 4 * DAY + 5 * HOUR + 6 * MIN_ + 7 * SEC + 8000 + 9,
                  "1y 2month 3w 4d 5h 6min 7s 8ms 9us" },
                { UINT64_MAX - 1,                    "584542y 2w 2d 20h 1min 49s 551ms 614us" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *s = format_timespan(cases[i].t);

                g_assert_cmpstr(s, ==, cases[i].text);
        }
}

static void assert_round_trip(usec_t t) {
        g_autofree char *s = format_timespan(t);
        usec_t back = 0;

        g_assert_nonnull(s);
        g_assert_cmpint(parse_timespan(s, SEC, &back), ==, 0);
        if (back != t)
                g_error("\"%s\" parsed as %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, s, back, t);
}

static void test_format_round_trip(void) {
        static const usec_t fixed[] = {
                0, 1, 999, 1000, 1001, SEC - 1, SEC, MIN_ - 1, HOUR, DAY - 1, WEEK, MONTH - 1, MONTH,
                YEAR - 1, YEAR, YEAR + 1, UINT64_MAX - 1, USEC_INFINITY,
        };

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                assert_round_trip(fixed[i]);

        /* Every magnitude, with random low digits; GTest seeds the generator reproducibly. */
        for (unsigned i = 0; i < 20000; i++) {
                usec_t t = ((usec_t) g_test_rand_int() << 32) | (guint32) g_test_rand_int();

                t >>= g_test_rand_int_range(0, 64);
                if (t == USEC_INFINITY)
                        continue;
                assert_round_trip(t);
        }
}

static void test_relative(void) {
        const usec_t now = 1700000000ULL * SEC;
        static const struct {
                int64_t delta;           /* ts - now */
                const char *text;
        } cases[] = {
                { 0,                                       "now" },
                { 999999,                                  "now" },
                { -999999,                                 "now" },
                { 1 * (int64_t) SEC,                       "in 1s" },
                { -1 * (int64_t) SEC,                      "1s ago" },
                { 25 * (int64_t) SEC,                      "in 25s" },
                { 25 * (int64_t) SEC + 999999,             "in 25s" },  /* truncated, not rounded */
                { -59 * (int64_t) SEC - 999999,            "59s ago" },
                { -3 * (int64_t) MIN_,                     "3min ago" },
                { -(int64_t) (3 * MIN_ + 12 * SEC),        "3min 12s ago" },
                { (int64_t) (2 * MIN_ + 3 * SEC),          "in 2min 3s" },
                { -(int64_t) (HOUR + 5 * MIN_ + 30 * SEC), "1h 5min ago" },
                { (int64_t) (HOUR + 30 * SEC),             "in 1h" },   /* only the two largest units */
                { -(int64_t) (2 * DAY),                    "2d ago" },
                { -(int64_t) (2 * DAY + 3 * HOUR),         "2d 3h ago" },
                { (int64_t) (DAY + 59 * MIN_),             "in 1d" },
                { -(int64_t) (10 * WEEK),                  "2month 1w ago" },
                { -(int64_t) YEAR,                         "1y ago" },
                { (int64_t) (YEAR + MONTH + DAY),          "in 1y 1month" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *s = format_timestamp_relative(now + cases[i].delta, now);

                g_assert_cmpstr(s, ==, cases[i].text);
        }
}

static void test_relative_edges(void) {
        g_autofree char *unset = format_timestamp_relative(0, 1700000000ULL * SEC);
        g_autofree char *unset_now0 = format_timestamp_relative(0, 0);
        g_autofree char *never = format_timestamp_relative(USEC_INFINITY, 1700000000ULL * SEC);
        g_autofree char *from_zero = format_timestamp_relative(5 * SEC, 0);
        g_autofree char *epoch = format_timestamp_relative(1, 54 * YEAR);
        g_autofree char *far = format_timestamp_relative(UINT64_MAX - 1, 1);

        g_assert_cmpstr(unset, ==, "n/a");
        g_assert_cmpstr(unset_now0, ==, "n/a");
        g_assert_cmpstr(never, ==, "n/a");
        g_assert_cmpstr(from_zero, ==, "in 5s");
        g_assert_cmpstr(epoch, ==, "53y 11month ago");
        g_assert_cmpstr(far, ==, "in 584542y");
}

static void test_now(void) {
        usec_t a = now_usec(CLOCK_MONOTONIC), b = now_usec(CLOCK_MONOTONIC);
        usec_t real = now_usec(CLOCK_REALTIME);
        usec_t glib_real = (usec_t) g_get_real_time();

        g_assert_cmpuint(a, >, 0);
        g_assert_cmpuint(b, >=, a);
        g_assert_cmpuint(real, >, 1577836800ULL * SEC);         /* after 2020 */
        g_assert_cmpuint(MAX(real, glib_real) - MIN(real, glib_real), <, 10 * SEC);
        g_assert_cmpuint(now_usec(CLOCK_BOOTTIME), >, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/time-util/parse/valid", test_parse_valid);
        g_test_add_func("/time-util/parse/every-unit", test_parse_every_unit);
        g_test_add_func("/time-util/parse/invalid", test_parse_invalid);
        g_test_add_func("/time-util/parse/overflow", test_parse_overflow);
        g_test_add_func("/time-util/format/timespan", test_format_timespan);
        g_test_add_func("/time-util/format/round-trip", test_format_round_trip);
        g_test_add_func("/time-util/relative/cases", test_relative);
        g_test_add_func("/time-util/relative/edges", test_relative_edges);
        g_test_add_func("/time-util/now", test_now);

        return g_test_run();
}
