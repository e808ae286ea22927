/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Action=move|copy|delete (pyinotifyd's FileManager) with plain system calls, in a worker thread: the
 * destination comes from Source=/Destination= regex references, parents may be created, existing
 * destinations are refused unless Overwrite=yes, and modes and owners are applied to what results.
 * Every path is resolved beneath a root directory fd, never through a symlink: the source beneath its
 * watch, the destination beneath the fixed part of Destination= (see destination_root()); a path that
 * runs through a link or out of its root fails the task as "unsafe-path" before anything is touched. */
#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "escape.h"
#include "log.h"
#include "open-beneath.h"
#include "rule.h"
#include "runner-file.h"

/* Bytes per copy_file_range() call: below the kernel's MAX_RW_COUNT on every version, and small enough
 * that a cancel is seen within a few milliseconds of it. */
#define COPY_CHUNK ((size_t) 16 << 20)
#define READ_BUFFER_SIZE ((size_t) 64 * 1024)

/* A job that ran out of file descriptors or memory waits and runs again: first after this long, twice
 * as long each time up to the maximum, and fails after the last try, about a minute after the first. */
#define RETRY_FIRST_USEC (50 * USEC_PER_MSEC)
#define RETRY_MAX_USEC (2 * USEC_PER_SEC)
#define RETRY_GIVE_UP_USEC (60 * USEC_PER_SEC)

/* An entry named beneath a root directory: the root is opened by its path, which the configuration
 * names (a watch's Path=, the fixed part of Destination=), everything below it from that fd without
 * following a symlink. */
typedef struct Beneath {
        char *root;
        char *dir;                      /* the entry's directory, relative to root, normalized ("": root) */
        char *name;                     /* the entry: one component */
} Beneath;

static void beneath_done(Beneath *b) {
        g_free(b->root);
        g_free(b->dir);
        g_free(b->name);
}

/* The entry rel beneath root. -EXDEV if rel leaves root by "..". rel "" is root itself: then the
 * entry is named in root's parent, by root's path as well. */
static int beneath_init(Beneath *b, const char *root, const char *rel) {
        g_autofree char *n = NULL;
        char *slash;
        int r = path_normalize_beneath(rel, &n);

        if (r < 0)
                return r;
        if (!*n) {
                g_autofree char *top = g_strdup(root);
                size_t l = strlen(top);

                while (l > 1 && top[l - 1] == '/')
                        top[--l] = 0;
                b->name = g_path_get_basename(top);
                if (streq(b->name, "/") || streq(b->name, ".") || streq(b->name, "..")) {
                        g_clear_pointer(&b->name, g_free);
                        return -EINVAL;
                }
                b->root = g_path_get_dirname(top);
                b->dir = g_strdup("");
                return 0;
        }
        slash = strrchr(n, '/');
        b->root = g_strdup(root);
        b->name = g_strdup(slash ? slash + 1 : n);
        b->dir = slash ? g_strndup(n, (gsize) (slash - n)) : g_strdup("");
        return 0;
}

struct FileRunner {
        Runner runner;
        RunnerContext ctx;
        Worker *worker;
        GHashTable *waiting;            /* FileJob*: jobs waiting to retry after a resource shortage */
};

typedef struct FileJob {
        FileRunner *runner;
        Task *task;                     /* touched on the loop only */
        gint cancel;                    /* set on the loop, read by the worker between chunks and entries */
        bool cancelled;                 /* the worker stopped for it */

        ActionType action;
        char *source, *destination;     /* as named (the task's path, Destination= expanded): messages */
        Beneath src, dst;               /* what is acted on */
        bool auto_create, overwrite, recursive;
        int file_mode, directory_mode;
        uid_t uid;
        gid_t gid;

        char *error;                    /* set by the worker on failure */
        int error_errno;                /* the errno of that failure, 0 if none */
        bool unsafe;                    /* the failure: a path through a symlink or out of its root */

        /* Retrying after a passing shortage (EMFILE, ENFILE, ENOMEM): what is done already stays done. */
        bool checked;                   /* the destination was looked at: replace says what was decided */
        bool replace;
        bool copied;                    /* a move across file systems: the copy is in place and synced */
        unsigned tries;
        usec_t retry_usec, first_failure;
        sd_event_source *retry;
} FileJob;

static void file_job_free(FileJob *j) {
        j->retry = sd_event_source_disable_unref(j->retry);
        g_free(j->source);
        g_free(j->destination);
        beneath_done(&j->src);
        beneath_done(&j->dst);
        g_free(j->error);
        g_free(j);
}

/* The worker's look at a cancel: the failure it makes is the task's "cancelled". */
static bool job_cancelled(FileJob *j) {
        if (!g_atomic_int_get(&j->cancel))
                return false;
        j->cancelled = true;
        if (!j->error)
                j->error = g_strdup("cancelled");
        return true;
}

static void fail(FileJob *j, const char *what, const char *path, const char *why) {
        g_autofree char *shown = escape_display(path, strlen(path));

        if (!j->error)
                j->error = g_strdup_printf("%s %s: %s", what, shown, why);
}

static void fail_errno(FileJob *j, const char *what, const char *path, int e) {
        if (!j->error)
                j->error_errno = e;
        fail(j, what, path, g_strerror(e));
}

/* Running out of file descriptors or memory passes as other tasks end: such a failure is retried. */
static bool errno_is_shortage(int e) {
        return e == EMFILE || e == ENFILE || e == ENOMEM;
}

/* fsync() of the directory dir_fd (which may be an O_PATH fd) through an fd of its own. A file system
 * that cannot sync a directory says EINVAL: nothing to do there. */
static int fsync_directory(int dir_fd) {
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0 && errno != EINVAL)
                return -errno;
        return 0;
}

