#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A full inotify watch table (ENOSPC) is not fatal: the daemon says how many directories are not
watched, which one first and which sysctl to raise, shows it in STATUS=, and keeps serving the rest.

The limit is lowered only for the daemon: it runs in a user namespace of its own, whose
/proc/sys/user/max_inotify_watches does not touch the rest of the machine."""

import os
import shutil
import subprocess
import unittest

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


class WatchLimit(harness.DaemonTestCase):
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
