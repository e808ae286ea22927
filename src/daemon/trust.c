/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whom the daemon trusts: a configuration file or plugin that someone else could write is refused,
 * with its name, as sshd's StrictModes and sudo refuse theirs. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "trust.h"

static bool trusted_owner(uid_t owner, uid_t self) {
        return owner == 0 || owner == self;
}

char *trust_stat_problem(const struct stat *st, uid_t self) {
        unsigned mode = (unsigned) (st->st_mode & 07777);

        if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3))
                return NULL;
        if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
                return g_strdup("neither a regular file nor a directory");
        if (!trusted_owner(st->st_uid, self))
                return self == 0 ? g_strdup_printf("owned by uid %u, not by root", (unsigned) st->st_uid)
                                 : g_strdup_printf("owned by uid %u, neither by root nor by uid %u",
                                                   (unsigned) st->st_uid, (unsigned) self);
        if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
                return NULL;
        if (st->st_mode & S_IWOTH)
                return g_strdup_printf("writable by others (mode %04o)", mode);
        if (st->st_mode & S_IWGRP)
                return g_strdup_printf("writable by its group (mode %04o)", mode);
        return NULL;
}

/* Every directory above the absolute path p, up to "/", followed if they are links. */
static int check_parents(const char *file, const char *p, uid_t self, char **ret_error) {
        g_autofree char *dir = g_path_get_dirname(p);

        for (;;) {
                g_autofree char *problem = NULL, *up = NULL;
                struct stat st;

                if (stat(dir, &st) < 0) {
                        int r = -errno;

                        *ret_error = g_strdup_printf("%s: cannot check directory %s: %s", file, dir,
                                                     g_strerror(-r));
                        return r;
                }
                problem = S_ISDIR(st.st_mode) ? trust_stat_problem(&st, self) : g_strdup("not a directory");
                if (problem) {
                        *ret_error = g_strdup_printf("%s: refused: directory %s is %s", file, dir, problem);
                        return -EPERM;
                }
                if (streq(dir, "/"))
                        return 0;
                up = g_path_get_dirname(dir);
                g_free(dir);
                dir = TAKE_PTR(up);
        }
}

int trust_check_path(const char *path, uid_t self, char **ret_error) {
        g_autofree char *problem = NULL, *named = NULL;
        _cleanup_free_ char *resolved = NULL;
        struct stat st;
        int r;

        resolved = realpath(path, NULL);
        if (!resolved || stat(resolved, &st) < 0) {
                r = -errno;
                *ret_error = g_strdup_printf("%s: cannot check it: %s", path, g_strerror(-r));
                return r;
        }
        problem = trust_stat_problem(&st, self);
        if (problem) {
                *ret_error = g_strdup_printf("%s: refused: %s", path, problem);
                return -EPERM;
        }
        r = check_parents(path, resolved, self, ret_error);
        if (r < 0)
                return r;

        /* Whoever can write a directory that holds a link on the way can point it elsewhere. */
        named = g_canonicalize_filename(path, NULL);
        if (streq(named, resolved))
                return 0;
        return check_parents(path, named, self, ret_error);
}
