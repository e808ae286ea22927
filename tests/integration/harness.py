# SPDX-License-Identifier: GPL-2.0-or-later
"""The integration tests' harness: the built daemon in a temporary directory, its notify socket,
its log, a recorder for the commands it runs, and waiting with deadlines (never fixed sleeps)."""

import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# Configuration files the tests write must not be group-writable, whatever the caller's umask (002 for
# a user with a private group): the daemon refuses files that someone else could write.
os.umask(0o022)

# Sanitizer builds and loaded CI machines are slower: every deadline scales with this factor.
TIMEOUT_SCALE = float(os.environ.get('INOTASKD_TEST_TIMEOUT_SCALE', '1'))
DEFAULT_TIMEOUT = 20.0 * TIMEOUT_SCALE

EXIT_SKIP = 77

LEVEL_PREFIX = re.compile(r'^(error|warning): ')

SANITIZER_REPORT = re.compile(r'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|'
                              r'SUMMARY: (Address|Undefined|Leak)|'
                              # valgrind (INOTASKD_DAEMON_WRAPPER): errors, and definite leaks at exit
                              r'==\d+== (Invalid (read|write|free)|Conditional jump|Syscall param|'
                              r'Mismatched free|Source and destination overlap)|definitely lost: [1-9]')


def binary():
    """The daemon under test: INOTASKD_BINARY (meson sets it)."""
    b = os.environ.get('INOTASKD_BINARY')
    if not b:
        sys.exit('INOTASKD_BINARY is not set: run the tests with "meson test -C BUILDDIR".')
    return b


def daemon_argv():
    """The daemon's command: the binary, after INOTASKD_DAEMON_WRAPPER if set (e.g. valgrind with its
    options: .ci/run runs the integration suite once so, its reports found by check_sanitizers())."""
    return shlex.split(os.environ.get('INOTASKD_DAEMON_WRAPPER', '')) + [binary()]


def recorder_python():
    """The interpreter for the recorder: the system's python3 when there is one, since tasks may run as
    another user (User=) who cannot reach an interpreter below root's home, else this one."""
    for p in ('/usr/bin/python3', sys.executable):
        if p and os.access(p, os.X_OK):
            return p
    return sys.executable


def log(msg):
    print(msg, flush=True)


def process_gone(pid):
    """Whether pid has exited (a zombie counts as gone: its parent may not be us)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return True


def proc_state(pid):
    """The one-letter state of pid ("T" when stopped)."""
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()[0]


class Timeout(AssertionError):
    pass


def wait_for(predicate, timeout=DEFAULT_TIMEOUT, what=None, interval=0.01):
    """Polls predicate every ~10 ms until it returns something true, and returns that; fails the test
    with a message naming what was awaited when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Timeout('timed out after %.1fs waiting for %s' % (timeout, what or predicate))
        time.sleep(interval)


# ------------------------------------------------------------------ the recorder

