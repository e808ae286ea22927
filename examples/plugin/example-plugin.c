/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An example inotaskd plugin: appends "EVENT PATH" lines to the file named by the rule's Output= key,
 * with an optional Prefix=, and logs a structured line per task. With HoldSec=N it first waits N seconds
 * (a slow task, for trying out a cancel): cancel() ends the wait, and the line is not written.
 *
 *   [Rule note]
 *   Watch=inbox
 *   On=created
 *   Action=plugin
 *   Plugin=/usr/lib/x86_64-linux-gnu/inotaskd/plugins/inotaskd-example-plugin.so
 *   Output=/var/log/inbox.log
 *   Prefix=new:
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inotaskd-plugin.h"

/* A run() waiting out HoldSec=, until its deadline or a cancel. */
typedef struct Waiter {
        uint64_t task_id;
        bool cancelled;
        struct Waiter *next;
} Waiter;

typedef struct State {
        char *output;
        char *prefix;
        long hold_sec;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        Waiter *waiters;
} State;

static void *example_init(const InotaskdPluginConfig *config, const InotaskdPluginLogger *logger, char **error) {
        const char *output = inotaskd_plugin_config_get(config, "Output");
        const char *prefix = inotaskd_plugin_config_get(config, "Prefix");
        const char *hold = inotaskd_plugin_config_get(config, "HoldSec");
        long hold_sec = 0;
        char *end = NULL;
        State *s;

        if (!output || output[0] != '/') {
                *error = strdup("Output= must name an absolute file");
                return NULL;
        }
        if (hold) {
                errno = 0;
                hold_sec = strtol(hold, &end, 10);
                if (errno != 0 || end == hold || *end || hold_sec < 0 || hold_sec > 86400) {
                        *error = strdup("HoldSec= must be a number of seconds (0-86400)");
                        return NULL;
                }
        }
        s = calloc(1, sizeof *s);
        if (!s) {
                *error = strdup("out of memory");
                return NULL;
        }
        s->output = strdup(output);
        s->prefix = strdup(prefix ? prefix : "");
        s->hold_sec = hold_sec;
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->changed, &ca);
        pthread_condattr_destroy(&ca);
        logger->log(logger, 6, (const char *const[]) { "EXAMPLE_OUTPUT=configured", NULL },
                    "configured for rule");
        return s;
}

/* Waits HoldSec=; false if cancelled meanwhile. */
static bool hold(State *s, uint64_t task_id) {
        Waiter w = { .task_id = task_id };
        struct timespec deadline;
        bool cancelled;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += s->hold_sec;
        pthread_mutex_lock(&s->lock);
        w.next = s->waiters;
        s->waiters = &w;
        while (!w.cancelled && pthread_cond_timedwait(&s->changed, &s->lock, &deadline) != ETIMEDOUT)
                ;
        for (Waiter **p = &s->waiters; *p; p = &(*p)->next)
                if (*p == &w) {
                        *p = w.next;
                        break;
                }
        cancelled = w.cancelled;
        pthread_mutex_unlock(&s->lock);
        return !cancelled;
}

static int example_run(void *state, const InotaskdPluginEvent *ev, const InotaskdPluginLogger *logger) {
        State *s = state;
        FILE *f;
        int r = 0;

        if (s->hold_sec > 0 && !hold(s, ev->task_id)) {
                logger->log(logger, 6, (const char *const[]) { "EXAMPLE_RESULT=cancelled", NULL },
                            "cancelled while holding");
                return 3;
        }
        f = fopen(s->output, "ae");
        if (!f) {
                logger->log(logger, 3, NULL, "cannot open the output file");
                return 1;
        }
        if (fprintf(f, "%s%s %s\n", s->prefix, ev->event, ev->pathname) < 0)
                r = 2;
        if (fclose(f) != 0)
                r = 2;
        logger->log(logger, 6, (const char *const[]) { "EXAMPLE_RESULT=written", NULL }, "noted the event");
        return r;
}

/* On the daemon's thread, while run() waits in another. */
static void example_cancel(void *state, uint64_t task_id) {
        State *s = state;

        pthread_mutex_lock(&s->lock);
        for (Waiter *w = s->waiters; w; w = w->next)
                if (w->task_id == task_id)
                        w->cancelled = true;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
}

static void example_free(void *state) {
        State *s = state;

        pthread_cond_destroy(&s->changed);
        pthread_mutex_destroy(&s->lock);
        free(s->output);
        free(s->prefix);
        free(s);
}

static const InotaskdPlugin plugin = {
        .abi_version = INOTASKD_PLUGIN_ABI,
        .name = "example",
        .init = example_init,
        .run = example_run,
        .free = example_free,
        .cancel = example_cancel,
};

const InotaskdPlugin *inotaskd_plugin_setup(void);
const InotaskdPlugin *inotaskd_plugin_setup(void) {
        return &plugin;
}

/* For the ABI check: a setup function that claims another version. */
static const InotaskdPlugin wrong_abi = {
        .abi_version = INOTASKD_PLUGIN_ABI_VERSION + 41,
        .name = "wrong-abi",
        .run = example_run,
};

const InotaskdPlugin *inotaskd_plugin_setup_wrong_abi(void);
const InotaskdPlugin *inotaskd_plugin_setup_wrong_abi(void) {
        return &wrong_abi;
}
