#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The manual pages name what the programs accept, taken from the programs themselves:
   ctl      every verb and option of `inotaskctl --help` has an entry in inotaskctl(1)
   daemon   every option of `inotaskd --help` has an entry in inotaskd(8)
   dbus     every method, signal and property of dbus/*.xml has an entry in its interface's section of
            org.inotaskd1(5), and so has every org.inotaskd1.Error.* name of the code and every polkit
            action of data/polkit/org.inotaskd1.policy
   plugin   every macro, type, member and function of src/include/inotaskd-plugin.h is in inotaskd-plugin(3)
   examples the EXAMPLES of inotaskd.conf(5) pass `inotaskd --check-config`
Each mode prints what it checked and names everything missing; exit status 1 if anything is."""
import glob
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SRCDIR = os.environ.get('SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
C_ENV = dict(os.environ, LC_ALL='C', LANGUAGE='', LANG='C')


def page(name):
    with open(os.path.join(SRCDIR, 'data', 'man', name + '.scd'), encoding='utf-8') as f:
        return f.read().split('\n')


def section(lines, heading):
    """The lines after the heading line `# HEADING` up to the next `# ` heading."""
    for i, l in enumerate(lines):
        if l.rstrip() == '# ' + heading:
            out = []
            for m in lines[i + 1:]:
                if m.startswith('# '):
                    break
                out.append(m)
            return out
    return None


def entry_lines(lines):
    """Definition-list terms: lines starting with '*' (scdoc bold), outside literal blocks."""
    out, literal = [], False
    for l in lines:
        if l.startswith('```'):
            literal = not literal
        elif not literal and l.startswith('*'):
            out.append(l)
    return out


def has_entry(entries, token):
    pat = re.compile(r'\*' + re.escape(token) + r'(\*|\(|=)')
    return any(pat.search(e) for e in entries)


class Report:
    def __init__(self, what):
        self.what, self.missing, self.n = what, [], 0

    def check(self, ok, name):
        self.n += 1
        if ok:
            print(f'ok: {self.what}: {name}')
        else:
            self.missing.append(name)

    def done(self):
        print(f'{self.what}: {self.n - len(self.missing)} of {self.n} documented')
        if self.missing:
            print(f'MISSING in {self.what}: ' + ', '.join(self.missing))
            return 1
        return 0


def help_text(binary):
    r = subprocess.run([binary, '--help'], capture_output=True, text=True, env=C_ENV, timeout=30)
    assert r.returncode == 0, r
    return r.stdout


def help_options(text):
    """Every -x and --long at the start of an option line (two-space indent, then a dash)."""
    opts = []
    for l in text.split('\n'):
        m = re.match(r'^\s{2,}(-[^ ].*?)(\s{2,}|$)', l)
        if not m:
            continue
        for tok in re.findall(r'(?<![\w-])(--?[A-Za-z][\w-]*)', m.group(1)):
            if tok not in opts:
                opts.append(tok)
    return opts


def help_verbs(text):
    verbs, inside = [], False
    for l in text.split('\n'):
        if l.startswith('Commands:'):
            inside = True
            continue
        if inside and not l.strip():
            break
        m = re.match(r'^  ([a-z][a-z-]+)', l)
        if inside and m:
            verbs.append(m.group(1))
    return verbs


def check_ctl():
    text = help_text(os.environ['INOTASKCTL_BINARY'])
    lines = page('inotaskctl.1')
    commands, options = section(lines, 'COMMANDS'), section(lines, 'OPTIONS')
    assert commands is not None and options is not None, 'inotaskctl(1) needs COMMANDS and OPTIONS'
    verbs = help_verbs(text)
    assert len(verbs) >= 10, f'too few verbs parsed from --help: {verbs}'
    rep = Report('inotaskctl(1)')
    for v in verbs:
        rep.check(has_entry(entry_lines(commands), v), 'verb ' + v)
    opts = help_options(text)
    assert '--user' in opts and '-H' in opts, f'options not parsed from --help: {opts}'
    for o in opts:
        rep.check(has_entry(entry_lines(options), o), 'option ' + o)
    # Every verb shows its real output (or says that it prints nothing) in a literal block.
    for v in verbs:
        rep.check(any(re.match(r'^\$ inotaskctl .*\b' + re.escape(v) + r'\b', l) for l in commands),
                  f'example of {v}')
    env = section(lines, 'ENVIRONMENT') or []
    for e in ('SYSTEMD_COLORS', 'NO_COLOR', 'SYSTEMD_PAGER', 'SYSTEMD_LESS'):
        rep.check(has_entry(entry_lines(env), e), 'environment ' + e)
    return rep.done()


def check_daemon():
    text = help_text(os.environ['INOTASKD_BINARY'])
    lines = page('inotaskd.8')
    rep = Report('inotaskd(8)')
    opts = help_options(text)
    assert '--check-config' in opts, f'options not parsed from --help: {opts}'
    for o in opts:
        rep.check(has_entry(entry_lines(section(lines, 'OPTIONS') or []), o), 'option ' + o)
    for s in ('FILES', 'EXAMPLES', 'ENVIRONMENT', 'EXIT STATUS'):
        rep.check(section(lines, s) is not None, 'section ' + s)
    return rep.done()


def check_dbus():
    lines = page('org.inotaskd1.5')
    rep = Report('org.inotaskd1(5)')
    for xml in sorted(glob.glob(os.path.join(SRCDIR, 'dbus', '*.xml'))):
        for iface in ET.parse(xml).getroot().iter('interface'):
            name = iface.get('name')
            sec = section(lines, name)
            rep.check(sec is not None, 'section # ' + name)
            entries = entry_lines(sec or [])
            for kind in ('method', 'signal', 'property'):
                for m in iface.iter(kind):
                    rep.check(has_entry(entries, m.get('name')), f'{kind} {name}.{m.get("name")}')
    errors = set()
    for path in glob.glob(os.path.join(SRCDIR, 'src', '**', '*.[ch]'), recursive=True):
        with open(path, encoding='utf-8', errors='replace') as f:
            errors.update(re.findall(r'org\.inotaskd1\.Error\.[A-Za-z]+', f.read()))
    assert errors, 'no error names found in src/'
    entries = entry_lines(section(lines, 'ERRORS') or [])
    for e in sorted(errors):
        rep.check(has_entry(entries, e), 'error ' + e)
    policy = ET.parse(os.path.join(SRCDIR, 'data', 'polkit', 'org.inotaskd1.policy')).getroot()
    entries = entry_lines(section(lines, 'AUTHORIZATION') or [])
    for a in policy.iter('action'):
        rep.check(has_entry(entries, a.get('id')), 'polkit action ' + a.get('id'))
    return rep.done()


def check_plugin():
    with open(os.path.join(SRCDIR, 'src', 'include', 'inotaskd-plugin.h'), encoding='utf-8') as f:
        header = f.read()
    code = re.sub(r'/\*.*?\*/', '', header, flags=re.S)
    names = re.findall(r'#define (INOTASKD_\w+)', code)
    names += re.findall(r'typedef\s+struct\s+(\w+)', code)
    names += re.findall(r'\}\s*(\w+);', code)
    names += re.findall(r'typedef\s+[^;(]*\(\*(\w+)\)', code)
    names += re.findall(r'static inline [^(]*?\b(\w+)\(', code)
    for body in re.findall(r'typedef struct \w+ \{(.*?)\n\}', code, re.S):
        body = re.sub(r'\{[^{}]*\}', '', body)    # an inline function's body, none here
        names += re.findall(r'\(\*(\w+)\)\s*\(', body)
        names += re.findall(r'(\w+)\s*;', body)
    text = '\n'.join(page('inotaskd-plugin.3'))
    rep = Report('inotaskd-plugin(3)')
    for n in dict.fromkeys(names):
        rep.check(re.search(r'\b' + re.escape(n) + r'\b', text) is not None, n)
    rep.check('example-plugin.c' in text, 'the example plugin')
    return rep.done()


