/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checks on path strings that callers hand in (RunRule): normal form and lying beneath a root. */
#include <string.h>

#include "path-check.h"

bool path_is_normalized(const char *path) {
        const char *p;

        if (!path || path[0] != '/')
                return false;
        if (path[1] == '\0')
                return true;
        for (p = path + 1;;) {
                size_t l = strcspn(p, "/");

                if (l == 0)                                     /* "//" or a trailing "/" */
                        return false;
                if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (p[l] == '\0')
                        return true;
                p += l + 1;
        }
}

bool path_is_beneath(const char *path, const char *root) {
        size_t l = strlen(root);

        if (l == 1 && root[0] == '/')
                return path[0] == '/';
        return strncmp(path, root, l) == 0 && (path[l] == '/' || path[l] == '\0');
}
