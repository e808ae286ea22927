#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Watches that wait and come back, as systemd's .path units: a Path= that does not exist yet is attached
when it appears (with created/changed for what is in it); --check-config warns about it; a root deleted or
renamed away waits and is watched again when its name comes back, and nothing is reported under the
renamed-away directory; a Path= that is a link watches its target and follows the link when it is
replaced."""

import json
import os
import re
import shutil
import signal
import subprocess

import harness
from harness import DaemonTestCase, SANITIZER_REPORT, log, run_inotaskd, wait_for, write
from bus_harness import BusTestCase

WAIT = '''
[Watch w]
Path=@TMP@/a/b/w
Recursive=yes
AutoAdd=yes

[Rule f]
Watch=w
On=changed
Match=*.txt
Exec=@REC@ {pathname}
'''

ROOT = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule f]
Watch=w
On=changed
Match=*.txt
Exec=@REC@ {pathname}
'''

LINK = '''
[Watch app]
Path=@TMP@/current
Recursive=yes
AutoAdd=yes

[Rule f]
Watch=app
On=changed
Match=*.txt
Exec=@REC@ {pathname}
'''


class Waiting(DaemonTestCase):
    def paths(self, d):
        return sorted(os.fsdecode(r.args[0]) for r in d.records())

    def test_missing_path_is_attached_when_it_appears(self):
        d = self.daemon(WAIT)
        w = d.path('a', 'b', 'w')
        # mkdir -p, then files at once, in the new directory and below it.
        os.makedirs(os.path.join(w, 'sub'))
        first = []
        for i in range(10):
            for p in (os.path.join(w, 'f%02d.txt' % i), os.path.join(w, 'sub', 'g%02d.txt' % i)):
                write(p)
                first.append(p)
        d.settle()
        got = self.paths(d)
        log('%d of %d files written at once into the new directory got a task' % (len(got), len(first)))
        # Later, in a directory made later still.
        later = os.path.join(w, 'later', 'deep')
        os.makedirs(later)
        for i in range(5):
            write(os.path.join(later, 'h%d.txt' % i))
        d.settle()
        got = self.paths(d)
        log('%d of 5 files written later got a task' % len([p for p in got if p.startswith(later)]))
        self.assertEqual(got, sorted(first + [os.path.join(later, 'h%d.txt' % i) for i in range(5)]))
        self.assertEqual(len(d.log_matches(r'^Watch w: waiting for %s to appear \(watching %s\)\.$'
                                           % (re.escape(w), re.escape(d.tmp)))), 1,
                         'the start says once that it waits, and for what')
        self.assertEqual(len(d.log_matches(r'^Watch w: %s appeared, watching it\.$' % re.escape(w))), 1)
        self.assertEqual(len(d.log_matches(r'^Ready: .*; 1 waiting for their path\.$')), 1,
                         'ready, and saying so')
        d.wait_notify(r'^READY=1$')

    def test_ancestor_vanishes_while_waiting(self):
        d = self.daemon(WAIT)
        w = d.path('a', 'b', 'w')
        os.makedirs(d.path('a', 'b'))
        d.sync()
        shutil.rmtree(d.path('a'))
        d.sync()
        os.makedirs(w)
        write(os.path.join(w, 'f.txt'))
        d.settle()
        got = self.paths(d)
        log('after a/b was made and removed, then a/b/w: tasks %r' % got)
        self.assertEqual(got, [os.path.join(w, 'f.txt')])

    def test_waiting_across_a_reload(self):
        d = self.daemon(WAIT)
        w = d.path('a', 'b', 'w')
        d.signal(signal.SIGHUP)
        d.wait_for_log(r'^Configuration reloaded')
        os.makedirs(w)
        write(os.path.join(w, 'f.txt'))
        d.settle()
        got = self.paths(d)
        log('after a reload: tasks %r' % got)
        self.assertEqual(got, [os.path.join(w, 'f.txt')])
        self.assertEqual(len(d.log_matches(r'^Watch w: waiting for ')), 2, 'once at start, once at the reload')

    def test_missing_file_path_becomes_a_single_file_watch(self):
        d = self.daemon(WAIT.replace('Path=@TMP@/a/b/w', 'Path=@TMP@/a/b/w.txt'))
        os.makedirs(d.path('a', 'b'))
        write(d.path('a', 'b', 'other.txt'))
        write(d.path('a', 'b', 'w.txt'))
        d.settle()
        got = self.paths(d)
        log('tasks: %r' % got)
        self.assertEqual(got, [d.path('a', 'b', 'w.txt')], 'a file appeared: it is watched, and only it')
        self.assertEqual(len(d.log_matches(r'^Watch w: %s appeared' % re.escape(d.path('a', 'b', 'w.txt')))), 1)

    def test_check_config_warns(self):
        p = run_inotaskd(['--check-config'], config=ROOT.replace('@REC@', '/bin/true').replace(
            'Path=@TMP@/w', 'Path=@TMP@/not/there'))
        err = p.stderr.decode()
        log(err)
        self.assertEqual(p.returncode, 0, 'a missing path is a warning, not an error')
        self.assertRegex(err, r'(?m)^warning: %s:3: Path: %s does not exist yet; it is watched once it '
                         r'appears \(nearest existing directory: %s\)\.$'
                         % (re.escape(os.path.join(p.tmp, 'inotaskd.conf')),
                            re.escape(os.path.join(p.tmp, 'not', 'there')), re.escape(p.tmp)))
        self.assertIn('Configuration is valid', err)

    def test_root_deleted_and_recreated(self):
        d = self.daemon(ROOT, start=False)
        w = self.fresh_dir(d, 'w')
        os.mkdir(os.path.join(w, 'sub'))
        d.start()
        write(os.path.join(w, 'sub', 'before.txt'))
        d.settle()
        for round in range(3):
            shutil.rmtree(w)
            d.sync()
            os.makedirs(os.path.join(w, 'sub'))
            write(os.path.join(w, 'sub', 'new%d.txt' % round))
            d.settle()
        got = self.paths(d)
        log('%d of 3 files in the recreated directory got a task; tasks: %r'
            % (len([p for p in got if 'new' in p]), got))
        self.assertEqual(got, sorted([os.path.join(w, 'sub', 'before.txt')] +
                                     [os.path.join(w, 'sub', 'new%d.txt' % r) for r in range(3)]))
        self.assertGreaterEqual(len(d.log_matches(r'^Watch w: %s is gone, waiting for it to appear again'
                                                  % re.escape(w))), 1)

    def test_root_renamed_away(self):
        d = self.daemon(ROOT, start=False)
        w = self.fresh_dir(d, 'w')
        old = d.path('w.old')
        os.mkdir(os.path.join(w, 'sub'))
        d.start()
        os.rename(w, old)
        # Written at once after the rename, in the renamed-away tree: no path under Path= is theirs.
        for i in range(20):
            write(os.path.join(old, 'x%02d.txt' % i))
            write(os.path.join(old, 'sub', 'y%02d.txt' % i))
        d.sync()
        for i in range(5):
            write(os.path.join(old, 'late%d.txt' % i))
        os.mkdir(w)
        write(os.path.join(w, 'back.txt'))
        d.settle()
        got = self.paths(d)
        # Counted where they are scheduled: a task whose path does not exist ends as vanished, unrun.
        scheduled = [m.group(1) for m in d.log_matches(r'^Task \d+ \(f\) scheduled for (.*)\.$')]
        wrong = [p for p in scheduled if p != os.path.join(w, 'back.txt')]
        log('%d of 45 files written in the renamed-away directory got a task (paths under Path=, which do '
            'not exist); the new directory: %d of 1; tasks: %r' % (len(wrong), len(got), got))
        self.assertEqual(wrong, [], 'nothing reported under a root that was renamed away')
        self.assertEqual(got, [os.path.join(w, 'back.txt')], 'the new directory of that name is watched')

    def test_symlink_path_follows_the_link(self):
        d = self.daemon(LINK, start=False)
        r1, r2 = self.fresh_dir(d, 'releases', '1'), self.fresh_dir(d, 'releases', '2')
        os.mkdir(os.path.join(r1, 'sub'))
        write(os.path.join(r2, 'shipped.txt'))
        cur = d.path('current')
        os.symlink('releases/1', cur)
        d.start()
        write(os.path.join(r1, 'a.txt'))
        write(os.path.join(r1, 'sub', 'b.txt'))
        d.settle()
        got = self.paths(d)
        log('before the switch: %d of 2 writes in the target seen: %r' % (len(got), got))
        self.assertEqual(got, [os.path.join(cur, 'a.txt'), os.path.join(cur, 'sub', 'b.txt')],
                         'writes in the target, named under the link')

        # ln -sfn releases/2 current: a new link renamed over the old one.
        tmp = d.path('.current.tmp')
        os.symlink('releases/2', tmp)
        os.rename(tmp, cur)
        d.wait_for_log(r'^Watch app: %s now leads to %s, watching that\.$' % (re.escape(cur), re.escape(r2)))
        write(os.path.join(r2, 'c.txt'))
        write(os.path.join(r1, 'old.txt'))
        write(os.path.join(r1, 'sub', 'old.txt'))
        d.settle()
        got = self.paths(d)
        log('after the switch: %r (%d of 2 in the new target, %d of 2 in the old one)'
            % (got, len([p for p in got if p.endswith(('shipped.txt', 'c.txt'))]),
               len([p for p in got if p.endswith('old.txt')])))
        self.assertEqual(got, sorted([os.path.join(cur, 'a.txt'), os.path.join(cur, 'sub', 'b.txt'),
                                      os.path.join(cur, 'shipped.txt'), os.path.join(cur, 'c.txt')]),
                         'the new target is scanned and watched, the old one no longer')

    def test_link_to_a_file_watches_that_file(self):
        d = self.daemon(LINK.replace('Path=@TMP@/current', 'Path=@TMP@/app.txt'), start=False)
        conf = self.fresh_dir(d, 'conf')
        write(os.path.join(conf, 'app-1.txt'))
        os.symlink('conf/app-1.txt', d.path('app.txt'))
        d.start()
        write(os.path.join(conf, 'app-1.txt'), 'changed')
        write(os.path.join(conf, 'other.txt'))
        d.settle()
        got = self.paths(d)
        log('a link to a file: tasks %r' % got)
        self.assertEqual(got, [os.path.join(conf, 'app-1.txt')], 'the file it leads to, by its own path')

    def test_dangling_link_waits_for_its_target(self):
        d = self.daemon(LINK, start=False)
        cur = d.path('current')
        os.symlink('releases/3', cur)
        d.start()
        os.makedirs(d.path('releases', '3'))
        write(d.path('releases', '3', 'x.txt'))
        d.settle()
        got = self.paths(d)
        log('a link whose target appears later: tasks %r' % got)
        self.assertEqual(got, [os.path.join(cur, 'x.txt')])


class WaitingOnTheBus(BusTestCase):
    def ctl_json(self, *args):
        e = self.bus.env()
        e['LC_ALL'] = 'C'
        p = subprocess.run([os.environ['INOTASKCTL_BINARY'], '--user', '--json'] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, encoding='utf-8', env=e,
                           timeout=harness.DEFAULT_TIMEOUT)
        self.assertIsNone(SANITIZER_REPORT.search(p.stderr), p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def states(self):
        return {w['name']: (w.get('state'), w['directories']) for w in self.ctl_json('list-watches')}

    def test_list_watches_shows_waiting(self):
        d = self.daemon(ROOT, marker=False, start=False)
        w = d.path('w')
        d.start()
        states = self.states()
        log('missing Path=: %r' % states)
        self.assertEqual(states, {'w': ('waiting', 0)})
        os.makedirs(os.path.join(w, 'sub'))
        states = wait_for(lambda: (lambda s: s['w'][0] == 'active' and s['w'][1] == 2 and s)(self.states()),
                          what='the watch to become active with its two directories')
        log('after mkdir -p: %r' % states)
        shutil.rmtree(w)
        states = wait_for(lambda: (lambda s: s['w'] == ('waiting', 0) and s)(self.states()),
                          what='the watch to wait again')
        log('after rm -r: %r' % states)


if __name__ == '__main__':
    harness.main()
