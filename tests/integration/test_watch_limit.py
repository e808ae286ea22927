#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A full inotify watch table (ENOSPC) is not fatal: the daemon says how many directories are not
watched, which one first and which sysctl to raise, shows it in STATUS=, and keeps serving the rest.
Once the limit is raised, a reload (or the periodic retry) watches the directories left out and raises
what was created or written in them meanwhile, each once.

The limit is lowered only for the daemon: it runs in a user namespace of its own, whose
/proc/sys/user/max_inotify_watches does not touch the rest of the machine."""

import os
import re
import shutil
import subprocess
import time
import unittest

import signal

import harness
from harness import log

LIMIT = 30
DIRS = 60

CONFIG = '''
[Watch tree]
Path=@TMP@/tree
Recursive=yes

[Rule r]
Watch=tree
On=IN_CLOSE_WRITE
Exec=@REC@ {pathname}
'''


class LimitedDaemon(harness.Daemon):
    def command(self):
        return ['unshare', '--user', '--map-root-user', 'sh', '-c',
                'echo %d > /proc/sys/user/max_inotify_watches && exec "$0" "$@"' % LIMIT] + super().command()


def userns_works():
    if not shutil.which('unshare'):
        return False
    p = subprocess.run(['unshare', '--user', '--map-root-user', 'sh', '-c',
                        'echo 5 > /proc/sys/user/max_inotify_watches'], capture_output=True)
    return p.returncode == 0


RAISED = 1000


class MarkerFirstDaemon(LimitedDaemon):
    """The marker watch (for settle()) comes first, so the full table leaves out the tree, not it."""
    def config_text(self, text):
        self.marker = False
        tail = super().config_text(text)
        self.marker = True
        return super().config_text('') + '\n' + tail


PARTLY = LIMIT + 10
CHAIN = 11


def raise_limit(d, limit=RAISED):
    """Raises the limit of the daemon's own user namespace (entered with nsenter)."""
    subprocess.run(['nsenter', '-t', str(d.pid), '-U', 'sh', '-c',
                    'echo %d > /proc/sys/user/max_inotify_watches' % limit], check=True)


def wait_clock_past(path, ctime_ns, margin_ns=100 * 1000 * 1000):
    """Waits until a file written now gets a ctime margin_ns after ctime_ns (file times are coarse)."""
    def past():
        harness.write(path)
        return os.stat(path).st_ctime_ns > ctime_ns + margin_ns
    harness.wait_for(past, what='the file system clock to move on', interval=0.02)
    os.unlink(path)


