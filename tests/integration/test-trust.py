#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Configuration that someone else could write is refused: a main file, drop-in or plugin that anyone
but root (or the daemon's own user) could write, or that lies below such a directory, is a configuration
error naming it (exit 78 at start, the running configuration kept at a reload, InvalidConfig from
Reload()). A root-owned sticky directory such as /tmp is fine. Needs root (files owned by nobody)."""

import os
import pwd
import re
import signal
import shutil
import subprocess
import tempfile

import harness
from harness import DaemonTestCase, log, run_inotaskd
import bus_harness

EXIT_CONFIG = 78

CONFIG = '''
[Watch w]
Path=@TMP@
'''

RULE_DROPIN = '''
[Rule planted]
Watch=w
On=IN_CLOSE_WRITE
Exec=/bin/true
'''


def nobody():
    try:
        return pwd.getpwnam('nobody')
    except KeyError:
        return None


class Trust(DaemonTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root to own files as another user (running as uid %d)' % os.geteuid())
        self.nobody = nobody()
        if not self.nobody:
            self.skipTest('there is no user "nobody"')

    def refused(self, d, regex):
        """Starts d (system mode, the default), expects exit 78 and a log line matching regex."""
        d.start(wait_ready=False)
        self.assertEqual(d.wait_exit(), EXIT_CONFIG, 'a configuration error: exit 78')
        m = re.search(regex, d.log_text(), re.M)
        self.assertTrue(m, 'log names the file: /%s/ in\n%s' % (regex, d.log_text()))
        return m.group(0)

    def test_world_writable_main_file(self):
        d = self.daemon(CONFIG, start=False, marker=False)
        os.chmod(d.config_path, 0o666)
        line = self.refused(d, r'^error: %s: refused: writable by others \(mode 0666\)$'
                            % re.escape(d.config_path))
        log('world-writable main file: %s' % line)

    def test_group_writable_main_file(self):
        d = self.daemon(CONFIG, start=False, marker=False)
        os.chmod(d.config_path, 0o664)
        line = self.refused(d, r'^error: %s: refused: writable by its group \(mode 0664\)$'
                            % re.escape(d.config_path))
        log('group-writable main file: %s' % line)

    def test_dropin_owned_by_nobody(self):
        d = self.daemon(CONFIG, start=False, marker=False, dropins={'planted.conf': RULE_DROPIN})
        planted = os.path.join(d.dropin_dir, 'planted.conf')
        os.chown(planted, self.nobody.pw_uid, self.nobody.pw_gid)
        line = self.refused(d, r'^error: %s: refused: owned by uid %d, not by root$'
                            % (re.escape(planted), self.nobody.pw_uid))
        log('drop-in owned by nobody: %s' % line)

    def test_dropin_in_group_writable_directory(self):
        d = self.daemon(CONFIG, start=False, marker=False)
        # The drop-ins come from INOTASKD_CONFIG_DIR: @TMP@/shared/conf.d, below a group-writable directory.
        shared = d.path('shared')
        os.makedirs(os.path.join(shared, 'conf.d'))
        os.chmod(shared, 0o775)
        planted = os.path.join(shared, 'conf.d', 'planted.conf')
        with open(planted, 'w') as f:
            f.write(RULE_DROPIN)
        d.dropin_dir = os.path.join(shared, 'conf.d')
        line = self.refused(d, r'^error: %s: refused: directory %s is writable by its group \(mode 0775\)$'
                            % (re.escape(planted), re.escape(shared)))
        log('drop-in below a group-writable directory: %s' % line)

    def test_dropin_through_link_into_writable_directory(self):
        d = self.daemon(CONFIG, start=False, marker=False)
        elsewhere = d.path('elsewhere')
        os.mkdir(elsewhere)
        os.chmod(elsewhere, 0o777)
        target = os.path.join(elsewhere, 'real.conf')
        with open(target, 'w') as f:
            f.write(RULE_DROPIN)
        link = os.path.join(d.dropin_dir, 'linked.conf')
        os.symlink(target, link)
        line = self.refused(d, r'^error: %s: refused: directory %s is writable by others \(mode 0777\)$'
                            % (re.escape(link), re.escape(elsewhere)))
        log('drop-in linked into a world-writable directory: %s' % line)

    def test_world_writable_plugin(self):
        d = self.daemon(CONFIG + '\n[Rule p]\nWatch=w\nOn=IN_CLOSE_WRITE\nAction=plugin\n'
                        'Plugin=@TMP@/plugin.so\n', start=False, marker=False)
        so = d.path('plugin.so')
        with open(so, 'w') as f:
            f.write('not really a module')
        os.chmod(so, 0o666)
        line = self.refused(d, r'^error: %s:\d+: Plugin: %s: refused: writable by others \(mode 0666\)$'
                            % (re.escape(d.config_path), re.escape(so)))
        log('world-writable plugin: %s' % line)
        # The same file, root's and 0644, passes the check and reaches the module loader.
        os.chmod(so, 0o644)
        p = subprocess.run(d.command() + ['--check-config'], env=d.env(), capture_output=True, text=True,
                           timeout=harness.DEFAULT_TIMEOUT)
        self.assertEqual(p.returncode, EXIT_CONFIG)
        self.assertIn('Plugin: cannot load %s' % so, p.stderr)
        self.assertNotIn('refused', p.stderr)

    def test_proper_files_load_and_sticky_tmp_is_fine(self):
        # Everything root's and 0644 / 0755, in a root-owned sticky world-writable directory (as /tmp).
        d = self.daemon(CONFIG, start=False, dropins={'rule.conf': RULE_DROPIN})
        sticky = d.path('sticky')
        os.mkdir(sticky)
        os.chmod(sticky, 0o1777)
        os.rename(d.dropin_dir, os.path.join(sticky, 'conf.d'))
        d.dropin_dir = os.path.join(sticky, 'conf.d')
        d.start()
        d.wait_for_log(r'^Ready: ')
        self.assertTrue(d.alive())
        self.assertEqual(d.stop(), 0)
        log('root-owned 0644 files, conf.d in a root-owned sticky 1777 directory: loaded')
        # Without the sticky bit, the same directory is refused.
        os.chmod(sticky, 0o777)
        d2 = self.daemon(CONFIG, start=False, marker=False)
        d2.dropin_dir = d.dropin_dir
        line = self.refused(d2, r'^error: .*rule\.conf: refused: directory %s is writable by others '
                            r'\(mode 0777\)$' % re.escape(sticky))
        log('the same without the sticky bit: %s' % line)

    def test_reload_refuses_and_keeps_running(self):
        d = self.daemon(CONFIG)
        with open(os.path.join(d.dropin_dir, 'planted.conf'), 'w') as f:
            f.write(RULE_DROPIN)
        planted = os.path.join(d.dropin_dir, 'planted.conf')
        os.chown(planted, self.nobody.pw_uid, self.nobody.pw_gid)
        start = len(d.notify_messages())
        d.signal(signal.SIGHUP)
        i = d.wait_notify(r'^RELOADING=1$', start)
        d.wait_notify(r'^READY=1$', i + 1)
        d.wait_for_log(r'^%s: refused: owned by uid %d, not by root$' % (re.escape(planted), self.nobody.pw_uid))
        d.wait_for_log(r'^Reload failed')
        self.assertTrue(d.alive(), 'the daemon keeps the running configuration')
        log('a reload with a drop-in owned by nobody fails and keeps the running configuration')

    def test_user_mode_and_own_user(self):
        # --user: the same rule; a file owned by another user is refused.
        p = run_inotaskd(['--user', '--check-config'], config=CONFIG, dropins={'x.conf': RULE_DROPIN})
        self.assertEqual(p.returncode, 0, p.stderr)
        # A daemon running as nobody trusts nobody's own files (and root's), in system mode too.
        tmp = tempfile.mkdtemp(prefix='inotaskd-trust.', dir='/tmp')
        try:
            os.chmod(tmp, 0o755)
            conf = os.path.join(tmp, 'inotaskd.conf')
            with open(conf, 'w') as f:
                f.write(CONFIG.replace('@TMP@', tmp))
            os.mkdir(os.path.join(tmp, 'conf.d'))
            with open(os.path.join(tmp, 'conf.d', 'x.conf'), 'w') as f:
                f.write(RULE_DROPIN)
            for p in (tmp, conf, os.path.join(tmp, 'conf.d'), os.path.join(tmp, 'conf.d', 'x.conf')):
                os.chown(p, self.nobody.pw_uid, self.nobody.pw_gid)
            env = {k: v for k, v in os.environ.items() if k not in ('INOTASKD_CONFIG', 'INOTASKD_CONFIG_DIR')}
            as_nobody = ['setpriv', '--reuid=%d' % self.nobody.pw_uid, '--regid=%d' % self.nobody.pw_gid,
                         '--clear-groups']
            for mode in ('--system', '--user'):
                p = subprocess.run(as_nobody + [harness.binary(), mode, '-c', conf, '--check-config'],
                                   env=env, capture_output=True, text=True, timeout=harness.DEFAULT_TIMEOUT)
                self.assertEqual(p.returncode, 0, 'nobody trusts its own files (%s): %s' % (mode, p.stderr))
                p = subprocess.run([harness.binary(), mode, '-c', conf, '--check-config'], env=env,
                                   capture_output=True, text=True, timeout=harness.DEFAULT_TIMEOUT)
                self.assertEqual(p.returncode, EXIT_CONFIG, 'root does not trust nobody\'s files (%s)' % mode)
                self.assertIn('%s: refused: owned by uid %d, not by root' % (conf, self.nobody.pw_uid), p.stderr)
            log('a daemon as nobody loads nobody\'s files; root refuses them, --system and --user alike')
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TrustBus(bus_harness.BusTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root to own files as another user')
        self.nobody = nobody()
        if not self.nobody:
            self.skipTest('there is no user "nobody"')

    def test_reload_method_returns_config_error(self):
        d = self.daemon(CONFIG)
        d.wait_for_log(r'^Ready: ')
        planted = os.path.join(d.dropin_dir, 'planted.conf')
        with open(planted, 'w') as f:
            f.write(RULE_DROPIN)
        os.chown(planted, self.nobody.pw_uid, self.nobody.pw_gid)
        p = subprocess.run(['busctl', '--user', 'call', 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager',
                            'Reload'], env=self.bus.env(), capture_output=True, text=True,
                           timeout=harness.DEFAULT_TIMEOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('%s: refused: owned by uid %d, not by root' % (planted, self.nobody.pw_uid), p.stderr)
        log('Reload() with a drop-in owned by nobody: %s' % p.stderr.strip().splitlines()[-1])


if __name__ == '__main__':
    harness.main()
