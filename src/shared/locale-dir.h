/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where both programs find their message catalogs: the installed directory, or $INOTASKD_LOCALEDIR (an
 * absolute path), so the tests can run the built programs with the catalogs of the build tree. */
#pragma once

#include <stdlib.h>

static inline const char *locale_dir(void) {
        const char *e = getenv("INOTASKD_LOCALEDIR");

        return e && e[0] == '/' ? e : LOCALEDIR;
}
