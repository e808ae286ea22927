#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The D-Bus interface driven by the real clients busctl and gdbus on a private bus: the interface XML in
dbus/ against the live introspection, cancel and trigger of delayed tasks, RunRule, error names, a task
with a non-UTF-8 path, coalesced PropertiesChanged, and the ObjectManager."""

import os
import re
import shutil
import subprocess
import threading
import unittest
import xml.etree.ElementTree as ET

import harness
from harness import DEFAULT_TIMEOUT, log, wait_for
from bus_harness import BusTestCase

SRCDIR = os.environ.get('SRCDIR', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule slow]
Watch=w
On=IN_CLOSE_WRITE
Match=slow-*
DelaySec=60
Exec=@REC@ {pathname} {maskname} {event}

[Rule now]
Watch=w
On=IN_CLOSE_WRITE
Match=now-*
Exec=@REC@ {pathname}
'''

MANAGER = ('org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager')


def write(path, data=b'x'):
    with open(path, 'wb') as f:
        f.write(data)


class Bus(BusTestCase):
    def setUp(self):
        super().setUp()
        for tool in ('busctl', 'gdbus'):
            if not shutil.which(tool):
                self.skipTest('%s is not installed' % tool)

    def start(self, config=CONFIG):
        d = self.daemon(config)
        os.makedirs(d.path('w'), exist_ok=True)
        # The watch was set up before w existed only if the test made it; make it before start instead.
        return d

    def daemon_with_dir(self, config=CONFIG):
        d = self.daemon(config, start=False)
        os.mkdir(d.path('w'))
        d.start()
        return d

    # ---------------------------------------------------------------- clients

    def busctl(self, *args, check=True, env=None):
        p = subprocess.run(['busctl', '--user'] + list(args), capture_output=True, text=True,
                           env=env or self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError('busctl %s failed: %s' % (' '.join(args), p.stderr))
        return p

    def gdbus(self, *args, check=True):
        p = subprocess.run(['gdbus'] + list(args[:1]) + ['--session'] + list(args[1:]), capture_output=True,
                           text=True, env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError('gdbus %s failed: %s' % (' '.join(args), p.stderr))
        return p

    def call(self, method, *args, **kw):
        return self.busctl('call', *MANAGER, method, *args, **kw)

    def scheduled_id(self, d, name):
        path = re.escape(d.path('w', name))
        return wait_for(lambda: next((int(m.group(1)) for m in d.log_matches(
            r'^Task (\d+) \(slow\) scheduled for %s\.$' % path)), None), what='task for ' + name)

    def task_prop(self, tid, prop):
        return self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1/task/%d' % tid,
                           'org.inotaskd1.Task', prop).stdout.strip()

    # ---------------------------------------------------------------- contract

    def interface_from_xml(self, xml_text, name):
        root = ET.fromstring(xml_text)
        for iface in root.iter('interface'):
            if iface.get('name') == name:
                methods = {m.get('name'): [(a.get('type'), a.get('direction', 'in')) for a in m.iter('arg')]
                           for m in iface.iter('method')}
                signals = {s.get('name'): [a.get('type') for a in s.iter('arg')] for s in iface.iter('signal')}
                props = {p.get('name'): (p.get('type'), p.get('access')) for p in iface.iter('property')}
                emits = {p.get('name'): next((a.get('value') for a in p.iter('annotation')
                                              if a.get('name') == 'org.freedesktop.DBus.Property.EmitsChangedSignal'),
                                             'true') for p in iface.iter('property')}
                return methods, signals, props, emits
        raise AssertionError('interface %s not found' % name)

    def live_xml(self, path):
        return self.busctl('introspect', '--xml-interface', 'org.inotaskd1', path).stdout

    def assert_contract(self, filename, path, name):
        with open(os.path.join(SRCDIR, 'dbus', filename)) as f:
            want = self.interface_from_xml(f.read(), name)
        got = self.interface_from_xml(self.live_xml(path), name)
        for part, w, g in zip(('methods', 'signals', 'properties', 'EmitsChangedSignal'), want, got):
            self.assertEqual(w, g, '%s of %s differ between dbus/%s and the live object' % (part, name, filename))
        log('%s: %d methods, %d signals, %d properties match dbus/%s'
            % (name, len(got[0]), len(got[1]), len(got[2]), filename))

    def test_interface_xml_matches_live_introspection(self):
        d = self.daemon_with_dir()
        write(d.path('w', 'slow-a'))
        tid = self.scheduled_id(d, 'slow-a')
        self.assert_contract('org.inotaskd1.Manager.xml', '/org/inotaskd1', 'org.inotaskd1.Manager')
        self.assert_contract('org.inotaskd1.Task.xml', '/org/inotaskd1/task/%d' % tid, 'org.inotaskd1.Task')
        # The ObjectManager sits at the root of our tree and lists the task.
        out = self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1', '--method',
                         'org.freedesktop.DBus.ObjectManager.GetManagedObjects').stdout
        self.assertIn("'/org/inotaskd1/task/%d'" % tid, out)
        self.assertIn("'org.inotaskd1.Task'", out)

    # ---------------------------------------------------------------- verbs

    def test_cancel_with_busctl_never_runs(self):
        d = self.daemon_with_dir()
        write(d.path('w', 'slow-cancel'))
        tid = self.scheduled_id(d, 'slow-cancel')
        self.assertEqual(self.task_prop(tid, 'State'), 's "scheduled"')
        self.call('CancelTask', 't', str(tid))
        d.wait_for_log(r'^Task %d \(slow\) cancelled: by request\.$' % tid)
        self.assertEqual(self.task_prop(tid, 'State'), 's "cancelled"')
        # A later task runs and ends: had the cancelled one run, its record would be there before.
        write(d.path('w', 'now-after'))
        d.wait_records(1)
        d.settle()
        paths = [r.args[0] for r in d.records()]
        self.assertEqual(paths, [d.path('w', 'now-after').encode()])
        # Cancelling again is refused with our error name.
        p = self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1', '--method',
                       'org.inotaskd1.Manager.CancelTask', str(tid), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('org.inotaskd1.Error.NotScheduled', p.stderr)

    def test_trigger_with_gdbus_runs_now_with_event_values(self):
        d = self.daemon_with_dir()
        write(d.path('w', 'slow-trigger'))
        tid = self.scheduled_id(d, 'slow-trigger')
        # Through the task object this time.
        self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1/task/%d' % tid,
                   '--method', 'org.inotaskd1.Task.Trigger')
        recs = d.wait_records(1, timeout=10)
        self.assertEqual(recs[0].args, [d.path('w', 'slow-trigger').encode(), b'IN_CLOSE_WRITE', b'changed'])
        d.wait_for_log(r'^Task %d \(slow\) finished: success\.$' % tid)
        self.assertEqual(self.task_prop(tid, 'Result'), 's "success"')
        self.assertEqual(self.task_prop(tid, 'ExitStatus'), 'i 0')

    def test_unit_property_empty_for_spawned_task(self):
        # No systemd here: TaskUnits=auto spawns, so Unit is "" while scheduled and once finished (a unit
        # task's "inotaskd-task-N.service" is checked by tests/system/run under systemd).
        d = self.daemon_with_dir()
        write(d.path('w', 'slow-unit'))
        tid = self.scheduled_id(d, 'slow-unit')
        self.assertEqual(self.task_prop(tid, 'Unit'), 's ""')
        self.call('TriggerTask', 't', str(tid))
        d.wait_for_log(r'^Task %d \(slow\) finished: success\.$' % tid)
        self.assertEqual(self.task_prop(tid, 'Unit'), 's ""')
        out = self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1/task/%d' % tid,
                         '--method', 'org.freedesktop.DBus.Properties.GetAll', 'org.inotaskd1.Task').stdout
        self.assertIn("'Unit': <''>", out)
        log('task %d (spawned): Unit is "" scheduled and finished, and in GetAll' % tid)

    def test_task_properties_changed_has_unit(self):
        # A task's PropertiesChanged names Unit with the rest (a unit task's is set as it starts; "" here,
        # where tasks are spawned): a second event on the waiting task's file changes it.
        d = self.daemon_with_dir()
        self.subscriber()
        mon = subprocess.Popen(['gdbus', 'monitor', '--session', '--dest', 'org.inotaskd1'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self.bus.env())
        lines = []
        threading.Thread(target=lambda: lines.extend(iter(mon.stdout.readline, '')), daemon=True).start()
        self.addCleanup(lambda: (mon.terminate(), mon.wait()))
        self.wait_monitor_listening(d, lines)
        write(d.path('w', 'slow-changed'))
        tid = self.scheduled_id(d, 'slow-changed')
        prefix = '/org/inotaskd1/task/%d: org.freedesktop.DBus.Properties.PropertiesChanged' % tid

        def changed():
            write(d.path('w', 'slow-changed'))
            return next((l for l in list(lines) if l.startswith(prefix) and 'org.inotaskd1.Task' in l), None)
        line = wait_for(changed, interval=0.2, what='PropertiesChanged of task %d' % tid)
        log(line.strip())
        self.assertIn("'Unit': <''>", line)

    def test_run_rule_and_errors(self):
        d = self.daemon_with_dir()
        out = self.call('RunRule', 'ss', 'now', d.path('w', 'by-hand')).stdout.strip()
        m = re.match(r'^t (\d+)$', out)
        self.assertTrue(m, out)
        recs = d.wait_records(1)
        self.assertEqual(recs[0].args, [d.path('w', 'by-hand').encode()])

        def error_of(*args):
            p = self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1', '--method',
                           *args, check=False)
            self.assertNotEqual(p.returncode, 0)
            return p.stderr

        self.assertIn('org.inotaskd1.Error.NoSuchTask', error_of('org.inotaskd1.Manager.GetTask', '999999'))
        self.assertIn('org.inotaskd1.Error.NoSuchRule', error_of('org.inotaskd1.Manager.RunRule', 'nope', '/x'))
        self.assertIn('org.inotaskd1.Error.InvalidPath',
                      error_of('org.inotaskd1.Manager.RunRule', 'now', '/elsewhere/x'))
        # An unknown task object is not there at all.
        p = self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1/task/999999', 'org.inotaskd1.Task',
                        'State', check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_reload_error_names_file_and_line(self):
        d = self.daemon_with_dir()
        d.write_config(CONFIG + '\n[Rule broken]\nWatch=w\nOn=IN_NO_SUCH_EVENT\nExec=/bin/true\n')
        p = self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1', '--method',
                       'org.inotaskd1.Manager.Reload', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('org.inotaskd1.Error.InvalidConfig', p.stderr)
        self.assertRegex(p.stderr, re.escape(d.config_path) + r':\d+: On: ')
        # Nothing changed: the old rule still works, the state is ready.
        self.assertEqual(self.busctl('get-property', *MANAGER, 'State').stdout.strip(), 's "ready"')
        write(d.path('w', 'now-still'))
        d.wait_records(1)
        # A good one applies.
        d.write_config(CONFIG.replace('Match=now-*', 'Match=new-*'))
        self.call('Reload')
        write(d.path('w', 'new-rule'))
        recs = d.wait_records(2)
        self.assertEqual(recs[1].args, [d.path('w', 'new-rule').encode()])

    # ---------------------------------------------------------------- odd paths, signals

    def test_non_utf8_path_keeps_the_connection(self):
        d = self.daemon_with_dir()
        name = b'slow-bad\xff\xfe\nname'
        path = os.path.join(d.path('w').encode(), name)
        write(path)
        tid = wait_for(lambda: next((int(m.group(1)) for m in d.log_matches(r'^Task (\d+) \(slow\) scheduled')),
                                    None), what='task')
        self.assertEqual(self.task_prop(tid, 'Path'),
                         's "%s/slow-bad\\\\xff\\\\xfe\\\\nname"' % d.path('w'))
        ay = self.task_prop(tid, 'PathBytes').split()
        self.assertEqual(ay[0], 'ay')
        self.assertEqual(bytes(int(x) for x in ay[2:]), path)
        # The whole list, the managed objects and another call still work: the connection is fine.
        out = self.call('ListTasks').stdout
        self.assertIn('slow-bad\\\\xff', out)
        self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1', '--method',
                   'org.freedesktop.DBus.ObjectManager.GetManagedObjects')
        self.assertEqual(self.busctl('get-property', *MANAGER, 'NTasksScheduled').stdout.strip(), 'u 1')

    # A gdbus monitor on the manager object, its lines collected by a thread.
    def gdbus_monitor(self):
        mon = subprocess.Popen(['gdbus', 'monitor', '--session', '--dest', 'org.inotaskd1', '--object-path',
                                '/org/inotaskd1'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=self.bus.env())
        lines = []
        threading.Thread(target=lambda: lines.extend(iter(mon.stdout.readline, '')), daemon=True).start()
        self.addCleanup(lambda: (mon.terminate(), mon.wait()))
        return lines

    # gdbus monitor says nothing once it listens: write probe files until a change shows up.
    def wait_monitor_listening(self, d, lines):
        probes = [0]

        def probe():
            if any('NTasksScheduled' in l for l in list(lines)):
                return True
            probes[0] += 1
            write(d.path('w', 'slow-probe-%d' % probes[0]))
            return False
        wait_for(probe, interval=0.2, what='gdbus monitor to see a change')
        # Let the probes' own changes arrive before counting.
        wait_for(lambda: any("'NTasksScheduled': <uint32 %d>" % probes[0] in l for l in list(lines)),
                 what='the probes counted')
        return probes[0]

    # inotaskctl monitor, a real client that calls Subscribe() and stays on the bus.
    def subscriber(self):
        ctl = os.environ.get('INOTASKCTL_BINARY')
        if not ctl:
            self.skipTest('INOTASKCTL_BINARY is not set')
        p = subprocess.Popen([ctl, '--user', 'monitor'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=self.bus.env())
        self.addCleanup(lambda: (p.poll() is None and p.terminate(), p.wait(), p.stderr.close()))
        # It prints this on stderr once Subscribe() has returned.
        line = p.stderr.readline()
        self.assertIn('Monitoring', line)
        return p

    def test_properties_changed_are_coalesced(self):
        d = self.daemon_with_dir()
        self.subscriber()
        lines = self.gdbus_monitor()
        probes = self.wait_monitor_listening(d, lines)
        before = sum(1 for l in list(lines) if 'NTasksScheduled' in l)
        news_before = sum(1 for l in list(lines) if 'TaskNew' in l)
        n = 300
        for i in range(n):
            write(d.path('w', 'slow-%03d' % i))
        want = "'NTasksScheduled': <uint32 %d>" % (n + probes)
        wait_for(lambda: any(want in l for l in list(lines)), what=want)
        changes = sum(1 for l in list(lines) if 'NTasksScheduled' in l) - before
        news = sum(1 for l in list(lines) if 'TaskNew' in l) - news_before
        log('%d tasks scheduled: %d TaskNew signals, %d PropertiesChanged with NTasksScheduled'
            % (n, news, changes))
        self.assertEqual(news, n)
        self.assertLess(changes, n // 3, 'PropertiesChanged should be coalesced, not one per event')

    def test_task_signals_only_while_subscribed(self):
        d = self.daemon_with_dir()
        lines = self.gdbus_monitor()

        def count(what):
            return sum(1 for l in list(lines) if what in l)

        # Nobody subscribed: the tasks are scheduled (and counted) without a TaskNew each. The count's
        # PropertiesChanged goes out after any TaskNew would have, so seeing it settles the question.
        probes = self.wait_monitor_listening(d, lines)
        self.assertEqual(count('TaskNew'), 0)
        self.assertEqual(self.call('ListTasks').stdout.count('slow-probe-'), probes)

        # A subscriber gets them.
        sub = self.subscriber()
        write(d.path('w', 'slow-subscribed'))
        wait_for(lambda: any('TaskNew' in l for l in list(lines)), what='TaskNew for a subscriber')
        self.assertEqual(count('TaskNew'), 1)

        # Once it leaves the bus the daemon forgets it: later tasks get no TaskNew again.
        sub.terminate()
        sub.wait()
        n = [0]

        def quiet():
            n[0] += 1
            news = count('TaskNew')
            write(d.path('w', 'slow-after-%d' % n[0]))
            want = "'NTasksScheduled': <uint32 %d>" % (probes + 1 + n[0])
            wait_for(lambda: any(want in l for l in list(lines)), what=want)
            return count('TaskNew') == news
        wait_for(quiet, interval=0.1, what='task signals to stop after the subscriber left')

        # Unsubscribe() without Subscribe() is a named error.
        err = self.call('Unsubscribe', check=False)
        self.assertNotEqual(err.returncode, 0)
        self.assertIn('Client is not subscribed', err.stderr)
        self.call('Subscribe')


if __name__ == '__main__':
    unittest.main(verbosity=2)
