#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Tasks inherit nothing: a file descriptor the daemon itself inherited (fd 7 on a root-only file) is
closed in every task, with and without User=; a User= task gets its user's standard PATH, never the
daemon's, and a bare command name is looked up there. Needs root for User=."""

import os
import pwd

import harness
from harness import Daemon, DaemonTestCase, write, log

# Records the file descriptors open in the task (fstat on each number: listing /proc/self/fd would
# open one more) and what reading fd 7 gives, into the file named by its first argument.
FDS_PROBE = r'''
import os, sys
fds = []
for fd in range(256):
    try:
        os.fstat(fd)
    except OSError:
        continue
    fds.append(fd)
try:
    secret = os.read(7, 100).decode()
except OSError as e:
    secret = 'error %d' % e.errno
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
os.write(out, ('%s\n%s\n' % (' '.join(map(str, fds)), secret)).encode())
os.close(out)
'''

SECRET = 'root-only secret'

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule fds-self]
Watch=w
On=IN_CLOSE_WRITE
Match=fds-self
Exec=@PYTHON@ -S @TMP@/fds-probe @TMP@/out/{name}

[Rule fds-nobody]
Watch=w
On=IN_CLOSE_WRITE
Match=fds-nobody
User=nobody
Exec=@PYTHON@ -S @TMP@/fds-probe @TMP@/out/{name}

[Rule env-self]
Watch=w
On=IN_CLOSE_WRITE
Match=env-self
Exec=@REC@ {pathname}

[Rule env-nobody]
Watch=w
On=IN_CLOSE_WRITE
Match=env-nobody
User=nobody
Exec=@REC@ {pathname}

[Rule env-root]
Watch=w
On=IN_CLOSE_WRITE
Match=env-root
User=root
Exec=@REC@ {pathname}

# A bare name: found in the daemon's PATH only (@TMP@/evil/bin).
[Rule bare-self]
Watch=w
On=IN_CLOSE_WRITE
Match=bare-self
Exec=inotaskd-planted {pathname}

[Rule bare-nobody]
Watch=w
On=IN_CLOSE_WRITE
Match=bare-nobody
User=nobody
Exec=inotaskd-planted {pathname}
'''


class InheritingDaemon(Daemon):
    """The daemon started through a shell that leaves fd 7 open on a root-only 0600 file, as a careless
    parent (a cron job, a wrapper script) would."""

    def __init__(self, config, **kw):
        super().__init__(config.replace('@PYTHON@', harness.recorder_python()), **kw)
        self.secret = self.path('secret')
        fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, SECRET.encode())
        os.close(fd)

    def command(self):
        return ['/bin/sh', '-c', 'exec 7<"$0"; exec "$@"', self.secret] + super().command()


class Inherit(DaemonTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('User= needs root (running as uid %d)' % os.geteuid())
        try:
            self.nobody = pwd.getpwnam('nobody')
        except KeyError:
            self.skipTest('there is no user "nobody"')
        d = self.d = InheritingDaemon(CONFIG, world_accessible=True,
                                      env={'PATH': '@EVIL@:' + os.environ.get('PATH', '/usr/bin:/bin')})
        self.daemons.append(d)
        d.extra_env['PATH'] = d.extra_env['PATH'].replace('@EVIL@', d.path('evil', 'bin'))
        self.w = self.fresh_dir(d, 'w')
        out = self.fresh_dir(d, 'out')
        os.chmod(out, 0o777)
        with open(d.path('fds-probe'), 'w') as f:
            f.write(FDS_PROBE)
        os.chmod(d.path('fds-probe'), 0o644)
        # A command that only the daemon's PATH has; it leaves a mark when it runs.
        os.makedirs(d.path('evil', 'bin'))
        os.chmod(d.path('evil'), 0o755)
        os.chmod(d.path('evil', 'bin'), 0o755)
        planted = d.path('evil', 'bin', 'inotaskd-planted')
        with open(planted, 'w') as f:
            f.write('#!/bin/sh\necho "ran as $(id -u)" >> %s/out/planted\n' % d.tmp)
        os.chmod(planted, 0o755)
        d.start()
        # The test means something only if the daemon really holds fd 7 on the secret.
        self.assertEqual(os.readlink('/proc/%d/fd/7' % d.pid), d.secret, 'the daemon inherited fd 7')

    def probe(self, name):
        write(os.path.join(self.w, name))
        self.d.settle()
        with open(self.d.path('out', name)) as f:
            fds, secret = f.read().splitlines()
        return [int(x) for x in fds.split()], secret

    def test_fds_closed_without_user(self):
        fds, secret = self.probe('fds-self')
        self.assertEqual(fds, [0, 1, 2], 'only stdin, stdout and stderr are open in the task')
        self.assertNotEqual(secret, SECRET, 'the task cannot read the fd the daemon inherited')
        log('task without User=: open fds %r; read(7): %s' % (fds, secret))

    def test_fds_closed_as_nobody(self):
        fds, secret = self.probe('fds-nobody')
        self.assertEqual(fds, [0, 1, 2], 'only stdin, stdout and stderr are open in the task')
        self.assertNotEqual(secret, SECRET, 'the task cannot read the fd the daemon inherited')
        log('User=nobody task: open fds %r; read(7): %s' % (fds, secret))

    def test_user_gets_standard_path(self):
        d = self.d
        for name in ('env-self', 'env-nobody', 'env-root'):
            write(os.path.join(self.w, name))
        d.settle()
        env = {r.args[0].rsplit(b'/', 1)[1].decode(): r.env for r in d.records()}
        self.assertEqual(env['env-nobody'].get(b'PATH'), b'/usr/local/bin:/usr/bin:/bin')
        self.assertNotIn(b'/evil', env['env-nobody'][b'PATH'])
        self.assertEqual(env['env-nobody'].get(b'HOME'), os.fsencode(self.nobody.pw_dir))
        self.assertEqual(env['env-nobody'].get(b'USER'), b'nobody')
        self.assertEqual(env['env-nobody'].get(b'LOGNAME'), b'nobody')
        self.assertEqual(env['env-nobody'].get(b'SHELL'), os.fsencode(self.nobody.pw_shell))
        self.assertEqual(env['env-root'].get(b'PATH'),
                         b'/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
        # Without User= the task runs as the daemon and keeps the PATH its administrator gave it.
        self.assertEqual(env['env-self'].get(b'PATH'), os.fsencode(d.extra_env['PATH']))
        log('PATH: User=nobody %s, User=root %s, no User= (the daemon\'s) %s'
            % (env['env-nobody'][b'PATH'].decode(), env['env-root'][b'PATH'].decode(),
               env['env-self'][b'PATH'].decode()))

    def test_bare_command_in_task_path(self):
        d = self.d
        write(os.path.join(self.w, 'bare-nobody'))
        d.settle()
        d.wait_for_log(r'^Task \d+ \(bare-nobody\): command not found: inotaskd-planted$')
        self.assertFalse(os.path.exists(d.path('out', 'planted')),
                         "a User= task's command is not looked up in the daemon's PATH")
        write(os.path.join(self.w, 'bare-self'))
        d.settle()
        with open(d.path('out', 'planted')) as f:
            self.assertEqual(f.read(), 'ran as 0\n', "without User= the daemon's PATH is used")
        log('a bare command name only in the daemon\'s PATH: not found for User=nobody, run without User=')


if __name__ == '__main__':
    harness.main()
