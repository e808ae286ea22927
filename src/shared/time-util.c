/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parsing and formatting time spans and relative timestamps with systemd.time(7)'s syntax. */
#include <inttypes.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "time-util.h"

/* systemd's own definitions: a year is 365.25 days and a month a twelfth of it (30.4375 days, which
 * systemd.time(7) rounds to "30.44 days"), so that 12 months make exactly one year. */
#define USEC_PER_WEEK (7ULL * USEC_PER_DAY)
#define USEC_PER_MONTH (2629800ULL * USEC_PER_SEC)
#define USEC_PER_YEAR (31557600ULL * USEC_PER_SEC)

typedef struct TimeUnit {
        const char *name;
        usec_t usec;
} TimeUnit;

static const TimeUnit parse_units[] = {
        { "us",      1               },
        { "usec",    1               },
        { "\xc2\xb5s", 1             },     /* MICRO SIGN, as systemd accepts it */
        { "\xce\xbcs", 1             },     /* GREEK SMALL LETTER MU */
        { "ms",      USEC_PER_MSEC   },
        { "msec",    USEC_PER_MSEC   },
        { "s",       USEC_PER_SEC    },
        { "sec",     USEC_PER_SEC    },
        { "second",  USEC_PER_SEC    },
        { "seconds", USEC_PER_SEC    },
        { "m",       USEC_PER_MINUTE },
        { "min",     USEC_PER_MINUTE },
        { "minute",  USEC_PER_MINUTE },
        { "minutes", USEC_PER_MINUTE },
        { "h",       USEC_PER_HOUR   },
        { "hr",      USEC_PER_HOUR   },
        { "hour",    USEC_PER_HOUR   },
        { "hours",   USEC_PER_HOUR   },
        { "d",       USEC_PER_DAY    },
        { "day",     USEC_PER_DAY    },
        { "days",    USEC_PER_DAY    },
        { "w",       USEC_PER_WEEK   },
        { "week",    USEC_PER_WEEK   },
        { "weeks",   USEC_PER_WEEK   },
        { "M",       USEC_PER_MONTH  },
        { "month",   USEC_PER_MONTH  },
        { "months",  USEC_PER_MONTH  },
        { "y",       USEC_PER_YEAR   },
        { "year",    USEC_PER_YEAR   },
        { "years",   USEC_PER_YEAR   },
};

/* Largest first; every suffix here is also accepted by parse_timespan(), so output round-trips. */
static const TimeUnit format_units[] = {
        { "y",     USEC_PER_YEAR   },
        { "month", USEC_PER_MONTH  },
        { "w",     USEC_PER_WEEK   },
        { "d",     USEC_PER_DAY    },
        { "h",     USEC_PER_HOUR   },
        { "min",   USEC_PER_MINUTE },
        { "s",     USEC_PER_SEC    },
        { "ms",    USEC_PER_MSEC   },
        { "us",    1               },
};

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_unit_char(char c) {
        /* Letters, plus the high bytes of "µs"/"μs"; a unit ends at the first other byte. */
        return g_ascii_isalpha(c) || (unsigned char) c >= 0x80;
}

static const char *skip_space(const char *p) {
        while (is_space(*p))
                p++;
        return p;
}

static int lookup_unit(const char *name, size_t len, usec_t *ret) {
        for (size_t i = 0; i < ELEMENTSOF(parse_units); i++)
                if (strlen(parse_units[i].name) == len && strneq(parse_units[i].name, name, len)) {
                        *ret = parse_units[i].usec;
                        return 0;
                }
        return -EINVAL;
}

static bool add_overflows(usec_t a, usec_t b, usec_t *ret) {
        /* USEC_INFINITY is reserved for "infinity", so reaching it counts as an overflow too. */
        if (b >= USEC_INFINITY - a)
                return true;
        *ret = a + b;
        return false;
}

static bool is_infinity(const char *s) {
        const char *p = skip_space(s);
        size_t n = strlen("infinity");

        return strneq(p, "infinity", n) && *skip_space(p + n) == '\0';
}

