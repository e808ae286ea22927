#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Translations:
   potfiles  every source file with a gettext call (_, N_, C_, NC_, g_dngettext, ..., and the keywords
             po/meson.build gives xgettext, such as conf_key_error) is in po/POTFILES, and every file listed
             there exists
   complete  every catalog of po/LINGUAS translates every string of a pot made now from POTFILES
             (no untranslated, no fuzzy), and passes msgfmt --check
   help      `inotaskd --help`, `inotaskctl --help`, a command-line error of each and a configuration error
             of `inotaskd --check-config` come out translated
             in every language of LINGUAS (LANGUAGE=xx with the C.UTF-8 locale glibc ships, the catalogs
             of the build tree through $INOTASKD_LOCALEDIR)"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get('SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
# As meson's i18n 'glib' preset (po/meson.build).
XGETTEXT_ARGS = ['--from-code=UTF-8', '--add-comments', '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2',
                 '--keyword=NC_:1c,2', '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3',
                 '--keyword=g_dpgettext2:2c,3', '--flag=N_:1:pass-c-format', '--flag=g_dngettext:2:pass-c-format']
MARKERS = ['_', 'N_', 'C_', 'NC_', 'Q_', 'gettext', 'ngettext', 'dgettext', 'dngettext', 'g_dngettext',
           'g_dcgettext', 'g_dpgettext2']


def meson_args():
    """The extra xgettext arguments of po/meson.build (its own keywords: functions that translate inside)."""
    with open(os.path.join(SRCDIR, 'po', 'meson.build'), encoding='utf-8') as f:
        return re.findall(r"'(--(?:keyword|flag)=[^']+)'", f.read())


XGETTEXT_ARGS += meson_args()
MARKERS += [a.split('=', 1)[1].split(':')[0] for a in meson_args() if a.startswith('--keyword=')]
MARKER = re.compile(r'(?<![\w.>])(' + '|'.join(re.escape(m) for m in MARKERS) + r')\s*\(')


def read_list(name):
    with open(os.path.join(SRCDIR, 'po', name), encoding='utf-8') as f:
        return [l.strip() for l in f if l.strip() and not l.startswith('#')]


def strip_comments_and_strings(code):
    code = re.sub(r'/\*.*?\*/', ' ', code, flags=re.S)
    code = re.sub(r'//[^\n]*', ' ', code)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', code)


def check_potfiles():
    listed = read_list('POTFILES')
    bad = 0
    for f in listed:
        if not os.path.isfile(os.path.join(SRCDIR, f)):
            print(f'po/POTFILES lists {f}, which does not exist')
            bad += 1
    n = 0
    for path in sorted(glob.glob(os.path.join(SRCDIR, 'src', '**', '*.[ch]'), recursive=True)):
        rel = os.path.relpath(path, SRCDIR)
        with open(path, encoding='utf-8', errors='replace') as f:
            code = strip_comments_and_strings(f.read())
        # A call, not a declaration or definition ("void conf_key_error(...").
        m = next((m for m in MARKER.finditer(code)
                  if not re.search(r'\b(void|int|bool|char|const)\s*\**\s*$', code[:m.start()])), None)
        if not m:
            continue
        n += 1
        if rel in listed:
            print(f'ok: {rel} (gettext call {m.group(1)}()) is in po/POTFILES')
        else:
            line = code[:m.start()].count('\n') + 1
            print(f'MISSING: {rel}:{line} calls {m.group(1)}() but is not in po/POTFILES')
            bad += 1
    print(f'{n} files with gettext calls, {len(listed)} listed, {bad} problems')
    return 1 if bad or n == 0 else 0


def make_pot(d):
    pot = os.path.join(d, 'inotaskd.pot')
    subprocess.run(['xgettext', '--package-name=inotaskd', '-o', pot, '-D', SRCDIR] + XGETTEXT_ARGS +
                   read_list('POTFILES'), check=True)
    return pot