def check_examples():
    lines = page('inotaskd.conf.5')
    blocks, cur = [], None
    for l in section(lines, 'EXAMPLES'):
        if l.startswith('```'):
            if cur is None:
                cur = []
            else:
                blocks.append('\n'.join(cur) + '\n')
                cur = None
        elif cur is not None:
            cur.append(l)
    assert len(blocks) >= 3, 'inotaskd.conf(5) has fewer than 3 examples'
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        # Each example is a file of its own (one may be a drop-in changing a rule of another): the main
        # file is the first, the others drop-ins in their order.
        conf = os.path.join(d, 'inotaskd.conf')
        dropins = os.path.join(d, 'inotaskd.conf.d')
        os.mkdir(dropins)
        os.chmod(dropins, 0o755)
        for i, b in enumerate(blocks):
            with open(conf if i == 0 else os.path.join(dropins, f'{i:02d}-example.conf'), 'w') as f:
                f.write(b)
        r = subprocess.run([os.environ['INOTASKD_BINARY'], '-c', conf, '--check-config'],
                           capture_output=True, text=True, env=C_ENV, timeout=60)
        print(r.stderr, end='')
        rep = Report('inotaskd.conf(5) EXAMPLES')
        rep.check(r.returncode == 0 and 'Configuration is valid' in r.stderr, f'{len(blocks)} blocks')
        return rep.done()


if __name__ == '__main__':
    modes = {'ctl': check_ctl, 'daemon': check_daemon, 'dbus': check_dbus, 'plugin': check_plugin,
             'examples': check_examples}
    sys.exit(modes[sys.argv[1]]())
