/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend=fanotify: one FAN_MARK_FILESYSTEM mark per file system (no kernel watch per directory), events
 * with the directory's file handle and the entry's name (FAN_REPORT_DFID_NAME), renames as one event with
 * both ends (FAN_RENAME). The handle is opened against a descriptor on that file system and its path
 * matched to the watches' trees: whatever lies outside them is dropped. A full queue rescans as
 * inotify's does. Needs CAP_SYS_ADMIN and Linux 5.9 (5.17 for FAN_RENAME; older ones: a rename is a
 * deletion and a creation). */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "backend-tree.h"
#include "log.h"
#include "message-ids.h"

#define FAN_BUFFER_SIZE (64 * 1024)
#define FAN_READS_MAX 16U

typedef struct FanFs {
        __kernel_fsid_t fsid;
        int mount_fd;                   /* a directory on it, for open_by_handle_at(); -1: open path */
        /* A file system mounted below a root: opened by path for each event, for an fd kept open would
         * make "umount" of it fail with EBUSY (inotify's watches do not hold a mount either). */
        char *path;
} FanFs;

typedef struct FanBackend {
        TreeBackend t;
        int fd;
        sd_event_source *io;
        GArray *fs;                     /* FanFs: the file systems marked */
        bool has_rename;
        bool enabled, reading;
        usec_t last_read;               /* CLOCK_REALTIME */
        uint8_t *buffer;
} FanBackend;

static int on_fanotify(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void fan_new_dev(TreeBackend *t, WatchNode *n, int fd);

static const uint64_t base_mask = FAN_CREATE | FAN_DELETE | FAN_CLOSE_WRITE | FAN_ATTRIB | FAN_ONDIR;

static int fan_init(BackendImpl *base, const char *watch_name) {
        FanBackend *b = (FanBackend *) base;
        int r;

        tree_backend_init(&b->t);
        tree_backend_index_inodes(&b->t);
        tree_backend_note_walks(&b->t);
        b->t.new_dev = fan_new_dev;
        b->fd = -1;
        b->enabled = true;
        b->fs = g_array_new(false, false, sizeof(FanFs));
        b->buffer = g_malloc(FAN_BUFFER_SIZE);
        b->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY);
        if (b->fd < 0) {
                if (errno == EPERM)
                        return log_error_errno(errno, "Watch %s: Backend=fanotify needs CAP_SYS_ADMIN "
                                               "(system mode, as root): %m; use Backend=inotify.", watch_name);
                if (errno == EINVAL || errno == ENOSYS)
                        return log_error_errno(errno, "Watch %s: Backend=fanotify needs Linux 5.9 or later "
                                               "(FAN_REPORT_DFID_NAME): %m; use Backend=inotify.", watch_name);
                return log_error_errno(errno, "Watch %s: failed to create a fanotify group: %m", watch_name);
        }
        r = sd_event_add_io(base->event, &b->io, b->fd, EPOLLIN, on_fanotify, b);
        if (r < 0)
                return log_error_errno(r, "Watch %s: failed to add the fanotify event source: %m", watch_name);
        (void) sd_event_source_set_description(b->io, "fanotify");
        r = sd_event_source_set_exit_on_failure(b->io, true);
        if (r < 0)
                return log_error_errno(r, "Watch %s: failed to set up the fanotify event source: %m",
                                       watch_name);
        b->last_read = now_usec(CLOCK_REALTIME);
        return 0;
}

static void fan_done(BackendImpl *base) {
        FanBackend *b = (FanBackend *) base;

        b->io = sd_event_source_disable_unref(b->io);
        if (b->fs) {
                for (guint i = 0; i < b->fs->len; i++)
                {
                        safe_close(g_array_index(b->fs, FanFs, i).mount_fd);
                        g_free(g_array_index(b->fs, FanFs, i).path);
                }
                g_array_unref(b->fs);
        }
        /* Closing the group drops its marks. */
        b->fd = safe_close(b->fd);
        g_free(b->buffer);
        tree_backend_done(&b->t);
}

