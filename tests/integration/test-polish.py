#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Small things a user meets (issue 17 item 6): a [Watch x] given twice in one file is an error with
file:line (a drop-in may still extend it), an unknown group gets a did-you-mean, the reload message
counts "1 error" and "2 errors"."""

import os
import re
import signal

import harness
from harness import DaemonTestCase, log, run_inotaskd

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule r]
Watch=w
On=IN_CLOSE_WRITE
Exec=/bin/true
'''


class Groups(DaemonTestCase):
    def test_duplicate_group_in_one_file(self):
        p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/a\n\n[Watch w]\nPath=/b\n')
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 78, err)
        self.assertRegex(err, r'(?m)^/tmp/\S+/inotaskd\.conf:4: duplicate group \[Watch w\], first at line 1$')
        log('twice in one file: %s' % err.strip())

    def test_dropin_extends_a_group(self):
        p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/a\n',
                         dropins={'10-more.conf': '[Watch w]\nExclude=*.tmp\n'})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        p = run_inotaskd(['--dump-config'], config='[Watch w]\nPath=/a\n',
                         dropins={'10-more.conf': '[Watch w]\nExclude=*.tmp\n'})
        self.assertRegex(p.stdout.decode(), r'(?m)^Exclude=\*\.tmp$')
        log('a drop-in still adds Exclude= to [Watch w] of the main file')

    def test_unknown_group_did_you_mean(self):
        p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/a\n[Rlue r]\nOn=created\n')
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 78, err)
        self.assertRegex(err, r'inotaskd\.conf:3: unknown group \[Rlue r\], did you mean \[Rule r\]\?')
        log(err.strip().splitlines()[0])


class ReloadCount(DaemonTestCase):
    def test_one_error_two_errors(self):
        d = self.daemon(CONFIG, start=False)
        self.fresh_dir(d, 'w')
        d.start()
        d.write_config(CONFIG + 'Bogus=1\n')
        d.signal(signal.SIGHUP)
        d.wait_for_log(r'^Reload failed: the configuration has 1 error, keeping the running one\.$')
        d.write_config(CONFIG + 'Bogus=1\nDelaySec=forever\n')
        d.signal(signal.SIGHUP)
        d.wait_for_log(r'^Reload failed: the configuration has 2 errors, keeping the running one\.$')
        log('reload: "1 error", then "2 errors"')


if __name__ == '__main__':
    harness.main()
