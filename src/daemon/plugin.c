/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plugins: loaded with GModule, their ABI version checked, configured with the rule's extra keys,
 * run off the loop; their log lines become structured journal entries. */
#include <gmodule.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "inotaskd-plugin.h"
#include "log.h"
#include "plugin.h"
#include "runner-transient.h"
#include "template.h"
#include "trust.h"

static void plugin_instance_unref_void(gpointer p);

struct PluginInstance {
        gint n_ref;
        GModule *module;
        const InotaskdPlugin *plugin;
        unsigned revision;              /* the ABI revision it was built for: which optional members it has */
        void *state;
        char *rule;
        char *name;
};

typedef struct LoggerContext {
        const char *plugin;
        const char *rule;
        const Task *task;               /* NULL outside run() */
        const char *task_id, *path, *watch, *event;
} LoggerContext;

static void logger_log(const InotaskdPluginLogger *logger, int priority, const char *const *fields,
                       const char *message) {
        const LoggerContext *c = logger->internal;
        LogField f[24];
        size_t n = 0;
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

        f[n++] = LOG_FIELD("INOTASKD_PLUGIN", c->plugin);
        f[n++] = LOG_FIELD("INOTASKD_RULE", c->rule);
        if (c->task) {
                f[n++] = LOG_FIELD("INOTASKD_TASK_ID", c->task_id);
                f[n++] = LOG_FIELD("INOTASKD_WATCH", c->watch);
                f[n++] = LOG_FIELD("INOTASKD_PATH", c->path);
                f[n++] = LOG_FIELD("INOTASKD_EVENT", c->event);
        }
        for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(f); i++) {
                const char *eq = strchr(fields[i], '=');
                char *name;

                if (!eq || eq == fields[i])
                        continue;
                name = g_ascii_strup(fields[i], eq - fields[i]);
                g_ptr_array_add(names, name);
                f[n++] = LOG_FIELD(name, eq + 1);
        }
        if (priority < LOG_EMERG || priority > LOG_DEBUG)
                priority = LOG_INFO;
        /* The plugin's own file and line are not known: CODE_FUNC names the plugin's log call. */
        (void) log_internal(priority, 0, NULL, f, n, NULL, 0, "plugin", "%s: %s", c->plugin,
                            strempty(message));
}

PluginInstance *plugin_instance_ref(PluginInstance *p) {
        if (p)
                g_atomic_int_inc(&p->n_ref);
        return p;
}

PluginInstance *plugin_instance_unref(PluginInstance *p) {
        if (!p || !g_atomic_int_dec_and_test(&p->n_ref))
                return NULL;
        if (p->plugin && p->plugin->free && p->state)
                p->plugin->free(p->state);
        if (p->module)
                g_module_close(p->module);
        g_free(p->rule);
        g_free(p->name);
        g_free(p);
        return NULL;
}

static void plugin_instance_unref_void(gpointer p) {
        plugin_instance_unref(p);
}

/* A bare module name ("inotaskd-example-plugin", ".so" optional) in the directories of $INOTASKD_PLUGIN_DIR
 * (colon-separated), then in PLUGINDIR: the first that has it. NULL with *ret_error if none has. */
static char *plugin_find(const char *name, char **ret_error) {
        g_autofree char *file = g_str_has_suffix(name, ".so") ? g_strdup(name) : g_strconcat(name, ".so", NULL);
        g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *tried = NULL;
        const char *env = getenv("INOTASKD_PLUGIN_DIR");

        if (!isempty(env)) {
                g_auto(GStrv) parts = g_strsplit(env, ":", -1);

                for (char **d = parts; *d; d++)
                        if (**d == '/')         /* a relative one would depend on the working directory */
                                g_ptr_array_add(dirs, g_strdup(*d));
        }
        g_ptr_array_add(dirs, g_strdup(PLUGINDIR));
        for (guint i = 0; i < dirs->len; i++) {
                g_autofree char *path = g_build_filename(dirs->pdata[i], file, NULL);

                if (access(path, F_OK) >= 0)
                        return TAKE_PTR(path);
        }
        g_ptr_array_add(dirs, NULL);
        tried = g_strjoinv(", ", (char **) dirs->pdata);
        *ret_error = g_strdup_printf("no plugin %s in %s (set INOTASKD_PLUGIN_DIR, or give a path)", file, tried);
        return NULL;
}

