/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for trust: which owners and modes a file or directory may have, and the walk above a path
 * (through a symbolic link too) with the exact messages. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "src/daemon/trust.h"

static void check(mode_t type, unsigned mode, uid_t owner, uid_t self, const char *expected) {
        struct stat st = { .st_mode = type | mode, .st_uid = owner };
        g_autofree char *problem = trust_stat_problem(&st, self);

        g_assert_cmpstr(problem, ==, expected);
}

static void test_stat(void) {
        struct stat null_dev = { .st_mode = S_IFCHR | 0666, .st_rdev = makedev(1, 3) };
        struct stat other_dev = { .st_mode = S_IFCHR | 0600, .st_rdev = makedev(1, 5) };
        g_autofree char *p = NULL;

        check(S_IFREG, 0644, 0, 0, NULL);
        check(S_IFREG, 0600, 0, 1000, NULL);
        check(S_IFREG, 0644, 1000, 1000, NULL);
        check(S_IFREG, 0666, 0, 0, "writable by others (mode 0666)");
        check(S_IFREG, 0664, 0, 0, "writable by its group (mode 0664)");
        check(S_IFREG, 0620, 0, 0, "writable by its group (mode 0620)");
        check(S_IFREG, 0644, 65534, 0, "owned by uid 65534, not by root");
        check(S_IFREG, 0644, 65534, 1000, "owned by uid 65534, neither by root nor by uid 1000");
        /* A sticky bit means nothing on a file. */
        check(S_IFREG, 01666, 0, 0, "writable by others (mode 1666)");

        check(S_IFDIR, 0755, 0, 0, NULL);
        check(S_IFDIR, 0775, 0, 0, "writable by its group (mode 0775)");
        check(S_IFDIR, 0777, 0, 0, "writable by others (mode 0777)");
        /* /tmp: nobody else can rename or remove what is in it. */
        check(S_IFDIR, 01777, 0, 0, NULL);
        check(S_IFDIR, 01777, 1000, 1000, NULL);
        check(S_IFDIR, 01777, 65534, 0, "owned by uid 65534, not by root");
        check(S_IFDIR, 0755, 65534, 0, "owned by uid 65534, not by root");

        check(S_IFIFO, 0600, 0, 0, "neither a regular file nor a directory");
        p = trust_stat_problem(&null_dev, 0);
        g_assert_null(p);
        p = trust_stat_problem(&other_dev, 0);
        g_assert_cmpstr(p, ==, "neither a regular file nor a directory");
}

static char *write_file(const char *dir, const char *name, mode_t mode) {
        char *p = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(p, "[Daemon]\n", -1, NULL));
        g_assert_cmpint(chmod(p, mode), ==, 0);
        return p;
}

/* In a private directory below a trusted one: /tmp is root's and sticky, so the walk up passes it. */
static void test_path(void) {
        g_autofree char *tmp = g_strdup("/tmp/test-trust.XXXXXX");
        g_autofree char *file = NULL, *open_dir = NULL, *in_open = NULL, *link = NULL, *err = NULL,
                        *expected = NULL, *missing = NULL;
        uid_t self = geteuid();

        g_assert_nonnull(g_mkdtemp(tmp));
        g_assert_cmpint(chmod(tmp, 0755), ==, 0);
        file = write_file(tmp, "good.conf", 0644);
        g_assert_cmpint(trust_check_path(file, self, &err), ==, 0);
        g_assert_null(err);
        g_assert_cmpint(trust_check_path(tmp, self, &err), ==, 0);

        g_assert_cmpint(chmod(file, 0646), ==, 0);
        g_assert_cmpint(trust_check_path(file, self, &err), ==, -EPERM);
        expected = g_strdup_printf("%s: refused: writable by others (mode 0646)", file);
        g_assert_cmpstr(err, ==, expected);
        g_clear_pointer(&err, g_free);
        g_clear_pointer(&expected, g_free);
        g_assert_cmpint(chmod(file, 0644), ==, 0);

        /* A good file below a group-writable directory. */
        open_dir = g_build_filename(tmp, "open", NULL);
        g_assert_cmpint(g_mkdir(open_dir, 0755), ==, 0);
        g_assert_cmpint(chmod(open_dir, 0775), ==, 0);
        in_open = write_file(open_dir, "x.conf", 0644);
        g_assert_cmpint(trust_check_path(in_open, self, &err), ==, -EPERM);
        expected = g_strdup_printf("%s: refused: directory %s is writable by its group (mode 0775)", in_open,
                                   open_dir);
        g_assert_cmpstr(err, ==, expected);
        g_clear_pointer(&err, g_free);
        g_clear_pointer(&expected, g_free);

        /* A link in a good directory to a file in the open one: the target's directory counts. */
        link = g_build_filename(tmp, "link.conf", NULL);
        g_assert_cmpint(symlink(in_open, link), ==, 0);
        g_assert_cmpint(trust_check_path(link, self, &err), ==, -EPERM);
        expected = g_strdup_printf("%s: refused: directory %s is writable by its group (mode 0775)", link,
                                   open_dir);
        g_assert_cmpstr(err, ==, expected);
        g_clear_pointer(&err, g_free);
        g_clear_pointer(&expected, g_free);
        g_assert_cmpint(unlink(link), ==, 0);

        /* A link in the open directory to the good file: whoever writes the directory moves the link. */
        g_clear_pointer(&link, g_free);
        link = g_build_filename(open_dir, "link.conf", NULL);
        g_assert_cmpint(symlink(file, link), ==, 0);
        g_assert_cmpint(trust_check_path(link, self, &err), ==, -EPERM);
        expected = g_strdup_printf("%s: refused: directory %s is writable by its group (mode 0775)", link,
                                   open_dir);
        g_assert_cmpstr(err, ==, expected);
        g_clear_pointer(&err, g_free);

        missing = g_build_filename(tmp, "missing.conf", NULL);
        g_assert_cmpint(trust_check_path(missing, self, &err), ==, -ENOENT);
        g_assert_nonnull(err);

        (void) unlink(link);
        (void) unlink(in_open);
        (void) rmdir(open_dir);
        (void) unlink(file);
        (void) rmdir(tmp);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/trust/stat", test_stat);
        g_test_add_func("/trust/path", test_path);
        return g_test_run();
}
