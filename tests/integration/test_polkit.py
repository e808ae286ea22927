#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Authorization on a bus like the system bus: a private dbus-daemon with the default-deny policy of
system.conf and the shipped dbus/org.inotaskd1.conf, the daemon (root) on it, callers made unprivileged
with setpriv. Without polkit: root, the daemon's uid and AdminGroup= members (by the groups the bus
recorded at connect time) only, logged once. With a real polkitd on that bus (in a mount namespace that
shows it data/polkit/org.inotaskd1.policy and the test's rules): its answers, asked asynchronously. And
the setgid race: pipelined RunRule calls followed by an exec of a setgid program of AdminGroup=."""

import json
import os
import pty
import select
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import DEFAULT_TIMEOUT, log, wait_for, write
from bus_harness import BusDaemon, BusTestCase, PrivateBus, dbus_daemon

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get('SRCDIR', os.path.join(HERE, '..', '..'))
POLKITD = '/usr/lib/polkit-1/polkitd'
NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--']
EXIT_PERMISSION = 4

MANAGE = 'org.inotaskd1.manage-tasks'
RELOAD = 'org.inotaskd1.reload'
LIST = 'org.inotaskd1.list-tasks'

# system.conf's default context, trimmed to what matters here, plus the shipped policy; with polkit,
# the policy polkit ships (polkitd owns its name, everyone may call it).
SYSTEM_BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:dir=%(dir)s</listen>
  <auth>EXTERNAL</auth>
  <!-- The default, 128, would refuse most of the race's 300 pipelined calls itself (LimitsExceeded). -->
  <limit name="max_replies_per_connection">1024</limit>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>%(policy)s</include>
%(polkit)s
</busconfig>
'''

POLKIT_BUS_POLICY = '''
  <policy user="polkitd">
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_interface="org.freedesktop.PolicyKit1.AuthenticationAgent"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
'''

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule slow]
Watch=w
On=IN_CLOSE_WRITE
Match=slow-*
DelaySec=600
Exec=@REC@ {pathname}
'''

RELOADED_RULE = '''
[Rule added-by-reload]
Watch=w
On=IN_CLOSE_WRITE
Match=never-*
Exec=/bin/true
'''

MGR = ('org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager')


class SystemBus(PrivateBus):
    """A PrivateBus with system.conf's default-deny policy and the shipped bus policy file."""

    def __init__(self, polkit=False):
        super().__init__()
        with open(self.config, 'w') as f:
            f.write(SYSTEM_BUS_CONFIG % {
                'dir': self.tmp,
                'policy': os.path.join(SRCDIR, 'dbus', 'org.inotaskd1.conf'),
                'polkit': POLKIT_BUS_POLICY if polkit else '',
            })

    def socket_path(self):
        m = re.search(r'unix:path=([^,;]+)', self.address)
        assert m, 'no socket path in %s' % self.address
        return m.group(1)


class Polkitd:
    """The real polkitd on a private bus, in a mount namespace where polkit's action directory holds only
    our policy file and its rules directories hold only the given rules."""

    def __init__(self, bus, rules=None):
        self.bus = bus
        self.tmp = tempfile.mkdtemp(prefix='inotaskd-polkit.', dir='/tmp')
        os.chmod(self.tmp, 0o755)
        self.actions = os.path.join(self.tmp, 'actions')
        self.rules = os.path.join(self.tmp, 'rules')
        for d in (self.actions, self.rules):
            os.mkdir(d)
            os.chmod(d, 0o755)
        shutil.copy(os.path.join(SRCDIR, 'data', 'polkit', 'org.inotaskd1.policy'), self.actions)
        for name, text in (rules or {}).items():
            write(os.path.join(self.rules, name), text)
            os.chmod(os.path.join(self.rules, name), 0o644)
        self.proc = None

    def start(self):
        script = ('mount --bind {a} /usr/share/polkit-1/actions && '
                  'mount --bind {r} /etc/polkit-1/rules.d && '
                  'mount --bind {r} /usr/share/polkit-1/rules.d && '
                  'exec {p}').format(a=self.actions, r=self.rules, p=POLKITD)
        env = dict(os.environ)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.bus.address
        self.log = open(os.path.join(self.tmp, 'polkitd.log'), 'wb')
        self.proc = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script],
                                     env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

        def owned():
            if self.proc.poll() is not None:
                raise AssertionError('polkitd exited: %s' % self.log_text())
            p = subprocess.run(['busctl', '--user', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                                'org.freedesktop.DBus', 'NameHasOwner', 's', 'org.freedesktop.PolicyKit1'],
                               capture_output=True, text=True, env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
            return p.stdout.strip() == 'b true'
        wait_for(owned, what='polkitd owning org.freedesktop.PolicyKit1')
        return self

    def log_text(self):
        with open(os.path.join(self.tmp, 'polkitd.log'), errors='replace') as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(DEFAULT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class AuthTestCase(BusTestCase):
    """A fresh system-like bus per test (polkit on it when POLKIT is true) and the daemon on it."""

    POLKIT = False
    RULES = None

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest('needs root: the daemon owns its name as root, callers are made other users')
        for tool in ('busctl', 'gdbus', 'setpriv'):
            if not shutil.which(tool):
                self.skipTest('%s is not installed' % tool)
        if not dbus_daemon():
            self.skipTest('dbus-daemon is not installed')
        harness.DaemonTestCase.setUp(self)
        self.bus = SystemBus(polkit=self.POLKIT).start()
        self.polkitd = None
        if self.POLKIT:
            if not os.access(POLKITD, os.X_OK) or not shutil.which('unshare'):
                self.skipTest('polkitd (package polkitd) or unshare is not installed')
            self.polkitd = Polkitd(self.bus, self.RULES).start()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            if self.polkitd:
                if self._outcome_failed():
                    log('--- polkitd log ---\n%s--- end ---' % self.polkitd.log_text()[-4000:])
                self.polkitd.stop()

    def start(self, config=CONFIG, **kw):
        d = self.daemon(config, start=False, **kw)
        os.mkdir(d.path('w'))
        d.start()
        return d

    def schedule(self, d, name):
        write(d.path('w', name))
        wait_for(lambda: d.log_matches(r'^Task \d+ \(slow\) scheduled for %s\.$' % re.escape(d.path('w', name))),
                 what='a scheduled task for %s' % name)
        return self.task_id(name)

    def task_id(self, name):
        p = self.busctl('call', *MGR, 'ListTasks')
        m = re.search(r' (\d+) "/org/inotaskd1/task/\d+" "slow" "[^"]*/%s"' % re.escape(name), p.stdout)
        assert m, 'no task for %s in %s' % (name, p.stdout)
        return int(m.group(1))

    def task_state(self, tid):
        p = self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1/task/%d' % tid, 'org.inotaskd1.Task',
                        'State')
        return p.stdout.split()[-1].strip('"')

    def busctl(self, *args, prefix=(), check=True):
        p = subprocess.run(list(prefix) + ['busctl', '--user'] + list(args), capture_output=True, text=True,
                           env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError('busctl %s failed: %s' % (' '.join(args), p.stderr))
        return p

    def gdbus_call(self, path, method, *args, prefix=NOBODY, interactive=False):
        """gdbus call; returns (returncode, output)."""
        cmd = list(prefix) + ['gdbus', 'call', '--session', '--dest', 'org.inotaskd1', '--object-path', path,
                              '--method', method] + (['--interactive'] if interactive else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        return p.returncode, p.stdout + p.stderr

    def mutating_calls(self, tid):
        return [
                ('/org/inotaskd1', 'org.inotaskd1.Manager.CancelTask', (str(tid),), MANAGE),
                ('/org/inotaskd1', 'org.inotaskd1.Manager.TriggerTask', (str(tid),), MANAGE),
                ('/org/inotaskd1/task/%d' % tid, 'org.inotaskd1.Task.Cancel', (), MANAGE),
                ('/org/inotaskd1/task/%d' % tid, 'org.inotaskd1.Task.Trigger', (), MANAGE),
                ('/org/inotaskd1', 'org.inotaskd1.Manager.RunRule', ('slow', self.d.path('w', 'slow-run')),
                 MANAGE),
                ('/org/inotaskd1', 'org.inotaskd1.Manager.Reload', (), RELOAD),
        ]

    def assert_refused(self, tid, error='org.freedesktop.DBus.Error.AccessDenied', **kw):
        self.d.write_dropin('50-reload.conf', RELOADED_RULE)
        for path, method, args, action in self.mutating_calls(tid):
            rc, out = self.gdbus_call(path, method, *args, **kw)
            log('%s as nobody: %s' % (method, out.strip()))
            self.assertNotEqual(rc, 0, '%s was allowed: %s' % (method, out))
            self.assertIn(error, out, method)
            self.assertIn(action, out, '%s: the error does not name the polkit action' % method)
        self.assertEqual(self.task_state(tid), 'scheduled')
        self.assertNotIn('added-by-reload', self.busctl('call', *MGR, 'ListRules').stdout, 'reloaded anyway')
        self.assertEqual(len(re.findall(r'"slow-run"', self.busctl('call', *MGR, 'ListTasks').stdout)), 0)

    def assert_can_read(self, tid, prefix=NOBODY):
        self.assertIn('/w/slow-1', self.busctl('call', *MGR, 'ListTasks', prefix=prefix).stdout)
        self.assertIn('/org/inotaskd1/task/%d' % tid,
                      self.busctl('call', *MGR, 'GetTask', 't', str(tid), prefix=prefix).stdout)
        self.assertIn(self.d.path('w'), self.busctl('call', *MGR, 'ListWatches', prefix=prefix).stdout)
        self.assertIn('"slow"', self.busctl('call', *MGR, 'ListRules', prefix=prefix).stdout)
        self.assertIn('scheduled', self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1/task/%d' % tid,
                                               'org.inotaskd1.Task', 'State', prefix=prefix).stdout)


class WithoutPolkit(AuthTestCase):
    def test_unprivileged_refused_naming_the_action_and_can_read(self):
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        self.assert_refused(tid)
        self.assert_can_read(tid)
        # The fallback is logged once, however many calls needed it.
        self.assertEqual(len(self.d.log_matches(r'polkit is not available')), 1, self.d.log_text())
        # Root still may.
        self.busctl('call', *MGR, 'CancelTask', 't', str(tid))
        self.assertEqual(self.task_state(tid), 'cancelled')

    def test_inotaskctl_exits_4_naming_the_action(self):
        ctl = os.environ.get('INOTASKCTL_BINARY')
        if not ctl:
            self.skipTest('INOTASKCTL_BINARY is not set')
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        env = self.bus.env()
        env['LC_ALL'] = 'C'
        for args, action in ((['cancel', str(tid)], MANAGE), (['trigger', str(tid)], MANAGE),
                             (['run', 'slow', self.d.path('w', 'slow-2')], MANAGE), (['reload'], RELOAD),
                             (['--no-ask-password', 'cancel', str(tid)], MANAGE)):
            p = subprocess.run(NOBODY + [ctl, '--user'] + args, capture_output=True, text=True, env=env,
                               stdin=subprocess.DEVNULL, timeout=DEFAULT_TIMEOUT)
            log('inotaskctl %s as nobody: %d %s' % (' '.join(args), p.returncode, p.stderr.strip()))
            self.assertEqual(p.returncode, EXIT_PERMISSION, p.stderr)
            self.assertRegex(p.stderr, r'^inotaskctl: permission denied: .*%s' % re.escape(action))
        p = subprocess.run(NOBODY + [ctl, '--user', 'list-tasks'], capture_output=True, text=True, env=env,
                           timeout=DEFAULT_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('slow-1', p.stdout)
        self.assertEqual(self.task_state(tid), 'scheduled')

    def make_group(self):
        if not shutil.which('groupadd'):
            self.skipTest('groupadd is not installed')
        name = 'inotaskd-t%d' % os.getpid()
        subprocess.run(['groupadd', '--system', name], check=True, capture_output=True)
        self.addCleanup(subprocess.run, ['groupdel', name], capture_output=True)
        import grp
        return name, grp.getgrnam(name).gr_gid

    def test_admin_group_member_by_real_groups_allowed_without_polkit(self):
        name, gid = self.make_group()
        self.d = self.start(CONFIG + '\n[Daemon]\nAdminGroup=%s\n' % name)
        tid = self.schedule(self.d, 'slow-1')
        member = ['setpriv', '--reuid=65534', '--regid=65534', '--groups=%d' % gid, '--']
        self.busctl('call', *MGR, 'CancelTask', 't', str(tid), prefix=member)
        self.assertEqual(self.task_state(tid), 'cancelled')
        # A primary group of AdminGroup= counts as well (the bus records it with the others).
        tid = self.schedule(self.d, 'slow-2')
        self.busctl('call', *MGR, 'TriggerTask', 't', str(tid),
                    prefix=['setpriv', '--reuid=65534', '--regid=%d' % gid, '--clear-groups', '--'])
        self.d.wait_records(1)
        # Not a member: refused, and the fallback was logged once.
        tid = self.schedule(self.d, 'slow-3')
        rc, out = self.gdbus_call('/org/inotaskd1', 'org.inotaskd1.Manager.CancelTask', str(tid))
        self.assertNotEqual(rc, 0)
        self.assertIn(MANAGE, out)
        self.assertEqual(len(self.d.log_matches(r'polkit is not available')), 1, self.d.log_text())

    def test_setgid_race_authorizes_nothing(self):
        """The attack of issue 10: uid 65534 pipelines RunRule calls, then execs a program that is setgid
        to AdminGroup=. Read from /proc at call time, its groups win; the bus's record of them does not."""
        name, gid = self.make_group()
        self.d = self.start(CONFIG + '\n[Daemon]\nAdminGroup=%s\n' % name)
        tmp = tempfile.mkdtemp(prefix='inotaskd-race.', dir='/tmp')
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        os.chmod(tmp, 0o755)
        wire = os.path.join(tmp, 'dbus_wire.py')
        shutil.copy(os.path.join(HERE, 'dbus_wire.py'), wire)
        os.chmod(wire, 0o644)
        setgid = os.path.join(tmp, 'python3-setgid')
        shutil.copy(os.path.realpath(sys.executable), setgid)
        os.chown(setgid, 0, gid)
        os.chmod(setgid, 0o2755)

        # In rounds below the daemon's 64 waiting authorizations per caller (more are refused with
        # LimitsExceeded before any check), each round a new connection: 300 calls are all decided.
        rounds, per_round = 5, 60
        totals = {'returns': 0, 'missing': 0, 'errors': {}}
        for _ in range(rounds):
            p = subprocess.run(NOBODY + [sys.executable, '-S', wire, 'send', self.bus.socket_path(),
                                         str(per_round), 'slow', self.d.path('w', 'slow-race'), setgid, '-S',
                                         wire, 'read', '2', str(per_round)],
                               capture_output=True, text=True, timeout=DEFAULT_TIMEOUT * 3)
            self.assertEqual(p.returncode, 0, p.stderr)
            got = json.loads(p.stdout)
            self.assertEqual(got['egid'], gid, 'the setgid program did not run with the group: %s' % got)
            totals['returns'] += got['returns']
            totals['missing'] += got['missing']
            for k, v in got['errors'].items():
                totals['errors'][k] = totals['errors'].get(k, 0) + v
        n = rounds * per_round
        log('setgid race, %d pipelined RunRule calls in %d rounds: %s' % (n, rounds, totals))
        self.assertEqual(totals['missing'], 0, totals)
        self.assertEqual(totals['returns'], 0, '%d of %d calls were authorized' % (totals['returns'], n))
        ran = self.d.task_ids('.*', rule='slow')
        self.assertEqual(ran, [], 'tasks were created: %s' % ran)
        self.assertEqual(totals['errors'], {'org.freedesktop.DBus.Error.AccessDenied': n}, totals)


class WithPolkit(AuthTestCase):
    POLKIT = True
    # polkit.spawn() blocks polkitd for 4 s: the daemon must go on answering meanwhile.
    RULES = {'50-test.rules': '''
polkit.addRule(function(action, subject) {
        if (action.id == "org.inotaskd1.reload" && subject.user == "nobody") {
                polkit.spawn(["/bin/sleep", "4"]);
                return polkit.Result.NO;
        }
});
'''}

    def test_unprivileged_refused_by_polkit_and_can_read(self):
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        # The policy's default for manage-tasks is auth_admin: a challenge, which a caller that did not
        # allow interaction hears of as InteractiveAuthorizationRequired ...
        for path, method, args, action in self.mutating_calls(tid)[:5]:
            rc, out = self.gdbus_call(path, method, *args)
            log('%s as nobody: %s' % (method, out.strip()))
            self.assertNotEqual(rc, 0, out)
            self.assertIn('org.freedesktop.DBus.Error.InteractiveAuthorizationRequired', out)
            self.assertIn(action, out)
        # ... and one that did, with no agent to ask, as AccessDenied.
        rc, out = self.gdbus_call('/org/inotaskd1', 'org.inotaskd1.Manager.CancelTask', str(tid), interactive=True)
        self.assertIn('org.freedesktop.DBus.Error.AccessDenied', out)
        self.assertIn(MANAGE, out)
        self.assertEqual(self.task_state(tid), 'scheduled')
        # list-tasks is allow_any=yes in the policy: polkit says yes.
        self.assert_can_read(tid)
        self.assertEqual(self.d.log_matches(r'polkit is not available'), [])

    def ctl_on_terminal(self, *args):
        """inotaskctl as nobody with a pseudo-terminal as its controlling terminal and stdin, on this bus
        as its system bus (pkttyagent finds polkit there too). Returns (pid, exit status, output)."""
        ctl = os.environ.get('INOTASKCTL_BINARY')
        if not ctl:
            self.skipTest('INOTASKCTL_BINARY is not set')
        env = self.bus.env()
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.bus.address
        env['LC_ALL'] = 'C'
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvpe('setpriv', NOBODY + [ctl, '--system'] + list(args), env)
            finally:
                os._exit(127)
        out = b''
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:         # EIO: the other side is closed
                        break
                    if not chunk:
                        break
                    out += chunk
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        return pid, os.waitstatus_to_exitcode(status), out.decode(errors='replace')

    def test_inotaskctl_starts_a_polkit_agent_on_a_terminal(self):
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        pid, code, out = self.ctl_on_terminal('cancel', str(tid))
        log('inotaskctl cancel on a terminal: %d %r' % (code, out))
        # Without logind the test's caller has no session, so polkit cannot route the question to the
        # agent (it would with a login session, as for systemctl): the agent registered, polkit said no.
        self.assertRegex(self.polkitd.log_text(),
                         r'Registered Authentication Agent for unix-process:%d:.*pkttyagent --notify-fd' % pid)
        self.assertEqual(code, EXIT_PERMISSION, out)
        self.assertIn(MANAGE, out)
        pid, code, out = self.ctl_on_terminal('--no-ask-password', 'cancel', str(tid))
        log('inotaskctl --no-ask-password cancel on a terminal: %d %r' % (code, out))
        self.assertNotIn('unix-process:%d:' % pid, self.polkitd.log_text())
        self.assertEqual(code, EXIT_PERMISSION, out)
        self.assertIn('Interactive authentication required for %s' % MANAGE, out)
        self.assertEqual(self.task_state(tid), 'scheduled')

    def test_polkit_is_asked_without_blocking_the_loop(self):
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        result = {}

        def call():
            t0 = time.monotonic()
            result['out'] = self.gdbus_call('/org/inotaskd1', 'org.inotaskd1.Manager.Reload')
            result['seconds'] = time.monotonic() - t0
        th = threading.Thread(target=call)
        th.start()
        # Wait until polkit runs the rule's sleep (the Reload is then parked in the daemon).
        wait_for(lambda: subprocess.run(['pgrep', '-x', 'sleep', '-U', 'polkitd'],
                                        capture_output=True).returncode == 0, what='the rule running sleep')
        t0 = time.monotonic()
        self.busctl('call', *MGR, 'ListTasks')
        self.busctl('call', *MGR, 'CancelTask', 't', str(tid))
        answered = time.monotonic() - t0
        still_waiting = th.is_alive()
        th.join(DEFAULT_TIMEOUT)
        log('root answered in %.3f s while polkit sat on a Reload for %.3f s' % (answered, result['seconds']))
        self.assertFalse(th.is_alive())
        self.assertTrue(still_waiting, 'the Reload was answered before root\'s calls: %s' % result)
        self.assertEqual(self.task_state(tid), 'cancelled')
        rc, out = result['out']
        self.assertNotEqual(rc, 0, out)
        self.assertIn('org.freedesktop.DBus.Error.AccessDenied', out)
        self.assertIn(RELOAD, out)


class WithPolkitRule(AuthTestCase):
    POLKIT = True
    RULES = {'50-test.rules': '''
polkit.addRule(function(action, subject) {
        if (action.id == "org.inotaskd1.manage-tasks" && subject.user == "nobody")
                return polkit.Result.YES;
        if (action.id == "org.inotaskd1.list-tasks" && subject.user == "daemon")
                return polkit.Result.NO;
});
'''}

    def test_rule_allows_cancel_not_reload(self):
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        self.busctl('call', *MGR, 'CancelTask', 't', str(tid), prefix=NOBODY)
        self.assertEqual(self.task_state(tid), 'cancelled')
        tid = self.schedule(self.d, 'slow-2')
        rc, out = self.gdbus_call('/org/inotaskd1/task/%d' % tid, 'org.inotaskd1.Task.Trigger')
        self.assertEqual(rc, 0, out)
        self.d.wait_records(1)
        rc, out = self.gdbus_call('/org/inotaskd1', 'org.inotaskd1.Manager.Reload')
        self.assertNotEqual(rc, 0, out)
        self.assertIn(RELOAD, out)

    def test_rule_restricts_listing(self):
        self.d = self.start()
        tid = self.schedule(self.d, 'slow-1')
        daemon_user = ['setpriv', '--reuid=1', '--regid=1', '--clear-groups', '--']
        for method, args in (('ListTasks', ()), ('GetTask', (str(tid),)), ('ListWatches', ()),
                             ('ListWatchesEx', ()), ('ListRules', ())):
            rc, out = self.gdbus_call('/org/inotaskd1', 'org.inotaskd1.Manager.' + method, *args,
                                      prefix=daemon_user)
            self.assertNotEqual(rc, 0, out)
            self.assertIn('org.freedesktop.DBus.Error.AccessDenied', out)
            self.assertIn(LIST, out)
        # Others and root still see the tasks.
        self.assert_can_read(tid)
        self.assert_can_read(tid, prefix=())


if __name__ == '__main__':
    harness.main()
