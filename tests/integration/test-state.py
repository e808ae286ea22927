#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The state directory under faults: many saved tasks come back quickly, the tasks file of an earlier
version is read and written again with names, state files that are not regular files of ours are
refused (the daemon starts without them), a full disk loses nothing that was saved before and saving
resumes by itself, task ids never wrap into duplicates, and a crash keeps the snapshot so that what
changes while the daemon is down still gets its tasks."""

import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import DaemonTestCase, TIMEOUT_SCALE, Timeout, log, wait_for, write

UINT64_MAX = 2 ** 64 - 1

# Tasks that stay scheduled: they are what the state file holds.
HELD = '''
[Daemon]
StateDirectory=@TMP@/state

[Watch w]
Path=@TMP@/w

[Rule held]
Watch=w
On=IN_CLOSE_WRITE
DelaySec=1h
Exec=@REC@ {pathname}
'''

# Tasks that run at once, for the snapshot: a change found at the start is a record.
RUNS = '''
[Daemon]
StateDirectory=@TMP@/state

[Watch w]
Path=@TMP@/w

[Rule runs]
Watch=w
On=created changed
Exec=@REC@ {name} {event}
'''


def v1_line(task_id, path, due, rule='held', watch='w'):
    """A task line of format 1 (the numbers of IN_CLOSE_WRITE and EVENT_KIND_CHANGED)."""
    now = int(time.time() * 1e6)
    path = path.replace('\\', '\\\\').replace('\t', '\\t')
    return '%d\t%d\t%d\t8\t3\t%s\t%s\t%s\t\tclose_write\t\n' % (task_id, now, due, rule, watch, path)


def write_v1(path, lines, next_id):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('# inotaskd scheduled tasks, format 1\nnext-id\t%d\n' % next_id)
        f.writelines(lines)
    os.chmod(path, 0o600)


def saved_tasks(path):
    """The task lines of a tasks file of either format (0 when it cannot be read)."""
    try:
        with open(path, 'rb') as f:
            return [l for l in f.read().split(b'\n') if l and not l.startswith(b'#') and
                    not l.startswith(b'next-id\t')]
    except OSError:
        return []


def snapshot_has(path, relpath):
    try:
        with open(path, 'rb') as f:
            return (b'\t%s\n' % relpath) in f.read()
    except FileNotFoundError:
        return False


def wait_ended(d, n, timeout=None):
    """Waits until at least n tasks were scheduled and every scheduled one has ended (by the log: the
    records file is read only then, whole)."""
    def done():
        scheduled = set(d.task_ids('scheduled for '))
        return len(scheduled) >= n and scheduled <= set(d.task_ids('finished|failed'))
    kw = {} if timeout is None else {'timeout': timeout}
    wait_for(done, what='%d tasks ended' % n, **kw)


def wait_ctime_past(d, path, margin=0.1):
    """Waits until the file system's ctime clock is margin seconds past path's ctime (a probe's ctime, with
    a deadline): a snapshot taken from then on is clearly later than that change."""
    since = os.stat(path).st_ctime_ns + int(margin * 1e9)
    probe = d.path('ctime-probe')

    def moved_on():
        write(probe)
        return os.stat(probe).st_ctime_ns > since
    wait_for(moved_on, what='the ctime clock past %s' % path)


def n_scheduled(d):
    m = re.search(r'(\d+) scheduled', d.latest_status() or '')
    return int(m.group(1)) if m else None


class State(DaemonTestCase):
    def restart(self, d, config, **kw):
        """The next start on the same state and tree, as a daemon of its own."""
        return self.daemon(config.replace('@TMP@', d.tmp), marker=False, **kw)

    # ------------------------------------------------------------------ at scale

    def test_restore_many(self):
        """20,000 saved tasks in the order an earlier version wrote them (hash order, not due order):
        each rule's queue took each by a walk from its tail, 9 s here on the old build."""
        n = 20000
        d = self.daemon(HELD, start=False, marker=False)
        os.mkdir(d.path('w'))
        due = int(time.time() * 1e6) + 3600 * 10 ** 6
        ids = list(range(1, n + 1))
        ids.sort(key=lambda i: (i * 2654435761) % 2 ** 32)     # a fixed shuffle
        write_v1(d.path('state', 'tasks'), [v1_line(i, d.path('w', 'f%d' % i), due + i) for i in ids], n + 1)
        t0 = time.monotonic()
        d.start(timeout=120 * TIMEOUT_SCALE)
        took = time.monotonic() - t0
        # CPU time, not wall time: a busy machine makes the start slower, not its work larger.
        with open('/proc/%d/stat' % d.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
        log('%d saved tasks: READY=1 after %.2f s, %.2f s of CPU' % (n, took, cpu))
        self.assertEqual(n_scheduled(d), n, 'every saved task is back')
        self.assertLess(cpu, 3.0 * TIMEOUT_SCALE, 'restoring is linear: %d tasks in %.2f s of CPU' % (n, cpu))

    # ------------------------------------------------------------------ format

    def test_format_upgrade(self):
        """A tasks file of format 1 (numbers) is read; what is saved then carries names and a version, and
        the next start reads that back with the same ids and due times."""
        d = self.daemon(HELD, start=False, marker=False)
        os.mkdir(d.path('w'))
        tasks = d.path('state', 'tasks')
        due = int(time.time() * 1e6) + 3600 * 10 ** 6
        write_v1(tasks, [v1_line(7, d.path('w', 'a'), due), v1_line(9, d.path('w', 'tab\tname'), due + 1)], 10)
        d.start()
        self.assertEqual(n_scheduled(d), 2, 'both tasks of the format 1 file are back')
        self.assertEqual(d.stop(), 0)
        with open(tasks, 'rb') as f:
            text = f.read()
        self.assertTrue(text.startswith(b'# inotaskd scheduled tasks, format 2\n'), text[:80])
        lines = saved_tasks(tasks)
        self.assertEqual(len(lines), 2, text)
        for line in lines:
            fields = line.split(b'\t')
            self.assertEqual(fields[0], b'task', line)
            self.assertIn(b'mask=IN_CLOSE_WRITE', fields, line)
            self.assertIn(b'kind=changed', fields, line)
            self.assertIn(b'rule=held', fields, line)
        self.assertIn(b'path=' + os.fsencode(d.path('w', 'tab\\tname')), text, 'an escaped tab')

        d2 = self.restart(d, HELD)
        self.assertEqual(n_scheduled(d2), 2, 'format 2 is read back')
        d2.stop()
        got = sorted(saved_tasks(tasks))
        self.assertEqual([re.search(rb'\tid=(\d+)\t', l).group(1) for l in got], [b'7', b'9'], 'ids kept')
        self.assertIn(b'\tdue=%d\t' % due, got[0], 'due time kept')
        log('format 1 read, format 2 written and read back: ids 7 and 9, due time kept')

    # ------------------------------------------------------------------ hostile state files

    def refused(self, make, why):
        d = self.daemon(HELD, start=False, marker=False)
        os.mkdir(d.path('w'))
        os.mkdir(d.path('state'))
        tasks = d.path('state', 'tasks')
        make(d, tasks)
        d.start(timeout=10 * TIMEOUT_SCALE)
        d.wait_for_log(r'^State file %s %s, not reading it\.$' % (re.escape(tasks), why))
        self.assertEqual(n_scheduled(d), 0, 'started without the refused file')
        write(d.path('w', 'x'))
        wait_for(lambda: n_scheduled(d) == 1, what='a new task scheduled after the refusal')
        return d

    def test_fifo_tasks_file(self):
        """A FIFO as the tasks file hung the start forever (open waits for a writer)."""
        self.refused(lambda d, p: os.mkfifo(p, 0o600), 'is not a regular file')
        log('a FIFO as the tasks file: refused, started without it')

    def test_symlink_tasks_file(self):
        def make(d, p):
            write_v1(d.path('elsewhere'), [v1_line(5, d.path('w', 'a'), int(time.time() * 1e6) + 3600 * 10 ** 6)], 6)
            os.symlink(d.path('elsewhere'), p)
        self.refused(make, 'is a symbolic link')

    def test_writable_tasks_file(self):
        def make(d, p):
            write_v1(p, [v1_line(5, d.path('w', 'a'), int(time.time() * 1e6) + 3600 * 10 ** 6)], 6)
            os.chmod(p, 0o666)
        self.refused(make, r'is writable by group or others \(mode 0666\)')

    def test_foreign_tasks_file(self):
        if os.geteuid() != 0:
            self.skipTest('needs root to give the tasks file to another user')

        def make(d, p):
            write_v1(p, [v1_line(5, d.path('w', 'a'), int(time.time() * 1e6) + 3600 * 10 ** 6)], 6)
            os.chown(p, 65534, 65534)
        self.refused(make, r'is owned by uid 65534, not by us \(uid 0\)')

    def test_fifo_snapshot(self):
        d = self.daemon(RUNS, start=False, marker=False)
        os.mkdir(d.path('w'))
        os.mkdir(d.path('state'))
        snap = d.path('state', 'snapshot-w')
        os.mkfifo(snap, 0o600)
        d.start(timeout=10 * TIMEOUT_SCALE)
        d.wait_for_log(r'^State file %s is not a regular file, not reading it\.$' % re.escape(snap))

    # ------------------------------------------------------------------ a full disk

    def test_full_disk(self):
        """The state directory on a small tmpfs: 100 tasks saved, the disk filled, 200 more scheduled (the
        save fails), the space freed; saving resumes by itself, and after a SIGKILL all 300 are back."""
        if os.geteuid() != 0:
            self.skipTest('needs root to mount a small tmpfs as the state directory')
        if not shutil.which('mount'):
            self.skipTest('no mount(8)')
        d = self.daemon(HELD, start=False, marker=False)
        os.mkdir(d.path('w'))
        state = d.path('state')
        os.mkdir(state)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'inotaskd-test', state],
                           capture_output=True)
        if r.returncode != 0:
            self.skipTest('cannot mount a tmpfs: %s' % r.stderr.decode(errors='replace').strip())
        self.addCleanup(lambda: subprocess.run(['umount', '-l', state]))
        tasks = os.path.join(state, 'tasks')
        d.start()
        for i in range(100):
            write(d.path('w', 'a%03d' % i))
        wait_for(lambda: len(saved_tasks(tasks)) == 100, what='100 tasks saved')

        filler = os.path.join(state, 'filler')
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b'\0' * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        for i in range(200):
            write(d.path('w', 'b%03d' % i))
        wait_for(lambda: n_scheduled(d) == 300, what='300 tasks scheduled')
        d.wait_for_log(r'^Failed to save scheduled tasks in ')
        self.assertEqual(len(saved_tasks(tasks)), 100, 'the previous file is whole after the failed save')
        try:
            # Two retries failed as well: the failure is still logged once.
            d.wait_for_log(r'^Saving scheduled tasks again in \d+ ms\.$', count=2, timeout=10 * TIMEOUT_SCALE)
        except Timeout:
            log('no retries (old build)')

        os.unlink(filler)
        try:
            wait_for(lambda: len(saved_tasks(tasks)) == 300, timeout=10 * TIMEOUT_SCALE,
                     what='300 tasks saved once there is space')
        except Timeout:
            pass
        d.signal(signal.SIGKILL)
        d.wait_exit()

        d2 = self.restart(d, HELD)
        got = n_scheduled(d2)
        log('full disk: %d of 300 scheduled tasks back after the space returned and a SIGKILL' % got)
        self.assertEqual(got, 300, 'no task lost')
        self.assertEqual(len(d.log_matches(r'^Failed to save scheduled tasks in ')), 1, 'the failure logged once')
        self.assertEqual(len(d.log_matches(r'^Saved scheduled tasks in .* again \(300 tasks\)\.$')), 1,
                         'the recovery logged once')

    # ------------------------------------------------------------------ task ids

    def test_ids_exhausted(self):
        """next-id at UINT64_MAX and a saved task with id 1: the next id is UINT64_MAX and then none; the
        old build wrapped to 0 and 1, a duplicate of the saved task (and leaked one of the two)."""
        d = self.daemon(HELD, start=False, marker=False)
        os.mkdir(d.path('w'))
        write_v1(d.path('state', 'tasks'), [v1_line(1, d.path('w', 'saved'),
                                                   int(time.time() * 1e6) + 3600 * 10 ** 6)], UINT64_MAX)
        d.start()
        self.assertEqual(n_scheduled(d), 1)
        for n in ('a', 'b', 'c'):
            write(d.path('w', n))
        wait_for(lambda: d.log_matches(r'^Task ids are used up') or d.task_ids('scheduled for ', 'held').count(1),
                 what='ids used up, or id 1 handed out again')
        ids = d.task_ids('scheduled for ', 'held')
        log('task ids handed out after UINT64_MAX - 1: %s' % ids)
        self.assertNotIn(0, ids)
        self.assertNotIn(1, ids, 'the saved task\'s id is not handed out again')
        self.assertEqual(ids, [UINT64_MAX])
        self.assertEqual(len(d.log_matches(r'^Task ids are used up')), 1)
        self.assertEqual(d.stop(), 0)
        saved = [re.search(rb'id=(\d+)', l).group(1) for l in saved_tasks(d.path('state', 'tasks'))]
        self.assertEqual(sorted(saved), sorted([b'1', b'%d' % UINT64_MAX]), 'two tasks, distinct ids')

    # ------------------------------------------------------------------ the snapshot after a crash

    def test_snapshot_after_crash(self):
        """SIGKILL, 100 files created while the daemon is down, a restart: each gets its task. The old build
        deleted the snapshot at the start and wrote it only at a clean stop (0 of 100)."""
        d = self.daemon(RUNS, start=False, marker=False)
        w = d.path('w')
        os.mkdir(w)
        for i in range(10):
            write(os.path.join(w, 'old%d' % i))
        # The snapshot after the start then clearly comes after these (see below).
        wait_ctime_past(d, os.path.join(w, 'old9'))
        d.start()
        snap = d.path('state', 'snapshot-w')
        try:
            wait_for(lambda: os.path.exists(snap), timeout=5 * TIMEOUT_SCALE, what='a snapshot after the start')
        except Timeout:
            log('no snapshot while running (old build)')
        d.signal(signal.SIGKILL)
        d.wait_exit()

        for i in range(100):
            write(os.path.join(w, 'new%03d' % i))
        # The snapshot after this start then clearly comes after these files (one within a few ms
        # of it counts as changed at the next start: a duplicate rather than a loss).
        wait_ctime_past(d, os.path.join(w, 'new099'))
        d2 = self.restart(d, RUNS)
        # The comparison schedules its tasks before READY=1: wait for those (none on the old build).
        n = len(d2.task_ids('scheduled for '))
        if n:
            wait_ended(d2, n, timeout=60 * TIMEOUT_SCALE)
        got = sorted({r.args[0] for r in d2.records()})
        log('after a SIGKILL: %d of 100 files created while down got a task' % len(got))
        self.assertEqual(got, sorted(b'new%03d' % i for i in range(100)), 'every new file, nothing else')

        # The snapshot compared with is replaced, not deleted: a second crash right after this start
        # still finds only what changed since.
        wait_for(lambda: snapshot_has(snap, b'new099'),
                 what='the snapshot replaced after the start')
        # And the tasks that ran saved as gone (a crash within the save's half second would run them
        # again: at least once, never lost).
        wait_for(lambda: not saved_tasks(d.path('state', 'tasks')), what='no scheduled tasks saved')
        d2.signal(signal.SIGKILL)
        d2.wait_exit()
        write(os.path.join(w, 'later'))
        d3 = self.restart(d, RUNS)
        wait_ended(d3, 1)
        d3.stop()
        self.assertEqual(sorted({r.args[0] for r in d3.records()}), [b'later'], 'only the later file')

    def test_snapshot_refreshed(self):
        """A file created while the daemon runs is in the snapshot after a while: a crash later does not
        raise it again at the next start."""
        d = self.daemon(RUNS, start=False, marker=False)
        w = d.path('w')
        os.mkdir(w)
        d.start()
        snap = d.path('state', 'snapshot-w')
        try:
            # The one written after the start first: a file changed just before a snapshot counts as
            # changed at the next start (a duplicate rather than a loss).
            wait_for(lambda: os.path.exists(snap), timeout=5 * TIMEOUT_SCALE, what='a snapshot after the start')
        except Timeout:
            log('no snapshot while running (old build)')
        write(os.path.join(w, 'live'))
        wait_ended(d, 1)
        try:
            wait_for(lambda: snapshot_has(snap, b'live'),
                     timeout=20 * TIMEOUT_SCALE, what='the snapshot refreshed with the new file')
        except Timeout:
            log('snapshot not refreshed (old build)')
        d.signal(signal.SIGKILL)
        d.wait_exit()
        write(os.path.join(w, 'down'))
        d2 = self.restart(d, RUNS)
        wait_ended(d2, 1)
        d2.stop()
        self.assertEqual(sorted({r.args[0] for r in d2.records()}), [b'down'],
                         'only what changed while down; the live file ran before the crash')


if __name__ == '__main__':
    import harness
    harness.main()
