# SPDX-License-Identifier: GPL-2.0-or-later
"""A private dbus-daemon for the integration tests, and the daemon on it.

PrivateBus starts `dbus-daemon --nofork` with its own configuration (no service directories, so nothing
is ever bus-activated; a policy that lets any local user connect, so a test may call as another user)
and reads its address from a pipe with a deadline. BusDaemon is harness.Daemon run with --user on that
bus: DBUS_SESSION_BUS_ADDRESS points at it."""

import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import DEFAULT_TIMEOUT, Timeout

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%(dir)s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''


def dbus_daemon():
    return shutil.which('dbus-daemon')


class PrivateBus:
    """One dbus-daemon in a temporary directory (world-accessible, so that another uid may connect)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix='inotaskd-bus.', dir='/tmp')
        os.chmod(self.tmp, 0o755)
        self.config = os.path.join(self.tmp, 'bus.conf')
        with open(self.config, 'w') as f:
            f.write(BUS_CONFIG % {'dir': self.tmp})
        self.proc = None
        self.address = None

    def start(self, timeout=DEFAULT_TIMEOUT):
        r, w = os.pipe()
        # Its complaints (e.g. "Failed to set fd limit" when not root) go to a file, not the test log.
        log = open(os.path.join(self.tmp, 'bus.log'), 'wb')
        try:
            self.proc = subprocess.Popen([dbus_daemon(), '--config-file=' + self.config, '--nofork',
                                          '--nopidfile', '--print-address=%d' % w],
                                         stdin=subprocess.DEVNULL, stderr=log, pass_fds=(w,))
            os.close(w)
            w = -1
            data = b''
            deadline = time.monotonic() + timeout
            while not data.endswith(b'\n'):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout('dbus-daemon printed no address within %.1fs' % timeout)
                ready, _, _ = select.select([r], [], [], left)
                if ready:
                    chunk = os.read(r, 4096)
                    if not chunk:
                        raise AssertionError('dbus-daemon exited (%s) before printing its address'
                                             % self.proc.wait())
                    data += chunk
            self.address = data.decode().strip()
        finally:
            log.close()
            os.close(r)
            if w >= 0:
                os.close(w)
        return self

    def env(self):
        """The environment of a client (or the daemon) on this bus, as a user-bus client."""
        e = dict(os.environ)
        e['DBUS_SESSION_BUS_ADDRESS'] = self.address
        e.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
        return e

    def stop(self, timeout=DEFAULT_TIMEOUT):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


class BusDaemon(harness.Daemon):
    """harness.Daemon in user mode on a PrivateBus."""

    def __init__(self, config, bus, **kw):
        self.bus = bus
        super().__init__(config, **kw)

    def env(self):
        e = super().env()
        e['DBUS_SESSION_BUS_ADDRESS'] = self.bus.address
        e.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
        return e

    def command(self):
        return super().command() + ['--user']


class BusTestCase(harness.DaemonTestCase):
    """A DaemonTestCase with a fresh private bus per test: self.bus; self.daemon() starts BusDaemons."""

    def setUp(self):
        if not dbus_daemon():
            self.skipTest('dbus-daemon is not installed')
        super().setUp()
        self.bus = PrivateBus().start()

    def daemon(self, config, start=True, **kw):
        d = BusDaemon(config, self.bus, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.bus.stop()

    def busctl(self, *args, check=True):
        """busctl --user ARGS on the private bus; fails the test unless it succeeds (or not check)."""
        p = subprocess.run(['busctl', '--user'] + list(args), capture_output=True, text=True,
                           env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError('busctl %s failed: %s' % (' '.join(args), p.stderr))
        return p

