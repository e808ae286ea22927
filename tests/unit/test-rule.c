/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for rule: the kernel mask a rule needs, On=/CancelOn=, Files=/Directories=, Match= by name
 * and by relative path, MatchRegex= and its groups, Source=, overflows, and Destination=. */
#include <string.h>
#include <sys/inotify.h>

/* macro.h before glib.h: GLib #undefs MIN/MAX before its own, the other order warns. */
#include "macro.h"

#include <glib.h>

/* By path: a plain "config.h" finds the build's generated config.h first (-I. of the build root). */
#include "src/daemon/config.h"
#include "event.h"
#include "rule.h"
#include "watch.h"
#include "watch-tree.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* A configuration, a watch of its first [Watch] and a tree for it, to raise events in. */
typedef struct Fixture {
        Config *config;
        Watch *watch;
        WatchTree *tree;
} Fixture;

static void fixture_init(Fixture *f, const char *text) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        int r;

        r = config_load_string("test.conf", text, &f->config, errors);
        for (guint i = 0; i < errors->len; i++)
                g_test_message("unexpected error: %s", (const char *) errors->pdata[i]);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(watch_new(&f->watch, f->config->watches->pdata[0]), ==, 0);
        g_assert_cmpint(watch_tree_new(&f->tree), ==, 0);
        f->watch->root = watch_tree_add_root(f->tree, f->watch, f->watch->path);
}

static void fixture_done(Fixture *f) {
        f->tree = watch_tree_free(f->tree);
        f->watch = watch_free(f->watch);
        f->config = config_free(f->config);
}

static const ConfigRule *rule(const Fixture *f, const char *name) {
        const ConfigRule *r = config_find_rule(f->config, name);

        g_assert_nonnull(r);
        return r;
}

/* The directory node for relpath dir ("" for the root), created as needed. */
static WatchNode *dir_node(Fixture *f, const char *dir) {
        g_auto(GStrv) parts = g_strsplit(dir, "/", -1);
        WatchNode *n = f->watch->root;

        for (char **p = parts; *p; p++)
                if (**p)
                        n = watch_tree_add_child(f->tree, n, *p);
        return n;
}

/* What an event for relpath (in the node of its directory) means for rule r; *ret_groups as
 * rule_match() gives them (may be NULL). */
static RuleVerdict verdict(Fixture *f, const char *rname, const char *relpath, uint32_t mask, EventKind kind,
                           char ***ret_groups) {
        g_autofree char *dir = g_path_get_dirname(relpath);
        g_autofree char *base = g_path_get_basename(relpath);
        Event ev = {
                .watch = f->watch,
                .mask = mask,
                .kind = kind,
                .is_dir = mask & IN_ISDIR,
                .node = dir_node(f, streq(dir, ".") ? "" : dir),
                .name = base,
        };
        RuleVerdict v;

        v = rule_match(rule(f, rname), &ev, ret_groups);
        event_done(&ev);
        return v;
}

static RuleVerdict verdict_mask(Fixture *f, const char *rname, const char *relpath, uint32_t mask) {
        return verdict(f, rname, relpath, mask, event_kind_from_mask(mask), NULL);
}

#define WATCH "[Watch w]\nPath=/srv/in\nRecursive=yes\n\n"

static void test_inotify_mask(void) {
        Fixture f = {};

        fixture_init(&f, WATCH
                     "[Rule raw]\nWatch=w\nOn=IN_CLOSE_WRITE\nCancelOn=IN_DELETE\nExec=/bin/true\n\n"
                     "[Rule kinds]\nWatch=w\nOn=created changed\nCancelOn=deleted\nExec=/bin/true\n\n"
                     "[Rule moved]\nWatch=w\nOn=moved\nExec=/bin/true\n");
        g_assert_cmphex(rule_inotify_mask(rule(&f, "raw")), ==, IN_CLOSE_WRITE | IN_DELETE);
        g_assert_cmphex(rule_inotify_mask(rule(&f, "kinds")), ==,
                        IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM |
                        IN_DELETE_SELF);
        g_assert_cmphex(rule_inotify_mask(rule(&f, "moved")), ==, IN_MOVED_FROM | IN_MOVED_TO);
        fixture_done(&f);
}

static void test_on_and_cancel(void) {
        Fixture f = {};

        fixture_init(&f, WATCH
                     "[Rule r]\nWatch=w\nOn=IN_CLOSE_WRITE created\nCancelOn=IN_DELETE\nExec=/bin/true\n\n"
                     "[Rule both]\nWatch=w\nOn=IN_DELETE\nCancelOn=deleted\nExec=/bin/true\n\n"
                     "[Rule move]\nWatch=w\nOn=moved\nExec=/bin/true\n");
        g_assert_cmpint(verdict_mask(&f, "r", "a", IN_CLOSE_WRITE), ==, RULE_SCHEDULE);
        /* A kind matches whatever mask stands for it. */
        g_assert_cmpint(verdict_mask(&f, "r", "a", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "r", "a", IN_MOVED_TO), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "r", "a", IN_DELETE), ==, RULE_CANCEL);
        g_assert_cmpint(verdict_mask(&f, "r", "a", IN_ATTRIB), ==, RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "r", "a", IN_OPEN), ==, RULE_IGNORE);
        /* CancelOn= wins over On=. */
        g_assert_cmpint(verdict_mask(&f, "both", "a", IN_DELETE), ==, RULE_CANCEL);
        /* "moved" is a paired move's kind, not a bare IN_MOVED_TO. */
        g_assert_cmpint(verdict(&f, "move", "a", IN_MOVED_TO, EVENT_KIND_MOVED, NULL), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "move", "a", IN_MOVED_TO), ==, RULE_IGNORE);
        fixture_done(&f);
}

