#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The seed tools' own examples (data/examples/*.conf) run for real: each test loads an example, puts
temporary directories in place of its paths and the recorder in place of its commands by plain text
replacement, makes the seed's scenario happen and checks the effects with deadlines. Where a seed's
behaviour was a defect (touchmon losing the file after a save-by-rename, inorun's unquoted shell
string, pyinotifyd dropping events during a run) the test shows inotaskd doing it right."""

import errno
import glob
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile

import harness
from harness import DaemonTestCase, run_inotaskd, write, log

SRCDIR = os.environ.get('SRCDIR') or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
EXAMPLES = os.path.join(SRCDIR, 'data', 'examples')

# One file per seed example (issue 5, item 4).
SEED_EXAMPLES = [
    'pyinotifyd-all-events.conf',
    'pyinotifyd-shell.conf',
    'pyinotifyd-filemanager.conf',
    'inorun-ubuntu-mirror.conf',
    'touchmon-actions.conf',
    'igor-containers-enabled.conf',
    'igor-plugin.conf',
    'bcfg2-monitor.conf',
]

INSTALLED_PLUGIN = 'Plugin=inotaskd-example-plugin\n'     # a bare name: replaced by 'Plugin=PATH\n' below
MISSING_PLUGIN = '/nonexistent/inotaskd-missing-plugin.so'


def example_text(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return f.read()


def plugin_line(path):
    """The Plugin= line of the plugin example naming path instead of the bare installed name."""
    return 'Plugin=%s\n' % path


def load_example(name, *replacements):
    """The example's text with each (old, new) replaced everywhere; every old must occur, so a test
    notices when the example it exercises changes."""
    text = example_text(name)
    for old, new in replacements:
        if old not in text:
            raise AssertionError('%s no longer contains %r' % (name, old))
        text = text.replace(old, new)
    return text


def in_group(text, group, old, new):
    """Replaces old by new inside one group ("Rule move") of a key file text only."""
    start = text.index('[%s]\n' % group)
    end = text.find('\n[', start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    if old not in body:
        raise AssertionError('[%s] does not contain %r' % (group, old))
    return text[:start] + body.replace(old, new) + text[end:]


def example_plugin():
    return os.environ.get('INOTASKD_EXAMPLE_PLUGIN')


def line_of(text, needle):
    """1-based number of the first line of text containing needle."""
    for i, l in enumerate(text.splitlines(), 1):
        if needle in l:
            return i
    raise AssertionError('%r not found' % needle)


class Umask:
    """Runs a block (starting the daemon) with another umask, so the daemon inherits it."""

    def __init__(self, mask):
        self.mask = mask

    def __enter__(self):
        self.old = os.umask(self.mask)

    def __exit__(self, *exc):
        os.umask(self.old)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def args_of(records):
    return [tuple(r.args) for r in records]


# ================================================================== every example loads

class Examples(DaemonTestCase):
    def check(self, text):
        return run_inotaskd(['--check-config'], config=text)

    def test_one_example_per_seed_example(self):
        have = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, '*.conf')))
        for name in SEED_EXAMPLES:
            self.assertIn(name, have)
            text = example_text(name)
            self.assertTrue(text.startswith('# SPDX-License-Identifier: '), name)
            self.assertRegex(text, r'(?m)^#.*\bTry it\b', '%s says how to try it' % name)

    def test_every_example_passes_check_config(self):
        """Every example as shipped, with paths that do not exist here (missing watch paths are not
        configuration errors); the plugin example with the built plugin in place of the installed one,
        since a plugin that does not load is a configuration error."""
        for path in sorted(glob.glob(os.path.join(EXAMPLES, '*.conf'))):
            name = os.path.basename(path)
            text = example_text(name)
            if name == 'igor-plugin.conf':
                if not example_plugin():
                    self.fail('INOTASKD_EXAMPLE_PLUGIN is not set (meson sets it)')
                text = load_example(name, (INSTALLED_PLUGIN, plugin_line(example_plugin())))
            p = self.check(text)
            self.assertEqual(p.returncode, 0, '%s: %s' % (name, p.stderr.decode()))
            self.assertRegex(p.stdout.decode() + p.stderr.decode(), r'Configuration is valid')
            log('%s: valid' % name)

    def test_pyinotifyd_typo_in_event_name(self):
        """The seed's own document binds "IN_WRITE_CLOSE", which does not exist: refused, with a hint."""
        text = load_example('pyinotifyd-shell.conf', ('\nOn=IN_CLOSE_WRITE\n', '\nOn=IN_WRITE_CLOSE\n'))
        p = self.check(text)
        self.assertEqual(p.returncode, 78, p.stderr)
        line = line_of(text, 'On=IN_WRITE_CLOSE')
        self.assertRegex(p.stderr.decode(), r'inotaskd\.conf:%d: On: unknown event "IN_WRITE_CLOSE", '
                                            r'did you mean "IN_CLOSE_WRITE"\?' % line)
        log('IN_WRITE_CLOSE: %s' % p.stderr.decode().strip())

    def test_plugin_wrong_abi_is_a_config_error(self):
        plugin = example_plugin()
        if not plugin:
            self.fail('INOTASKD_EXAMPLE_PLUGIN is not set (meson sets it)')
        text = load_example('igor-plugin.conf',
                            (INSTALLED_PLUGIN, plugin_line(plugin + ':inotaskd_plugin_setup_wrong_abi')))
        p = self.check(text)
        self.assertEqual(p.returncode, 78, p.stderr)
        err = p.stderr.decode()
        self.assertRegex(err, r'inotaskd\.conf:\d+: Plugin: .*inotaskd-example-plugin\.so was built for '
                              r'plugin ABI version 42, this inotaskd has version 1')
        log('wrong ABI: %s' % err.strip())

    def test_plugin_missing_is_a_config_error(self):
        text = load_example('igor-plugin.conf', (INSTALLED_PLUGIN, plugin_line(MISSING_PLUGIN)))
        p = self.check(text)
        self.assertEqual(p.returncode, 78, p.stderr)
        err = p.stderr.decode()
        self.assertRegex(err, r'inotaskd\.conf:\d+: Plugin: cannot load '
                              r'/nonexistent/inotaskd-missing-plugin\.so')
        log('missing plugin: %s' % err.strip())

    def test_plugin_error_names_the_plugin_line(self):
        """Every error names file, line and key: the line is the Plugin= assignment's."""
        text = load_example('igor-plugin.conf', (INSTALLED_PLUGIN, plugin_line(MISSING_PLUGIN)))
        p = self.check(text)
        self.assertEqual(p.returncode, 78, p.stderr)
        line = line_of(text, 'Plugin=/nonexistent/')
        self.assertRegex(p.stderr.decode(), r'inotaskd\.conf:%d: Plugin: ' % line)


