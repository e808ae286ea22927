/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=plugin: modules loaded with GModule at configuration time, run in worker threads. */
#pragma once

#include <glib.h>

#include "config.h"
#include "runner-exec.h"
#include "worker.h"

typedef struct PluginInstance PluginInstance;

PluginInstance *plugin_instance_ref(PluginInstance *p);
PluginInstance *plugin_instance_unref(PluginInstance *p);

/* Loads and initializes the plugin of every Action=plugin rule of c. Returns a map ConfigRule* ->
 * PluginInstance* (one reference each). Problems are appended to errors as "FILE:LINE: Plugin:
 * message", and then -EINVAL is returned. */
int plugins_load(const Config *c, GHashTable **ret, GPtrArray *errors);

int runner_plugin_start(RunnerContext *ctx, Worker *w, Task *t, PluginInstance *p);
