#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""File actions (move, copy, delete) cannot be turned against the system by a symlink: the source is
resolved beneath its watch and the destination beneath the fixed part of Destination=, never through a
link and never out of the tree, or the task fails with the result "unsafe-path" and touches nothing.

The attacker is a real unprivileged user (uid 65534 through setpriv, when the tests run as root) who
may write to the watched tree and to the destination tree; the victim is a directory only root may
read. The daemon runs as the test (root in CI)."""

import os
import re
import shutil
import subprocess
import unittest

import harness
from harness import DaemonTestCase, DEFAULT_TIMEOUT, TIMEOUT_SCALE, write, log

try:
    from bus_harness import BusTestCase
except ImportError:                     # run from elsewhere: the bus tests skip
    BusTestCase = None

NOBODY = 65534

# Rules on one watch, by suffix: *.cp copied and *.mv moved (FileMode=0644) to dst, *.del deleted, *.arc
# moved into w/done, *.sort copied to dst/PREFIX/NAME.
CONFIG = r'''
[Watch w]
Path=@TMP@/w
Recursive=yes
AutoAdd=yes

[Rule copy]
Watch=w
On=IN_CLOSE_WRITE IN_MOVED_TO
DelaySec=@DELAY@
Action=copy
Source=^@TMP@/w/(?P<name>.*)\.cp$
Destination=@TMP@/dst/\g<name>
AutoCreate=@AUTOCREATE@
Overwrite=@OVERWRITE@

[Rule move]
Watch=w
On=IN_CLOSE_WRITE IN_MOVED_TO
DelaySec=@DELAY@
Action=move
Source=^@TMP@/w/(?P<name>.*)\.mv$
Destination=@TMP@/dst/\g<name>
AutoCreate=@AUTOCREATE@
Overwrite=@OVERWRITE@
FileMode=0644

[Rule delete]
Watch=w
On=IN_CLOSE_WRITE IN_MOVED_TO
DelaySec=@DELAY@
Action=delete
Source=^@TMP@/w/(?P<name>.*)\.del$

# Processed files are moved into the watched tree itself: the destination's root w/done lies where the
# attacker may write.
[Rule archive]
Watch=w
On=IN_CLOSE_WRITE IN_MOVED_TO
Action=move
Source=^@TMP@/w/(?P<name>[^/]*)\.arc$
Destination=@TMP@/w/done/\g<name>

# A sorting rule: "PREFIX_NAME.sort" goes to dst/PREFIX/NAME. A file named ".._x.sort" makes the
# destination dst/../x.
[Rule sort]
Watch=w
On=IN_CLOSE_WRITE IN_MOVED_TO
Action=copy
Source=^@TMP@/w/(?P<prefix>[^_/]*)_(?P<rest>[^/]*)\.sort$
Destination=@TMP@/dst/\g<prefix>/\g<rest>
AutoCreate=@AUTOCREATE@
'''


def config(delay=0, auto_create=False, overwrite=False):
    return (CONFIG.replace('@DELAY@', str(delay)).replace('@AUTOCREATE@', 'yes' if auto_create else 'no')
            .replace('@OVERWRITE@', 'yes' if overwrite else 'no'))


def mode(path):
    return os.lstat(path).st_mode & 0o7777


def tree(top):
    """Every entry below top, relative, sorted (links as "name -> target")."""
    out = []
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, top)
            out.append(rel + (' -> ' + os.readlink(p) if os.path.islink(p) else ''))
    return sorted(out)


class Attacker:
    """Runs file operations as an unprivileged user when we are root (setpriv), else as ourselves."""

    def __init__(self):
        self.setpriv = os.geteuid() == 0 and shutil.which('setpriv')

    def run(self, *argv):
        cmd = list(argv)
        if self.setpriv:
            cmd = [self.setpriv, '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups'] + cmd
        subprocess.run(cmd, check=True, timeout=DEFAULT_TIMEOUT, stdin=subprocess.DEVNULL)

    def give(self, *paths):
        """The attacker owns these (the trees it may write to)."""
        if self.setpriv:
            for p in paths:
                os.chown(p, NOBODY, NOBODY)


class Setup:
    """The daemon's directories: w (watched), dst, and a root-only victim directory with files named
    like the rules' sources."""

    def make(self, d):
        self.attacker = Attacker()
        self.w = d.path('w')
        self.dst = d.path('dst')
        self.victim = d.path('victim')
        os.mkdir(self.w)
        os.mkdir(self.dst)
        os.mkdir(self.victim, 0o700)
        os.chmod(self.victim, 0o700)
        for name in ('important.del', 'secret.mv', 'secret.cp'):
            write(os.path.join(self.victim, name), 'victim ' + name)
            os.chmod(os.path.join(self.victim, name), 0o600)
        self.victim_before = tree(self.victim)
        self.attacker.give(self.w, self.dst)

    def assert_victim_untouched(self, d):
        self.assertEqual(tree(self.victim), self.victim_before,
                         'the victim directory was changed through a symlink; log:\n' + d.log_text()[-3000:])
        for name in ('important.del', 'secret.mv', 'secret.cp'):
            self.assertEqual(mode(os.path.join(self.victim, name)), 0o600)
            with open(os.path.join(self.victim, name)) as f:
                self.assertEqual(f.read(), 'victim ' + name)

    def assert_unsafe(self, d, rule, n=1):
        ids = d.task_ids(r'failed: unsafe-path\.', rule)
        self.assertEqual(len(ids), n, 'expected %d %s task(s) failed with unsafe-path; log:\n%s'
                         % (n, rule, d.log_text()[-3000:]))
        self.assertEqual(d.task_ids('finished', rule), [], 'no %s task may succeed' % rule)
        return ids


