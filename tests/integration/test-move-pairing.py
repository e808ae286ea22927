#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Moves paired by cookie whatever other processes' events sit between the two halves, and the
mkdir a/b; mv a A race: every new directory watched although its parent was renamed meanwhile."""

import os
import re
import subprocess
import sys

import harness
from harness import DaemonTestCase, write, log

MOVES = '''
[Watch tree]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule moved]
Watch=tree
On=moved
Match=g*
Exec=/bin/true

[Rule created]
Watch=tree
On=created
Match=g*
Exec=/bin/true
'''

RACE = '''
[Watch tree]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule f]
Watch=tree
On=IN_CLOSE_WRITE
Exec=@REC@ {pathname}
'''

# Another process creating files as fast as it can, until its stop file exists.
WRITER = r'''
import os, sys
d, stop = sys.argv[1], sys.argv[2]
i = 0
while not os.path.exists(stop):
    p = os.path.join(d, 'n%d-%d' % (os.getpid(), i))
    with open(p, 'w') as f:
        f.write('x')
    os.unlink(p)
    i += 1
'''

N_FILES = 3000
N_DIRS = 200


def scheduled(d, rule):
    r = re.compile(r'^Task \d+ \(%s\) scheduled for (.*)\.$' % rule)
    return [m.group(1) for m in (r.match(line) for line in d.log_lines()) if m]


def watched_dirs(d):
    m = re.match(r'Watching (\d+) directories', d.latest_status() or '')
    return int(m.group(1)) if m else None


class MovePairing(DaemonTestCase):
    def test_renames_between_other_events(self):
        d = self.daemon(MOVES, start=False)
        w = self.fresh_dir(d, 'w')
        os.makedirs(os.path.join(w, 'f'))
        os.makedirs(os.path.join(w, 'noise'))
        for i in range(N_FILES):
            write(os.path.join(w, 'f', 'f%d' % i))
        d.start()
        stop = d.path('stop-writers')
        writers = [subprocess.Popen([sys.executable, '-c', WRITER, os.path.join(w, 'noise'), stop])
                   for _ in range(2)]
        try:
            for i in range(N_FILES):
                os.rename(os.path.join(w, 'f', 'f%d' % i), os.path.join(w, 'f', 'g%d' % i))
        finally:
            write(stop)
            for p in writers:
                p.wait(timeout=harness.DEFAULT_TIMEOUT)
        d.settle(timeout=harness.DEFAULT_TIMEOUT * 6)
        moved = scheduled(d, 'moved')
        created = scheduled(d, 'created')
        log('%d renames: %d tasks for moved, %d for created' % (N_FILES, len(moved), len(created)))
        self.assertEqual(created, [], 'renames raised as created')
        want = {os.path.join(w, 'f', 'g%d' % i) for i in range(N_FILES)}
        self.assertEqual(set(moved), want, 'every rename is a move')
        self.assertEqual(len(moved), N_FILES)

    def test_mkdir_then_rename_parent(self):
        d = self.daemon(RACE, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        d.settle()
        harness.wait_for(lambda: watched_dirs(d) is not None, what='a status with the directory count')
        base = watched_dirs(d)
        for i in range(N_DIRS):
            os.makedirs(os.path.join(w, 'a%d' % i, 'b'))     # mkdir -p a/b
            os.rename(os.path.join(w, 'a%d' % i), os.path.join(w, 'A%d' % i))   # mv a A, at once
        d.settle()
        on_disk = sum(len(dirs) for _, dirs, _ in os.walk(w))
        self.assertEqual(on_disk, 2 * N_DIRS)
        try:
            harness.wait_for(lambda: watched_dirs(d) == base + on_disk,
                             what='the daemon to watch the %d directories on disk' % on_disk)
        except harness.Timeout:
            self.fail('%d directories on disk, the daemon watches %s' % (on_disk, watched_dirs(d) - base))
        want = set()
        for i in range(N_DIRS):
            f = os.path.join(w, 'A%d' % i, 'b', 'f')
            write(f)
            want.add(os.fsencode(f))
        d.settle()
        seen = {r.args[0] for r in d.records()}
        self.assertEqual(want - seen, set(), 'files in A*/b without a task')
        log('%d of %d A*/b directories watched, %d of %d files got their task'
            % (watched_dirs(d) - base - N_DIRS, N_DIRS, len(want & seen), len(want)))


if __name__ == '__main__':
    harness.main()
