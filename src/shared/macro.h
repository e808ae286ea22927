/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers every module uses: cleanup attributes, sizes, ownership transfer. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void strvfreep(char ***p) {
        char **s = *p;
        if (!s)
                return;
        for (char **i = s; *i; i++)
                free(*i);
        free(s);
}
#define _cleanup_strv_free_ _cleanup_(strvfreep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -1;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        *p = func(*p);                  \
        }

/* Hand over ownership of a pointer or fd held in a cleanup-guarded local. */
#define TAKE_PTR(ptr)                                   \
        ({                                              \
                __typeof__(ptr) *_pp = &(ptr);          \
                __typeof__(ptr) _p = *_pp;              \
                *_pp = NULL;                            \
                _p;                                     \
        })
#define TAKE_FD(fd)                                     \
        ({                                              \
                int *_fdp = &(fd);                      \
                int _fd = *_fdp;                        \
                *_fdp = -1;                             \
                _fd;                                    \
        })

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define strempty(s) ((s) ? (s) : "")
#define isempty(s) (!(s) || !*(s))

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define ERRNO_IS_NEG(r) ((r) < 0)
