/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: structured journal entries when stderr is the journal, plain lines on stderr otherwise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <syslog.h>

#include "macro.h"

/* The names and meanings of systemd's SYSTEMD_LOG_TARGET= (log_parse_environment()). */
typedef enum LogTarget {
        LOG_TARGET_AUTO,        /* the journal if JOURNAL_STREAM names our stderr; console-prefixed if
                                 * stderr is a stream into journald without it (systemd-cat); else console */
        LOG_TARGET_CONSOLE,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_NULL,
        LOG_TARGET_CONSOLE_PREFIXED,    /* stderr with a "<N>" priority prefix per line */
        LOG_TARGET_KMSG,        /* /dev/kmsg, "<N>inotaskd[pid]: " */
        _LOG_TARGET_MAX,
} LogTarget;

int log_target_from_string(const char *s);
const char *log_target_to_string(LogTarget t);

/* Sets the target (AUTO is resolved here). A kmsg target that cannot be opened falls back to the console
 * and returns -errno; the others return 0. */
int log_setup(LogTarget target);
/* The target asked for last (LOG_TARGET_AUTO if so). */
LogTarget log_get_target(void);
void log_set_max_level(int level);
int log_get_max_level(void);

/* One extra journal field; value is len bytes (need not be UTF-8 or NUL-terminated). */
typedef struct LogField {
        const char *name;       /* "INOTASKD_RULE" */
        const char *value;
        size_t len;             /* (size_t) -1: strlen(value) */
} LogField;

#define LOG_FIELD(n, v) ((LogField) { .name = (n), .value = (v), .len = (size_t) -1 })

/* Returns -abs(error) (or 0 for error 0) so callers can "return log_error_errno(r, ...)". file, line and
 * func are the caller's (CODE_FILE=, CODE_LINE=, CODE_FUNC=); file NULL leaves out the first two. */
int log_internal(int level, int error, const char *message_id, const LogField *fields, size_t n_fields,
                 const char *file, int line, const char *func, const char *fmt, ...) _printf_(9, 10);

#define LOG_LOCATION __FILE__, __LINE__, __func__

#define log_full_errno(level, error, ...)                                               \
        ({                                                                              \
                int _level = (level), _e = (error);                                     \
                log_get_max_level() >= _level                                           \
                        ? log_internal(_level, _e, NULL, NULL, 0, LOG_LOCATION, __VA_ARGS__) \
                        : -abs(_e);                                                     \
        })

#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

/* A structured entry: MESSAGE_ID and extra fields. */
#define log_struct(level, error, message_id, fields, n_fields, ...)                    \
        ({                                                                              \
                int _level = (level), _e = (error);                                     \
                log_get_max_level() >= _level                                           \
                        ? log_internal(_level, _e, (message_id), (fields), (n_fields), LOG_LOCATION, \
                                       __VA_ARGS__)                                     \
                        : -abs(_e);                                                     \
        })