static int plugin_open(const ConfigRule *r, bool trusted_only, PluginInstance **ret, char **ret_error) {
        g_autofree char *path = NULL, *symbol = NULL;
        const char *colon = strrchr(r->plugin, ':');
        InotaskdPluginSetupFunc setup = NULL;
        g_autofree char **keys = NULL, **values = NULL;
        PluginInstance *p;
        InotaskdPluginConfig cfg;
        LoggerContext lc;
        InotaskdPluginLogger logger;
        GHashTableIter i;
        gpointer k, v;
        char *err = NULL;
        size_t n = 0;

        path = colon ? g_strndup(r->plugin, (size_t) (colon - r->plugin)) : g_strdup(r->plugin);
        symbol = g_strdup(colon ? colon + 1 : INOTASKD_PLUGIN_DEFAULT_SYMBOL);
        if (path[0] != '/') {
                g_autofree char *name = TAKE_PTR(path);

                path = plugin_find(name, ret_error);
                if (!path)
                        return -EINVAL;
        }

        /* Code that runs in the daemon: nobody but root or the daemon's user may have written it. A
         * missing file is left for g_module_open() to report. */
        if (trusted_only) {
                g_autofree char *problem = NULL;
                int q = trust_check_path(path, geteuid(), &problem);

                if (q < 0 && q != -ENOENT) {
                        *ret_error = TAKE_PTR(problem);
                        return -EINVAL;
                }
        }

        p = g_new0(PluginInstance, 1);
        p->n_ref = 1;
        p->rule = g_strdup(r->name);
        p->module = g_module_open(path, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY);
        if (!p->module) {
                *ret_error = g_strdup_printf("cannot load %s: %s", path, g_module_error());
                goto fail;
        }
        if (!g_module_symbol(p->module, symbol, (gpointer *) &setup) || !setup) {
                *ret_error = g_strdup_printf("%s has no function %s()", path, symbol);
                goto fail;
        }
        p->plugin = setup();
        if (!p->plugin) {
                *ret_error = g_strdup_printf("%s: %s() returned no plugin", path, symbol);
                goto fail;
        }
        /* The low 16 bits are the version (a change there is incompatible); the high ones the revision,
         * which says how many of the optional members at the end of InotaskdPlugin the plugin has. */
        if (INOTASKD_PLUGIN_ABI_VERSION_OF(p->plugin->abi_version) != INOTASKD_PLUGIN_ABI_VERSION) {
                *ret_error = g_strdup_printf("%s was built for plugin ABI version %" PRIu32
                                             ", this inotaskd has version %u",
                                             path, INOTASKD_PLUGIN_ABI_VERSION_OF(p->plugin->abi_version),
                                             INOTASKD_PLUGIN_ABI_VERSION);
                p->plugin = NULL;
                goto fail;
        }
        p->revision = INOTASKD_PLUGIN_ABI_REVISION_OF(p->plugin->abi_version);
        if (!p->plugin->run) {
                *ret_error = g_strdup_printf("%s has no run function", path);
                p->plugin = NULL;
                goto fail;
        }
        p->name = g_strdup(p->plugin->name ? p->plugin->name : symbol);

        /* The rule's keys the daemon does not know are the plugin's configuration. */
        n = r->extra ? g_hash_table_size(r->extra) : 0;
        keys = g_new0(char *, n + 1);
        values = g_new0(char *, n + 1);
        n = 0;
        if (r->extra) {
                g_hash_table_iter_init(&i, r->extra);
                while (g_hash_table_iter_next(&i, &k, &v)) {
                        keys[n] = k;
                        values[n++] = v;
                }
        }
        cfg = (InotaskdPluginConfig) {
                .rule = r->name,
                .n_keys = n,
                .keys = (const char *const *) keys,
                .values = (const char *const *) values,
        };
        lc = (LoggerContext) { .plugin = p->name, .rule = r->name };
        logger = (InotaskdPluginLogger) { .log = logger_log, .internal = &lc };
        if (p->plugin->init) {
                p->state = p->plugin->init(&cfg, &logger, &err);
                if (!p->state) {
                        *ret_error = g_strdup_printf("%s: %s", p->name, err ? err : "initialization failed");
                        free(err);
                        goto fail;
                }
        }
        *ret = p;
        return 0;

fail:
        plugin_instance_unref(p);
        return -EINVAL;
}

