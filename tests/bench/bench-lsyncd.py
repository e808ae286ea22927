#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""inotaskd's batched mirror against lsyncd's default rsync mode (issue 15, item 6), side by side.

A tree on tmpfs is mirrored to a target directory on tmpfs (no network): 20,000 files created in 200
directories, then 2,000 of them modified, then 2,000 deleted. For each phase and tool: the time from
the first change until the target is identical (size and mtime per entry, polled every 0.2 s; the
contents are compared with diff -r at the end of each phase), the CPU seconds of the watcher plus
everything it ran (utime + stime + cutime + cstime of the watcher process, read once every rsync has
ended), and the number of rsync processes started (a wrapper in front of /usr/bin/rsync counts them).

Tools: lsyncd (Debian package lsyncd, sync{default.rsync, delay = D}); inotaskd batch (Batch=yes,
DelaySec=D, StandardInput=relpaths-nul, one rsync --files-from per batch); batchcap (the same with
MaxDelaySec=D: a batch runs D after its first event, as lsyncd's delay does); inotaskd per-file (one
rsync -R per path, MaxRunningTasks=16). Usage:
    tests/bench/bench-lsyncd.py [--build build] [--delay 2] [--files 20000] [--dirs 200] [--runs 1]
        [--tools lsyncd,batch,batchcap,perfile]
Not part of meson test.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # fields[0] is the state (field 3): utime, stime, cutime, cstime are fields 14-17.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK


def has_children(pid):
    for task in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/children' % (pid, task)) as f:
            if f.read().strip():
                return True
    return False


def tree_state(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in dirnames:
            out[os.path.join(rel, n)] = 'd'
        for n in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, n))
            except FileNotFoundError:
                return None             # changing under our feet (rsync deleting): not identical yet
            out[os.path.join(rel, n)] = (st.st_size, st.st_mtime_ns)
    return out


def count_runs(counter):
    try:
        with open(counter) as f:
            lines = f.read().split()
    except FileNotFoundError:
        return 0, 0
    return lines.count('s'), lines.count('e')


class Tool:
    def __init__(self, name, base, args):
        self.name, self.args = name, args
        self.dir = os.path.join(base, name)
        self.src = os.path.join(self.dir, 'src')
        self.dst = os.path.join(self.dir, 'dst')
        os.makedirs(self.src)
        os.makedirs(self.dst)
        self.counter = os.path.join(self.dir, 'rsync-runs')
        self.wrapper = os.path.join(self.dir, 'rsync')
        with open(self.wrapper, 'w') as f:
            f.write('#!/bin/sh\necho s >> %s\n/usr/bin/rsync "$@"\nrc=$?\necho e >> %s\nexit $rc\n'
                    % (self.counter, self.counter))
        os.chmod(self.wrapper, 0o755)
        self.log = open(os.path.join(self.dir, 'log'), 'wb')

    def start(self):
        raise NotImplementedError

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Lsyncd(Tool):
    def start(self):
        conf = os.path.join(self.dir, 'lsyncd.lua')
        with open(conf, 'w') as f:
            f.write('settings { nodaemon = true, logfile = "%s/lsyncd.log" }\n'
                    'sync { default.rsync, source = "%s", target = "%s", delay = %d,\n'
                    '       rsync = { binary = "%s", archive = true } }\n'
                    % (self.dir, self.src, self.dst, self.args.delay, self.wrapper))
        self.proc = subprocess.Popen(['lsyncd', conf], stdout=self.log, stderr=self.log)
        logf = os.path.join(self.dir, 'lsyncd.log')
        wait(lambda: os.path.exists(logf) and b'finished' in open(logf, 'rb').read(), 'lsyncd startup')


class Inotaskd(Tool):
    def __init__(self, name, base, args, batch, cap=False):
        super().__init__(name, base, args)
        self.batch = batch
        self.cap = cap

    def start(self):
        conf = os.path.join(self.dir, 'inotaskd.conf')
        if self.batch:
            rule = ('Batch=yes\nStandardInput=relpaths-nul\n' + ('MaxDelaySec=%d\n' % self.args.delay if self.cap else '') +
                    'Exec=%s -a --delete-missing-args --files-from=- --from0 %s/ %s/\n'
                    % (self.wrapper, self.src, self.dst))
        else:
            rule = 'Exec=%s -aR --delete-missing-args %s/./{relpath} %s/\n' % (self.wrapper, self.src, self.dst)
        with open(conf, 'w') as f:
            f.write('[Daemon]\nMaxRunningTasks=16\nTaskHistory=10\n\n[Watch src]\nPath=%s\nRecursive=yes\n\n'
                    '[Rule mirror]\nWatch=src\nOn=IN_CLOSE_WRITE IN_CREATE IN_MOVED_TO IN_DELETE IN_MOVED_FROM\n'
                    'Files=yes\nDirectories=yes\nDelaySec=%d\n%s' % (self.src, self.args.delay, rule))
        sock_path = os.path.join(self.dir, 'notify')
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path,
                   DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent', DBUS_SESSION_BUS_ADDRESS='unix:path=/nonexistent')
        binary = os.path.join(self.args.build, 'src', 'daemon', 'inotaskd')
        self.proc = subprocess.Popen([binary, '--user', '-c', conf, '--log-target=console'],
                                     stdout=self.log, stderr=self.log, env=env)
        sock.settimeout(30)
        while b'READY=1' not in sock.recv(4096):
            pass
        sock.close()


