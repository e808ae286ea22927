#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Mounts inside a watched tree while the daemon runs: a bind mount and a tmpfs are rescanned (what is
on them raises created/changed, what they cover raises deleted) and watched, so writes into them run
tasks; an unmount (IN_UNMOUNT) brings the covered directory back, watched.

Needs root (mount); runs in a private mount namespace of its own (unshare -m), the daemon with it, so no
mount outlives the test or is seen outside it."""

import os
import re
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


class MountCase(DaemonTestCase):
    def setUp(self):
        super().setUp()
        why = can_mount() if os.environ.get(NS_ENV) != '1' else None
        if why or os.environ.get(NS_ENV) != '1':
            self.skipTest(why or 'not in a private mount namespace')

    def mount(self, *args):
        target = args[-1]
        run('mount', *args)
        self.addCleanup(lambda: subprocess.run(['umount', '-l', target], capture_output=True))


class Mounts(MountCase):

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


FANOTIFY_TWO = '''
[Watch a]
Path=@TMP@/fa
Recursive=yes
Backend=fanotify

[Watch b]
Path=@TMP@/fb
Recursive=yes
Backend=fanotify

[Rule ra]
Watch=a
On=IN_CLOSE_WRITE
Exec=@REC@ a {pathname}

[Rule rb]
Watch=b
On=IN_CLOSE_WRITE
Exec=@REC@ b {pathname}
'''


class FanotifyMounts(MountCase):
    """fanotify finds a directory of an event by its inode, which is only unique on one file system."""

    def fan_events(self, d):
        return {(r.args[0].decode(), r.args[1].decode()) for r in d.records()}

    def test_same_inode_on_two_file_systems(self):
        # Two new tmpfs with the same history hand out the same inode numbers: a write in fa/d must run
        # a's task for fa/d/f only, never b's for the directory of fb that has d's inode number.
        d = self.daemon(FANOTIFY_TWO, start=False, marker=False)
        fa, fb = self.fresh_dir(d, 'fa'), self.fresh_dir(d, 'fb')
        self.mount('-t', 'tmpfs', 'inotaskd-test-a', fa)
        self.mount('-t', 'tmpfs', 'inotaskd-test-b', fb)
        os.mkdir(os.path.join(fa, 'd'))
        os.mkdir(os.path.join(fb, 'e'))
        ia, ib = os.stat(os.path.join(fa, 'd')).st_ino, os.stat(os.path.join(fb, 'e')).st_ino
        log('fa/d has inode %d, fb/e %d' % (ia, ib))
        d.start()
        write(os.path.join(fa, 'd', 'f'))
        # One fanotify group reads both file systems in order: once b heard its marker, a's write was read.
        write(os.path.join(fb, 'e', 'marker'))
        harness.wait_for(lambda: {('a', fa + '/d/f'), ('b', fb + '/e/marker')} <= self.fan_events(d),
                         what='both writes heard, is %r' % sorted(self.fan_events(d)))
        # Any task of the write was scheduled before the marker's: the log has every one.
        scheduled = re.findall(r'^Task \d+ \((r[ab])\) scheduled for (.*)\.$', d.log_text(), re.M)
        self.assertEqual(sorted(scheduled), [('ra', fa + '/d/f'), ('rb', fb + '/e/marker')],
                         'no task on a path that was not written (same inode: %s)' % (ia == ib))

    def test_mount_below_the_root(self):
        # A file system mounted inside the watched tree is marked too, before the start and after it.
        d = self.daemon(FANOTIFY_TWO, start=False, marker=False)
        fa, fb = self.fresh_dir(d, 'fa'), self.fresh_dir(d, 'fb')
        before, after = self.fresh_dir(d, 'fa', 'before'), self.fresh_dir(d, 'fa', 'after')
        self.mount('-t', 'tmpfs', 'inotaskd-test-before', before)
        os.mkdir(os.path.join(before, 'inner'))
        d.start()
        write(os.path.join(before, 'inner', 'one'))
        harness.wait_for(lambda: ('a', before + '/inner/one') in self.fan_events(d),
                         what='a write on a file system mounted below the root before the start')
        self.mount('-t', 'tmpfs', 'inotaskd-test-after', after)
        d.wait_for_log(r'a mount came or went at %s, rescanning' % re.escape(after))
        os.mkdir(os.path.join(after, 'x'))
        write(os.path.join(after, 'x', 'two'))
        harness.wait_for(lambda: ('a', after + '/x/two') in self.fan_events(d),
                         what='a write on a file system mounted below the root after the start')
        self.assertFalse(d.log_matches(r'are not heard'), d.log_text()[-2000:])
        # The daemon holds no descriptor on them: a plain umount (not a lazy one) works, as with inotify.
        for m in (after, before):
            p = subprocess.run(['umount', m], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, 'umount %s: %s' % (m, p.stderr.strip()))
        write(os.path.join(before, 'covered'))
        harness.wait_for(lambda: ('a', before + '/covered') in self.fan_events(d),
                         what='a write in the directory the unmounted file system covered')


if __name__ == '__main__':
    if os.environ.get(NS_ENV) != '1' and can_mount() is None:
        os.environ[NS_ENV] = '1'
        os.execvp('unshare', ['unshare', '-m', '--propagation', 'private', sys.executable] + sys.argv)
    harness.main()