/* r from resolving path beneath root: an unsafe path, or what fails as what. */
static void fail_resolve(FileJob *j, const char *what, const char *path, const char *root, int r) {
        g_autofree char *shown = NULL, *shown_root = NULL;

        if (!open_beneath_unsafe(r))
                return fail_errno(j, what, path, -r);
        if (j->error)
                return;
        shown = escape_display(path, strlen(path));
        shown_root = escape_display(root, strlen(root));
        j->unsafe = true;
        j->error = g_strdup_printf(r == -ELOOP ? "Refusing %s: the path runs through a symbolic link below %s"
                                              : "Refusing %s: the path leads outside %s",
                                   shown, shown_root);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static bool has_owner(const FileJob *j) {
        return j->uid != (uid_t) -1 || j->gid != (gid_t) -1;
}

/* Owner, then DirectoryMode= (chown() may clear set-id bits) of the directory open as fd. */
static void apply_directory_attributes(FileJob *j, int fd, const char *path) {
        if (has_owner(j) && fchown(fd, j->uid, j->gid) < 0)
                fail_errno(j, "Failed to set the owner of", path, errno);
        if (j->directory_mode >= 0 && fchmod(fd, (mode_t) j->directory_mode) < 0)
                fail_errno(j, "Failed to set the mode of", path, errno);
}

/* fchmod() of a regular file through an fd of its own: fchmodat(AT_SYMLINK_NOFOLLOW) without /proc. */
static int chmod_regular_at(int dir_fd, const char *name, mode_t mode) {
        _cleanup_close_ int fd = openat(dir_fd, name,
                                        O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EOPNOTSUPP;
        return fchmod(fd, mode) < 0 ? -errno : 0;
}

/* Owner and FileMode= of a non-directory name below dir_fd (st: its look), never through a link: a link
 * gets the owner only (a mode would be its target's), and glibc's fchmodat(AT_SYMLINK_NOFOLLOW) refuses
 * one that a file was swapped for in between. */
static void apply_file_attributes(FileJob *j, int dir_fd, const char *name, const char *path,
                                  const struct stat *st) {
        int r;

        if (has_owner(j) && fchownat(dir_fd, name, j->uid, j->gid, AT_SYMLINK_NOFOLLOW) < 0)
                fail_errno(j, "Failed to set the owner of", path, errno);
        if (S_ISLNK(st->st_mode) || j->file_mode < 0)
                return;
        r = fchmodat(dir_fd, name, (mode_t) j->file_mode, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        if (r == -EOPNOTSUPP && S_ISREG(st->st_mode))
                r = chmod_regular_at(dir_fd, name, (mode_t) j->file_mode);
        if (r < 0)
                fail_errno(j, "Failed to set the mode of", path, -r);
}

static int next_entry(DIR *d, struct dirent **ret);

/* Owner and modes for name below dir_fd and, a directory, everything in it. */
static void apply_recursive(FileJob *j, int dir_fd, const char *name, const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct stat st;
        int fd;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return fail_errno(j, "Failed to look at", path, errno);
        if (!S_ISDIR(st.st_mode))
                return apply_file_attributes(j, dir_fd, name, path, &st);
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                fail_errno(j, "Failed to list", path, errno);
                (void) safe_close(fd);
                return;
        }
        apply_directory_attributes(j, fd, path);
        for (;;) {
                g_autofree char *child = NULL;
                struct dirent *de;
                int r = next_entry(d, &de);

                if (r <= 0) {
                        if (r < 0)
                                fail_errno(j, "Failed to list", path, -r);
                        return;
                }
                child = g_build_filename(path, de->d_name, NULL);
                apply_recursive(j, dirfd(d), de->d_name, child);
        }
}

/* mkdir -p of rel below dir_fd, one component at a time and never through a link: each directory it
 * creates gets Owner=/OwnerGroup= and DirectoryMode=. path is dir_fd's path, for messages. Returns an
 * fd of the last one, or -errno (its message given already unless it is an unsafe path). */
static int make_directories(FileJob *j, int dir_fd, const char *path, const char *rel) {
        g_auto(GStrv) parts = g_strsplit(rel, "/", -1);
        g_autoptr(GString) shown = g_string_new(path);
        _cleanup_close_ int cur = -1;

        for (char **c = parts; *c; c++) {
                int parent = cur >= 0 ? cur : dir_fd, fd;

                if (!**c)
                        continue;
                if (shown->len > 0 && shown->str[shown->len - 1] != '/')
                        g_string_append_c(shown, '/');
                g_string_append(shown, *c);
                for (int attempt = 0;; attempt++) {
                        fd = open_beneath(parent, *c, O_PATH | O_DIRECTORY);
                        if (fd != -ENOENT || attempt >= 3)
                                break;
                        /* With DirectoryMode= private until it has its owner and mode. */
                        if (mkdirat(parent, *c, j->directory_mode >= 0 ? 0700 : 0755) < 0) {
                                if (errno == EEXIST)
                                        continue;       /* made by someone else just now: look again */
                                fd = -errno;
                                break;
                        }
                        fd = open_beneath(parent, *c, O_RDONLY | O_DIRECTORY);
                        if (fd >= 0) {
                                int q;

                                apply_directory_attributes(j, fd, shown->str);
                                /* Its name in the parent is durable before anything is put in it. */
                                q = fsync_directory(parent);
                                if (q < 0) {
                                        fail_errno(j, "Failed to sync", path, -q);
                                        (void) safe_close(fd);
                                        fd = q;
                                }
                        }
                        break;
                }
                if (fd < 0) {
                        if (!open_beneath_unsafe(fd))
                                fail_errno(j, "Failed to create", shown->str, -fd);
                        return fd;
                }
                (void) safe_close(cur);
                cur = fd;
        }
        return cur >= 0 ? TAKE_FD(cur) : open_beneath(dir_fd, "", O_PATH | O_DIRECTORY);
}

/* The directory of b, opened: its root by path, the rest beneath it. With create (AutoCreate=)
 * missing directories are made, the root's own missing tail too (below its deepest existing
 * ancestor, as the configuration names it). Returns the fd or -errno; "what" names the failure. */
static int open_directory(FileJob *j, const Beneath *b, bool create, const char *what, const char *path) {
        _cleanup_close_ int root = open(b->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        g_autofree char *top = NULL, *rel = NULL, *joined = NULL;
        int r;

        if (root >= 0 && !*b->dir)
                return TAKE_FD(root);
        if (root >= 0) {
                r = open_beneath(root, b->dir, O_PATH | O_DIRECTORY);
                if (r == -ENOENT && create) {
                        r = make_directories(j, root, b->root, b->dir);
                        if (r < 0 && open_beneath_unsafe(r))
                                fail_resolve(j, what, path, b->root, r);
                        return r;
                }
                if (r < 0)
                        fail_resolve(j, what, path, b->root, r);
                return r;
        }
        r = -errno;
        if (r != -ENOENT || !create) {
                fail_errno(j, what, path, -r);
                return r;
        }

        /* The root's deepest existing ancestor (the working directory for a relative one), then the
         * rest of the root and the directory as if beneath it. */
        top = g_strdup(b->root);
        for (;;) {
                char *slash = strrchr(top, '/');

                if (!slash || slash == top) {
                        top[slash ? 1 : 0] = 0;
                        root = open(slash ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        break;
                }
                *slash = 0;
                root = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root >= 0 || errno != ENOENT)
                        break;
        }
        if (root < 0) {
                r = -errno;
                fail_errno(j, what, path, -r);
                return r;
        }
        joined = g_build_filename(b->root + strlen(top), b->dir, NULL);
        r = path_normalize_beneath(joined, &rel);
        if (r >= 0)
                r = make_directories(j, root, *top ? top : ".", rel);
        if (r < 0 && open_beneath_unsafe(r))
                fail_resolve(j, what, path, b->root, r);
        return r;
}

/* The next entry of d other than "." and "..": 1 with *ret set, 0 at the end, -errno on a read error. */
static int next_entry(DIR *d, struct dirent **ret) {
        struct dirent *de;

        do {
                errno = 0;
                de = readdir(d);
                if (!de)
                        return errno == 0 ? 0 : -errno;
        } while (streq(de->d_name, ".") || streq(de->d_name, ".."));
        *ret = de;
        return 1;
}

/* Removes name below dir_fd: a file or symlink (never followed), or a directory, which when not empty
 * only with Recursive=yes, depth-first. path is name's whole path, for messages. */
static bool delete_at(FileJob *j, int dir_fd, const char *name, const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd;

        if (unlinkat(dir_fd, name, 0) >= 0)
                return true;
        if (errno == EISDIR && unlinkat(dir_fd, name, AT_REMOVEDIR) >= 0)
                return true;
        if (!(errno == ENOTEMPTY || errno == EEXIST) || !j->recursive) {
                fail_errno(j, "Failed to delete", path, errno);
                return false;
        }

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                fail_errno(j, "Failed to list", path, errno);
                (void) safe_close(fd);
                return false;
        }
        for (;;) {
                g_autofree char *child = NULL;
                struct dirent *de;
                int r = next_entry(d, &de);

                if (r == 0)
                        break;
                if (r < 0) {
                        fail_errno(j, "Failed to list", path, -r);
                        return false;
                }
                if (job_cancelled(j))
                        return false;
                child = g_build_filename(path, de->d_name, NULL);
                if (!delete_at(j, dirfd(d), de->d_name, child))
                        return false;
        }
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0) {
                fail_errno(j, "Failed to delete", path, errno);
                return false;
        }
        return true;
}

/* ".#<name>.XXXXXX" next to name, the name part cut so that the whole stays within NAME_MAX. */
static char *temp_name(const char *name) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        GString *s = g_string_new(".#");

        g_string_append_len(s, name, (gssize) MIN(strlen(name), (size_t) NAME_MAX - strlen(".#.XXXXXX")));
        g_string_append_c(s, '.');
        for (int i = 0; i < 6; i++)
                g_string_append_c(s, chars[g_random_int_range(0, (gint32) sizeof(chars) - 1)]);
        return g_string_free(s, false);
}

