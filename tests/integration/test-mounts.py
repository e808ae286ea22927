#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Mounts inside a watched tree while the daemon runs: a bind mount and a tmpfs are rescanned (what is
on them raises created/changed, what they cover raises deleted) and watched, so writes into them run
tasks; an unmount (IN_UNMOUNT) brings the covered directory back, watched.

Needs root (mount); runs in a private mount namespace of its own (unshare -m), the daemon with it, so no
mount outlives the test or is seen outside it."""

import os
import shutil
import subprocess
import sys

import harness
from harness import DaemonTestCase, log, write

NS_ENV = 'INOTASKD_TEST_MOUNT_NS'

CONFIG = '''
[Watch tree]
Path=@TMP@/tree
Recursive=yes
AutoAdd=yes

[Rule changed]
Watch=tree
On=IN_CLOSE_WRITE
Exec=@REC@ changed {pathname}

[Rule deleted]
Watch=tree
On=IN_DELETE
Exec=@REC@ deleted {pathname}
'''


def can_mount():
    if os.geteuid() != 0:
        return 'mounting needs root'
    if not shutil.which('unshare') or not shutil.which('mount'):
        return 'no unshare or mount here'
    p = subprocess.run(['unshare', '-m', '--propagation', 'private', 'true'], capture_output=True)
    if p.returncode != 0:
        return 'cannot make a private mount namespace: %s' % p.stderr.decode(errors='replace').strip()
    return None


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


class Mounts(DaemonTestCase):
    def setUp(self):
        super().setUp()
        why = can_mount() if os.environ.get(NS_ENV) != '1' else None
        if why or os.environ.get(NS_ENV) != '1':
            self.skipTest(why or 'not in a private mount namespace')

    def mount(self, *args):
        target = args[-1]
        run('mount', *args)
        self.addCleanup(lambda: subprocess.run(['umount', '-l', target], capture_output=True))

    def events(self, d):
        """(kind, path) of every task that ran."""
        return [(r.args[0].decode(), r.args[1].decode()) for r in d.records()]

    def wait_events(self, d, want, what):
        """Waits until every (kind, path) of want has run, and returns all events so far."""
        return harness.wait_for(lambda: set(want) <= set(self.events(d)) and self.events(d),
                                what=what + ': ' + repr(sorted(set(want) - set(self.events(d)))))

    def status_dirs(self, d, n):
        return harness.wait_for(lambda: (d.latest_status() or '').startswith('Watching %d directories' % n),
                                what='status "Watching %d directories", is %r' % (n, d.latest_status()))

    def test_bind_mount_then_unmount(self):
        d = self.daemon(CONFIG, start=False)
        m = self.fresh_dir(d, 'tree', 'm')
        src = self.fresh_dir(d, 'src')
        self.fresh_dir(d, 'src', 'sub')
        write(os.path.join(m, 'covered'))
        write(os.path.join(src, 'on-bind'))
        write(os.path.join(src, 'sub', 'deep'))
        d.start()

        self.mount('--bind', src, m)
        self.wait_events(d, [('changed', m + '/on-bind'), ('changed', m + '/sub/deep'),
                             ('deleted', m + '/covered')], 'the bind mount rescanned')
        write(os.path.join(m, 'sub', 'new'))
        self.wait_events(d, [('changed', m + '/sub/new')], 'a write into the bind mount')
        d.sync()
        # tree, m (now the bind mount's) and m/sub, and the marker.
        self.status_dirs(d, 4)

        run('umount', m)
        self.wait_events(d, [('changed', m + '/covered'), ('deleted', m + '/on-bind'),
                             ('deleted', m + '/sub/deep'), ('deleted', m + '/sub/new')],
                         'the unmounted bind rescanned')
        write(os.path.join(m, 'after'))
        self.wait_events(d, [('changed', m + '/after')], 'a write into the directory below')
        d.settle()
        ev = self.events(d)
        log('%d tasks: %r' % (len(ev), ev))
        # Each once: nothing raised twice by the kernel's events and the rescan both.
        self.assertEqual(len(ev), len(set(ev)), ev)
        self.assertNotIn(('changed', m + '/on-bind'), ev[ev.index(('deleted', m + '/on-bind')):])
        # Writes into the bind's source itself, outside the watch, raise nothing after the unmount.
        write(os.path.join(src, 'outside'))
        d.settle()
        self.assertEqual(len(self.events(d)), len(ev))
        self.status_dirs(d, 3)

    def test_tmpfs_while_running(self):
        d = self.daemon(CONFIG, start=False)
        t = self.fresh_dir(d, 'tree', 't')
        write(os.path.join(t, 'covered'))
        d.start()

        self.mount('-t', 'tmpfs', 'inotaskd-test', t)
        self.wait_events(d, [('deleted', t + '/covered')], 'the tmpfs rescanned')
        os.mkdir(os.path.join(t, 'sub'))
        write(os.path.join(t, 'sub', 'f'))
        write(os.path.join(t, 'top'))
        self.wait_events(d, [('changed', t + '/sub/f'), ('changed', t + '/top')], 'writes into the tmpfs')
        d.settle()
        self.status_dirs(d, 4)

    def test_unmount_of_a_mount_there_at_start(self):
        d = self.daemon(CONFIG, start=False)
        u = self.fresh_dir(d, 'tree', 'u')
        write(os.path.join(u, 'covered'))
        self.mount('-t', 'tmpfs', 'inotaskd-test', u)
        os.mkdir(os.path.join(u, 'inner'))
        write(os.path.join(u, 'inner', 'old'))
        d.start()

        write(os.path.join(u, 'inner', 'a'))
        self.wait_events(d, [('changed', u + '/inner/a')], 'a write into the mount')
        run('umount', u)
        self.wait_events(d, [('deleted', u + '/inner/old'), ('deleted', u + '/inner/a'),
                             ('changed', u + '/covered')], 'the unmount rescanned')
        write(os.path.join(u, 'b'))
        self.wait_events(d, [('changed', u + '/b')], 'a write into the directory below')
        d.settle()
        self.status_dirs(d, 3)
        self.assertTrue(d.alive())

    def test_mount_over_the_watched_root(self):
        d = self.daemon(CONFIG, start=False)
        root = self.fresh_dir(d, 'tree')
        write(os.path.join(root, 'covered'))
        d.start()

        self.mount('-t', 'tmpfs', 'inotaskd-test', root)
        self.wait_events(d, [('deleted', root + '/covered')], 'the root rescanned')
        write(os.path.join(root, 'on-tmpfs'))
        self.wait_events(d, [('changed', root + '/on-tmpfs')], 'a write into the mounted root')


if __name__ == '__main__':
    if os.environ.get(NS_ENV) != '1' and can_mount() is None:
        os.environ[NS_ENV] = '1'
        os.execvp('unshare', ['unshare', '-m', '--propagation', 'private', sys.executable] + sys.argv)
    harness.main()
