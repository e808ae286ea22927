#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""inotaskctl against the real daemon on a private bus: status, the lists (tables and --json), show,
cancel, trigger, run, reload, monitor, and its errors and exit codes."""

import json
import os
import re
import signal
import subprocess
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
    return e


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
        self.assertEqual(s['State'], 'ready')
        self.assertEqual(s['Version'], fields['Version'])
        self.assertEqual(s['NWatches'], 1)
        self.assertEqual(s['NDirectories'], 1)
        self.assertEqual(s['NTasksScheduled'], 1)
        self.assertEqual(s['NTasksRunning'], 0)
        self.assertGreaterEqual(s['NEvents'], 1)
        self.assertEqual(s['NOverflows'], 0)
        self.assertEqual((s['NTasksDone'], s['NTasksFailed']), (0, 0))

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
        self.assertEqual(rules['now']['watches'], 'w')

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
        self.assertEqual(props['DueUSec'], str(t['due_usec']))
        self.assertEqual(props['MainPID'], '0')
        for k in ('Event', 'CreatedUSec', 'StartedUSec', 'FinishedUSec', 'ExitStatus'):
            self.assertIn(k, props)

        j = self.ctl_json('show', str(t['id']))
        self.assertEqual(j['Id'], t['id'])
        self.assertEqual(bytes(j['PathBytes']), path)
        self.assertEqual(j['Path'], t['path'])
        self.assertEqual(j['State'], 'scheduled')
        self.assertIsInstance(j['CreatedUSec'], int)

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
        self.assertEqual(self.ctl_json('show', str(t['id']))['State'], 'cancelled')
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
        self.assertEqual(self.ctl_json('show', str(t['id']))['Result'], 'success')

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
        self.assertEqual(self.ctl_json('show', str(tid))['Path'], os.path.join(self.w, 'rel'))

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
        self.assertEqual(self.ctl_json('status')['State'], 'ready')

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
        self.assertEqual(self.ctl_json('show', str(t['id']))['State'], 'scheduled')

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
