#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""README.md stays true where that is cheap to check:
   - the first configuration (the ```ini block of "## A first configuration") has five lines and passes
     `inotaskd --check-config` as one watch and one rule;
   - every `$ inotaskctl VERB` or `# inotaskctl VERB` of its sessions is a command of `inotaskctl --help`;
   - every relative link ([text](path)) names a file of the source tree.
Prints what it checked and names every failure; exit status 1 if there is one."""
import os
import re
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get('SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
C_ENV = dict(os.environ, LC_ALL='C', LANGUAGE='', LANG='C')
failures = []


def fail(msg):
        failures.append(msg)
        print('FAIL: ' + msg)


def first_config(lines):
        """The lines of the first ```ini block after the heading, or None."""
        try:
                i = lines.index('## A first configuration')
        except ValueError:
                return None
        block = None
        for l in lines[i + 1:]:
                if block is None:
                        if l.startswith('## '):
                                return None
                        if l.strip() == '```ini':
                                block = []
                elif l.strip() == '```':
                        return block
                else:
                        block.append(l)
        return None


def check_first_config(lines):
        block = first_config(lines)
        if block is None:
                fail('no ```ini block in a section "## A first configuration"')
                return
        n = len([l for l in block if l.strip()])
        if n != 5:
                fail(f'the first configuration has {n} lines, not five')
        with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, 'first.conf')
                with open(path, 'w', encoding='utf-8') as f:
                        f.write('\n'.join(block) + '\n')
                p = subprocess.run([os.environ['INOTASKD_BINARY'], '--check-config', '-c', path],
                                   env=C_ENV, capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        print(f'first configuration ({n} lines): inotaskd --check-config exit {p.returncode}: {out.strip()}')
        if p.returncode != 0:
                fail(f'the first configuration fails --check-config (exit {p.returncode}):\n{out}')
        elif 'Configuration is valid: 1 watch, 1 rule.' not in out:
                fail('--check-config did not count one watch and one rule')


def check_ctl_verbs(lines):
        p = subprocess.run([os.environ['INOTASKCTL_BINARY'], '--help'], env=C_ENV, capture_output=True,
                           text=True, timeout=30)
        verbs, in_cmds = set(), False
        for l in p.stdout.split('\n'):
                if l.strip() == 'Commands:':
                        in_cmds = True
                elif in_cmds and not l.strip():
                        in_cmds = False
                elif in_cmds:
                        verbs.add(l.split()[0])
        if not verbs:
                fail('no commands in inotaskctl --help')
                return
        used = []
        for l in lines:
                m = re.match(r'\s*[$#] inotaskctl((?:\s+-\S+)*)\s+([a-z][a-z-]*)', l)
                if m:
                        used.append(m.group(2))
        print(f'inotaskctl verbs in the sessions: {" ".join(sorted(set(used)))}')
        if not used:
                fail('no "$ inotaskctl VERB" or "# inotaskctl VERB" session lines')
        for v in used:
                if v not in verbs:
                        fail(f'"inotaskctl {v}" is not a command of inotaskctl --help')


def check_links(text):
        n = 0
        for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
                if re.match(r'[a-z]+:', target):
                        continue
                n += 1
                if not os.path.exists(os.path.join(SRCDIR, target)):
                        fail(f'link to {target}: no such file')
        print(f'relative links: {n}')


def main():
        with open(os.path.join(SRCDIR, 'README.md'), encoding='utf-8') as f:
                text = f.read()
        lines = text.split('\n')
        check_first_config(lines)
        check_ctl_verbs(lines)
        check_links(text)
        print(f'{len(failures)} failed' if failures else 'README.md: all checks passed')
        return 1 if failures else 0


if __name__ == '__main__':
        sys.exit(main())