# ================================================================== pyinotifyd

class PyinotifydAllEvents(DaemonTestCase):
    def config(self, *extra):
        return load_example('pyinotifyd-all-events.conf', ('/srv/watched', '@TMP@/watched'), *extra)

    def runs(self, d):
        """(task id, maskname, path) of every run, from the task's own output lines."""
        out = d.log_matches(r'^Task (\d+) \(task\): (\d+): execute example task: (\S+) (.*)$')
        for m in out:
            self.assertEqual(m.group(1), m.group(2), 'the task id reaches the task')
        return [(int(m.group(1)), m.group(3), m.group(4)) for m in out]

    def last_mask(self, d, path):
        masks = [m for _, m, p in self.runs(d) if p == path]
        return masks[-1] if masks else None

    def test_every_event_of_files_and_directories(self):
        d = self.daemon(self.config(), start=False)
        w = self.fresh_dir(d, 'watched')
        d.start()
        f = os.path.join(w, 'a')
        write(f, 'hello')
        d.settle()
        self.assertEqual(self.last_mask(d, f), 'IN_CLOSE_WRITE', self.runs(d))
        with open(f) as fh:
            fh.read()
        d.settle()
        self.assertEqual(self.last_mask(d, f), 'IN_CLOSE_NOWRITE', self.runs(d))
        # Recursive, AutoAdd: a new tree and a file in it, created before its watch could exist.
        os.makedirs(os.path.join(w, 'd', 'e'))
        g = os.path.join(w, 'd', 'e', 'g')
        write(g, 'x')
        d.settle()
        self.assertEqual(self.last_mask(d, g), 'IN_CLOSE_WRITE', self.runs(d))
        paths = {p for _, _, p in self.runs(d)}
        self.assertIn(os.path.join(w, 'd'), paths, 'directories too (dirs=True)')
        self.assertIn(os.path.join(w, 'd', 'e'), paths)
        self.assertTrue(any('IN_ISDIR' in m for _, m, p in self.runs(d) if p == os.path.join(w, 'd')))
        os.unlink(f)
        d.settle()
        self.assertEqual(self.last_mask(d, f), 'IN_DELETE', self.runs(d))
        log('all events: %d runs, e.g. %r' % (len(self.runs(d)), self.runs(d)[:3]))

    def test_event_during_a_run_is_not_dropped(self):
        """pyinotifyd dropped events that arrived while the task for the path ran; IfRunning=queue runs
        the task once more afterwards, with the latest event."""
        text = self.config(('Action=shell\nExec=printf',
                            'Environment=REC_GATE=@TMP@/gate\n'
                            'Exec=@REC@ {task_id} {maskname} {pathname}\n#'))
        d = self.daemon(text, start=False)
        w = self.fresh_dir(d, 'watched')
        d.start()
        job = os.path.join(w, 'job')
        write(job, '1')
        # The first run for job is running, held at the gate. (Not just any first run: listing the
        # watched directory at start raises IN_OPEN on it, and Directories=yes gives it a task too.)
        harness.wait_for(lambda: any(r.args[2] == job.encode() for r in d.records(phase='start')),
                         what='the first run for job to start')
        os.utime(job, (1000000000, 1000000000))    # IN_ATTRIB while it runs
        d.sync()
        write(d.path('gate'))
        d.settle()
        recs = [r for r in d.records() if r.args[2] == job.encode()]
        self.assertEqual(len(recs), 2, 'exactly one follow-up run: %r' % recs)
        self.assertEqual(recs[1].args[1], b'IN_ATTRIB', 'the follow-up carries the latest event')
        starts = [r for r in d.records(phase='start') if r.args[2] == job.encode()]
        self.assertGreater(float(starts[1].meta[b'time']), float(recs[0].meta[b'time']),
                           'the follow-up started after the first run ended')
        log('an event during the run: one follow-up run with %s' % recs[1].args[1].decode())


class PyinotifydShell(DaemonTestCase):
    def test_close_write_of_files_runs_the_command(self):
        text = load_example('pyinotifyd-shell.conf', ('/srv/watched', '@TMP@/watched'),
                            ('/usr/local/sbin/task.sh', '@REC@'))
        d = self.daemon(text, start=False)
        w = self.fresh_dir(d, 'watched')
        d.start()
        a = os.path.join(w, 'a.txt')
        odd = os.path.join(w, 'x y; rm -rf ~ $(id)')
        write(a, '1')
        os.makedirs(os.path.join(w, 'sub', 'deeper'))     # directories: no task (dirs=False)
        b = os.path.join(w, 'sub', 'deeper', 'b')
        write(b, '2')
        write(odd, '3')
        d.settle()
        got = sorted(args_of(d.records()))
        self.assertEqual(got, sorted([(a.encode(),), (b.encode(),), (odd.encode(),)]))
        # Only IN_CLOSE_WRITE: a delete or a chmod does nothing.
        os.chmod(a, 0o600)
        os.unlink(b)
        d.settle()
        self.assertEqual(len(d.records()), 3)
        log('shell: task.sh ran once per written file, each path one argument')


