#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Backend= per watch: none (InitialEvent= only) with --once; poll (a periodic walk: created, changed,
deleted, moves paired by inode) on the file system of /tmp and on a FUSE mount (bindfs) where inotify
does not hear writes made through the other side, auto choosing poll there; fanotify (events filtered
to the tree, moves, overlapping watches, an overflow's rescan, the error without CAP_SYS_ADMIN); the
backend in ListWatchesWithBackend and inotaskctl list-watches."""

import os
import shutil
import signal
import subprocess
import tempfile

import json

import harness
from harness import DaemonTestCase, SANITIZER_REPORT, log, wait_for, write
from bus_harness import BusTestCase

NONE_ONCE = '''
[Daemon]
StateDirectory=@TMP@/state

[Watch w]
Path=@TMP@/w
Recursive=yes
Backend=none
InitialEvent=exists

[Rule r]
Watch=w
On=exists
Exec=@REC@ {relpath}
'''

NONE_ONCE_FAIL = NONE_ONCE + '''
[Rule bad]
Watch=w
On=exists
Match=b
Exec=/bin/false
'''

NONE_LIVE = '''
[Watch w]
Path=@TMP@/w
Backend=none

[Rule r]
Watch=w
On=created changed
Exec=@REC@ {relpath}
'''

POLL = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
Backend=poll
PollIntervalSec=200ms

[Rule r]
Watch=w
On=created changed deleted moved
Directories=yes
Exec=@REC@ {event} {relpath} {src_pathname}
'''


def events(d):
    return [tuple(os.fsdecode(a) for a in r.args) for r in d.records()]


class NoneBackend(DaemonTestCase):
    def test_once_runs_initial_and_exits_0(self):
        d = self.daemon(NONE_ONCE, start=False, marker=False, args=['--once'])
        for p in ('a', 'b', 'sub/c'):
            os.makedirs(os.path.dirname(d.path('w', p)), exist_ok=True)
            write(d.path('w', p))
        d.start(wait_ready=False)
        self.assertEqual(d.wait_exit(), 0, d.log_text()[-3000:])
        got = sorted(r.args[0] for r in d.records())
        log('--once, Backend=none: exit 0, tasks for %r' % got)
        self.assertEqual(got, [b'a', b'b', b'sub/c'])
        self.assertTrue(d.log_matches(r'--once: 3 tasks run, all succeeded'))
        state = d.path('state')
        self.assertEqual(os.listdir(state) if os.path.exists(state) else [], [],
                         '--once leaves the state directory (a service\'s saved tasks) alone')

    def test_once_fails_if_a_task_fails(self):
        d = self.daemon(NONE_ONCE_FAIL, start=False, marker=False, args=['--once'])
        os.makedirs(d.path('w'))
        write(d.path('w', 'a'))
        write(d.path('w', 'b'))
        d.start(wait_ready=False)
        rc = d.wait_exit()
        log('--once with a failing task: exit %d' % rc)
        self.assertNotEqual(rc, 0)
        self.assertTrue(d.log_matches(r'--once: task \d+ \(rule bad, .*/w/b\) did not succeed: exit-code'),
                        d.log_text()[-3000:])
        self.assertTrue(d.log_matches(r'--once: 1 of 3 tasks failed'))

    def test_none_does_not_monitor(self):
        d = self.daemon(NONE_LIVE, start=False)
        os.makedirs(d.path('w'))
        d.start()
        write(d.path('w', 'new'))
        d.settle()     # the marker's watch (inotify) proves the loop handled what came before
        self.assertEqual(d.records(), [], 'Backend=none raises nothing for a write')
        log('Backend=none: a write raised nothing')


class PollBackend(DaemonTestCase):
    def test_poll_local(self):
        d = self.daemon(POLL, start=False, marker=False)
        w = d.path('w')
        os.makedirs(os.path.join(w, 'dir', 'deep'))
        write(os.path.join(w, 'edit'), 'one')
        write(os.path.join(w, 'gone'))
        write(os.path.join(w, 'from'))
        write(os.path.join(w, 'dir', 'deep', 'f'))
        d.start()
        self.assertTrue(d.log_matches(r'polling 6 entries every 200 ms'), d.log_text()[-2000:])

        write(os.path.join(w, 'new'))
        write(os.path.join(w, 'edit'), 'two, longer')
        os.unlink(os.path.join(w, 'gone'))
        os.rename(os.path.join(w, 'from'), os.path.join(w, 'to'))
        os.rename(os.path.join(w, 'dir'), os.path.join(w, 'dir2'))
        want = {
            ('changed', 'new', ''), ('changed', 'edit', ''), ('deleted', 'gone', ''),
            ('moved', 'to', os.path.join(w, 'from')), ('moved', 'dir2', os.path.join(w, 'dir')),
        }
        wait_for(lambda: want <= set(events(d)), what='poll to raise %r' % sorted(want))
        # One more poll round: nothing else (the files below the moved directory went along with it).
        n = d.log_text().count('Watch w: polled ')
        wait_for(lambda: d.log_text().count('Watch w: polled ') >= n + 2, what='two more polls')
        got = events(d)
        log('poll on %s: %r' % (subprocess.run(['stat', '-f', '-c', '%T', w], capture_output=True,
                                              encoding='utf-8').stdout.strip(), got))
        self.assertEqual(sorted(got), sorted(want), 'exactly these, each once')

    def test_poll_root_waits_again(self):
        d = self.daemon(POLL, start=False, marker=False)
        w = d.path('w')
        os.makedirs(w)
        d.start()
        shutil.rmtree(w)
        d.wait_for_log(r'Watch w: .* is gone, waiting')
        os.makedirs(w)
        write(os.path.join(w, 'back'))
        wait_for(lambda: ('changed', 'back', '') in events(d), what='a file in the re-created root')
        log('poll: root removed and re-created, then %r' % events(d))


def bindfs_mount(src, mnt):
    p = subprocess.run(['bindfs', '--no-allow-other', src, mnt], capture_output=True, encoding='utf-8')
    return p.returncode == 0, p.stderr


FUSE = '''
[Watch auto]
Path=@TMP@/mnt
Recursive=yes
PollIntervalSec=200ms

[Watch inotify]
Path=@TMP@/mnt
Recursive=yes
Backend=inotify

[Rule r]
Watch=auto inotify
On=created changed
Exec=@REC@ {watch} {relpath}
'''


class PollOnFuse(DaemonTestCase):
    def test_bindfs_poll_sees_inotify_does_not(self):
        if not shutil.which('bindfs') or not os.path.exists('/dev/fuse'):
            raise harness.unittest.SkipTest('needs bindfs and /dev/fuse')
        d = self.daemon(FUSE, start=False)
        src, mnt = d.path('src'), d.path('mnt')
        os.makedirs(src)
        os.makedirs(mnt)
        ok, err = bindfs_mount(src, mnt)
        if not ok:
            raise harness.unittest.SkipTest('bindfs cannot mount here: %s' % err.strip())
        self.addCleanup(lambda: subprocess.run(['fusermount', '-u', mnt], capture_output=True) if
                        shutil.which('fusermount') else subprocess.run(['umount', mnt], capture_output=True))
        d.start()
        self.assertTrue(d.log_matches(r'Watch auto: Backend=auto chose poll: .*/mnt is on fuse'),
                        d.log_text()[-2000:])
        # Written on the other side of the FUSE mount, as another host would on NFS.
        write(os.path.join(src, 'remote'), 'x')
        wait_for(lambda: (b'auto', b'remote') in [tuple(r.args) for r in d.records()],
                 what='the poll watch to see the write made under the mount')
        # The inotify watch of the same directory heard nothing: two more polls and a settle later.
        n = d.log_text().count('Watch auto: polled ')
        wait_for(lambda: d.log_text().count('Watch auto: polled ') >= n + 2, what='two more polls')
        d.settle()
        got = sorted(set(tuple(r.args) for r in d.records()))
        log('bindfs, write to the underlying directory: %r' % got)
        self.assertEqual(got, [(b'auto', b'remote')], 'poll saw it, inotify did not')


FANOTIFY = '''
[Watch f]
Path=@TMP@/w
Recursive=yes
Backend=fanotify

[Rule r]
Watch=f
On=created changed deleted moved
Directories=yes
Exec=@REC@ {event} {relpath} {src_pathname}
'''

FANOTIFY_FLOOD = '''
[Watch f]
Path=@TMP@/w
Backend=fanotify

[Rule last]
Watch=f
On=created
Match=last
Exec=@REC@ {event} {relpath}

[Rule overflow]
Watch=f
On=overflow
Exec=@REC@ overflow
'''


def need_root(test):
    if os.geteuid() != 0:
        raise harness.unittest.SkipTest('fanotify needs CAP_SYS_ADMIN: run as root')


class FanotifyBackend(DaemonTestCase):
    def test_events_filtered_to_the_tree(self):
        need_root(self)
        d = self.daemon(FANOTIFY, start=False, marker=False)
        w = d.path('w')
        os.makedirs(os.path.join(w, 'sub'))
        d.start()
        # In steps: a task that starts at once for "created" and another for "changed" are both fine.
        write(os.path.join(w, 'a'))
        write(os.path.join(w, 'sub', 'b'), 'x')
        os.mkdir(os.path.join(w, 'nd'))
        write(os.path.join(w, 'nd', 'c'))
        step = {('changed', 'a', ''), ('changed', 'sub/b', ''), ('created', 'nd', ''), ('changed', 'nd/c', '')}
        wait_for(lambda: step <= set(events(d)), what='fanotify to raise %r' % sorted(step))
        # The second rename is done before the daemon reads the first: its directory is found by inode.
        os.rename(os.path.join(w, 'a'), os.path.join(w, 'sub', 'a2'))
        os.rename(os.path.join(w, 'sub'), os.path.join(w, 'sub2'))
        # The task of the first follows the second (its path is under sub2 by the time it runs, or not).
        wait_for(lambda: {('moved', 'sub2', os.path.join(w, 'sub'))} <= set(events(d)) and
                 {('moved', 'sub/a2', os.path.join(w, 'a')), ('moved', 'sub2/a2', os.path.join(w, 'a'))} &
                 set(events(d)), what='fanotify to raise both moves')
        write(d.path('outside'))                # same file system, outside the watch
        os.rename(os.path.join(w, 'sub2', 'a2'), d.path('a3'))     # moved out
        step = {('deleted', 'sub2/a2', '')}
        wait_for(lambda: step <= set(events(d)), what='fanotify to raise %r' % sorted(step))
        self.assertTrue(d.log_matches(r'Ready: Watching 2 directories'), d.log_text()[-2000:])
        got = events(d)
        log('fanotify (%s): %r' % (os.uname().release, got))
        self.assertEqual([e for e in got if 'outside' in e[1] or 'a3' in e[1]], [],
                         'nothing from outside the watched tree')
        self.assertFalse([e for e in got if e[0] == 'deleted' and e[1] != 'sub2/a2'], got)

    def test_overlapping_watches(self):
        need_root(self)
        d = self.daemon('''
[Watch f1]
Path=@TMP@/w
Recursive=yes
Backend=fanotify

[Watch f2]
Path=@TMP@/w/sub
Backend=fanotify

[Rule r1]
Watch=f1
On=changed
Exec=@REC@ {watch} {relpath}

[Rule r2]
Watch=f2
On=changed
Exec=@REC@ {watch} {relpath}
''', start=False, marker=False)
        os.makedirs(d.path('w', 'sub'))
        d.start()
        write(d.path('w', 'sub', 'x'))
        want = {(b'f1', b'sub/x'), (b'f2', b'x')}
        wait_for(lambda: want <= {tuple(r.args) for r in d.records()}, what='both watches to hear it')
        log('fanotify, two watches of one directory: %r' % sorted(want))

    def test_reload_to_inotify_drops_the_mark(self):
        need_root(self)
        d = self.daemon(FANOTIFY, start=False, marker=False)
        os.makedirs(d.path('w'))
        d.start()

        def fanotify_fds():
            fds = '/proc/%d/fd' % d.pid
            n = 0
            for f in os.listdir(fds):
                try:
                    n += os.readlink(os.path.join(fds, f)) == 'anon_inode:[fanotify]'
                except OSError:
                    pass
            return n
        self.assertEqual(fanotify_fds(), 1)
        d.write_config(FANOTIFY.replace('Backend=fanotify', 'Backend=inotify'))
        d.signal(signal.SIGHUP)
        d.wait_for_log(r'Configuration reloaded')
        self.assertEqual(fanotify_fds(), 0, 'the last fanotify watch gone, its group is closed')
        write(d.path('w', 'after'))
        wait_for(lambda: ('changed', 'after', '') in events(d), what='the inotify watch to hear a write')
        log('reload fanotify -> inotify: fanotify group closed, inotify hears')

    def test_overflow_rescans(self):
        need_root(self)
        d = self.daemon(FANOTIFY_FLOOD, start=False, marker=False)
        w = d.path('w')
        os.makedirs(w)
        d.start()
        n = 20000               # two events each (create, close_write): past the queue's 16384
        d.signal(signal.SIGSTOP)
        try:
            for i in range(n):
                write(os.path.join(w, 'f%d' % i))
            write(os.path.join(w, 'last'))
        finally:
            d.signal(signal.SIGCONT)
        wait_for(lambda: [b'overflow'] in [r.args for r in d.records()], what='the overflow rule to run')
        wait_for(lambda: [b'created', b'last'] in [r.args for r in d.records()],
                 what='the rescan to raise the file written after the queue filled')
        self.assertTrue(d.log_matches(r'fanotify event queue overflowed \(1 so far\)'))
        log('fanotify: %d files written while stopped: overflow, rescan raised "last"' % n)

    def test_no_capability_is_a_clear_error(self):
        need_root(self)
        if not shutil.which('setpriv'):
            raise harness.unittest.SkipTest('needs setpriv (util-linux)')
        tmp = tempfile.mkdtemp(prefix='inotaskd-fan.', dir='/tmp')
        self.addCleanup(shutil.rmtree, tmp, True)
        os.mkdir(os.path.join(tmp, 'w'))
        conf = os.path.join(tmp, 'c.conf')
        with open(conf, 'w') as f:
            f.write('[Watch f]\nPath=%s/w\nBackend=fanotify\n' % tmp)
        p = subprocess.run(['setpriv', '--bounding-set', '-sys_admin', '--inh-caps', '-sys_admin'] +
                           harness.daemon_argv() + ['-c', conf, '--log-target=console', '--once'],
                           capture_output=True, encoding='utf-8', timeout=harness.DEFAULT_TIMEOUT,
                           stdin=subprocess.DEVNULL, env=dict(os.environ, INOTASKD_CONFIG_DIR=tmp))
        log('without CAP_SYS_ADMIN: exit %d, %s' % (p.returncode, p.stderr.strip().splitlines()[0]))
        self.assertIn('Watch f: Backend=fanotify needs CAP_SYS_ADMIN', p.stderr)


LISTED = '''
[Watch ino]
Path=@TMP@/a

[Watch pol]
Path=@TMP@/b
Backend=poll

[Watch non]
Path=@TMP@/c
Backend=none
'''


class BackendOnTheBus(BusTestCase):
    def test_list_watches_backend(self):
        d = self.daemon(LISTED, marker=False, start=False)
        for p in 'abc':
            os.makedirs(d.path(p))
        d.start()
        e = self.bus.env()
        e['LC_ALL'] = 'C'
        p = subprocess.run(['busctl', '--user', 'call', 'org.inotaskd1', '/org/inotaskd1',
                            'org.inotaskd1.Manager', 'ListWatchesWithBackend'], capture_output=True,
                           encoding='utf-8', env=e, timeout=harness.DEFAULT_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        log('ListWatchesWithBackend: %s' % p.stdout.strip())
        for name, backend in (('ino', 'inotify'), ('pol', 'poll'), ('non', 'none')):
            self.assertRegex(p.stdout, r'"%s" "[^"]*" \w+ \w+ \d+ "active" "%s"' % (name, backend))
        ctl = [os.environ['INOTASKCTL_BINARY'], '--user']
        p = subprocess.run(ctl + ['--json', 'list-watches'], capture_output=True, encoding='utf-8', env=e,
                           timeout=harness.DEFAULT_TIMEOUT)
        self.assertIsNone(SANITIZER_REPORT.search(p.stderr), p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = {w['name']: w['backend'] for w in json.loads(p.stdout)}
        self.assertEqual(got, {'ino': 'inotify', 'pol': 'poll', 'non': 'none'})
        p = subprocess.run(ctl + ['list-watches'], capture_output=True, encoding='utf-8', env=e,
                           timeout=harness.DEFAULT_TIMEOUT)
        log('inotaskctl list-watches:\n%s' % p.stdout)
        self.assertIn('BACKEND', p.stdout.splitlines()[0])


NEW_DIRS = '''
[Watch w]
Path=@TMP@/w
Recursive=yes
Backend=@BACKEND@

[Rule r]
Watch=w
On=created changed
Match=last
Directories=yes
Exec=@REC@ {relpath}
'''


class NewDirectoryEvents(BusTestCase):
    # Files written into new directories before the daemon handles the directories' creation (it is
    # stopped meanwhile): the walk of each directory raises created and changed for its file. inotify
    # watches the directory after the file's close, so it raises nothing more; fanotify's file-system
    # mark heard the close, still queued, which must not raise changed a second time. Counted as events
    # (NEvents), before the scheduler would merge them into one task.
    def events_for(self, backend, n=40):
        need_root(self)
        d = self.daemon(NEW_DIRS.replace('@BACKEND@', backend), marker=False, start=False)
        os.makedirs(d.path('w'))
        d.start()

        def n_events():
            p = subprocess.run(['busctl', '--user', 'get-property', 'org.inotaskd1', '/org/inotaskd1',
                                'org.inotaskd1.Manager', 'NEvents'], capture_output=True, text=True,
                               env=self.bus.env(), timeout=harness.DEFAULT_TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            return int(p.stdout.split()[1])
        before = n_events()
        os.kill(d.pid, signal.SIGSTOP)
        try:
            for i in range(n):
                os.mkdir(d.path('w', 'nd%02d' % i))
                write(d.path('w', 'nd%02d' % i, 'c'))
        finally:
            os.kill(d.pid, signal.SIGCONT)
        # In queue order after the rest: once its task is there, everything before it was handled. An
        # empty directory: one event (created), nothing in it to walk.
        os.mkdir(d.path('w', 'last'))
        wait_for(lambda: d.records(), what='the task for last')
        got = n_events() - before
        log('%s: %d events for %d new directories with a file each (and last)' % (backend, got, n))
        # Per directory: created for it, created and changed for its file; last: created.
        self.assertEqual(got, 3 * n + 1, '%s: each file of a new directory changed once' % backend)
        # A write after the walk is a change of its own.
        write(d.path('w', 'nd00', 'c'), 'again')
        wait_for(lambda: n_events() - before > 3 * n + 1, what='the second write of nd00/c')

    def test_inotify(self):
        self.events_for('inotify')

    def test_fanotify(self):
        self.events_for('fanotify')


if __name__ == '__main__':
    harness.main()
