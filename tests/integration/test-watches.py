#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Watches: InitialEvent= for every existing entry at start, Exclude= globs, and a single-file watch that
survives an editor's save-by-rename."""

import os

import harness
from harness import DaemonTestCase, write, log

INITIAL = '''
[Watch tree]
Path=@TMP@/w
Recursive=yes
InitialEvent=exists
Exclude=*.part

[Rule all]
Watch=tree
On=exists
Files=yes
Directories=yes
Exec=@REC@ {pathname} {event}
'''

EXCLUDE = '''
[Watch tree]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes
Exclude=*.part .*

[Rule f]
Watch=tree
On=IN_CLOSE_WRITE IN_MOVED_TO
Directories=yes
Exec=@REC@ {pathname}
'''

SINGLE = '''
[Watch conf]
Path=@TMP@/etc/app.conf

[Rule reload]
Watch=conf
On=IN_CLOSE_WRITE IN_MOVED_TO
Exec=@REC@ {pathname} {maskname}
'''


class Watches(DaemonTestCase):
    def test_initial_event_exists(self):
        d = self.daemon(INITIAL, start=False)
        w = self.fresh_dir(d, 'w')
        entries = ['f1', 'sub', 'sub/f2', 'sub/deeper', 'sub/deeper/f3', 'sub/deeper/f4']
        for e in entries:
            p = os.path.join(w, e)
            if '.' in os.path.basename(e) or os.path.basename(e).startswith('f'):
                write(p)
            else:
                os.makedirs(p)
        write(os.path.join(w, 'sub', 'skip.part'))
        d.start()
        d.settle()
        # The watched directory itself may have its own "exists" (Directories=yes): allowed, not required.
        got = sorted(r.args[0] for r in d.records() if r.args[0] != os.fsencode(w))
        want = sorted(os.fsencode(os.path.join(w, e)) for e in entries)
        self.assertEqual(got, want, 'one task per existing entry, excluded ones left out')
        self.assertEqual({r.args[1] for r in d.records()}, {b'exists'})
        log('InitialEvent=exists: a task for each of the %d existing entries' % len(entries))

    def test_exclude(self):
        d = self.daemon(EXCLUDE, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        names = ('keep.txt', 'upload.part', '.hidden', 'sub/.cache/x', 'sub/ok', '.git/objects/ab')
        for n in names:
            os.makedirs(os.path.dirname(os.path.join(w, n)), exist_ok=True)
        d.sync()        # (a file written while its new directory is scanned may be reported twice)
        for n in names:
            write(os.path.join(w, n))
        write(os.path.join(w, 'tmp.part'))
        os.rename(os.path.join(w, 'tmp.part'), os.path.join(w, 'done.txt'))
        d.settle()
        got = sorted(r.args[0] for r in d.records())
        self.assertEqual(got,
                         sorted(os.fsencode(os.path.join(w, n)) for n in ('keep.txt', 'sub/ok', 'done.txt')),
                         'excluded names (and everything below an excluded directory) never run')
        log('Exclude=*.part .*: only the other names ran')

    def test_single_file_save_by_rename(self):
        d = self.daemon(SINGLE, start=False)
        etc = self.fresh_dir(d, 'etc')
        conf = os.path.join(etc, 'app.conf')
        write(conf, 'v0')
        d.start()
        for i in range(1, 4):
            # An editor's save: write a temporary file, rename it over the original.
            tmp = os.path.join(etc, '.app.conf.swp')
            write(tmp, 'v%d' % i)
            os.rename(tmp, conf)
            d.settle()
            recs = d.records()
            self.assertEqual(len(recs), i, 'save %d by rename seen' % i)
            self.assertEqual(recs[-1].args, [os.fsencode(conf), b'IN_MOVED_TO'])
        write(conf, 'in place')
        write(os.path.join(etc, 'other.conf'))
        d.settle()
        recs = d.records()
        self.assertEqual([r.args for r in recs[3:]], [[os.fsencode(conf), b'IN_CLOSE_WRITE']],
                         'an in-place write is seen, a sibling file is not')
        log('single-file watch: three saves by rename and one in-place write seen, the sibling ignored')


if __name__ == '__main__':
    harness.main()
