#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Rules: ForEach= (one task per item, {item}), MatchRegex= named groups as placeholders, Match= globs,
and the placeholders a command receives."""

import os

import harness
from harness import DaemonTestCase, write, log

FOREACH = '''
[Watch w]
Path=@TMP@/w

[Rule fan]
Watch=w
On=IN_CLOSE_WRITE
ForEach=alpha beta gamma
Exec=@REC@ {item} {pathname} {task_id}
'''

# In MatchRegex= a brace is regex syntax; only Exec= treats braces as placeholders.
REGEX = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule byyear]
Watch=w
On=IN_CLOSE_WRITE
MatchRegex=^.*/(?P<year>[0-9]{4})/(?P<stem>[^/]+)\\.csv$
Exec=@REC@ {year} {stem} {pathname}

[Rule glob]
Watch=w
On=IN_CLOSE_WRITE
Match=*.log
Exec=@REC@ glob {name} {dir} {relpath} {watch} {watch_path} {rule} {event} {maskname}
'''


class Rules(DaemonTestCase):
    def test_foreach(self):
        d = self.daemon(FOREACH, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        f = os.path.join(w, 'file')
        write(f)
        d.settle()
        recs = d.records()
        self.assertEqual(sorted(r.args[:2] for r in recs),
                         [[b'alpha', os.fsencode(f)], [b'beta', os.fsencode(f)], [b'gamma', os.fsencode(f)]],
                         'one task per ForEach= item')
        self.assertEqual(len({r.args[2] for r in recs}), 3, 'three tasks, three ids')
        self.assertEqual(sorted(r.env.get(b'INOTASKD_ITEM') for r in recs), [b'alpha', b'beta', b'gamma'])
        log('ForEach=alpha beta gamma: three tasks with {item}')

    def test_match_regex_groups_and_glob(self):
        d = self.daemon(REGEX, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        names = ('2024/data.csv', 'abcd/x.csv', '2023/y.txt', '12345/z.csv', 'logs/app.log')
        for n in names:
            os.makedirs(os.path.dirname(os.path.join(w, n)), exist_ok=True)
        # The directories are watched before the files appear: a file written while its new directory is
        # being scanned may be reported twice (scan and event), which is not what this test is about.
        d.sync()
        for n in names:
            write(os.path.join(w, n))
        d.settle()
        recs = [r for r in d.records() if r.args[0] != b'glob']
        self.assertEqual([r.args for r in recs],
                         [[b'2024', b'data', os.fsencode(os.path.join(w, '2024/data.csv'))]],
                         'only the matching path ran, with its named groups')
        self.assertEqual(recs[0].env.get(b'INOTASKD_MATCH_YEAR'), b'2024')
        log('MatchRegex= named groups reach Exec= as {year} {stem}')
        globs = [r.args for r in d.records() if r.args[0] == b'glob']
        logdir = os.path.join(w, 'logs')
        self.assertEqual(len(globs), 1, 'Match=*.log: one run, for app.log: %r' % globs)
        g = globs[0]
        self.assertEqual(g[:7], [b'glob', b'app.log', os.fsencode(logdir), b'logs/app.log', b'w',
                                 os.fsencode(w), b'glob'])
        self.assertEqual(g[8], b'IN_CLOSE_WRITE')
        self.assertTrue(g[7], '{event} is not empty')
        log('Match=*.log, and {name} {dir} {relpath} {watch} {watch_path} {rule} {event} {maskname}: %r'
            % g[1:])


if __name__ == '__main__':
    harness.main()
