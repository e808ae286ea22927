/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration: systemd-style key files (main file plus conf.d drop-ins), parsed strictly. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config-parser.h"
#include "template.h"
#include "time-util.h"

/* config_load()'s answer for an invalid configuration: an expected outcome the caller must handle (exit 78,
 * org.inotaskd1.Error.InvalidConfig), distinct from a failure to read it (negative errno). */
#define CONFIG_E_INVALID CONF_E_INVALID

typedef enum ActionType {
        ACTION_EXEC,
        ACTION_SHELL,
        ACTION_MOVE,
        ACTION_COPY,
        ACTION_DELETE,
        ACTION_START_UNIT,
        ACTION_STOP_UNIT,
        ACTION_RESTART_UNIT,
        ACTION_RELOAD_UNIT,
        ACTION_PLUGIN,
        _ACTION_MAX,
} ActionType;

const char *action_type_to_string(ActionType a);    /* "exec", "start-unit", ... */
int action_type_from_string(const char *s);         /* ActionType or -EINVAL */

typedef enum IfRunning {
        IF_RUNNING_QUEUE,       /* default: one follow-up run after the running one, with the latest event */
        IF_RUNNING_SKIP,
        IF_RUNNING_PARALLEL,
        IF_RUNNING_RESTART,
        _IF_RUNNING_MAX,
} IfRunning;

const char *if_running_to_string(IfRunning i);

/* Backend= of a [Watch]: what tells the daemon of changes. */
typedef enum BackendKind {
        BACKEND_AUTO,           /* default: inotify, poll on NFS, CIFS/SMB and FUSE (decided by statfs) */
        BACKEND_INOTIFY,
        BACKEND_FANOTIFY,       /* one mark for the whole file system (CAP_SYS_ADMIN) */
        BACKEND_POLL,           /* a walk every PollIntervalSec= */
        BACKEND_NONE,           /* InitialEvent= only, no monitoring */
        _BACKEND_KIND_MAX,
} BackendKind;

const char *backend_kind_to_string(BackendKind k);
int backend_kind_from_string(const char *s);        /* BackendKind or -EINVAL */
const char *config_log_level_to_string(int level);  /* LogLevel= names: "info", ...; NULL out of range */
int if_running_from_string(const char *s);

/* TaskUnits=: run exec and shell tasks as transient systemd units. In a rule, unset means the daemon's. */
typedef enum TaskUnits {
        TASK_UNITS_INHERIT,     /* [Rule] only: [Daemon] TaskUnits= decides */
        TASK_UNITS_AUTO,        /* yes when the daemon runs under a service manager it can reach */
        TASK_UNITS_YES,
        TASK_UNITS_NO,
        _TASK_UNITS_MAX,
} TaskUnits;

const char *task_units_to_string(TaskUnits u);      /* "auto", "yes", "no"; NULL for inherit */

/* The slice of a unit task without Slice=. */
#define TASK_UNITS_DEFAULT_SLICE "inotaskd.slice"
/* StandardInput=: what a task's stdin holds (batch.h writes it). */
typedef enum StdinFormat {
        STDIN_NULL,             /* /dev/null (default) */
        STDIN_PATHS,            /* the full paths, one per line (a "\n" in a name is ambiguous) */
        STDIN_PATHS_NUL,        /* the full paths, each ended by a NUL: exact bytes */
        STDIN_RELPATHS,         /* the paths relative to the watch's Path=, one per line */
        STDIN_RELPATHS_NUL,     /* the same, each ended by a NUL (rsync --files-from=- --from0) */
        STDIN_JSON,             /* one JSON object per line: path, relpath, event, deleted */
        _STDIN_FORMAT_MAX,
} StdinFormat;

const char *stdin_format_to_string(StdinFormat f);
int stdin_format_from_string(const char *s);

