/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Opening a path beneath a directory fd without following any symlink and without leaving it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

/* path relative to a directory, lexically normalized: no empty, "." or ".." components, no leading or
 * trailing '/' ("" is the directory itself). A ".." takes off the component before it; one with none
 * before it would leave the directory: -EXDEV. A leading '/' is ignored (the path is relative). */
int path_normalize_beneath(const char *path, char **ret);

/* openat(dir_fd, path, flags) where no component of path may be a symlink (-ELOOP, the last one too
 * unless flags has O_PATH|O_NOFOLLOW, which opens the link itself) nor lead out of dir_fd (-EXDEV).
 * path is relative and normalized (path_normalize_beneath()); "" opens dir_fd's directory again.
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it (Linux 5.6), else the walk
 * below. O_CLOEXEC is added. Returns the fd or -errno. */
int open_beneath(int dir_fd, const char *path, int flags);

/* The same, one component at a time with O_NOFOLLOW: what open_beneath() does without openat2(). */
int open_beneath_walk(int dir_fd, const char *path, int flags);

/* Whether open_beneath()'s error means that the path runs through a symlink or out of its directory. */
static inline bool open_beneath_unsafe(int r) {
        return r == -ELOOP || r == -EXDEV;
}

/* lstat() of an absolute or relative path of any length: past PATH_MAX, the leading part is opened in
 * pieces that fit (following symlinks on the way, as lstat() does for every component but the last).
 * Returns 0 or -errno. */
int lstat_any_length(const char *path, struct stat *ret);
