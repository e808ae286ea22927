/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging to the journal (native protocol, with fields) or to stderr as plain lines. */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "escape.h"
#include "log.h"

/* The only process-wide state outside main.c: what every log call needs without being handed a context. */
static LogTarget log_target = LOG_TARGET_CONSOLE;
static int log_max_level = LOG_INFO;

static const char *const log_target_table[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_CONSOLE] = "console",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_NULL] = "null",
};

int log_target_from_string(const char *s) {
        for (int i = 0; i < _LOG_TARGET_MAX; i++)
                if (streq(log_target_table[i], s))
                        return i;
        return -EINVAL;
}

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void log_setup(LogTarget target) {
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        log_target = target;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

static void write_journal(int level, int error, const char *message_id, const LogField *fields, size_t n_fields,
                          const char *func, const char *msg) {
        /* PRIORITY, MESSAGE, SYSLOG_IDENTIFIER, CODE_FUNC, MESSAGE_ID, ERRNO + fields */
        struct iovec iov[64];
        char priority[16], errno_buf[32];
        g_autofree char *mbuf = NULL, *ibuf = NULL, *fbuf = NULL;
        g_autofree char **field_bufs = NULL;
        size_t n = 0;

        if (n_fields > ELEMENTSOF(iov) - 6)
                n_fields = ELEMENTSOF(iov) - 6;

        snprintf(priority, sizeof priority, "PRIORITY=%d", level);
        iov[n++] = (struct iovec) { priority, strlen(priority) };
        mbuf = g_strconcat("MESSAGE=", msg, NULL);
        iov[n++] = (struct iovec) { mbuf, strlen(mbuf) };
        iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=inotaskd", strlen("SYSLOG_IDENTIFIER=inotaskd") };
        fbuf = g_strconcat("CODE_FUNC=", func, NULL);
        iov[n++] = (struct iovec) { fbuf, strlen(fbuf) };
        if (message_id) {
                ibuf = g_strconcat("MESSAGE_ID=", message_id, NULL);
                iov[n++] = (struct iovec) { ibuf, strlen(ibuf) };
        }
        if (error != 0) {
                snprintf(errno_buf, sizeof errno_buf, "ERRNO=%d", abs(error));
                iov[n++] = (struct iovec) { errno_buf, strlen(errno_buf) };
        }

        field_bufs = g_new0(char *, n_fields + 1);
        for (size_t i = 0; i < n_fields; i++) {
                size_t nl = strlen(fields[i].name);
                size_t vl = fields[i].len == (size_t) -1 ? strlen(strempty(fields[i].value)) : fields[i].len;
                char *b = g_malloc(nl + 1 + vl);

                memcpy(b, fields[i].name, nl);
                b[nl] = '=';
                if (vl > 0)
                        memcpy(b + nl + 1, fields[i].value, vl);
                field_bufs[i] = b;
                iov[n++] = (struct iovec) { b, nl + 1 + vl };
        }

        (void) sd_journal_sendv(iov, (int) n);

        for (size_t i = 0; i < n_fields; i++)
                g_free(field_bufs[i]);
}

int log_internal(int level, int error, const char *message_id, const LogField *fields, size_t n_fields,
                 const char *func, const char *fmt, ...) {
        int saved_errno = errno;
        char stack_buf[2048], *buf = stack_buf;
        g_autofree char *big = NULL;
        va_list ap, again;
        int n;

        if (log_target == LOG_TARGET_NULL)
                goto finish;

        /* %m prints the given error, not whatever errno happens to be. A message longer than the buffer
         * (a task's long path) is formatted again in full rather than cut. */
        errno = abs(error);
        va_start(ap, fmt);
        va_copy(again, ap);
        n = vsnprintf(stack_buf, sizeof stack_buf, fmt, ap);
        if (n >= (int) sizeof stack_buf) {
                errno = abs(error);
                if (vasprintf(&big, fmt, again) >= 0)
                        buf = big;
                else
                        big = NULL;     /* undefined after a failure: keep the cut message */
        }
        va_end(again);
        va_end(ap);

        if (log_target == LOG_TARGET_JOURNAL)
                write_journal(level, error, message_id, fields, n_fields, func, buf);
        else {
                /* Messages may quote file names: keep the console free of raw control bytes. Most lines
                 * are plain ASCII and need no escaping. */
                const char *prefix = level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "";

                if (display_is_plain(buf, strlen(buf)))
                        fprintf(stderr, "%s%s\n", prefix, buf);
                else {
                        g_autofree char *shown = escape_display(buf, strlen(buf));

                        fprintf(stderr, "%s%s\n", prefix, shown);
                }
        }

finish:
        errno = saved_errno;
        return error == 0 ? 0 : -abs(error);
}
