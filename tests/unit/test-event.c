/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for event: relpath_offset(), the full and relative paths built from the tree (a watch on
 * "/" too, and a watched directory moved away), the basename of self events and the {event} name. */
#include <string.h>
#include <sys/inotify.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

#include "event.h"
#include "watch.h"
#include "watch-tree.h"

static void test_relpath_offset(void) {
        static const struct {
                const char *path, *base, *rel;
        } cases[] = {
                { "/srv/in/a", "/srv/in", "a" },
                { "/srv/in/a/b c", "/srv/in", "a/b c" },
                { "/srv/in", "/srv/in", "" },
                /* A sibling that shares the prefix is not below base. */
                { "/srv/inbox/a", "/srv/in", "" },
                { "/elsewhere/a", "/srv/in", "" },
                /* The root: everything is below it, without a leading '/'. */
                { "/etc/passwd", "/", "etc/passwd" },
                { "/", "/", "" },
                { "/srv/in/a", "/srv/in/", "a" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t o = relpath_offset(cases[i].path, cases[i].base);

                g_assert_cmpstr(cases[i].path + o, ==, cases[i].rel);
        }
}

/* An event of watch w for name (may be NULL) in n. */
static Event make_event(Watch *w, const WatchNode *n, const char *name, uint32_t mask, EventKind kind) {
        return (Event) {
                .watch = w,
                .mask = mask,
                .kind = kind,
                .is_dir = mask & IN_ISDIR,
                .node = n,
                .name = name,
        };
}

static void test_paths(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        Watch w = { .name = (char *) "w", .path = (char *) "/srv/in" };
        WatchNode *root, *sub;
        Event ev;

        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        root = watch_tree_add_root(t, &w, "/srv/in");
        sub = watch_tree_add_child(t, watch_tree_add_child(t, root, "a"), "b c");

        ev = make_event(&w, sub, "f\tx", IN_CLOSE_WRITE, EVENT_KIND_CHANGED);
        g_assert_cmpstr(event_pathname(&ev), ==, "/srv/in/a/b c/f\tx");
        /* Built once and kept. */
        g_assert_true(event_pathname(&ev) == event_pathname(&ev));
        g_assert_cmpstr(event_relpath(&ev), ==, "a/b c/f\tx");
        g_assert_cmpstr(event_basename(&ev), ==, "f\tx");
        event_done(&ev);
        g_assert_null(ev.pathname);

        /* The watched directory itself: relpath "", basename its last component. */
        ev = make_event(&w, root, NULL, IN_ATTRIB | IN_ISDIR, EVENT_KIND_CHANGED);
        g_assert_cmpstr(event_pathname(&ev), ==, "/srv/in");
        g_assert_cmpstr(event_relpath(&ev), ==, "");
        g_assert_cmpstr(event_basename(&ev), ==, "in");
        event_done(&ev);

        ev = make_event(&w, sub, NULL, IN_DELETE_SELF | IN_ISDIR, EVENT_KIND_DELETED);
        g_assert_cmpstr(event_basename(&ev), ==, "b c");
        g_assert_cmpstr(event_relpath(&ev), ==, "a/b c");
        event_done(&ev);
}

static void test_watch_on_root(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        Watch w = { .name = (char *) "all", .path = (char *) "/" };
        WatchNode *root, *etc;
        Event ev;

        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        root = watch_tree_add_root(t, &w, "/");
        etc = watch_tree_add_child(t, root, "etc");

        ev = make_event(&w, etc, "passwd", IN_CLOSE_WRITE, EVENT_KIND_CHANGED);
        g_assert_cmpstr(event_pathname(&ev), ==, "/etc/passwd");
        g_assert_cmpstr(event_relpath(&ev), ==, "etc/passwd");
        event_done(&ev);

        ev = make_event(&w, root, "vmlinuz", IN_CREATE, EVENT_KIND_CREATED);
        g_assert_cmpstr(event_pathname(&ev), ==, "/vmlinuz");
        g_assert_cmpstr(event_relpath(&ev), ==, "vmlinuz");
        event_done(&ev);

        ev = make_event(&w, root, NULL, IN_ATTRIB | IN_ISDIR, EVENT_KIND_CHANGED);
        g_assert_cmpstr(event_pathname(&ev), ==, "/");
        g_assert_cmpstr(event_relpath(&ev), ==, "");
        g_assert_cmpstr(event_basename(&ev), ==, "/");
        event_done(&ev);
}

static void test_moved_away(void) {
        _cleanup_(watch_tree_freep) WatchTree *t = NULL;
        Watch w = { .name = (char *) "w", .path = (char *) "/srv/in" };
        WatchNode *root;
        Event ev;

        /* A root whose node was renamed (the watched directory moved): its path is no longer below
         * Path=, so the relative path is empty rather than a wrong suffix. */
        g_assert_cmpint(watch_tree_new(&t), ==, 0);
        root = watch_tree_add_root(t, &w, "/srv/old");
        ev = make_event(&w, root, "f", IN_CLOSE_WRITE, EVENT_KIND_CHANGED);
        g_assert_cmpstr(event_pathname(&ev), ==, "/srv/old/f");
        g_assert_cmpstr(event_relpath(&ev), ==, "");
        event_done(&ev);
}

static void test_display_name(void) {
        Watch w = { .name = (char *) "w", .path = (char *) "/srv/in" };
        Event ev;

        /* The kind when there is one ... */
        ev = make_event(&w, NULL, "f", IN_CLOSE_WRITE, EVENT_KIND_CHANGED);
        g_assert_cmpstr(event_display_name(&ev), ==, "changed");
        ev = make_event(&w, NULL, "f", IN_MOVED_TO, EVENT_KIND_MOVED);
        g_assert_cmpstr(event_display_name(&ev), ==, "moved");
        ev = make_event(&w, NULL, NULL, 0, EVENT_KIND_OVERFLOW);
        g_assert_cmpstr(event_display_name(&ev), ==, "overflow");
        ev = make_event(&w, NULL, "f", 0, EVENT_KIND_EXISTS);
        g_assert_cmpstr(event_display_name(&ev), ==, "exists");
        /* ... else the short name of the mask, IN_ISDIR left out. */
        ev = make_event(&w, NULL, "f", IN_CLOSE_NOWRITE, EVENT_KIND_NONE);
        g_assert_cmpstr(event_display_name(&ev), ==, "close_nowrite");
        ev = make_event(&w, NULL, "d", IN_OPEN | IN_ISDIR, EVENT_KIND_NONE);
        g_assert_cmpstr(event_display_name(&ev), ==, "open");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/event/relpath-offset", test_relpath_offset);
        g_test_add_func("/event/paths", test_paths);
        g_test_add_func("/event/watch-on-root", test_watch_on_root);
        g_test_add_func("/event/moved-away", test_moved_away);
        g_test_add_func("/event/display-name", test_display_name);
        return g_test_run();
}
