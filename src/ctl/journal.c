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

int journal_show_task(FILE *f, uint64_t id, bool user, unsigned n, bool colors, size_t width) {
        sd_journal *j = NULL;
        char match[64];
        int r, k;

        if (n == 0)
                return 0;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;

        (void) snprintf(match, sizeof(match), "INOTASKD_TASK_ID=%" PRIu64, id);
        r = sd_journal_add_match(j, match, 0);
        if (r >= 0 && user) {
                /* Task ids are per instance: the user's instance logs under our uid. */
                (void) snprintf(match, sizeof(match), "_UID=%u", (unsigned) getuid());
                r = sd_journal_add_match(j, match, 0);
        }
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        if (r >= 0)
                r = sd_journal_previous_skip(j, n);
        if (r <= 0) {
                sd_journal_close(j);
                return r;
        }

        k = r;
        for (int i = 0; i < k; i++) {
                if (i > 0 && sd_journal_next(j) <= 0)
                        break;
                print_entry(f, j, colors, width);
        }
        sd_journal_close(j);
        return k;
}