# The recorder is what the rules' Exec= runs. It appends one record per call to the file named by its
# first argument: its other arguments exactly as bytes, plus its uid, gid, cwd and whole environment.
# A record is a list of netstrings ("LEN:BYTES,"), so arguments may hold any byte, newlines too:
#   b"R" ns(argc) ns(arg)... ns(n_meta) (ns(key) ns(value))... b"\n"
# Control, from the environment (the rule's Environment=):
#   REC_GATE=FILE   write a "start" record, then wait until FILE exists, then the "end" record
#   REC_SLEEP=SECS  write a "start" record, sleep, then the "end" record
#   REC_EXIT=N      exit with status N after recording
# Without REC_GATE/REC_SLEEP only the "end" record is written.
RECORDER_SOURCE = r'''
import os, sys, time

def ns(b):
    return str(len(b)).encode() + b":" + b + b","

def record(out, phase):
    args = [os.fsencode(a) for a in sys.argv[2:]]
    meta = [(b"phase", phase), (b"uid", str(os.getuid()).encode()), (b"gid", str(os.getgid()).encode()),
            (b"groups", " ".join(str(g) for g in sorted(os.getgroups())).encode()),
            (b"pid", str(os.getpid()).encode()), (b"cwd", os.fsencode(os.getcwd())),
            (b"time", repr(time.monotonic()).encode())]
    meta += [(b"env:" + k, v) for k, v in sorted(os.environb.items())]
    data = [b"R", ns(str(len(args)).encode())] + [ns(a) for a in args]
    data += [ns(str(len(meta)).encode())] + [ns(k) + ns(v) for k, v in meta] + [b"\n"]
    # One write() with O_APPEND: records of concurrent runs never interleave.
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.write(fd, b"".join(data))
    os.close(fd)

out = sys.argv[1]
gate = os.environ.get("REC_GATE")
pause = os.environ.get("REC_SLEEP")
if gate or pause:
    record(out, b"start")
if gate:
    # Bounded, so a test that dies without opening the gate leaves nothing behind for long.
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            sys.exit(99)
        time.sleep(0.01)
if pause:
    time.sleep(float(pause))
record(out, b"end")
sys.exit(int(os.environ.get("REC_EXIT", "0")))
'''


class Record:
    def __init__(self, args, meta):
        self.args = args                # list of bytes: argv[2:] of the recorder (after the output file)
        self.meta = meta                # dict bytes -> bytes
        self.phase = meta.get(b'phase', b'end').decode()
        self.uid = int(meta[b'uid'])
        self.gid = int(meta[b'gid'])
        self.pid = int(meta[b'pid'])
        self.groups = [int(g) for g in meta[b'groups'].split()]
        self.cwd = meta[b'cwd']
        self.env = {k[4:]: v for k, v in meta.items() if k.startswith(b'env:')}

    def __repr__(self):
        return 'Record(%s %r)' % (self.phase, self.args)


class _Truncated(ValueError):
    """The data ends inside a record: one the recorder is still writing, as a reader may see it."""


def _netstring(data, pos):
    colon = data.find(b':', pos)
    if colon < 0:
        raise _Truncated('data ends at %d inside a netstring' % pos)
    n = int(data[pos:colon])
    end = colon + 1 + n
    if end >= len(data):
        raise _Truncated('data ends at %d inside a netstring' % pos)
    if data[end:end + 1] != b',':
        raise ValueError('bad netstring at %d' % pos)
    return data[colon + 1:end], end + 1


def parse_records(data, partial_ok=False):
    """All records in data (bytes), in order; a truncated last record is an error, or with partial_ok
    left out (a reader racing the recorder's write() may see the start of a record only)."""
    out, pos = [], 0
    while pos < len(data):
        start = pos
        try:
            if data[pos:pos + 1] != b'R':
                raise ValueError('bad record at offset %d' % pos)
            pos += 1
            argc, pos = _netstring(data, pos)
            args = []
            for _ in range(int(argc)):
                a, pos = _netstring(data, pos)
                args.append(a)
            nmeta, pos = _netstring(data, pos)
            meta = {}
            for _ in range(int(nmeta)):
                k, pos = _netstring(data, pos)
                v, pos = _netstring(data, pos)
                meta[k] = v
            if pos >= len(data):
                raise _Truncated('data ends at %d before the end of a record' % pos)
            if data[pos:pos + 1] != b'\n':
                raise ValueError('record at offset %d not terminated' % pos)
        except _Truncated:
            if partial_ok:
                break
            raise ValueError('truncated record at offset %d' % start)
        pos += 1
        out.append(Record(args, meta))
    return out


# ------------------------------------------------------------------ the daemon

# Daemons not cleaned up yet: a SIGTERM (meson's timeout) cleans them up before the test program exits.
_LIVE = set()


def _on_sigterm(signum, frame):
    log('SIGTERM: stopping %d daemon(s) and removing their directories' % len(_LIVE))
    for d in list(_LIVE):
        try:
            log('--- daemon log (%s) ---\n%s--- end ---' % (d.tmp, d.log_text()[-4000:]))
            d.cleanup()
        except Exception as e:          # best effort: exiting anyway
            log('cleanup of %s failed: %s' % (d.tmp, e))
    os._exit(1)