int plugins_load(const Config *c, GHashTable **ret, GPtrArray *errors) {
        g_autoptr(GHashTable) map = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                          plugin_instance_unref_void);
        bool failed = false;

        for (guint i = 0; i < c->rules->len; i++) {
                ConfigRule *r = c->rules->pdata[i];
                g_autofree char *err = NULL;
                PluginInstance *p;

                if (r->action != ACTION_PLUGIN || !r->plugin)
                        continue;
                if (plugin_open(r, c->trusted_only, &p, &err) < 0) {
                        g_ptr_array_add(errors, g_strdup_printf("%s:%u: Plugin: %s",
                                                                r->plugin_at.file ? r->plugin_at.file : r->file,
                                                                r->plugin_at.file ? r->plugin_at.line : r->line, err));
                        failed = true;
                        continue;
                }
                g_hash_table_insert(map, r, p);
        }
        if (failed)
                return CONFIG_E_INVALID;
        *ret = TAKE_PTR(map);
        return 0;
}

int config_load_with_plugins(const ConfigSources *sources, Config **ret, GHashTable **ret_plugins,
                             GPtrArray *errors) {
        g_autoptr(GHashTable) plugins = NULL;
        Config *c = NULL;
        int r;

        r = config_load(sources, &c, errors);
        if (r != 0)
                return r;
        /* Property= syntax, from unit-property.c, which config.c (no sd-bus) cannot link. */
        r = task_units_check_config(c, errors);
        if (r != 0) {
                config_free(c);
                return r;
        }
        if (ret_plugins) {
                r = plugins_load(c, &plugins, errors);
                if (r != 0) {
                        config_free(c);
                        return r;
                }
                *ret_plugins = TAKE_PTR(plugins);
        }
        *ret = c;
        return 0;
}

struct PluginRunner {
        Runner runner;
        RunnerContext ctx;
        Worker *worker;
        GHashTable *const *plugins;     /* ConfigRule* -> PluginInstance*, the manager's current map */
};

/* A member of revision 1 or later, read only from a plugin that has it. */
static InotaskdPluginCancelFunc plugin_cancel_func(const PluginInstance *p) {
        return p->revision >= 1 ? p->plugin->cancel : NULL;
}

typedef enum PluginJobState {
        PLUGIN_JOB_QUEUED,
        PLUGIN_JOB_RUNNING,
        PLUGIN_JOB_SKIPPED,             /* cancelled before a thread took it */
        PLUGIN_JOB_DONE,
} PluginJobState;

typedef struct PluginJob {
        PluginRunner *runner;
        Task *task;
        GMutex lock;                    /* state, between the thread and a cancel on the loop */
        PluginJobState state;
        PluginInstance *instance;
        /* Copies, for the worker thread. */
        char *rule, *watch, *watch_path, *path, *relpath, *src, *maskname, *event, *item, *task_id;
        uint64_t id;
        uint32_t mask;
        int result;
} PluginJob;

static void run_job(void *data) {
        PluginJob *j = data;
        LoggerContext lc = {
                .plugin = j->instance->name,
                .rule = j->rule,
                .task = j->task,
                .task_id = j->task_id,
                .path = j->path,
                .watch = j->watch,
                .event = j->event,
        };
        InotaskdPluginLogger logger = { .log = logger_log, .internal = &lc };
        PluginJobState state;
        InotaskdPluginEvent ev = {
                .task_id = j->id,
                .rule = j->rule,
                .watch = j->watch,
                .watch_path = j->watch_path,
                .pathname = j->path,
                .relpath = j->relpath,
                .src_pathname = j->src,
                .maskname = j->maskname,
                .event = j->event,
                .item = j->item,
                .mask = j->mask,
        };

        g_mutex_lock(&j->lock);
        state = j->state;
        if (state == PLUGIN_JOB_QUEUED)
                j->state = PLUGIN_JOB_RUNNING;
        g_mutex_unlock(&j->lock);
        if (state == PLUGIN_JOB_SKIPPED)
                return;
        j->result = j->instance->plugin->run(j->instance->state, &ev, &logger);
        g_mutex_lock(&j->lock);
        j->state = PLUGIN_JOB_DONE;
        g_mutex_unlock(&j->lock);
}

static void plugin_job_free(PluginJob *j) {
        g_mutex_clear(&j->lock);
        plugin_instance_unref(j->instance);
        g_free(j->rule);
        g_free(j->watch);
        g_free(j->watch_path);
        g_free(j->path);
        g_free(j->relpath);
        g_free(j->src);
        g_free(j->maskname);
        g_free(j->event);
        g_free(j->item);
        g_free(j->task_id);
        g_free(j);
}

