#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile tasks: a task flooding its output neither stalls the loop (file events are scheduled and the
watchdog is pinged meanwhile) nor fills the log (rate-limited, with a line saying how much was
dropped); what a task leaves behind (a background child, a setsid'd one, one ignoring SIGTERM) ends
with the task, at TimeoutSec= and at the daemon's stop; 10,000 events with MaxRunningTasks=2 all run,
in order."""

import os
import re
import signal
import time

import harness
from harness import DEFAULT_TIMEOUT, TIMEOUT_SCALE, DaemonTestCase, process_gone, wait_for, write

FLOOD_BYTES = 400 * 1000 * 1000

FLOOD = r'''
[Watch w]
Path=@TMP@/w

[Rule flood]
Watch=w
On=IN_CLOSE_WRITE
Match=flood
Exec=/usr/bin/head -c %d /dev/zero

[Rule probe]
Watch=w
On=IN_CLOSE_WRITE
Match=p*
DelaySec=600
Exec=/bin/true
''' % FLOOD_BYTES

LEAVER = r'''
[Daemon]
ShutdownTimeoutSec=1

[Watch w]
Path=@TMP@/w

[Rule leave]
Watch=w
On=IN_CLOSE_WRITE
Match=leave*
Action=shell
Exec=%s
%s
'''

# Three ways out: a background child, a setsid'd one, and a setsid'd grandchild orphaned while the task
# still runs (its parent subshell exits at once); each writes its pid.
BACKGROUND = ("sleep 1000 & echo $! > @TMP@/pid.bg; setsid sleep 1000 & echo $! > @TMP@/pid.setsid; "
              "(setsid sleep 1000 & echo $! > @TMP@/pid.orphan); echo $$ > @TMP@/pid.main")

# All of it ignoring SIGTERM, and the main process staying.
STUBBORN = ("trap '' TERM; sleep 1000 & echo $! > @TMP@/pid.bg; "
            "setsid sh -c 'sleep 1000 & echo $! > @TMP@/pid.grand; wait' & echo $! > @TMP@/pid.setsid; "
            "echo $$ > @TMP@/pid.main; wait")

PIDS = ('main', 'bg', 'setsid', 'orphan', 'grand')

ORDER = r'''
[Daemon]
MaxRunningTasks=2
TaskHistory=10

[Watch w]
Path=@TMP@/w

[Rule run]
Watch=w
On=IN_CLOSE_WRITE
Match=f*
Exec=/bin/true
'''


def read_pids(d):
    out = {}
    for name in PIDS:
        try:
            with open(d.path('pid.' + name)) as f:
                out[name] = int(f.read())
        except (FileNotFoundError, ValueError):
            pass
    return out


def alive(pids):
    return {k: p for k, p in pids.items() if not process_gone(p)}


class Hostile(DaemonTestCase):
    def tearDown(self):
        # Whatever a failed test left running.
        for d in self.daemons:
            for p in read_pids(d).values():
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        super().tearDown()

    def test_output_flood(self):
        """A task writing 400 MB without a newline: probe files are scheduled within a fraction of a second
        while it runs, the watchdog is pinged at least every half period, the log grows by a few MB and
        says how much was dropped."""
        period = 2.0 * TIMEOUT_SCALE
        d = self.daemon(FLOOD, start=False, env={'WATCHDOG_USEC': str(int(period * 1e6))})
        os.makedirs(d.path('w'))
        d.start()
        d.wait_notify(r'^WATCHDOG=1$')
        log_before = os.path.getsize(d.log_path)
        t0 = time.monotonic()
        write(d.path('w', 'flood'))
        d.wait_for_log(r'^Task \d+ \(flood\) started')
        latencies = []
        stalled = False
        i = 0
        while not stalled and not d.log_matches(r'^Task \d+ \(flood\) (finished|failed)'):
            name = d.path('w', 'p%d' % i)
            t = time.monotonic()
            write(name)
            try:
                d.wait_for_log(r'^Task \d+ \(probe\) scheduled for %s\.$' % re.escape(name), timeout=60)
            except harness.Timeout:
                stalled = True          # measured until here: the loop has not come back in a minute
            latencies.append(time.monotonic() - t)
            i += 1
        if not stalled:
            d.wait_for_log(r'^Task \d+ \(flood\) (finished|failed)', timeout=300)
        t1 = time.monotonic()
        pings = [t for t, m in d.notify.stamped() if re.search(r'^WATCHDOG=1$', m, re.M)]
        during = [t for t in pings if t0 <= t <= t1]
        edges = [t0] + during + [t1]
        gap = max(b - a for a, b in zip(edges, edges[1:]))
        log_bytes = os.path.getsize(d.log_path) - log_before
        dropped = sum(int(m.group(1)) for m in
                      d.log_matches(r'^Task \d+ \(flood\): (\d+) bytes of output \(\d+ lines\) dropped'))
        harness.log('flood: %.1f s%s; probes: %d, latency max %.3f s; watchdog pings: %d, longest gap '
                    '%.2f s (period %.1f s); log grew %d bytes for %d bytes of output, %d dropped'
                    % (t1 - t0, ' (stalled, not waited for)' if stalled else '', len(latencies),
                       max(latencies), len(during), gap, period, log_bytes, FLOOD_BYTES, dropped))
        self.assertGreater(len(latencies), 0)
        self.assertLess(max(latencies), 1.0 * TIMEOUT_SCALE)
        self.assertLess(gap, period * 0.8)
        self.assertLess(log_bytes, 16 << 20)
        self.assertGreater(dropped, FLOOD_BYTES * 0.9)

    def leaver(self, script, extra=''):
        d = self.daemon(LEAVER % (script, extra), start=False)
        os.makedirs(d.path('w'))
        d.start()
        return d

    def wait_pids(self, d, names):
        return wait_for(lambda: (lambda p: set(names) <= set(p) and p)(read_pids(d)),
                        what='pid files %s' % (names,))

    def test_background_children_end_with_the_task(self):
        """sh -c 'sleep 1000 &', 'setsid sleep 1000 &' and an orphaned setsid'd grandchild: all gone
        after the task ends (it succeeds)."""
        d = self.leaver(BACKGROUND)
        write(d.path('w', 'leave1'))
        pids = self.wait_pids(d, ('main', 'bg', 'setsid', 'orphan'))
        d.wait_for_log(r'^Task \d+ \(leave\) finished')
        try:
            wait_for(lambda: not alive(pids), timeout=10 * TIMEOUT_SCALE, what='no process left')
        finally:
            harness.log('left behind: %d of %d (%s)' % (len(alive(pids)), len(pids), alive(pids)))
        self.assertFalse(d.log_matches(r'^Task \d+ \(leave\) failed'))

    def test_timeout_ends_what_ignores_sigterm(self):
        """TimeoutSec=1, everything ignoring SIGTERM, one part in a session of its own: all gone within
        the timeout and the kill grace (5 s), the task's result "timeout"."""
        d = self.leaver(STUBBORN, 'TimeoutSec=1')
        write(d.path('w', 'leave1'))
        pids = self.wait_pids(d, ('main', 'bg', 'setsid', 'grand'))
        t = time.monotonic()
        try:
            # TimeoutSec=, the kill grace and slack: a second grace (the tree missed at the kill) is late.
            wait_for(lambda: not alive(pids), timeout=(1 + 5 + 3) * TIMEOUT_SCALE, what='no process left')
        finally:
            harness.log('left behind: %d of %d (%s) after %.1f s'
                        % (len(alive(pids)), len(pids), alive(pids), time.monotonic() - t))
        d.wait_for_log(r'^Task \d+ \(leave\) (failed|finished).*timeout')

    def test_stop_ends_running_task_and_leftovers(self):
        """The daemon stopped (ShutdownTimeoutSec=1) while a task runs, all of it ignoring SIGTERM, part
        of it in a session of its own: nothing is left once the daemon has exited."""
        d = self.leaver(STUBBORN)
        write(d.path('w', 'leave1'))
        pids = self.wait_pids(d, ('main', 'bg', 'setsid', 'grand'))
        d.stop()
        try:
            wait_for(lambda: not alive(pids), timeout=5 * TIMEOUT_SCALE, what='no process left')
        finally:
            harness.log('left behind after the stop: %d of %d (%s)' % (len(alive(pids)), len(pids),
                                                                       alive(pids)))

    def test_stop_ends_leftovers_in_their_grace(self):
        """A task that ends at once, leaving behind a setsid'd shell and its child, both ignoring SIGTERM,
        and the daemon stopped within their grace: both gone once it has exited."""
        d = self.leaver("setsid sh -c 'trap \"\" TERM; sleep 1000 & echo $! > @TMP@/pid.grand; wait' & "
                        "echo $! > @TMP@/pid.setsid; echo $$ > @TMP@/pid.main; "
                        "while ! [ -s @TMP@/pid.grand ]; do sleep 0.01; done")
        write(d.path('w', 'leave1'))
        pids = self.wait_pids(d, ('main', 'setsid', 'grand'))
        d.wait_for_log(r'^Task \d+ \(leave\) finished')
        d.stop()
        try:
            wait_for(lambda: not alive(pids), timeout=5 * TIMEOUT_SCALE, what='no process left')
        finally:
            harness.log('left behind after the stop: %d of %d (%s)' % (len(alive(pids)), len(pids),
                                                                       alive(pids)))

    def test_ten_thousand_in_order(self):
        """10,000 files, MaxRunningTasks=2: 10,000 tasks run, started in the order of their files."""
        n = 10000
        d = self.daemon(ORDER, start=False)
        os.makedirs(d.path('w'))
        d.start()
        names = [d.path('w', 'f%05d' % i) for i in range(n)]
        for name in names:
            write(name)
        d.settle(timeout=DEFAULT_TIMEOUT * 15)
        sched = [m.group(1) for m in d.log_matches(r'^Task \d+ \(run\) scheduled for (\S+)\.$')]
        ids = [int(m.group(1)) for m in d.log_matches(r'^Task (\d+) \(run\) started')]
        done = d.log_matches(r'^Task \d+ \(run\) finished')
        harness.log('scheduled %d, started %d, finished %d, in order: %s'
                    % (len(sched), len(ids), len(done), ids == sorted(ids)))
        self.assertEqual(sched, names)
        self.assertEqual(len(ids), n)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(done), n)


if __name__ == '__main__':
    harness.main()
