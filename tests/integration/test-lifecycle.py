#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Process life: READY=1 and STATUS= on the test's own NOTIFY_SOCKET, SIGTERM waiting for a running
task (STOPPING=1, exit 0), and ShutdownTimeoutSec= killing one that does not end."""

import os
import re
import signal
import time

import harness
from harness import DaemonTestCase, write, log, process_gone

GATED = '''
[Daemon]
ShutdownTimeoutSec=%s

[Watch w]
Path=@TMP@/w

[Rule job]
Watch=w
On=IN_CLOSE_WRITE
Environment=%s
Exec=@REC@ {pathname}
'''

DELAYED = '''
[Watch w]
Path=@TMP@/w
Recursive=yes

[Rule slow]
Watch=w
On=IN_CLOSE_WRITE
DelaySec=30
Exec=@REC@ {pathname}
'''


class Lifecycle(DaemonTestCase):
    def test_ready_and_status(self):
        d = self.daemon(DELAYED, start=False)
        w = self.fresh_dir(d, 'w')
        os.makedirs(os.path.join(w, 'a', 'b'))
        d.start()
        ready = [m for m in d.notify_messages() if re.search(r'^READY=1$', m, re.M)]
        self.assertTrue(ready)
        st = d.statuses()[0]
        # w, w/a, w/a/b and the harness's marker directory, in two watches.
        self.assertRegex(st, r'\b4 directories\b.*\b2 watches\b')
        self.assertRegex(st, r'\b0 scheduled\b.*\b0 running\b')
        log('READY=1 with STATUS=%s' % st)

        write(os.path.join(w, 'a', 'file'))
        d.wait_notify(r'^STATUS=.*\b1 scheduled\b')
        log('STATUS reflects the waiting task: %s' % d.latest_status())

        t0 = time.monotonic()
        start = len(d.notify_messages())
        d.signal(signal.SIGTERM)
        d.wait_notify(r'^STOPPING=1$', start)
        self.assertEqual(d.wait_exit(), 0)
        self.assertLess(time.monotonic() - t0, 10 * harness.TIMEOUT_SCALE,
                        'a scheduled task does not delay a stop')
        self.assertEqual(d.records(), [], 'the scheduled task did not run')
        d.wait_for_log(r'1 scheduled task')
        log('stopped at once with the scheduled task not run')

    def test_sigterm_waits_for_running_task(self):
        d = self.daemon(GATED % ('30', 'REC_GATE=@TMP@/gate'), start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'job'))
        d.wait_records(1, phase='start')
        start = len(d.notify_messages())
        d.signal(signal.SIGTERM)
        d.wait_notify(r'^STOPPING=1$', start)
        d.wait_for_log(r'^Stopping: waiting up to .* for 1 running task')
        self.assertTrue(d.alive(), 'the daemon waits for the running task')
        # No new work while stopping.
        write(os.path.join(w, 'late'))
        write(d.path('gate'))
        self.assertEqual(d.wait_exit(), 0)
        recs = d.records()
        self.assertEqual([r.args for r in recs], [[os.fsencode(os.path.join(w, 'job'))]],
                         'the running task completed, nothing new started')
        self.assertEqual(len(d.log_matches(r'^Task \d+ \(job\) finished: success')), 1)
        log('SIGTERM: STOPPING=1, the running task completed, exit 0')

    def test_shutdown_timeout_kills(self):
        d = self.daemon(GATED % ('1', 'REC_SLEEP=30'), start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'job'))
        pid = d.wait_records(1, phase='start')[0].pid
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(timeout=15 * harness.TIMEOUT_SCALE), 0)
        took = time.monotonic() - t0
        self.assertLess(took, 6 * harness.TIMEOUT_SCALE, 'ShutdownTimeoutSec=1 bounds the stop')
        harness.wait_for(lambda: process_gone(pid), 5, 'the task process %d to be gone' % pid)
        self.assertEqual(d.records(), [], 'the task was killed before it finished')
        d.wait_for_log(r'killing')
        log('ShutdownTimeoutSec=1: the 30 s task killed, exit 0 after %.1fs' % took)

    def test_daemonize(self):
        # -d: the first process exits 0 once the daemon is ready; --pid-file names the daemon.
        d = self.daemon(GATED % ('30', 'X=1'), start=False, args=['-d', '--pid-file', '@PIDFILE@'])
        w = self.fresh_dir(d, 'w')
        pidfile = d.path('daemon.pid')
        d.args = [pidfile if a == '@PIDFILE@' else a for a in d.args]
        d.start(wait_ready=False)
        self.assertEqual(d.wait_exit(), 0, 'the launching process exits 0')
        with open(pidfile) as f:
            pid = int(f.read())
        self.addCleanup(lambda: process_gone(pid) or os.kill(pid, signal.SIGKILL))
        self.assertNotEqual(pid, d.pid)
        self.assertFalse(process_gone(pid), 'the daemon runs in the background')
        d.wait_notify(r'^READY=1$')
        write(os.path.join(w, 'job'))
        d.wait_records(1)
        os.kill(pid, signal.SIGTERM)
        harness.wait_for(lambda: process_gone(pid), what='the daemon to exit on SIGTERM')
        log('-d: launcher exited 0 when ready, daemon %d worked and stopped on SIGTERM' % pid)


if __name__ == '__main__':
    harness.main()
