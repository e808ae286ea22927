#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""inotaskctl against the real daemon on a private bus: status, the lists (tables and --json), show,
cancel, trigger, run, reload, monitor, and its errors and exit codes."""

import fcntl
import json
import os
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import termios
import threading
import time

import harness
from harness import DEFAULT_TIMEOUT, TIMEOUT_SCALE, SANITIZER_REPORT, Timeout, log, wait_for, write
from bus_harness import BusTestCase, PrivateBus

# inotaskctl's exit codes (see its --help).
EXIT_FAILURE = 1
EXIT_NOT_RUNNING = 3
EXIT_PERMISSION = 4
EXIT_USAGE = 64

# The delay of rule "short": long enough for a cancel to arrive first even on a slow machine, short
# enough that waiting past it is cheap.
SHORT_DELAY = max(4, int(4 * TIMEOUT_SCALE))

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule slow]
Watch=w
On=IN_CLOSE_WRITE
Match=slow-*
DelaySec=60
Exec=@REC@ {pathname} {maskname}

[Rule short]
Watch=w
On=IN_CLOSE_WRITE
Match=short-*
DelaySec=%d
Exec=@REC@ {pathname}

[Rule now]
Watch=w
On=IN_CLOSE_WRITE
Match=now-*
Exec=@REC@ {pathname}
''' % SHORT_DELAY

BROKEN = '''
[Rule broken]
Watch=w
On=IN_NO_SUCH_EVENT
Exec=/bin/true
'''


def ctl_binary():
    b = os.environ.get('INOTASKCTL_BINARY')
    if not b:
        raise SystemExit('INOTASKCTL_BINARY is not set: run the tests with "meson test -C BUILDDIR".')
    return b


def client_env(bus):
    e = bus.env()
    # Untranslated messages and no forced colours, whatever the caller's environment says.
    for k in ('LANGUAGE', 'LC_MESSAGES', 'SYSTEMD_COLORS'):
        e.pop(k, None)
    e['LC_ALL'] = 'C'
    # No pager and no width unless a test asks for them.
    for k in ('COLUMNS', 'PAGER', 'SYSTEMD_PAGER', 'SYSTEMD_LESS', 'LESS', 'SYSTEMD_PAGERSECURE',
              'LESSSECURE'):
        e.pop(k, None)
    return e


def session_owner():
    """The owner uid of our login session (sd_pid_get_owner_uid), or None."""
    import ctypes
    try:
        lib = ctypes.CDLL('libsystemd.so.0')
    except OSError:
        return None
    uid = ctypes.c_uint()
    return uid.value if lib.sd_pid_get_owner_uid(0, ctypes.byref(uid)) >= 0 else None


def run_on_pty(argv, env, cols=80, rows=24, timeout=DEFAULT_TIMEOUT):
    """Runs argv with stdout (and stdin) on a new pseudo-terminal of cols x rows; returns (exit code,
    what the terminal got, stderr)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    got = b''
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:         # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            got += chunk
        elif p.poll() is not None:
            break
    err = p.communicate(timeout=max(1, deadline - time.monotonic()))[1]
    os.close(master)
    return p.returncode, got.decode('utf-8', 'replace').replace('\r\n', '\n'), err.decode()


class Lines:
    """The lines a pipe produces, collected by a thread, so a test can wait for them with a deadline."""

    def __init__(self, pipe):
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.thread.start()

    def _run(self, pipe):
        for line in iter(pipe.readline, ''):
            with self.lock:
                self.lines.append(line.rstrip('\n'))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait(self, regex, what=None, timeout=DEFAULT_TIMEOUT):
        r = re.compile(regex)

        def check():
            for i, line in enumerate(self.snapshot()):
                m = r.search(line)
                if m:
                    return (i, m)
            return None
        try:
            return wait_for(check, timeout, what or '/%s/' % regex)
        except Timeout as e:
            raise Timeout('%s; got %r' % (e, self.snapshot()))


