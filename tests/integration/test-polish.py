#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Small things a user meets (issue 17 item 6): a [Watch x] given twice in one file is an error with
file:line (a drop-in may still extend it), an unknown group gets a did-you-mean, the reload message
counts "1 error" and "2 errors"; Plugin= takes a bare name found through $INOTASKD_PLUGIN_DIR (the
shipped igor-plugin.conf as it is, in the build tree); the installed inotaskd-plugin.pc builds the
example plugin with pkg-config and names the directory the daemon looks in; the example plugin is
installed with the documentation, not into that directory."""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile

import harness
from harness import DaemonTestCase, log, run_inotaskd

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule r]
Watch=w
On=IN_CLOSE_WRITE
Exec=/bin/true
'''


class Groups(DaemonTestCase):
    def test_duplicate_group_in_one_file(self):
        p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/a\n\n[Watch w]\nPath=/b\n')
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 78, err)
        self.assertRegex(err, r'(?m)^/tmp/\S+/inotaskd\.conf:4: duplicate group \[Watch w\], first at line 1$')
        log('twice in one file: %s' % err.strip())

    def test_dropin_extends_a_group(self):
        p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/a\n',
                         dropins={'10-more.conf': '[Watch w]\nExclude=*.tmp\n'})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        p = run_inotaskd(['--dump-config'], config='[Watch w]\nPath=/a\n',
                         dropins={'10-more.conf': '[Watch w]\nExclude=*.tmp\n'})
        self.assertRegex(p.stdout.decode(), r'(?m)^Exclude=\*\.tmp$')
        log('a drop-in still adds Exclude= to [Watch w] of the main file')

    def test_dropin_directories(self):
        """Beside -c FILE: FILE.d/ (systemd's name) after the older conf.d/, so that a file of the same name
        in FILE.d/ replaces the one in conf.d/; all read in file-name order."""
        p = run_inotaskd(['--dump-config'], config='[Watch w]\nPath=/a\n', env={'INOTASKD_CONFIG_DIR': None},
                         files={'conf.d/10-old.conf': '[Watch w]\nExclude=old-only\n',
                                'conf.d/20-both.conf': '[Watch w]\nExclude=from-conf.d\n',
                                'inotaskd.conf.d/20-both.conf': '[Watch w]\nExclude=from-inotaskd.conf.d\n',
                                'inotaskd.conf.d/30-new.conf': '[Watch w]\nExclude=new-only\n'})
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(re.findall(r'(?m)^Exclude=(.*)$', out), ['old-only from-inotaskd.conf.d new-only'])
        self.assertRegex(out, r'inotaskd\.conf\.d/30-new\.conf')
        log('drop-ins: conf.d/10-old, inotaskd.conf.d/20-both (replacing conf.d/20-both), inotaskd.conf.d/30-new')

    def test_unknown_group_did_you_mean(self):
        p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/a\n[Rlue r]\nOn=created\n')
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 78, err)
        self.assertRegex(err, r'inotaskd\.conf:3: unknown group \[Rlue r\], did you mean \[Rule r\]\?')
        log(err.strip().splitlines()[0])


class ReloadCount(DaemonTestCase):
    def test_one_error_two_errors(self):
        d = self.daemon(CONFIG, start=False)
        self.fresh_dir(d, 'w')
        d.start()
        d.write_config(CONFIG + 'Bogus=1\n')
        d.signal(signal.SIGHUP)
        d.wait_for_log(r'^Reload failed: the configuration has 1 error, keeping the running one\.$')
        d.write_config(CONFIG + 'Bogus=1\nDelaySec=forever\n')
        d.signal(signal.SIGHUP)
        d.wait_for_log(r'^Reload failed: the configuration has 2 errors, keeping the running one\.$')
        log('reload: "1 error", then "2 errors"')


SRCDIR = os.environ.get('SRCDIR') or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLE = os.path.join(SRCDIR, 'data', 'examples', 'igor-plugin.conf')


def example_plugin_dir():
    p = os.environ.get('INOTASKD_EXAMPLE_PLUGIN')
    if not p:
        raise AssertionError('INOTASKD_EXAMPLE_PLUGIN is not set (meson sets it)')
    return os.path.dirname(p)


class Plugins(DaemonTestCase):
    def test_example_with_plugin_dir(self):
        with open(EXAMPLE) as f:
            text = f.read()
        self.assertIn('\nPlugin=inotaskd-example-plugin\n', text)
        p = run_inotaskd(['--check-config'], config=text,
                         env={'INOTASKD_PLUGIN_DIR': '/nonexistent:' + example_plugin_dir()})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn('Configuration is valid', p.stderr.decode())
        p = run_inotaskd(['--check-config'], config=text, env={'INOTASKD_PLUGIN_DIR': None})
        self.assertEqual(p.returncode, 78, p.stderr.decode())
        self.assertRegex(p.stderr.decode(), r'inotaskd\.conf:\d+: Plugin: no plugin inotaskd-example-plugin\.so '
                                            r'in /\S+/inotaskd/plugins \(set INOTASKD_PLUGIN_DIR')
        log('igor-plugin.conf as shipped: valid with INOTASKD_PLUGIN_DIR=%s, else %s'
            % (example_plugin_dir(), p.stderr.decode().strip().splitlines()[-1]))

    def test_pkg_config_builds_a_plugin(self):
        build = os.environ.get('MESON_BUILD_ROOT')
        cc = shutil.which('cc') or shutil.which('gcc')
        if not build or not shutil.which('pkg-config') or not cc:
            self.skipTest('needs MESON_BUILD_ROOT (meson sets it), pkg-config and a C compiler')
        dest = tempfile.mkdtemp(prefix='inotaskd-pc.', dir='/tmp')
        try:
            subprocess.run(['meson', 'install', '-C', build, '--no-rebuild', '--quiet', '--destdir', dest],
                           check=True, capture_output=True, timeout=120)
            pcs = glob.glob(os.path.join(dest, '**', 'pkgconfig', 'inotaskd-plugin.pc'), recursive=True)
            self.assertEqual(len(pcs), 1, 'inotaskd-plugin.pc installed once')
            env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest)

            def pc(*args):
                return subprocess.run(['pkg-config'] + list(args) + ['inotaskd-plugin'], env=env, check=True,
                                      capture_output=True, text=True).stdout.strip()
            plugindir = subprocess.run(['pkg-config', '--variable=plugindir', 'inotaskd-plugin'],
                                       env=dict(env, PKG_CONFIG_SYSROOT_DIR=''), check=True,
                                       capture_output=True, text=True).stdout.strip()

            # The example is documentation: in DOCDIR/examples/plugin/, with its source; nothing is live.
            docs = glob.glob(os.path.join(dest, '**', 'doc', 'inotaskd', 'examples', 'plugin',
                                          'inotaskd-example-plugin.so'), recursive=True)
            self.assertEqual(len(docs), 1, 'the example plugin in the documentation examples')
            self.assertTrue(os.path.exists(os.path.join(os.path.dirname(docs[0]), 'example-plugin.c')))
            self.assertFalse(os.path.exists(dest + plugindir), 'something installed into the plugin directory')

            # A third party's build: the header through the .pc's Cflags, outside the source tree.
            out = os.path.join(dest, 'third-party')
            os.mkdir(out)
            so = os.path.join(out, 'my-plugin.so')
            subprocess.run([cc, '-shared', '-fPIC', '-o', so, os.path.join(SRCDIR, 'examples', 'plugin',
                                                                            'example-plugin.c')]
                           + pc('--cflags').split(), check=True, capture_output=True, timeout=120)
            p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/srv/inbox\n[Rule r]\nWatch=w\n'
                             'On=created\nAction=plugin\nPlugin=my-plugin\nOutput=/dev/null\n',
                             env={'INOTASKD_PLUGIN_DIR': out})
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            # The directory the .pc names is the one the daemon looks in.
            p = run_inotaskd(['--check-config'], config='[Watch w]\nPath=/srv/inbox\n[Rule r]\nWatch=w\n'
                             'On=created\nAction=plugin\nPlugin=my-plugin\n', env={'INOTASKD_PLUGIN_DIR': None})
            self.assertIn(' in %s (set' % plugindir, p.stderr.decode())
            log('pkg-config --cflags: %s; plugindir %s; the example installed as %s'
                % (pc('--cflags'), plugindir, os.path.relpath(docs[0], dest)))
        finally:
            shutil.rmtree(dest, ignore_errors=True)


README = os.path.join(SRCDIR, 'README.md')
STUB = '#!/bin/sh\necho "$(basename "$0") $*" >>"$STUB_LOG"\n'
SUDO_STUB = '#!/bin/sh\necho "sudo $*" >>"$STUB_LOG"\nexec "$@"\n'


def readme_block(after):
    """The indented code block that follows the first line starting with after, as shell text."""
    lines = open(README).read().splitlines()
    i = next(n for n, l in enumerate(lines) if l.startswith(after))
    while not lines[i].startswith('    '):
        i += 1
    block = []
    while i < len(lines) and lines[i].startswith('    '):
        block.append(lines[i][4:])
        i += 1
    return '\n'.join(block) + '\n'


class Readme(DaemonTestCase):
    """The README's setup commands, run by bash with every program they call replaced by a stub that
    records its arguments: as root where there is no sudo (a minimal Debian), and as a user with sudo."""

    def run_as(self, text, uid, with_sudo):
        tmp = tempfile.mkdtemp(prefix='inotaskd-readme.', dir='/tmp')
        try:
            stubs, tools = os.path.join(tmp, 'stubs'), os.path.join(tmp, 'tools')
            os.makedirs(stubs)
            os.makedirs(tools)
            os.makedirs(os.path.join(tmp, 'cwd', 'build', 'src', 'daemon'))
            names = ['apt-get', 'meson', 'ninja', 'systemctl', 'journalctl', 'inotaskctl']
            for n in names + (['sudo'] if with_sudo else []):
                with open(os.path.join(stubs, n), 'w') as f:
                    f.write(SUDO_STUB if n == 'sudo' else STUB)
                os.chmod(os.path.join(stubs, n), 0o755)
            inotaskd = os.path.join(tmp, 'cwd', 'build', 'src', 'daemon', 'inotaskd')
            shutil.copy(os.path.join(stubs, 'meson'), inotaskd)
            for t in ('id', 'mkdir', 'basename', 'sh', 'bash'):      # and nothing else: no real sudo
                os.symlink(shutil.which(t), os.path.join(tools, t))
            log_path = os.path.join(tmp, 'calls')
            open(log_path, 'w').close()
            for root, dirs, files in os.walk(tmp):        # the user's own tree, as far as it matters
                for x in dirs + files:
                    if not os.path.islink(os.path.join(root, x)):
                        os.chmod(os.path.join(root, x), 0o777)
            os.chmod(tmp, 0o755)
            env = {'PATH': stubs + ':' + tools, 'STUB_LOG': log_path, 'HOME': tmp}
            prefix = [] if uid == 0 else [shutil.which('setpriv'), '--reuid=%d' % uid, '--regid=%d' % uid, '--clear-groups', '--']
            p = subprocess.run(prefix + [shutil.which('bash'), '-e', '-c', text], cwd=os.path.join(tmp, 'cwd'),
                               env=env, capture_output=True, text=True, timeout=60)
            with open(log_path) as f:
                return p, f.read().splitlines()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def check(self, text, first, first_sudo=True):
        p, calls = self.run_as(text, 0, with_sudo=False)
        self.assertEqual(p.returncode, 0, 'as root without sudo: %s' % p.stderr)
        self.assertTrue(calls and calls[0].startswith(first), calls)
        self.assertFalse([c for c in calls if c.startswith('sudo')], calls)
        if os.geteuid() == 0 and shutil.which('setpriv'):
            p, ucalls = self.run_as(text, 65534, with_sudo=True)
            self.assertEqual(p.returncode, 0, 'as a user with sudo: %s' % p.stderr)
            if first_sudo:
                self.assertEqual(ucalls[0], 'sudo ' + calls[0], ucalls)
            return calls, ucalls
        return calls, None

    def test_quick_start(self):
        calls, ucalls = self.check(readme_block('Build it and start it in the foreground'), 'apt-get install -y ')
        self.assertEqual(calls[-1], 'inotaskd -c data/examples/demo.conf')
        log('quick start as root: %s ...; as uid 65534: %s' % (calls[0][:30], ucalls and ucalls[0][:35]))

    def test_as_a_service(self):
        text = readme_block('## As a service')
        text = text[:text.index('systemctl status')]        # the two setup lines and the reload
        calls, ucalls = self.check(text, 'meson setup ', first_sudo=False)
        self.assertIn('meson install -C build-service --no-rebuild', calls)
        self.assertIn('systemctl enable --now inotaskd', calls)
        if ucalls:
            self.assertIn('sudo meson install -C build-service --no-rebuild', ucalls)
            self.assertIn('sudo systemctl enable --now inotaskd', ucalls)
            self.assertIn('meson setup build-service -Dprefix=/usr -Dsysconfdir=/etc -Dlocalstatedir=/var', ucalls,
                          'the build itself runs as the user')
        log('as a service: %d calls as root, none through sudo; as uid 65534 the installing ones through it'
            % len(calls))


if __name__ == '__main__':
    harness.main()
