#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Debounce: events for the same rule and path inside DelaySec= give one run, with the latest event,
and the task keeps its id."""

import os
import re
import time

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule deb]
Watch=w
On=IN_CLOSE_WRITE IN_MOVED_TO
Match=target
DelaySec=1
Exec=@REC@ {pathname} {maskname} {src_pathname} {task_id}
'''


class Debounce(DaemonTestCase):
    def test_three_events_one_run_last_event(self):
        for attempt in range(3):
            d = self.daemon(CONFIG, start=False)
            w = self.fresh_dir(d, 'w')
            d.start()
            target = os.path.join(w, 'target')
            t0 = time.monotonic()
            write(target, 'one')                                        # IN_CLOSE_WRITE
            write(os.path.join(w, 'tmp1'), 'two')
            os.rename(os.path.join(w, 'tmp1'), target)                  # IN_MOVED_TO from tmp1
            write(os.path.join(w, 'tmp2'), 'three')
            os.rename(os.path.join(w, 'tmp2'), target)                  # IN_MOVED_TO from tmp2: the last
            elapsed = time.monotonic() - t0
            if elapsed < 0.5:
                break
            log('the three changes took %.2fs, not well inside DelaySec=1: trying again' % elapsed)
        d.settle()

        recs = d.records()
        self.assertEqual(len(recs), 1, 'exactly one run expected, got %r' % recs)
        path, mask, src, task_id = recs[0].args
        self.assertEqual(path, os.fsencode(target))
        self.assertEqual(mask, b'IN_MOVED_TO', 'the run carries the last event')
        self.assertEqual(src, os.fsencode(os.path.join(w, 'tmp2')), 'the run carries the last move source')
        log('one run, with the last event: %r' % recs[0].args)

        sched = d.log_matches(r'^Task (\d+) \(deb\) scheduled for ' + re.escape(target) + r'\.$')
        started = d.log_matches(r'^Task (\d+) \(deb\) started: ')
        self.assertEqual(len(sched), 1, 'one task scheduled, the other events debounced into it')
        self.assertEqual(len(started), 1)
        self.assertEqual(sched[0].group(1), started[0].group(1), 'the task kept its id')
        self.assertEqual(task_id, sched[0].group(1).encode(), '{task_id} is the id of the scheduled task')
        log('task id %s kept from scheduling to run' % task_id.decode())

    def test_delay_restarts(self):
        # Events 0.6 s apart with DelaySec=1: the run comes >= 1 s after the LAST event, so the delay
        # restarted (without debounce it would start 1 s after the first one).
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        target = os.path.join(w, 'target')
        write(target, 'a')
        d.wait_for_log(r'^Task \d+ \(deb\) scheduled for ')
        first = time.monotonic()
        # Let 0.6 s pass, measured: this is the point of the test, not a wait for an effect.
        harness.wait_for(lambda: time.monotonic() - first >= 0.6, what='0.6 s to pass')
        self.assertEqual(d.task_ids('started'), [], 'no run yet')
        write(target, 'b')
        last = time.monotonic()
        recs = d.wait_records(1)
        ran = float(recs[0].meta[b'time'])
        self.assertGreaterEqual(ran - last, 0.9, 'the delay started again at the second event')
        d.settle()
        self.assertEqual(len(d.records()), 1)
        log('run %.2fs after the second event, %.2fs after the first' % (ran - last, ran - first))


if __name__ == '__main__':
    harness.main()