int parse_timespan(const char *s, usec_t default_unit, usec_t *ret) {
        usec_t total = 0;
        bool something = false;
        const char *p;

        if (!s || !ret)
                return -EINVAL;

        if (is_infinity(s)) {
                *ret = USEC_INFINITY;
                return 0;
        }

        for (p = skip_space(s); *p != '\0'; p = skip_space(p)) {
                const char *int_start = p, *frac_start = NULL, *frac_end = NULL, *num_end, *unit_start;
                usec_t value = 0, multiplier = default_unit, part, frac = 0;

                while (g_ascii_isdigit(*p)) {
                        usec_t digit = (usec_t) (*p - '0');

                        if (value > (UINT64_MAX - digit) / 10)
                                return -ERANGE;
                        value = value * 10 + digit;
                        p++;
                }
                if (*p == '.') {
                        frac_start = ++p;
                        while (g_ascii_isdigit(*p))
                                p++;
                        frac_end = p;
                        /* "3." and "3.s" are as suspicious as systemd considers them. */
                        if (frac_end == frac_start)
                                return -EINVAL;
                } else if (p == int_start)
                        return -EINVAL;   /* no digits: "-1", "s", "+5s", … */

                /* Whitespace may separate a number from its unit: "5 min". */
                num_end = p;
                unit_start = skip_space(num_end);
                p = unit_start;
                while (is_unit_char(*p))
                        p++;
                if (p > unit_start) {
                        if (lookup_unit(unit_start, p - unit_start, &multiplier) < 0)
                                return -EINVAL;
                } else
                        p = unit_start = num_end;

                /* A part ends in whitespace, the end, or the next part's number ("1h30s"); a number
                 * glued to another without a unit ("1.2.3s", "5-3") is a syntax error. */
                if (*p != '\0' && !is_space(*p) && !(p > unit_start && g_ascii_isdigit(*p)) &&
                    !(p > unit_start && *p == '.'))
                        return -EINVAL;

                if (multiplier != 0 && value > UINT64_MAX / multiplier)
                        return -ERANGE;
                part = value * multiplier;

                /* Digit by digit, so that the fraction is exact down to the microsecond without
                 * floating point: every multiplier above a second is a multiple of 10⁶. */
                if (frac_start) {
                        usec_t m = multiplier / 10;

                        for (const char *f = frac_start; f < frac_end && m > 0; f++, m /= 10)
                                frac += (usec_t) (*f - '0') * m;
                }

                if (add_overflows(part, frac, &part) || add_overflows(total, part, &total))
                        return -ERANGE;
                something = true;
        }

        if (!something)
                return -EINVAL;

        *ret = total;
        return 0;
}

char *format_timespan(usec_t t) {
        GString *s;

        if (t == USEC_INFINITY)
                return g_strdup("infinity");
        if (t == 0)
                return g_strdup("0");

        s = g_string_new(NULL);
        for (size_t i = 0; i < ELEMENTSOF(format_units) && t > 0; i++) {
                usec_t n = t / format_units[i].usec;

                if (n == 0)
                        continue;
                g_string_append_printf(s, "%s%" PRIu64 "%s", s->len > 0 ? " " : "", n, format_units[i].name);
                t -= n * format_units[i].usec;
        }

        return g_string_free(s, false);
}

char *format_timestamp_relative(usec_t ts, usec_t now) {
        usec_t d;
        bool future;

        /* USEC_INFINITY is "not set" just as 0 is, and has no sensible distance from now. */
        if (ts == 0 || ts == USEC_INFINITY)
                return g_strdup("n/a");

        future = ts > now;
        d = future ? ts - now : now - ts;
        if (d < USEC_PER_SEC)
                return g_strdup("now");

        /* Like systemctl: the largest unit that fits, and the next smaller one unless it is zero
         * ("1h 5min ago", "3min ago"). Seconds are the smallest unit shown, so d >= 1s always finds
         * a unit before the loop ends at "s". */
        size_t i = 0;
        while (d < format_units[i].usec && format_units[i].usec > USEC_PER_SEC)
                i++;

        usec_t major = format_units[i].usec, n = d / major, m = 0;
        if (major > USEC_PER_SEC)
                m = (d % major) / format_units[i + 1].usec;

        if (m > 0)
                return g_strdup_printf("%s%" PRIu64 "%s %" PRIu64 "%s%s",
                                       future ? "in " : "", n, format_units[i].name,
                                       m, format_units[i + 1].name, future ? "" : " ago");
        return g_strdup_printf("%s%" PRIu64 "%s%s",
                               future ? "in " : "", n, format_units[i].name, future ? "" : " ago");
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        /* Fails only for an invalid clock id, which is a programming error. */
        if (clock_gettime(clock, &ts) < 0)
                abort();

        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}