def check_complete():
    for tool in ('xgettext', 'msgmerge', 'msgfmt'):
        if not shutil.which(tool):
            print(f'SKIP: {tool} not found (package gettext)')
            return 77
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        pot = make_pot(d)
        with open(pot, encoding='utf-8') as f:
            print(f'pot made from po/POTFILES: {len(re.findall(r"^msgid ", f.read(), re.M)) - 1} strings')
        langs = read_list('LINGUAS')
        if 'de' not in langs or 'fr' not in langs:
            print(f'LINGUAS must list de and fr: {langs}')
            bad += 1
        for lang in langs:
            po = os.path.join(SRCDIR, 'po', lang + '.po')
            merged = os.path.join(d, lang + '.po')
            subprocess.run(['msgmerge', '--quiet', '--no-fuzzy-matching', '-o', merged, po, pot], check=True)
            r = subprocess.run(['msgfmt', '--check', '--statistics', '-o', '/dev/null', merged],
                               capture_output=True, text=True)
            stats = r.stderr.strip().split('\n')[-1]
            print(f'{lang}: {stats}')
            if r.returncode != 0 or 'untranslated' in stats or 'fuzzy' in stats:
                print(r.stderr)
                r = subprocess.run(['msgattrib', '--untranslated', merged], capture_output=True, text=True)
                ids = re.findall(r'^msgid "(.+)"$', r.stdout, re.M)
                print(f'MISSING in po/{lang}.po: ' + '; '.join(ids[:20]) + (' ...' if len(ids) > 20 else ''))
                bad += 1
            # What the catalog holds itself must be sound too (format strings, plural forms).
            r = subprocess.run(['msgfmt', '--check', '-o', '/dev/null', po], capture_output=True, text=True)
            if r.returncode != 0:
                print(f'po/{lang}.po: msgfmt --check failed:\n{r.stderr}')
                bad += 1
    return 1 if bad else 0


def run(binary, args, env):
    return subprocess.run([binary] + args, capture_output=True, text=True, env=env, timeout=30)


def check_help():
    out = subprocess.run(['locale', '-a'], capture_output=True, text=True).stdout.split()
    if not any(l.lower() in ('c.utf8', 'c.utf-8') for l in out):
        print('SKIP: no C.UTF-8 locale (glibc >= 2.35 and Debian ship one)')
        return 77
    localedir = os.path.abspath(os.environ['INOTASKD_LOCALEDIR'])
    base = {k: v for k, v in os.environ.items() if not k.startswith('LC_') and k not in ('LANG', 'LANGUAGE')}
    # Bus-free: no daemon, nothing to connect to.
    base['DBUS_SESSION_BUS_ADDRESS'] = 'unix:path=/nonexistent'
    base['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=/nonexistent'
    english = dict(base, LC_ALL='C')
    # The output differs from the English one, and at most 3 of its prose lines (not option lines) are
    # left as in English.
    bad = 0
    for lang in read_list('LINGUAS'):
        mo = os.path.join(localedir, lang, 'LC_MESSAGES', 'inotaskd.mo')
        if not os.path.isfile(mo):
            print(f'{mo} was not built')
            bad += 1
            continue
        env = dict(base, LC_ALL='C.UTF-8', LANGUAGE=lang, INOTASKD_LOCALEDIR=localedir)
        for binary in (os.environ['INOTASKD_BINARY'], os.environ['INOTASKCTL_BINARY']):
            name = os.path.basename(binary)
            for args, stream, code in ((['--help'], 'stdout', 0), (['--no-such-option'], 'stderr', 64)):
                en, tr = run(binary, args, english), run(binary, args, env)
                en_text, tr_text = getattr(en, stream), getattr(tr, stream)
                en_lines = set(en_text.split('\n'))
                same = [l for l in tr_text.split('\n') if l.strip() and l in en_lines]
                # A usage text whose option lines stay as they are is fine; prose lines must change.
                prose = [l for l in same if not l.lstrip().startswith('-') and not re.match(r'^\s+\S+\s*$', l)]
                ok = tr.returncode == code and tr_text != en_text and tr_text.strip() and len(prose) <= 3
                # An error's last line is ours (the first may be getopt's, which glibc translates itself).
                if stream == 'stderr':
                    ok = ok and tr_text.strip().split('\n')[-1] not in en_lines
                what = f'{lang}: {name} {" ".join(args)}'
                if ok:
                    print(f'ok: {what}: {tr_text.strip().splitlines()[0]!r} '
                          f'(English: {en_text.strip().splitlines()[0]!r})')
                else:
                    print(f'FAIL: {what}: exit {tr.returncode}, {len(prose)} lines left in English: {prose[:5]}\n'
                          f'{tr_text}')
                    bad += 1
        # A configuration error of --check-config, in the user's language; its place stays as it is.
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            conf = os.path.join(d, 'inotaskd.conf')
            with open(conf, 'w') as f:
                f.write('[Watch w]\nPath=/tmp\n\n[Rule r]\nOn=changed\nDelaySec=5 minuts\nExec=/bin/true\n')
            args = ['-c', conf, '--check-config']
            en, tr = run(os.environ['INOTASKD_BINARY'], args, english), run(os.environ['INOTASKD_BINARY'], args, env)
            want = f'{conf}:6: DelaySec: '
            ok = (en.returncode == tr.returncode == 78 and tr.stderr.startswith(want) and
                  en.stderr.startswith(want) and tr.stderr != en.stderr)
            print(f'{"ok" if ok else "FAIL"}: {lang}: inotaskd --check-config: {tr.stderr.strip()!r} '
                  f'(English: {en.stderr.strip()!r})')
            bad += not ok
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit({'potfiles': check_potfiles, 'complete': check_complete, 'help': check_help}[sys.argv[1]]())