class PyinotifydFileManager(DaemonTestCase):
    def config(self, delay='1', src='@TMP@/src', dst='@TMP@/dst'):
        return load_example('pyinotifyd-filemanager.conf', ('/src_path', src), ('/dst_path', dst),
                            ('DelaySec=30', 'DelaySec=%s' % delay))

    def start(self, text, **kw):
        d = self.daemon(text, start=False, **kw)
        self.src = self.fresh_dir(d, 'src')
        self.dst = d.path('dst')
        self.staging = self.fresh_dir(d, 'staging')
        # With umask 077 a mkdir makes 0700 and a file 0600: the modes below are the rules' doing.
        with Umask(0o077):
            d.start()
        return d

    def test_move_copy_delete(self):
        d = self.start(self.config())
        os.makedirs(os.path.join(self.src, 'sub', 'deeper'))
        to_move = os.path.join(self.src, 'sub', 'deeper', 'a.to_move')
        write(to_move, 'moved')
        os.chmod(to_move, 0o600)
        # The copy arrives by rename (IN_MOVED_TO), with an old mtime.
        staged = os.path.join(self.staging, 'b.to_copy')
        write(staged, 'copied')
        os.chmod(staged, 0o600)
        os.utime(staged, (1000000000, 1000000000))
        to_copy = os.path.join(self.src, 'b.to_copy')
        os.rename(staged, to_copy)
        to_delete = os.path.join(self.src, 'c.to_delete')
        write(to_delete, 'deleted')
        other = os.path.join(self.src, 'plain.txt')
        write(other, 'untouched')
        d.settle()

        moved = os.path.join(self.dst, 'sub', 'deeper', 'a')
        self.assertFalse(os.path.exists(to_move))
        with open(moved) as f:
            self.assertEqual(f.read(), 'moved')
        self.assertEqual(mode(moved), 0o644, 'FileMode=0644')
        for p in (self.dst, os.path.join(self.dst, 'sub'), os.path.join(self.dst, 'sub', 'deeper')):
            self.assertEqual(mode(p), 0o755, 'DirectoryMode=0755 on the created %s' % p)

        copied = os.path.join(self.dst, 'b')
        with open(copied) as f:
            self.assertEqual(f.read(), 'copied')
        self.assertTrue(os.path.exists(to_copy), 'a copy leaves the source')
        self.assertEqual(mode(copied), 0o644)
        self.assertEqual(int(os.stat(copied).st_mtime), 1000000000, 'the copy keeps the timestamps')

        self.assertFalse(os.path.exists(to_delete))
        self.assertTrue(os.path.exists(other), 'no rule for plain.txt')
        self.assertEqual(sorted(os.listdir(self.dst)), ['b', 'sub'])
        self.assertEqual(len(d.task_ids('finished: success', 'move')), 1)
        self.assertEqual(len(d.task_ids('finished: success', 'copy')), 1)
        self.assertEqual(len(d.task_ids('finished: success', 'delete')), 1)
        log('file manager: moved (0644, dirs 0755), copied with its mtime, deleted')

    def test_modify_within_the_delay_cancels(self):
        d = self.start(self.config(delay='3'))
        p = os.path.join(self.src, 'a.to_move')
        write(p, 'one')
        d.sync()
        ids = d.task_ids('scheduled for ', 'move')
        self.assertEqual(len(ids), 1)
        # IN_MODIFY without a close: the scheduled move is cancelled.
        with open(p, 'a') as f:
            f.write('two')
            f.flush()
            d.wait_for_log(r'^Task %d \(move\) cancelled' % ids[0])
            self.assertTrue(os.path.exists(p))
            self.assertFalse(os.path.exists(os.path.join(self.dst, 'a')))
        # The close (IN_CLOSE_WRITE) schedules it anew; it runs after the delay.
        d.settle()
        self.assertFalse(os.path.exists(p))
        with open(os.path.join(self.dst, 'a')) as f:
            self.assertEqual(f.read(), 'onetwo')
        self.assertEqual(len(d.task_ids('finished: success', 'move')), 1)
        log('file manager: a modification within the delay cancelled the move; the close rescheduled it')

    def test_existing_destination_is_refused(self):
        d = self.start(self.config())
        os.makedirs(self.dst)
        write(os.path.join(self.dst, 'x'), 'precious')
        p = os.path.join(self.src, 'x.to_move')
        write(p, 'new')
        d.settle()
        m = d.log_matches(r'^Task (\d+) \(move\): Refusing to replace (.*): it exists and Overwrite=no')
        self.assertEqual(len(m), 1, d.log_text()[-3000:])
        self.assertEqual(m[0].group(2), os.path.join(self.dst, 'x'))
        self.assertEqual(d.task_ids('failed: file-error', 'move'), [int(m[0].group(1))])
        with open(os.path.join(self.dst, 'x')) as f:
            self.assertEqual(f.read(), 'precious')
        self.assertTrue(os.path.exists(p), 'the source stays')
        log('file manager: %s' % m[0].group(0))

    def test_delete_directory_recursive(self):
        text = self.config()
        text = in_group(text, 'Rule delete', 'Directories=no', 'Directories=yes')
        text = in_group(text, 'Rule delete', 'Recursive=no', 'Recursive=yes')
        d = self.start(text)
        tree = os.path.join(self.staging, 'old.to_delete')
        os.makedirs(os.path.join(tree, 'a', 'b'))
        write(os.path.join(tree, 'a', 'b', 'f'), 'x')
        write(os.path.join(tree, 'g'), 'y')
        target = os.path.join(self.src, 'old.to_delete')
        os.rename(tree, target)                        # IN_MOVED_TO|IN_ISDIR
        d.settle()
        self.assertFalse(os.path.exists(target))
        self.assertEqual(len(d.task_ids('finished: success', 'delete')), 1)
        log('file manager: a directory deleted with its contents (Recursive=yes)')

    def other_filesystem_dirs(self):
        """A directory in /dev/shm (tmpfs) and one on another file system, or a skip."""
        if not os.path.isdir('/dev/shm'):
            self.skipTest('no /dev/shm')
        shm_dev = os.stat('/dev/shm').st_dev
        for cand in ('/tmp', os.getcwd(), '/var/tmp'):
            if os.stat(cand).st_dev != shm_dev and os.access(cand, os.W_OK):
                src = tempfile.mkdtemp(prefix='inotaskd-test-shm.', dir='/dev/shm')
                self.addCleanup(shutil.rmtree, src, True)
                dst = tempfile.mkdtemp(prefix='inotaskd-test-dst.', dir=cand)
                self.addCleanup(shutil.rmtree, dst, True)
                return src, dst
        self.skipTest('/dev/shm is on the same file system as /tmp, %s and /var/tmp' % os.getcwd())

    def test_move_across_file_systems(self):
        shm, other = self.other_filesystem_dirs()
        src = os.path.join(shm, 'src')
        staging = os.path.join(shm, 'staging')
        os.mkdir(src)
        os.mkdir(staging)
        dst = os.path.join(other, 'dst')
        text = self.config(src=src, dst=dst)
        # A directory moves whole (a move needs no Recursive=): let the move rule see directories.
        text = in_group(text, 'Rule move', 'Directories=no', 'Directories=yes')
        d = self.daemon(text, start=False)
        with Umask(0o077):
            d.start()
        self.assertNotEqual(os.stat(src).st_dev, os.stat(other).st_dev)

        f = os.path.join(src, 'file.to_move')
        write(f, 'across')
        tree = os.path.join(staging, 'tree.to_move')
        os.makedirs(os.path.join(tree, 'a', 'b'))
        write(os.path.join(tree, 'a', 'b', 'f'), 'deep')
        os.symlink('a/b/f', os.path.join(tree, 'link'))
        os.rename(tree, os.path.join(src, 'tree.to_move'))
        d.settle()

        self.assertFalse(os.path.exists(f))
        with open(os.path.join(dst, 'file')) as fh:
            self.assertEqual(fh.read(), 'across')
        self.assertEqual(mode(os.path.join(dst, 'file')), 0o644)
        self.assertFalse(os.path.lexists(os.path.join(src, 'tree.to_move')), 'the source tree is gone')
        with open(os.path.join(dst, 'tree', 'a', 'b', 'f')) as fh:
            self.assertEqual(fh.read(), 'deep')
        self.assertEqual(os.readlink(os.path.join(dst, 'tree', 'link')), 'a/b/f',
                         'a symlink stays a symlink')
        self.assertEqual(mode(os.path.join(dst, 'tree', 'a', 'b', 'f')), 0o644)
        self.assertEqual(mode(os.path.join(dst, 'tree', 'a')), 0o755)
        self.assertEqual(len(d.task_ids('finished: success', 'move')), 2, d.log_text()[-3000:])
        log('file manager: a file and a directory moved from /dev/shm to another file system')

    def temp_files(self, top):
        """The copies' temporary files (".#<name>.XXXXXX") anywhere below top."""
        found = []
        for root, dirs, files in os.walk(top):
            found += [os.path.join(root, n) for n in dirs + files if n.startswith('.#')]
        return found

    def test_copy_keeps_an_extended_attribute(self):
        d = self.start(self.config())
        staged = os.path.join(self.staging, 'x.to_copy')
        write(staged, 'with an attribute')
        try:
            os.setxattr(staged, 'user.inotaskd.test', b'kept \x00 as bytes')
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                self.skipTest('the file system of %s refuses user xattrs: %s' % (self.staging, e))
            raise
        os.rename(staged, os.path.join(self.src, 'x.to_copy'))
        d.settle()

        copied = os.path.join(self.dst, 'x')
        with open(copied) as f:
            self.assertEqual(f.read(), 'with an attribute')
        self.assertEqual(os.getxattr(copied, 'user.inotaskd.test'), b'kept \x00 as bytes')
        self.assertEqual(self.temp_files(self.dst), [])
        self.assertEqual(len(d.task_ids('finished: success', 'copy')), 1, d.log_text()[-3000:])
        log('file manager: a copy kept its user.* extended attribute')

    def test_symlink_is_copied_as_a_symlink(self):
        d = self.start(self.config())
        target = os.path.join(self.staging, 'target')
        write(target, 'the target')
        os.chmod(target, 0o600)
        os.symlink(target, os.path.join(self.staging, 'l.to_copy'))
        os.symlink('no/such/file', os.path.join(self.staging, 'dangling.to_copy'))
        os.rename(os.path.join(self.staging, 'l.to_copy'), os.path.join(self.src, 'l.to_copy'))
        os.rename(os.path.join(self.staging, 'dangling.to_copy'), os.path.join(self.src, 'dangling.to_copy'))
        d.settle()

        for name, to in (('l', target), ('dangling', 'no/such/file')):
            copied = os.path.join(self.dst, name)
            self.assertTrue(os.path.islink(copied), '%s is a symlink, not a copy of its target' % copied)
            self.assertEqual(os.readlink(copied), to)
            self.assertTrue(os.path.islink(os.path.join(self.src, name + '.to_copy')), 'a copy leaves the source')
        self.assertEqual(mode(target), 0o600, 'FileMode= is not applied through the link to its target')
        self.assertEqual(self.temp_files(self.dst), [])
        self.assertEqual(len(d.task_ids('finished: success', 'copy')), 2, d.log_text()[-3000:])
        log('file manager: symlinks copied as symlinks (one dangling), their target untouched')

    def test_recursive_directory_copy_keeps_the_directory_mtime(self):
        text = in_group(self.config(), 'Rule copy', 'Directories=no', 'Directories=yes')
        text = in_group(text, 'Rule copy', 'Action=copy', 'Action=copy\nRecursive=yes')
        d = self.start(text)
        tree = os.path.join(self.staging, 'tree.to_copy')
        os.makedirs(os.path.join(tree, 'sub'))
        write(os.path.join(tree, 'sub', 'f'), 'deep')
        os.symlink('sub/f', os.path.join(tree, 'link'))
        os.chmod(os.path.join(tree, 'sub'), 0o500)      # the copy fills it before it gets this mode
        # Set last, deepest first: creating entries changes their directory's mtime. With nanoseconds.
        times = [(('sub', 'f'), 1000000000123456789), (('sub',), 1100000000987654321),
                 ((), 1200000000555555555)]
        for rel, ns in times:
            os.utime(os.path.join(tree, *rel), ns=(ns, ns))
        os.rename(tree, os.path.join(self.src, 'tree.to_copy'))       # IN_MOVED_TO|IN_ISDIR
        d.settle()
        os.chmod(os.path.join(self.src, 'tree.to_copy', 'sub'), 0o700)      # for its removal by non-root

        copied = os.path.join(self.dst, 'tree')
        with open(os.path.join(copied, 'sub', 'f')) as f:
            self.assertEqual(f.read(), 'deep')
        self.assertEqual(os.readlink(os.path.join(copied, 'link')), 'sub/f')
        for rel, ns in times:
            self.assertEqual(os.lstat(os.path.join(copied, *rel)).st_mtime_ns, ns,
                             'the copy of %s keeps its mtime' % os.path.join('tree', *rel))
        self.assertEqual(mode(copied), 0o755, 'DirectoryMode=0755')
        self.assertEqual(mode(os.path.join(copied, 'sub')), 0o755)
        self.assertEqual(mode(os.path.join(copied, 'sub', 'f')), 0o644, 'FileMode=0644')
        self.assertTrue(os.path.isdir(os.path.join(self.src, 'tree.to_copy')), 'a copy leaves the source')
        self.assertEqual(self.temp_files(self.dst), [])
        self.assertEqual(len(d.task_ids('finished: success', 'copy')), 1, d.log_text()[-3000:])
        log('file manager: a directory copied with Recursive=yes, every mtime kept to the nanosecond')

    def test_failed_copy_leaves_no_temporary_file(self):
        # Delay 3: the vanishing source below must be gone before its copy starts.
        text = in_group(self.config(delay='3'), 'Rule copy', 'Action=copy', 'Action=copy\nOverwrite=yes')
        d = self.start(text)
        # With Overwrite=yes a file's copy may replace a file, not a directory: the data is copied into
        # the temporary file, then the rename over the directory fails.
        os.makedirs(os.path.join(self.dst, 'b', 'keep'))
        expect = {os.path.join(self.dst, 'b'): r'Failed to copy to (.*): Is a directory'}
        staged = os.path.join(self.staging, 'b.to_copy')
        write(staged, 'x' * 200000)
        os.rename(staged, os.path.join(self.src, 'b.to_copy'))
        # A destination directory this process may not write to (root may write anywhere).
        if os.geteuid() != 0:
            os.makedirs(os.path.join(self.src, 'ro'))
            os.makedirs(os.path.join(self.dst, 'ro'))
            os.chmod(os.path.join(self.dst, 'ro'), 0o555)
            write(os.path.join(self.src, 'ro', 'c.to_copy'), 'not writable')
            expect[os.path.join(self.dst, 'ro', 'c')] = r'Failed to copy to (.*): Permission denied'
        else:
            log('file manager: running as root, the unwritable destination directory is not tried')
        # A source gone before its copy starts: moved out of the tree, its waiting task is cancelled.
        vanishing = os.path.join(self.src, 'v.to_copy')
        write(vanishing, 'gone')
        d.sync()
        os.rename(vanishing, os.path.join(self.staging, 'v'))
        d.settle()
        self.assertEqual(len(d.log_matches(r'^Task \d+ \(copy\) cancelled: moved out of the watch\.$')), 1,
                         d.log_text()[-3000:])
        if os.geteuid() != 0:
            os.chmod(os.path.join(self.dst, 'ro'), 0o755)      # for the directory's removal

        failed = d.task_ids('failed: file-error', 'copy')
        self.assertEqual(len(failed), len(expect), d.log_text()[-3000:])
        for path, why in expect.items():
            m = d.log_matches(r'^Task \d+ \(copy\): %s$' % why)
            self.assertIn(path, [x.group(1) for x in m], d.log_text()[-3000:])
        self.assertEqual(self.temp_files(self.dst), [], 'no temporary file is left behind')
        self.assertEqual(os.listdir(os.path.join(self.dst, 'b')), ['keep'], 'the directory is untouched')
        self.assertEqual(d.task_ids('finished: success', 'copy'), [])
        log('file manager: %d failed copies, no ".#" temporary file left' % len(expect))


