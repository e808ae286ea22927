#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Running commands: a clean environment with Environment=, WorkingDirectory=, output in the log tagged
with the task, exit status and signal recorded, TimeoutSec= stopping a task."""

import os
import re
import signal

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule env]
Watch=w
On=IN_CLOSE_WRITE
Match=env
Environment=FOO=bar "SPACED=a b" EMPTY=
WorkingDirectory=@TMP@/wd
Exec=@REC@ {pathname}

[Rule out]
Watch=w
On=IN_CLOSE_WRITE
Match=out
Action=shell
Exec=echo "hello from $INOTASKD_NAME"; echo "to stderr" >&2; printf 'no newline'

[Rule three]
Watch=w
On=IN_CLOSE_WRITE
Match=three
Environment=REC_EXIT=3
Exec=@REC@ {pathname}

[Rule sig]
Watch=w
On=IN_CLOSE_WRITE
Match=sig
Exec=/bin/sh -c 'kill -9 $$'

[Rule slow]
Watch=w
On=IN_CLOSE_WRITE
Match=slow
TimeoutSec=1
Environment=REC_SLEEP=30
Exec=@REC@ {pathname}

[Rule stubborn]
Watch=w
On=IN_CLOSE_WRITE
Match=stubborn
TimeoutSec=1
Exec=/bin/sh -c 'trap "" TERM; echo "$$" > @TMP@/stubborn.pid; sleep 60'

[Rule missing]
Watch=w
On=IN_CLOSE_WRITE
Match=missing
Exec=/nonexistent/command {pathname}
'''


class Exec(DaemonTestCase):
    def setUp(self):
        super().setUp()
        d = self.d = self.daemon(CONFIG, start=False, env={'INOTASKD_TEST_LEAK': 'leaked'})
        self.w = self.fresh_dir(d, 'w')
        self.fresh_dir(d, 'wd')
        d.start()

    def test_environment(self):
        write(os.path.join(self.w, 'env'))
        self.d.settle()
        r, = self.d.records()
        self.assertEqual(r.env.get(b'FOO'), b'bar')
        self.assertEqual(r.env.get(b'SPACED'), b'a b')
        self.assertEqual(r.env.get(b'EMPTY'), b'')
        self.assertNotIn(b'INOTASKD_TEST_LEAK', r.env, "the daemon's own environment does not leak")
        self.assertEqual(r.env.get(b'INOTASKD_PATHNAME'), os.fsencode(os.path.join(self.w, 'env')))
        for k in (b'PATH', b'HOME', b'USER', b'LOGNAME', b'SHELL'):
            self.assertIn(k, r.env)
        self.assertEqual(r.cwd, os.fsencode(self.d.path('wd')), 'WorkingDirectory=')
        log('Environment= reaches the command; clean environment: %s' % sorted(k.decode() for k in r.env))

    def test_output_in_log(self):
        write(os.path.join(self.w, 'out'))
        self.d.settle()
        tid = self.d.task_ids('started', 'out')[0]
        for line in ('hello from out', 'to stderr', 'no newline'):
            self.d.wait_for_log(r'^Task %d \(out\): %s$' % (tid, re.escape(line)))
        log('stdout and stderr lines are in the log, tagged with task %d' % tid)

    def test_exit_status(self):
        write(os.path.join(self.w, 'three'))
        self.d.settle()
        self.d.wait_for_log(r'^Task \d+ \(three\) failed: exit-code, status 3\.$')
        log('exit status 3 recorded')

    def test_signal(self):
        write(os.path.join(self.w, 'sig'))
        self.d.settle()
        self.d.wait_for_log(r'^Task \d+ \(sig\) failed: signal, signal 9\.$')
        log('death by SIGKILL recorded')

    def test_timeout(self):
        write(os.path.join(self.w, 'slow'))
        self.d.wait_records(1, phase='start')
        self.d.wait_for_log(r'^Task \d+ \(slow\) timed out')
        self.d.settle()
        self.d.wait_for_log(r'^Task \d+ \(slow\) failed: timeout\.$')
        self.assertEqual(self.d.records(), [], 'the task was stopped before it finished')
        log('TimeoutSec=1: "timed out", result timeout')

    def test_timeout_then_kill(self):
        # A task that ignores SIGTERM (and so does its sleep, which inherits that) is killed after the
        # grace period.
        write(os.path.join(self.w, 'stubborn'))
        self.d.wait_for_log(r'^Task \d+ \(stubborn\) timed out')
        self.d.wait_for_log(r'^Task \d+ \(stubborn\) did not stop, killing')
        self.d.wait_for_log(r'^Task \d+ \(stubborn\) failed: timeout\.$')
        with open(self.d.path('stubborn.pid')) as f:
            pid = int(f.read())
        harness.wait_for(lambda: harness.process_gone(pid), 5, 'the stubborn task to be gone')
        log('TimeoutSec=1 on a task ignoring SIGTERM: SIGKILL after the grace period, result timeout')

    def test_missing_command(self):
        write(os.path.join(self.w, 'missing'))
        self.d.settle()
        self.d.wait_for_log(r'^Task \d+ \(missing\) failed: ')
        self.assertTrue(self.d.alive())
        write(os.path.join(self.w, 'env'))
        self.d.settle()
        self.assertEqual(len(self.d.records()), 1, 'the daemon goes on after a command that cannot start')



SIGNALS = '''
[Watch w]
Path=@TMP@/w

[Rule status]
Watch=w
On=IN_CLOSE_WRITE
Exec=/bin/cat /proc/self/status
'''


class SignalState(DaemonTestCase):
    def test_command_starts_with_default_signals(self):
        """Whatever the daemon inherited or blocks (sd-event blocks the signals it handles), a command
        starts with an empty signal mask and no ignored signal: SIG_IGN would survive execve()."""
        d = self.daemon(SIGNALS, start=False, ignored_signals=(signal.SIGPIPE, signal.SIGUSR1, signal.SIGUSR2))
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'f'))
        d.settle()
        tid = d.task_ids('started', 'status')[0]
        fields = {}
        # The tab after the colon comes escaped in the log ("\\t", its backslash escaped once more).
        for m in d.log_matches(r'^Task %d \(status\): (Sig\w+):(?:\\+t|\s)+([0-9a-f]+)$' % tid):
            fields[m.group(1)] = int(m.group(2), 16)
        self.assertEqual(fields.get('SigBlk'), 0, 'blocked signals in the command: %r' % fields)
        # Signals 1-31. glibc's posix_spawn() (the path taken when a handler is installed, as under
        # ASan) leaves its two internal real-time signals (32, 33) ignored in every child it makes.
        self.assertEqual(fields.get('SigIgn', -1) & 0x7fffffff, 0, 'ignored signals in the command: %r' % fields)
        log('the command starts with no blocked and no ignored signal (the daemon ignored PIPE, USR1, USR2)')

if __name__ == '__main__':
    harness.main()
