#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A configuration that cannot be read is not an invalid one: a directory where the main file should be,
a main file or drop-in directory the daemon may not read (EACCES, as nobody) give exit 1 at start (not 78,
which tells systemd not to restart: a missing mount or a wrong mode may be fixed without touching the
configuration), and Reload() answers with the error of the errno, not org.inotaskd1.Error.InvalidConfig,
keeping the running configuration. An invalid file stays exit 78 / InvalidConfig (test-cli, test_bus)."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile

import harness
from harness import DaemonTestCase, log
import bus_harness

EXIT_FAILURE = 1
EXIT_CONFIG = 78

CONFIG = '''
[Watch w]
Path=@TMP@
'''


def nobody():
    try:
        return pwd.getpwnam('nobody')
    except KeyError:
        return None


def replace_with_directory(path):
    os.rename(path, path + '.moved')
    os.mkdir(path)


def restore_file(path):
    os.rmdir(path)
    os.rename(path + '.moved', path)


class Start(DaemonTestCase):
    def test_directory_as_main_file(self):
        d = self.daemon(CONFIG, start=False, marker=False)
        replace_with_directory(d.config_path)
        d.start(wait_ready=False)
        self.assertEqual(d.wait_exit(), EXIT_FAILURE, 'an unreadable file is a failure, not a config error: '
                         'exit 1\n' + d.log_text())
        ms = d.log_matches(r'^%s: cannot read file: Is a directory$' % re.escape(d.config_path))
        self.assertTrue(ms, 'the log names the file:\n' + d.log_text())
        self.assertFalse(d.log_matches(r'^Ready: '))
        log('a directory in place of the main file: exit 1, %s' % ms[0].group(0))

        p = subprocess.run(d.command() + ['--check-config'], env=d.env(), capture_output=True, text=True,
                           timeout=harness.DEFAULT_TIMEOUT)
        self.assertEqual(p.returncode, EXIT_FAILURE, p.stderr)
        self.assertIn('%s: cannot read file: Is a directory' % d.config_path, p.stderr)
        log('--check-config on it: exit 1')

    def test_permission_denied_as_nobody(self):
        if os.geteuid() != 0:
            self.skipTest('needs root to run the daemon as nobody (running as uid %d)' % os.geteuid())
        who = nobody()
        if not who:
            self.skipTest('there is no user "nobody"')
        tmp = tempfile.mkdtemp(prefix='inotaskd-unreadable.', dir='/tmp')
        try:
            os.chmod(tmp, 0o755)
            conf = os.path.join(tmp, 'inotaskd.conf')
            dropins = os.path.join(tmp, 'conf.d')
            with open(conf, 'w') as f:
                f.write(CONFIG.replace('@TMP@', tmp))
            os.mkdir(dropins, 0o755)
            env = {k: v for k, v in os.environ.items()
                   if k not in ('INOTASKD_CONFIG', 'INOTASKD_CONFIG_DIR', 'NOTIFY_SOCKET')}
            env['INOTASKD_CONFIG_DIR'] = dropins
            env['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=' + os.path.join(tmp, 'no-bus')
            as_nobody = ['setpriv', '--reuid=%d' % who.pw_uid, '--regid=%d' % who.pw_gid, '--clear-groups']

            def run(*args):
                return subprocess.run(as_nobody + [harness.binary(), '-c', conf, '--log-target=console']
                                      + list(args), env=env, cwd=tmp, capture_output=True, text=True,
                                      timeout=harness.DEFAULT_TIMEOUT)

            # Readable by nobody: valid (nobody trusts root's files).
            p = run('--check-config')
            self.assertEqual(p.returncode, 0, p.stderr)

            os.chmod(conf, 0o600)
            for args in ((), ('--check-config',)):
                p = run(*args)
                self.assertEqual(p.returncode, EXIT_FAILURE, '%r: %s' % (args, p.stderr))
                self.assertIn('%s: cannot read file: Permission denied' % conf, p.stderr)
            log('a 0600 root main file, the daemon as nobody: exit 1 (start and --check-config)')

            os.chmod(conf, 0o644)
            os.chmod(dropins, 0o700)
            p = run()
            self.assertEqual(p.returncode, EXIT_FAILURE, p.stderr)
            self.assertIn('%s: cannot open directory: Permission denied' % dropins, p.stderr)
            log('a 0700 root drop-in directory, the daemon as nobody: exit 1')
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_sighup_reload_of_unreadable_file_keeps_running(self):
        d = self.daemon(CONFIG)
        replace_with_directory(d.config_path)
        start = len(d.notify_messages())
        d.signal(signal.SIGHUP)
        i = d.wait_notify(r'^RELOADING=1$', start)
        d.wait_notify(r'^READY=1$', i + 1)
        line = d.wait_for_log(r'^Reload failed: cannot read the configuration \(Is a directory\), '
                              r'keeping the running one\.$')[0].group(0)
        self.assertFalse(d.log_matches(r'Reload failed: the configuration has'))
        self.assertTrue(d.alive())
        restore_file(d.config_path)
        self.assertEqual(d.stop(), 0)
        log('SIGHUP with a directory in place of the main file: %s' % line)


class Reload(bus_harness.BusTestCase):
    def reload(self):
        return subprocess.run(['gdbus', 'call', '--session', '--dest', 'org.inotaskd1', '--object-path',
                               '/org/inotaskd1', '--method', 'org.inotaskd1.Manager.Reload'],
                              env=self.bus.env(), capture_output=True, text=True, timeout=harness.DEFAULT_TIMEOUT)

    def test_reload_of_unreadable_main_file(self):
        d = self.daemon(CONFIG)
        d.wait_for_log(r'^Ready: ')
        replace_with_directory(d.config_path)
        p = self.reload()
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn('InvalidConfig', p.stderr, 'an unreadable file is not an invalid configuration')
        self.assertIn('System.Error.EISDIR', p.stderr)
        self.assertIn('%s: cannot read file: Is a directory' % d.config_path, p.stderr)
        log('Reload() with a directory in place of the main file: %s' % p.stderr.strip().splitlines()[0])

        # The running configuration stayed, and a readable one reloads again.
        self.assertTrue(d.alive())
        restore_file(d.config_path)
        p = self.reload()
        self.assertEqual(p.returncode, 0, p.stderr)

        # An invalid one is still InvalidConfig.
        d.write_config(CONFIG + '\n[Rule broken]\nWatch=w\nOn=IN_NO_SUCH_EVENT\nExec=/bin/true\n')
        p = self.reload()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('org.inotaskd1.Error.InvalidConfig', p.stderr)


if __name__ == '__main__':
    harness.main()