class WatchLimit(harness.DaemonTestCase):
    def recover(self, reload):
        """Fills the table, makes changes the daemon cannot see, raises the limit, then reloads (or waits
        for the retry): every change gets its task once, and the counts are right."""
        if not userns_works() or not shutil.which('nsenter'):
            self.skipTest('no user namespaces with their own inotify limit here, or no nsenter')
        d = MarkerFirstDaemon(CONFIG)
        self.daemons.append(d)
        tree = d.path('tree')
        for i in range(DIRS):
            os.makedirs(os.path.join(tree, 'd%02d' % i))
            harness.write(os.path.join(tree, 'd%02d' % i, 'pre'))
        # A deep subtree: left out, it is watched whole or not at all; smaller ones fill the rest.
        chain = os.path.join(tree, *['c%02d' % i for i in range(CHAIN)])
        os.makedirs(chain)
        # A directory moved in while the table is full: its scan raises its file at once, the retry
        # must not raise it again.
        os.makedirs(d.path('stage', 'moved'))
        harness.write(d.path('stage', 'moved', 'inside'))
        # The same into a directory that may or may not be watched.
        os.makedirs(d.path('stage', 'sub'))
        harness.write(d.path('stage', 'sub', 'deep'))
        # The pre-existing files are older than the start's listing by more than a clock tick.
        wait_clock_past(d.path('probe'), os.stat(d.path('stage', 'moved', 'inside')).st_ctime_ns)
        d.start()

        m = d.wait_for_log(r'^Watch limit reached: (\d+) directories are not watched')[0]
        unwatched = int(m.group(1))
        self.assertGreater(unwatched, 0)
        os.rename(d.path('stage', 'moved'), os.path.join(tree, 'moved'))
        news = [os.path.join(tree, 'd%02d' % i, 'new') for i in range(DIRS)]
        for p in news:
            harness.write(p)
        os.rename(d.path('stage', 'sub'), os.path.join(tree, 'd00', 'sub'))
        # Once the moves (and the scans they start) are handled: a scan that lists "later" while it is
        # being written raises it, and the retry then rightly raises its later write again.
        d.sync()
        harness.write(os.path.join(tree, 'moved', 'later'))
        d.settle()
        seen = len(d.records())
        log('table full: %d of %d directories not watched; %d of %d new files ran a task' %
            (unwatched, DIRS + CHAIN + 2, seen, DIRS + 3))
        self.assertIn('not watched (watch limit)', d.latest_status())

        if reload:
            # Room for 10 more: exactly that many are watched, the rest waits.
            raise_limit(d, PARTLY)
            d.signal(signal.SIGHUP)
            d.wait_notify(r'^STATUS=Watching %d directories in 2 watches; .*not watched \(watch limit\)'
                          % PARTLY)
        raise_limit(d)
        if reload:
            d.signal(signal.SIGHUP)
        want = news + [os.path.join(tree, 'd00', 'sub', 'deep'), os.path.join(tree, 'moved', 'inside'),
                       os.path.join(tree, 'moved', 'later')]
        try:
            # The retry's first try comes 10 s after the table filled.
            harness.wait_for(lambda: set(want) <= set(r.args[0].decode() for r in d.records()),
                             timeout=harness.DEFAULT_TIMEOUT + 40,
                             what='a task for every file created while unwatched')
        except harness.Timeout as e:
            missing = set(want) - set(r.args[0].decode() for r in d.records())
            raise harness.Timeout('%s: %d of %d files without a task, status %r' %
                                  (e, len(missing), len(want), d.latest_status()))
        # Now watched: a write anywhere runs its task.
        late = [os.path.join(tree, 'd%02d' % i, 'late') for i in range(DIRS)] + [os.path.join(chain, 'late')]
        for p in late:
            harness.write(p)
        d.settle()
        got = [r.args[0].decode() for r in d.records()]
        log('after the limit was raised (%s): %d tasks, %d distinct' %
            ('reload' if reload else 'retry', len(got), len(set(got))))
        for p in want + late:
            self.assertEqual(got.count(p), 1, p)
        # Files there before the start were not written since: no task.
        self.assertFalse([p for p in got if p.endswith('/pre')])
        # tree, its 60 directories, the chain, moved, d00/sub and the marker.
        self.assertTrue(d.latest_status().startswith('Watching %d directories' % (DIRS + CHAIN + 4)),
                        d.latest_status())
        self.assertNotIn('not watched', d.latest_status())
        self.assertEqual(len(d.log_matches(r'^Trying again to watch the directories left out')), 1)
        if not reload:
            self.assertTrue(d.log_matches(r'^Watch limit: watching \d+ more directories, every directory is '
                                          r'watched now\.$'))
        self.assertEqual(d.stop(), 0)

    def test_reload_after_raising_the_limit(self):
        self.recover(reload=True)

    def test_retry_after_raising_the_limit(self):
        self.recover(reload=False)

    def test_enospc_is_reported_and_the_rest_served(self):
        if not userns_works():
            self.skipTest('no user namespaces with their own inotify limit here')
        d = LimitedDaemon(CONFIG, marker=False)
        self.daemons.append(d)
        for i in range(DIRS):
            os.makedirs(d.path('tree', 'd%02d' % i))
        d.start()

        m = d.wait_for_log(r'^Watch limit reached: (\d+) directories are not watched \(first: (.*)\)\. '
                           r'Raise fs\.inotify\.max_user_watches')[0]
        unwatched = int(m.group(1))
        log('%d of %d directories not watched, first %s' % (unwatched, DIRS + 1, m.group(2)))
        self.assertGreater(unwatched, 0)
        self.assertLessEqual(unwatched, DIRS + 1 - (LIMIT - 1))
        self.assertIn('not watched (watch limit)', d.latest_status())

        # The root is watched (it came first): its events still run tasks, and the daemon lives.
        harness.write(d.path('tree', 'top-file'), b'x')
        recs = d.wait_records(1)
        self.assertEqual(recs[0].args, [d.path('tree', 'top-file').encode()])
        self.assertTrue(d.alive())
        self.assertEqual(d.stop(), 0)


if __name__ == '__main__':
    unittest.main(verbosity=2)