def wait(pred, what, timeout=600, interval=0.05):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            sys.exit('timed out waiting for ' + what)
        time.sleep(interval)


def phase(tool, name, change):
    starts0, _ = count_runs(tool.counter)
    cpu0 = cpu_seconds(tool.proc.pid)
    t0 = time.monotonic()
    change(tool.src)
    written = time.monotonic() - t0
    want = None

    def identical():
        nonlocal want
        want = tree_state(tool.src)
        got = tree_state(tool.dst)
        return got is not None and got == want
    wait(identical, '%s: %s mirrored' % (tool.name, name), interval=0.2)
    took = time.monotonic() - t0
    # Every rsync ended (and was reaped), then the CPU of the watcher and its children.
    wait(lambda: count_runs(tool.counter)[0] == count_runs(tool.counter)[1], 'rsyncs to end')
    # Their CPU counts in the watcher's cutime/cstime once it has reaped them: wait until it has no child.
    wait(lambda: not has_children(tool.proc.pid), 'the watcher to reap its rsyncs', timeout=60)
    cpu = cpu_seconds(tool.proc.pid) - cpu0
    runs = count_runs(tool.counter)[0] - starts0
    same = subprocess.run(['diff', '-r', tool.src, tool.dst], capture_output=True).returncode == 0
    return {'phase': name, 'written': written, 'identical_after': took, 'cpu': cpu, 'rsyncs': runs,
            'diff_ok': same}


def create(args):
    def f(src):
        for d in range(args.dirs):
            dp = os.path.join(src, 'd%03d' % d)
            os.mkdir(dp)
            for i in range(args.files // args.dirs):
                with open(os.path.join(dp, 'f%04d' % i), 'w') as fh:
                    fh.write('content %d %d\n' % (d, i))
    return f


def every_tenth(args):
    per = args.files // args.dirs
    return [(d, i) for d in range(args.dirs) for i in range(per) if (d * per + i) % 10 == 0]


def modify(args):
    def f(src):
        for d, i in every_tenth(args):
            with open(os.path.join(src, 'd%03d' % d, 'f%04d' % i), 'a') as fh:
                fh.write('modified\n')
    return f


def delete(args):
    def f(src):
        for d, i in every_tenth(args):
            os.unlink(os.path.join(src, 'd%03d' % d, 'f%04d' % (i + 1)))
    return f


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--build', default=os.path.join(HERE, '..', '..', 'build'))
    p.add_argument('--delay', type=int, default=2)
    p.add_argument('--files', type=int, default=20000)
    p.add_argument('--dirs', type=int, default=200)
    p.add_argument('--runs', type=int, default=1)
    p.add_argument('--tools', default='lsyncd,batch,batchcap,perfile')
    p.add_argument('--tmpdir', default='/dev/shm')
    args = p.parse_args()
    if not shutil.which('lsyncd'):
        sys.exit('lsyncd is not installed (apt-get install lsyncd)')
    makers = {'lsyncd': lambda b: Lsyncd('lsyncd', b, args),
              'batch': lambda b: Inotaskd('batch', b, args, True),
              'batchcap': lambda b: Inotaskd('batchcap', b, args, True, cap=True),
              'perfile': lambda b: Inotaskd('perfile', b, args, False)}
    print('%d files in %d dirs, then %d modified, %d deleted; delay %d s; tmpfs %s; %s'
          % (args.files, args.dirs, len(every_tenth(args)), len(every_tenth(args)), args.delay, args.tmpdir,
             subprocess.run(['git', '-C', HERE, 'describe', '--always', '--dirty'], capture_output=True,
                            text=True).stdout.strip()))
    print('%-8s %-7s %8s %10s %8s %7s %s' % ('tool', 'phase', 'write s', 'mirror s', 'CPU s', 'rsyncs', 'diff'))
    for run in range(args.runs):
        for name in args.tools.split(','):
            base = tempfile.mkdtemp(prefix='bench-lsyncd.', dir=args.tmpdir)
            tool = None
            try:
                tool = makers[name](base)
                tool.start()
                for ph, change in (('create', create(args)), ('modify', modify(args)), ('delete', delete(args))):
                    r = phase(tool, ph, change)
                    print('%-8s %-7s %8.2f %10.2f %8.2f %7d %s' % (name, r['phase'], r['written'],
                          r['identical_after'], r['cpu'], r['rsyncs'], 'identical' if r['diff_ok'] else 'DIFFERS'),
                          flush=True)
            finally:
                if tool and getattr(tool, 'proc', None):
                    tool.stop()
                shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    main()
