#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Durable file actions: a copy is fsync'ed (the file before its rename into place, the directory after
it) and a move across file systems deletes its source only after that; a file action that runs out of
file descriptors waits and retries instead of failing."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import harness
from harness import DEFAULT_TIMEOUT, DaemonTestCase, wait_for, write

COPY = r'''
[Daemon]
MaxRunningTasks=%d

[Watch w]
Path=@TMP@/w

[Rule copy]
Watch=w
On=IN_CLOSE_WRITE
Match=f*
Action=copy
Source=^@TMP@/w/(?P<name>[^/]+)$
Destination=%s/\g<name>
'''

MOVE = r'''
[Watch w]
Path=@TMP@/w

[Rule move]
Watch=w
On=IN_CLOSE_WRITE
Match=f*
Action=move
Source=^@TMP@/w/(?P<name>[^/]+)$
Destination=%s/\g<name>
'''

# Two rules onto one destination name, Overwrite=yes: "NAME.a" and "NAME.b" both go to dst/NAME.
ONTO_ONE = r'''
[Daemon]
MaxRunningTasks=16

[Watch w]
Path=@TMP@/w

[Rule a]
Watch=w
On=IN_CLOSE_WRITE
Action=copy
Source=^@TMP@/w/(?P<name>[^/]+)\.a$
Destination=@TMP@/dst/\g<name>
Overwrite=yes

[Rule b]
Watch=w
On=IN_CLOSE_WRITE
Action=move
Source=^@TMP@/w/(?P<name>[^/]+)\.b$
Destination=@TMP@/dst/\g<name>
Overwrite=yes
'''


def other_file_system(tmp):
    """A directory on another file system than tmp (/dev/shm is a tmpfs), or None."""
    for base in ('/dev/shm', '/run/user/%d' % os.getuid(), '/var/tmp'):
        try:
            if os.path.isdir(base) and os.stat(base).st_dev != os.stat(tmp).st_dev:
                return tempfile.mkdtemp(prefix='inotaskd-xfs.', dir=base)
        except OSError:
            continue
    return None


