/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Property=NAME=VALUE, as systemd-run -p takes it: a table of the common properties with their value
 * types, a type guessed from the name and value for the rest, and a check against the properties the
 * service manager's own service units have (the manager refuses a name or type it does not know only
 * when the task starts). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "macro.h"

#include <glib.h>

#include "split-words.h"
#include "time-util.h"
#include "unit-property.h"

typedef enum Kind {
        K_REFUSED,      /* set by inotaskd: "hint" names what to use instead */
        K_BOOL,         /* b */
        K_STRING,       /* s, anything */
        K_ENUM,         /* s, one of the words of "hint"; booleans become "yes"/"no" if "hint" has them */
        K_OUTPUT,       /* s, StandardOutput=/StandardError=: an enum word or file:, append:, truncate: */
        K_STRV,         /* as, words */
        K_ENV,          /* as, words NAME=VALUE */
        K_PATHS,        /* as, absolute paths, each optionally prefixed with - and/or + */
        K_DIRS,         /* as, relative directory names (StateDirectory= & co.) */
        K_INT,          /* i, in [min, max] */
        K_U64,          /* t, a number or "infinity" */
        K_SIZE,         /* t, bytes with K, M, G, T, P, E (base 1024) or "infinity" */
        K_SIZE_SCALE,   /* t as K_SIZE, or N% sent as NAMEScale (u, a fraction of UINT32_MAX) */
        K_TASKS,        /* t, a number or "infinity", or N% sent as TasksMaxScale */
        K_TIME,         /* t, a time span; NAMESec is sent as NAMEUSec */
        K_CPU_QUOTA,    /* t, N% sent as CPUQuotaPerSecUSec */
        K_WEIGHT,       /* t, 1..10000 ("idle" = 0 where min is 0), empty for the default */
        K_LIMIT,        /* t, N or SOFT:HARD, sent as NAME (hard) and NAMESoft; min: the unit (LIMIT_*) */
        K_FAMILIES,     /* (bas), [~]WORD...: allow (or with ~ deny) list */
        K_SIGNAL,       /* i, a signal number or name */
        K_UMASK,        /* u, octal */
} Kind;

enum { LIMIT_COUNT, LIMIT_BYTES, LIMIT_SECONDS, LIMIT_USEC };

typedef struct Prop {
        const char *name;
        Kind kind;
        int64_t min, max;
        const char *hint;
} Prop;

#define BOOL_WORDS "yes no true false on off 1 0 y n t f"