static bool fsid_equal(const __kernel_fsid_t *a, const __kernel_fsid_t *b) {
        return a->val[0] == b->val[0] && a->val[1] == b->val[1];
}

/* Marks the file system of path (once per file system). */
/* Does a handle of directory fd open back (open_by_handle_at(), which events are resolved with)? 0, or the
 * negative errno of name_to_handle_at() or open_by_handle_at() (EPERM under a seccomp filter). */
static int probe_handles(int fd) {
        union {
                struct file_handle h;
                uint8_t space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
        } u = { .h.handle_bytes = MAX_HANDLE_SZ };
        int mount_id, back;

        if (name_to_handle_at(fd, "", &u.h, &mount_id, AT_EMPTY_PATH) < 0)
                return -errno;
        back = open_by_handle_at(fd, &u.h, O_PATH | O_CLOEXEC);
        if (back < 0)
                return -errno;
        safe_close(back);
        return 0;
}

/* Marks the file system of directory fd (at path), once per file system. A root's file system keeps an
 * fd for the handles of its events; a mount below a root (keep_fd false) is found again by path. */
static int mark_fs(FanBackend *b, Watch *w, int fd, const char *path, bool keep_fd) {
        struct statfs sfs;
        FanFs f = {};
        int r;
        uint64_t mask = base_mask | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_RENAME;

        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        for (guint i = 0; i < b->fs->len; i++)
                if (fsid_equal(&g_array_index(b->fs, FanFs, i).fsid, (__kernel_fsid_t *) &sfs.f_fsid))
                        return 0;
        if (fanotify_mark(b->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, fd, NULL) < 0) {
                if (errno != EINVAL)
                        goto fail;
                /* Before 5.17: no FAN_RENAME; moves come in halves, raised as deletion and creation. */
                mask &= ~(uint64_t) FAN_RENAME;
                if (fanotify_mark(b->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, fd, NULL) < 0)
                        goto fail;
        } else
                b->has_rename = true;
        f.mount_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f.mount_fd < 0)
                return log_warning_errno(errno, "Watch %s: cannot open %s: %m", w->name, path);
        r = probe_handles(f.mount_fd);
        if (r < 0) {
                safe_close(f.mount_fd);
                /* Every event would then name a directory we cannot find: say so instead of hearing nothing. */
                return log_error_errno(r, "Watch %s: Backend=fanotify cannot open the file handles it gets for %s "
                                       "(open_by_handle_at: %m; a system call filter?); use Backend=inotify.",
                                       w->name, path);
        }
        memcpy(&f.fsid, &sfs.f_fsid, sizeof f.fsid);
        if (!keep_fd) {
                f.mount_fd = safe_close(f.mount_fd);
                f.path = g_strdup(path);
        }
        g_array_append_val(b->fs, f);
        return 0;
fail:
        if (errno == EPERM)
                return log_error_errno(errno, "Watch %s: Backend=fanotify needs CAP_SYS_ADMIN to mark the file "
                                       "system of %s: %m", w->name, path);
        if (errno == EXDEV || errno == EOPNOTSUPP || errno == ENODEV)
                return log_error_errno(errno, "Watch %s: the file system of %s has no usable file handles for "
                                       "fanotify (%m); use Backend=inotify.", w->name, path);
        return log_error_errno(errno, "Watch %s: failed to mark the file system of %s: %m", w->name, path);
}

/* A directory of a tree on another file system than its parent's (a mount below the root): its file
 * system is marked too, or what happens below it is not heard, and the log says so. */
static void fan_new_dev(TreeBackend *t, WatchNode *n, int fd) {
        FanBackend *b = (FanBackend *) t;
        g_autofree char *p = watch_node_path(n);
        Watch *w = watch_node_owner(n);

        if (!n->parent)
                return;         /* a root's was marked before its walk */
        if (mark_fs(b, w, fd, p, false) < 0)
                log_warning("Watch %s: changes below the mount at %s are not heard.", w->name, p);
}

