#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A task's log messages are never cut: a long path (here over 3,000 bytes) appears whole in the started
line, and a long line of a task's output whole in its output message."""

import os

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w
Recursive=yes

[Rule deep]
Watch=w
On=IN_CLOSE_WRITE
Match=leaf
Exec=/bin/true {pathname}

[Rule talk]
Watch=w
On=IN_CLOSE_WRITE
Match=talk
Action=shell
Exec=printf 'BEGIN%sEND\\n' "$(printf '%03000d' 0)"
'''


class TaskLog(DaemonTestCase):
    def test_long_path_whole(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        deep = os.path.join(w, *['d%03d' % i + 'x' * 196 for i in range(16)])
        os.makedirs(deep)
        leaf = os.path.join(deep, 'leaf')
        self.assertGreater(len(leaf), 3000)
        d.sync()
        write(leaf)
        m = d.wait_for_log(r'^Task (\d+) \(deep\) started: /bin/true (\S+) \(pid \d+\)$')[0]
        self.assertEqual(m.group(2), leaf, 'the whole path, up to its last byte')
        log('a %d-byte path appears whole in the task\'s started line' % len(leaf))

    def test_long_output_line_whole(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'talk'))
        m = d.wait_for_log(r'^Task \d+ \(talk\): BEGIN(0+)END$')[0]
        self.assertEqual(len(m.group(1)), 3000)
        log('a 3,008-byte output line appears whole')


if __name__ == '__main__':
    harness.main()
