/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes the configuration parser: any text is accepted or rejected with messages, and whatever is accepted
 * dumps to a text that parses back and dumps the same again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

/* By path: a plain "config.h" finds the build's generated config.h first (-I. of the build root). */
#include "src/daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Larger inputs only make each run slower, not the parser's paths more varied. */
#define INPUT_MAX (64U * 1024U)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        _cleanup_(config_freep) Config *c = NULL, *again = NULL;
        g_autofree char *text = NULL, *dump = NULL, *dump_again = NULL;
        int r;

        if (size > INPUT_MAX)
                return 0;

        /* The parser sees C strings: the text ends at the first NUL, as config_load() would refuse it. */
        text = g_strndup((const char *) data, size);

        r = config_load_string("fuzz.conf", text, &c, errors);
        if (r != 0) {
                /* Rejected: with at least one message, each naming the file, and nothing returned. */
                if (r != CONFIG_E_INVALID || errors->len == 0 || c)
                        abort();
                for (guint i = 0; i < errors->len; i++)
                        if (!g_str_has_prefix(errors->pdata[i], "fuzz.conf:"))
                                abort();
                return 0;
        }
        if (!c || errors->len != 0)
                abort();

        dump = config_dump(c);
        r = config_load_string("fuzz.conf", dump, &again, errors);
        if (r != 0) {
                for (guint i = 0; i < errors->len; i++)
                        fprintf(stderr, "%s\n", (const char *) errors->pdata[i]);
                fprintf(stderr, "The dump does not parse back:\n%s\n", dump);
                abort();
        }
        dump_again = config_dump(again);
        if (!streq(dump, dump_again)) {
                fprintf(stderr, "The dump changed after a round trip:\n%s\n---\n%s\n", dump, dump_again);
                abort();
        }

        return 0;
}