/* A file renamed onto a name is a change of that name, paired or moved in; a directory's is not. */
static void test_replacement_is_a_change(void) {
        Fixture f = {};

        fixture_init(&f, WATCH
                     "[Rule ch]\nWatch=w\nOn=changed\nDirectories=yes\nExec=/bin/true\n\n"
                     "[Rule raw]\nWatch=w\nOn=IN_CLOSE_WRITE\nExec=/bin/true\n");
        g_assert_cmpint(verdict(&f, "ch", "final", IN_MOVED_TO, EVENT_KIND_MOVED, NULL), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict(&f, "ch", "final", IN_MOVED_TO, EVENT_KIND_CREATED, NULL), ==,
                        RULE_SCHEDULE);
        g_assert_cmpint(verdict(&f, "ch", "d", IN_MOVED_TO | IN_ISDIR, EVENT_KIND_MOVED, NULL), ==,
                        RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "ch", "new", IN_CREATE), ==, RULE_IGNORE);
        g_assert_true(rule_on_by_replacement(rule(&f, "ch"), &(Event) { .mask = IN_MOVED_TO,
                                                                        .kind = EVENT_KIND_CREATED }));
        g_assert_false(rule_on_by_replacement(rule(&f, "ch"), &(Event) { .mask = IN_CLOSE_WRITE,
                                                                         .kind = EVENT_KIND_CHANGED }));
        /* A raw mask means just that bit. */
        g_assert_cmpint(verdict(&f, "raw", "final", IN_MOVED_TO, EVENT_KIND_MOVED, NULL), ==, RULE_IGNORE);
        fixture_done(&f);
}

static void test_files_directories(void) {
        Fixture f = {};

        fixture_init(&f, WATCH
                     "[Rule files]\nWatch=w\nOn=created\nExec=/bin/true\n\n"
                     "[Rule dirs]\nWatch=w\nOn=created\nFiles=no\nDirectories=yes\nExec=/bin/true\n\n"
                     "[Rule all]\nWatch=w\nOn=created\nDirectories=yes\nExec=/bin/true\n");
        /* Files=yes, Directories=no by default. */
        g_assert_cmpint(verdict_mask(&f, "files", "a", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "files", "d", IN_CREATE | IN_ISDIR), ==, RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "dirs", "a", IN_CREATE), ==, RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "dirs", "d", IN_CREATE | IN_ISDIR), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "all", "a", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "all", "d", IN_CREATE | IN_ISDIR), ==, RULE_SCHEDULE);
        fixture_done(&f);
}

static void test_match_globs(void) {
        Fixture f = {};

        fixture_init(&f, WATCH
                     "[Rule name]\nWatch=w\nOn=created\nMatch=*.csv *.tsv\nExec=/bin/true\n\n"
                     "[Rule rel]\nWatch=w\nOn=created\nMatch=incoming/*.csv\nExec=/bin/true\n");
        /* Without '/', against the entry's name at any depth. */
        g_assert_cmpint(verdict_mask(&f, "name", "a.csv", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "name", "x/y/b.tsv", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "name", "a.csv.part", IN_CREATE), ==, RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "name", "x.csv/readme", IN_CREATE), ==, RULE_IGNORE);
        /* With '/', against the path relative to the watch; '*' does not cross a '/'. */
        g_assert_cmpint(verdict_mask(&f, "rel", "incoming/a.csv", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "rel", "a.csv", IN_CREATE), ==, RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "rel", "incoming/deep/a.csv", IN_CREATE), ==, RULE_IGNORE);
        g_assert_cmpint(verdict_mask(&f, "rel", "other/incoming/a.csv", IN_CREATE), ==, RULE_IGNORE);
        fixture_done(&f);
}

