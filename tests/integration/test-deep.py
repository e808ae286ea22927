#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""No path is too long: a tree deeper than PATH_MAX (4,096 bytes), made directory by directory while the
daemon watches or extracted by tar, is watched to the bottom, and a task gets its full path."""

import os
import subprocess

import harness
from harness import DaemonTestCase, log

CONFIG = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule f]
Watch=w
On=IN_CLOSE_WRITE
Match=*.txt
Exec=@REC@ {pathname}
'''

NAME = 'd' * 200
DEPTH = 30          # 30 × 201 bytes: past 6,000


def make_deep(top, depth, files=()):
    """mkdir, level by level, relative to the parent (no path is ever longer than one name); writes
    files at the bottom. Returns the bottom's full path."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(NAME, dir_fd=fd)
            nfd = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        for f in files:
            wfd = os.open(f, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(wfd, b'x')
            os.close(wfd)
    finally:
        os.close(fd)
    return os.path.join(top, *([NAME] * depth))


def write_at(path, name):
    """Writes name in directory path, however long: the walk goes by fds."""
    parts = path.split('/')
    fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
    try:
        for p in parts:
            if not p:
                continue
            nfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        wfd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(wfd, b'x')
        os.close(wfd)
    finally:
        os.close(fd)
    return os.path.join(path, name)


class Deep(DaemonTestCase):
    def check_task(self, d, path):
        d.settle()
        got = [r.args[0] for r in d.records()]
        self.assertIn(os.fsencode(path), got, 'a task with the full path (%d bytes)' % len(path))
        log('a task got its path of %d bytes' % len(path))

    def test_made_while_watched(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        bottom = make_deep(w, DEPTH)
        self.assertGreater(len(bottom), 4096)
        d.sync()
        self.check_task(d, write_at(bottom, 'late.txt'))

    def test_there_at_start_and_written_at_once(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        bottom = make_deep(w, DEPTH)
        d.start()
        self.check_task(d, write_at(bottom, 'late.txt'))

    def test_tar(self):
        """tar -x of members of up to 3,900 bytes (tar itself goes by paths below its -C directory) into a
        directory two levels down: the full paths pass PATH_MAX."""
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        src = self.fresh_dir(d, 'src')
        make_deep(src, 19, files=['in-tar.txt'])
        archive = d.path('deep.tar')
        subprocess.run(['tar', '-C', src, '-cf', archive, NAME], check=True)
        dest = os.path.join(w, NAME, NAME)
        os.makedirs(dest)
        d.start()
        subprocess.run(['tar', '-C', dest, '-xf', archive], check=True)
        path = os.path.join(dest, *([NAME] * 19), 'in-tar.txt')
        self.assertGreater(len(path), 4096)
        self.check_task(d, path)

    def test_vanished(self):
        """A task for a file past PATH_MAX that is gone when it is due ends as vanished (lstat of the
        whole path would fail with ENAMETOOLONG and the task run on nothing)."""
        d = self.daemon(DELAYED, start=False)
        w = self.fresh_dir(d, 'w')
        bottom = make_deep(w, DEPTH)
        d.start()
        path = write_at(bottom, 'gone.txt')
        d.sync()
        harness.wait_for(lambda: d.task_ids('scheduled for ', 'f'), what='the task to be scheduled')
        unlink_at(bottom, 'gone.txt')
        d.settle()
        self.assertEqual(len(d.task_ids('vanished', 'f')), 1, 'the task ended as vanished')
        self.assertEqual([r for r in d.records() if r.args[0] == os.fsencode(path)], [])


def unlink_at(path, name):
    fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
    try:
        for p in path.split('/'):
            if p:
                nfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = nfd
        os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


DELAYED = CONFIG + 'DelaySec=1\n'


if __name__ == '__main__':
    harness.main()
