/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for open-beneath: normalization, and openat2() and the O_NOFOLLOW walk giving the same
 * answers on a tree with symlinks in every position. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "open-beneath.h"

static void test_normalize(void) {
        static const struct {
                const char *in, *out;   /* out NULL: -EXDEV */
        } cases[] = {
                { "",                   "" },
                { ".",                  "" },
                { "a",                  "a" },
                { "a/./b//c/",          "a/b/c" },
                { "/x/y",               "x/y" },
                { "a/../b",             "b" },
                { "a/b/../../c",        "c" },
                { "a/..",               "" },
                { "..",                 NULL },
                { "../a",               NULL },
                { "a/../../b",          NULL },
                { "./../a",             NULL },
                { "..a/b..",            "..a/b.." },    /* only ".." itself climbs */
                { "...",                "..." },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *got = NULL;
                int r = path_normalize_beneath(cases[i].in, &got);

                if (!cases[i].out) {
                        g_assert_cmpint(r, ==, -EXDEV);
                        continue;
                }
                g_assert_cmpint(r, ==, 0);
                g_assert_cmpstr(got, ==, cases[i].out);
        }
}

typedef struct Tree {
        char *dir;
        int fd;
} Tree;

static void must(int r) {
        if (r < 0)
                g_error("setting up the tree: %s", g_strerror(errno));
}

