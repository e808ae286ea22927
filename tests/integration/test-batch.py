#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Batch=yes: one task collects the distinct paths of its rule; {pathnames} and stdin hand them over
exactly (split at the argument limit, never truncated); MaxDelaySec= caps the postponement; a cancelled
batch runs nothing; a batch survives SIGKILL; rsync mirrors creates, changes and deletes in one run."""

import base64
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import DaemonTestCase, TIMEOUT_SCALE, log, wait_for, write
from bus_harness import BusTestCase

ODD = [b'with space', b'new\nline', b'bad\xff\xfeutf8', b'tab\there', b'quote"back\\slash']


def names(n):
    return ODD + [b'f%04d' % i for i in range(n - len(ODD))]


class Batch(DaemonTestCase):
    def test_thousand_paths_one_run(self):
        d = self.daemon('''
[Watch w]
Path=@TMP@/w

[Rule b]
Watch=w
On=IN_CLOSE_WRITE
Batch=yes
DelaySec=3
Exec=@REC@ {pathnames}
''', start=False)
        w = os.fsencode(d.path('w'))
        os.mkdir(w)
        d.start()
        files = [os.path.join(w, n) for n in names(1000)]
        t0 = time.monotonic()
        for p in files:
            write(p, 'x')
        log('1000 files written in %.2fs (DelaySec=3)' % (time.monotonic() - t0))
        d.settle(timeout=60 * TIMEOUT_SCALE)
        recs = [r for r in d.records()]
        self.assertEqual(len(recs), 1, 'one run for the whole batch')
        self.assertEqual(recs[0].args, files, 'the 1000 exact paths, in the order they came, once each')
        self.assertEqual(recs[0].env[b'INOTASKD_NPATHS'], b'1000')
        self.assertEqual(len(d.task_ids('started', rule='b')), 1)
        log('one run with %d exact paths' % len(recs[0].args))

    def test_split_at_argument_limit(self):
        d = self.daemon('''
[Watch w]
Path=@TMP@/w

[Rule b]
Watch=w
On=IN_CLOSE_WRITE
Batch=yes
DelaySec=3
Exec=@REC@ {pathnames}
''', start=False)
        # A 1 MiB stack makes the argument limit 256 KiB (a quarter): 1,500 paths of ~230 bytes need two
        # runs at least.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        d.nofile = soft
        plain_preexec = d._preexec

        def preexec():
            plain_preexec()
            resource.setrlimit(resource.RLIMIT_STACK, (1024 * 1024, resource.getrlimit(resource.RLIMIT_STACK)[1]))
        d._preexec = preexec
        w = os.fsencode(d.path('w'))
        os.mkdir(w)
        d.start()
        files = [os.path.join(w, b'%04d-' % i + b'x' * 200) for i in range(1500)]
        for p in files:
            write(p, 'x')
        d.settle(timeout=60 * TIMEOUT_SCALE)
        recs = d.records()
        got = [a for r in recs for a in r.args]
        log('1500 paths of %d bytes: %d runs of %s paths' % (len(files[0]), len(recs),
                                                             [len(r.args) for r in recs]))
        self.assertGreaterEqual(len(recs), 2, 'split into several runs')
        self.assertEqual(got, files, 'every path once, in order: nothing lost, nothing twice')
        for r in recs:
            self.assertEqual(int(r.env[b'INOTASKD_NPATHS']), len(r.args), 'INOTASKD_NPATHS is the run\'s')
        self.assertEqual(len(d.task_ids('started', rule='b')), 1, 'still one task')
        self.assertEqual(len(d.task_ids(r'finished: success', rule='b')), 1, 'its result combines the runs')

    def test_max_delay(self):
        d = self.daemon('''
[Watch w]
Path=@TMP@/w

[Rule m]
Watch=w
On=IN_CLOSE_WRITE
DelaySec=1
MaxDelaySec=2
Exec=@REC@ {pathname}
''', start=False)
        w = d.path('w')
        os.mkdir(w)
        d.start()
        target = os.path.join(w, 'busy')
        t0 = time.monotonic()
        write(target, '0')
        # Rewritten every 100 ms for 4 s: without the cap the delay would restart each time.
        while time.monotonic() - t0 < 4 and not d.records():
            write(target, 'x')
            time.sleep(0.1)
        recs = d.wait_records(1)
        ran = float(recs[0].meta[b'time']) - t0
        tolerance = 0.5 * TIMEOUT_SCALE
        log('rewritten every 100 ms: first run %.2fs after the first write (cap 2s, tolerance %.2fs)'
            % (ran, tolerance))
        self.assertGreaterEqual(ran, 1.9, 'postponed by the rewrites until the cap')
        self.assertLessEqual(ran, 2 + tolerance, 'ran within MaxDelaySec=2')

    def test_json_stdin_round_trip(self):
        d = self.daemon('''
[Watch w]
Path=@TMP@/w

[Rule j]
Watch=w
On=IN_CLOSE_WRITE IN_DELETE
Batch=yes
DelaySec=2
StandardInput=json
Exec=/bin/sh -c 'cat > "$0"; echo "$INOTASKD_NPATHS $INOTASKD_NDELETED" >> "$0.n"' @TMP@/json.out
''', start=False)
        w = os.fsencode(d.path('w'))
        os.mkdir(w)
        write(os.path.join(w, b'gone'), 'x')
        d.start()
        for n in ODD:
            write(os.path.join(w, n), 'x')
        os.unlink(os.path.join(w, b'gone'))
        d.settle()
        with open(d.path('json.out'), 'rb') as f:
            lines = f.read().splitlines()
        objs = [json.loads(l) for l in lines]
        paths = [base64.b64decode(o['path_base64']) if 'path_base64' in o else os.fsencode(o['path'])
                 for o in objs]
        self.assertEqual(paths, [os.path.join(w, n) for n in ODD] + [os.path.join(w, b'gone')])
        rels = [base64.b64decode(o['relpath_base64']) if 'relpath_base64' in o else os.fsencode(o['relpath'])
                for o in objs]
        self.assertEqual(rels, ODD + [b'gone'])
        self.assertEqual([o['deleted'] for o in objs], [False] * len(ODD) + [True])
        self.assertIn('path_base64', objs[2], 'invalid UTF-8 comes with its exact bytes')
        self.assertNotIn('path_base64', objs[0], 'valid UTF-8 needs no base64')
        with open(d.path('json.out.n')) as f:
            self.assertEqual(f.read().split(), [str(len(ODD) + 1), '1'])
        log('json: %d objects, exact bytes back, one deleted: %r' % (len(objs), lines[2]))

    def test_stdin_not_read(self):
        """A task that never reads its stdin (a list larger than the pipe) does not hold the daemon up:
        events are still handled while it runs, and once it exits the rest is dropped (EPIPE)."""
        d = self.daemon('''
[Watch w]
Path=@TMP@/w

[Rule b]
Watch=w
On=IN_CLOSE_WRITE
Batch=yes
DelaySec=1
StandardInput=paths
Exec=/bin/sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done' @TMP@/gate
''', start=False)
        w = d.path('w')
        os.mkdir(w)
        d.start()
        for i in range(2000):
            write(os.path.join(w, 'a-rather-long-file-name-to-fill-the-pipe-%05d' % i), 'x')
        d.wait_for_log(r'^Task \d+ \(b\) started: ', timeout=30 * TIMEOUT_SCALE)
        # ~170 KB of paths, the pipe takes 64 KB: a blocking write would stop the loop here.
        d.sync()
        log('events handled while the task ignores its stdin (%d bytes of paths)' % (2000 * 82))
        write(d.path('gate'), 'x')
        d.wait_for_log(r'^Task \d+ \(b\) finished: success\.$')
        self.assertTrue(d.alive())

    @unittest.skipUnless(shutil.which('rsync'), 'rsync is not installed')
    def test_rsync_mirror(self):
        d = self.daemon('''
[Watch src]
Path=@TMP@/src
Recursive=yes

[Rule mirror]
Watch=src
On=IN_CLOSE_WRITE IN_DELETE IN_MOVED_TO IN_MOVED_FROM
Batch=yes
DelaySec=2
StandardInput=relpaths-nul
Exec=/usr/bin/rsync -a --delete-missing-args --files-from=- --from0 @TMP@/src/ @TMP@/dst/
''', start=False)
        src, dst = d.path('src'), d.path('dst')
        for sub in ('a', 'b'):
            os.makedirs(os.path.join(src, sub))
            for i in range(20):
                write(os.path.join(src, sub, 'f%d' % i), 'old %d' % i)
        subprocess.run(['rsync', '-a', src + '/', dst + '/'], check=True)
        d.start()
        for i in range(10):
            write(os.path.join(src, 'a', 'new%d' % i), 'new %d' % i)      # creates
            write(os.path.join(src, 'b', 'f%d' % i), 'changed %d' % i)    # changes
            os.unlink(os.path.join(src, 'a', 'f%d' % i))                  # deletes
        os.rename(os.path.join(src, 'b', 'f19'), os.path.join(src, 'b', 'renamed'))
        write(os.path.join(src, 'odd name\n'), 'odd')
        d.settle()
        self.assertEqual(len(d.task_ids('started', rule='mirror')), 1, 'one rsync for the batch')
        self.assertEqual(len(d.task_ids('finished: success', rule='mirror')), 1)
        p = subprocess.run(['diff', '-r', src, dst], capture_output=True)
        self.assertEqual(p.returncode, 0, 'mirror identical: %s' % p.stdout[-2000:])
        log('one rsync mirrored 11 creates, 10 changes, 10 deletes and a rename: trees identical')

    @unittest.skipUnless(shutil.which('rsync'), 'rsync is not installed')
    def test_example_mirror(self):
        """data/examples/inorun-ubuntu-mirror-batch.conf: one rsync per node per batch; both mirrors
        identical after the initial full copy and after a batch of creates, changes, deletes, a rename."""
        with open(os.path.join(os.environ.get('SRCDIR') or os.path.join(os.path.dirname(__file__), '..', '..'),
                               'data', 'examples', 'inorun-ubuntu-mirror-batch.conf')) as f:
            text = f.read()
        for old, new in (('/repo/ubuntu', '@TMP@/repo'), ('rsync://{item}/ubuntu/', '@TMP@/nodes/{item}/'),
                         ('DelaySec=10\n', 'DelaySec=1\n')):
            self.assertIn(old, text)
            text = text.replace(old, new)
        d = self.daemon(text, start=False)
        repo = d.path('repo')
        for sub in ('dists', 'pool/main'):
            os.makedirs(os.path.join(repo, sub))
        for i in range(30):
            write(os.path.join(repo, 'pool/main', 'p%d.deb' % i), 'v1 %d' % i)
        write(os.path.join(repo, 'dists', 'Release'), 'r1')
        os.mkdir(d.path('nodes'))
        d.start()
        d.settle()
        nodes = [d.path('nodes', n) for n in ('10.0.0.2', '10.0.0.3')]

        def identical():
            return all(subprocess.run(['diff', '-r', repo, n], capture_output=True).returncode == 0
                       for n in nodes)
        self.assertTrue(identical(), 'the initial batch is a full copy to both nodes')
        self.assertEqual(len(d.task_ids('started', rule='mirror')), 2, 'one rsync per node')
        for i in range(10):
            write(os.path.join(repo, 'pool/main', 'n%d.deb' % i), 'new')
            write(os.path.join(repo, 'pool/main', 'p%d.deb' % i), 'v2')
            os.unlink(os.path.join(repo, 'pool/main', 'p%d.deb' % (20 + i)))
        os.rename(os.path.join(repo, 'dists', 'Release'), os.path.join(repo, 'dists', 'Release.old'))
        d.settle()
        self.assertTrue(identical(), 'both mirrors follow creates, changes, deletes and a rename')
        self.assertEqual(len(d.task_ids('started', rule='mirror')), 4, 'one more rsync per node')
        # A directory renamed within the tree: one path each way, its contents copied by rsync -r.
        os.rename(os.path.join(repo, 'pool', 'main'), os.path.join(repo, 'pool', 'universe'))
        d.settle()
        self.assertTrue(identical(), 'both mirrors follow a renamed directory with its 30 files')
        self.assertEqual(len(d.task_ids('started', rule='mirror')), 6, 'one more rsync per node')
        log('batched mirror example: 2 nodes, 3 batches, 6 rsync runs, mirrors identical (a directory rename too)')

    def test_restored_after_sigkill(self):
        base = tempfile.mkdtemp(prefix='inotaskd-batch.', dir='/tmp')
        self.addCleanup(shutil.rmtree, base, True)
        w = os.path.join(base, 'w')
        os.mkdir(w)
        config = '''
[Daemon]
StateDirectory=%s/state

[Watch w]
Path=%s

[Rule b]
Watch=w
On=IN_CLOSE_WRITE
Batch=yes
DelaySec=4
Exec=@REC@ {pathnames}
''' % (base, w)
        d = self.daemon(config)
        files = [os.path.join(os.fsencode(w), n) for n in names(50)]
        for p in files:
            write(p, 'x')
        d.sync()
        tasks = os.path.join(base, 'state', 'tasks')

        def saved():
            try:
                with open(tasks, 'rb') as f:
                    return f.read().count(b'\tbpath=') == 50
            except FileNotFoundError:
                return False
        wait_for(saved, what='the batch of 50 in the tasks file')
        d.signal(signal.SIGKILL)
        d.wait_exit()
        self.assertEqual(d.records(), [], 'not run before the kill')
        d2 = self.daemon(config)
        recs = d2.wait_records(1, timeout=30 * TIMEOUT_SCALE)
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0].args, files, 'the restored batch has its 50 exact paths')
        log('after SIGKILL: the batch ran once with its %d paths' % len(recs[0].args))


class BatchBus(BusTestCase):
    def busctl(self, *args):
        p = subprocess.run(['busctl', '--user'] + list(args), capture_output=True, text=True,
                           env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_cancel_and_properties(self):
        d = self.daemon('''
[Watch w]
Path=@TMP@/w

[Rule b]
Watch=w
On=IN_CLOSE_WRITE
Batch=yes
DelaySec=60
Exec=@REC@ {pathnames}
''', start=False)
        w = d.path('w')
        os.mkdir(w)
        d.start()
        for i in range(30):
            write(os.path.join(w, 'f%d' % i), 'x')
        d.sync()
        ids = d.task_ids('scheduled for ')
        self.assertEqual(len(ids), 2, 'one batch (and the marker): %r' % ids)
        tid = [i for i in ids if i in d.task_ids('scheduled for ', rule='b')][0]
        obj = '/org/inotaskd1/task/%d' % tid
        out = self.busctl('get-property', 'org.inotaskd1', obj, 'org.inotaskd1.Task', 'NPaths')
        self.assertEqual(out.split(), ['u', '30'])
        out = self.busctl('--json=short', 'get-property', 'org.inotaskd1', obj, 'org.inotaskd1.Task', 'Paths')
        paths = [bytes(p) for p in json.loads(out)['data']]
        self.assertEqual(paths, [os.fsencode(os.path.join(w, 'f%d' % i)) for i in range(30)])
        out = self.busctl('call', 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager', 'ListTasks')
        self.assertIn('f0 (+29)', out, 'ListTasks shows the first path and the count')
        self.busctl('call', 'org.inotaskd1', obj, 'org.inotaskd1.Task', 'Cancel')
        d.wait_for_log(r'^Task %d \(b\) cancelled' % tid)
        # The batch takes no more paths once cancelled: a new file makes a new batch, triggered now.
        write(os.path.join(w, 'late'), 'x')
        d.sync()
        new = [i for i in d.task_ids('scheduled for ', rule='b') if i != tid]
        self.assertEqual(len(new), 1)
        self.busctl('call', 'org.inotaskd1', '/org/inotaskd1/task/%d' % new[0], 'org.inotaskd1.Task', 'Trigger')
        recs = d.wait_records(1)
        d.settle()
        self.assertEqual([r.args for r in d.records()], [[os.fsencode(os.path.join(w, 'late'))]],
                         'the cancelled batch ran nothing; the triggered one its one path')
        log('cancelled batch of 30 ran nothing; NPaths, Paths and ListTasks "(+29)" as expected')


if __name__ == '__main__':
    harness.main()
