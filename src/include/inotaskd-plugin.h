/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plugin ABI of inotaskd (Action=plugin, Plugin=/path/module.so[:symbol]).
 *
 * A plugin is a shared object exporting one function (by default "inotaskd_plugin_setup", or the
 * symbol named after ':' in Plugin=) that returns a pointer to a static InotaskdPlugin whose
 * abi_version is INOTASKD_PLUGIN_ABI_VERSION. The daemon loads it when it reads the configuration,
 * calls init() once per rule with the rule's keys the daemon does not know itself (as igor hands a
 * plugin its extra YAML keys), then run() once per task, in a worker thread, off the event loop.
 * Everything the plugin is handed is valid only during the call.
 *
 * Versioning: abi_version holds the version in its low 16 bits and a revision in its high 16 bits; set it
 * to INOTASKD_PLUGIN_ABI. Any incompatible change increments INOTASKD_PLUGIN_ABI_VERSION; a plugin built
 * for another version is refused at load with a configuration error naming both versions. A compatible
 * addition appends a member to InotaskdPlugin and increments INOTASKD_PLUGIN_ABI_REVISION: the daemon
 * reads a member only from a plugin whose revision has it, so a plugin built before keeps working
 * (abi_version 1 is version 1, revision 0).
 *
 * Revision 1 adds cancel(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INOTASKD_PLUGIN_ABI_VERSION 1U
#define INOTASKD_PLUGIN_ABI_REVISION 1U
#define INOTASKD_PLUGIN_ABI (INOTASKD_PLUGIN_ABI_VERSION | (INOTASKD_PLUGIN_ABI_REVISION << 16))
#define INOTASKD_PLUGIN_ABI_VERSION_OF(abi) ((uint32_t) (abi) & 0xffffU)
#define INOTASKD_PLUGIN_ABI_REVISION_OF(abi) ((uint32_t) (abi) >> 16)
#define INOTASKD_PLUGIN_DEFAULT_SYMBOL "inotaskd_plugin_setup"

/* The rule's configuration: the rule name and its extra keys, in no particular order. */
typedef struct InotaskdPluginConfig {
        const char *rule;
        size_t n_keys;
        const char *const *keys;
        const char *const *values;
} InotaskdPluginConfig;

/* Looks up a key of config; NULL if absent. */
static inline const char *inotaskd_plugin_config_get(const InotaskdPluginConfig *config, const char *key) {
        for (size_t i = 0; i < config->n_keys; i++) {
                const char *a = config->keys[i], *b = key;

                while (*a && *a == *b) {
                        a++;
                        b++;
                }
                if (*a == *b)
                        return config->values[i];
        }
        return NULL;
}

/* A logger that writes structured journal entries: priority is syslog's (LOG_INFO = 6, ...); the
 * entry carries INOTASKD_PLUGIN, INOTASKD_RULE and, inside run(), the task's INOTASKD_* fields.
 * Extra fields may be given as "NAME=value" strings (NULL-terminated array, may be NULL). */
typedef struct InotaskdPluginLogger {
        void (*log)(const struct InotaskdPluginLogger *logger, int priority, const char *const *fields,
                    const char *message);
        void *internal;
} InotaskdPluginLogger;

/* The event of a task. Strings are NUL-terminated byte strings (paths need not be UTF-8). */
typedef struct InotaskdPluginEvent {
        uint64_t task_id;
        const char *rule;
        const char *watch;
        const char *watch_path;
        const char *pathname;
        const char *relpath;
        const char *src_pathname;       /* "" unless a move */
        const char *maskname;           /* "IN_CLOSE_WRITE" */
        const char *event;              /* "changed" */
        const char *item;               /* ForEach= item or "" */
        uint32_t mask;
} InotaskdPluginEvent;

/* Revision 1: asks the run() of task task_id, running in a worker thread, to return soon (CancelTask,
 * IfRunning=restart, the daemon's stop). Called on the daemon's main thread, only while that run() runs
 * (in another thread: the plugin synchronizes), at most once for a cancel; the task ends as "cancelled"
 * whatever run() then returns. */
typedef void (*InotaskdPluginCancelFunc)(void *state, uint64_t task_id);

typedef struct InotaskdPlugin {
        uint32_t abi_version;           /* INOTASKD_PLUGIN_ABI */
        const char *name;

        /* Once per rule. Returns the plugin's state for that rule, or NULL with *error set to a
         * malloc()ed message (it becomes a configuration error). */
        void *(*init)(const InotaskdPluginConfig *config, const InotaskdPluginLogger *logger, char **error);

        /* Once per task, in a worker thread. Returns 0 on success, anything else is a failure whose value
         * is recorded as the task's exit status. */
        int (*run)(void *state, const InotaskdPluginEvent *event, const InotaskdPluginLogger *logger);

        /* When the rule goes away (reload, stop). May be NULL. */
        void (*free)(void *state);

        /* Revision 1 and later. May be NULL: then a running task cannot be cancelled. */
        InotaskdPluginCancelFunc cancel;
} InotaskdPlugin;

typedef const InotaskdPlugin *(*InotaskdPluginSetupFunc)(void);

#ifdef __cplusplus
}
#endif