static void test_match_regex(void) {
        Fixture f = {};
        _cleanup_strv_free_ char **g = NULL, **none = NULL;

        fixture_init(&f, WATCH
                     "[Rule re]\nWatch=w\nOn=created\nCancelOn=deleted\n"
                     "MatchRegex=^/srv/in/(?P<user>[^/]+)/(?P<name>[^/]+?)(?P<ext>\\.gz)?$\n"
                     "Exec=/bin/echo {user} {name} {ext}\n\n"
                     "[Rule plain]\nWatch=w\nOn=created\nMatchRegex=\\.log$\nExec=/bin/true\n");
        /* Against the full path; the groups in the order of group_names, a group that took no part "". */
        g_assert_cmpint(verdict(&f, "re", "alice/report.gz", IN_CREATE, EVENT_KIND_CREATED, &g), ==,
                        RULE_SCHEDULE);
        g_assert_nonnull(g);
        g_assert_cmpuint(g_strv_length(g), ==, g_strv_length(rule(&f, "re")->group_names));
        for (size_t i = 0; g[i]; i++) {
                const char *n = rule(&f, "re")->group_names[i];

                g_assert_cmpstr(g[i], ==, streq(n, "user") ? "alice" : streq(n, "name") ? "report" : ".gz");
        }
        g_strfreev(g);
        g = NULL;
        g_assert_cmpint(verdict(&f, "re", "bob/notes", IN_CREATE, EVENT_KIND_CREATED, &g), ==, RULE_SCHEDULE);
        for (size_t i = 0; g[i]; i++)
                if (streq(rule(&f, "re")->group_names[i], "ext"))
                        g_assert_cmpstr(g[i], ==, "");
        g_assert_cmpint(verdict(&f, "re", "toplevel", IN_CREATE, EVENT_KIND_CREATED, &none), ==, RULE_IGNORE);
        g_assert_cmpint(verdict(&f, "re", "a/b/c", IN_CREATE, EVENT_KIND_CREATED, &none), ==, RULE_IGNORE);
        /* A cancel has no task to fill: no groups. */
        g_assert_cmpint(verdict(&f, "re", "bob/x", IN_DELETE, EVENT_KIND_DELETED, &none), ==, RULE_CANCEL);
        g_assert_null(none);
        /* Without named groups, nothing to hand back. */
        g_assert_cmpint(verdict(&f, "plain", "d/x.log", IN_CREATE, EVENT_KIND_CREATED, &none), ==,
                        RULE_SCHEDULE);
        g_assert_null(none);
        g_assert_cmpint(verdict(&f, "plain", "d/x.log.1", IN_CREATE, EVENT_KIND_CREATED, &none), ==,
                        RULE_IGNORE);
        fixture_done(&f);
}

static void test_overflow(void) {
        Fixture f = {};
        Event ev = {};

        fixture_init(&f, WATCH "[Rule o]\nWatch=w\nOn=overflow\nMatch=*.csv\nExec=/bin/true\n\n"
                             "[Rule n]\nWatch=w\nOn=created\nExec=/bin/true\n");
        /* An overflow concerns the whole watch: Match= and Files= do not apply. */
        ev = (Event) { .watch = f.watch, .kind = EVENT_KIND_OVERFLOW, .node = f.watch->root, .is_dir = true };
        g_assert_cmpint(rule_match(rule(&f, "o"), &ev, NULL), ==, RULE_SCHEDULE);
        g_assert_cmpint(rule_match(rule(&f, "n"), &ev, NULL), ==, RULE_IGNORE);
        event_done(&ev);
        fixture_done(&f);
}

#define MOVER "[Rule mv]\nWatch=w\nOn=created\nAction=move\n"

static void test_source_and_destination(void) {
        Fixture f = {};
        g_autofree char *err = NULL, *d = NULL;

        fixture_init(&f, WATCH
                     MOVER "Source=^/srv/in/(?P<user>[^/]+)/(.*)\\.txt$\n"
                     "Destination=/srv/out/\\g<user>/\\2.done\n\n"
                     "[Rule del]\nWatch=w\nOn=created\nAction=delete\nSource=\\.tmp$\n");
        /* Source= selects the paths the rule acts on. */
        g_assert_cmpint(verdict_mask(&f, "mv", "alice/a b.txt", IN_CREATE), ==, RULE_SCHEDULE);
        g_assert_cmpint(verdict_mask(&f, "mv", "alice/a.csv", IN_CREATE), ==, RULE_IGNORE);

        d = file_destination(rule(&f, "mv"), "/srv/in/alice/sub/a b.txt", &err);
        g_assert_null(err);
        g_assert_cmpstr(d, ==, "/srv/out/alice/sub/a b.done");
        g_clear_pointer(&d, g_free);

        d = file_destination(rule(&f, "mv"), "/srv/in/alice/a.csv", &err);
        g_assert_null(d);
        g_assert_cmpstr(err, ==, "the path does not match Source=");
        g_clear_pointer(&err, g_free);

        /* Without Destination= (delete): "" once Source= matches. */
        d = file_destination(rule(&f, "del"), "/srv/in/x.tmp", &err);
        g_assert_null(err);
        g_assert_cmpstr(d, ==, "");
        fixture_done(&f);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/rule/inotify-mask", test_inotify_mask);
        g_test_add_func("/rule/on-and-cancel", test_on_and_cancel);
        g_test_add_func("/rule/replacement-is-a-change", test_replacement_is_a_change);
        g_test_add_func("/rule/files-directories", test_files_directories);
        g_test_add_func("/rule/match-globs", test_match_globs);
        g_test_add_func("/rule/match-regex", test_match_regex);
        g_test_add_func("/rule/overflow", test_overflow);
        g_test_add_func("/rule/source-and-destination", test_source_and_destination);
        return g_test_run();
}
