#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""org.inotaskd1.Watch objects through busctl and gdbus on a private bus: dbus/org.inotaskd1.Watch.xml
against the live introspection, each property of an active, a poll and a waiting watch (name escaped
in the object path), the objects in GetManagedObjects, and InterfacesAdded/InterfacesRemoved when a
reload adds and removes a watch."""

import os
import re
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET

from harness import DEFAULT_TIMEOUT, log, wait_for
from bus_harness import BusTestCase

SRCDIR = os.environ.get('SRCDIR', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
IFACE = 'org.inotaskd1.Watch'

CONFIG = '''
[Watch tree]
Path=@TMP@/tree
Recursive=yes

[Watch slow-poll.1]
Path=@TMP@/polled
Backend=poll
PollIntervalSec=3s

[Watch later]
Path=@TMP@/not-yet

[Rule r]
On=IN_CLOSE_WRITE
Exec=/bin/true
'''

# What sd_bus_path_encode() makes of the names: every byte but [A-Za-z0-9] as _xx.
TREE = '/org/inotaskd1/watch/tree'
POLL = '/org/inotaskd1/watch/slow_2dpoll_2e1'
LATER = '/org/inotaskd1/watch/later'


class BusWatch(BusTestCase):
    def setUp(self):
        super().setUp()
        for tool in ('busctl', 'gdbus'):
            if not shutil.which(tool):
                self.skipTest('%s is not installed' % tool)

    def gdbus(self, *args):
        p = subprocess.run(['gdbus', args[0], '--session'] + list(args[1:]), capture_output=True, text=True,
                           env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if p.returncode != 0:
            raise AssertionError('gdbus %s failed: %s' % (' '.join(args), p.stderr))
        return p.stdout

    def prop(self, path, name):
        return self.busctl('get-property', 'org.inotaskd1', path, IFACE, name).stdout.strip()

    def start(self):
        d = self.daemon(CONFIG, start=False)
        for sub in ('tree/a/b', 'tree/c', 'polled'):
            os.makedirs(d.path(*sub.split('/')), exist_ok=True)
        d.start()
        return d

    @staticmethod
    def properties(xml_text):
        for iface in ET.fromstring(xml_text).iter('interface'):
            if iface.get('name') == IFACE:
                return {p.get('name'): (p.get('type'), next((a.get('value') for a in p.iter('annotation')
                        if a.get('name') == 'org.freedesktop.DBus.Property.EmitsChangedSignal'), 'true'))
                        for p in iface.iter('property')}, len(list(iface.iter('method'))), \
                    len(list(iface.iter('signal')))
        raise AssertionError('no interface %s' % IFACE)

    def test_contract_and_properties(self):
        d = self.start()
        with open(os.path.join(SRCDIR, 'dbus', 'org.inotaskd1.Watch.xml')) as f:
            want = self.properties(f.read())
        got = self.properties(self.busctl('introspect', '--xml-interface', 'org.inotaskd1', TREE).stdout)
        self.assertEqual(want, got, 'dbus/org.inotaskd1.Watch.xml and the live object differ')
        log('%s: %d properties match dbus/org.inotaskd1.Watch.xml' % (IFACE, len(got[0])))

        # The tree: a node below /org/inotaskd1/watch per configured watch (the harness adds "marker").
        out = self.busctl('tree', '--list', 'org.inotaskd1').stdout.split()
        self.assertEqual(sorted(p for p in out if p.startswith('/org/inotaskd1/watch/')), sorted([TREE, POLL, LATER, '/org/inotaskd1/watch/marker']))

        self.assertEqual(self.prop(TREE, 'Name'), 's "tree"')
        self.assertEqual(self.prop(TREE, 'Path'), 's "%s"' % d.path('tree'))
        ay = self.prop(TREE, 'PathBytes').split()
        self.assertEqual(bytes(int(x) for x in ay[2:]), d.path('tree').encode())
        self.assertEqual(self.prop(TREE, 'Backend'), 's "inotify"')
        self.assertEqual(self.prop(TREE, 'BackendSetting'), 's "auto"')
        self.assertEqual(self.prop(TREE, 'State'), 's "active"')
        self.assertEqual(self.prop(TREE, 'Recursive'), 'b true')
        self.assertEqual(self.prop(TREE, 'AutoAdd'), 'b true')
        self.assertEqual(self.prop(TREE, 'NDirectories'), 'u 4')        # tree, a, a/b, c
        # A new directory is counted once it is watched.
        os.mkdir(d.path('tree', 'c', 'new'))
        wait_for(lambda: self.prop(TREE, 'NDirectories') == 'u 5', what='NDirectories 5')

        self.assertEqual(self.prop(POLL, 'Name'), 's "slow-poll.1"')
        self.assertEqual(self.prop(POLL, 'Backend'), 's "poll"')
        self.assertEqual(self.prop(POLL, 'BackendSetting'), 's "poll"')
        self.assertEqual(self.prop(POLL, 'PollIntervalUSec'), 't 3000000')
        self.assertEqual(self.prop(POLL, 'Recursive'), 'b false')
        self.assertEqual(self.prop(POLL, 'State'), 's "active"')

        self.assertEqual(self.prop(LATER, 'State'), 's "waiting"')
        self.assertEqual(self.prop(LATER, 'NDirectories'), 'u 0')
        os.mkdir(d.path('not-yet'))
        wait_for(lambda: self.prop(LATER, 'State') == 's "active"', what='the waiting watch active')
        self.assertEqual(self.prop(LATER, 'NDirectories'), 'u 1')

        # gdbus sees them in the ObjectManager at /org/inotaskd1, with their properties.
        out = self.gdbus('call', '--dest', 'org.inotaskd1', '--object-path', '/org/inotaskd1', '--method',
                         'org.freedesktop.DBus.ObjectManager.GetManagedObjects')
        for p, name in ((TREE, 'tree'), (POLL, 'slow-poll.1'), (LATER, 'later')):
            self.assertRegex(out, r"'%s': \{[^/]*?'%s': \{'Name': <'%s'>"
                             % (re.escape(p), re.escape(IFACE), re.escape(name)))
        self.assertIn("'PollIntervalUSec': <uint64 3000000>", out)

        # No such watch, no such object.
        p = self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1/watch/nope', IFACE, 'Name', check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_reload_adds_and_removes_objects(self):
        d = self.start()
        mon = subprocess.Popen(['gdbus', 'monitor', '--session', '--dest', 'org.inotaskd1', '--object-path',
                                '/org/inotaskd1'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=self.bus.env())
        lines = []
        threading.Thread(target=lambda: lines.extend(iter(mon.stdout.readline, '')), daemon=True).start()
        self.addCleanup(lambda: (mon.terminate(), mon.wait()))
        # gdbus monitor says nothing once it listens: reload (a no-op for the objects) until the Manager's
        # State change shows up.
        def listening():
            if any("'State'" in l for l in list(lines)):
                return True
            self.busctl('call', 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager', 'Reload')
            return False
        wait_for(listening, interval=0.3, what='gdbus monitor listening')

        os.mkdir(d.path('extra'))
        d.write_config(CONFIG.replace('[Watch later]\nPath=@TMP@/not-yet\n', '[Watch extra]\nPath=@TMP@/extra\n'))
        self.busctl('call', 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager', 'Reload')
        added = wait_for(lambda: next((l for l in list(lines) if 'InterfacesAdded' in l and '/watch/extra' in l),
                                      None), what='InterfacesAdded for the new watch')
        self.assertIn(IFACE, added)
        removed = wait_for(lambda: next((l for l in list(lines) if 'InterfacesRemoved' in l and
                                         '/watch/later' in l), None), what='InterfacesRemoved for the dropped one')
        self.assertIn(IFACE, removed)
        # The kept ones were neither removed nor added again.
        self.assertFalse([l for l in list(lines) if 'Interfaces' in l and ('/watch/tree' in l or POLL in l)])
        self.assertEqual(self.prop('/org/inotaskd1/watch/extra', 'State'), 's "active"')
        p = self.busctl('get-property', 'org.inotaskd1', LATER, IFACE, 'Name', check=False)
        self.assertNotEqual(p.returncode, 0)
        log('reload: InterfacesAdded for extra, InterfacesRemoved for later, tree and slow-poll.1 kept')


    def monitor(self, path):
        """gdbus monitor of path's signals, listening when this returns; the lines it printed so far."""
        mon = subprocess.Popen(['gdbus', 'monitor', '--session', '--dest', 'org.inotaskd1', '--object-path',
                                path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=self.bus.env())
        lines = []
        threading.Thread(target=lambda: lines.extend(iter(mon.stdout.readline, '')), daemon=True).start()
        self.addCleanup(lambda: (mon.terminate(), mon.wait()))
        return lines

    def test_state_and_directories_change_signals(self):
        d = self.start()
        tree_lines = self.monitor(TREE)
        later_lines = self.monitor(LATER)
        # gdbus monitor says nothing once it listens: make directories until their count shows up.
        made = []

        def listening():
            if any("'NDirectories': <uint32" in l for l in list(tree_lines)):
                return True
            made.append(d.path('tree', 'probe-%d' % len(made)))
            os.mkdir(made[-1])
            return False
        wait_for(listening, interval=0.3, what='gdbus monitor listening to the tree watch')

        # 100 directories at once: their count arrives, coalesced (not a signal per directory).
        before = len([l for l in list(tree_lines) if 'PropertiesChanged' in l])
        for i in range(100):
            os.makedirs(d.path('tree', 'many', 'd%d' % i))
        n = 4 + len(made) + 1 + 100
        wait_for(lambda: any("'NDirectories': <uint32 %d>" % n in l for l in list(tree_lines)),
                 what='NDirectories %d signalled' % n)
        signals = len([l for l in list(tree_lines) if 'PropertiesChanged' in l]) - before
        self.assertLess(signals, 20, 'coalesced: %d signals for 101 directories' % signals)
        self.assertEqual(self.prop(TREE, 'NDirectories'), 'u %d' % n)

        # The waiting watch's path appears: State active, one directory; it goes: waiting, none.
        os.mkdir(d.path('not-yet'))
        wait_for(lambda: any("'State': <'active'>" in l and "'NDirectories': <uint32 1>" in l
                             for l in list(later_lines)), what='later: State active signalled')
        os.rmdir(d.path('not-yet'))
        wait_for(lambda: any("'State': <'waiting'>" in l and "'NDirectories': <uint32 0>" in l
                             for l in list(later_lines)), what='later: State waiting signalled')
        # The manager's count follows too.
        self.assertEqual(self.busctl('get-property', 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager',
                                     'NDirectories').stdout.strip(), 'u %d' % (n + 2))      # + polled, marker
        log('Watch PropertiesChanged: NDirectories %d after 101 new directories in %d signals; State '
            'active and waiting for a path that came and went' % (n, signals))


if __name__ == '__main__':
    import unittest
    unittest.main()