typedef struct ConfigDaemon {
        int log_level;                  /* LOG_ERR .. LOG_DEBUG (syslog levels); LogLevel=info */
        usec_t shutdown_timeout;        /* ShutdownTimeoutSec=, default 30s */
        unsigned max_running;           /* MaxRunningTasks=, default 16; 0 = unlimited */
        unsigned task_history;          /* TaskHistory=, default 100 */
        char *admin_group;              /* AdminGroup=, NULL if unset */
        char *state_directory;          /* StateDirectory=, NULL = default ($STATE_DIRECTORY, /var/lib/inotaskd
                                         * or $XDG_STATE_HOME/inotaskd) */
        TaskUnits task_units;           /* TaskUnits=, default auto (never inherit) */
} ConfigDaemon;

typedef struct ConfigWatch {
        char *name;                     /* from [Watch NAME] */
        char *path;                     /* Path=, absolute, required */
        bool recursive;                 /* Recursive=, default no */
        bool auto_add;                  /* AutoAdd=, default = Recursive */
        char **exclude;                 /* Exclude=, fnmatch globs (NULL-terminated, never NULL) */
        uint32_t initial_mask;          /* InitialEvent=: one event name; both 0 when unset */
        uint32_t initial_kinds;
        BackendKind backend;            /* Backend=, default auto */
        usec_t poll_interval;           /* PollIntervalSec=, default 2 s */
        char *file;                     /* where [Watch NAME] was first seen */
        unsigned line;
        char *path_file;                /* where Path= was set (for warnings about it) */
        unsigned path_line;
} ConfigWatch;

typedef struct ConfigLocation {
        char *file;
        unsigned line;
} ConfigLocation;

typedef struct ConfigRule {
        unsigned n_ref;
        char *name;                     /* from [Rule NAME] */
        char **watches;                 /* Watch=, names (never NULL; empty = every watch) */
        uint32_t on_mask, on_kinds;     /* On= */
        uint32_t cancel_mask, cancel_kinds; /* CancelOn= */
        char **match;                   /* Match=, fnmatch globs (never NULL; empty = all) */
        char *match_regex;              /* MatchRegex=, against the full path, NULL if unset */
        GRegex *regex;                  /* compiled MatchRegex= (G_REGEX_RAW) or NULL */
        char **group_names;             /* named groups of MatchRegex=, NULL-terminated (never NULL) */
        bool files;                     /* Files=, default yes */
        bool directories;               /* Directories=, default no */
        usec_t delay;                   /* DelaySec=, default 0 */
        IfRunning if_running;           /* IfRunning=, default queue */
        bool run_if_vanished;           /* RunIfVanished=, default no (such a task ends as "vanished") */
        char **for_each;                /* ForEach=, NULL-terminated (never NULL; empty = one task) */
        bool batch;                     /* Batch=, default no: a task per (rule, watch, item) collects paths */
        unsigned batch_max;             /* BatchMax=, default 10000: paths in a batch, more go to the next */
        usec_t max_delay;               /* MaxDelaySec=, default infinity: how long new events may postpone
                                         * a task past its first event */
        StdinFormat standard_input;     /* StandardInput=, default null */

        ActionType action;              /* Action=, default exec */
        char *exec;                     /* Exec= text (exec: argv template; shell: the script) */
        ExecTemplate *exec_template;    /* compiled Exec= for Action=exec, else NULL */
        char *user, *group;             /* User=, Group= */
        char *working_directory;        /* WorkingDirectory= */
        char **environment;             /* Environment=, "NAME=value" (never NULL) */
        usec_t timeout;                 /* TimeoutSec=, default infinity (USEC_INFINITY) */
        TaskUnits task_units;           /* TaskUnits=, default inherit ([Daemon] TaskUnits=) */
        char *slice;                    /* Slice=, NULL: TASK_UNITS_DEFAULT_SLICE */
        char **properties;              /* Property=, "NAME=VALUE" as systemd-run -p takes them, in order
                                         * (never NULL); checked by unit_property_check() at load */
        char **property_origins;        /* "FILE:LINE" of each of properties, in the same order */
        bool stop_with_daemon;          /* StopWithDaemon=, default yes: `systemctl stop inotaskd` stops
                                         * the rule's unit tasks after ShutdownTimeoutSec= (a restart
                                         * never does) */

        /* Action=move|copy|delete (issue: file manager) */
        char *source;                   /* Source=, regex */
        GRegex *source_regex;
        char *destination;              /* Destination= */
        bool auto_create;               /* AutoCreate= */
        bool overwrite;                 /* Overwrite= */
        bool recursive;                 /* Recursive= */
        int file_mode, directory_mode;  /* FileMode=, DirectoryMode=, -1 if unset */
        char *owner, *owner_group;      /* Owner=, OwnerGroup= */

        /* Action=*-unit */
        char *unit;                     /* Unit=, may hold placeholders */
        ExecTemplate *unit_template;    /* compiled Unit= for the unit actions, else NULL */

        /* Action=plugin */
        char *plugin;                   /* Plugin=/path/module.so[:symbol] */
        ConfigLocation plugin_at;       /* where Plugin= was set, for the errors of loading it */
        GHashTable *extra;              /* keys of the group the daemon does not know (plugin only):
                                         * char* -> char*, NULL for other actions */

        char *file;                     /* where [Rule NAME] was first seen */
        unsigned line;
} ConfigRule;