/* root/{a/b/f, a/abs -> /etc, a/rel -> b, flink -> a/b/f, dlink -> a, file} */
static void tree_make(Tree *t) {
        GError *e = NULL;

        t->dir = g_dir_make_tmp("test-open-beneath.XXXXXX", &e);
        g_assert_no_error(e);
        t->fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        must(t->fd);
        must(mkdirat(t->fd, "a", 0755));
        must(mkdirat(t->fd, "a/b", 0755));
        must(close(openat(t->fd, "a/b/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)));
        must(close(openat(t->fd, "file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)));
        must(symlinkat("/etc", t->fd, "a/abs"));
        must(symlinkat("b", t->fd, "a/rel"));
        must(symlinkat("a/b/f", t->fd, "flink"));
        must(symlinkat("a", t->fd, "dlink"));
}

static void tree_free(Tree *t) {
        static const char *const entries[] = { "a/b/f", "a/abs", "a/rel", "flink", "dlink", "file" };

        for (size_t i = 0; i < ELEMENTSOF(entries); i++)
                (void) unlinkat(t->fd, entries[i], 0);
        (void) unlinkat(t->fd, "a/b", AT_REMOVEDIR);
        (void) unlinkat(t->fd, "a", AT_REMOVEDIR);
        (void) close(t->fd);
        (void) g_rmdir(t->dir);
        g_free(t->dir);
}

static const struct {
        const char *path;
        int flags;
        int want;               /* 0: an fd; else -errno */
        mode_t type;            /* of the fd's file when an fd */
} open_cases[] = {
        { "a/b/f",              O_RDONLY,                       0,              S_IFREG },
        { "a/b",                O_PATH | O_DIRECTORY,           0,              S_IFDIR },
        { "a/b",                O_RDONLY | O_DIRECTORY,         0,              S_IFDIR },
        { "",                   O_PATH | O_DIRECTORY,           0,              S_IFDIR },
        { "a/abs/passwd",       O_RDONLY,                       -ELOOP,         0 },    /* absolute link */
        { "a/rel/f",            O_RDONLY,                       -ELOOP,         0 },    /* relative link */
        { "dlink/b/f",          O_RDONLY,                       -ELOOP,         0 },    /* at the top */
        { "a/rel",              O_PATH | O_DIRECTORY,           -ELOOP,         0 },    /* the last one */
        { "a/rel",              O_RDONLY | O_DIRECTORY,         -ELOOP,         0 },
        { "flink",              O_RDONLY,                       -ELOOP,         0 },
        { "flink",              O_PATH,                         -ELOOP,         0 },
        { "flink",              O_PATH | O_NOFOLLOW,            0,              S_IFLNK },      /* the link */
        { "file/x",             O_RDONLY,                       -ENOTDIR,       0 },
        { "a/b/f",              O_RDONLY | O_DIRECTORY,         -ENOTDIR,       0 },
        { "nope/x",             O_RDONLY,                       -ENOENT,        0 },
        { "a/nope",             O_PATH,                         -ENOENT,        0 },
        { "../x",               O_RDONLY,                       -EXDEV,         0 },
        { "/etc/passwd",        O_RDONLY,                       -EXDEV,         0 },
};

static void check_open(int (*f)(int, const char *, int), const char *which) {
        Tree t;

        tree_make(&t);
        for (size_t i = 0; i < ELEMENTSOF(open_cases); i++) {
                int fd = f(t.fd, open_cases[i].path, open_cases[i].flags);
                struct stat st;

                if (open_cases[i].want < 0) {
                        if (fd >= 0)
                                (void) close(fd);
                        if (fd != open_cases[i].want)
                                g_error("%s(\"%s\", %#x) = %d (%s), want %s", which, open_cases[i].path,
                                        (unsigned) open_cases[i].flags, fd,
                                        fd < 0 ? g_strerror(-fd) : "an fd", g_strerror(-open_cases[i].want));
                        continue;
                }
                if (fd < 0)
                        g_error("%s(\"%s\", %#x) failed: %s", which, open_cases[i].path,
                                (unsigned) open_cases[i].flags, g_strerror(-fd));
                g_assert_cmpint(fstat(fd, &st), ==, 0);
                g_assert_cmpint(st.st_mode & S_IFMT, ==, open_cases[i].type);
                g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
                (void) close(fd);
        }
        tree_free(&t);
}

static void test_open_beneath(void) {
        check_open(open_beneath, "open_beneath");
}

static void test_open_beneath_walk(void) {
        check_open(open_beneath_walk, "open_beneath_walk");
}

/* lstat() past PATH_MAX: a file at the bottom of a tree 30 × 201 bytes deep, then gone. */
static void test_lstat_any_length(void) {
        g_autofree char *dir = g_dir_make_tmp("test-lstat-long.XXXXXX", NULL);
        g_autoptr(GString) path = g_string_new(dir);
        char name[202];
        struct stat st;
        int dfd, fd;

        g_assert_nonnull(dir);
        memset(name, 'n', sizeof name - 1);
        name[sizeof name - 1] = 0;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < 30; i++) {
                g_assert_cmpint(mkdirat(dfd, name, 0700), ==, 0);
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                g_assert_cmpint(fd, >=, 0);
                close(dfd);
                dfd = fd;
                g_string_append_printf(path, "/%s", name);
        }
        fd = openat(dfd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
        g_string_append(path, "/f");
        g_assert_cmpuint(path->len, >, PATH_MAX);
        g_assert_cmpint(lstat(path->str, &st), <, 0);
        g_assert_cmpint(errno, ==, ENAMETOOLONG);
        g_assert_cmpint(lstat_any_length(path->str, &st), ==, 0);
        g_assert_true(S_ISREG(st.st_mode));
        g_assert_cmpint(unlinkat(dfd, "f", 0), ==, 0);
        g_assert_cmpint(lstat_any_length(path->str, &st), ==, -ENOENT);
        /* A short path is plain lstat(). */
        g_assert_cmpint(lstat_any_length(dir, &st), ==, 0);
        g_assert_true(S_ISDIR(st.st_mode));
        close(dfd);
        {
                g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

                g_assert_cmpint(system(cmd), ==, 0);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/open-beneath/normalize", test_normalize);
        g_test_add_func("/open-beneath/lstat-any-length", test_lstat_any_length);
        g_test_add_func("/open-beneath/openat2", test_open_beneath);
        g_test_add_func("/open-beneath/walk", test_open_beneath_walk);
        return g_test_run();
}