class Ctl(BusTestCase):
    # ---------------------------------------------------------------- helpers

    def ctl(self, *args, expect=0, env=None, prefix=(), timeout=DEFAULT_TIMEOUT):
        """Runs inotaskctl --user ARGS on the test's bus; checks its exit code (None: any) and that no
        sanitizer complained. Returns the CompletedProcess (text)."""
        argv = list(prefix) + [ctl_binary(), '--user'] + list(args)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, encoding='utf-8',
                           env=env or client_env(self.bus), timeout=timeout)
        self.assertIsNone(SANITIZER_REPORT.search(p.stderr), 'sanitizer report:\n' + p.stderr)
        if expect is not None:
            self.assertEqual(p.returncode, expect, 'inotaskctl %s: exit %d\nstdout:\n%s\nstderr:\n%s'
                             % (' '.join(args), p.returncode, p.stdout, p.stderr))
        return p

    def ctl_json(self, *args):
        return json.loads(self.ctl('--json', *args).stdout)

    def start(self):
        d = self.daemon(CONFIG, start=False, marker=False)
        self.w = self.fresh_dir(d, 'w')
        d.start()
        return d

    def wait_tasks(self, n, all=False, what=None):
        """Polls list-tasks --json until it lists n tasks; returns them."""
        args = ['list-tasks'] + (['--all'] if all else [])
        return wait_for(lambda: (lambda t: len(t) == n and t)(self.ctl_json(*args)), what=what or
                        '%d tasks listed' % n)

    def task_for(self, path, all=False):
        """The listed task for path (str or bytes), or None."""
        for t in self.ctl_json('list-tasks', *(['--all'] if all else [])):
            exact = bytes(t['path_bytes']) if 'path_bytes' in t else os.fsencode(t['path'])
            if exact == os.fsencode(path):
                return t
        return None

    def wait_task_for(self, path, state=None):
        def check():
            t = self.task_for(path, all=True)
            return t if t and (state is None or t['state'] == state) else None
        return wait_for(check, what='a task for %s%s' % (path, ' in state ' + state if state else ''))

    def assert_one_error_line(self, p, regex):
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, 'one line on stderr, got:\n' + p.stderr)
        self.assertRegex(lines[0], regex)
        self.assertNotIn('org.freedesktop.DBus', p.stderr)
        self.assertNotIn('org.inotaskd1.Error', p.stderr)

    # ---------------------------------------------------------------- status

    def test_status(self):
        d = self.start()
        write(os.path.join(self.w, 'slow-1'))
        self.wait_tasks(1)

        p = self.ctl('status')
        log(p.stdout)
        fields = dict(re.findall(r'^\s*([A-Za-z]+): (.*)$', p.stdout, re.M))
        self.assertEqual(fields['State'], 'ready')
        self.assertRegex(fields['Version'], r'^\d+\.\d+')
        self.assertEqual(fields['Watches'], '1 (1 directory)')
        self.assertEqual(fields['Tasks'], '1 scheduled, 0 running')
        self.assertRegex(fields['Events'], r'^[1-9]\d* \(0 queue overflows\)$')
        self.assertEqual(fields['Finished'], '0 done, 0 failed')
        self.assertNotIn('\x1b', p.stdout, 'no colours when stdout is not a terminal')

        # With no verb, status is the default.
        self.assertEqual(self.ctl().stdout, p.stdout)

        s = self.ctl_json('status')
        self.assertEqual(s['state'], 'ready')
        self.assertEqual(s['version'], fields['Version'])
        self.assertEqual(s['n_watches'], 1)
        self.assertEqual(s['n_directories'], 1)
        self.assertEqual(s['n_tasks_scheduled'], 1)
        self.assertEqual(s['n_tasks_running'], 0)
        self.assertGreaterEqual(s['n_events'], 1)
        self.assertEqual(s['n_overflows'], 0)
        self.assertEqual((s['n_tasks_done'], s['n_tasks_failed']), (0, 0))

    def test_colours_forced(self):
        self.start()
        write(os.path.join(self.w, 'slow-1'))
        self.wait_tasks(1)
        e = client_env(self.bus)
        e['SYSTEMD_COLORS'] = '1'
        self.assertIn('\x1b[', self.ctl('status', env=e).stdout)
        e.pop('SYSTEMD_COLORS')
        e['NO_COLOR'] = '1'
        self.assertNotIn('\x1b', self.ctl('list-tasks', env=e).stdout)

    # ---------------------------------------------------------------- lists

    def test_list_tasks(self):
        self.start()
        names = ['slow-a', 'slow-b c', b'slow-odd\xff\\name']
        paths = [os.path.join(os.fsencode(self.w), os.fsencode(n)) for n in names]
        for p in paths:
            write(p)
        tasks = self.wait_tasks(3)
        now = time.time() * 1e6

        self.assertEqual([t['id'] for t in tasks], sorted(t['id'] for t in tasks), 'sorted by id')
        for t, p in zip(tasks, paths):
            self.assertIsInstance(t['id'], int)
            self.assertEqual(t['object'], '/org/inotaskd1/task/%d' % t['id'])
            self.assertEqual(t['state'], 'scheduled')
            self.assertEqual(t['rule'], 'slow')
            self.assertIsInstance(t['event'], str)
            self.assertEqual(t['unit'], '', 'a scheduled task has no unit')
            self.assertTrue(now < t['due_usec'] < now + 61e6, 'due in about a minute: %r' % t)
            if p == paths[2]:
                # Not UTF-8: a display string, and the exact bytes besides.
                self.assertEqual(t['path'], os.fsdecode(os.fsencode(self.w)) + '/slow-odd\\xff\\\\name')
                self.assertEqual(bytes(t['path_bytes']), p)
            else:
                self.assertEqual(t['path'], os.fsdecode(p))
                self.assertNotIn('path_bytes', t)

        # The table: header, one aligned row per task, a blank line and the legend.
        out = self.ctl('list-tasks').stdout
        log(out)
        lines = out.split('\n')
        self.assertEqual(lines[-1], '', 'ends with a newline')
        header, rows, legend = lines[0], lines[1:4], lines[4:]
        self.assertEqual(header.split(), ['ID', 'STATE', 'RULE', 'EVENT', 'DUE', 'PATH'])
        self.assertEqual(legend, ['', '3 tasks listed.', ''])
        cols = {name: header.index(name) for name in header.split()}
        for row, t in zip(rows, tasks):
            self.assertEqual(row[:cols['STATE']].strip(), str(t['id']))
            self.assertEqual(row[cols['STATE']:cols['RULE']].strip(), 'scheduled')
            self.assertEqual(row[cols['RULE']:cols['EVENT']].strip(), 'slow')
            self.assertEqual(row[cols['EVENT']:cols['DUE']].strip(), t['event'])
            self.assertRegex(row[cols['DUE']:cols['PATH']].strip(), r'^in (\d+s|1min( \d+s)?)$')
            self.assertEqual(row[cols['PATH']:], t['path'])

        out = self.ctl('list-tasks', '--no-legend').stdout
        bare = out.split('\n')
        self.assertEqual(len(bare), 4, 'no header, no legend: %r' % out)
        for row, t in zip(bare, tasks):
            self.assertEqual(row.split()[:2], [str(t['id']), 'scheduled'])
            self.assertTrue(row.endswith(' ' + t['path']))

        # A finished task is listed with --all only.
        now_path = os.path.join(self.w, 'now-1')
        write(now_path)
        done = self.wait_task_for(now_path, 'done')
        self.assertEqual(done['due_usec'], 0)
        self.assertEqual(done['unit'], '', 'a spawned task (no systemd here) has no unit')
        self.assertEqual(len(self.ctl_json('list-tasks')), 3)
        all_tasks = self.ctl_json('list-tasks', '--all')
        self.assertEqual(len(all_tasks), 4)
        out = self.ctl('list-tasks', '--all').stdout
        self.assertRegex(out, r'(?m)^ *%d done +now +\S+ +- +%s$' % (done['id'], re.escape(now_path)))
        self.assertIn('\n4 tasks listed.\n', out)
        self.assertIn('1 finished task not shown', self.ctl('list-tasks').stdout)

        # One document: pretty or not, the same data.
        pretty = self.ctl('--json=pretty', 'list-tasks', '--all').stdout
        self.assertGreater(pretty.count('\n'), 4)
        self.assertEqual(json.loads(pretty), all_tasks)

    def test_list_watches_and_rules(self):
        d = self.start()
        out = self.ctl('list-watches').stdout
        log(out)
        self.assertEqual(out.split('\n')[0].split(), ['NAME', 'STATE', 'BACKEND', 'RECURSIVE', 'AUTOADD', 'DIRS',
                                                   'PATH'])
        self.assertRegex(out, r'(?m)^w +active +inotify +no +no +1 %s$' % re.escape(self.w))
        self.assertTrue(out.endswith('\n\n1 watch listed.\n'))
        self.assertEqual(self.ctl_json('list-watches'),
                         [{'name': 'w', 'state': 'active', 'backend': 'inotify', 'recursive': False,
                           'auto_add': False, 'directories': 1, 'path': self.w}])

        out = self.ctl('list-rules').stdout
        log(out)
        self.assertEqual(out.split('\n')[0].split(), ['NAME', 'ACTION', 'DELAY', 'WATCHES', 'EVENTS'])
        self.assertRegex(out, r'(?m)^slow +exec +1min +w +IN_CLOSE_WRITE$')
        self.assertRegex(out, r'(?m)^now +exec +0 +w +IN_CLOSE_WRITE$')
        self.assertTrue(out.endswith('\n\n3 rules listed.\n'))
        rules = {r['name']: r for r in self.ctl_json('list-rules')}
        self.assertEqual(sorted(rules), ['now', 'short', 'slow'])
        self.assertEqual(rules['slow']['delay_usec'], 60 * 10**6)
        self.assertEqual(rules['short']['delay_usec'], SHORT_DELAY * 10**6)
        self.assertEqual(rules['now']['action'], 'exec')
        self.assertIn('IN_CLOSE_WRITE', rules['now']['events'])
        self.assertEqual(rules['now']['watches'], ['w'], 'lists are JSON arrays')
        self.assertEqual(rules['now']['events'], ['IN_CLOSE_WRITE'])

    # ---------------------------------------------------------------- pager, width, JSON modes, filters

    def fake_pager(self, d, name='fake-pager'):
        """A pager that records what it reads and the LESS (and LESSSECURE) it was given, and prints a
        marker."""
        rec = d.path(name + '-input')
        script = d.path(name)
        with open(script, 'w') as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$LESS" > %s.less\n'
                    'printf "%%s\\n" "$LESSSECURE" > %s.secure\n'
                    'cat > %s\necho PAGED\n' % (rec, rec, rec))
        os.chmod(script, 0o755)
        return script, rec

    def test_pager(self):
        d = self.start()
        write(os.path.join(self.w, 'slow-paged'))
        self.wait_tasks(1)
        script, rec = self.fake_pager(d)
        ctl = [ctl_binary(), '--user']

        # On a terminal: through $PAGER, with LESS=FRSXMK. (SYSTEMD_PAGERSECURE=0: trust $PAGER whatever
        # the login session says; secure mode is checked below.)
        e = client_env(self.bus)
        e['SYSTEMD_PAGERSECURE'] = '0'
        e['PAGER'] = script
        rc, out, err = run_on_pty(ctl + ['list-tasks'], e)
        self.assertEqual(rc, 0, err)
        self.assertIn('PAGED', out)
        with open(rec) as f:
            paged = f.read()
        self.assertRegex(paged, r'(?m)^ *\d+ scheduled +slow .*slow-paged$')
        self.assertIn('1 task listed.', paged)
        with open(rec + '.less') as f:
            self.assertEqual(f.read(), 'FRSXMK\n')
        with open(rec + '.secure') as f:
            self.assertEqual(f.read(), '\n', 'no LESSSECURE out of secure mode')
        log('list-tasks on a pty went through $PAGER with LESS=FRSXMK:\n' + paged)

        # Secure mode as systemd's: SYSTEMD_PAGERSECURE=1 trusts $PAGER (it was chosen) but sets
        # LESSSECURE=1; without the variable, secure mode is on unless we run as the owner of our login
        # session (not under sudo), and then only less may page.
        os.unlink(rec)
        rc, out, err = run_on_pty(ctl + ['list-tasks'], dict(e, SYSTEMD_PAGERSECURE='1'))
        self.assertEqual(rc, 0, err)
        with open(rec + '.secure') as f:
            self.assertEqual(f.read(), '1\n')
        bindir = d.path('bin')
        os.makedirs(bindir)
        less, less_rec = self.fake_pager(d, 'bin/less')
        es = dict(e, PATH=bindir + ':' + e.get('PATH', '/usr/bin:/bin'))
        del es['SYSTEMD_PAGERSECURE']
        os.unlink(rec)
        rc, out, err = run_on_pty(ctl + ['list-tasks'], es)
        self.assertEqual(rc, 0, err)
        if session_owner() == os.getuid() == os.geteuid():
            self.assertTrue(os.path.exists(rec), 'the owner of the session: $PAGER')
            log('we own our login session: no secure mode, $PAGER used')
        else:
            self.assertFalse(os.path.exists(rec), '$PAGER is not run in secure mode')
            with open(less_rec) as f:
                self.assertIn('slow-paged', f.read())
            with open(less_rec + '.secure') as f:
                self.assertEqual(f.read(), '1\n')
            log('no login session of ours (owner %r): secure mode, $PAGER ignored, less with LESSSECURE=1'
                % session_owner())

        # $SYSTEMD_PAGER before $PAGER; $SYSTEMD_LESS for LESS.
        e['PAGER'] = '/bin/false'
        e['SYSTEMD_PAGER'] = script
        e['SYSTEMD_LESS'] = 'FRK'
        rc, out, err = run_on_pty(ctl + ['status'], e)
        self.assertEqual(rc, 0, err)
        with open(rec) as f:
            self.assertIn('inotaskd on the user bus', f.read())
        with open(rec + '.less') as f:
            self.assertEqual(f.read(), 'FRK\n')

        # --no-pager, a pipe, PAGER=cat and an empty one: straight out.
        os.unlink(rec)
        rc, out, err = run_on_pty(ctl + ['--no-pager', 'list-tasks'], e)
        self.assertEqual(rc, 0, err)
        self.assertIn('slow-paged', out)
        self.assertNotIn('PAGED', out)
        p = self.ctl('list-tasks', env=e)
        self.assertIn('slow-paged', p.stdout)
        for pager in ('cat', ''):
            e['SYSTEMD_PAGER'] = pager
            rc, out, err = run_on_pty(ctl + ['list-tasks'], e)
            self.assertEqual(rc, 0, err)
            self.assertIn('slow-paged', out)
        self.assertFalse(os.path.exists(rec), 'no pager with --no-pager, a pipe, "cat" or ""')
        # Verbs that do something are not paged.
        e['SYSTEMD_PAGER'] = script
        rc, out, err = run_on_pty(ctl + ['reload'], e)
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(rec), 'reload is not paged')
        rc, out, err = run_on_pty(ctl + ['--help', '--no-pager'], e)
        self.assertEqual(rc, 0, err)
        self.assertIn('Usage:', out)
        self.assertFalse(os.path.exists(rec), '--help --no-pager is not paged')
        # --help is, like systemctl's.
        rc, out, err = run_on_pty(ctl + ['--help'], e)
        self.assertEqual(rc, 0, err)
        with open(rec) as f:
            self.assertIn('--no-pager', f.read())
        log('no pager with --no-pager, on a pipe, with cat or "", for reload')

    def long_names(self):
        names = ['slow-' + 'a' * 70, 'slow-' + 'b' * 40 + '-end']
        for n in names:
            write(os.path.join(self.w, n))
        self.wait_tasks(2)
        return names

    def test_ellipsis(self):
        self.start()
        names = self.long_names()
        e = client_env(self.bus)
        e['LC_ALL'] = 'C.UTF-8'
        full = self.ctl('list-tasks', env=e).stdout
        self.assertIn(names[0], full, 'a pipe without COLUMNS: no limit')
        self.assertTrue(any(len(l) > 60 for l in full.splitlines()))

        e['COLUMNS'] = '60'
        out = self.ctl('list-tasks', env=e).stdout
        log('COLUMNS=60:\n' + out)
        for line in out.splitlines():
            self.assertLessEqual(len(line), 60, 'fits into 60 columns: %r' % line)
        self.assertEqual(out.count('\u2026'), 2, 'both paths ellipsized')
        self.assertRegex(out, r'(?m)^ *\d+ scheduled +slow .*\u2026b*-end$', 'in the middle: the end stays')
        self.assertNotIn(names[0], out)
        for flag in ('--full', '-l'):
            out = self.ctl(flag, 'list-tasks', env=e).stdout
            self.assertIn(names[0], out, flag)
            self.assertNotIn('\u2026', out)
        e['LC_ALL'] = 'C'
        self.assertIn('...', self.ctl('list-tasks', env=e).stdout, 'ASCII dots without UTF-8')

        # The width of the terminal itself, taken before the pager's pipe replaces it.
        e = client_env(self.bus)
        e['LC_ALL'] = 'C.UTF-8'
        rc, out, err = run_on_pty([ctl_binary(), '--user', '--no-pager', 'list-tasks'], e, cols=50)
        self.assertEqual(rc, 0, err)
        rows = [l for l in out.splitlines() if 'slow' in l]
        self.assertEqual(len(rows), 2, out)
        for line in rows:
            self.assertLessEqual(len(re.sub(r'\x1b\[[0-9;]*m', '', line)), 50, repr(line))
        log('a 50-column terminal:\n' + out)

    def test_json_modes(self):
        self.start()
        write(os.path.join(self.w, 'slow-j'))
        self.wait_tasks(1)
        table = self.ctl('list-tasks').stdout
        self.assertEqual(self.ctl('--json=off', 'list-tasks').stdout, table)
        self.assertEqual(self.ctl('--json', '--json=off', 'list-tasks').stdout, table, 'the last one counts')
        short = self.ctl('-j', 'list-tasks').stdout
        self.assertEqual(short.count('\n'), 1, '-j on a pipe: short')
        self.assertEqual(json.loads(short), json.loads(self.ctl('--json=short', 'list-tasks').stdout))
        rc, out, err = run_on_pty([ctl_binary(), '--user', '--no-pager', '-j', 'list-tasks'],
                                  client_env(self.bus))
        self.assertEqual(rc, 0, err)
        self.assertGreater(out.count('\n'), 3, '-j on a terminal: pretty')
        self.assertEqual(json.loads(out), json.loads(short))
        self.assertEqual(self.ctl('--json=help').stdout.split(), ['short', 'pretty', 'off'])
        self.ctl('--json=bogus', 'list-tasks', expect=EXIT_USAGE)

        # One key style: snake_case in every document.
        docs = [self.ctl_json('status'), self.ctl_json('show'), self.ctl_json('list-rules'),
                self.ctl_json('list-watches'), self.ctl_json('list-tasks'),
                self.ctl_json('show', str(json.loads(short)[0]['id']))]

        def keys(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    yield k
                    yield from keys(x)
            elif isinstance(v, list):
                for x in v:
                    yield from keys(x)
        all_keys = set(k for doc in docs for k in keys(doc))
        for k in all_keys:
            self.assertRegex(k, r'^[a-z][a-z0-9_]*$', 'snake_case key')
        log('JSON keys: ' + ' '.join(sorted(all_keys)))

    def test_filters(self):
        d = self.start()
        for n in ('slow-a', 'slow-b', 'now-c'):
            write(os.path.join(self.w, n))
        self.wait_task_for(os.path.join(self.w, 'now-c'), 'done')
        self.wait_tasks(2)

        def ids(*args):
            return sorted(os.path.basename(t['path']) for t in self.ctl_json('list-tasks', *args))
        self.assertEqual(ids(), ['slow-a', 'slow-b'])
        self.assertEqual(ids('--state=done'), ['now-c'], '--state= shows finished ones without --all')
        self.assertEqual(ids('--state=scheduled,done'), ['now-c', 'slow-a', 'slow-b'])
        self.assertEqual(ids('--state', 'running'), [])
        self.assertEqual(ids('--all', 'now'), ['now-c'], 'a rule name')
        self.assertEqual(ids('sl?w'), ['slow-a', 'slow-b'], 'a rule glob')
        self.assertEqual(ids('*/slow-b'), ['slow-b'], 'a path glob')
        self.assertEqual(ids('*-a', 'now'), ['slow-a'], 'patterns or; now-c is finished')
        self.assertEqual(ids('nothing*'), [])
        out = self.ctl('list-tasks', '*/slow-b').stdout
        self.assertRegex(out, r'\n\n1 task listed\.\n')
        self.assertIn('scheduled', self.ctl('--state=help').stdout.split())

        self.assertEqual([w['name'] for w in self.ctl_json('list-watches', 'w')], ['w'])
        self.assertEqual([w['name'] for w in self.ctl_json('list-watches', self.w)], ['w'], 'by path')
        self.assertEqual(self.ctl_json('list-watches', 'x*'), [])
        self.assertEqual(sorted(r['name'] for r in self.ctl_json('list-rules', 's*')), ['short', 'slow'])
        log('list-tasks --state= and PATTERNs, list-watches/list-rules PATTERNs')

    def test_status_task(self):
        self.start()
        write(os.path.join(self.w, 'slow-st'))
        t = self.wait_tasks(1)[0]
        out = self.ctl('status', str(t['id'])).stdout
        log(out)
        self.assertRegex(out, r'^\* Task %d of rule slow\n' % t['id'])
        fields = dict(re.findall(r'(?m)^ *([A-Za-z ]+): (.*)$', out))
        self.assertEqual(fields['State'], 'scheduled')
        self.assertEqual(fields['Path'], os.path.join(self.w, 'slow-st'))
        self.assertEqual(fields['Watch'], 'w')
        self.assertNotIn('Unit', fields, 'no Unit: line for a task that is not a unit')
        self.assertRegex(fields['Created'], r'^\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+; (now|\d+s ago)$')
        self.assertRegex(fields['Due'], r'; in (\d+s|1min( \d+s)?)$')
        # The daemon of this test logs to stderr, not to the journal: here status says it finds no
        # entries (or no journal); tests/system/run checks the journal lines under systemd.
        self.assertRegex(out, r'\n\n\((No journal entries for task %d\.|No journal to read: .*)\)\n$'
                         % t['id'])
        log('status ID: the journal part is checked by tests/system/run (no journal for this daemon here)')
        self.assertNotIn('journal', self.ctl('-n', '0', 'status', str(t['id'])).stdout)

        j = self.ctl_json('status', str(t['id']))
        self.assertEqual((j['id'], j['state']), (t['id'], 'scheduled'))
        self.assertEqual(j['unit'], '')
        p = self.ctl('status', '999999', expect=EXIT_FAILURE)
        self.assertIn('999999', p.stderr)
        self.ctl('status', 'x', expect=EXIT_USAGE)
        self.ctl('-n', 'many', 'status', expect=EXIT_USAGE)

    # ---------------------------------------------------------------- shell completion

    def complete(self, *words):
        """COMPREPLY of the bash completion function for inotaskctl --user WORDS (the last one is being
        completed), as bash calls it: COMP_WORDS, COMP_CWORD, the live values from the test's daemon."""
        script = os.path.join(os.environ['SRCDIR'], 'data', 'completion', 'inotaskctl.bash')
        prog = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; '
                'COMP_POINT=${#COMP_LINE}; _inotaskctl; printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(['bash', '--norc', '--noprofile', '-c', prog, 'bash', script, ctl_binary(),
                            '--user'] + list(words), capture_output=True, encoding='utf-8',
                           env=client_env(self.bus),
                           timeout=DEFAULT_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, '', 'the completion prints nothing on stderr')
        return sorted(l for l in p.stdout.split('\n') if l)

    def test_bash_completion(self):
        if not os.environ.get('SRCDIR'):
            self.skipTest('SRCDIR is not set')
        self.start()
        write(os.path.join(self.w, 'slow-c'))
        write(os.path.join(self.w, 'now-c'))
        done = self.wait_task_for(os.path.join(self.w, 'now-c'), 'done')
        scheduled = self.wait_tasks(1)[0]

        self.assertEqual(self.complete('list-'), ['list-rules', 'list-tasks', 'list-watches'])
        self.assertEqual(self.complete(''), sorted('status list-tasks list-watches list-rules show cancel '
                                                   'trigger run reload monitor'.split()))
        self.assertEqual(self.complete('--no-p'), ['--no-pager'])
        self.assertEqual(self.complete('--ful'), ['--full'])
        # Live values: the task ids (cancel: the active ones; status, show: finished ones too).
        self.assertEqual(self.complete('cancel', ''), [str(scheduled['id'])])
        self.assertEqual(self.complete('status', ''), sorted([str(scheduled['id']), str(done['id'])]))
        self.assertEqual(self.complete('--no-legend', 'show', '7', ''),
                         sorted([str(scheduled['id']), str(done['id'])]))
        self.assertEqual(self.complete('run', ''), ['now', 'short', 'slow'])
        self.assertEqual(self.complete('run', 's'), ['short', 'slow'])
        self.assertEqual(self.complete('list-watches', ''), ['w'])
        self.assertEqual(self.complete('list-tasks', 'n'), ['now'])
        self.assertEqual(self.complete('run', 'slow', os.path.join(self.w, 'slow-')),
                         [os.path.join(self.w, 'slow-c')], 'run RULE PATH: files')
        # Option values, with "=" split off (bash's default COMP_WORDBREAKS) or not.
        self.assertEqual(self.complete('--json', '=', ''), ['off', 'pretty', 'short'])
        self.assertEqual(self.complete('--json', '=', 'p'), ['pretty'])
        self.assertEqual(self.complete('--json=p'), ['--json=pretty'])
        self.assertEqual(self.complete('--state', '=', 'sch'), ['scheduled'])
        self.assertEqual(self.complete('--state', '=', 'done,r'), ['done,running'])
        self.assertEqual(self.complete('-p', 'Sta'), ['StartedUSec', 'State'])
        self.assertIn('NTasksRunning', self.complete('--property', '=', 'NT'), 'manager properties, live')
        # The bus options go to the live queries: the system bus has no daemon of this test.
        self.assertEqual(self.complete('--system', 'cancel', ''), [])
        log('bash completion: verbs, options, values, and task ids %d %d, rules and watch w from the daemon'
            % (scheduled['id'], done['id']))

    def zsh_complete(self, zsh, lines):
        """Types each of lines, then TAB, into an interactive zsh on a pty (compinit with our _inotaskctl
        first in $fpath) and returns what the line editor shows after the TAB, one string per line."""
        fpath = os.path.join(os.environ['SRCDIR'], 'data', 'completion')
        env = client_env(self.bus)
        env.update({'PS1': 'READY> ', 'TERM': 'dumb', 'HOME': self.tmp_home})
        # A line wider than the terminal makes zsh redraw it shortened ("</ctl/inotaskctl ..."), which
        # depends on how long the build directory's path is: give the terminal room for any of them.
        env['COLUMNS'] = '1000'
        pid, fd = os.forkpty()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 1000, 0, 0))
                os.execve(zsh, [zsh, '-f', '-i'], env)
            finally:
                os._exit(127)

        def read_until(regex):
            buf = b''
            deadline = time.monotonic() + DEFAULT_TIMEOUT
            while time.monotonic() < deadline:
                if select.select([fd], [], [], 0.1)[0]:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        break
                    buf += chunk
                    m = re.search(regex, buf)
                    if m:
                        return m
            raise Timeout('zsh did not show %r; got %r' % (regex, buf))
        try:
            read_until(rb'READY> ')
            os.write(fd, b'fpath=(%s $fpath); autoload -Uz compinit; compinit -u -D; unsetopt beep\n'
                     % fpath.encode())
            read_until(rb'compinit.*\n(.|\n)*READY> ')
            got = []
            for line in lines:
                os.write(fd, line.encode() + b'\t')
                # What the TAB inserted ends with a blank (a whole word) or "=" (an option's value).
                m = read_until(re.escape(line.encode()) + rb'([^\s\x07]*[ =,])')
                got.append(line + m.group(1).decode())
                os.write(fd, b'\x15')          # ^U: an empty line for the next one
            return got
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)

    def test_zsh_completion(self):
        if not os.environ.get('SRCDIR'):
            self.skipTest('SRCDIR is not set')
        script = os.path.join(os.environ['SRCDIR'], 'data', 'completion', '_inotaskctl')
        with open(script) as f:
            self.assertEqual(f.readline(), '#compdef inotaskctl\n')
        zsh = shutil.which('zsh')
        if not zsh:
            log('zsh is not installed: its completion is not checked beyond its #compdef line')
            return
        p = subprocess.run([zsh, '-n', script], capture_output=True, encoding='utf-8')
        self.assertEqual(p.returncode, 0, p.stderr)

        d = self.start()
        self.tmp_home = d.path('home')
        os.makedirs(self.tmp_home, exist_ok=True)
        write(os.path.join(self.w, 'slow-z'))
        t = self.wait_tasks(1)[0]
        ctl = ctl_binary() + ' --user '
        got = self.zsh_complete(zsh, [ctl + 'rel', ctl + 'cancel ', ctl + 'run sl', ctl + 'list-watches ',
                                      ctl + '--no-pa', ctl + '--json=pr'])
        self.assertEqual(got, [ctl + 'reload ', ctl + 'cancel %d ' % t['id'], ctl + 'run slow ',
                               ctl + 'list-watches w ', ctl + '--no-pager ', ctl + '--json=pretty '])
        log('zsh completion: verbs, task id %d, rule, watch, options, values from the daemon' % t['id'])

    # ---------------------------------------------------------------- show

    def test_show(self):
        self.start()
        path = os.path.join(os.fsencode(self.w), b'slow-\xe4\n')
        write(path)
        t = self.wait_tasks(1)[0]

        out = self.ctl('show', str(t['id'])).stdout
        log(out)
        props = dict(l.split('=', 1) for l in out.splitlines())
        self.assertEqual(props['Id'], str(t['id']))
        self.assertEqual(props['Rule'], 'slow')
        self.assertEqual(props['Watch'], 'w')
        self.assertEqual(props['State'], 'scheduled')
        self.assertEqual(props['Result'], '')
        self.assertEqual(props['Path'], t['path'])
        self.assertEqual(bytes.fromhex(props['PathBytes']), path)
        # Readable times in the listing; the raw µs under -p, for scripts.
        self.assertEqual(props['DueUSec'], time.strftime('%a %Y-%m-%d %H:%M:%S %Z',
                                                         time.localtime(t['due_usec'] // 10**6)))
        self.assertEqual(self.ctl('show', '-p', 'DueUSec', '--value', str(t['id'])).stdout,
                         '%d\n' % t['due_usec'])
        self.assertEqual(props['MainPID'], '0')
        self.assertEqual(props['Unit'], '')
        for k in ('Event', 'CreatedUSec', 'StartedUSec', 'FinishedUSec', 'ExitStatus'):
            self.assertIn(k, props)

        j = self.ctl_json('show', str(t['id']))
        self.assertEqual(j['id'], t['id'])
        self.assertEqual(bytes(j['path_bytes']), path)
        self.assertEqual(j['path'], t['path'])
        self.assertEqual(j['state'], 'scheduled')
        self.assertIsInstance(j['created_usec'], int)

        self.assertEqual(self.ctl('show', '-p', 'State', '--value', str(t['id'])).stdout, 'scheduled\n')
        self.assertEqual(self.ctl('show', '-p', 'Id,Rule', str(t['id'])).stdout,
                         'Id=%d\nRule=slow\n' % t['id'])
        # Without an id: the manager.
        self.assertIn('State=ready\n', self.ctl('show').stdout)

    def test_no_such_task(self):
        self.start()
        for verb in ('show', 'cancel', 'trigger'):
            p = self.ctl(verb, '4242', expect=EXIT_FAILURE)
            self.assert_one_error_line(p, r'^inotaskctl: no task 4242$')
            self.assertEqual(p.stdout, '')
        p = self.ctl('show', 'x1', expect=EXIT_USAGE)
        self.assert_one_error_line(p, r'^inotaskctl: not a task id: x1$')
        self.ctl('cancel', expect=EXIT_USAGE)
        self.ctl('frobnicate', expect=EXIT_USAGE)
        self.ctl('--frobnicate', 'status', expect=EXIT_USAGE)

    # ---------------------------------------------------------------- cancel, trigger, run

    def test_cancel_delayed_task(self):
        d = self.start()
        a, b = os.path.join(self.w, 'short-a'), os.path.join(self.w, 'short-b')
        write(a)
        t = self.wait_tasks(1)[0]
        self.assertEqual(t['path'], a)
        self.ctl('cancel', str(t['id']))
        self.assertEqual(self.ctl_json('show', str(t['id']))['state'], 'cancelled')
        self.assertEqual(self.ctl_json('list-tasks'), [], 'a cancelled task is not listed without --all')
        self.assertEqual(self.task_for(a, all=True)['state'], 'cancelled')

        # A second cancel fails in one line.
        p = self.ctl('cancel', str(t['id']), expect=EXIT_FAILURE)
        self.assert_one_error_line(p, r'^inotaskctl: cannot cancel task %d: ' % t['id'])

        # b has the same delay and is scheduled after a was cancelled: when b has run, a's time has
        # long come, so had it survived it would have run too.
        write(b)
        d.wait_records(1)
        self.wait_task_for(b, 'done')
        self.assertEqual([r.args for r in d.records()], [[os.fsencode(b)]], 'the cancelled task never ran')

    def test_trigger_delayed_task(self):
        d = self.start()
        path = os.path.join(self.w, 'slow-t')
        write(path)
        t = self.wait_tasks(1)[0]
        start = time.monotonic()
        self.ctl('trigger', str(t['id']))
        recs = d.wait_records(1)
        log('triggered task ran after %.2fs' % (time.monotonic() - start))
        self.assertLess(time.monotonic() - start, 30, 'ran at once, not after its 60 s delay')
        self.assertEqual(recs[0].args[0], os.fsencode(path), 'with its event values: {pathname}')
        self.assertIn(b'IN_CLOSE_WRITE', recs[0].args[1], 'with its event values: {maskname}')
        done = self.wait_task_for(path, 'done')
        self.assertEqual(done['id'], t['id'], 'the same task ran')
        self.assertEqual(self.ctl_json('show', str(t['id']))['result'], 'success')

        p = self.ctl('trigger', str(t['id']), expect=EXIT_FAILURE)
        self.assert_one_error_line(p, r'^inotaskctl: cannot trigger task %d: ' % t['id'])

    def test_run_rule(self):
        d = self.start()
        path = os.path.join(self.w, 'by-hand')
        out = self.ctl('run', 'now', path).stdout
        self.assertRegex(out, r'^\d+\n$', 'prints the new id')
        tid = int(out)
        recs = d.wait_records(1)
        self.assertEqual(recs[0].args, [os.fsencode(path)])
        done = self.wait_task_for(path, 'done')
        self.assertEqual(done['id'], tid)

        # A relative path is taken relative to the caller's directory.
        p = subprocess.run([ctl_binary(), '--user', '--json', 'run', 'now', 'rel'], cwd=self.w,
                           capture_output=True, encoding='utf-8', env=client_env(self.bus),
                           timeout=DEFAULT_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        tid = json.loads(p.stdout)['id']
        self.assertEqual(self.ctl_json('show', str(tid))['path'], os.path.join(self.w, 'rel'))

        p = self.ctl('run', 'no-such-rule', path, expect=EXIT_FAILURE)
        self.assert_one_error_line(p, r'^inotaskctl: cannot run rule no-such-rule: .*no-such-rule')
        p = self.ctl('run', 'now', '/elsewhere/x', expect=EXIT_FAILURE)
        self.assert_one_error_line(p, r'^inotaskctl: cannot run rule now: ')
        self.ctl('run', 'now', expect=EXIT_USAGE)

    # ---------------------------------------------------------------- reload

    def test_reload_broken_config(self):
        d = self.start()
        self.ctl('reload')

        d.write_config(CONFIG + BROKEN)
        with open(d.config_path) as f:
            line = next(i for i, l in enumerate(f, 1) if l.startswith('On=IN_NO_SUCH_EVENT'))
        p = self.ctl('reload', expect=EXIT_FAILURE)
        log(p.stderr)
        self.assertTrue(p.stderr.startswith('inotaskctl: '))
        self.assertIn('%s:%d' % (d.config_path, line), p.stderr, 'names file:line')
        self.assertIn('IN_NO_SUCH_EVENT', p.stderr)
        self.assertNotIn('org.inotaskd1.Error', p.stderr)
        self.assertEqual(p.stdout, '')
        # Nothing changed.
        self.assertEqual(sorted(r['name'] for r in self.ctl_json('list-rules')), ['now', 'short', 'slow'])
        self.assertEqual(self.ctl_json('status')['state'], 'ready')

        d.write_config(CONFIG.replace('[Rule now]', '[Rule later]\nWatch=w\nOn=IN_CREATE\nExec=/bin/true\n\n'
                                      '[Rule now]'))
        self.ctl('reload')
        self.assertIn('later', [r['name'] for r in self.ctl_json('list-rules')])

    # ---------------------------------------------------------------- errors

    def test_daemon_not_running(self):
        for args in (['status'], ['list-tasks'], ['show', '1'], ['cancel', '1'], ['reload'], ['monitor']):
            p = self.ctl(*args, expect=EXIT_NOT_RUNNING)
            self.assert_one_error_line(
                p, r'^inotaskctl: inotaskd is not running \(no org\.inotaskd1 on the user bus\)\.$')
            self.assertEqual(p.stdout, '')

        # No bus at all.
        e = client_env(self.bus)
        e['DBUS_SESSION_BUS_ADDRESS'] = 'unix:path=' + os.path.join(self.bus.tmp, 'nothing-here')
        p = self.ctl('status', env=e, expect=EXIT_NOT_RUNNING)
        self.assert_one_error_line(p, r'^inotaskctl: cannot connect to the user bus: ')

    def test_permission_denied(self):
        if os.geteuid() != 0:
            self.skipTest('needs root to call as another user')
        self.start()
        write(os.path.join(self.w, 'slow-p'))
        t = self.wait_tasks(1)[0]
        nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--']
        probe = subprocess.run(nobody + [ctl_binary(), '--version'], capture_output=True)
        if probe.returncode != 0:
            self.skipTest('inotaskctl cannot run as nobody here: %r' % probe.stderr)

        # Reading is open to everyone; changing is not.
        p = self.ctl('list-tasks', prefix=nobody)
        self.assertIn(t['path'], p.stdout)
        p = self.ctl('cancel', str(t['id']), prefix=nobody, expect=EXIT_PERMISSION)
        self.assert_one_error_line(p, r'^inotaskctl: permission denied: ')
        self.assertEqual(self.ctl_json('show', str(t['id']))['state'], 'scheduled')

    # ---------------------------------------------------------------- monitor

    def monitor(self, *args):
        p = subprocess.Popen([ctl_binary(), '--user', 'monitor'] + list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding='utf-8',
                             env=client_env(self.bus))

        def cleanup():
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(cleanup)
        out, err = Lines(p.stdout), Lines(p.stderr)
        # The banner comes once the subscriptions are in place.
        err.wait(r'^Monitoring inotaskd .* on the user bus', 'the monitor banner')
        return p, out, err

    def stop_monitor(self, p, err):
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(DEFAULT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Timeout('monitor did not exit on SIGINT')
        self.assertEqual(rc, 0, 'exit 0 on SIGINT; stderr: %r' % err.snapshot())
        self.assertIsNone(SANITIZER_REPORT.search('\n'.join(err.snapshot())))

    def test_monitor(self):
        self.start()
        p, out, err = self.monitor()
        path = os.path.join(self.w, 'now-m')
        write(path)

        ts = r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} '
        i_new, m = out.wait(ts + r'TaskNew +id=(\d+) rule=now event=\S+ path=%s$' % re.escape(path),
                            'TaskNew')
        tid = m.group(1)
        i_started, _ = out.wait(ts + r'TaskStarted +id=%s rule=now .*path=%s$' % (tid, re.escape(path)),
                                'TaskStarted')
        i_removed, _ = out.wait(ts + r'TaskRemoved +id=%s result=success rule=now .*path=%s$'
                                % (tid, re.escape(path)), 'TaskRemoved')
        self.assertLess(i_new, i_started)
        self.assertLess(i_started, i_removed)
        out.wait(ts + r'Manager +.*NTasksScheduled=\d+', 'a manager PropertiesChanged line')
        log('\n'.join(out.snapshot()))
        self.stop_monitor(p, err)

    def test_monitor_json(self):
        d = self.start()
        p, out, err = self.monitor('--json')
        write(os.path.join(self.w, 'slow-j'))
        tid = self.wait_tasks(1)[0]['id']
        self.ctl('cancel', str(tid))
        out.wait(r'"signal":"TaskRemoved"', 'TaskRemoved')

        events = [json.loads(l) for l in out.snapshot()]
        mine = [e for e in events if e.get('id') == tid]
        self.assertEqual([e['signal'] for e in mine], ['TaskNew', 'TaskRemoved'])
        self.assertEqual(mine[0]['rule'], 'slow')
        self.assertEqual(mine[0]['path'], os.path.join(self.w, 'slow-j'))
        self.assertEqual(mine[0]['task'], '/org/inotaskd1/task/%d' % tid)
        self.assertEqual(mine[1]['result'], 'cancelled')
        self.assertIsInstance(mine[0]['timestamp_usec'], int)

        # The daemon going away is an event, not the end of the monitor.
        d.stop()
        out.wait(r'"signal":"NameOwnerChanged","running":false', 'the daemon leaving the bus')
        self.stop_monitor(p, err)


if __name__ == '__main__':
    harness.main()
