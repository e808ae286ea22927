#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SIGHUP reloads: a broken configuration is reported (file:line: key: message) and the running one is
kept; a good one replaces it. RELOADING=1 and READY=1 go to the notify socket."""

import os
import re
import signal

import harness
from harness import DaemonTestCase, write, log

GOOD = '''
[Watch w]
Path=@TMP@/w

[Rule old]
Watch=w
On=IN_CLOSE_WRITE
Exec=@REC@ old {pathname}
'''

BROKEN = '''
[Watch w]
Path=@TMP@/w

[Rule old]
Watch=w
On=IN_CLOSE_WRITE
DelaySec=soon
Exec=@REC@ broken {pathname}
Frobnicate=yes
'''

CHANGED = '''
[Watch w]
Path=@TMP@/w

[Rule new]
Watch=w
On=IN_CLOSE_WRITE
Exec=@REC@ new {pathname}
'''


def line_of(path, text):
    with open(path) as f:
        for i, l in enumerate(f, 1):
            if l.rstrip('\n') == text:
                return i
    raise AssertionError('%r not in %s' % (text, path))


class Reload(DaemonTestCase):
    def reload(self, d):
        start = len(d.notify_messages())
        d.signal(signal.SIGHUP)
        i = d.wait_notify(r'^RELOADING=1$', start)
        d.wait_notify(r'^READY=1$', i + 1)

    def test_broken_then_good(self):
        d = self.daemon(GOOD, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'one'))
        d.settle()
        self.assertEqual([r.args[0] for r in d.records()], [b'old'])

        d.write_config(BROKEN)
        self.reload(d)
        conf = re.escape(d.config_path)
        m = d.wait_for_log(r'^%s:(\d+): DelaySec: (.+)$' % conf)[0]
        self.assertEqual(int(m.group(1)), line_of(d.config_path, 'DelaySec=soon'))
        m = d.wait_for_log(r'^%s:(\d+): Frobnicate: (.+)$' % conf)[0]
        self.assertEqual(int(m.group(1)), line_of(d.config_path, 'Frobnicate=yes'))
        log('broken reload reported as FILE:LINE: KEY: message, e.g. %r' % m.group(0))
        self.assertTrue(d.alive(), 'the daemon survives a broken reload')

        write(os.path.join(w, 'two'))
        d.settle()
        self.assertEqual([r.args[0] for r in d.records()], [b'old', b'old'], 'the old rule still fires')
        log('old rule still fires after the broken reload')

        d.write_config(CHANGED)
        self.reload(d)
        d.wait_for_log(r'^Configuration reloaded')
        write(os.path.join(w, 'three'))
        d.settle()
        recs = [r.args for r in d.records()]
        self.assertEqual(recs[2:], [[b'new', os.fsencode(os.path.join(w, 'three'))]], 'the new rule applies')
        self.assertEqual(len(recs), 3, 'and only the new rule')
        self.assertEqual(d.stop(), 0)
        log('good reload: the new rule applies, the old one is gone')

    def test_reload_keeps_scheduled_task(self):
        # A task waiting in its delay survives a broken reload (issue: "keeping ... scheduled tasks").
        conf = GOOD.replace('On=IN_CLOSE_WRITE', 'On=IN_CLOSE_WRITE\nDelaySec=2')
        d = self.daemon(conf, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'waiting'))
        d.wait_for_log(r'^Task \d+ \(old\) scheduled for ')
        d.write_config(BROKEN)
        self.reload(d)
        d.settle()
        self.assertEqual([r.args for r in d.records()], [[b'old', os.fsencode(os.path.join(w, 'waiting'))]])
        lines = d.log_lines()
        failed = [i for i, l in enumerate(lines) if 'Reload failed' in l]
        started = [i for i, l in enumerate(lines) if re.search(r'Task \d+ \(old\) started', l)]
        self.assertTrue(failed and started and failed[0] < started[0], 'the reload came while it waited')
        log('a scheduled task survived the broken reload and ran')


if __name__ == '__main__':
    harness.main()
