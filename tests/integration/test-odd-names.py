#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""File names with shell syntax, quotes, a newline, braces and invalid UTF-8 reach the command byte-exact
as one argument, for Action=exec and Action=shell, and nothing in them is ever run."""

import os

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch ex]
Path=@TMP@/exec

[Watch sh]
Path=@TMP@/shell

[Rule ex]
Watch=ex
On=IN_CLOSE_WRITE
Exec=@REC@ {pathname} {name}

[Rule sh]
Watch=sh
On=IN_CLOSE_WRITE
Action=shell
Exec=@REC@ "$1" "$INOTASKD_PATHNAME" "$INOTASKD_NAME"
'''

NAMES = [
    b'a b;$(touch pwned)\'"\n.txt',
    b'bad\xff\xfe.txt',
    b'`touch pwned`; touch pwned & *?[x] {pathname} {{x}} $HOME -n.txt',
]


class OddNames(DaemonTestCase):
    def check(self, rule, dirname):
        d = self.daemon(CONFIG, start=False)
        w = os.fsencode(self.fresh_dir(d, dirname))
        d.start()
        for n in NAMES:
            write(os.path.join(w, n))
        d.settle()
        got = sorted(r.args for r in d.records())
        if rule == 'ex':
            want = sorted([os.path.join(w, n), n] for n in NAMES)
        else:
            want = sorted([os.path.join(w, n), os.path.join(w, n), n] for n in NAMES)
        self.assertEqual(got, want, 'each name byte-exact as one argument, and nothing else ran')
        pwned = [os.path.join(dp, f) for dp, dn, fn in os.walk(d.tmp) for f in fn + dn if 'pwned' in f
                 and not f.startswith('a b;') and not f.startswith('`touch')]
        self.assertEqual(pwned, [], 'something in a file name was executed')
        self.assertFalse(os.path.exists(os.path.join(d.path('cwd'), 'pwned')))
        self.assertEqual(len(d.task_ids('started', rule)), len(NAMES))
        # The log shows them escaped, one line each: a newline or a byte in a name never splits a line.
        text = d.log_text()
        self.assertIn(r'\n.txt', text)
        self.assertIn(r'bad\xff\xfe.txt', text)
        self.assertFalse([l for l in d.log_lines() if l.startswith('.txt')], 'a file name split a log line')
        log('%s: %d odd names reached the command byte-exact; nothing was executed' % (rule, len(NAMES)))

    def test_exec(self):
        self.check('ex', 'exec')

    def test_shell(self):
        self.check('sh', 'shell')


if __name__ == '__main__':
    harness.main()
