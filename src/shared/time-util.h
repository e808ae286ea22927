/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Time spans and timestamps the way systemd writes them: "30", "5min", "1h 30s", "in 25s". */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY (24ULL * USEC_PER_HOUR)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

/* Parses a time span like systemd.time(7): a sum of numbers with units
 * (us, ms, s/sec/second(s), m/min/minute(s), h/hr/hour(s), d/day(s), w/week(s), M/month(s), y/year(s)),
 * whitespace between parts allowed, fractions allowed ("1.5s"). A number without unit is multiplied
 * by default_unit. "infinity" gives USEC_INFINITY. Returns 0, -EINVAL on syntax errors, -ERANGE on
 * overflow. */
int parse_timespan(const char *s, usec_t default_unit, usec_t *ret);

/* "1h 30s", "500ms", "0", "infinity". Newly allocated (free()). */
char *format_timespan(usec_t t);

/* ts and now on the same clock. "in 25s", "3min ago", "now" (within a second), "n/a" when ts == 0.
 * Newly allocated. */
char *format_timestamp_relative(usec_t ts, usec_t now);

usec_t now_usec(clockid_t clock);