ConfigRule *config_rule_ref(ConfigRule *r);
ConfigRule *config_rule_unref(ConfigRule *r);

typedef struct Config {
        ConfigDaemon daemon;
        GPtrArray *watches;             /* ConfigWatch*, in order of first appearance */
        GPtrArray *rules;               /* ConfigRule* (owning one reference each), in order */
        char **files;                   /* the files that were read, in order */
        bool trusted_only;              /* from ConfigSources: plugins are checked the same way */
} Config;

typedef struct ConfigSources {
        const char *main_file;          /* may be missing on disk only if missing_ok */
        bool main_missing_ok;
        const char *const *dropin_dirs; /* NULL-terminated, in increasing priority: a file name found in a
                                         * later directory replaces the same name in an earlier one
                                         * (an empty file or a symlink to /dev/null masks it); then all
                                         * *.conf names are read sorted by name, after the main file */
        bool trusted_only;              /* refuse a file or drop-in directory that anyone but root or the
                                         * daemon's own user could write, or that lies below such a
                                         * directory (trust.h): an error naming it, CONFIG_E_INVALID */
        bool translate_messages;        /* the parser's messages in the user's language (--check-config);
                                         * the daemon logs and answers on the bus in English */
} ConfigSources;

/* Reads and validates. On success returns 0 and *ret. On invalid configuration returns CONFIG_E_INVALID
 * and appends every problem to errors (char*, "FILE:LINE: KEY: message", or "FILE:LINE: message" where
 * no key applies), never stopping at the first one. A file or directory that cannot be read is a
 * failure: its negative errno, also with a message ("PATH: cannot read file: ...") in errors. */
int config_load(const ConfigSources *sources, Config **ret, GPtrArray *errors);

/* The same for one in-memory file (tests, fuzzing); name is used in messages. */
int config_load_string(const char *name, const char *text, Config **ret, GPtrArray *errors);

Config *config_free(Config *c);

const ConfigWatch *config_find_watch(const Config *c, const char *name);
const ConfigRule *config_find_rule(const Config *c, const char *name);
/* The keys a group accepts (ending with an empty entry), and the group names by index (NULL past the
 * last): what the parser knows, for the manual's coverage test. */
const ConfKeyDef *config_group_keys(const char *group);
const char *config_group_name(size_t i);

/* The merged configuration as a key file that parses back to the same configuration. Newly allocated. */
char *config_dump(const Config *c);

/* The default sources for system mode or user mode (XDG). Strings owned by the returned struct,
 * free with config_sources_free(). Honours INOTASKD_CONFIG and INOTASKD_CONFIG_DIR; main_file, when
 * not NULL, is the -c argument (its drop-ins then come from INOTASKD_CONFIG_DIR or, without it,
 * from "conf.d" beside the file). */
typedef struct ConfigSourcesOwned {
        ConfigSources sources;
        char *main_file;
        char **dropin_dirs;
} ConfigSourcesOwned;
ConfigSourcesOwned *config_sources_new(bool user_mode, const char *main_file);
ConfigSourcesOwned *config_sources_free(ConfigSourcesOwned *s);
