/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inotaskd: the command line, run() and exit codes. */
#include <fcntl.h>
#include <getopt.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "locale-dir.h"
#include "log.h"
#include "manager.h"
#include "plugin.h"
#include "runner-transient.h"
#include "watch-wait.h"

/* Exit codes (sysexits.h values, as the unit's RestartPreventExitStatus=78 expects). */
#define EXIT_USAGE 64
#define EXIT_CONFIG 78

typedef struct Args {
        const char *config_file;
        bool user_mode;
        bool check_config;
        bool dump_config;
        bool dry_run;
        bool daemonize;
        bool verbose;                   /* -v: LogLevel=debug whatever the configuration says */
        int log_target;                 /* LogTarget, -1: not given, SYSTEMD_LOG_TARGET= or auto */
        const char *pid_file;
        bool once;
} Args;

static void help(void) {
        printf(_("Usage: %s [OPTIONS]\n\n"
                 "Watch the file system and run tasks when files change.\n\n"
                 "  -c, --config=FILE      read FILE as the main configuration file\n"
                 "      --system           system mode (default): /etc/inotaskd, the system bus\n"
                 "      --user             user mode: $XDG_CONFIG_HOME/inotaskd, the session bus\n"
                 "      --check-config     validate the configuration and exit (0 or 78)\n"
                 "      --dump-config      print the merged configuration and exit\n"
                 "  -n, --dry-run          log what would run, run nothing\n"
                 "      --once             raise InitialEvent= of every watch, run the tasks, exit (0 if\n"
                 "                         all succeeded)\n"
                 "  -v, --verbose          debug messages, whatever LogLevel= says\n"
                 "      --log-target=T     auto, console, console-prefixed, journal, kmsg or null\n"
                 "                         (default: $SYSTEMD_LOG_TARGET, else auto)\n"
                 "  -d, --daemon           fork to the background (for use without systemd)\n"
                 "      --pid-file=FILE    with -d, write the daemon's pid to FILE\n"
                 "      --version          show the version and exit\n"
                 "  -h, --help             show this help and exit\n"),
               program_invocation_short_name);
}

enum {
        ARG_SYSTEM = 0x100,
        ARG_USER,
        ARG_CHECK_CONFIG,
        ARG_DUMP_CONFIG,
        ARG_LOG_TARGET,
        ARG_PID_FILE,
        ARG_VERSION,
        ARG_ONCE,
};

/* Returns 1 to go on, 0 to exit successfully, <0 (an exit code, negated) to fail. */
static int parse_argv(int argc, char *argv[], Args *a) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "user", no_argument, NULL, ARG_USER },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "dump-config", no_argument, NULL, ARG_DUMP_CONFIG },
                { "dry-run", no_argument, NULL, 'n' },
                { "verbose", no_argument, NULL, 'v' },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "daemon", no_argument, NULL, 'd' },
                { "pid-file", required_argument, NULL, ARG_PID_FILE },
                { "version", no_argument, NULL, ARG_VERSION },
                { "once", no_argument, NULL, ARG_ONCE },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c, t;

        while ((c = getopt_long(argc, argv, "c:nvdh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        a->config_file = optarg;
                        break;
                case ARG_SYSTEM:
                        a->user_mode = false;
                        break;
                case ARG_USER:
                        a->user_mode = true;
                        break;
                case ARG_CHECK_CONFIG:
                        a->check_config = true;
                        break;
                case ARG_DUMP_CONFIG:
                        a->dump_config = true;
                        break;
                case 'n':
                        a->dry_run = true;
                        break;
                case 'v':
                        /* One level only, so a second -v is refused rather than silently meaning nothing more. */
                        if (a->verbose) {
                                fprintf(stderr, _("%s: -v/--verbose may be given once\n"),
                                        program_invocation_short_name);
                                return -EXIT_USAGE;
                        }
                        a->verbose = true;
                        break;
                case ARG_LOG_TARGET:
                        t = log_target_from_string(optarg);
                        if (t < 0) {
                                fprintf(stderr, _("%s: unknown log target \"%s\"\n"), program_invocation_short_name,
                                        optarg);
                                return -EXIT_USAGE;
                        }
                        a->log_target = t;
                        break;
                case 'd':
                        a->daemonize = true;
                        break;
                case ARG_PID_FILE:
                        a->pid_file = optarg;
                        break;
                case ARG_ONCE:
                        a->once = true;
                        break;
                case ARG_VERSION:
                        printf("inotaskd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        fprintf(stderr, _("Try '%s --help' for more information.\n"), program_invocation_short_name);
                        return -EXIT_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, _("%s: unexpected argument \"%s\"\n"), program_invocation_short_name, argv[optind]);
                return -EXIT_USAGE;
        }
        if (a->pid_file && !a->daemonize) {
                fprintf(stderr, _("%s: --pid-file needs --daemon\n"), program_invocation_short_name);
                return -EXIT_USAGE;
        }
        return 1;
}

static int check_or_dump(const Args *a) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) plugins = NULL;
        ConfigSourcesOwned *src = config_sources_new(a->user_mode, a->config_file);
        Config *c = NULL;
        int r;

        src->sources.translate_messages = true;

        /* A plugin that does not load is a configuration error too; the dump does not load them. */
        r = config_load_with_plugins(&src->sources, &c, a->dump_config ? NULL : &plugins, errors);
        /* Property= names and types the service manager does not take, where one can be asked. */
        if (r == 0 && a->check_config) {
                int k = task_units_check_manager(c, a->user_mode, errors);

                if (k < 0)
                        log_debug_errno(k, "No service manager to check Property= against: %m");
                else if (k == CONFIG_E_INVALID) {
                        config_free(TAKE_PTR(c));
                        r = k;
                }
        }
        for (guint i = 0; i < errors->len; i++)
                fprintf(stderr, "%s\n", (const char *) errors->pdata[i]);
        config_sources_free(src);
        if (r != 0)
                return r == CONFIG_E_INVALID ? EXIT_CONFIG : EXIT_FAILURE;
        if (a->dump_config) {
                g_autofree char *d = config_dump(c);

                fputs(d, stdout);
        } else {
                g_autofree char *watches = g_strdup_printf(g_dngettext(NULL, "%u watch", "%u watches",
                                                                       c->watches->len), c->watches->len);
                g_autofree char *rules = g_strdup_printf(g_dngettext(NULL, "%u rule", "%u rules", c->rules->len),
                                                         c->rules->len);

                watch_wait_warn_missing(c);
                /* TRANSLATORS: the counts are "%u watch(es)" and "%u rule(s)" */
                fprintf(stderr, _("Configuration is valid: %s, %s.\n"), watches, rules);
        }
        config_free(c);
        return EXIT_SUCCESS;
}

