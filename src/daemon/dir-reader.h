/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Listing a directory with getdents64(2) into a buffer the caller keeps, for the walks over whole trees
 * (reconcile, poll): fdopendir() costs an fstat and two fcntls per directory and a 32 KiB buffer that
 * malloc maps and unmaps each time; this costs the getdents64 calls alone. */
#pragma once

#include <dirent.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct DirReader {
        int fd;                 /* not owned */
        char *buf;
        size_t size, pos, len;
        int error;              /* errno of a failed read, 0 otherwise */
} DirReader;

void dir_reader_init(DirReader *r, int fd, char *buf, size_t size);

/* The next entry other than "." and "..", or NULL at the end or on an error (then r->error is set). */
struct dirent64 *dir_reader_next(DirReader *r);

/* Buffers by depth for a recursive walk: each level lists into its own while the levels below it list
 * into theirs, and the buffers are reused by the next directory at the same depth. */
typedef struct DirBuffers {
        GPtrArray *bufs;
} DirBuffers;

/* The buffer for depth (0 for the walk's first directory), of *ret_size bytes. */
char *dir_buffers_get(DirBuffers *b, unsigned depth, size_t *ret_size);
void dir_buffers_done(DirBuffers *b);
