/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging to the journal (native protocol, with fields) or to stderr as plain lines. */
#include <fcntl.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* Else sd_journal_sendv() is a macro that adds CODE_FILE=log.c and its own line: we pass the caller's. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "escape.h"
#include "log.h"

/* The only process-wide state outside main.c: what every log call needs without being handed a context. */
static LogTarget log_target = LOG_TARGET_CONSOLE;          /* resolved: never AUTO */
static LogTarget log_target_asked = LOG_TARGET_CONSOLE;    /* as given, AUTO included */
static int log_max_level = LOG_INFO;
static int kmsg_fd = -1;

static const char *const log_target_table[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_CONSOLE] = "console",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_NULL] = "null",
        [LOG_TARGET_CONSOLE_PREFIXED] = "console-prefixed",
        [LOG_TARGET_KMSG] = "kmsg",
};

const char *log_target_to_string(LogTarget t) {
        return (unsigned) t < _LOG_TARGET_MAX ? log_target_table[t] : NULL;
}

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

/* Whether stderr is a stream socket into journald's stdout socket: what systemd-cat and a service's
 * StandardError=journal hand us. journald reads a "<N>" prefix there as the line's priority
 * (systemd-cat --level-prefix=yes and SyslogLevelPrefix=yes are the defaults). */
static bool stderr_is_journal_stream_socket(void) {
        struct sockaddr_un sa = {};
        socklen_t len = sizeof sa;
        struct stat st;

        if (fstat(STDERR_FILENO, &st) < 0 || !S_ISSOCK(st.st_mode))
                return false;
        if (getpeername(STDERR_FILENO, (struct sockaddr *) &sa, &len) < 0 || sa.sun_family != AF_UNIX)
                return false;
        return len > offsetof(struct sockaddr_un, sun_path) &&
               strneq(sa.sun_path, "/run/systemd/journal/stdout", sizeof sa.sun_path);
}

int log_setup(LogTarget target) {
        int r = 0;

        log_target_asked = target;
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL
                         : stderr_is_journal_stream_socket() ? LOG_TARGET_CONSOLE_PREFIXED
                                                             : LOG_TARGET_CONSOLE;
        if (target == LOG_TARGET_KMSG && kmsg_fd < 0) {
                kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
                if (kmsg_fd < 0) {
                        r = -errno;
                        target = log_target_asked = LOG_TARGET_CONSOLE;
                }
        } else if (target != LOG_TARGET_KMSG && kmsg_fd >= 0) {
                (void) close(kmsg_fd);
                kmsg_fd = -1;
        }
        log_target = target;
        return r;
}

LogTarget log_get_target(void) {
        return log_target_asked;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

/* "../src/daemon/x.c" (meson's path from the build directory) as "src/daemon/x.c". */
static const char *source_file(const char *file) {
        while (g_str_has_prefix(file, "../") || g_str_has_prefix(file, "./"))
                file = strchr(file, '/') + 1;
        return file;
}

static void write_journal(int level, int error, const char *message_id, const LogField *fields, size_t n_fields,
                          const char *file, int line, const char *func, const char *msg) {
        /* PRIORITY, MESSAGE, SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC, MESSAGE_ID, ERRNO + fields */
        struct iovec iov[64];
        char priority[16], errno_buf[32], line_buf[32];
        g_autofree char *mbuf = NULL, *ibuf = NULL, *fbuf = NULL, *filebuf = NULL;
        g_autofree char **field_bufs = NULL;
        size_t n = 0;

        if (n_fields > ELEMENTSOF(iov) - 8)
                n_fields = ELEMENTSOF(iov) - 8;

        snprintf(priority, sizeof priority, "PRIORITY=%d", level);
        iov[n++] = (struct iovec) { priority, strlen(priority) };
        mbuf = g_strconcat("MESSAGE=", msg, NULL);
        iov[n++] = (struct iovec) { mbuf, strlen(mbuf) };
        iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=inotaskd", strlen("SYSLOG_IDENTIFIER=inotaskd") };
        if (file) {
                filebuf = g_strconcat("CODE_FILE=", source_file(file), NULL);
                iov[n++] = (struct iovec) { filebuf, strlen(filebuf) };
                snprintf(line_buf, sizeof line_buf, "CODE_LINE=%d", line);
                iov[n++] = (struct iovec) { line_buf, strlen(line_buf) };
        }
        if (func) {
                fbuf = g_strconcat("CODE_FUNC=", func, NULL);
                iov[n++] = (struct iovec) { fbuf, strlen(fbuf) };
        }
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

/* One line for a console or kmsg. Messages may quote file names: keep raw control bytes off the terminal,
 * but leave a backslash alone, the callers escaped the names in it already (escape_display()). Most lines
 * are plain ASCII and need no escaping. */
static void write_line(int level, const char *msg) {
        g_autofree char *shown = NULL;
        const char *text = msg;

        if (!controls_are_plain(msg, strlen(msg)))
                text = shown = escape_controls(msg, strlen(msg));

        if (log_target == LOG_TARGET_KMSG) {
                g_autofree char *l = g_strdup_printf("<%d>inotaskd[%d]: %s\n", level, (int) getpid(), text);

                (void) !write(kmsg_fd, l, strlen(l));
        } else if (log_target == LOG_TARGET_CONSOLE_PREFIXED)
                /* The priority is in the prefix, the journal shows it: no "error: " word besides. */
                fprintf(stderr, "<%d>%s\n", level, text);
        else
                fprintf(stderr, "%s%s\n",
                        level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "", text);
}

int log_internal(int level, int error, const char *message_id, const LogField *fields, size_t n_fields,
                 const char *file, int line, const char *func, const char *fmt, ...) {
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
                write_journal(level, error, message_id, fields, n_fields, file, line, func, buf);
        else
                write_line(level, buf);

finish:
        errno = saved_errno;
        return error == 0 ? 0 : -abs(error);
}