class FileSafety(Setup, DaemonTestCase):
    def start(self, text):
        # World-accessible: the attacker must reach w and dst below the daemon's directory.
        d = self.daemon(text, start=False, world_accessible=True)
        self.make(d)
        d.start()
        return d

    def test_planted_symlinks(self):
        """dst/sub -> victim: a copy and a move into dst/sub/... must not write into the victim. Links
        as the last component are fine and stay so: a source link is acted on itself (copied as a link,
        moved, deleted), never its target; a destination link is replaced (Overwrite=yes)."""
        d = self.start(config(overwrite=True))
        self.attacker.run('ln', '-s', self.victim, os.path.join(self.dst, 'sub'))
        self.attacker.run('mkdir', os.path.join(self.w, 'sub'))
        self.attacker.run('sh', '-c', 'echo planted > "$1"/a.cp; echo planted > "$1"/b.mv',
                          'sh', os.path.join(self.w, 'sub'))
        # Source links: made in a staging directory and renamed in (a symlink raises IN_CREATE only).
        staging = d.path('staging')
        os.mkdir(staging)
        self.attacker.give(staging)
        target = os.path.join(self.victim, 'secret.cp')
        for name in ('l.cp', 'l.mv', 'l.del'):
            self.attacker.run('ln', '-s', target, os.path.join(staging, name))
            self.attacker.run('mv', os.path.join(staging, name), os.path.join(self.w, name))
        # The destination of "r.cp" is a planted link to a victim file.
        self.attacker.run('ln', '-s', os.path.join(self.victim, 'secret.mv'), os.path.join(self.dst, 'r'))
        self.attacker.run('sh', '-c', 'echo replacement > "$1"/r.cp', 'sh', self.w)
        d.settle()

        self.assert_victim_untouched(d)
        self.assertEqual(len(d.task_ids(r'failed: unsafe-path\.', 'copy')), 1, d.log_text()[-3000:])
        self.assertEqual(len(d.task_ids(r'failed: unsafe-path\.', 'move')), 1, d.log_text()[-3000:])
        self.assertTrue(os.path.exists(os.path.join(self.w, 'sub', 'b.mv')), 'the failed move kept its source')
        # The copy into dst/sub says why (other copies may log first: the order of tasks is theirs).
        m = d.log_matches(r'^Task \d+ \(copy\): (.*/dst/sub/.*)$')
        self.assertTrue(m and 'symbolic link' in m[0].group(1), d.log_text()[-3000:])

        # The copy of l.cp, then the move of l.mv over it (Overwrite=yes): a link to the same target.
        self.assertEqual(os.readlink(os.path.join(self.dst, 'l')), target, 'a link stays a link')
        self.assertFalse(os.path.lexists(os.path.join(self.w, 'l.mv')))
        self.assertFalse(os.path.lexists(os.path.join(self.w, 'l.del')), 'the link itself is deleted')
        self.assertFalse(os.path.islink(os.path.join(self.dst, 'r')), 'the planted link was replaced')
        with open(os.path.join(self.dst, 'r')) as f:
            self.assertEqual(f.read(), 'replacement\n')
        self.assertEqual(len(d.task_ids(r'finished: success\.')) - len(d.task_ids('finished', 'marker')), 4,
                         d.log_text()[-3000:])
        log('dst/sub -> victim: copy and move refused (%s); final-component links acted on themselves'
            % m[0].group(1))

    def test_auto_create(self):
        """AutoCreate=yes must not make directories (and then the file) through dst/sub -> victim; it
        still makes a missing root and the directories below it."""
        d = self.start(config(auto_create=True))
        self.attacker.run('ln', '-s', self.victim, os.path.join(self.dst, 'sub'))
        self.attacker.run('mkdir', '-p', os.path.join(self.w, 'sub', 'new'))
        self.attacker.run('sh', '-c', 'echo planted > "$1"/f.cp', 'sh', os.path.join(self.w, 'sub', 'new'))
        d.settle()
        self.assert_victim_untouched(d)
        self.assert_unsafe(d, 'copy')

        os.unlink(os.path.join(self.dst, 'sub'))
        os.rmdir(self.dst)
        os.makedirs(os.path.join(self.w, 'x', 'y'))
        write(os.path.join(self.w, 'x', 'y', 'f.cp'), 'deep')
        d.settle()
        with open(os.path.join(self.dst, 'x', 'y', 'f')) as f:
            self.assertEqual(f.read(), 'deep')
        self.assertEqual(len(d.task_ids(r'finished: success\.', 'copy')), 1, d.log_text()[-3000:])
        log('AutoCreate=yes through dst/sub -> victim: refused, nothing created in the victim; a missing '
            'dst made')

    def swap_sub_for_symlink(self, how):
        """w/sub replaced by a symlink to the victim while the tasks for the files in it wait."""
        delay = max(3, int(3 * TIMEOUT_SCALE))
        # AutoCreate=yes: the move's destination dst/sub/secret needs its directory.
        d = self.start(config(delay=delay, auto_create=True))
        sub = os.path.join(self.w, 'sub')
        self.attacker.run('mkdir', sub)
        self.attacker.run('sh', '-c', 'echo decoy > "$1"/important.del; echo decoy > "$1"/secret.mv; '
                          'echo decoy > "$1"/secret.cp', 'sh', sub)
        d.sync()
        rules = ('copy', 'move', 'delete')
        scheduled = [t for r in rules for t in d.task_ids('scheduled for ', r)]
        self.assertEqual(len(scheduled), 3, d.log_text()[-3000:])
        if how == 'rm':
            self.attacker.run('rm', '-rf', sub)
        else:
            self.attacker.run('mv', sub, sub + '.old')
        self.attacker.run('ln', '-s', self.victim, sub)
        # Still within the delay: the swap happened before any of the three ran.
        self.assertEqual([t for r in rules for t in d.task_ids('started', r)], [],
                         'the swap came too late to test anything')
        d.settle(timeout=DEFAULT_TIMEOUT + delay)
        self.assert_victim_untouched(d)
        self.assertFalse(os.path.lexists(os.path.join(self.dst, 'sub')),
                         'nothing of the victim may reach the destination: %s' % tree(self.dst))
        return d

    def test_directory_swapped_for_a_symlink_during_the_delay(self):
        """w/sub removed and replaced by a symlink to the victim while the tasks wait: their paths now
        lead through it; the delete must not remove victim/important.del, the move must not take
        victim/secret.mv (0600) out as a 0644 file."""
        d = self.swap_sub_for_symlink('rm')
        for rule in ('copy', 'move', 'delete'):
            self.assert_unsafe(d, rule)
        log('w/sub swapped for a symlink during the delay: delete, move and copy refused')

    def test_directory_renamed_and_replaced_by_a_symlink(self):
        """w/sub renamed to w/sub.old, a symlink to the victim put in its place: the waiting tasks
        followed their files to sub.old, so nothing goes through the symlink."""
        d = self.swap_sub_for_symlink('mv')
        for rule in ('copy', 'move', 'delete'):
            self.assertEqual(len(d.log_matches(r'^Task \d+ \(%s\) follows its file to .*/sub\.old/' % rule)),
                             1, d.log_text()[-3000:])
        self.assertFalse(os.path.lexists(os.path.join(self.w, 'sub.old', 'important.del')),
                         'the delete acted on the renamed file')
        log('w/sub renamed and replaced by a symlink: the tasks followed to sub.old')

    def test_destination_root_inside_the_watch_swapped_for_a_symlink(self):
        """Destination=w/done/...: its root lies in the watched tree, so w/done -> victim is refused
        too, while a real w/done keeps working."""
        d = self.start(config())
        self.attacker.run('ln', '-s', self.victim, os.path.join(self.w, 'done'))
        self.attacker.run('sh', '-c', 'echo planted > "$1"/x.arc', 'sh', self.w)
        d.settle()
        self.assert_victim_untouched(d)
        self.assert_unsafe(d, 'archive')
        self.assertTrue(os.path.exists(os.path.join(self.w, 'x.arc')), 'the failed move kept its source')
        os.unlink(os.path.join(self.w, 'done'))
        os.mkdir(os.path.join(self.w, 'done'))
        write(os.path.join(self.w, 'y.arc'), 'archived')
        d.settle()
        with open(os.path.join(self.w, 'done', 'y')) as f:
            self.assertEqual(f.read(), 'archived')
        self.assertEqual(len(d.task_ids(r'finished: success\.', 'archive')), 1, d.log_text()[-3000:])
        log('w/done -> victim as the root of Destination=: refused; a real w/done works')

    def test_dot_dot_from_a_hostile_name(self):
        """A file named ".._escaped.sort" makes Destination= dst/../escaped: outside dst."""
        d = self.start(config())
        self.attacker.run('sh', '-c', 'echo hostile > "$1"/.._escaped.sort', 'sh', self.w)
        d.settle()
        self.assertFalse(os.path.lexists(d.path('escaped')), 'the copy left dst through ".."')
        self.assert_unsafe(d, 'sort')
        m = d.log_matches(r'^Task \d+ \(sort\): (.*)$')
        self.assertTrue(m and 'outside' in m[0].group(1), d.log_text()[-3000:])
        # The control: an ordinary name is sorted as before.
        os.mkdir(os.path.join(self.dst, 'ok'))
        write(os.path.join(self.w, 'ok_name.sort'), 'fine')
        d.settle()
        with open(os.path.join(self.dst, 'ok', 'name')) as f:
            self.assertEqual(f.read(), 'fine')
        log('".._escaped.sort": %s' % m[0].group(1))


