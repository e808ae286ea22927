/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whom the daemon trusts with what it reads as configuration or loads as code: a file, and every
 * directory above it, must be owned by root or the daemon's own user and writable by nobody else. */
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

/* Why a file or directory with this stat may not be trusted by a daemon running as uid self, as a
 * phrase ("writable by others (mode 0666)"); NULL if it may be. A directory may be writable by others
 * when its sticky bit is set and its owner is trusted (as /tmp): nobody else can then rename or remove
 * what is in it. The character device /dev/null (an empty file) is trusted. Newly allocated. */
char *trust_stat_problem(const struct stat *st, uid_t self);

/* Checks path (a file or a directory), every directory above it, and, when path runs through
 * symbolic links, every directory above each name it was given by as well. Returns 0 if all are
 * trusted; -EPERM with *ret_error ("PATH: refused: directory DIR is writable by its group (mode
 * 0775)"); other negative errno if path cannot be resolved or a directory above it cannot be
 * looked at (then *ret_error says so too). */
int trust_check_path(const char *path, uid_t self, char **ret_error);