static const Prop prop_table[] = {
        /* Set by inotaskd from the rule, or by the runner itself. */
        { "ExecStart", K_REFUSED, .hint = "set by inotaskd from the rule's Exec=" },
        { "ExecStartPre", K_REFUSED, .hint = "not supported for tasks (the command is the rule's Exec=)" },
        { "ExecStartPost", K_REFUSED, .hint = "not supported for tasks (the command is the rule's Exec=)" },
        { "ExecCondition", K_REFUSED, .hint = "not supported for tasks (the command is the rule's Exec=)" },
        { "ExecStop", K_REFUSED, .hint = "not supported for tasks (the command is the rule's Exec=)" },
        { "ExecStopPost", K_REFUSED, .hint = "not supported for tasks (the command is the rule's Exec=)" },
        { "ExecReload", K_REFUSED, .hint = "not supported for tasks (the command is the rule's Exec=)" },
        { "Type", K_REFUSED, .hint = "set by inotaskd (Type=exec)" },
        { "RemainAfterExit", K_REFUSED, .hint = "set by inotaskd (it follows the task's unit)" },
        { "Description", K_REFUSED, .hint = "set by inotaskd (rule and path)" },
        { "Slice", K_REFUSED, .hint = "use the rule's Slice=" },
        { "User", K_REFUSED, .hint = "use the rule's User=" },
        { "Group", K_REFUSED, .hint = "use the rule's Group=" },
        { "WorkingDirectory", K_REFUSED, .hint = "use the rule's WorkingDirectory=" },
        { "RuntimeMaxSec", K_REFUSED, .hint = "use the rule's TimeoutSec=" },
        { "TimeoutSec", K_REFUSED, .hint = "use the rule's TimeoutSec= (the runtime limit) or TimeoutStopSec=" },
        { "StandardInput", K_REFUSED, .hint = "use the rule's StandardInput=" },
        { "LogExtraFields", K_REFUSED, .hint = "set by inotaskd (INOTASKD_TASK_ID, INOTASKD_RULE, ...)" },

        /* Sandboxing. */
        { "DynamicUser", K_BOOL },
        { "NoNewPrivileges", K_BOOL },
        { "PrivateTmp", K_BOOL },
        { "PrivateDevices", K_BOOL },
        { "PrivateNetwork", K_BOOL },
        { "PrivateUsers", K_BOOL },
        { "PrivateIPC", K_BOOL },
        { "PrivateMounts", K_BOOL },
        { "ProtectKernelTunables", K_BOOL },
        { "ProtectKernelModules", K_BOOL },
        { "ProtectKernelLogs", K_BOOL },
        { "ProtectControlGroups", K_BOOL },
        { "ProtectClock", K_BOOL },
        { "ProtectHostname", K_BOOL },
        { "RestrictRealtime", K_BOOL },
        { "RestrictSUIDSGID", K_BOOL },
        { "LockPersonality", K_BOOL },
        { "MemoryDenyWriteExecute", K_BOOL },
        { "RemoveIPC", K_BOOL },
        { "MountAPIVFS", K_BOOL },
        { "ProtectSystem", K_ENUM, .hint = BOOL_WORDS " full strict" },
        { "ProtectHome", K_ENUM, .hint = BOOL_WORDS " read-only tmpfs" },
        { "ProtectProc", K_ENUM, .hint = "noaccess invisible ptraceable default" },
        { "ProcSubset", K_ENUM, .hint = "all pid" },
        { "KeyringMode", K_ENUM, .hint = "inherit private shared" },
        { "ReadWritePaths", K_PATHS },
        { "ReadOnlyPaths", K_PATHS },
        { "InaccessiblePaths", K_PATHS },
        { "ExecPaths", K_PATHS },
        { "NoExecPaths", K_PATHS },
        { "RootDirectory", K_STRING },
        { "RootImage", K_STRING },
        { "StateDirectory", K_DIRS },
        { "CacheDirectory", K_DIRS },
        { "LogsDirectory", K_DIRS },
        { "RuntimeDirectory", K_DIRS },
        { "ConfigurationDirectory", K_DIRS },
        { "RestrictAddressFamilies", K_FAMILIES },
        { "SystemCallFilter", K_FAMILIES },
        { "SystemCallArchitectures", K_STRV },
        { "SupplementaryGroups", K_STRV },
        { "UMask", K_UMASK },

        /* Environment and output. */
        { "Environment", K_ENV },
        { "PassEnvironment", K_STRV },
        { "UnsetEnvironment", K_STRV },
        { "StandardOutput", K_OUTPUT },
        { "StandardError", K_OUTPUT },
        { "SyslogIdentifier", K_STRING },

        /* Resources. */
        { "CPUAccounting", K_BOOL },
        { "MemoryAccounting", K_BOOL },
        { "IOAccounting", K_BOOL },
        { "TasksAccounting", K_BOOL },
        { "IPAccounting", K_BOOL },
        { "Delegate", K_BOOL },
        { "MemoryMin", K_SIZE_SCALE },
        { "MemoryLow", K_SIZE_SCALE },
        { "MemoryHigh", K_SIZE_SCALE },
        { "MemoryMax", K_SIZE_SCALE },
        { "MemorySwapMax", K_SIZE_SCALE },
        { "TasksMax", K_TASKS },
        { "CPUQuota", K_CPU_QUOTA },
        { "CPUWeight", K_WEIGHT, 0, 10000 },
        { "StartupCPUWeight", K_WEIGHT, 0, 10000 },
        { "IOWeight", K_WEIGHT, 1, 10000 },
        { "StartupIOWeight", K_WEIGHT, 1, 10000 },
        { "Nice", K_INT, -20, 19 },
        { "OOMScoreAdjust", K_INT, -1000, 1000 },
        { "IOSchedulingPriority", K_INT, 0, 7 },
        { "CPUSchedulingPriority", K_INT, 0, 99 },
        { "LimitCPU", K_LIMIT, LIMIT_SECONDS },
        { "LimitFSIZE", K_LIMIT, LIMIT_BYTES },
        { "LimitDATA", K_LIMIT, LIMIT_BYTES },
        { "LimitSTACK", K_LIMIT, LIMIT_BYTES },
        { "LimitCORE", K_LIMIT, LIMIT_BYTES },
        { "LimitRSS", K_LIMIT, LIMIT_BYTES },
        { "LimitNOFILE", K_LIMIT, LIMIT_COUNT },
        { "LimitAS", K_LIMIT, LIMIT_BYTES },
        { "LimitNPROC", K_LIMIT, LIMIT_COUNT },
        { "LimitMEMLOCK", K_LIMIT, LIMIT_BYTES },
        { "LimitLOCKS", K_LIMIT, LIMIT_COUNT },
        { "LimitSIGPENDING", K_LIMIT, LIMIT_COUNT },
        { "LimitMSGQUEUE", K_LIMIT, LIMIT_BYTES },
        { "LimitNICE", K_LIMIT, LIMIT_COUNT },
        { "LimitRTPRIO", K_LIMIT, LIMIT_COUNT },
        { "LimitRTTIME", K_LIMIT, LIMIT_USEC },

        /* Stopping and restarting. */
        { "KillMode", K_ENUM, .hint = "control-group process mixed none" },
        { "KillSignal", K_SIGNAL },
        { "FinalKillSignal", K_SIGNAL },
        { "WatchdogSignal", K_SIGNAL },
        { "SendSIGKILL", K_BOOL },
        { "SendSIGHUP", K_BOOL },
        { "IgnoreSIGPIPE", K_BOOL },
        { "Restart", K_ENUM, .hint = "no on-success on-failure on-abnormal on-watchdog on-abort always" },
        { "CollectMode", K_ENUM, .hint = "inactive inactive-or-failed" },
        { "TimeoutStartSec", K_TIME },
        { "TimeoutStopSec", K_TIME },
        { "TimeoutAbortSec", K_TIME },
        { "RestartSec", K_TIME },
        { "WatchdogSec", K_TIME },
        { "RuntimeRandomizedExtraSec", K_TIME },
        { "CPUQuotaPeriodSec", K_TIME },
        { "JobTimeoutSec", K_TIME },
        { "JobRunningTimeoutSec", K_TIME },
};