@unittest.skipIf(BusTestCase is None, 'bus_harness is not importable')
class RunRuleSafety(Setup, BusTestCase if BusTestCase else DaemonTestCase):
    """RunRule names a path by hand: through a symlink, or out of the watch with "..". (Another part of
    the fix may refuse such a path at RunRule already; either way nothing may be touched.)"""

    def setUp(self):
        super().setUp()
        if not shutil.which('busctl'):
            self.skipTest('busctl is not installed')

    def start(self, text):
        d = self.daemon(text, start=False, world_accessible=True)
        self.make(d)
        d.start()
        return d

    def run_rule(self, rule, path):
        """The task's id, or None if RunRule refused the path."""
        p = subprocess.run(['busctl', '--user', 'call', 'org.inotaskd1', '/org/inotaskd1',
                            'org.inotaskd1.Manager', 'RunRule', 'ss', rule, path],
                           capture_output=True, text=True, env=self.bus.env(), timeout=DEFAULT_TIMEOUT)
        if p.returncode != 0:
            log('RunRule %s %s refused: %s' % (rule, path, p.stderr.strip()))
            return None
        return int(re.match(r'^t (\d+)$', p.stdout.strip()).group(1))

    def wait_end(self, d, tid):
        if tid is not None:
            d.wait_for_log(r'^Task %d \([^)]*\) (finished|failed)' % tid)

    def test_run_rule_through_a_symlink(self):
        d = self.start(config())
        self.attacker.run('ln', '-s', self.victim, os.path.join(self.w, 'link'))
        ids = [self.run_rule('delete', os.path.join(self.w, 'link', 'important.del')),
               self.run_rule('move', os.path.join(self.w, 'link', 'secret.mv'))]
        for tid in ids:
            self.wait_end(d, tid)
        self.assert_victim_untouched(d)
        self.assertEqual(tree(self.dst), [])
        for rule, tid in zip(('delete', 'move'), ids):
            if tid is not None:
                self.assertIn(tid, self.assert_unsafe(d, rule))

    def test_run_rule_out_of_the_watch(self):
        d = self.start(config())
        outside = d.path('outside')
        os.mkdir(outside)
        write(os.path.join(outside, 'secret.cp'), 'outside the watch')
        tid = self.run_rule('copy', os.path.join(self.w, '..', 'outside', 'secret.cp'))
        self.wait_end(d, tid)
        self.assertEqual(sorted(os.listdir(outside)), ['secret.cp'], 'copied out of the watch and out of dst')
        self.assertEqual(tree(self.dst), [])
        if tid is not None:
            self.assertIn(tid, self.assert_unsafe(d, 'copy'))


if __name__ == '__main__':
    harness.main()
