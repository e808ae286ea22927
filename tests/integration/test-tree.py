#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Recursive trees: the mkdir -p race, and a renamed directory keeping its subtree's watches."""

import os
import re
import signal
import time

import harness
from harness import DaemonTestCase, write, log, proc_state

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

RENAME = '''
[Watch tree]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule file]
Watch=tree
On=IN_CLOSE_WRITE
Exec=@REC@ file {pathname}

[Rule dirmove]
Watch=tree
On=IN_MOVED_TO
Files=no
Directories=yes
Exec=@REC@ dirmove {pathname} {src_pathname} {maskname}
'''

INOUT = '''
[Watch tree]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule created]
Watch=tree
On=created
Directories=yes
Exec=@REC@ created {pathname}

[Rule deleted]
Watch=tree
On=deleted
Directories=yes
Exec=@REC@ deleted {pathname}
'''


class Tree(DaemonTestCase):
    def test_mkdir_p_race(self):
        d = self.daemon(RACE, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        want = set()

        def mkdir_p_and_write(top):
            deep = os.path.join(w, top, 'b', 'c')
            os.makedirs(deep)                   # mkdir -p a/b/c ...
            f = os.path.join(deep, 'f')
            write(f, 'x\n')                     # ... && echo x > a/b/c/f, at once
            want.add(os.fsencode(f))

        for i in range(20):
            mkdir_p_and_write('a%d' % i)
        # The losing side of the race for certain: the daemon stopped until the tree and the file exist,
        # so it sees only the creation of the top directory and must find the rest by scanning.
        for i in range(5):
            d.signal(signal.SIGSTOP)
            try:
                harness.wait_for(lambda: proc_state(d.pid) == 'T', what='the daemon to stop')
                mkdir_p_and_write('stopped%d' % i)
            finally:
                d.signal(signal.SIGCONT)
        d.settle()
        seen = {r.args[0] for r in d.records()}
        missing = want - seen
        self.assertFalse(missing, 'files in new directories without a task: %r' % sorted(missing))
        self.assertFalse(seen - want, 'unexpected tasks: %r' % sorted(seen - want))
        log('all %d files written right after mkdir -p got their task' % len(want))

    def test_renamed_directory(self):
        d = self.daemon(RENAME, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        old, new = os.path.join(w, 'd'), os.path.join(w, 'e')
        os.makedirs(os.path.join(old, 'sub'))
        d.sync()                                # the new directories are watched
        os.rename(old, new)
        d.sync()
        f = os.path.join(new, 'sub', 'f')
        write(f)
        d.settle()
        recs = [r.args for r in d.records()]
        self.assertIn([b'file', os.fsencode(f)], recs,
                      'the write below the renamed directory has the new path')
        moves = [a for a in recs if a[0] == b'dirmove']
        self.assertEqual(moves, [[b'dirmove', os.fsencode(new), os.fsencode(old), b'IN_MOVED_TO|IN_ISDIR']],
                         'the directory move carries {src_pathname} = the old path')
        self.assertEqual(len(recs), 2, 'nothing else ran: %r' % recs)
        # Later, deeper: still the new paths.
        os.makedirs(os.path.join(new, 'sub', 'deeper'))
        g = os.path.join(new, 'sub', 'deeper', 'g')
        write(g)
        d.settle()
        self.assertEqual(d.records()[-1].args, [b'file', os.fsencode(g)])
        log('renamed directory: new paths below it, {src_pathname} = old path')

    def test_moved_in_and_out(self):
        d = self.daemon(INOUT, start=False)
        w = self.fresh_dir(d, 'w')
        outside = self.fresh_dir(d, 'outside')
        os.makedirs(os.path.join(outside, 'pkg', 'lib'))
        write(os.path.join(outside, 'pkg', 'lib', 'x.so'))
        write(os.path.join(w, 'leaving'))
        d.start()
        # Moved in from outside the watch: a create for it and, by a scan, for everything inside.
        os.rename(os.path.join(outside, 'pkg'), os.path.join(w, 'pkg'))
        # Moved out of the watch: a delete.
        os.rename(os.path.join(w, 'leaving'), os.path.join(outside, 'left'))
        # An unpaired IN_MOVED_FROM waits a few milliseconds for its partner before it is a delete: the
        # marker of settle() may overtake it, so wait for it by name.
        d.wait_for_log(r'^Task \d+ \(deleted\) scheduled for ')
        d.settle()
        got = sorted(r.args for r in d.records())
        want = sorted([[b'created', os.fsencode(os.path.join(w, p))]
                       for p in ('pkg', 'pkg/lib', 'pkg/lib/x.so')]
                      + [[b'deleted', os.fsencode(os.path.join(w, 'leaving'))]])
        self.assertEqual(got, want)
        # The moved-in tree is watched.
        write(os.path.join(w, 'pkg', 'lib', 'y.so'))
        d.settle()
        self.assertEqual(d.records()[-1].args,
                         [b'created', os.fsencode(os.path.join(w, 'pkg', 'lib', 'y.so'))])
        log('moved in: created for the directory and what it holds (and it is watched); moved out: deleted')


    def test_file_open_during_the_scan_runs_once_after_its_close(self):
        """A file that a new directory's scan finds while it is still being written gets one task, run
        after its close: the scan's task waits a short settle time (100 ms) for the close to debounce
        into it, even with DelaySec=0."""
        settle = 0.1
        d = self.daemon(RACE, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        for attempt in range(10):
            f = os.path.join(w, 'n%d' % attempt, 'f')
            # The daemon stopped until the directory exists and the file is open, half written: it
            # sees the directory's creation and finds the file by scanning.
            d.signal(signal.SIGSTOP)
            try:
                harness.wait_for(lambda: proc_state(d.pid) == 'T', what='the daemon to stop')
                os.mkdir(os.path.dirname(f))
                out = open(f, 'wb')
                out.write(b'half')
                out.flush()
            finally:
                t_cont = time.monotonic()
                d.signal(signal.SIGCONT)
            d.wait_for_log(r'^Task \d+ \(f\) scheduled for %s\.$' % re.escape(f))
            out.write(b' and the rest')
            out.close()
            t_close = time.monotonic()
            d.settle()
            runs = [r for r in d.records() if r.args == [os.fsencode(f)]]
            if t_close - t_cont >= settle * 0.8 and len(runs) > 1:
                log('attempt %d inconclusive: the close came %.0f ms after the scan could start'
                    % (attempt, (t_close - t_cont) * 1000))
                continue
            self.assertEqual(len(runs), 1, 'one task for the file, not one for the scan and one for the '
                             'close: %r' % runs)
            self.assertGreater(float(runs[0].meta[b'time']), t_close, 'the task ran after the close')
            log('a file open during the scan ran once, %.0f ms after the scan could start, after its close'
                % ((float(runs[0].meta[b'time']) - t_cont) * 1000))
            return
        self.skipTest('every attempt took longer than the settle time to close the file')

if __name__ == '__main__':
    harness.main()
