#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""org.freedesktop.LogControl1 through busctl on a private bus (what systemctl service-log-level and
service-log-target call): LogLevel and LogTarget read and written, the level kept over a reload, bad
values refused with InvalidArgs, SyslogIdentifier, and a write by an unprivileged caller refused (no
polkit on this bus) while reading stays open."""

import os
import shutil
import subprocess

import harness
from harness import DEFAULT_TIMEOUT, log, write
from bus_harness import BusTestCase

LC = ['org.inotaskd1', '/org/freedesktop/LogControl1', 'org.freedesktop.LogControl1']
NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--']

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule r]
Watch=w
On=IN_CLOSE_WRITE
Exec=/bin/true
'''


class LogControl(BusTestCase):
    def setUp(self):
        super().setUp()
        if not shutil.which('busctl'):
            self.skipTest('busctl (package systemd) is not installed')

    def busctl(self, *args, prefix=(), check=True):
        p = subprocess.run(list(prefix) + ['busctl', '--user'] + list(args), capture_output=True, text=True,
                           env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError('busctl %s failed: %s' % (' '.join(args), p.stderr))
        return p

    def get(self, prop, prefix=()):
        return self.busctl('get-property', *LC, prop, prefix=prefix).stdout.strip()

    def set(self, prop, value, prefix=(), check=True):
        return self.busctl('set-property', *LC, prop, 's', value, prefix=prefix, check=check)

    def test_level_target_identifier(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        self.assertEqual(self.get('LogLevel'), 's "debug"')       # the harness runs it with -v
        self.assertEqual(self.get('LogTarget'), 's "console"')
        self.assertEqual(self.get('SyslogIdentifier'), 's "inotaskd"')

        # Down to info: the task's debug line ("scheduled for") is gone, its info lines stay.
        self.set('LogLevel', 'info')
        self.assertEqual(self.get('LogLevel'), 's "info"')
        d.wait_for_log(r'^Log level set to info through org.freedesktop.LogControl1\.$')
        write(os.path.join(w, 'quiet'))
        d.wait_for_log(r'^Task \d+ \(r\) finished: success\.$')
        self.assertEqual(d.log_matches(r'^Task \d+ \(r\) scheduled for .*/quiet\.$'), [])

        # A reload keeps it (the files say nothing of LogLevel=, which means info; -v said debug).
        self.set('LogLevel', 'notice')
        self.busctl('call', 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager', 'Reload')
        self.assertEqual(self.get('LogLevel'), 's "notice"')

        self.set('LogLevel', 'debug')
        write(os.path.join(w, 'loud'))
        d.wait_for_log(r'^Task \d+ \(r\) scheduled for .*/loud\.$')

        # The target: prefixed lines from now on, then plain again.
        self.set('LogTarget', 'console-prefixed')
        self.assertEqual(self.get('LogTarget'), 's "console-prefixed"')
        d.wait_for_log(r'^<6>Log target set to console-prefixed through org.freedesktop.LogControl1\.$')
        self.set('LogTarget', 'console')
        d.wait_for_log(r'^Log target set to console through ')

        for prop, bad in (('LogLevel', 'loud'), ('LogTarget', 'syslog-or-what')):
            p = self.set(prop, bad, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn('Invalid log', p.stderr)
        self.assertEqual(self.get('LogLevel'), 's "debug"')
        log('LogLevel debug -> info -> notice (kept over Reload) -> debug, LogTarget console-prefixed and '
            'back, bad values refused')

    def test_unprivileged_refused(self):
        if os.geteuid() != 0 or not shutil.which('setpriv'):
            self.skipTest('needs root and setpriv to call as another user')
        self.daemon(CONFIG)
        self.assertEqual(self.get('LogLevel', prefix=NOBODY), 's "debug"')
        p = self.set('LogLevel', 'emerg', prefix=NOBODY, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr, r'(?i)access denied|not authorized|interactive authorization')
        self.assertEqual(self.get('LogLevel'), 's "debug"', 'the level changed by an unprivileged caller')
        p = self.set('LogTarget', 'null', prefix=NOBODY, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.get('LogTarget'), 's "console"')
        log('uid 65534: reads LogLevel, its Set is refused: %s' % p.stderr.strip()[:80])


if __name__ == '__main__':
    harness.main()