class Durable(DaemonTestCase):
    def test_overwrite_between_parallel_tasks(self):
        """Overwrite=yes replaces what another task put at the name after this one looked: 200 pairs of
        a copy and a move onto one name each, run in parallel worker threads, all succeed (before, one
        that found the name free refused it with "File exists" once the other had made it)."""
        d = self.daemon(ONTO_ONE, start=False)
        w = self.fresh_dir(d, 'w')
        self.fresh_dir(d, 'dst')
        d.start()
        for i in range(200):
            write(os.path.join(w, 'n%03d.a' % i), b'a')
            write(os.path.join(w, 'n%03d.b' % i), b'b')
        d.settle(timeout=DEFAULT_TIMEOUT * 3)
        failed = d.task_ids('failed')
        why = [m.group(1) for m in d.log_matches(r'^(?:warning: )?Task \d+ \([ab]\): (.*)$')]
        harness.log('%d of 400 tasks failed%s' % (len(failed), ' (first: %s)' % why[0] if why else ''))
        self.assertEqual(failed, [], why[:3])
        self.assertEqual(len(d.task_ids(r'finished: success\.', 'a')) + len(d.task_ids(r'finished: success\.', 'b')),
                         400)

    def test_copies_wait_for_file_descriptors(self):
        """100 copies with the daemon's soft RLIMIT_NOFILE at 14 (it has 9 open when idle; a copy needs
        about 5) and 16 tasks at a time: every one is done, none fails with "Too many open files" (before:
        about 19 of 100 failed)."""
        n = 100
        d = self.daemon(COPY % (16, '@TMP@/dst'), start=False, nofile=15)
        os.makedirs(d.path('w'))
        os.makedirs(d.path('dst'))
        d.start()
        for i in range(n):
            write(d.path('w', 'f%03d' % i), b'data %d\n' % i * 100)
        d.settle(timeout=DEFAULT_TIMEOUT * 6)
        failed = d.task_ids('failed', rule='copy')
        emfile = d.log_matches(r'Too many open files; trying again')
        done = [f for f in os.listdir(d.path('dst')) if f.startswith('f')]
        harness.log('copies done: %d of %d, failed tasks: %d, retries after EMFILE: %d'
                    % (len(done), n, len(failed), len(emfile)))
        self.assertEqual(failed, [])
        self.assertEqual(sorted(done), ['f%03d' % i for i in range(n)])
        for i in range(n):
            with open(d.path('dst', 'f%03d' % i), 'rb') as f:
                self.assertEqual(f.read(), b'data %d\n' % i * 100)
        self.assertEqual([f for f in os.listdir(d.path('dst')) if f.startswith('.#')], [])

    def strace_daemon(self, config, xfs):
        """The daemon started, then traced (strace -f -p: all its threads) until stop_trace()."""
        strace = shutil.which('strace')
        if not strace:
            self.skipTest('strace is not installed')
        d = self.daemon(config % xfs, start=False)
        trace = d.path('trace')
        os.makedirs(d.path('w'))
        d.start()
        p = subprocess.Popen([strace, '-f', '-o', trace, '-p', str(d.pid), '-e',
                              'trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,openat'],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is not None or (p.kill(), p.wait()))
        # strace says "Process N attached" on stderr for each thread once it traces it.
        line = p.stderr.readline()
        if b'attached' not in line:
            self.skipTest('strace cannot attach: %r' % line)
        self.tracer = p
        return d, trace

    def stop_trace(self):
        self.tracer.send_signal(signal.SIGINT)
        self.tracer.wait(DEFAULT_TIMEOUT)

    def calls(self, trace, names):
        """The trace's lines for names, in order, each as (call, text)."""
        out = []
        with open(trace) as f:
            for line in f:
                m = re.match(r'^\d+\s+(\w+)\((.*)$', line)
                if m and m.group(1) in names:
                    out.append((m.group(1), line.strip()))
        return out

    def test_move_across_file_systems_fsyncs_before_deleting(self):
        """strace of a move to another file system: the copy's temporary file is fsync'ed before it is
        renamed into place, its directory after the rename, and only then is the source unlinked."""
        d0 = tempfile.mkdtemp(prefix='inotaskd-test.', dir='/tmp')
        xfs = other_file_system(d0)
        shutil.rmtree(d0)
        if not xfs:
            self.skipTest('no second file system (/dev/shm) to move to')
        self.addCleanup(shutil.rmtree, xfs, True)
        d, trace = self.strace_daemon(MOVE, xfs)
        write(d.path('w', 'f1'), b'payload\n')
        wait_for(lambda: os.path.exists(os.path.join(xfs, 'f1')) and not os.path.exists(d.path('w', 'f1')),
                 what='the move to %s' % xfs)
        d.settle()
        self.stop_trace()
        with open(os.path.join(xfs, 'f1'), 'rb') as f:
            self.assertEqual(f.read(), b'payload\n')
        lines = self.calls(trace, ('fsync', 'fdatasync', 'rename', 'renameat', 'renameat2', 'unlink',
                                   'unlinkat', 'openat'))
        # Follow the fds: the temporary file's, the destination directory's (opened for the fsync).
        tmp_fd = dir_fd = None
        order = []
        for call, text in lines:
            if call == 'openat' and '.#f1.' in text and 'O_CREAT' in text:
                tmp_fd = re.search(r'= (\d+)$', text).group(1)
            elif call in ('fsync', 'fdatasync') and tmp_fd and re.search(r'\(%s\)' % tmp_fd, text) and \
                    'fsync-file' not in order:
                order.append('fsync-file')
            elif call.startswith('rename') and '.#f1.' in text:
                order.append('rename')
            elif call == 'openat' and 'rename' in order and 'O_DIRECTORY' in text and \
                    'O_PATH' not in text and dir_fd is None and 'O_CREAT' not in text:
                dir_fd = re.search(r'= (\d+)$', text).group(1)
            elif call in ('fsync', 'fdatasync') and dir_fd and re.search(r'\(%s\)' % dir_fd, text) and \
                    'fsync-dir' not in order:
                order.append('fsync-dir')
            elif call.startswith('unlink') and '"f1"' in text and 'ENOENT' not in text:
                order.append('unlink-source')
        harness.log('order: %s' % order)
        self.assertEqual(order, ['fsync-file', 'rename', 'fsync-dir', 'unlink-source'],
                         '\n'.join(t for _, t in lines if 'f1' in t or 'sync' in t))

    def test_copy_fsyncs_file_then_directory(self):
        d, trace = self.strace_daemon(COPY.replace('%d', '4', 1), '@TMP@/dst')
        os.makedirs(d.path('dst'))
        write(d.path('w', 'f1'), b'payload\n')
        wait_for(lambda: os.path.exists(d.path('dst', 'f1')), what='the copy')
        d.settle()
        self.stop_trace()
        lines = self.calls(trace, ('fsync', 'fdatasync', 'rename', 'renameat', 'renameat2'))
        kinds = [c if not c.startswith('rename') else 'rename' for c, t in lines
                 if not c.startswith('rename') or '.#f1.' in t]
        harness.log('calls: %s' % kinds)
        self.assertIn('rename', kinds)
        i = kinds.index('rename')
        self.assertTrue(any(k in ('fsync', 'fdatasync') for k in kinds[:i]), 'no fsync before the rename')
        self.assertTrue(any(k == 'fsync' for k in kinds[i + 1:]), 'no fsync of the directory after it')


if __name__ == '__main__':
    harness.main()
