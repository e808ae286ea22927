#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Stopping running tasks of every runner through the one runner face: CancelTask on a running copy of a
large file and on a running plugin ends the task as "cancelled" (a copy leaves no temporary file), and
IfRunning=restart restarts a copy and a plugin. (Exec tasks: test_bus.py and test-if-running.py; unit
jobs: tests/system/run, which needs a real systemd.)"""

import glob
import os
import re
import shutil

import harness
from harness import log, wait_for
from bus_harness import BusTestCase

MANAGER = ('org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager')

# A copy that takes long enough to be cancelled while it runs: a sparse file is cheap to make, but its
# copy writes every byte (tens of seconds for this one on an ordinary disk; the test needs a fraction).
BIG = 4 << 30

COPY_CONFIG = r'''
[Watch w]
Path=@TMP@/w

[Rule copy]
Watch=w
On=IN_CLOSE_WRITE
Match=big*
IfRunning=%s
Action=copy
Source=^@TMP@/w/(?P<name>[^/]+)$
Destination=@TMP@/dst/\g<name>
Overwrite=yes
'''

PLUGIN_CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule note]
Watch=w
On=IN_CLOSE_WRITE
Match=slow*
IfRunning=%s
Action=plugin
Plugin=%s
Output=@TMP@/notes
HoldSec=600
'''


def make_sparse(path, size):
    with open(path, 'wb') as f:
        f.truncate(size)


class RunnerStop(BusTestCase):
    def setUp(self):
        super().setUp()
        if not shutil.which('busctl'):
            self.skipTest('busctl is not installed')

    def task_prop(self, tid, prop):
        return self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1/task/%d' % tid,
                           'org.inotaskd1.Task', prop).stdout.strip()

    def started(self, d, rule, count=1):
        """The ids of the first count tasks of rule that started, in order."""
        ms = d.wait_for_log(r'^Task (\d+) \(%s\) started: ' % rule, count=count)
        return [int(m.group(1)) for m in ms]

    def wait_cancelled(self, d, rule, tid):
        d.wait_for_log(r'^Task %d \(%s\) cancelled: stopped while running\.$' % (tid, rule))
        self.assertEqual(self.task_prop(tid, 'State'), 's "cancelled"')
        self.assertEqual(self.task_prop(tid, 'Result'), 's "cancelled"')

    # ---------------------------------------------------------------- copy

    def copy_daemon(self, mode):
        d = self.daemon(COPY_CONFIG % mode, start=False)
        self.w = self.fresh_dir(d, 'w')
        self.dst = self.fresh_dir(d, 'dst')
        d.start()
        return d

    def assert_no_copy_left(self):
        wait_for(lambda: not glob.glob(os.path.join(self.dst, '.#*')), what='temporary file removed')
        self.assertEqual(os.listdir(self.dst), [], 'neither the copy nor its temporary file is there')

    def test_cancel_running_copy(self):
        d = self.copy_daemon('queue')
        make_sparse(os.path.join(self.w, 'big'), BIG)
        tid, = self.started(d, 'copy')
        self.assertEqual(self.task_prop(tid, 'State'), 's "running"')
        # The copy is under way: its temporary file is there and growing.
        wait_for(lambda: glob.glob(os.path.join(self.dst, '.#big.*')), what='temporary file')
        self.busctl('call', *MANAGER, 'CancelTask', 't', str(tid))
        self.wait_cancelled(d, 'copy', tid)
        self.assert_no_copy_left()
        log('a running copy of %d GiB stopped on CancelTask, as cancelled, nothing left' % (BIG >> 30))

    def test_restart_running_copy(self):
        d = self.copy_daemon('restart')
        big = os.path.join(self.w, 'big')
        make_sparse(big, BIG)
        first, = self.started(d, 'copy')
        with open(big, 'ab'):                       # IN_CLOSE_WRITE again: the copy starts over
            pass
        self.wait_cancelled(d, 'copy', first)
        second = self.started(d, 'copy', count=2)[1]
        self.assertNotEqual(second, first)
        self.assertEqual(self.task_prop(second, 'State'), 's "running"')
        self.busctl('call', *MANAGER, 'CancelTask', 't', str(second))
        self.wait_cancelled(d, 'copy', second)
        self.assert_no_copy_left()
        log('IfRunning=restart: the running copy %d was cancelled and copy %d started' % (first, second))

    # ---------------------------------------------------------------- plugin

    def plugin_daemon(self, mode):
        plugin = os.environ.get('INOTASKD_EXAMPLE_PLUGIN')
        if not plugin:
            self.skipTest('INOTASKD_EXAMPLE_PLUGIN is not set')
        d = self.daemon(PLUGIN_CONFIG % (mode, plugin), start=False)
        self.w = self.fresh_dir(d, 'w')
        d.start()
        return d

    def test_cancel_running_plugin(self):
        d = self.plugin_daemon('queue')
        harness.write(os.path.join(self.w, 'slow'))
        tid, = self.started(d, 'note')
        self.assertEqual(self.task_prop(tid, 'State'), 's "running"')
        self.busctl('call', *MANAGER, 'CancelTask', 't', str(tid))
        self.wait_cancelled(d, 'note', tid)
        self.assertFalse(os.path.exists(d.path('notes')), 'the plugin did not get to write')
        log('a running plugin (HoldSec=600) stopped on CancelTask through its cancel()')

    def test_restart_running_plugin(self):
        d = self.plugin_daemon('restart')
        slow = os.path.join(self.w, 'slow')
        harness.write(slow)
        first, = self.started(d, 'note')
        harness.write(slow, b'again')
        self.wait_cancelled(d, 'note', first)
        second = self.started(d, 'note', count=2)[1]
        self.assertEqual(self.task_prop(second, 'State'), 's "running"')
        self.busctl('call', *MANAGER, 'CancelTask', 't', str(second))
        self.wait_cancelled(d, 'note', second)
        log('IfRunning=restart: the running plugin task %d was cancelled and %d started' % (first, second))


if __name__ == '__main__':
    harness.main()
