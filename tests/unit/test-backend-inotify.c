/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the inotify backend on a real sd-event loop: events arrive through the backend face,
 * and a read error on the inotify fd ends the loop with that error instead of leaving a source that
 * went quiet. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "backend.h"
#include "time-util.h"

#define DEADLINE_USEC (10 * USEC_PER_SEC)

static void on_event(Backend *b, Event *ev, void *userdata) {
        unsigned *n = userdata;

        if (ev->name && g_str_has_prefix(ev->name, "f"))
                (*n)++;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The fd number of this process's (only) inotify instance. */
static int find_inotify_fd(void) {
        g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
        const char *name;
        int found = -1;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename("/proc/self/fd", name, NULL);
                g_autofree char *target = g_file_read_link(p, NULL);

                if (target && streq(target, "anon_inode:inotify")) {
                        g_assert_cmpint(found, ==, -1);
                        found = atoi(name);
                }
        }
        g_assert_cmpint(found, >=, 0);
        return found;
}

static void touch(const char *dir, const char *name) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(p, "x", 1, NULL));
}

static void test_read_error_ends_loop(void) {
        g_autofree char *dir = g_dir_make_tmp("test-backend.XXXXXX", NULL);
        sd_event *e = NULL;
        Backend *b = NULL;
        sd_event_source *deadline = NULL;
        ConfigWatch cw = { .name = (char *) "t", .path = dir };
        Watch *w;
        unsigned n = 0;
        usec_t until;
        int fd, keep, dfd, r;

        g_assert_nonnull(dir);
        g_assert_cmpint(sd_event_new(&e), >=, 0);
        g_assert_cmpint(backend_new(&b, e, on_event, &n), ==, 0);
        g_assert_cmpint(backend_set_mask(b, IN_CLOSE_WRITE), ==, 0);
        g_assert_cmpint(backend_add_watch(b, &cw, &w), ==, 0);
        g_assert_true(w->active);

        /* First it hears. */
        touch(dir, "f1");
        until = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;
        while (n == 0 && now_usec(CLOCK_MONOTONIC) < until)
                g_assert_cmpint(sd_event_run(e, 100 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpuint(n, >, 0);

        /* Then the fd number is made to read a directory (EISDIR) while the inotify instance, still open
         * through keep, stays in the loop's epoll set and becomes readable. */
        fd = find_inotify_fd();
        keep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        g_assert_cmpint(keep, >=, 0);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(dfd, >=, 0);
        g_assert_cmpint(dup3(dfd, fd, O_CLOEXEC), ==, fd);
        (void) close(dfd);
        touch(dir, "f2");

        /* Without exit-on-failure the source would be disabled quietly and the loop run on until the
         * deadline, returning 0. */
        g_assert_cmpint(sd_event_add_time_relative(e, &deadline, CLOCK_MONOTONIC, DEADLINE_USEC, 0,
                                                   on_deadline, NULL), >=, 0);
        r = sd_event_loop(e);
        g_assert_cmpint(r, ==, -EISDIR);

        deadline = sd_event_source_disable_unref(deadline);
        b = backend_free(b);
        (void) close(keep);
        e = sd_event_unref(e);
        for (const char *const *name = (const char *const[]) { "f1", "f2", NULL }; *name; name++) {
                g_autofree char *p = g_build_filename(dir, *name, NULL);

                (void) g_unlink(p);
        }
        (void) g_rmdir(dir);
}

/* Backend=auto: poll where inotify cannot hear remote writers, inotify elsewhere. */
static void test_auto_kind(void) {
        g_assert_cmpint(backend_auto_kind(NFS_SUPER_MAGIC), ==, BACKEND_POLL);
        g_assert_cmpint(backend_auto_kind(0xFF534D42UL), ==, BACKEND_POLL);       /* cifs */
        g_assert_cmpint(backend_auto_kind(0xFE534D42UL), ==, BACKEND_POLL);       /* smb2 */
        g_assert_cmpint(backend_auto_kind(0x65735546UL), ==, BACKEND_POLL);       /* fuse */
        g_assert_cmpint(backend_auto_kind((unsigned long) (long) (int32_t) 0xFF534D42U), ==, BACKEND_POLL);
        g_assert_cmpstr(backend_fs_type_name(0x65735546UL), ==, "fuse");
        g_assert_cmpint(backend_auto_kind(EXT4_SUPER_MAGIC), ==, BACKEND_INOTIFY);
        g_assert_cmpint(backend_auto_kind(TMPFS_MAGIC), ==, BACKEND_INOTIFY);
        g_assert_cmpint(backend_auto_kind(BTRFS_SUPER_MAGIC), ==, BACKEND_INOTIFY);
        g_assert_null(backend_fs_type_name(TMPFS_MAGIC));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/backend-inotify/read-error-ends-loop", test_read_error_ends_loop);
        g_test_add_func("/backend/auto-kind", test_auto_kind);
        return g_test_run();
}