# ================================================================== inorun

NODES = [b'10.0.0.2', b'10.0.0.3']


class InorunMirror(DaemonTestCase):
    def start(self, pre=()):
        text = load_example('inorun-ubuntu-mirror.conf', ('/repo/ubuntu', '@TMP@/repo'),
                            ('/usr/local/bin/sync-copy', '@REC@ sync-copy'),
                            ('/usr/local/bin/sync-remove', '@REC@ sync-remove'),
                            ('DelaySec=10', 'DelaySec=1'))
        d = self.daemon(text, start=False)
        self.repo = self.fresh_dir(d, 'repo')
        for p in pre:
            os.makedirs(os.path.dirname(os.path.join(self.repo, p)), exist_ok=True)
            write(os.path.join(self.repo, p), p)
        d.start()
        self.seen = 0
        return d

    def new_calls(self, d):
        recs = d.records()
        new = recs[self.seen:]
        self.seen = len(recs)
        return sorted(args_of(new))

    def expect(self, cmd, relpaths):
        return sorted((cmd, n, self.repo.encode(), r.encode()) for n in NODES for r in relpaths)

    def test_initial_event(self):
        """initevent = "IN_CREATE": the watched directory ({relpath} "", the whole tree) and what exists."""
        d = self.start(pre=['dists/Release', 'pool/x.deb'])
        d.settle()
        self.assertEqual(self.new_calls(d),
                         self.expect(b'sync-copy', ['', 'dists', 'dists/Release', 'pool', 'pool/x.deb']))
        log('inorun: initial IN_CREATE on the tree, for each node')

    def test_copy_and_remove_per_node(self):
        d = self.start()
        d.settle()
        self.new_calls(d)                              # the initial event of the empty tree
        os.makedirs(os.path.join(self.repo, 'pool', 'main'))
        deb = os.path.join(self.repo, 'pool', 'main', 'a.deb')
        for i in range(3):                             # edelay: three writes within the delay, one call
            write(deb, 'v%d' % i)
        d.settle()
        self.assertEqual(self.new_calls(d),
                         self.expect(b'sync-copy', ['pool', 'pool/main', 'pool/main/a.deb']))
        os.rename(deb, os.path.join(self.repo, 'pool', 'main', 'b.deb'))
        d.settle()
        self.assertEqual(self.new_calls(d), sorted(self.expect(b'sync-remove', ['pool/main/a.deb'])
                                                   + self.expect(b'sync-copy', ['pool/main/b.deb'])))
        os.unlink(os.path.join(self.repo, 'pool', 'main', 'b.deb'))
        d.settle()
        self.assertEqual(self.new_calls(d), self.expect(b'sync-remove', ['pool/main/b.deb']))
        log('inorun: sync-copy / sync-remove with node, watched path and relative path, per node')

    def test_relative_path_is_one_exact_argument(self):
        """inorun spliced the values into an unquoted shell string; here a relative path with spaces,
        ';', $(...), backquotes, quotes and a newline is one argument, byte for byte, nothing run."""
        d = self.start()
        d.settle()
        self.new_calls(d)
        name = 'a b; touch INJECTED; $(touch INJECTED2) `touch INJECTED3` \'"\n|&>x'
        os.mkdir(os.path.join(self.repo, 'dir with space'))
        p = os.path.join(self.repo, 'dir with space', name)
        write(p, 'x')
        d.settle()
        calls = self.new_calls(d)
        self.assertEqual(calls, self.expect(b'sync-copy', ['dir with space', 'dir with space/' + name]))
        for r in d.records():
            self.assertEqual(len(r.args), 4, r)
        for where in (d.tmp, self.repo, os.path.join(self.repo, 'dir with space'), d.path('cwd'), '/'):
            for injected in ('INJECTED', 'INJECTED2', 'INJECTED3', 'x'):
                self.assertFalse(os.path.exists(os.path.join(where, injected)),
                                 '%s was created in %s' % (injected, where))
        log('inorun: %r reached sync-copy as one argument' % name)

    def test_move_out_then_create_keeps_the_order(self):
        """A file moved out of the tree and a new file created under its name at once: the mirror must
        remove, then copy. inotaskd holds an unpaired IN_MOVED_FROM a few ms for its IN_MOVED_TO and
        handles the later events first, so sync-remove was scheduled after sync-copy (and the
        remote ends without the file)."""
        d = self.start(pre=['Release'])
        d.settle()
        self.new_calls(d)
        before = max(d.task_ids('scheduled for '))
        outside = self.fresh_dir(d, 'outside')
        release = os.path.join(self.repo, 'Release')
        os.rename(release, os.path.join(outside, 'Release'))
        write(release, 'new')
        d.wait_for_log(r'^Task \d+ \(sync-remove\) scheduled for %s\.$' % re.escape(release), count=2)
        d.settle()
        self.assertEqual(self.new_calls(d), sorted(self.expect(b'sync-remove', ['Release'])
                                                   + self.expect(b'sync-copy', ['Release'])))
        scheduled = 'scheduled for %s\\.$' % re.escape(release)
        removes = [i for i in d.task_ids(scheduled, 'sync-remove') if i > before]
        copies = [i for i in d.task_ids(scheduled, 'sync-copy') if i > before]
        self.assertLess(max(removes), min(copies),
                        'the move out (sync-remove, tasks %r) must be handled before the create (sync-copy, '
                        'tasks %r)' % (removes, copies))


