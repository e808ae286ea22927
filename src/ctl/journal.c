/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a task's entries from the local journal (sd-journal), newest n, printed oldest first. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "macro.h"

#include <glib.h>

#include "ansi.h"
#include "journal.h"
#include "table.h"

/* A field's value (after "NAME="), or NULL; newly allocated. */
static char *field(sd_journal *j, const char *name) {
        const void *data;
        size_t len, n = strlen(name);

        if (sd_journal_get_data(j, name, &data, &len) < 0 || len <= n)
                return NULL;
        return g_strndup((const char *) data + n + 1, len - n - 1);
}

static void print_entry(FILE *f, sd_journal *j, bool colors, size_t width) {
        g_autofree char *message = field(j, "MESSAGE"), *ident = field(j, "SYSLOG_IDENTIFIER"),
                        *pid = field(j, "_PID"), *host = field(j, "_HOSTNAME"),
                        *prio = field(j, "PRIORITY"), *text = NULL, *prefix = NULL;
        const char *color = NULL;
        uint64_t usec = 0;
        char when[64] = "";

        if (!ident)
                ident = field(j, "_COMM");
        if (sd_journal_get_realtime_usec(j, &usec) >= 0) {
                time_t t = usec / 1000000;
                struct tm tm;

                if (localtime_r(&t, &tm))
                        (void) strftime(when, sizeof(when), "%b %d %H:%M:%S", &tm);
        }
        if (colors && prio && prio[0] >= '0' && prio[0] <= '9' && !prio[1]) {
                int p = prio[0] - '0';
                color = p <= LOG_ERR ? ANSI_HIGHLIGHT_RED : p == LOG_WARNING ? ANSI_YELLOW : NULL;
        }

        /* Output lines of tasks are what any program wrote: one line, control characters escaped. */
        text = table_sanitize(message ? message : "");
        prefix = g_strdup_printf("%s %s %s%s%s%s: ", when, host ? host : "localhost", ident ? ident : "?",
                                 pid ? "[" : "", strempty(pid), pid ? "]" : "");
        if (width > 0) {
                size_t used = utf8_display_width(prefix);
                /* At least a few columns of the message, even on a narrow terminal. */
                g_autofree char *cut = ellipsize(text, width > used + 8 ? width - used : 8, false);

                g_free(text);
                text = g_steal_pointer(&cut);
        }
        fprintf(f, "%s%s%s%s\n", prefix, strempty(color), text, color ? ANSI_NORMAL : "");
}

/* The entries of the task, and of its unit if it has one, as systemctl status matches a unit's: what the
 * unit's processes logged (the LogExtraFields= of the unit give those INOTASKD_TASK_ID too) and what its
 * service manager said about it (started, deactivated, failed). As the user's instance, only entries of
 * our own uid: task ids and unit names are per instance. */
static int add_matches(sd_journal *j, uint64_t id, bool user, const char *unit) {
        g_autofree char *task = g_strdup_printf("INOTASKD_TASK_ID=%" PRIu64, id),
                        *uid = g_strdup_printf("_UID=%u", (unsigned) getuid()), *own = NULL, *manager = NULL;
        int r;

        r = sd_journal_add_match(j, task, 0);
        if (r >= 0 && user)
                r = sd_journal_add_match(j, uid, 0);
        if (r < 0 || isempty(unit))
                return r;

        own = g_strconcat(user ? "_SYSTEMD_USER_UNIT=" : "_SYSTEMD_UNIT=", unit, NULL);
        manager = g_strconcat(user ? "USER_UNIT=" : "UNIT=", unit, NULL);
        r = sd_journal_add_disjunction(j);
        if (r >= 0)
                r = sd_journal_add_match(j, own, 0);
        if (r >= 0 && user)
                r = sd_journal_add_match(j, uid, 0);
        if (r >= 0)
                r = sd_journal_add_disjunction(j);
        if (r >= 0)
                r = sd_journal_add_match(j, manager, 0);
        /* The user's manager logs as the user; the system's is PID 1. */
        if (r >= 0)
                r = sd_journal_add_match(j, user ? uid : "_PID=1", 0);
        return r;
}

/* The entry at the read pointer is one of the task's: not older than the task (an id, and so a unit
 * name, may come again after the daemon's state was reset). */
static bool entry_is_current(sd_journal *j, uint64_t since) {
        uint64_t usec;

        return since == 0 || (sd_journal_get_realtime_usec(j, &usec) >= 0 && usec >= since);
}

int journal_show_task(FILE *f, uint64_t id, bool user, const char *unit, uint64_t since, unsigned n,
                      bool colors, size_t width) {
        sd_journal *j = NULL;
        bool older = false;
        unsigned k = 0;
        int r;

        if (n == 0)
                return 0;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;

        r = add_matches(j, id, user, unit);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        /* Back over the newest n entries, stopping at one older than the task. */
        while (r >= 0 && k < n) {
                r = sd_journal_previous(j);
                if (r <= 0)
                        break;
                if (!entry_is_current(j, since)) {
                        older = true;
                        break;
                }
                k++;
        }
        if (r < 0) {
                sd_journal_close(j);
                return r;
        }

        for (unsigned i = 0; i < k; i++) {
                if ((i > 0 || older) && sd_journal_next(j) <= 0)
                        break;
                print_entry(f, j, colors, width);
        }
        sd_journal_close(j);
        return (int) k;
}
