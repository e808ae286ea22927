/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Directory listings by getdents64(2) into reused buffers. */
#include <errno.h>
#include <string.h>

#include "dir-reader.h"

/* What glibc's opendir() reads per call. Below DIR_BUFFER_DEEP levels a walk is in a chain of
 * directories (each usually with few entries), where 32 KiB per level would add up: they read 4 KiB
 * at a time, which still takes about 100 entries per call. */
#define DIR_BUFFER_SIZE 32768U
#define DIR_BUFFER_DEEP 16U
#define DIR_BUFFER_SIZE_DEEP 4096U

void dir_reader_init(DirReader *r, int fd, char *buf, size_t size) {
        *r = (DirReader) { .fd = fd, .buf = buf, .size = size };
}

struct dirent64 *dir_reader_next(DirReader *r) {
        for (;;) {
                struct dirent64 *de;

                if (r->pos >= r->len) {
                        ssize_t n;

                        if (r->fd < 0 || r->error)
                                return NULL;
                        n = getdents64(r->fd, r->buf, r->size);
                        if (n < 0) {
                                r->error = errno;
                                return NULL;
                        }
                        if (n == 0)
                                return NULL;
                        r->pos = 0;
                        r->len = (size_t) n;
                }
                de = (struct dirent64 *) (r->buf + r->pos);
                r->pos += de->d_reclen;
                if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                        continue;
                return de;
        }
}

char *dir_buffers_get(DirBuffers *b, unsigned depth, size_t *ret_size) {
        size_t size = depth < DIR_BUFFER_DEEP ? DIR_BUFFER_SIZE : DIR_BUFFER_SIZE_DEEP;

        if (!b->bufs)
                b->bufs = g_ptr_array_new_with_free_func(g_free);
        while (b->bufs->len <= depth)
                /* 8-aligned, as getdents64 lays out its records (g_malloc gives at least that). */
                g_ptr_array_add(b->bufs, g_malloc(b->bufs->len < DIR_BUFFER_DEEP ? DIR_BUFFER_SIZE
                                                                                  : DIR_BUFFER_SIZE_DEEP));
        *ret_size = size;
        return b->bufs->pdata[depth];
}

void dir_buffers_done(DirBuffers *b) {
        if (b->bufs)
                g_ptr_array_unref(g_steal_pointer(&b->bufs));
}