/* mkostemp() relative to a directory fd: a new file "<.#name.XXXXXX>" in dir_fd, open for writing. */
static int open_temp_at(int dir_fd, const char *name, char **ret_name) {
        for (int attempt = 0; attempt < 100; attempt++) {
                g_autofree char *t = temp_name(name);
                int fd = openat(dir_fd, t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);

                if (fd >= 0) {
                        *ret_name = TAKE_PTR(t);
                        return fd;
                }
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

/* renameat() that, unless replace, refuses an existing target, atomically where the file system can. */
static int rename_at(int old_dir, const char *old_name, int new_dir, const char *new_name, bool replace) {
        if (replace)
                return renameat(old_dir, old_name, new_dir, new_name) < 0 ? -errno : 0;
        if (renameat2(old_dir, old_name, new_dir, new_name, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -errno;
        /* No RENAME_NOREPLACE on this file system: look, then rename. */
        if (faccessat(new_dir, new_name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                return -EEXIST;
        return renameat(old_dir, old_name, new_dir, new_name) < 0 ? -errno : 0;
}

static int copy_data_read_write(FileJob *j, int in, int out) {
        g_autofree char *buf = g_malloc(READ_BUFFER_SIZE);

        for (;;) {
                ssize_t n;

                if (job_cancelled(j))
                        return -ECANCELED;
                n = read(in, buf, READ_BUFFER_SIZE);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(out, buf + done, (size_t) (n - done));

                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        done += w;
                }
        }
}

/* In the kernel where it can (reflinks, server-side copies), else through a buffer; both advance the
 * file offsets, so the fallback may take over at any point. */
static int copy_data(FileJob *j, int in, int out) {
        for (bool copied = false;; copied = true) {
                ssize_t n;

                if (job_cancelled(j))
                        return -ECANCELED;
                n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
                /* Some file systems report an end at once rather than an error: read to be sure. */
                if (n == 0)
                        return copied ? 0 : copy_data_read_write(j, in, out);
                if (n > 0)
                        continue;
                if (errno == EINTR)
                        continue;
                if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
                        return copy_data_read_write(j, in, out);
                return -errno;
        }
}

/* File systems without (user) extended attributes, or attributes only privileged processes may set. */
static bool xattr_ignorable(int e) {
        return e == ENOTSUP || e == EOPNOTSUPP || e == EPERM;
}

/* A list or value of an extended attribute: the size first, again while it grows in between. */
static ssize_t get_xattr(int fd, const char *name, char **ret) {
        for (;;) {
                g_autofree char *buf = NULL;
                ssize_t n = name ? fgetxattr(fd, name, NULL, 0) : flistxattr(fd, NULL, 0);

                if (n < 0)
                        return -errno;
                buf = g_malloc((size_t) n + 1);
                n = name ? fgetxattr(fd, name, buf, (size_t) n) : flistxattr(fd, buf, (size_t) n);
                if (n >= 0) {
                        *ret = TAKE_PTR(buf);
                        return n;
                }
                if (errno != ERANGE)
                        return -errno;
        }
}

static int copy_xattrs(int in, int out) {
        g_autofree char *names = NULL;
        ssize_t n = get_xattr(in, NULL, &names);

        if (n < 0)
                return xattr_ignorable((int) -n) ? 0 : (int) n;
        for (const char *p = names; p < names + n; p += strlen(p) + 1) {
                g_autofree char *value = NULL;
                ssize_t m = get_xattr(in, p, &value);

                if (m == -ENODATA)              /* removed since the listing */
                        continue;
                if (m < 0)
                        return xattr_ignorable((int) -m) ? 0 : (int) m;
                if (fsetxattr(out, p, value, (size_t) m, 0) < 0 && !xattr_ignorable(errno))
                        return -errno;
        }
        return 0;
}

/* Owner, extended attributes, mode and timestamps of in (its stat st) onto out, in this order: chown()
 * clears set-id bits, and only the owner's own file takes user.* attributes whatever its mode. On
 * failure *ret_what says what failed. */
static int copy_metadata(int in, int out, const struct stat *st, const char **ret_what) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        int r;

        if (fchown(out, st->st_uid, st->st_gid) < 0 && !(errno == EPERM && geteuid() != 0)) {
                *ret_what = "Failed to set the owner of";
                return -errno;
        }
        r = copy_xattrs(in, out);
        if (r < 0) {
                *ret_what = "Failed to copy the extended attributes to";
                return r;
        }
        if (fchmod(out, st->st_mode & 07777) < 0) {
                *ret_what = "Failed to set the mode of";
                return -errno;
        }
        if (futimens(out, ts) < 0) {
                *ret_what = "Failed to set the timestamps of";
                return -errno;
        }
        return 0;
}

/* A regular file: into a temporary file beside the destination, then renamed over it, so that nobody
 * sees half a copy and a failure leaves nothing behind. */
static bool copy_regular(FileJob *j, int src_dir, const char *src_name, const char *src_path, int dst_dir,
                         const char *dst_name, const char *dst_path, bool replace) {
        _cleanup_close_ int in = -1, out = -1;
        g_autofree char *tmp = NULL;
        const char *what = "Failed to copy to";
        struct stat st;
        int r;

        /* O_NONBLOCK: should it have become a FIFO since it was looked at, the open must not wait. */
        in = openat(src_dir, src_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
        if (in < 0 || fstat(in, &st) < 0) {
                fail_errno(j, "Failed to open", src_path, errno);
                return false;
        }
        if (!S_ISREG(st.st_mode)) {
                fail(j, what, dst_path, "Can't copy special file");
                return false;
        }
        out = open_temp_at(dst_dir, dst_name, &tmp);
        if (out < 0) {
                fail_errno(j, what, dst_path, -out);
                return false;
        }
        r = copy_data(j, in, out);
        if (r >= 0)
                r = copy_metadata(in, out, &st, &what);
        /* On disk before it takes the destination's name: a crash after the rename must not leave an
         * empty or partial file under it (the directory is synced by whoever made the entry). */
        if (r >= 0 && fsync(out) < 0) {
                r = -errno;
                what = "Failed to sync";
        }
        if (r >= 0 && close(TAKE_FD(out)) < 0)
                r = -errno;
        if (r >= 0) {
                what = "Failed to copy to";
                r = rename_at(dst_dir, tmp, dst_dir, dst_name, replace);
        }
        if (r < 0) {
                (void) unlinkat(dst_dir, tmp, 0);
                fail_errno(j, what, dst_path, -r);
                return false;
        }
        return true;
}

/* A symlink as a symlink (the same target, never followed), made beside the destination and renamed
 * over it like a file. */
static bool copy_symlink(FileJob *j, int src_dir, const char *src_name, const char *src_path,
                         const struct stat *st, int dst_dir, const char *dst_name, const char *dst_path,
                         bool replace) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        g_autofree char *target = NULL, *tmp = NULL;
        size_t size = (size_t) MAX(st->st_size, 0) + 1;
        int r = -EEXIST;

        for (;;) {
                ssize_t n;

                target = g_realloc(target, size);
                n = readlinkat(src_dir, src_name, target, size);
                if (n < 0) {
                        fail_errno(j, "Failed to read the link", src_path, errno);
                        return false;
                }
                if ((size_t) n < size) {
                        target[n] = 0;
                        break;
                }
                size *= 2;
        }
        for (int attempt = 0; attempt < 100 && r == -EEXIST; attempt++) {
                g_free(tmp);
                tmp = temp_name(dst_name);
                r = symlinkat(target, dst_dir, tmp) < 0 ? -errno : 0;
        }
        if (r >= 0) {
                /* Owner and times as for a file; a link has no mode of its own. */
                if (fchownat(dst_dir, tmp, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
                    !(errno == EPERM && geteuid() != 0))
                        r = -errno;
                else if (utimensat(dst_dir, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else
                        r = rename_at(dst_dir, tmp, dst_dir, dst_name, replace);
                if (r < 0)
                        (void) unlinkat(dst_dir, tmp, 0);
        }
        if (r < 0) {
                fail_errno(j, "Failed to copy to", dst_path, -r);
                return false;
        }
        return true;
}

static bool copy_at(FileJob *j, int src_dir, const char *src_name, const char *src_path, int dst_dir,
                    const char *dst_name, const char *dst_path, bool replace);

/* A directory with Recursive=yes: made (or merged into an existing one), filled, and given the
 * source's owner, attributes, mode and timestamps last, after its contents changed it. */
static bool copy_directory(FileJob *j, int src_dir, const char *src_name, const char *src_path, int dst_dir,
                           const char *dst_name, const char *dst_path, bool replace) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_close_ int out = -1;
        const char *what = NULL;
        struct stat st;
        bool created;
        int fd, r;

        if (!j->recursive) {
                fail(j, "Not copying directory", src_path, "Recursive=yes is needed for directories");
                return false;
        }
        fd = openat(src_dir, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !(d = fdopendir(fd))) {
                fail_errno(j, "Failed to list", src_path, errno);
                (void) safe_close(fd);
                return false;
        }
        /* Private until its own mode is set at the end. */
        created = mkdirat(dst_dir, dst_name, 0700) >= 0;
        if (!created && errno != EEXIST) {
                fail_errno(j, "Failed to create", dst_path, errno);
                return false;
        }
        out = openat(dst_dir, dst_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (out < 0) {
                fail_errno(j, "Failed to create", dst_path, errno);
                return false;
        }
        for (;;) {
                g_autofree char *src_child = NULL, *dst_child = NULL;
                struct dirent *de;
                int n = next_entry(d, &de);

                if (n == 0)
                        break;
                if (n < 0) {
                        fail_errno(j, "Failed to list", src_path, -n);
                        return false;
                }
                if (job_cancelled(j))
                        return false;
                src_child = g_build_filename(src_path, de->d_name, NULL);
                dst_child = g_build_filename(dst_path, de->d_name, NULL);
                if (!copy_at(j, dirfd(d), de->d_name, src_child, out, de->d_name, dst_child, replace))
                        return false;
        }
        /* One that was there already keeps what it cannot take: best effort, as merging always was. */
        r = copy_metadata(dirfd(d), out, &st, &what);
        if (r < 0 && created) {
                fail_errno(j, what, dst_path, -r);
                return false;
        }
        /* Its entries' names are durable; its own name in its parent is the parent's to sync. */
        if (fsync(out) < 0 && errno != EINVAL) {
                fail_errno(j, "Failed to sync", dst_path, errno);
                return false;
        }
        return true;
}

/* Copies src_name below src_dir to dst_name below dst_dir, whatever it is; the paths are for messages.
 * replace: an existing destination may be replaced (Overwrite=yes and it existed). */
static bool copy_at(FileJob *j, int src_dir, const char *src_name, const char *src_path, int dst_dir,
                    const char *dst_name, const char *dst_path, bool replace) {
        struct stat st;

        if (fstatat(src_dir, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                fail_errno(j, "Failed to look at", src_path, errno);
                return false;
        }
        if (S_ISDIR(st.st_mode))
                return copy_directory(j, src_dir, src_name, src_path, dst_dir, dst_name, dst_path, replace);
        if (S_ISLNK(st.st_mode))
                return copy_symlink(j, src_dir, src_name, src_path, &st, dst_dir, dst_name, dst_path, replace);
        if (S_ISREG(st.st_mode))
                return copy_regular(j, src_dir, src_name, src_path, dst_dir, dst_name, dst_path, replace);
        fail(j, "Failed to copy to", dst_path, "Can't copy special file");
        return false;
}

static void run_job(void *data) {
        FileJob *j = data;
        const char *src = j->source, *dst = j->destination;
        const char *verb = j->action == ACTION_COPY ? "Failed to copy to" : "Failed to move to";
        _cleanup_close_ int src_dir = -1, dst_dir = -1;
        bool replace = false;
        struct stat st;
        int r = 0;

        /* Cancelled while it waited for a thread. */
        if (job_cancelled(j))
                return;
        /* Both directories first: an unsafe path on either side touches nothing. */
        src_dir = open_directory(j, &j->src, false, "Failed to look at", src);
        if (src_dir < 0)
                return;
        if (j->action == ACTION_DELETE) {
                (void) delete_at(j, src_dir, j->src.name, src);
                return;
        }
        dst_dir = open_directory(j, &j->dst, j->auto_create, verb, dst);
        if (dst_dir < 0)
                return;

        /* A retry: what is there now is what the last try left (its own copy), to be replaced. With
         * Overwrite=yes whatever is there when the rename comes is replaced, also what another task put
         * there after this one looked (two tasks onto one name run in parallel threads); with
         * Overwrite=no the look gives the clear error, and the rename itself refuses what came since. */
        if (j->checked)
                replace = j->replace || fstatat(dst_dir, j->dst.name, &st, AT_SYMLINK_NOFOLLOW) >= 0;
        else if (j->overwrite)
                replace = true;
        else if (fstatat(dst_dir, j->dst.name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                return fail(j, "Refusing to replace", dst, "it exists and Overwrite=no");
        j->checked = true;
        j->replace = replace;

        if (j->action == ACTION_COPY) {
                if (!copy_at(j, src_dir, j->src.name, src, dst_dir, j->dst.name, dst, replace))
                        return;
                /* The new name in its directory is durable when the task says it is done. */
                r = fsync_directory(dst_dir);
                if (r < 0)
                        return fail_errno(j, "Failed to sync", dst, -r);
        } else if (j->copied || (r = rename_at(src_dir, j->src.name, dst_dir, j->dst.name, replace)) < 0) {
                /* Across file systems: copy it whole (a directory too), make the copy durable (each file
                 * before its rename, each directory after its entries, here the destination's), and
                 * only then delete the source: a crash in between leaves two copies, never none. */
                if (!j->copied && r != -EXDEV)
                        return fail_errno(j, verb, dst, -r);
                j->recursive = true;
                if (!j->copied) {
                        if (!copy_at(j, src_dir, j->src.name, src, dst_dir, j->dst.name, dst, replace))
                                return;
                        r = fsync_directory(dst_dir);
                        if (r < 0)
                                return fail_errno(j, "Failed to sync", dst, -r);
                        j->copied = true;
                }
                if (!delete_at(j, src_dir, j->src.name, src))
                        return;
        }
        if (j->file_mode >= 0 || j->directory_mode >= 0 || has_owner(j))
                apply_recursive(j, dst_dir, j->dst.name, dst);
}

static void job_done(void *data);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        FileJob *j = userdata;
        int r;

        j->retry = sd_event_source_disable_unref(j->retry);
        g_hash_table_remove(j->runner->waiting, j);
        r = worker_submit(j->runner->worker, j, run_job, job_done);
        if (r < 0) {
                fail_errno(j, "Failed to run the action on", j->source, -r);
                job_done(j);
        }
        return 0;
}

/* A failure for want of file descriptors or memory: true if the job waits to run again (as exec tasks
 * wait for one to end), from where it got; false once it has waited long enough or cannot wait. */
static bool job_retry(FileJob *j) {
        usec_t now = now_usec(CLOCK_MONOTONIC), delay;
        int r;

        if (j->cancelled || g_atomic_int_get(&j->cancel) || !errno_is_shortage(j->error_errno))
                return false;
        if (j->tries == 0) {
                j->first_failure = now;
                j->retry_usec = RETRY_FIRST_USEC;
        } else
                j->retry_usec = MIN(j->retry_usec * 2, RETRY_MAX_USEC);
        if (now - j->first_failure >= RETRY_GIVE_UP_USEC)
                return false;
        /* Spread out, so that the jobs that failed together do not come back together. */
        delay = j->retry_usec / 2 + (usec_t) g_random_int_range(0, (gint32) (j->retry_usec / 2));
        r = sd_event_add_time_relative(j->runner->ctx.event, &j->retry, CLOCK_MONOTONIC, delay, USEC_PER_MSEC,
                                       on_retry, j);
        if (r < 0)
                return false;
        j->tries++;
        task_log(LOG_DEBUG, NULL, j->task, NULL, 0, "Task %" PRIu64 " (%s): %s; trying again (%u).",
                 j->task->id, j->task->rule->name, j->error, j->tries);
        g_clear_pointer(&j->error, g_free);
        j->error_errno = 0;
        g_hash_table_add(j->runner->waiting, j);
        return true;
}

static void job_done(void *data) {
        FileJob *j = data;
        Task *t = j->task;
        Scheduler *sched = j->runner->ctx.scheduler;

        if (j->error && job_retry(j))
                return;
        t->runner_data = NULL;
        if (j->cancelled) {
                /* What a copy had written is gone with its temporary file; a tree stays as far as it got. */
                task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): stopped by a cancel.", t->id,
                         t->rule->name);
                scheduler_task_finished(sched, t, TASK_CANCELLED, "cancelled", 0);
        } else if (j->error) {
                LogField f = LOG_FIELD("INOTASKD_ERROR", j->error);

                task_log(LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): %s", t->id, t->rule->name, j->error);
                scheduler_task_finished(sched, t, TASK_FAILED, j->unsafe ? "unsafe-path" : "file-error", 0);
        } else
                scheduler_task_finished(sched, t, TASK_DONE, "success", 0);
        file_job_free(j);
}

static int resolve_owner(const ConfigRule *r, uid_t *uid, gid_t *gid) {
        *uid = (uid_t) -1;
        *gid = (gid_t) -1;
        if (r->owner) {
                struct passwd *pw = getpwnam(r->owner);
                char *end;

                if (pw)
                        *uid = pw->pw_uid;
                else {
                        unsigned long n = strtoul(r->owner, &end, 10);

                        if (*end || !*r->owner)
                                return -ESRCH;
                        *uid = (uid_t) n;
                }
        }
        if (r->owner_group) {
                struct group *gr = getgrnam(r->owner_group);
                char *end;

                if (gr)
                        *gid = gr->gr_gid;
                else {
                        unsigned long n = strtoul(r->owner_group, &end, 10);

                        if (*end || !*r->owner_group)
                                return -ESRCH;
                        *gid = (gid_t) n;
                }
        }
        return 0;
}

/* Destination='s root: its text up to the last '/' before the first backslash (a reference such as \1
 * or \g<name>, or an escape), which the expansion copies as it is; beneath it the file's name decides.
 * Destination= that begins with a reference has the root directory as its root ("." if relative). */
static char *destination_root(const char *template, const char *expanded, size_t *ret_length) {
        size_t n = strcspn(template, "\\");

        while (n > 0 && template[n - 1] != '/')
                n--;
        *ret_length = n;
        if (n == 0)
                return g_strdup(expanded[0] == '/' ? "/" : ".");
        return g_strndup(template, n);
}

/* Whether path is dir or below it, by its text; *ret_rest: the rest of path after dir. */
static bool path_at_or_below(const char *path, const char *dir, const char **ret_rest) {
        size_t l = strlen(dir);

        while (l > 1 && dir[l - 1] == '/')
                l--;
        if (!strneq(path, dir, l) || !(path[l] == '/' || path[l] == 0 || (l == 1 && dir[0] == '/')))
                return false;
        *ret_rest = path + l;
        return true;
}

/* Where the job acts: the task's path beneath its watch's directory, the destination beneath its
 * root. 1 if it may go on; 0 if not, with *ret_error and *ret_unsafe saying why (a path out of its
 * root by "..", a RunRule path not below the watch, or a root directory named as the entry). */
static int job_locate(FileJob *j, const Task *t, const char *dest, char **ret_error, bool *ret_unsafe) {
        const char *what = t->path, *root = t->watch_path, *rest;
        g_autofree char *dest_root = NULL, *shown = NULL, *shown_root = NULL;
        size_t l;
        int r = -EXDEV;

        if (path_at_or_below(t->path, t->watch_path, &rest))
                r = beneath_init(&j->src, t->watch_path, rest);
        if (r >= 0 && dest) {
                dest_root = destination_root(t->rule->destination, dest, &l);
                what = dest;
                root = dest_root;
                r = strneq(dest, t->rule->destination, l) ? beneath_init(&j->dst, dest_root, dest + l)
                                                          : -EXDEV;
        }
        if (r >= 0 && dest && path_at_or_below(j->dst.root, t->watch_path, &rest)) {
                /* A root inside the watched tree is no more the administrator's than the source is: whoever
                 * may write there could swap it for a link. Resolved beneath the watch too. */
                g_autofree char *inner = g_build_filename(rest, j->dst.dir, NULL), *n = NULL;

                if (path_normalize_beneath(inner, &n) >= 0) {
                        g_free(j->dst.root);
                        g_free(j->dst.dir);
                        j->dst.root = g_strdup(t->watch_path);
                        j->dst.dir = TAKE_PTR(n);
                }
        }
        if (r >= 0)
                return 1;

        shown = escape_display(what, strlen(what));
        shown_root = escape_display(root, strlen(root));
        *ret_unsafe = r == -EXDEV;
        if (r == -EXDEV)
                *ret_error = g_strdup_printf("Refusing %s: the path leads outside %s", shown, shown_root);
        else
                *ret_error = g_strdup_printf("Refusing %s: it names a root directory itself", shown);
        return 0;
}

static int file_start(Runner *runner, Task *t) {
        FileRunner *fr = (FileRunner *) runner;
        const RunnerContext *ctx = &fr->ctx;
        const ConfigRule *r = t->rule;
        g_autofree char *err = NULL, *dest = NULL, *shown = NULL;
        bool unsafe = false;
        FileJob *j;
        int q;

        if (r->action != ACTION_DELETE) {
                dest = file_destination(r, t->path, &err);
                if (!dest) {
                        task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): no destination: %s", t->id,
                                 r->name, err);
                        return -EINVAL;
                }
        }
        j = g_new0(FileJob, 1);
        if (!job_locate(j, t, dest, &err, &unsafe)) {
                /* Caught before the worker: the same result, nothing touched. */
                LogField f = LOG_FIELD("INOTASKD_ERROR", err);

                task_log(LOG_WARNING, NULL, t, &f, 1, "Task %" PRIu64 " (%s): %s", t->id, r->name, err);
                file_job_free(j);
                scheduler_task_finished(ctx->scheduler, t, TASK_FAILED,
                                        unsafe ? "unsafe-path" : "file-error", 0);
                return 0;
        }

        shown = escape_display(t->path, strlen(t->path));
        if (ctx->dry_run) {
                task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) would %s %s%s%s", t->id, r->name,
                         action_type_to_string(r->action), shown, dest ? " to " : "", strempty(dest));
                scheduler_task_finished(ctx->scheduler, t, TASK_DONE, "dry-run", 0);
                file_job_free(j);
                return 0;
        }

        j->runner = fr;
        j->task = t;
        j->action = r->action;
        j->source = g_strdup(t->path);
        j->destination = TAKE_PTR(dest);
        j->auto_create = r->auto_create;
        j->overwrite = r->overwrite;
        j->recursive = r->recursive;
        j->file_mode = r->file_mode;
        j->directory_mode = r->directory_mode;
        q = resolve_owner(r, &j->uid, &j->gid);
        if (q < 0) {
                task_log(LOG_WARNING, NULL, t, NULL, 0, "Task %" PRIu64 " (%s): unknown Owner=/OwnerGroup=.", t->id,
                         r->name);
                file_job_free(j);
                return q;
        }
        task_log(LOG_INFO, NULL, t, NULL, 0, "Task %" PRIu64 " (%s) started: %s %s%s%s", t->id, r->name,
                 action_type_to_string(r->action), shown, j->destination ? " to " : "", strempty(j->destination));
        q = worker_submit(fr->worker, j, run_job, job_done);
        if (q < 0) {
                file_job_free(j);
                return q;
        }
        t->runner_data = j;
        return 0;
}

/* The worker sees the flag between chunks and entries; a move's rename or a delete of one file is over
 * before it could look, and ends as it did. Nothing can be killed here: KILL is a cancel too. */
static void file_stop(Runner *runner, Task *t, RunnerStop how) {
        FileJob *j = t->runner_data;

        if (!j)
                return;
        g_atomic_int_set(&j->cancel, 1);
        if (j->retry) {
                /* Waiting to try again: nothing runs, it ends now. */
                j->retry = sd_event_source_disable_unref(j->retry);
                g_hash_table_remove(j->runner->waiting, j);
                (void) job_cancelled(j);
                job_done(j);
        }
}

static const RunnerOps file_runner_ops = {
        .name = "file",
        .start = file_start,
        .stop = file_stop,
};

int file_runner_new(FileRunner **ret, const RunnerContext *ctx, Worker *w) {
        FileRunner *f = g_new0(FileRunner, 1);

        f->runner.ops = &file_runner_ops;
        f->ctx = *ctx;
        f->worker = w;
        f->waiting = g_hash_table_new(g_direct_hash, g_direct_equal);
        *ret = f;
        return 0;
}

FileRunner *file_runner_free(FileRunner *f) {
        if (!f)
                return NULL;
        if (f->waiting) {
                /* Tasks still waiting to retry are the scheduler's: their jobs go. */
                GHashTableIter i;
                gpointer k;

                g_hash_table_iter_init(&i, f->waiting);
                while (g_hash_table_iter_next(&i, &k, NULL)) {
                        FileJob *j = k;

                        j->task->runner_data = NULL;
                        file_job_free(j);
                }
                g_hash_table_unref(f->waiting);
        }
        g_free(f);
        return NULL;
}

Runner *file_runner_runner(FileRunner *f) {
        return &f->runner;
}