/* Classic double fork; the first parent exits only when the daemon is ready (or has failed). */
static int daemonize(const Args *a, int *ret_ready_fd) {
        int p[2], null_fd;
        pid_t pid;
        char c;

        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create pipe: %m");
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork: %m");
        if (pid > 0) {
                (void) close(p[1]);
                _exit(read(p[0], &c, 1) == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
        }
        (void) close(p[0]);
        if (setsid() < 0)
                _exit(EXIT_FAILURE);
        pid = fork();
        if (pid < 0)
                _exit(EXIT_FAILURE);
        if (pid > 0)
                _exit(EXIT_SUCCESS);
        if (a->pid_file) {
                g_autofree char *s = g_strdup_printf("%d\n", (int) getpid());

                if (!g_file_set_contents(a->pid_file, s, -1, NULL))
                        log_warning("Failed to write pid file %s, ignoring.", a->pid_file);
        }
        if (chdir("/") < 0)
                _exit(EXIT_FAILURE);
        umask(022);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
                (void) dup2(null_fd, STDIN_FILENO);
                (void) dup2(null_fd, STDOUT_FILENO);
                (void) dup2(null_fd, STDERR_FILENO);
                (void) close(null_fd);
        }
        *ret_ready_fd = p[1];
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Args a = { .log_target = -1 };
        const char *e;
        int r, ready_fd = -1;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, locale_dir());
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);

        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return -r;

        /* As systemd's own tools: the environment names the target unless the command line does. */
        if (a.log_target < 0) {
                e = getenv("SYSTEMD_LOG_TARGET");
                a.log_target = e ? log_target_from_string(e) : LOG_TARGET_AUTO;
                if (a.log_target < 0) {
                        a.log_target = LOG_TARGET_AUTO;
                        (void) log_setup(a.log_target);
                        log_warning("Unknown SYSTEMD_LOG_TARGET=%s, ignoring.", e);
                }
        }
        r = log_setup(a.log_target);
        if (r < 0)
                log_warning_errno(r, "Failed to open /dev/kmsg, logging to the console: %m");
        if (a.verbose)
                log_set_max_level(LOG_DEBUG);

        if (a.check_config || a.dump_config)
                return check_or_dump(&a);

        if (a.daemonize) {
                r = daemonize(&a, &ready_fd);
                if (r < 0)
                        return EXIT_FAILURE;
                if (a.log_target == LOG_TARGET_AUTO)
                        (void) log_setup(access("/run/systemd/journal/socket", F_OK) >= 0 ? LOG_TARGET_JOURNAL
                                                                                          : LOG_TARGET_NULL);
        }

        r = manager_new(&m, &(ManagerOptions) {
                .user_mode = a.user_mode,
                .dry_run = a.dry_run,
                .config_file = a.config_file,
                .log_level_override = a.verbose ? LOG_DEBUG : -1,
                .ready_fd = ready_fd,
                .once = a.once,
        });
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_start(m);
        if (r == CONFIG_E_INVALID)
                return EXIT_CONFIG;
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : r;
}

int main(int argc, char *argv[]) {
        return run(argc, argv);
}