static void job_done(void *data) {
        PluginJob *j = data;
        Scheduler *sched = j->runner->ctx.scheduler;

        j->task->runner_data = NULL;
        /* Asked to stop and able to (or never begun): whatever run() returned then, it was cancelled. */
        if (j->task->cancel_requested && (j->state == PLUGIN_JOB_SKIPPED || plugin_cancel_func(j->instance)))
                scheduler_task_finished(sched, j->task, TASK_CANCELLED, "cancelled", j->result);
        else if (j->result == 0)
                scheduler_task_finished(sched, j->task, TASK_DONE, "success", 0);
        else
                scheduler_task_finished(sched, j->task, TASK_FAILED, "exit-code", j->result);
        plugin_job_free(j);
}

static int plugin_start(Runner *runner, Task *t) {
        PluginRunner *pr = (PluginRunner *) runner;
        const RunnerContext *ctx = &pr->ctx;
        PluginInstance *p = *pr->plugins ? g_hash_table_lookup(*pr->plugins, t->rule) : NULL;
        _cleanup_free_ char *id = NULL, *mask = NULL, *dir = NULL;
        TemplateValues v;
        PluginJob *j;
        int r;

        if (!p)
                return -ENOENT;
        if (ctx->dry_run) {
                task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) would run plugin %s.", t->id,
                         t->rule->name, p->name);
                scheduler_task_finished(ctx->scheduler, t, TASK_DONE, "dry-run", 0);
                return 0;
        }
        task_template_values(t, &v, &id, &mask, &dir);
        j = g_new0(PluginJob, 1);
        g_mutex_init(&j->lock);
        j->runner = pr;
        j->task = t;
        j->instance = plugin_instance_ref(p);
        j->id = t->id;
        j->mask = t->mask;
        j->rule = g_strdup(t->rule->name);
        j->watch = g_strdup(t->watch);
        j->watch_path = g_strdup(t->watch_path);
        j->path = g_strdup(t->path);
        j->relpath = g_strdup(v.fixed[PLACEHOLDER_RELPATH]);
        j->src = g_strdup(strempty(t->src_path));
        j->maskname = g_strdup(mask);
        j->event = g_strdup(strempty(t->event_name));
        j->item = g_strdup(strempty(t->item));
        j->task_id = g_strdup(id);
        task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) started: plugin %s", t->id, t->rule->name,
                 p->name);
        r = worker_submit(pr->worker, j, run_job, job_done);
        if (r < 0) {
                plugin_job_free(j);
                return r;
        }
        t->runner_data = j;
        return 0;
}

/* On the loop, while run() may be running in a thread: the plugin makes it return soon. */
static void plugin_stop(Runner *runner, Task *t, RunnerStop how) {
        PluginJob *j = t->runner_data;
        InotaskdPluginCancelFunc cancel;
        bool skipped = false;

        if (!j)
                return;
        /* A KILL after a cancel has nothing to add: nothing in a thread can be killed. */
        if (how == RUNNER_STOP_KILL && t->cancel_requested)
                return;
        cancel = plugin_cancel_func(j->instance);
        g_mutex_lock(&j->lock);
        if (j->state == PLUGIN_JOB_QUEUED && how == RUNNER_STOP_CANCEL) {
                j->state = PLUGIN_JOB_SKIPPED;
                skipped = true;
        } else if (j->state == PLUGIN_JOB_RUNNING && cancel)
                cancel(j->instance->state, t->id);      /* under the lock: run() has not returned */
        g_mutex_unlock(&j->lock);
        if (!cancel && !skipped)
                task_log(LOG_NOTICE, NULL, t, NULL, 0,
                         "Task %" PRIu64 " (%s): plugin %s cannot be cancelled, it ends when it returns.",
                         t->id, t->rule->name, j->instance->name);
}

static const RunnerOps plugin_runner_ops = {
        .name = "plugin",
        .start = plugin_start,
        .stop = plugin_stop,
};

int plugin_runner_new(PluginRunner **ret, const RunnerContext *ctx, Worker *w, GHashTable *const *plugins) {
        PluginRunner *p = g_new0(PluginRunner, 1);

        p->runner.ops = &plugin_runner_ops;
        p->ctx = *ctx;
        p->worker = w;
        p->plugins = plugins;
        *ret = p;
        return 0;
}

PluginRunner *plugin_runner_free(PluginRunner *p) {
        g_free(p);
        return NULL;
}

Runner *plugin_runner_runner(PluginRunner *p) {
        return &p->runner;
}
