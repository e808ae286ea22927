/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An example inotaskd plugin: appends "EVENT PATH" lines to the file named by the rule's Output= key,
 * with an optional Prefix=, and logs a structured line per task.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inotaskd-plugin.h"

typedef struct State {
        char *output;
        char *prefix;
} State;

static void *example_init(const InotaskdPluginConfig *config, const InotaskdPluginLogger *logger, char **error) {
        const char *output = inotaskd_plugin_config_get(config, "Output");
        const char *prefix = inotaskd_plugin_config_get(config, "Prefix");
        State *s;

        if (!output || output[0] != '/') {
                *error = strdup("Output= must name an absolute file");
                return NULL;
        }
        s = calloc(1, sizeof *s);
        if (!s) {
                *error = strdup("out of memory");
                return NULL;
        }
        s->output = strdup(output);
        s->prefix = strdup(prefix ? prefix : "");
        logger->log(logger, 6, (const char *const[]) { "EXAMPLE_OUTPUT=configured", NULL },
                    "configured for rule");
        return s;
}

static int example_run(void *state, const InotaskdPluginEvent *ev, const InotaskdPluginLogger *logger) {
        State *s = state;
        FILE *f = fopen(s->output, "ae");
        int r = 0;

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

static void example_free(void *state) {
        State *s = state;

        free(s->output);
        free(s->prefix);
        free(s);
}

static const InotaskdPlugin plugin = {
        .abi_version = INOTASKD_PLUGIN_ABI_VERSION,
        .name = "example",
        .init = example_init,
        .run = example_run,
        .free = example_free,
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
