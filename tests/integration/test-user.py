#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""User= and Group=: the command runs as that user, with its groups and a clean environment of its own
(HOME, USER, LOGNAME, SHELL) plus Environment=. Needs root."""

import grp
import os
import pwd

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule asnobody]
Watch=w
On=IN_CLOSE_WRITE
Match=nobody
User=nobody
Environment=FOO=bar
Exec=@REC@ {pathname}

[Rule withgroup]
Watch=w
On=IN_CLOSE_WRITE
Match=group
User=nobody
Group=%s
Exec=@REC@ {pathname}
'''


class User(DaemonTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('User= needs root (running as uid %d)' % os.geteuid())
        try:
            self.pw = pwd.getpwnam('nobody')
        except KeyError:
            self.skipTest('there is no user "nobody"')
        # A group nobody is not in by default: root's group.
        self.group = grp.getgrgid(0).gr_name

    def test_user_nobody(self):
        d = self.daemon(CONFIG % self.group, start=False, world_accessible=True)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'nobody'))
        d.settle()
        r, = d.records()
        self.assertEqual(r.uid, self.pw.pw_uid, 'runs as nobody')
        self.assertEqual(r.gid, self.pw.pw_gid, "with nobody's group")
        self.assertNotIn(0, r.groups, "root's supplementary groups were dropped")
        self.assertEqual(r.env.get(b'HOME'), os.fsencode(self.pw.pw_dir))
        self.assertEqual(r.env.get(b'USER'), b'nobody')
        self.assertEqual(r.env.get(b'LOGNAME'), b'nobody')
        self.assertEqual(r.env.get(b'SHELL'), os.fsencode(self.pw.pw_shell))
        self.assertEqual(r.env.get(b'FOO'), b'bar')
        log('User=nobody: uid %d gid %d groups %r HOME=%s, Environment= kept'
            % (r.uid, r.gid, r.groups, r.env[b'HOME'].decode()))

    def test_group(self):
        d = self.daemon(CONFIG % self.group, start=False, world_accessible=True)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'group'))
        d.settle()
        r, = d.records()
        self.assertEqual(r.uid, self.pw.pw_uid)
        self.assertEqual(r.gid, 0, 'Group= sets the primary group')
        log('User=nobody Group=%s: uid %d gid %d' % (self.group, r.uid, r.gid))


if __name__ == '__main__':
    harness.main()