# ================================================================== touchmon

class Touchmon(DaemonTestCase):
    def start(self, create=True):
        text = load_example('touchmon-actions.conf',
                            ('/path/to/file/to/monitor', '@TMP@/stamps/monitor'),
                            ('/path/to/another/file', '@TMP@/other/file'),
                            ('Exec=program-name', 'Exec=@REC@ program-name'),
                            ('Exec=another-program', 'Exec=@REC@ another-program'))
        d = self.daemon(text, start=False, world_accessible=True)
        self.stamps = self.fresh_dir(d, 'stamps')
        self.monitor = os.path.join(self.stamps, 'monitor')
        self.other = os.path.join(self.fresh_dir(d, 'other'), 'file')
        if create:
            write(self.monitor, '0')
            write(self.other, '0')
        d.start()
        return d

    def check_record(self, r, user, argv):
        pw = pwd.getpwnam(user)
        self.assertEqual(r.args, argv)
        self.assertEqual((r.uid, r.gid), (pw.pw_uid, pw.pw_gid), 'run as %s' % user)
        self.assertEqual(r.env.get(b'USER'), user.encode())
        self.assertEqual(r.env.get(b'HOME'), pw.pw_dir.encode())

    def test_touch_runs_the_command_as_the_user(self):
        if os.getuid() != 0:
            self.skipTest('needs root to run a command as another user')
        d = self.start()
        subprocess.run(['touch', self.monitor], check=True)
        recs = d.wait_records(1)
        self.check_record(recs[0], 'nobody', [b'program-name', b'argv[1]', b'argv[2]'])
        subprocess.run(['touch', self.other], check=True)
        recs = d.wait_records(2)
        self.check_record(recs[1], 'daemon', [b'another-program', b'another-arg'])
        d.settle()
        self.assertEqual(len(d.records()), 2, 'one run per touch')
        log('touchmon: touch ran the argv as the configured user')

    def test_save_by_rename_keeps_being_seen(self):
        """touchmon lost the file after an editor's save (write a temporary file, rename it over the
        watched one); here the command runs after every such save."""
        if os.getuid() != 0:
            self.skipTest('needs root to run a command as another user')
        d = self.start()
        for i in range(1, 4):
            tmp = os.path.join(self.stamps, '.monitor.swp')
            write(tmp, 'saved %d' % i)
            os.rename(tmp, self.monitor)
            recs = d.wait_records(i)
            self.check_record(recs[-1], 'nobody', [b'program-name', b'argv[1]', b'argv[2]'])
        # And a plain write after the saves still counts.
        write(self.monitor, 'written')
        d.wait_records(4)
        d.settle()
        self.assertEqual(len(d.records()), 4, 'one run per save, none for the temporary file')
        log('touchmon: three saves by rename, three runs (and a write after them)')

    def test_file_missing_at_start(self):
        if os.getuid() != 0:
            self.skipTest('needs root to run a command as another user')
        d = self.start(create=False)
        write(os.path.join(self.stamps, 'unrelated'), 'x')
        write(self.monitor, 'now it exists')
        recs = d.wait_records(1)
        self.check_record(recs[0], 'nobody', [b'program-name', b'argv[1]', b'argv[2]'])
        d.settle()
        self.assertEqual(len(d.records()), 1)
        log('touchmon: a stamp file missing at start is picked up when it appears')


