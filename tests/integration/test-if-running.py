#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""IfRunning=: what an event for a task that is running does (queue, skip, parallel, restart); and
MaxRunningTasks=."""

import os

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule r]
Watch=w
On=IN_CLOSE_WRITE IN_ATTRIB
Match=job
IfRunning=%s
Environment=REC_GATE=@TMP@/gate
Exec=@REC@ {pathname} {task_id} {maskname}
'''


class IfRunning(DaemonTestCase):
    def start(self, mode):
        d = self.daemon(CONFIG % mode, start=False)
        self.w = self.fresh_dir(d, 'w')
        self.job = os.path.join(self.w, 'job')
        self.gate = d.path('gate')
        d.start()
        write(self.job, '1')
        d.wait_records(1, phase='start')            # the first run is running, held at the gate
        return d

    def open_gate(self):
        write(self.gate)

    def test_queue_one_event(self):
        d = self.start('queue')
        write(self.job, '2')
        d.sync()
        self.open_gate()
        d.settle()
        recs = d.records()
        self.assertEqual([r.args[1] for r in recs], [b'1', b'2'], 'one follow-up run after the first')
        self.assertEqual(len(d.records(phase='start')), 2)
        starts = d.records(phase='start')
        self.assertGreater(float(starts[1].meta[b'time']), float(recs[0].meta[b'time']),
                           'the follow-up started after the first run ended')
        log('queue: one event during the run -> exactly one follow-up, after it')

    def test_queue_three_events(self):
        d = self.start('queue')
        write(self.job, '2')
        write(self.job, '3')
        os.utime(self.job)                          # IN_ATTRIB: the latest event
        d.sync()
        self.open_gate()
        d.settle()
        recs = d.records()
        self.assertEqual(len(recs), 2,
                         'three events during the run -> still exactly one follow-up: %r' % recs)
        self.assertEqual(recs[1].args[2], b'IN_ATTRIB', 'the follow-up carries the latest event')
        self.assertEqual(len(d.task_ids('scheduled for ', 'r')), 2)
        log('queue: three events during the run -> exactly one follow-up, with the latest event')

    def test_skip(self):
        d = self.start('skip')
        write(self.job, '2')
        write(self.job, '3')
        d.sync()
        self.open_gate()
        d.settle()
        self.assertEqual(len(d.records()), 1, 'events during the run were skipped')
        self.assertEqual(len(d.task_ids('scheduled for ', 'r')), 1)
        # And after it ended, a new event runs again.
        write(self.job, '4')
        d.settle()
        self.assertEqual(len(d.records()), 2)
        log('skip: events during the run dropped; the next one after it runs')

    def test_parallel(self):
        d = self.start('parallel')
        write(self.job, '2')
        # The second run starts while the first is still held at the gate.
        d.wait_records(2, phase='start')
        self.assertEqual(d.records(), [], 'both running at once, neither ended')
        self.open_gate()
        d.settle()
        self.assertEqual(sorted(r.args[1] for r in d.records()), [b'1', b'2'])
        log('parallel: a second run alongside the first')

    def test_restart(self):
        d = self.start('restart')
        write(self.job, '2')
        d.wait_for_log(r'^Task 1 \(r\) (cancelled|failed)')
        d.wait_records(2, phase='start')
        self.open_gate()
        d.settle()
        self.assertEqual([r.args[1] for r in d.records()], [b'2'],
                         'the first run was stopped, the new one ran')
        log('restart: the running one stopped, a new one ran')


LIMIT = '''
[Daemon]
MaxRunningTasks=2

[Watch w]
Path=@TMP@/w

[Rule lim]
Watch=w
On=IN_CLOSE_WRITE
Environment=REC_GATE=@TMP@/gate
Exec=@REC@ {pathname}
'''

UNLIMITED = '''
[Daemon]
MaxRunningTasks=0

[Watch w]
Path=@TMP@/w

[Rule many]
Watch=w
On=IN_CLOSE_WRITE
# Held until the gate exists, for at most 120 s (2,400 polls), so a failed test leaves nothing running.
Exec=/bin/sh -c 'n=0; while [ ! -e "$0" ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n+1)); done; [ -e "$0" ] && echo "$1" >> @TMP@/done' @TMP@/gate {pathname}
'''


class MaxRunning(DaemonTestCase):
    def test_max_running_tasks(self):
        d = self.daemon(LIMIT, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        for i in range(5):
            write(os.path.join(w, 'f%d' % i))
        d.sync()
        # Two running and three or four waiting (the marker's task may or may not have had its turn): a
        # state that only holds if the limit holds (without it, all would run at once).
        d.wait_notify(r'^STATUS=.*\b[34] scheduled, 2 running\b')
        d.wait_records(2, phase='start')
        self.assertEqual(len(d.records(phase='start')), 2)
        write(d.path('gate'))
        d.settle()
        recs = d.records(phase=None)
        self.assertEqual(len([r for r in recs if r.phase == 'end']), 5)
        # Never more than two at once: replay the start/end records in time order.
        events = sorted((float(r.meta[b'time']), 1 if r.phase == 'start' else -1) for r in recs)
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        self.assertLessEqual(peak, 2)
        log('MaxRunningTasks=2: five tasks, never more than two at once')

    def test_unlimited_running_tasks_lose_nothing(self):
        # MaxRunningTasks=0 (no limit) with more tasks at once than the daemon's soft file descriptor
        # limit allows children (each running task holds a pipe and a pidfd): every task must still run,
        # sooner or later; none may be dropped as "start-failed".
        d = self.daemon(UNLIMITED, start=False, nofile=64)
        w = self.fresh_dir(d, 'w')
        d.start()
        n = 60
        for i in range(n):
            write(os.path.join(w, 'f%02d' % i))
        d.sync()
        write(d.path('gate'))
        d.settle()
        failed = d.log_matches(r'^Task \d+ \(many\) failed: (.*)$')
        with open(d.path('done')) as f:
            done = f.read().split()
        errors = d.log_matches(r'^error: .*', raw=True)
        if failed:
            self.fail('%d of %d tasks failed, e.g. %r after %r'
                      % (len(failed), n, failed[0].group(0), errors[0].group(0) if errors else None))
        self.assertEqual(len(done), n, 'every task ran')
        log('MaxRunningTasks=0: %d tasks at once with a soft limit of 64 descriptors, all ran' % n)


if __name__ == '__main__':
    harness.main()