static const struct { const char *name; int number; } signals[] = {
        { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL }, { "TRAP", SIGTRAP },
        { "ABRT", SIGABRT }, { "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
        { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
        { "TERM", SIGTERM }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
        { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
        { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
        { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

_printf_(3, 4)
static int fail(char **ret_error, const char *name, const char *fmt, ...) {
        if (ret_error) {
                va_list ap;
                g_autofree char *why = NULL;

                va_start(ap, fmt);
                why = g_strdup_vprintf(fmt, ap);
                va_end(ap);
                *ret_error = g_strdup_printf("Property=%s: %s", name, why);
        }
        return -EINVAL;
}

static const Prop *prop_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(prop_table); i++)
                if (streq(prop_table[i].name, name))
                        return &prop_table[i];
        return NULL;
}

static int parse_bool(const char *s) {
        if (g_ascii_strcasecmp(s, "yes") == 0 || g_ascii_strcasecmp(s, "true") == 0 ||
            g_ascii_strcasecmp(s, "on") == 0 || streq(s, "1") || g_ascii_strcasecmp(s, "y") == 0 ||
            g_ascii_strcasecmp(s, "t") == 0)
                return 1;
        if (g_ascii_strcasecmp(s, "no") == 0 || g_ascii_strcasecmp(s, "false") == 0 ||
            g_ascii_strcasecmp(s, "off") == 0 || streq(s, "0") || g_ascii_strcasecmp(s, "n") == 0 ||
            g_ascii_strcasecmp(s, "f") == 0)
                return 0;
        return -EINVAL;
}

/* Decimal digits only, no sign, no blanks. */
static int parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!g_ascii_isdigit(*s))
                return -EINVAL;
        for (; *s; s++) {
                if (!g_ascii_isdigit(*s))
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

static int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret) {
        bool neg = *s == '-';
        uint64_t u;
        int64_t v;
        int r;

        r = parse_u64(s + (neg || *s == '+'), &u);
        if (r < 0)
                return r;
        if (u > (uint64_t) INT64_MAX)
                return -ERANGE;
        v = neg ? -(int64_t) u : (int64_t) u;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* "12", "1.5": the number times unit, rounded down. */
static int parse_scaled(const char *s, size_t len, uint64_t unit, uint64_t *ret) {
        uint64_t whole = 0, frac = 0, div = 1;
        size_t i = 0;

        if (len == 0 || !g_ascii_isdigit(s[0]))
                return -EINVAL;
        for (; i < len && g_ascii_isdigit(s[i]); i++) {
                if (whole > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (s[i] - '0');
        }
        if (i < len && s[i] == '.') {
                i++;
                if (i == len)
                        return -EINVAL;
                for (; i < len && g_ascii_isdigit(s[i]); i++)
                        if (div < UINT64_C(1000000000000)) {
                                frac = frac * 10 + (uint64_t) (s[i] - '0');
                                div *= 10;
                        }
        }
        if (i != len)
                return -EINVAL;
        if (whole > UINT64_MAX / unit)
                return -ERANGE;
        whole *= unit;
        /* frac < div <= 1e12 and unit <= 2^60: split to stay in range. */
        frac = (uint64_t) ((unsigned __int128) frac * unit / div);
        if (whole > UINT64_MAX - frac)
                return -ERANGE;
        *ret = whole + frac;
        return 0;
}

/* Bytes: a number with an optional K, M, G, T, P or E (base 1024, an optional trailing B), or
 * "infinity". */
static int parse_size(const char *s, uint64_t *ret) {
        static const char suffixes[] = "KMGTPE";
        size_t len = strlen(s);
        uint64_t unit = 1;
        const char *p;

        if (streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (len > 0 && s[len - 1] == 'B')
                len--;
        if (len > 0 && (p = strchr(suffixes, s[len - 1])) && s[len - 1]) {
                unit = UINT64_C(1) << (10 * (p - suffixes + 1));
                len--;
        }
        return parse_scaled(s, len, unit, ret);
}

/* "N%", "N.NN%": in units of 1/10000; unbounded allows more than 100%. */
static int parse_permyriad(const char *s, bool unbounded, uint64_t *ret) {
        size_t len = strlen(s);
        uint64_t v;
        int r;

        if (len < 2 || s[len - 1] != '%')
                return -EINVAL;
        r = parse_scaled(s, len - 1, 100, &v);
        if (r < 0)
                return r;
        if (!unbounded && v > 10000)
                return -ERANGE;
        *ret = v;
        return 0;
}

static bool is_percent(const char *s) {
        return *s && s[strlen(s) - 1] == '%';
}

static int parse_signal(const char *s, int *ret) {
        const char *n = g_str_has_prefix(s, "SIG") ? s + 3 : s;
        int64_t v;

        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (streq(signals[i].name, n)) {
                        *ret = signals[i].number;
                        return 0;
                }
        if (parse_int(s, 1, 64, &v) < 0)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static bool env_name_valid(const char *s, size_t len) {
        if (len == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!(g_ascii_isalnum(s[i]) || s[i] == '_'))
                        return false;
        return true;
}

static bool word_in(const char *word, const char *words) {
        g_auto(GStrv) v = g_strsplit(words, " ", -1);

        return g_strv_contains((const char *const *) v, word);
}

int unit_property_open(sd_bus_message *m, const char *name, const char *signature) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', name);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(m, 'v', signature);
}

int unit_property_close(sd_bus_message *m) {
        int r;

        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* m may be NULL: then only the syntax is checked. */
static int append_basic(sd_bus_message *m, const char *name, char type, const void *value) {
        const char sig[2] = { type, 0 };
        int r;

        if (!m)
                return 0;
        r = unit_property_open(m, name, sig);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, type, value);
        if (r < 0)
                return r;
        return unit_property_close(m);
}

static int append_bool(sd_bus_message *m, const char *name, bool b) {
        int v = b;

        return append_basic(m, name, 'b', &v);
}

static int append_u64(sd_bus_message *m, const char *name, uint64_t v) {
        return append_basic(m, name, 't', &v);
}

static int append_u32(sd_bus_message *m, const char *name, uint32_t v) {
        return append_basic(m, name, 'u', &v);
}

static int append_i32(sd_bus_message *m, const char *name, int32_t v) {
        return append_basic(m, name, 'i', &v);
}

static int append_string(sd_bus_message *m, const char *name, const char *v) {
        return append_basic(m, name, 's', v);
}

/* sd_bus_message_append() has no strv argument for "as" inside a variant: open the containers. */
static int append_as(sd_bus_message *m, const char *name, char **v) {
        int r;

        if (!m)
                return 0;
        r = unit_property_open(m, name, "as");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, v);
        if (r < 0)
                return r;
        return unit_property_close(m);
}

static int append_bas(sd_bus_message *m, const char *name, bool allow, char **v) {
        int r;

        if (!m)
                return 0;
        r = unit_property_open(m, name, "(bas)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "bas");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "b", (int) allow);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, v);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return unit_property_close(m);
}

static int words(const char *name, const char *value, char ***ret, char **ret_error) {
        const char *why = NULL;
        int r;

        r = split_words(value, 0, ret, &why);
        if (r < 0)
                return fail(ret_error, name, "%s", why ? why : "invalid list");
        return 0;
}

/* NAMESec -> NAMEUSec (a name without Sec gets USec appended). */
static char *usec_name(const char *name) {
        size_t len = strlen(name);

        if (g_str_has_suffix(name, "Sec"))
                len -= 3;
        return g_strdup_printf("%.*sUSec", (int) len, name);
}

static int apply_limit(sd_bus_message *m, const char *name, const char *value, int unit, char **ret_error) {
        g_auto(GStrv) parts = g_strsplit(value, ":", 3);
        uint64_t v[2];
        g_autofree char *soft = NULL;
        int r;

        if (g_strv_length(parts) > 2 || !parts[0])
                return fail(ret_error, name, "expected VALUE or SOFT:HARD, got \"%s\"", value);
        for (size_t i = 0; i < 2; i++) {
                const char *s = parts[i] ? parts[i] : parts[0];

                if (streq(s, "infinity")) {
                        v[i] = UINT64_MAX;
                        continue;
                }
                switch (unit) {
                case LIMIT_BYTES:
                        r = parse_size(s, &v[i]);
                        break;
                case LIMIT_SECONDS:
                case LIMIT_USEC: {
                        usec_t t;

                        r = parse_timespan(s, unit == LIMIT_SECONDS ? USEC_PER_SEC : 1, &t);
                        v[i] = unit == LIMIT_SECONDS ? (t + USEC_PER_SEC - 1) / USEC_PER_SEC : t;
                        break;
                }
                default:
                        r = parse_u64(s, &v[i]);
                }
                if (r < 0)
                        return fail(ret_error, name, "invalid limit \"%s\"", s);
        }
        if (v[0] > v[1])
                return fail(ret_error, name, "soft limit above the hard limit");
        r = append_u64(m, name, v[1]);
        if (r < 0)
                return r;
        soft = g_strconcat(name, "Soft", NULL);
        return append_u64(m, soft, v[0]);
}

static int apply(sd_bus_message *m, const char *name, const char *value, const Prop *p, char **ret_error) {
        g_auto(GStrv) list = NULL;
        uint64_t u;
        int64_t i;
        int r;

        switch (p->kind) {
        case K_REFUSED:
                return fail(ret_error, name, "%s", p->hint);

        case K_BOOL:
                r = parse_bool(value);
                if (r < 0)
                        return fail(ret_error, name, "not a boolean: \"%s\"", value);
                return append_bool(m, name, r);

        case K_STRING:
                return append_string(m, name, value);

        case K_ENUM:
                r = word_in("yes", p->hint) ? parse_bool(value) : -EINVAL;
                if (r >= 0)
                        return append_string(m, name, r ? "yes" : "no");
                if (!word_in(value, p->hint) || isempty(value))
                        return fail(ret_error, name, "\"%s\" is not one of: %s", value, p->hint);
                return append_string(m, name, value);

        case K_OUTPUT: {
                static const struct { const char *prefix, *suffix; } files[] = {
                        { "file:", "File" }, { "append:", "FileToAppend" }, { "truncate:", "FileToTruncate" },
                };

                for (size_t k = 0; k < ELEMENTSOF(files); k++)
                        if (g_str_has_prefix(value, files[k].prefix)) {
                                const char *path = value + strlen(files[k].prefix);
                                g_autofree char *n = g_strconcat(name, files[k].suffix, NULL);

                                if (!g_path_is_absolute(path))
                                        return fail(ret_error, name, "not an absolute path: \"%s\"", path);
                                return append_string(m, n, path);
                        }
                if (!word_in(value, "inherit null tty journal kmsg journal+console kmsg+console socket"))
                        return fail(ret_error, name, "\"%s\" is not one of: inherit null tty journal kmsg "
                                    "journal+console kmsg+console socket file:PATH append:PATH truncate:PATH",
                                    value);
                return append_string(m, name, value);
        }

        case K_STRV:
        case K_ENV:
        case K_PATHS:
        case K_DIRS:
                r = words(name, value, &list, ret_error);
                if (r < 0)
                        return r;
                for (char **w = list; *w; w++) {
                        const char *s = *w, *eq;

                        switch (p->kind) {
                        case K_ENV:
                                eq = strchr(s, '=');
                                if (!eq || !env_name_valid(s, (size_t) (eq - s)))
                                        return fail(ret_error, name, "not a NAME=VALUE assignment: \"%s\"", s);
                                break;
                        case K_PATHS:
                                while (*s == '-' || *s == '+')
                                        s++;
                                if (!g_path_is_absolute(s))
                                        return fail(ret_error, name, "not an absolute path: \"%s\"", *w);
                                break;
                        case K_DIRS:
                                if (g_path_is_absolute(s) || streq(s, "..") || g_str_has_prefix(s, "../") ||
                                    strstr(s, "/../") || g_str_has_suffix(s, "/.."))
                                        return fail(ret_error, name, "not a relative directory name: \"%s\"", s);
                                break;
                        default:
                                break;
                        }
                }
                return append_as(m, name, list);

        case K_INT:
                if (parse_int(value, p->min, p->max, &i) < 0)
                        return fail(ret_error, name, "not an integer in %" PRIi64 "..%" PRIi64 ": \"%s\"",
                                    p->min, p->max, value);
                return append_i32(m, name, (int32_t) i);

        case K_U64:
                if (streq(value, "infinity"))
                        u = UINT64_MAX;
                else if (parse_u64(value, &u) < 0)
                        return fail(ret_error, name, "not a number or \"infinity\": \"%s\"", value);
                return append_u64(m, name, u);

        case K_SIZE:
        case K_SIZE_SCALE:
        case K_TASKS:
                if (p->kind != K_SIZE && is_percent(value)) {
                        g_autofree char *n = g_strconcat(name, "Scale", NULL);

                        if (parse_permyriad(value, false, &u) < 0)
                                return fail(ret_error, name, "not a percentage in 0%%..100%%: \"%s\"", value);
                        /* systemd sends a fraction of UINT32_MAX, rounded */
                        return append_u32(m, n, (uint32_t) ((u * UINT32_MAX + 5000) / 10000));
                }
                if (p->kind == K_TASKS) {
                        if (streq(value, "infinity"))
                                u = UINT64_MAX;
                        else if (parse_u64(value, &u) < 0)
                                return fail(ret_error, name, "not a number, N%% or \"infinity\": \"%s\"", value);
                } else if (parse_size(value, &u) < 0)
                        return fail(ret_error, name, "not a size (bytes with K, M, G, T, P, E%s) or \"infinity\": "
                                    "\"%s\"", p->kind == K_SIZE_SCALE ? ", or N%" : "", value);
                return append_u64(m, name, u);

        case K_TIME: {
                g_autofree char *n = usec_name(name);
                usec_t t;

                if (parse_timespan(value, USEC_PER_SEC, &t) < 0)
                        return fail(ret_error, name, "not a time span: \"%s\"", value);
                return append_u64(m, n, t);
        }

        case K_CPU_QUOTA:
                if (isempty(value))
                        return append_u64(m, "CPUQuotaPerSecUSec", USEC_INFINITY);
                if (parse_permyriad(value, true, &u) < 0 || u == 0 || u > UINT64_MAX / USEC_PER_SEC)
                        return fail(ret_error, name, "not a percentage above 0%%: \"%s\"", value);
                return append_u64(m, "CPUQuotaPerSecUSec", u * USEC_PER_SEC / 10000);

        case K_WEIGHT:
                if (isempty(value))
                        return append_u64(m, name, UINT64_MAX);
                if (p->min == 0 && streq(value, "idle"))
                        return append_u64(m, name, 0);
                if (parse_u64(value, &u) < 0 || u < 1 || u > (uint64_t) p->max)
                        return fail(ret_error, name, "not a weight in 1..%" PRIi64 "%s: \"%s\"", p->max,
                                    p->min == 0 ? " or \"idle\"" : "", value);
                return append_u64(m, name, u);

        case K_LIMIT:
                return apply_limit(m, name, value, (int) p->min, ret_error);

        case K_FAMILIES: {
                bool allow = *value != '~';

                r = words(name, allow ? value : value + 1, &list, ret_error);
                if (r < 0)
                        return r;
                if (streq(name, "RestrictAddressFamilies"))
                        for (char **w = list; *w; w++)
                                if (!g_str_has_prefix(*w, "AF_") && !streq(*w, "none"))
                                        return fail(ret_error, name, "not an address family: \"%s\"", *w);
                return append_bas(m, name, allow, list);
        }

        case K_SIGNAL: {
                int sig;

                if (parse_signal(value, &sig) < 0)
                        return fail(ret_error, name, "not a signal: \"%s\"", value);
                return append_i32(m, name, sig);
        }

        case K_UMASK: {
                char *end = NULL;
                unsigned long v;

                errno = 0;
                v = strtoul(value, &end, 8);
                if (isempty(value) || !g_ascii_isdigit(*value) || errno != 0 || *end || v > 0777)
                        return fail(ret_error, name, "not an octal mode: \"%s\"", value);
                return append_u32(m, name, (uint32_t) v);
        }
        }
        return -EINVAL;
}

/* A property the table does not know: its type is guessed, the manager check tells if it was wrong. */
static const Prop *prop_guess(const char *name, const char *value, Prop *buf) {
        uint64_t u;

        *buf = (Prop) { .name = name };
        if (g_str_has_suffix(name, "Sec"))
                buf->kind = K_TIME;
        else if (parse_bool(value) >= 0)
                buf->kind = K_BOOL;
        else if (streq(value, "infinity") || parse_u64(value, &u) >= 0)
                buf->kind = K_U64;
        else
                buf->kind = K_STRING;
        return buf;
}

static int property_apply(sd_bus_message *m, const char *assignment, char **ret_error) {
        g_autofree char *name = NULL;
        const char *eq, *value;
        const Prop *p;
        Prop guess;

        if (ret_error)
                *ret_error = NULL;
        /* D-Bus strings are UTF-8: sd-bus would refuse the value only when it is appended. */
        if (!g_utf8_validate(assignment, -1, NULL))
                return fail(ret_error, "", "not valid UTF-8");
        eq = strchr(assignment, '=');
        if (!eq)
                return fail(ret_error, assignment, "expected NAME=VALUE");
        name = g_strndup(assignment, (size_t) (eq - assignment));
        value = eq + 1;
        if (isempty(name))
                return fail(ret_error, "", "expected NAME=VALUE");
        for (const char *c = name; *c; c++)
                if (!g_ascii_isalnum(*c))
                        return fail(ret_error, name, "not a property name");
        if (!g_ascii_isupper(name[0]))
                return fail(ret_error, name, "not a property name");

        p = prop_find(name);
        if (!p)
                p = prop_guess(name, value, &guess);
        return apply(m, name, value, p, ret_error);
}

int unit_property_check(const char *assignment, char **ret_error) {
        return property_apply(NULL, assignment, ret_error);
}

int unit_property_append(sd_bus_message *m, const char *assignment, char **ret_error) {
        if (!m) {
                if (ret_error)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return property_apply(m, assignment, ret_error);
}

/* ------------------------------------------------------------------ the manager's view */

#define SYSTEMD_DEST "org.freedesktop.systemd1"

typedef struct IntrospectState {
        GHashTable *props;              /* name -> type (both owned) */
        bool in_interface;
} IntrospectState;

static void on_start(GMarkupParseContext *ctx, const char *element, const char **names, const char **values,
                     gpointer data, GError **error) {
        IntrospectState *st = data;
        const char *name = NULL, *type = NULL;

        (void) ctx;
        (void) error;
        for (size_t i = 0; names[i]; i++) {
                if (streq(names[i], "name"))
                        name = values[i];
                else if (streq(names[i], "type"))
                        type = values[i];
        }
        if (streq(element, "interface"))
                st->in_interface = name && (streq(name, SYSTEMD_DEST ".Unit") || streq(name, SYSTEMD_DEST ".Service"));
        else if (streq(element, "property") && st->in_interface && name && type)
                g_hash_table_insert(st->props, g_strdup(name), g_strdup(type));
}

static void on_end(GMarkupParseContext *ctx, const char *element, gpointer data, GError **error) {
        IntrospectState *st = data;

        (void) ctx;
        (void) error;
        if (streq(element, "interface"))
                st->in_interface = false;
}

/* The object path of some service unit the manager has loaded: its introspection data lists every
 * property a service can have. */
static int find_service(sd_bus *bus, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *path = NULL;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DEST, "/org/freedesktop/systemd1", SYSTEMD_DEST ".Manager",
                               "ListUnitsByPatterns", &error, &reply, "asas", 0, 1, "*.service");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "(ssssssouso)", NULL, NULL, NULL, NULL, NULL, NULL, &path, NULL, NULL,
                                NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret = g_strdup(path);
        return 0;
}

static int manager_properties(sd_bus *bus, GHashTable **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        static const GMarkupParser parser = { .start_element = on_start, .end_element = on_end };
        g_autoptr(GHashTable) props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        IntrospectState st = { .props = props };
        g_autoptr(GMarkupParseContext) ctx = NULL;
        g_autoptr(GError) gerror = NULL;
        g_autofree char *path = NULL;
        const char *xml;
        int r;

        r = find_service(bus, &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, SYSTEMD_DEST, path, "org.freedesktop.DBus.Introspectable", "Introspect",
                               &error, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0)
                return r;
        ctx = g_markup_parse_context_new(&parser, 0, &st, NULL);
        if (!g_markup_parse_context_parse(ctx, xml, -1, &gerror) || !g_markup_parse_context_end_parse(ctx, &gerror))
                return -EBADMSG;
        if (g_hash_table_size(props) == 0)
                return -ENOENT;
        *ret = g_steal_pointer(&props);
        return 0;
}

/* Compares the (sv) entries of one sealed a(sv) message with the manager's properties. */
static int compare_entries(sd_bus_message *m, const char *name, GHashTable *known, GPtrArray *errors_out) {
        int r, n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
                g_autofree char *base = NULL;
                const char *sent, *sig = NULL, *want;

                r = sd_bus_message_read(m, "s", &sent);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &sig);
                if (r < 0)
                        return r;
                want = g_hash_table_lookup(known, sent);
                /* NAMEScale (MemoryMax=N%) is write-only: the manager shows it as NAME. */
                if (!want && g_str_has_suffix(sent, "Scale")) {
                        base = g_strndup(sent, strlen(sent) - 5);
                        if (g_hash_table_contains(known, base))
                                want = "u";
                }
                if (!want) {
                        if (streq(sent, name))
                                g_ptr_array_add(errors_out,
                                                g_strdup_printf("Property=%s: unknown to the service manager", name));
                        else
                                g_ptr_array_add(errors_out,
                                                g_strdup_printf("Property=%s: unknown to the service manager (sent as %s)",
                                                                name, sent));
                        n++;
                } else if (!streq(want, sig)) {
                        g_ptr_array_add(errors_out,
                                        g_strdup_printf("Property=%s: the service manager expects type '%s' for %s, "
                                                        "not '%s'", name, want, sent, sig));
                        n++;
                }
                r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return n;
}

int unit_property_check_manager(sd_bus *bus, char *const *assignments, GPtrArray *errors_out) {
        g_autoptr(GHashTable) known = NULL;
        int r, n = 0;

        if (!bus || !errors_out)
                return -EINVAL;
        if (!assignments || !assignments[0])
                return 0;
        r = manager_properties(bus, &known);
        if (r < 0)
                return r;

        for (char *const *a = assignments; *a; a++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                g_autofree char *error = NULL, *name = NULL;
                const char *eq;

                r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, "/org/freedesktop/systemd1",
                                                   SYSTEMD_DEST ".Manager", "StartTransientUnit");
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, 'a', "(sv)");
                if (r < 0)
                        return r;
                r = unit_property_append(m, *a, &error);
                if (r == -EINVAL) {
                        g_ptr_array_add(errors_out, g_steal_pointer(&error));
                        n++;
                        continue;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_seal(m, 1, 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_rewind(m, true);
                if (r < 0)
                        return r;
                eq = strchr(*a, '=');
                name = g_strndup(*a, (size_t) (eq - *a));
                r = compare_entries(m, name, known, errors_out);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}