# ================================================================== igor

class IgorContainersEnabled(DaemonTestCase):
    """The real StartUnit/StopUnit needs a systemd (tests/system); here --dry-run shows the calls."""

    @staticmethod
    def calls(d):
        """The unit names of the StartUnit and StopUnit calls that the log says would be made; the
        console log shows each backslash doubled (escape_display), undone here."""
        def names(rule, method):
            ms = d.log_matches(r'^Task \d+ \(%s\) would call %s\((.*)\)\.$' % (rule, method))
            return [m.group(1).replace('\\\\', '\\') for m in ms]
        return names('start-container', 'StartUnit'), names('stop-container', 'StopUnit')

    def test_symlinks_start_and_stop_units(self):
        text = load_example('igor-containers-enabled.conf',
                            ('/etc/igor/containers-enabled', '@TMP@/containers-enabled'))
        d = self.daemon(text, start=False, args=['--dry-run'])
        enabled = self.fresh_dir(d, 'containers-enabled')
        outside = self.fresh_dir(d, 'containers-available')
        d.start()

        def expect(rule, method, unit):
            m = d.wait_for_log(r'^Task (\d+) \(%s\) would call %s\((.*)\)\.$' % (rule, method))
            self.assertEqual(m[-1].group(2), unit)
            return m

        os.symlink('/srv/containers/web', os.path.join(enabled, 'web'))
        expect('start-container', 'StartUnit', 'container@web.service')
        os.unlink(os.path.join(enabled, 'web'))
        expect('stop-container', 'StopUnit', 'container@web.service')
        d.settle()

        # A name with a dash and a space is escaped as systemd-escape does it.
        os.symlink('/srv/containers/x', os.path.join(enabled, 'my-app x'))
        d.settle()
        os.unlink(os.path.join(enabled, 'my-app x'))
        d.settle()
        starts, stops = self.calls(d)
        self.assertEqual(starts, ['container@web.service', r'container@my\x2dapp\x20x.service'])
        self.assertEqual(stops, ['container@web.service', r'container@my\x2dapp\x20x.service'])

        # A link renamed in counts as created, renamed out as deleted.
        os.symlink('/srv/containers/db', os.path.join(outside, 'db'))
        os.rename(os.path.join(outside, 'db'), os.path.join(enabled, 'db'))
        d.settle()
        os.rename(os.path.join(enabled, 'db'), os.path.join(outside, 'db'))
        # A move out is held a few ms for a matching IN_MOVED_TO, so settle() alone does not prove it
        # was handled (see test_move_out_then_create_keeps_the_order): wait for its call.
        d.wait_for_log(r'^Task \d+ \(stop-container\) would call StopUnit\(container@db\.service\)\.$')
        d.settle()
        starts, stops = self.calls(d)
        self.assertEqual(starts[2:], ['container@db.service'])
        self.assertEqual(stops[2:], ['container@db.service'])
        self.assertEqual(d.task_ids('failed'), [])
        log('igor: StartUnit/StopUnit(container@NAME.service) for links created/removed (dry run)')


