#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The command line: exit codes (0 / 64 / 78), --check-config listing every error as
FILE:LINE: KEY: message, --dump-config printing the merged main file and conf.d drop-ins."""

import os
import re

import harness
from harness import run_inotaskd, log

BAD = '''[Daemon]
ShutdownTimeoutSec=forever
Bogus=1

[Watch w]
Path=relative/path

[Rule r]
Watch=w
On=IN_NOPE
Exec=/bin/echo {pathnme}
DelaySec=abc
'''

# (line, key) of every error in BAD
BAD_ERRORS = [(2, 'ShutdownTimeoutSec'), (3, 'Bogus'), (6, 'Path'), (10, 'On'), (11, 'Exec'),
              (12, 'DelaySec')]

GOOD = '''[Watch w]
Path=@TMP@

[Rule echo]
Watch=w
On=IN_CLOSE_WRITE
DelaySec=1
Exec=/bin/echo {pathname}
'''


class Cli(harness.unittest.TestCase):
    def test_version(self):
        p = run_inotaskd(['--version'])
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r'^inotaskd \d+\.\d+')
        log('--version: 0, %r' % p.stdout.decode().strip())

    def test_help(self):
        p = run_inotaskd(['--help'])
        self.assertEqual(p.returncode, 0)
        self.assertIn('--check-config', p.stdout.decode())

    def test_bad_command_line(self):
        for args in (['--no-such-option'], ['stray-argument'], ['--log-target=nowhere'], ['-c'], ['-v', '-v'], ['-vv']):
            p = run_inotaskd(args)
            self.assertEqual(p.returncode, 64, '%r -> %d, stderr %r' % (args, p.returncode, p.stderr))
            self.assertTrue(p.stderr, 'a message on stderr for %r' % args)
        log('bad command lines: 64')

    def test_check_config_every_error(self):
        p = run_inotaskd(['--check-config'], config=BAD)
        self.assertEqual(p.returncode, 78, p.stderr.decode())
        err = p.stderr.decode()
        conf = os.path.join(p.tmp, 'inotaskd.conf')
        for line, key in BAD_ERRORS:
            self.assertRegex(err, r'(?m)^%s:%d: %s: \S' % (re.escape(conf), line, key),
                             'error for line %d %s= listed' % (line, key))
        log('--check-config: 78, every error as FILE:LINE: KEY: message:\n' + err)

    def test_unknown_group(self):
        p = run_inotaskd(['--check-config'], config=GOOD + '\n[Frob x]\n')
        self.assertEqual(p.returncode, 78)
        self.assertRegex(p.stderr.decode(), r'inotaskd\.conf:\d+: .*Frob')

    def test_check_config_good(self):
        p = run_inotaskd(['--check-config'], config=GOOD)
        self.assertEqual(p.returncode, 0, p.stderr.decode())

    def test_daemon_exits_78_on_bad_config(self):
        p = run_inotaskd(['--log-target=console'], config=BAD)
        self.assertEqual(p.returncode, 78, p.stderr.decode())
        self.assertRegex(p.stderr.decode(), r'inotaskd\.conf:12: DelaySec: ')
        log('starting with a bad config: 78')

    def test_error_in_dropin_names_dropin(self):
        p = run_inotaskd(['--check-config'], config=GOOD,
                         dropins={'50-bad.conf': '[Rule echo]\nDelaySec=x\n'})
        self.assertEqual(p.returncode, 78)
        self.assertRegex(p.stderr.decode(), r'(?m)^%s:2: DelaySec: ' % re.escape(
            os.path.join(p.tmp, 'conf.d', '50-bad.conf')))

    def test_dump_config_merged(self):
        p = run_inotaskd(['--dump-config'], config=GOOD, dropins={
            '10-delay.conf': '[Rule echo]\nDelaySec=5min\n',
            '20-later.conf': '[Rule echo]\nDelaySec=7\n',
            '15-extra.conf': '[Rule extra]\nWatch=w\nOn=deleted\nExec=/bin/true\n',
        })
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = p.stdout.decode()
        sections = dict(re.findall(r'(?ms)^\[([^\]]+)\]\n(.*?)(?=^\[|\Z)', out))
        self.assertIn('Rule echo', sections)
        self.assertIn('Rule extra', sections)
        self.assertRegex(sections['Rule echo'], r'(?m)^DelaySec=7s?$', 'the later drop-in wins')
        self.assertRegex(sections['Rule echo'], r'(?m)^Exec=/bin/echo \{pathname\}$', 'main file keys kept')
        log('--dump-config merged main file and drop-ins (later name wins)')
        # What it prints is itself a valid configuration.
        p2 = run_inotaskd(['--check-config'], config=out)
        self.assertEqual(p2.returncode, 0, p2.stderr.decode())

    def test_time_spans(self):
        conf = GOOD.replace('DelaySec=1', 'DelaySec=1h 30s\nTimeoutSec=5min').replace(
            '[Watch w]', '[Daemon]\nShutdownTimeoutSec=90\n\n[Watch w]')
        p = run_inotaskd(['--dump-config'], config=conf)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = p.stdout.decode()
        self.assertRegex(out, r'(?m)^DelaySec=1h 30s$')
        self.assertRegex(out, r'(?m)^TimeoutSec=5min$')
        self.assertRegex(out, r'(?m)^ShutdownTimeoutSec=1min 30s$')
        log('time spans: "1h 30s", "5min", "90" parsed like systemd')

    def test_inotaskd_config_env(self):
        p = run_inotaskd(['--dump-config'], files={'elsewhere/main.conf': GOOD},
                         env={'INOTASKD_CONFIG': '@TMP@/elsewhere/main.conf'})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn('[Rule echo]', p.stdout.decode())
        log('INOTASKD_CONFIG names the main file')

    def test_dropins_beside_main_file(self):
        # -c FILE without INOTASKD_CONFIG_DIR: the drop-ins come from conf.d beside FILE.
        p = run_inotaskd(['--dump-config', '-c', 'etc/main.conf'],
                         files={'etc/main.conf': GOOD, 'etc/conf.d/10-x.conf': '[Rule echo]\nDelaySec=42\n'},
                         env={'INOTASKD_CONFIG_DIR': None})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertRegex(p.stdout.decode(), r'(?m)^DelaySec=42s$')
        log('-c FILE reads FILE\'s conf.d/')

    def test_user_mode_xdg(self):
        p = run_inotaskd(['--user', '--dump-config'],
                         files={'xdg/inotaskd/inotaskd.conf': GOOD,
                                'xdg/inotaskd/conf.d/10-x.conf': '[Rule echo]\nDelaySec=43\n'},
                         env={'INOTASKD_CONFIG_DIR': None, 'XDG_CONFIG_HOME': '@TMP@/xdg'})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn('[Rule echo]', p.stdout.decode())
        self.assertRegex(p.stdout.decode(), r'(?m)^DelaySec=43s$')
        log('--user reads $XDG_CONFIG_HOME/inotaskd/inotaskd.conf and its conf.d/')


if __name__ == '__main__':
    harness.main()
