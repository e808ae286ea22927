#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A waiting task follows its file: renamed directories and files take their tasks along (same ids, new
paths), a rename to a name the rule does not match or out of the watch cancels them, CancelOn=deleted
counts the renamed-away name as deleted, and a task whose path is gone ends as "vanished"."""

import os

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule f]
Watch=w
On=changed
Match=*.txt
DelaySec=2
Exec=@REC@ {pathname}
'''

GIT = '''
[Watch w]
Path=@TMP@/w

[Rule g]
Watch=w
On=changed
CancelOn=deleted
Match=index*
DelaySec=2
Exec=@REC@ {pathname}
'''


RUN_VANISHED = CONFIG + '''
[Rule anyway]
Watch=w
On=changed
Match=*.log
DelaySec=2
RunIfVanished=yes
Exec=@REC@ {pathname}
'''

# A directory's rename re-checks the rules of the tasks below it: MatchRegex= (its groups anew), Match= by
# relative path, and the watch's Exclude=.
RECHECK = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes
Exclude=*/held/*

[Rule re]
Watch=w
On=changed
MatchRegex=^@TMP@/w/(?P<proj>in-[^/]+)/.+$
DelaySec=2
Exec=@REC@ {pathname} re {proj}

[Rule rel]
Watch=w
On=changed
Match=in-*/*.rel
DelaySec=2
Exec=@REC@ {pathname} rel
'''


class Follow(DaemonTestCase):
    def start(self, config=CONFIG):
        d = self.daemon(config, start=False)
        w = self.fresh_dir(d, 'w')
        self.outside = self.fresh_dir(d, 'outside')
        d.start()
        return d, w

    def paths(self, d):
        return sorted(os.fsdecode(r.args[0]) for r in d.records())

    def assert_same_tasks_ran(self, d, rule):
        scheduled = set(d.task_ids('scheduled for ', rule))
        finished = set(d.task_ids('finished', rule))
        self.assertEqual(finished, scheduled, 'the tasks that ran are the ones scheduled (ids kept)')

    def test_directory_renamed_during_delay(self):
        d, w = self.start()
        old, new = os.path.join(w, 'd'), os.path.join(w, 'e')
        os.mkdir(old)
        d.sync()
        for i in range(50):
            write(os.path.join(old, 'f%02d.txt' % i))
        d.sync()
        os.rename(old, new)
        d.settle()
        paths = self.paths(d)
        on_old = [p for p in paths if p.startswith(old + '/')]
        on_new = [p for p in paths if p.startswith(new + '/')]
        log('%d tasks ran on the new path, %d on the old one' % (len(on_new), len(on_old)))
        self.assertEqual(on_old, [], 'no task ran on the old path')
        self.assertEqual(on_new, sorted(os.path.join(new, 'f%02d.txt' % i) for i in range(50)))
        self.assert_same_tasks_ran(d, 'f')

    def test_deep_tree_out_and_back_in(self):
        d, w = self.start()
        deep = os.path.join(w, 'a', 'b', 'c')
        os.makedirs(deep)
        d.sync()
        for i in range(20):
            write(os.path.join(deep, 'f%02d.txt' % i))
        d.sync()
        os.rename(os.path.join(w, 'a'), os.path.join(self.outside, 'a'))
        os.rename(os.path.join(self.outside, 'a'), os.path.join(w, 'A'))
        d.settle()
        paths = self.paths(d)
        gone = [p for p in paths if not os.path.exists(p)]
        log('%d tasks ran, %d on paths that do not exist' % (len(paths), len(gone)))
        self.assertEqual(gone, [], 'no task ran on a path that is gone')
        self.assertEqual([p for p in paths if p.startswith(os.path.join(w, 'a') + '/')], [])

    def test_file_renamed_to_matching_name(self):
        d, w = self.start()
        write(os.path.join(w, 'x.txt'))
        d.sync()
        os.rename(os.path.join(w, 'x.txt'), os.path.join(w, 'y.txt'))
        d.settle()
        self.assertEqual(self.paths(d), [os.path.join(w, 'y.txt')], 'one task, at the new name')
        self.assert_same_tasks_ran(d, 'f')
        self.assertEqual(len(d.task_ids('scheduled for ', 'f')), 1)

    def test_file_renamed_to_other_name(self):
        d, w = self.start()
        write(os.path.join(w, 'x.txt'))
        d.sync()
        os.rename(os.path.join(w, 'x.txt'), os.path.join(w, 'x.bak'))
        d.settle()
        self.assertEqual(self.paths(d), [], 'the task was cancelled')
        m = d.wait_for_log(r'^Task \d+ \(f\) cancelled: (.*)\.$')[0]
        self.assertIn('does not match', m.group(1))

    def test_file_moved_out(self):
        d, w = self.start()
        write(os.path.join(w, 'x.txt'))
        d.sync()
        os.rename(os.path.join(w, 'x.txt'), os.path.join(self.outside, 'x.txt'))
        d.settle()
        self.assertEqual(self.paths(d), [], 'the task was cancelled')
        m = d.wait_for_log(r'^Task \d+ \(f\) cancelled: (.*)\.$')[0]
        self.assertIn('moved out', m.group(1))

    def test_deleted_during_delay_vanishes(self):
        d, w = self.start()
        v = os.path.join(w, 'v.txt')
        write(v)
        d.sync()
        os.unlink(v)
        d.settle()
        self.assertEqual(self.paths(d), [], 'the task did not run')
        m = d.wait_for_log(r'^Task \d+ \(f\) vanished: (.*)\.$')[0]
        log('vanished: %s' % m.group(1))
        self.assertEqual(d.log_matches(r'^Task \d+ \(f\) started'), [])

    def test_git_lock_renamed(self):
        d, w = self.start(GIT)
        lock = os.path.join(w, 'index.lock')
        write(lock)
        d.sync()
        os.rename(lock, os.path.join(w, 'index'))
        d.settle()
        self.assertNotIn(lock, self.paths(d), 'the lock file\'s task did not run')
        m = d.wait_for_log(r'^Task \d+ \(g\) cancelled: (.*)\.$')[0]
        log('lock task cancelled: %s' % m.group(1))
        # The rename onto index replaces it: a change of index (item 6), its one task; none on the lock.
        self.assertEqual(self.paths(d), [os.path.join(w, 'index')])
        self.assertEqual(len(d.log_matches(r'^Task \d+ \(g\) started')), 1)


    def test_run_if_vanished(self):
        """RunIfVanished=yes: the task of a file deleted while it waited runs anyway, on its path."""
        d, w = self.start(RUN_VANISHED)
        txt, lg = os.path.join(w, 'v.txt'), os.path.join(w, 'v.log')
        write(txt)
        write(lg)
        d.sync()
        os.unlink(txt)
        os.unlink(lg)
        d.settle()
        vanished = d.log_matches(r'^Task \d+ \((\w+)\) vanished')
        log('deleted while waiting: ran on %s; vanished: %s'
            % (self.paths(d), [m.group(1) for m in vanished]))
        self.assertEqual(self.paths(d), [lg], 'RunIfVanished=yes ran on the gone path, the other did not')
        self.assertEqual([m.group(1) for m in vanished], ['f'])

    def test_directory_rename_rechecks_rules(self):
        d, w = self.start(RECHECK)
        a = os.path.join(w, 'in-a')
        os.mkdir(a)
        d.sync()
        for i in range(10):
            write(os.path.join(a, 'f%d.rel' % i))
        d.sync()
        os.rename(a, os.path.join(w, 'in-b'))           # still matched, the group changes
        os.rename(os.path.join(w, 'in-b'), os.path.join(w, 'out'))      # matched by neither rule
        os.rename(os.path.join(w, 'out'), os.path.join(w, 'in-c'))      # matched again: nothing waits
        d.settle()
        ran = [(os.fsdecode(r.args[0]), [os.fsdecode(x) for x in r.args[1:]]) for r in d.records()]
        log('10 files x 2 rules, the directory renamed in-a -> in-b -> out -> in-c: %d tasks ran: %s'
            % (len(ran), sorted(set(p for p, _ in ran))[:3]))
        self.assertEqual(ran, [], 'every task was cancelled at "out" (no rule matches it)')
        cancelled = d.log_matches(r'^Task \d+ \((re|rel)\) cancelled: renamed to a path its rule does not '
                                  r'match\.$')
        self.assertEqual(len(cancelled), 20)

        # Groups anew after a rename that keeps the match; a rename into an excluded path cancels.
        b = os.path.join(w, 'in-x')
        os.mkdir(b)
        os.mkdir(os.path.join(w, 'held'))
        d.sync()
        write(os.path.join(b, 'g.rel'))
        write(os.path.join(b, 'h.rel'))
        d.sync()
        os.rename(b, os.path.join(w, 'in-y'))
        os.mkdir(os.path.join(w, 'in-z'))
        d.sync()
        os.rename(os.path.join(w, 'in-y', 'h.rel'), os.path.join(w, 'in-z', 'h.rel'))
        d.settle()
        ran = sorted((os.fsdecode(r.args[0]), tuple(os.fsdecode(x) for x in r.args[1:]))
                     for r in d.records())
        g, h = os.path.join(w, 'in-y', 'g.rel'), os.path.join(w, 'in-z', 'h.rel')
        self.assertEqual(ran, [(g, ('re', 'in-y')), (g, ('rel',)), (h, ('re', 'in-z')), (h, ('rel',))],
                         'the tasks ran at the new paths with the new {proj}')

        # in-q/hold/ is watched; renamed to in-q/held/ (still watched), its files are excluded.
        hold = os.path.join(w, 'in-q', 'hold')
        os.makedirs(hold)
        d.sync()
        write(os.path.join(hold, 'k.rel'))
        d.sync()
        os.rename(hold, os.path.join(w, 'in-q', 'held'))
        d.settle()
        self.assertEqual(len(d.records()), 4, 'no task ran below in-q/held/ (Exclude=*/held/*)')
        excl = d.log_matches(r'^Task \d+ \(re\) cancelled: renamed to a path the watch excludes\.$')
        log('renamed to in-q/held/ (Exclude=*/held/*): %d tasks cancelled as excluded' % len(excl))
        self.assertEqual(len(excl), 1)

if __name__ == '__main__':
    harness.main()
