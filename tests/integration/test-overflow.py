#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""IN_Q_OVERFLOW for real: with the daemon stopped (SIGSTOP), more files than the kernel queue holds are
created; after SIGCONT the overflow is logged and counted, and every file still gets its task.
The daemon runs with --dry-run: really running ~18000 commands takes minutes (measured: 80 s), and the
runner is proven by the other tests; here the point is that no file is lost."""

import collections
import os
import re
import shutil
import signal
import time

import harness
from harness import DaemonTestCase, log, proc_state

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule ov]
Watch=w
On=IN_CLOSE_WRITE
Exec=/bin/true {pathname}
'''


class Overflow(DaemonTestCase):
    def overflow(self, d, w):
        """Creates max_queued_events + 2000 files in w while d is stopped; returns their paths."""
        with open('/proc/sys/fs/inotify/max_queued_events') as f:
            n_queue = int(f.read())
        if n_queue > 200000:
            self.skipTest('fs.inotify.max_queued_events=%d is too large to overflow quickly' % n_queue)
        n = n_queue + 2000
        d.signal(signal.SIGSTOP)
        try:
            harness.wait_for(lambda: proc_state(d.pid) == 'T', what='the daemon to stop')
            t0 = time.monotonic()
            for i in range(n):
                fd = os.open(os.path.join(w, 'f%06d' % i), os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, b'x')
                os.close(fd)
            log('created %d files (max_queued_events=%d) in %.1fs while the daemon was stopped'
                % (n, n_queue, time.monotonic() - t0))
        finally:
            d.signal(signal.SIGCONT)
        return [os.path.join(w, 'f%06d' % i) for i in range(n)]

    def test_overflow_every_file_gets_its_task(self):
        d = self.daemon(CONFIG, start=False, args=['--dry-run'])
        w = self.fresh_dir(d, 'w')
        d.start()
        files = self.overflow(d, w)
        n = len(files)

        d.wait_for_log(r'^Kernel event queue overflowed')
        rx = re.compile(r'^Task \d+ \(ov\) would run: /bin/true (%s/f\d{6})$' % re.escape(w))

        def runs():
            return collections.Counter(m.group(1) for m in map(rx.match, d.log_lines()) if m)

        def all_seen():
            c = runs()
            return len(c) == n and c
        t0 = time.monotonic()
        harness.wait_for(all_seen, 45 * harness.TIMEOUT_SCALE, 'a task for each of the %d files' % n)
        d.settle()
        seen = runs()
        self.assertEqual(set(seen), set(files))
        log('every one of the %d files got its task (%.1fs after SIGCONT)' % (n, time.monotonic() - t0))
        # Exactly once: the rescan does not raise again the files whose close was read before the
        # overflow (each file was written once).
        twice = sorted(p for p, k in seen.items() if k > 1)
        log('%d files had more than one task' % len(twice))
        self.assertEqual(twice, [], '%d files got their task more than once' % len(twice))
        d.wait_notify(r'^STATUS=.*\b[1-9][0-9]* overflows\b')
        log('STATUS counts the overflow: %s' % d.latest_status())
        self.assertEqual(d.stop(), 0)

    def test_dropped_close_of_a_known_file_long_before_the_catch_up(self):
        """A file whose IN_CREATE made it into the queue but whose IN_CLOSE_WRITE was dropped, written
        well over a second before the daemon reads the overflow: the rescan must still raise it (its
        cut-off is the last time the queue was empty, not the time of the read holding the overflow)."""
        d = self.daemon(CONFIG, start=False, args=['--dry-run'])
        w = self.fresh_dir(d, 'w')
        bulk = os.path.join(w, 'bulk')
        os.mkdir(bulk)
        d.start()
        x = os.path.join(w, 'X')
        d.signal(signal.SIGSTOP)
        try:
            harness.wait_for(lambda: proc_state(d.pid) == 'T', what='the daemon to stop')
            fd = os.open(x, os.O_WRONLY | os.O_CREAT, 0o644)        # IN_CREATE: queued
            with open('/proc/sys/fs/inotify/max_queued_events') as f:
                n = int(f.read()) + 2000
            for i in range(n):
                with open(os.path.join(w, 'g%06d' % i), 'wb') as f:
                    f.write(b'x')
            os.write(fd, b'x')
            os.close(fd)                                            # IN_CLOSE_WRITE: dropped
            # The scenario itself, not a wait for an effect: the write must lie more than the rescan's
            # one-second slack before the daemon catches up.
            time.sleep(1.5)
        finally:
            d.signal(signal.SIGCONT)
        d.wait_for_log(r'^Kernel event queue overflowed')
        d.wait_for_log(r'^Task \d+ \(ov\) would run: /bin/true %s$' % re.escape(x), timeout=45 * harness.TIMEOUT_SCALE)
        log('the file whose close was dropped got its task')
        self.assertEqual(d.stop(), 0)


    def test_handled_just_before_is_not_raised_again(self):
        """Files handled (their tasks run) just before an overflow, the queue empty in between: the
        rescan raises nothing for them."""
        d = self.daemon(CONFIG, start=False, args=['--dry-run'])
        w = self.fresh_dir(d, 'w')
        d.start()
        early = [os.path.join(w, 'e%03d' % i) for i in range(300)]
        for p in early:
            with open(p, 'wb') as f:
                f.write(b'x')
        rx = re.compile(r'^Task \d+ \(ov\) would run: /bin/true (%s/e\d{3})$' % re.escape(w))
        harness.wait_for(lambda: len([l for l in d.log_lines() if rx.match(l)]) == len(early),
                         what='the tasks of the 300 early files')
        self.overflow(d, w)
        d.wait_for_log(r'^Kernel event queue overflowed')
        d.settle(timeout=45 * harness.TIMEOUT_SCALE)
        c = collections.Counter(m.group(1) for m in map(rx.match, d.log_lines()) if m)
        again = sorted(p for p, k in c.items() if k > 1)
        log('%d of %d files handled just before the overflow were raised again' % (len(again), len(early)))
        self.assertEqual(set(c), set(early))
        self.assertEqual(again, [])

    def test_tree_removed_during_overflow(self):
        """rm -rf of a tree whose files have waiting tasks, lost in an overflow: the rescan raises each
        file's deletion (rules on deleted hear of each, CancelOn=deleted cancels the waiting tasks),
        not only the top directory's."""
        d = self.daemon(RM_RF, start=False, args=['--dry-run'])
        w = self.fresh_dir(d, 'w')
        d.start()
        t = os.path.join(w, 't')
        files = []
        for i in range(5):
            os.makedirs(os.path.join(t, 'd%d' % i, 'sub'))
            for j in range(20):
                for sub in ('', 'sub'):
                    p = os.path.join(t, 'd%d' % i, sub, 'f%02d.txt' % j)
                    with open(p, 'wb') as f:
                        f.write(b'x')
                    files.append(os.path.normpath(p))
        d.sync()
        harness.wait_for(lambda: len(d.task_ids('scheduled for ', 'wait')) == len(files),
                         what='a waiting task for each of the %d files' % len(files))
        d.signal(signal.SIGSTOP)
        try:
            harness.wait_for(lambda: proc_state(d.pid) == 'T', what='the daemon to stop')
            with open('/proc/sys/fs/inotify/max_queued_events') as f:
                n = int(f.read()) + 2000
            for i in range(n):
                with open(os.path.join(w, 'g%06d' % i), 'wb') as f:
                    f.write(b'x')
            shutil.rmtree(t)        # with the queue full: its events are lost
        finally:
            d.signal(signal.SIGCONT)
        d.wait_for_log(r'^Kernel event queue overflowed')
        rx = re.compile(r'^Task \d+ \(del\) would run: /bin/true (.*)$')

        def deleted():
            return {m.group(1) for m in map(rx.match, d.log_lines()) if m}
        try:
            harness.wait_for(lambda: deleted() >= set(files), 45 * harness.TIMEOUT_SCALE,
                             'a deleted task for each removed file')
        finally:
            log('%d of %d removed files raised as deleted after the overflow'
                % (len(deleted() & set(files)), len(files)))
        cancelled = set(d.task_ids('cancelled', 'wait'))
        log('%d of %d waiting tasks cancelled' % (len(cancelled), len(files)))
        self.assertEqual(cancelled, set(d.task_ids('scheduled for ', 'wait')))
        self.assertEqual(d.task_ids('would run', 'wait'), [])


RM_RF = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule del]
Watch=w
On=deleted
Match=*.txt
Exec=/bin/true {pathname}

[Rule wait]
Watch=w
On=IN_CLOSE_WRITE
Match=*.txt
DelaySec=120
CancelOn=deleted
Exec=/bin/true {pathname}
'''


if __name__ == '__main__':
    harness.main()
