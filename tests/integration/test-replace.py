#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Atomic replacement is a change: a file renamed onto a name a rule matches (rsync's temporary file, an
editor's save, `mv tmp final`) is seen by a rule on `changed` as a change of that name, also when the
old name is excluded (Exclude=.* with rsync) or outside the watch (moved in). Real rsync and mv."""

import os
import shutil
import subprocess

import harness
from harness import DaemonTestCase, write, log

N_RSYNC = 300

CONFIG = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes
Exclude=.*

[Rule ch]
Watch=w
On=changed
DelaySec=1
Exec=@REC@ {pathname} {event}
'''


class Replace(DaemonTestCase):
    def start(self, config=CONFIG):
        d = self.daemon(config, start=False)
        w = self.fresh_dir(d, 'w')
        self.outside = self.fresh_dir(d, 'outside')
        d.start()
        return d, w

    def ran(self, d):
        return sorted(os.fsdecode(r.args[0]) for r in d.records())

    def test_rsync_with_excluded_temporary_names(self):
        if not shutil.which('rsync'):
            self.skipTest('rsync is not installed')
        d, w = self.start()
        src = self.fresh_dir(d, 'src')
        names = ['f%03d.dat' % i for i in range(N_RSYNC)]
        for n in names:
            write(os.path.join(src, n), n)
        # rsync writes each file as .NAME.XXXXXX (excluded here) and renames it to NAME.
        subprocess.run(['rsync', '-a', src + '/', w + '/'], check=True)
        d.settle()
        ran = self.ran(d)
        expected = sorted(os.path.join(w, n) for n in names)
        log('rsync of %d new files: %d tasks on changed (%d distinct paths)'
            % (N_RSYNC, len(ran), len(set(ran))))
        self.assertEqual(sorted(set(ran)), expected, 'a task on changed for each file rsync put in place')
        self.assertEqual(len(ran), N_RSYNC, 'exactly one task per file')

        # Again, over existing files: each replaced file is changed once more.
        for n in names[:50]:
            write(os.path.join(src, n), n + ' v2 with another length')
        subprocess.run(['rsync', '-a', src + '/', w + '/'], check=True)
        d.settle()
        again = len(self.ran(d)) - N_RSYNC
        log('rsync replacing 50 files: %d more tasks' % again)
        self.assertEqual(again, 50)

    def test_mv_within_the_watch(self):
        d, w = self.start()
        tmp, final = os.path.join(w, 'final.tmp'), os.path.join(w, 'final')
        write(final, 'old')
        write(tmp, 'new')
        d.settle()
        self.assertEqual(self.ran(d), [final, tmp])
        # Quickly: the temporary name's task waits and follows its file to the final name, where it
        # runs once with the rename's own change.
        write(tmp, 'newer')
        subprocess.run(['mv', tmp, final], check=True)
        # Later: the temporary name's task ran long ago; the rename alone changes the final name.
        write(tmp, 'newest')
        d.settle()
        subprocess.run(['mv', tmp, final], check=True)
        d.settle()
        ran = self.ran(d)
        log('mv tmp final twice (tmp in the watch): %d tasks for final, %d for tmp'
            % (ran.count(final), ran.count(tmp)))
        self.assertEqual(ran.count(tmp), 2, 'the temporary name: its first write and the one settled')
        self.assertEqual(ran.count(final), 3, 'the final name: written, then replaced twice')

    def test_mv_in_from_outside(self):
        d, w = self.start()
        final = os.path.join(w, 'final')
        for i in range(20):
            t = os.path.join(self.outside, 'new%02d' % i)
            write(t, 'new')
            subprocess.run(['mv', t, final + '%02d' % i], check=True)
        d.settle()
        ran = self.ran(d)
        log('mv from outside the watch onto 20 names: %d tasks' % len(ran))
        self.assertEqual(ran, sorted(final + '%02d' % i for i in range(20)))
        events = sorted(set(os.fsdecode(r.args[1]) for r in d.records()))
        log('{event} of those tasks: %s' % events)
        self.assertEqual(events, ['changed'], 'a rule on changed hears of it as a change')

    def test_directory_rename_is_no_change(self):
        d, w = self.start()
        os.mkdir(os.path.join(w, 'd'))
        d.settle()
        os.rename(os.path.join(w, 'd'), os.path.join(w, 'e'))
        d.settle()
        self.assertEqual(self.ran(d), [], 'a renamed directory is no change of a file')


if __name__ == '__main__':
    harness.main()
