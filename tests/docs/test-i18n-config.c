/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The parser's messages are translated only when the caller asks (--check-config): the daemon's log and
 * its InvalidConfig answers stay English whatever the locale, as systemd's do. */
#include <glib.h>
#include <glib/gstdio.h>
#include <libintl.h>
#include <locale.h>
#include <string.h>

#include "config.h"

static const char *const no_dirs[] = { NULL };

static char *first_error(const char *file, bool translate) {
        const ConfigSources sources = {
                .main_file = file,
                .dropin_dirs = no_dirs,
                .translate_messages = translate,
        };
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        Config *c = NULL;
        int r = config_load(&sources, &c, errors);

        g_assert_cmpint(r, ==, CONFIG_E_INVALID);
        g_assert_null(c);
        g_assert_cmpuint(errors->len, >=, 1);
        return g_strdup(errors->pdata[0]);
}

static void test_translate(void) {
        g_autofree char *dir = g_dir_make_tmp("test-i18n-config-XXXXXX", NULL);
        g_autofree char *file = g_build_filename(dir, "inotaskd.conf", NULL);
        g_autofree char *en = NULL, *de = NULL;

        g_assert_true(g_file_set_contents(file, "[Watch w]\nPath=/tmp\n[Rule r]\nOn=changed\nDelaySec=5 minuts\n"
                                          "Exec=/bin/true\n", -1, NULL));
        en = first_error(file, false);
        de = first_error(file, true);
        g_test_message("log: %s", en);
        g_test_message("--check-config: %s", de);
        g_assert_true(g_str_has_suffix(en, ":5: DelaySec: invalid time span \"5 minuts\""));
        g_assert_true(g_str_has_suffix(de, ":5: DelaySec: ungültige Zeitspanne „5 minuts“"));
        (void) g_unlink(file);
        (void) g_rmdir(dir);
}

int main(int argc, char *argv[]) {
        const char *dir = g_getenv("INOTASKD_LOCALEDIR");

        g_test_init(&argc, &argv, NULL);
        /* German through LANGUAGE, which glibc honours under any locale but C/POSIX: C.UTF-8 is built in. */
        g_setenv("LANGUAGE", "de", TRUE);
        if (!setlocale(LC_ALL, "C.UTF-8")) {
                g_test_skip("no C.UTF-8 locale");
                return g_test_run();
        }
        g_assert_nonnull(dir);
        bindtextdomain(GETTEXT_PACKAGE, dir);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        g_test_add_func("/i18n/config/translate-only-when-asked", test_translate);
        return g_test_run();
}
