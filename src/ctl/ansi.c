/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Deciding on colours the way systemd's tools do, and the colour of each state. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

#include <glib.h>

#include "ansi.h"

int parse_boolean(const char *v) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (g_ascii_strcasecmp(v, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (g_ascii_strcasecmp(v, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

bool colors_enabled(void) {
        static int cached = -1;
        const char *e;

        if (cached >= 0)
                return cached;

        e = getenv("SYSTEMD_COLORS");
        /* systemd also accepts a mode name ("16", "256", "24bit") as "on". */
        if (e && parse_boolean(e) >= 0)
                cached = parse_boolean(e);
        else if (e && (streq(e, "16") || streq(e, "256") || streq(e, "24bit")))
                cached = true;
        else if (getenv("NO_COLOR"))
                cached = false;
        else {
                e = getenv("TERM");
                cached = isatty(STDOUT_FILENO) && !(e && streq(e, "dumb"));
        }
        return cached;
}

const char *task_state_color(const char *state) {
        if (!state)
                return NULL;
        if (streq(state, "running"))
                return ANSI_HIGHLIGHT_GREEN;
        if (streq(state, "failed") || streq(state, "timeout"))
                return ANSI_HIGHLIGHT_RED;
        if (streq(state, "cancelled"))
                return ANSI_YELLOW;
        if (streq(state, "done"))
                return ANSI_GREY;
        return NULL;
}

const char *manager_state_color(const char *state) {
        if (!state)
                return NULL;
        if (streq(state, "ready"))
                return ANSI_HIGHLIGHT_GREEN;
        if (streq(state, "stopping"))
                return ANSI_HIGHLIGHT_RED;
        return ANSI_YELLOW;     /* starting, reloading */
}