class IgorPlugin(DaemonTestCase):
    def test_example_plugin_writes_its_lines(self):
        plugin = example_plugin()
        if not plugin:
            self.fail('INOTASKD_EXAMPLE_PLUGIN is not set (meson sets it)')
        text = load_example('igor-plugin.conf', (INSTALLED_PLUGIN, plugin_line(plugin)), ('/srv/inbox', '@TMP@/inbox'),
                            ('/var/log/inbox.log', '@TMP@/inbox.log'))
        d = self.daemon(text, start=False)
        inbox = self.fresh_dir(d, 'inbox')
        d.start()
        d.wait_for_log(r'^plugin: example: configured for rule$|example: configured for rule')
        letters = [os.path.join(inbox, n) for n in ('letter', 'second letter')]
        for p in letters:
            write(p, 'x')
        d.settle()
        with open(d.path('inbox.log')) as f:
            lines = sorted(f.read().splitlines())
        self.assertEqual(lines, sorted('new:created %s' % p for p in letters))
        self.assertEqual(len(d.task_ids('finished: success', 'note')), 2)
        self.assertEqual(len(d.log_matches(r'example: noted the event')), 2)
        log('igor: the example plugin wrote %r' % lines)


# ================================================================== Bcfg2

class Bcfg2Monitor(DaemonTestCase):
    def start(self):
        text = load_example('bcfg2-monitor.conf', ('/var/lib/bcfg2', '@TMP@/repository'),
                            ('/etc/bcfg2.conf', '@TMP@/etc/bcfg2.conf'),
                            ('/usr/local/bin/bcfg2-fam-event', '@REC@'))
        d = self.daemon(text, start=False)
        self.repo = self.fresh_dir(d, 'repository')
        self.etc = self.fresh_dir(d, 'etc')
        self.conf = os.path.join(self.etc, 'bcfg2.conf')
        write(os.path.join(self.repo, 'pre-file'), '1')
        write(self.conf, 'c')
        write(os.path.join(self.etc, 'other'), 'not monitored')
        self.seen = 0
        return d

    def new_events(self, d):
        recs = d.records()
        new = recs[self.seen:]
        self.seen = len(recs)
        return sorted((r.args[0].decode(), os.path.relpath(r.args[1].decode(), d.tmp)) for r in new)

    def test_exists_at_start(self):
        d = self.start()
        d.start()
        d.settle()
        self.assertEqual(self.new_events(d), [('exists', 'etc/bcfg2.conf'), ('exists', 'repository'),
                                              ('exists', 'repository/pre-file')])
        log('bcfg2: exists for the directory, its entries and the file')

    def test_exists_for_subdirectories_of_a_non_recursive_watch(self):
        """Bcfg2: "exists ... produced for all files or directories inside a directory that is
        monitored (non-recursively)"."""
        d = self.start()
        os.mkdir(os.path.join(self.repo, 'pre-dir'))
        d.start()
        d.settle()
        self.assertIn(('exists', 'repository/pre-dir'), self.new_events(d))

    def test_directory_events(self):
        d = self.start()
        d.start()
        d.settle()
        self.new_events(d)
        new = os.path.join(self.repo, 'new')
        write(new, 'x')                                  # IN_CREATE, then IN_CLOSE_WRITE
        d.settle()
        self.assertEqual(self.new_events(d), [('changed', 'repository/new'), ('created', 'repository/new')])
        with open(os.path.join(self.repo, 'pre-file'), 'a') as f:
            f.write('more')
        d.settle()
        self.assertEqual(self.new_events(d), [('changed', 'repository/pre-file')])
        os.unlink(os.path.join(self.repo, 'pre-file'))
        os.mkdir(os.path.join(self.repo, 'newdir'))
        d.settle()
        self.assertEqual(self.new_events(d), [('created', 'repository/newdir'),
                                              ('deleted', 'repository/pre-file')])
        # Not recursive: an entry inside a subdirectory is not reported.
        write(os.path.join(self.repo, 'newdir', 'inner'), 'x')
        d.settle()
        self.assertEqual(self.new_events(d), [])
        log('bcfg2: created, changed and deleted in a directory')

    def test_file_events(self):
        d = self.start()
        d.start()
        d.settle()
        self.new_events(d)
        write(self.conf, 'changed')
        d.settle()
        self.assertEqual(self.new_events(d), [('changed', 'etc/bcfg2.conf')])
        os.unlink(self.conf)
        d.settle()
        self.assertEqual(self.new_events(d), [('deleted', 'etc/bcfg2.conf')])
        os.rename(self.fresh_tmp_file(d), self.conf)     # back, by rename: created, and (a rename
        d.settle()                                       # onto a name is a change of it) changed
        self.assertEqual(self.new_events(d), [('changed', 'etc/bcfg2.conf'), ('created', 'etc/bcfg2.conf')])
        write(self.conf, 'changed again')                # still watched after being replaced
        d.settle()
        self.assertEqual(self.new_events(d), [('changed', 'etc/bcfg2.conf')])
        write(os.path.join(self.etc, 'other'), 'still not monitored')
        d.settle()
        self.assertEqual(self.new_events(d), [])
        log('bcfg2: changed, deleted and created on a single file; its neighbours ignored')

    def fresh_tmp_file(self, d):
        p = os.path.join(self.etc, '.bcfg2.conf.new')
        write(p, 'new')
        return p


if __name__ == '__main__':
    harness.main()