static void fan_add(BackendImpl *base, Watch *w, bool announce) {
        FanBackend *b = (FanBackend *) base;
        g_autofree char *dir = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        /* The mark first, then the walk: what changes during the walk is heard (maybe twice). */
        if (stat(w->path, &st) < 0) {
                backend_watch_lost(base, w);
                return;
        }
        dir = S_ISDIR(st.st_mode) ? g_strdup(w->path) : g_path_get_dirname(w->path);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                backend_watch_lost(base, w);
                return;
        }
        r = mark_fs(b, w, fd, dir, true);
        if (r < 0)
                return;         /* logged; the watch stays inactive */
        r = tree_backend_attach(&b->t, w, announce);
        if (r < 0) {
                log_warning_errno(r, "Watch %s: cannot read %s, not watching it for now: %m", w->name, w->path);
                backend_watch_lost(base, w);
        }
}

/* ------------------------------------------------------------------ events */

/* The watches' node of directory path (and its watch); NULL if outside every fanotify watch's tree. */
static WatchNode *node_of_path(FanBackend *b, const char *path, size_t skip, Watch **ret_w) {
        GPtrArray *ws = b->t.base.face->watches;

        for (guint i = skip; i < ws->len; i++) {
                Watch *w = ws->pdata[i];
                const char *root, *p;
                size_t rl;
                WatchNode *n;

                if (w->impl != &b->t.base || !w->active || !w->root)
                        continue;
                root = watch_node_name(w->root);
                rl = strlen(root);
                if (strncmp(path, root, rl) != 0 || (path[rl] != 0 && path[rl] != '/' && !streq(root, "/")))
                        continue;
                n = w->root;
                for (p = path + rl; n && *p;) {
                        const char *e;
                        g_autofree char *name = NULL;

                        p += strspn(p, "/");
                        e = strchrnul(p, '/');
                        if (e == p)
                                break;
                        name = g_strndup(p, e - p);
                        n = watch_node_child(n, name);
                        p = e;
                }
                if (n && (w->recursive || n == w->root)) {
                        *ret_w = w;
                        return n;
                }
        }
        return NULL;
}

/* The present path of the directory whose handle h is (on the file system fsid), or NULL; its inode and
 * device in ret_ino and ret_dev. */
