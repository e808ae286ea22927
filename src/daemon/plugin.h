/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=plugin: modules loaded with GModule at configuration time, run in worker threads. */
#pragma once

#include <glib.h>

#include "config.h"
#include "macro.h"
#include "runner.h"
#include "worker.h"

typedef struct PluginInstance PluginInstance;

PluginInstance *plugin_instance_ref(PluginInstance *p);
PluginInstance *plugin_instance_unref(PluginInstance *p);

/* Loads and initializes the plugin of every Action=plugin rule of c. Returns a map ConfigRule* ->
 * PluginInstance* (one reference each). Problems are appended to errors as "FILE:LINE: Plugin:
 * message", and then CONFIG_E_INVALID is returned: a plugin that does not load is a configuration error. */
int plugins_load(const Config *c, GHashTable **ret, GPtrArray *errors);

/* The configuration as the daemon uses it: config_load(), then, when ret_plugins is not NULL, its
 * plugins. Returns 0 with *ret (and *ret_plugins), CONFIG_E_INVALID or a negative errno (a file that
 * cannot be read), with the messages in errors in both cases; nothing is logged. */
int config_load_with_plugins(const ConfigSources *sources, Config **ret, GHashTable **ret_plugins,
                             GPtrArray *errors);

/* Runs Action=plugin tasks in the worker's threads, with the instance of the task's rule from *plugins
 * (the current configuration's map, read at each start). A cancel calls the plugin's cancel() where it
 * has one (ABI revision 1); a plugin without it cannot be stopped and ends when its run() returns. */
typedef struct PluginRunner PluginRunner;

int plugin_runner_new(PluginRunner **ret, const RunnerContext *ctx, Worker *w, GHashTable *const *plugins);
PluginRunner *plugin_runner_free(PluginRunner *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PluginRunner *, plugin_runner_free);

Runner *plugin_runner_runner(PluginRunner *p);
