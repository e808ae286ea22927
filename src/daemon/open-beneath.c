/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Opening a path beneath a directory fd, never through a symlink: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or where the kernel lacks it (before 5.6, or a seccomp filter that refuses it)
 * the same walk by hand, one O_NOFOLLOW component at a time from fds, so that nobody who can write to the
 * tree can redirect what a path names while it is being resolved. */
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "macro.h"
#include "open-beneath.h"

#if defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2 1
#endif

int path_normalize_beneath(const char *path, char **ret) {
        g_auto(GStrv) parts = g_strsplit(path, "/", -1);
        g_autoptr(GPtrArray) keep = g_ptr_array_new();

        for (char **c = parts; *c; c++) {
                if (!**c || streq(*c, "."))
                        continue;
                if (streq(*c, "..")) {
                        if (keep->len == 0)
                                return -EXDEV;
                        g_ptr_array_remove_index(keep, keep->len - 1);
                        continue;
                }
                g_ptr_array_add(keep, *c);
        }
        g_ptr_array_add(keep, NULL);
        *ret = g_strjoinv("/", (char **) keep->pdata);
        return 0;
}

/* openat() of one component with O_NOFOLLOW, which says ENOTDIR, not ELOOP, for a symlink when
 * O_DIRECTORY is asked for, and opens the link itself with O_PATH: both are -ELOOP here unless the
 * caller asked for the link (O_PATH|O_NOFOLLOW). */
static int open_component(int dir_fd, const char *name, int flags) {
        bool want_link = (flags & (O_PATH | O_NOFOLLOW)) == (O_PATH | O_NOFOLLOW);
        struct stat st;
        int fd;

        if (streq(name, ".."))
                return -EXDEV;
        fd = openat(dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;

                if (e == ENOTDIR && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                    S_ISLNK(st.st_mode))
                        return -ELOOP;
                return -e;
        }
        if ((flags & O_PATH) && !want_link) {
                if (fstat(fd, &st) < 0) {
                        int e = errno;

                        (void) safe_close(fd);
                        return -e;
                }
                if (S_ISLNK(st.st_mode)) {
                        (void) safe_close(fd);
                        return -ELOOP;
                }
        }
        return fd;
}

int open_beneath_walk(int dir_fd, const char *path, int flags) {
        _cleanup_close_ int cur = -1;
        const char *p = path;

        if (*path == '/')
                return -EXDEV;
        if (!*path) {
                int fd = openat(dir_fd, ".", flags | O_CLOEXEC);

                return fd < 0 ? -errno : fd;
        }
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                char name[NAME_MAX + 1];
                int fd;

                if (len > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, len);
                name[len] = 0;
                if (!slash)
                        return open_component(cur >= 0 ? cur : dir_fd, name, flags);
                if (len > 0 && !streq(name, ".")) {
                        /* A directory on the way: O_PATH needs no read permission, only search. */
                        fd = open_component(cur >= 0 ? cur : dir_fd, name, O_PATH | O_DIRECTORY);
                        if (fd < 0)
                                return fd;
                        (void) safe_close(cur);
                        cur = fd;
                }
                p = slash + 1;
        }
}

#ifdef HAVE_OPENAT2
static int openat2_beneath(int dir_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (unsigned) (flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };

        /* EAGAIN: a rename or mount elsewhere raced the lookup, which the kernel cannot rule out. */
        for (int attempt = 0; attempt < 16; attempt++) {
                long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof how);

                if (fd >= 0)
                        return (int) fd;
                if (errno != EAGAIN)
                        return -errno;
        }
        return -EAGAIN;
}
#endif

int open_beneath(int dir_fd, const char *path, int flags) {
#ifdef HAVE_OPENAT2
        int r;

        if (*path) {
                r = openat2_beneath(dir_fd, path, flags);
                /* ENOSYS: before Linux 5.6; EPERM: a seccomp filter that does not know it. */
                if (!(r == -ENOSYS || r == -EPERM || r == -EAGAIN))
                        return r;
        }
#endif
        return open_beneath_walk(dir_fd, path, flags);
}

int lstat_any_length(const char *path, struct stat *ret) {
        _cleanup_close_ int fd = -EBADF;
        const char *rest = path;

        while (strlen(rest) >= PATH_MAX) {
                g_autofree char *head = NULL;
                const char *cut = rest + PATH_MAX - 1;
                int nfd;

                while (cut > rest && *cut != '/')
                        cut--;
                if (cut == rest)
                        return -ENAMETOOLONG;   /* one name longer than PATH_MAX: no such file */
                head = g_strndup(rest, (size_t) (cut - rest));
                nfd = openat(fd >= 0 ? fd : AT_FDCWD, *head ? head : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (nfd < 0)
                        return -errno;
                safe_close(fd);
                fd = nfd;
                rest = cut + 1;
        }
        if (fstatat(fd >= 0 ? fd : AT_FDCWD, rest, ret, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}
