#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The backend: an event reaches every one of many overlapping watches of a directory, and what changed
while the daemon was stopped is raised at the next start from the snapshot of the last stop."""

import os

from harness import DaemonTestCase, write, log

N_OVERLAP = 20


def put(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path)


def overlapping_config(n):
    parts = []
    for i in range(n):
        parts.append('''
[Watch w%d]
Path=@TMP@/shared

[Rule r%d]
Watch=w%d
On=IN_CLOSE_WRITE
Exec=@REC@ {watch} {pathname}
''' % (i, i, i))
    return ''.join(parts)


SNAPSHOT = '''
[Daemon]
StateDirectory=@TMP@/state

[Watch tree]
Path=@TMP@/w
Recursive=yes

[Rule all]
Watch=tree
On=created changed deleted
Directories=yes
Exec=@REC@ {relpath} {event}
'''


class Backend(DaemonTestCase):
    def test_overlapping_watches(self):
        d = self.daemon(overlapping_config(N_OVERLAP), start=False)
        shared = d.path('shared')
        os.mkdir(shared)
        d.start()
        f = os.path.join(shared, 'f')
        write(f)
        d.settle()
        got = sorted(r.args[0] for r in d.records() if r.args[1] == os.fsencode(f))
        want = sorted(b'w%d' % i for i in range(N_OVERLAP))
        self.assertEqual(got, want, 'one task per overlapping watch')
        log('%d watches of one directory: each saw the write' % N_OVERLAP)

    def test_snapshot_compare(self):
        d = self.daemon(SNAPSHOT, start=False)
        w = d.path('w')
        for p in ('keep', 'edit', 'gone', 'sub/keep2', 'sub/gone2', 'olddir/x'):
            put(os.path.join(w, p))
        d.start()
        d.settle()
        self.assertEqual(d.records(), [], 'nothing happened yet')
        self.assertEqual(d.stop(), 0)
        self.assertTrue(os.path.exists(d.path('state', 'snapshot-tree')), 'a clean stop saves a snapshot')

        # While stopped: new entries, a changed file, vanished ones.
        put(os.path.join(w, 'new'))
        put(os.path.join(w, 'sub/new2'))
        put(os.path.join(w, 'newdir/y'))
        os.chmod(os.path.join(w, 'edit'), 0o600)
        os.unlink(os.path.join(w, 'gone'))
        os.unlink(os.path.join(w, 'sub/gone2'))
        os.unlink(os.path.join(w, 'olddir/x'))
        os.rmdir(os.path.join(w, 'olddir'))

        # The next start, as a daemon of its own (the harness starts each once) on the same tree and state.
        d = self.daemon(SNAPSHOT.replace('@TMP@', d.tmp), start=False)
        d.start()
        d.wait_for_log(r'^Watch tree: comparing with its last snapshot\.$')
        d.settle()
        # One task per path: a new file's "created" and "changed" make one task, the later event's.
        got = {r.args[0]: r.args[1] for r in d.records()}
        want = {
            b'new': b'changed', b'sub/new2': b'changed', b'newdir/y': b'changed',
            b'newdir': b'created',
            b'edit': b'changed',
            b'gone': b'deleted', b'sub/gone2': b'deleted', b'olddir': b'deleted',
        }
        self.assertEqual(got, want, 'the differences with the snapshot, and nothing else')
        self.assertEqual(len(d.records()), len(want), 'one task each')
        # The snapshot compared with stays until a new one replaces it: a crash now would find it.
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(w), 'state', 'snapshot-tree')),
                        'the snapshot survives the start')
        log('snapshot comparison: %d events for what changed while stopped' % len(got))


if __name__ == '__main__':
    import harness
    harness.main()
