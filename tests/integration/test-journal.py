#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What the daemon's log looks like to the journal and the console: CODE_FILE/CODE_LINE/CODE_FUNC name
the caller (not log.c); MESSAGE_ID (a catalog entry for journalctl -x) only on task started/finished
and daemon events, never on a line of a task's output; under systemd-cat (a stream into journald,
without JOURNAL_STREAM) each line carries its "<N>" priority prefix, as with
SYSTEMD_LOG_TARGET=console-prefixed; the console escapes a name once. journald is fake_journald.py, in
a mount namespace of its own (unshare) where /run/systemd/journal is its private directory."""

import json
import os
import re
import shutil
import subprocess

import harness
from harness import Daemon, DaemonTestCase, write, log

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake_journald.py')
ID_STARTED = '40de3477160e4174822cd69c466e248d'
ID_FINISHED = 'f4875c3ff762448396e3d583be8b3db2'

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule talk]
Watch=w
On=IN_CLOSE_WRITE
Action=shell
Exec=echo out-line; echo err-line >&2
'''

# In the namespace: a private /run, the fake journald (a child of what follows: it ends with it), then
# the daemon, under systemd-cat or not. The wait for its sockets has a deadline.
LAUNCH = '''
mount -t tmpfs tmpfs /run || exit 1
mkdir -p /run/systemd/journal
"$0" "$FAKE" "$OUT" &
i=0
while [ ! -e "$OUT.ready" ]; do
        i=$((i + 1)); [ $i -lt 2000 ] || { echo "fake journald did not start" >&2; exit 1; }
        sleep 0.01
done
exec "$@"
'''


class JournalDaemon(Daemon):
    """The daemon in its own mount namespace beside fake_journald.py; target: its --log-target (None:
    none, auto), cat: under systemd-cat."""

    def __init__(self, config, target='journal', cat=False, **kw):
        super().__init__(config, **kw)
        self.target = target
        self.cat = cat
        self.journal_out = self.path('journal.jsonl')

    def command(self):
        argv = harness.daemon_argv() + ['-c', self.config_path, '-v'] + self.args
        if self.target:
            argv.append('--log-target=' + self.target)
        if self.cat:
            argv = [shutil.which('systemd-cat'), '-t', 'inotaskd-cat'] + argv
        return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', LAUNCH,
                harness.recorder_python()] + argv

    def env(self):
        e = super().env()
        e['FAKE'] = FAKE
        e['OUT'] = self.journal_out
        if 'SYSTEMD_LOG_TARGET' not in self.extra_env:
            e.pop('SYSTEMD_LOG_TARGET', None)
        return e

    def entries(self):
        try:
            with open(self.journal_out) as f:
                return [json.loads(l) for l in f if l.endswith('\n')]
        except FileNotFoundError:
            return []

    def native(self):
        return [e['native'] for e in self.entries() if 'native' in e]

    def stream_lines(self):
        return [e for e in self.entries() if 'stream' in e]

    def wait_native(self, regex):
        rx = re.compile(regex)
        return harness.wait_for(lambda: [e for e in self.native() if rx.search(e.get('MESSAGE', ''))],
                                what='a journal entry matching %r' % regex)


def source_line(path, line):
    with open(os.path.join(SRCDIR, path)) as f:
        return f.read().splitlines()[line - 1]


def need_mount_namespace(test):
    if os.geteuid() != 0 or not shutil.which('unshare'):
        test.skipTest('needs root and unshare (a mount namespace for the fake journald or kmsg)')
    probe = subprocess.run(['unshare', '--mount', 'true'], capture_output=True)
    if probe.returncode != 0:
        test.skipTest('no mount namespace here: %s' % probe.stderr.decode().strip())


class Journal(DaemonTestCase):
    def setUp(self):
        super().setUp()
        need_mount_namespace(self)

    def daemon(self, config, start=True, **kw):
        d = JournalDaemon(config, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def test_native_fields(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(w, 'f'))
        started = d.wait_native(r'^Task \d+ \(talk\) started: ')[0]
        d.wait_native(r'^Task \d+ \(talk\) finished: ')
        out = d.wait_native(r'^Task \d+ \(talk\): out-line$')[0]
        err = d.wait_native(r'^Task \d+ \(talk\): err-line$')[0]
        ready = d.wait_native(r'^Ready: ')[0]

        # Each entry names its caller, a line of the source that logs.
        for e in (started, out, ready):
            self.assertNotIn('log.c', e.get('CODE_FILE', 'none'), e)
            self.assertNotIn(e.get('CODE_FUNC'), (None, 'log_internal', 'write_journal', 'task_log_full'), e)
            text = source_line(e['CODE_FILE'], int(e['CODE_LINE']))
            self.assertRegex(text, r'log', '%s:%s is no log call: %r' % (e['CODE_FILE'], e['CODE_LINE'], text))
            log('%r at %s:%s in %s()' % (e['MESSAGE'][:40], e['CODE_FILE'], e['CODE_LINE'], e['CODE_FUNC']))
        self.assertTrue(started['CODE_FILE'].startswith('src/daemon/'), started['CODE_FILE'])

        # The catalog's MESSAGE_ID on the task's start and end, not on the lines of its output (which
        # keep their INOTASKD_* fields).
        self.assertEqual(started.get('MESSAGE_ID'), ID_STARTED)
        finished = [e for e in d.native() if e.get('MESSAGE_ID') == ID_FINISHED]
        self.assertEqual(len(finished), 1, 'one finished entry with its MESSAGE_ID')
        for e in (out, err):
            self.assertNotIn('MESSAGE_ID', e, 'an output line with a catalog entry')
            self.assertEqual(e['INOTASKD_TASK_ID'], started['INOTASKD_TASK_ID'])
            self.assertEqual(e['INOTASKD_RULE'], 'talk')
        self.assertEqual(out['INOTASKD_OUTPUT'], 'out-line')
        log('started/finished carry MESSAGE_ID, the 2 output lines none (INOTASKD_OUTPUT kept)')

    def test_systemd_cat_prefixes(self):
        if not shutil.which('systemd-cat'):
            self.skipTest('systemd-cat (package systemd) is not installed')
        d = self.daemon(CONFIG, target=None, cat=True)
        # The missing bus is a warning, Ready an info line: journald reads the prefix as the priority.
        lines = harness.wait_for(lambda: (lambda l: any(x['line'].startswith('<6>Ready: ') for x in l) and l)(
            d.stream_lines()), what='the Ready line on the stream')
        self.assertTrue(all(x['stream'] == 'inotaskd-cat' and x['level_prefix'] for x in lines))
        warn = [x['line'] for x in lines if 'Failed to connect to the' in x['line']]
        self.assertTrue(warn and warn[0].startswith('<4>Failed to connect'), lines)
        for x in lines:
            self.assertRegex(x['line'], r'^<[0-7]>', 'a line without its priority prefix')
        self.assertEqual(d.native(), [], 'auto chose the native protocol without JOURNAL_STREAM')
        log('under systemd-cat: %d lines, all prefixed, e.g. %r' % (len(lines), warn[0][:40]))

    def test_environment_target_and_escaping(self):
        d = self.daemon(CONFIG, start=False, target=None, env={'SYSTEMD_LOG_TARGET': 'console-prefixed'})
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(os.fsencode(w), b'tab\there\\x\xff'))      # a tab, a backslash, an invalid byte
        shown = 'tab\\there\\\\x\\xff'       # escape_display() once: \t, \\ for the backslash, \xff
        m = d.wait_for_log(r'^<7>Task \d+ \(talk\) scheduled for (.*)\.$', raw=True)[0]
        self.assertEqual(m.group(1), os.path.join(w, shown))
        d.wait_for_log(r'^<6>Ready: ', raw=True)
        d.wait_for_log(r'^<4>Failed to connect to the ', raw=True)
        log('SYSTEMD_LOG_TARGET=console-prefixed: <N> on stderr; the name shown as %s' % shown)


class KmsgDaemon(Daemon):
    """The daemon with --log-target=kmsg in a mount namespace where /dev/kmsg is a file of the test."""

    def __init__(self, config, **kw):
        super().__init__(config, **kw)
        self.kmsg = self.path('kmsg')
        open(self.kmsg, 'w').close()

    def command(self):
        argv = harness.daemon_argv() + ['-c', self.config_path, '-v', '--log-target=kmsg'] + self.args
        return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                'mount --bind "$0" /dev/kmsg && exec "$@"', self.kmsg] + argv

    def kmsg_lines(self):
        with open(self.kmsg, errors='replace') as f:
            return f.read().splitlines()


class Kmsg(DaemonTestCase):
    def test_kmsg_target(self):
        need_mount_namespace(self)
        if not os.path.exists('/dev/kmsg'):
            self.skipTest('no /dev/kmsg to bind a file over')
        d = KmsgDaemon(CONFIG)
        self.daemons.append(d)
        os.makedirs(d.path('w'))
        d.start()
        lines = harness.wait_for(lambda: (lambda l: any('Ready: ' in x for x in l) and l)(d.kmsg_lines()),
                                 what='the Ready line in the kmsg file')
        pid = d.pid
        self.assertIn('<6>inotaskd[%d]: Ready: ' % pid, '\n'.join(lines))
        self.assertRegex('\n'.join(lines), r'(?m)^<4>inotaskd\[%d\]: Failed to connect to the ' % pid)
        self.assertEqual(d.log_text().strip(), '', 'kmsg target, yet lines on stderr')
        log('--log-target=kmsg: %r' % lines[0][:50])


class Console(DaemonTestCase):
    def test_escaped_once(self):
        """The started line quotes the task's argv escaped by the runner: the console shows that once
        (before: the backslashes doubled again, \\t for a tab and \\xff for a byte)."""
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        write(os.path.join(os.fsencode(w), b'tab\there\xff'))
        m = d.wait_for_log(r"^Task \d+ \(talk\) started: .* '[^']*/(tab[^']*)' ")[0]
        self.assertEqual(m.group(1), 'tab\\there\\xff')
        log('a name with a tab and a \\xff byte shown as %s' % m.group(1))


if __name__ == '__main__':
    harness.main()