static char *dir_path(FanBackend *b, const __kernel_fsid_t *fsid, struct file_handle *h, uint64_t *ret_ino,
                      dev_t *ret_dev) {
        struct stat st;
        char proc[64], buf[PATH_MAX];
        _cleanup_close_ int own = -1;
        int mount_fd = -1, fd;
        ssize_t l;

        for (guint i = 0; i < b->fs->len; i++) {
                const FanFs *f = &g_array_index(b->fs, FanFs, i);

                if (!fsid_equal(&f->fsid, fsid))
                        continue;
                mount_fd = f->mount_fd;
                if (mount_fd < 0 && f->path)
                        mount_fd = own = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                break;
        }
        if (mount_fd < 0)
                return NULL;
        fd = open_by_handle_at(mount_fd, h, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return NULL;    /* gone since */
        if (fstat(fd, &st) >= 0) {
                *ret_ino = (uint64_t) st.st_ino;
                *ret_dev = st.st_dev;
        }
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        l = readlink(proc, buf, sizeof buf - 1);
        safe_close(fd);
        if (l <= 0 || (size_t) l >= sizeof buf - 1)
                return NULL;
        buf[l] = 0;
        /* A directory deleted since reads as "... (deleted)": its events have no place in the tree. */
        if (buf[0] != '/')
                return NULL;
        return g_strdup(buf);
}

typedef struct FanName {
        char *dir;                      /* the directory's path now */
        uint64_t ino;                   /* its inode, 0 if not known */
        dev_t dev;                      /* and device (an inode number is unique on one file system) */
        const char *name;
} FanName;

#define FAN_NODES_MAX 16U

typedef struct FanNodes {
        unsigned n;
        WatchNode *node[FAN_NODES_MAX];
} FanNodes;

/* The nodes of the directory of fn, one per watch that has it: by device and inode in the tree's wd
 * index (exact, whatever renames of it the tree has not applied yet; an inode beyond 31 bits is checked
 * by path), else by path. */
static void dir_nodes(FanBackend *b, const FanName *fn, FanNodes *ret) {
        WatchWdIter i;
        WatchNode *n;
        Watch *w;

        ret->n = 0;
        if (!fn->name)
                return;
        if (fn->ino) {
                watch_wd_iter_init(&i, b->t.tree, tree_backend_ino_wd(fn->ino));
                while ((n = watch_wd_iter_next(&i)) && ret->n < FAN_NODES_MAX) {
                        w = watch_node_owner(n);
                        if (!w->active || (!w->recursive && n != w->root))
                                continue;
                        /* The same inode number on another file system: another directory. */
                        if (tree_backend_node_dev(&b->t, n) != fn->dev)
                                continue;
                        if (fn->ino > 0x7fffffff) {
                                g_autofree char *p = watch_node_path(n);
                                struct stat st;

                                if (stat(p, &st) < 0 || (uint64_t) st.st_ino != fn->ino)
                                        continue;
                        }
                        ret->node[ret->n++] = n;
                }
        }
        if (ret->n == 0 && fn->dir && (n = node_of_path(b, fn->dir, 0, &w)))
                ret->node[ret->n++] = n;
}

static void emit(FanBackend *b, Watch *w, const WatchNode *n, const char *name, uint32_t mask, EventKind kind,
                 const char *src) {
        tree_backend_emit(&b->t, w, n, name, mask, kind, false, src);
}

static void created(FanBackend *b, Watch *w, WatchNode *n, const char *name, bool is_dir, uint32_t mask) {
        if (watch_skips(w, n, name))
                return;
        if (!is_dir) {
                /* Already known: the walk of a new directory found it before its own event came. */
                if (watch_node_add_file(n, name) || mask == IN_MOVED_TO)
                        emit(b, w, n, name, mask, EVENT_KIND_CREATED, NULL);
                return;
        }
        if (watch_node_child(n, name))
                return;
        emit(b, w, n, name, mask | IN_ISDIR, EVENT_KIND_CREATED, NULL);
        if (w->recursive && w->auto_add)
                (void) reconcile_new_dir(&b->t.reconciler, n, name, RECONCILE_CREATED);
        else if (!w->recursive)
                tree_backend_mark(&b->t, watch_tree_add_child(b->t.tree, n, name));
}

static void deleted(FanBackend *b, Watch *w, WatchNode *n, const char *name, bool is_dir, uint32_t mask) {
        WatchNode *c;

        if (watch_skips(w, n, name))
                return;
        if (!is_dir) {
                if (watch_node_remove_file(n, name) || mask == IN_DELETE)
                        emit(b, w, n, name, mask, EVENT_KIND_DELETED, NULL);
                return;
        }
        c = watch_node_child(n, name);
        emit(b, w, n, name, mask | IN_ISDIR, EVENT_KIND_DELETED, NULL);
        if (c)
                tree_backend_remove(&b->t, c);
}

static void renamed_in(FanBackend *b, Watch *w, WatchNode *nf, const char *from, WatchNode *nt, const char *to,
                       bool is_dir) {
        uint32_t isdir = is_dir ? IN_ISDIR : 0;
        g_autofree char *src = NULL;

        if (nf && watch_skips(w, nf, from))
                nf = NULL;
        if (nt && watch_skips(w, nt, to))
                nt = NULL;
        if (nf && !nt) {
                deleted(b, w, nf, from, is_dir, IN_MOVED_FROM);
                return;
        }
        if (!nf) {
                if (nt)
                        created(b, w, nt, to, is_dir, IN_MOVED_TO);
                return;
        }
        src = watch_node_child_path(nf, from);
        emit(b, w, nf, from, IN_MOVED_FROM | isdir, EVENT_KIND_NONE, NULL);
        if (is_dir) {
                WatchNode *c = watch_node_child(nf, from);

                if (c)
                        tree_backend_move(&b->t, c, nt, to);
                else if (w->recursive && w->auto_add)
                        (void) reconcile_new_dir(&b->t.reconciler, nt, to, RECONCILE_CREATED);
        } else {
                (void) watch_node_remove_file(nf, from);
                (void) watch_node_add_file(nt, to);
        }
        emit(b, w, nt, to, IN_MOVED_TO | isdir, EVENT_KIND_MOVED, src);
}

/* A rename, for every watch that has one of its ends: within it a move, else out of it or into it. */
static void renamed(FanBackend *b, const FanName *from, const FanName *to, bool is_dir) {
        FanNodes f, t;
        bool t_done[FAN_NODES_MAX] = {};

        dir_nodes(b, from, &f);
        dir_nodes(b, to, &t);
        for (unsigned i = 0; i < f.n; i++) {
                WatchNode *nt = NULL;

                for (unsigned j = 0; j < t.n; j++)
                        if (watch_node_owner(t.node[j]) == watch_node_owner(f.node[i])) {
                                nt = t.node[j];
                                t_done[j] = true;
                        }
                renamed_in(b, watch_node_owner(f.node[i]), f.node[i], from->name, nt, to->name, is_dir);
        }
        for (unsigned j = 0; j < t.n; j++)
                if (!t_done[j])
                        renamed_in(b, watch_node_owner(t.node[j]), NULL, from->name, t.node[j], to->name, is_dir);
}

static void handle_overflow(FanBackend *b) {
        GPtrArray *ws = b->t.base.face->watches;
        usec_t since = b->last_read > 2 * USEC_PER_SEC ? b->last_read - 2 * USEC_PER_SEC : 0;

        b->t.n_overflows++;
        log_warning("fanotify event queue overflowed (%" PRIu64 " so far): rescanning every fanotify watch to "
                    "find what changed.", b->t.n_overflows);
        for (guint i = 0; i < ws->len; i++) {
                Watch *w = ws->pdata[i];

                if (w->impl != &b->t.base || !w->active || !w->root)
                        continue;
                emit(b, w, w->root, w->file_name, 0, EVENT_KIND_OVERFLOW, NULL);
                reconcile_node(&b->t.reconciler, w->root, RECONCILE_RESCAN, since);
        }
}

/* m: a copy of the record's metadata (records are only 4-byte aligned); raw: the record. */
static void handle_one(FanBackend *b, const struct fanotify_event_metadata *m, const uint8_t *raw) {
        const uint8_t *p = raw + m->metadata_len, *end = raw + m->event_len;
        FanName one = {}, from = {}, to = {};
        bool is_dir = m->mask & FAN_ONDIR;

        while (p + sizeof(struct fanotify_event_info_header) <= end) {
                const struct fanotify_event_info_header *h = (const void *) p;
                const struct fanotify_event_info_fid *fid = (const void *) p;
                struct file_handle *fh;
                FanName *dst;
                const char *name;

                if (h->len < sizeof *h || p + h->len > end)
                        break;
                p += h->len;
                if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
                        dst = &one;
                else if (h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
                        dst = &from;
                else if (h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
                        dst = &to;
                else
                        continue;
                if (h->len < sizeof *fid + sizeof(struct file_handle))
                        continue;
                fh = (struct file_handle *) fid->handle;
                name = (const char *) fh->f_handle + fh->handle_bytes;
                if ((const uint8_t *) name >= (const uint8_t *) h + h->len)
                        continue;
                dst->name = name;
                dst->dir = dir_path(b, &fid->fsid, fh, &dst->ino, &dst->dev);
        }

        if (m->mask & FAN_RENAME) {
                if (from.name && to.name)
                        renamed(b, &from, &to, is_dir);
        } else if (one.name && !(one.name[0] == '.' && one.name[1] == 0)) {
                FanNodes ns;

                dir_nodes(b, &one, &ns);
                for (unsigned i = 0; i < ns.n; i++) {
                        WatchNode *n = ns.node[i];
                        Watch *w = watch_node_owner(n);

                        if (m->mask & FAN_CREATE)
                                created(b, w, n, one.name, is_dir, IN_CREATE);
                        if ((m->mask & FAN_MOVED_TO) && !b->has_rename)
                                created(b, w, n, one.name, is_dir, IN_MOVED_TO);
                        if ((m->mask & FAN_MOVED_FROM) && !b->has_rename)
                                deleted(b, w, n, one.name, is_dir, IN_MOVED_FROM);
                        /* A file of a new directory written before the walk: the walk raised it. */
                        if ((m->mask & FAN_CLOSE_WRITE) && !is_dir && !watch_skips(w, n, one.name) &&
                            !tree_backend_walk_saw(&b->t, w, n, one.name))
                                emit(b, w, n, one.name, IN_CLOSE_WRITE, EVENT_KIND_CHANGED, NULL);
                        if ((m->mask & FAN_ATTRIB) && !watch_skips(w, n, one.name))
                                emit(b, w, n, one.name, IN_ATTRIB | (is_dir ? IN_ISDIR : 0), EVENT_KIND_CHANGED,
                                     NULL);
                        if (m->mask & FAN_DELETE)
                                deleted(b, w, n, one.name, is_dir, IN_DELETE);
                }
        }
        g_free(one.dir);
        g_free(from.dir);
        g_free(to.dir);
}

/* One read's worth of events. */
static void handle_buffer(FanBackend *b, const uint8_t *buf, size_t l) {
        struct fanotify_event_metadata m;

        for (size_t off = 0; off + sizeof m <= l; off += m.event_len) {
                memcpy(&m, buf + off, sizeof m);
                if (m.event_len < sizeof m || m.event_len > l - off)
                        break;
                if (m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < sizeof m ||
                    m.metadata_len > m.event_len)
                        continue;
                if (m.fd >= 0)
                        safe_close(m.fd);
                if (m.mask & FAN_Q_OVERFLOW)
                        handle_overflow(b);
                else
                        handle_one(b, &m, buf + off);
        }
}

static int on_fanotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        FanBackend *b = userdata;

        if (b->reading)
                return 0;
        b->reading = true;
        for (unsigned i = 0; i < FAN_READS_MAX; i++) {
                ssize_t l = read(b->fd, b->buffer, FAN_BUFFER_SIZE);

                if (l < 0) {
                        if (errno == EAGAIN) {
                                tree_backend_forget_walks(&b->t);       /* the queue is empty */
                                break;
                        }
                        if (errno == EINTR)
                                break;
                        b->reading = false;
                        return log_error_errno(errno, "Failed to read fanotify events: %m");
                }
                b->last_read = now_usec(CLOCK_REALTIME);
                handle_buffer(b, b->buffer, (size_t) l);
                if ((size_t) l < FAN_BUFFER_SIZE / 2) {
                        /* The read took all there was: what was queued before a walk is read. */
                        tree_backend_forget_walks(&b->t);
                        break;
                }
        }
        b->reading = false;
        return 0;
}

static int fan_set_mask(BackendImpl *base, uint32_t mask) {
        return 0;       /* the mark asks for every kind of change once per file system */
}

static int fan_set_enabled(BackendImpl *base, bool enabled) {
        FanBackend *b = (FanBackend *) base;

        b->enabled = enabled;
        return sd_event_source_set_enabled(b->io, enabled ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void fan_drain(BackendImpl *base) {
        FanBackend *b = (FanBackend *) base;

        if (b->enabled && b->fd >= 0)
                (void) on_fanotify(b->io, b->fd, EPOLLIN, b);
}

const BackendOps backend_fanotify_ops = {
        .name = "fanotify",
        .size = sizeof(FanBackend),
        .init = fan_init,
        .done = fan_done,
        .set_mask = fan_set_mask,
        .add_watch = fan_add,
        .remove_watch = tree_backend_remove_watch,
        .compare_snapshot = tree_backend_compare_snapshot,
        .set_enabled = fan_set_enabled,
        .drain = fan_drain,
        .get_stats = tree_backend_get_stats,
        .rescan_dir = tree_backend_rescan_dir,
};