class NotifyListener:
    """The test's own NOTIFY_SOCKET: an AF_UNIX datagram socket read by a thread, so the daemon's
    sd_notify() never blocks on a full queue."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.messages = []              # one str per datagram, in arrival order
        self.times = []                 # time.monotonic() of each one's arrival
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(data.decode('utf-8', 'replace'))
                self.times.append(time.monotonic())

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def stamped(self):
        """(arrival time, message) of every datagram so far."""
        with self.lock:
            return list(zip(self.times, self.messages))

    def close(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


class Daemon:
    """One inotaskd in a fresh temporary directory.

    The config text (and drop-ins) may use these tokens, replaced before writing:
      @TMP@       the temporary directory (watched trees go below it; it has no spaces)
      @RECORDER@  the recorder program
      @OUT@       the default record file (@TMP@/records)
      @REC@       "@RECORDER@ @OUT@": Exec=@REC@ {pathname} records the path
    Exec= treats "{" as a placeholder: write literal braces as {{ }}.

    With marker=True (default) a [Watch marker] on @TMP@/marker and a [Rule marker] are appended:
    settle() uses them to prove every earlier event was handled. Rules of the test must then say
    Watch= (a rule without Watch= applies to every watch, the marker's too).
    """

    def __init__(self, config, *, args=(), dropins=None, marker=True, world_accessible=False, env=None,
                 nofile=None, ignored_signals=()):
        self.extra_env = dict(env or {})
        self.nofile = nofile            # soft RLIMIT_NOFILE for the daemon, None: inherited
        self.ignored_signals = ignored_signals  # signals the daemon starts with set to SIG_IGN
        self.tmp = tempfile.mkdtemp(prefix='inotaskd-test.', dir='/tmp')
        _LIVE.add(self)
        self.args = list(args)
        self.proc = None
        self.notify = None
        self.marker = marker
        self.settle_count = 0
        self.returncode = None
        self._log_offset = 0
        self._log_lines = []
        for d in ('conf.d', 'cwd', 'marker'):
            os.mkdir(os.path.join(self.tmp, d))
        self.recorder = os.path.join(self.tmp, 'recorder')
        with open(self.recorder, 'w') as f:
            f.write('#!%s -S\n' % recorder_python())
            f.write(RECORDER_SOURCE)
        os.chmod(self.recorder, 0o755)
        self.out = os.path.join(self.tmp, 'records')
        if world_accessible:
            # For User=: the recorder must be runnable and the records writable by another user.
            os.chmod(self.tmp, 0o755)
            fd = os.open(self.out, os.O_CREAT | os.O_WRONLY, 0o666)
            os.close(fd)
            os.chmod(self.out, 0o666)
        self.config_path = os.path.join(self.tmp, 'inotaskd.conf')
        self.dropin_dir = os.path.join(self.tmp, 'conf.d')
        self.log_path = os.path.join(self.tmp, 'daemon.log')
        self.stdout_path = os.path.join(self.tmp, 'daemon.stdout')
        self.notify_path = os.path.join(self.tmp, 'notify.sock')
        self.write_config(config)
        for name, text in (dropins or {}).items():
            self.write_dropin(name, text)

    # ---------------------------------------------------------------- files

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def subst(self, text):
        text = text.replace('@REC@', '@RECORDER@ @OUT@')
        return (text.replace('@RECORDER@', self.recorder).replace('@OUT@', self.out)
                .replace('@TMP@', self.tmp))

    def config_text(self, text):
        text = self.subst(text)
        if self.marker:
            text += ('\n[Watch marker]\nPath=%s\n\n[Rule marker]\nWatch=marker\nOn=IN_CLOSE_WRITE\n'
                     'Exec=/bin/true\n' % self.path('marker'))
        return text

    def write_config(self, text):
        """(Re)writes the main config file atomically (a reload must never see half a file)."""
        tmp = self.config_path + '.new'
        with open(tmp, 'w') as f:
            f.write(self.config_text(text))
        os.rename(tmp, self.config_path)

    def write_dropin(self, name, text):
        with open(os.path.join(self.dropin_dir, name), 'w') as f:
            f.write(self.subst(text))

    def records(self, path=None, phase='end'):
        """Parsed records of the recorder (of the given phase, None for all)."""
        try:
            with open(path or self.out, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return [r for r in parse_records(data, partial_ok=True) if phase is None or r.phase == phase]

    def wait_records(self, n, path=None, phase='end', timeout=DEFAULT_TIMEOUT):
        """Waits for at least n records; returns all of them."""
        return wait_for(lambda: len(self.records(path, phase)) >= n and self.records(path, phase),
                        timeout, '%d %s records in %s' % (n, phase, path or self.out))

    # ---------------------------------------------------------------- process

    def env(self):
        e = {k: v for k, v in os.environ.items()
             if k not in ('NOTIFY_SOCKET', 'JOURNAL_STREAM', 'INOTASKD_CONFIG', 'WATCHDOG_USEC',
                          'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'INVOCATION_ID')}
        # INVOCATION_ID dropped above: the daemon runs in the foreground here, TaskUnits=auto means no.
        e['INOTASKD_CONFIG_DIR'] = self.dropin_dir
        e['NOTIFY_SOCKET'] = self.notify_path
        e['XDG_CONFIG_HOME'] = self.path('xdg-config')
        e['XDG_STATE_HOME'] = self.path('xdg-state')
        # Never the machine's buses: until a test brings its private bus (see PrivateBus below), the
        # daemon finds none and goes on without its D-Bus interface.
        e['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=' + self.path('no-system-bus')
        e['DBUS_SESSION_BUS_ADDRESS'] = 'unix:path=' + self.path('no-session-bus')
        e.update(self.extra_env)
        return e

    def command(self):
        # -v twice: debug level for certain, settle() and the tests read the "scheduled for" lines.
        return daemon_argv() + ['-c', self.config_path, '--log-target=console', '-v'] + self.args

    def start(self, wait_ready=True, timeout=DEFAULT_TIMEOUT):
        self.notify = NotifyListener(self.notify_path)
        with open(self.log_path, 'wb') as err, open(self.stdout_path, 'wb') as out:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=self.path('cwd'), env=self.env(),
                                         preexec_fn=self._preexec if self.nofile is not None or
                                         self.ignored_signals else None)
        if wait_ready:
            self.wait_notify(r'^READY=1$', timeout=timeout)
        return self

    def _preexec(self):
        if self.nofile is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))
        for sig in self.ignored_signals:
            signal.signal(sig, signal.SIG_IGN)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        """Waits for the daemon to exit and returns its exit code (negative: killed by a signal)."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Timeout('daemon did not exit within %.1fs; log:\n%s' % (timeout, self.log_text()[-4000:]))
        return self.returncode

    def stop(self, timeout=DEFAULT_TIMEOUT):
        """SIGTERM, then waits for the exit; returns the exit code."""
        if self.alive():
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def cleanup(self):
        _LIVE.discard(self)
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        if self.notify:
            self.notify.close()
            self.notify = None
        if os.environ.get('INOTASKD_TEST_KEEP'):
            log('kept %s' % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---------------------------------------------------------------- log

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def log_lines(self):
        """Complete lines of the log so far (read incrementally: the overflow test's log is long)."""
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(self._log_offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b'\n') + 1
        if end > 0:
            self._log_offset += end
            self._log_lines += data[:end].decode('utf-8', 'replace').splitlines()
        return list(self._log_lines)

    def log_matches(self, regex, raw=False):
        """Match objects of the log lines matching regex; the "error: " / "warning: " prefix of a line is
        taken off first unless raw."""
        r = re.compile(regex)
        lines = self.log_lines()
        if not raw:
            lines = [LEVEL_PREFIX.sub('', l, count=1) for l in lines]
        return [m for m in (r.search(l) for l in lines) if m]

    def wait_for_log(self, regex, count=1, timeout=DEFAULT_TIMEOUT, raw=False):
        """Waits for count log lines matching regex (see log_matches); returns their match objects."""
        def check():
            ms = self.log_matches(regex, raw)
            if len(ms) >= count:
                return ms
            if not self.alive():
                raise AssertionError('daemon exited (%s) while waiting for log /%s/; log:\n%s'
                                     % (self.proc.returncode, regex, self.log_text()[-4000:]))
            return None
        try:
            return wait_for(check, timeout, 'log /%s/ x%d' % (regex, count))
        except Timeout as e:
            raise Timeout('%s; log:\n%s' % (e, self.log_text()[-4000:]))

    def check_sanitizers(self):
        m = SANITIZER_REPORT.search(self.log_text())
        if m:
            raise AssertionError('sanitizer report in the daemon log:\n' + self.log_text()[-6000:])

    # ---------------------------------------------------------------- notify

    def notify_messages(self):
        return self.notify.snapshot() if self.notify else []

    def wait_notify(self, regex, start=0, timeout=DEFAULT_TIMEOUT):
        """Waits for a datagram (from index start on) with a line matching regex; returns its index."""
        r = re.compile(regex, re.M)

        def check():
            msgs = self.notify_messages()
            for i in range(start, len(msgs)):
                if r.search(msgs[i]):
                    return i + 1        # 1-based so that index 0 is true
            if self.proc is not None and not self.alive():
                raise AssertionError('daemon exited (%s) while waiting for notify /%s/; log:\n%s'
                                     % (self.proc.returncode, regex, self.log_text()[-4000:]))
            return None
        try:
            return wait_for(check, timeout, 'notify /%s/' % regex) - 1
        except Timeout as e:
            raise Timeout('%s; received %r; log:\n%s' % (e, self.notify_messages(), self.log_text()[-4000:]))

    def statuses(self):
        out = []
        for m in self.notify_messages():
            for line in m.split('\n'):
                if line.startswith('STATUS='):
                    out.append(line[len('STATUS='):])
        return out

    def latest_status(self):
        s = self.statuses()
        return s[-1] if s else None

    # ---------------------------------------------------------------- tasks

    def task_ids(self, state_regex, rule=None):
        """Ids of the tasks with a log line "Task N (rule) <state_regex>"."""
        r = r'^Task (\d+) \((%s)\) (?:%s)' % (re.escape(rule) if rule else r'[^)]*', state_regex)
        return [int(m.group(1)) for m in self.log_matches(r)]

    def sync(self, timeout=DEFAULT_TIMEOUT):
        """Returns once every event caused before the call has been handled (not their tasks): a marker
        file is written after the test's changes; the daemon reads one inotify queue in order, so once
        the marker's task is scheduled the earlier events were handled."""
        assert self.marker, 'sync() needs the marker watch'
        self.settle_count += 1
        name = self.path('marker', 'settle-%d' % self.settle_count)
        with open(name, 'w') as f:
            f.write('x')
        self.wait_for_log(r'^Task \d+ \(marker\) scheduled for %s\.$' % re.escape(name), timeout=timeout)

    def settle(self, timeout=DEFAULT_TIMEOUT):
        """Returns once every event caused before the call has been handled and every task it scheduled
        has ended. Proof by order: a marker file is written after the test's changes; the daemon reads
        one inotify queue in order, so once the marker's task is scheduled the earlier events were
        handled; then it waits until each scheduled task has its finished/failed/cancelled line."""
        self.sync(timeout)

        def done():
            pending = set(self.task_ids('scheduled for ')) - set(self.task_ids('finished|failed|cancelled|vanished'))
            return not pending
        try:
            wait_for(done, timeout, 'every scheduled task to end')
        except Timeout as e:
            raise Timeout('%s; log:\n%s' % (e, self.log_text()[-4000:]))

    # ---------------------------------------------------------------- bus

    # The private dbus-daemon for the D-Bus issue goes here: a PrivateBus helper started before the
    # daemon (dbus-daemon --config-file=... --print-address), its address passed as
    # DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS in env() instead of the dead addresses set
    # there now, stopped in cleanup().


def run_inotaskd(args, *, config=None, dropins=None, files=None, env=None, timeout=DEFAULT_TIMEOUT):
    """Runs the daemon binary to completion (--check-config, --version, ...) in a temporary directory
    (its cwd): config (the -c file), dropins (in INOTASKD_CONFIG_DIR) and files (other files, by path
    relative to the directory) are texts with @TMP@; env adds variables (@TMP@ too), None removes one.
    Returns the CompletedProcess (bytes stdout/stderr), its .tmp the directory (already removed)."""
    tmp = tempfile.mkdtemp(prefix='inotaskd-cli.', dir='/tmp')
    try:
        dropin_dir = os.path.join(tmp, 'conf.d')
        os.mkdir(dropin_dir)
        argv = daemon_argv()
        if config is not None:
            conf = os.path.join(tmp, 'inotaskd.conf')
            with open(conf, 'w') as f:
                f.write(config.replace('@TMP@', tmp))
            argv += ['-c', conf]
        for name, text in (dropins or {}).items():
            with open(os.path.join(dropin_dir, name), 'w') as f:
                f.write(text.replace('@TMP@', tmp))
        e = {k: v for k, v in os.environ.items() if k not in ('NOTIFY_SOCKET', 'INOTASKD_CONFIG', 'INVOCATION_ID')}
        e['INOTASKD_CONFIG_DIR'] = dropin_dir
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v.replace('@TMP@', tmp)
        for name, text in (files or {}).items():
            p = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, 'w') as f:
                f.write(text.replace('@TMP@', tmp))
        p = subprocess.run(argv + list(args), stdin=subprocess.DEVNULL, capture_output=True, env=e,
                           cwd=tmp, timeout=timeout)
        p.tmp = tmp
        return p
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class DaemonTestCase(unittest.TestCase):
    """Creates daemons through self.daemon(...), and cleans them up (and checks their logs for
    sanitizer reports) after each test."""

    def setUp(self):
        self.daemons = []

    def daemon(self, config, start=True, **kw):
        d = Daemon(config, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def tearDown(self):
        failed = self._outcome_failed()
        for d in self.daemons:
            if failed:
                log('--- daemon log (%s) ---\n%s--- end ---' % (d.tmp, d.log_text()[-8000:]))
            try:
                d.check_sanitizers()
            finally:
                d.cleanup()

    def _outcome_failed(self):
        """Whether the test body failed, seen from tearDown (unittest has no public way to ask)."""
        o = getattr(self, '_outcome', None)
        if o is None:
            return False
        res = getattr(o, 'result', None)            # Python >= 3.11: already reported to the result
        if res is not None and any(t is self for t, _ in list(res.errors) + list(res.failures)):
            return True
        errors = getattr(o, 'errors', None)         # Python <= 3.10: collected in the outcome
        return bool(errors) and any(exc is not None for _, exc in errors)

    def fresh_dir(self, d, *parts):
        p = d.path(*parts)
        os.makedirs(p, exist_ok=True)
        return p


def write(path, data=b'x'):
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    """Runs the module's tests verbosely. Exit 0 when all pass, 1 on a failure, 77 when nothing failed
    but something was skipped (CI then fails unless the skip is allowed)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    prog = unittest.main(module='__main__', verbosity=2, exit=False)
    r = prog.result
    if r.failures or r.errors or r.unexpectedSuccesses:
        sys.exit(1)
    if r.skipped:
        for t, why in r.skipped:
            log('SKIP %s: %s' % (t.id(), why))
        sys.exit(EXIT_SKIP)
    if r.testsRun == 0:
        sys.exit(1)
    sys.exit(0)
