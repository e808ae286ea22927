#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The pyinotify watcher the benchmarks compare with: Debian's python3-pyinotify used as pyinotifyd uses it
(a Notifier over a recursive, auto-adding WatchManager), counting IN_CLOSE_WRITE and optionally spawning one
command per event. Prints READY once add_watch() returned and, at the end, the same DONE line as ref-reader.

    pyinotify-watch.py [--exit-after N] [--idle-exit MS] DIR [-- COMMAND ARG... ({} = path)]"""

import argparse
import os
import resource
import subprocess
import sys
import time

import pyinotify


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--exit-after', type=int, default=0)
    p.add_argument('--idle-exit', type=int, default=-1)
    p.add_argument('dir')
    p.add_argument('command', nargs='*')
    a = p.parse_args()

    state = {'counted': 0, 'events': 0, 'last_ns': 0, 'spawned': 0}
    children = set()

    class Handler(pyinotify.ProcessEvent):
        def process_default(self, event):
            state['events'] += 1

        def process_IN_CLOSE_WRITE(self, event):
            state['events'] += 1
            if event.dir:
                return
            state['counted'] += 1
            state['last_ns'] = time.monotonic_ns()
            if a.command:
                argv = [event.pathname if x == '{}' else x for x in a.command]
                children.add(subprocess.Popen(argv))
                state['spawned'] += 1

    wm = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(wm, Handler())
    mask = pyinotify.IN_CLOSE_WRITE | pyinotify.IN_CREATE | pyinotify.IN_MOVED_TO
    wm.add_watch(a.dir, mask, rec=True, auto_add=True)
    print('READY %d' % len(wm.watches), flush=True)

    while not (a.exit_after and state['counted'] >= a.exit_after):
        timeout = a.idle_exit if state['counted'] and a.idle_exit >= 0 else None
        if notifier.check_events(timeout):
            notifier.read_events()
            notifier.process_events()
        elif timeout is not None:
            break
        for c in [c for c in children if c.poll() is not None]:
            children.discard(c)
    for c in children:
        c.wait()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print('DONE counted=%d events=%d reads=0 spawned=%d reaped=%d last_ns=%d watches=%d cpu_us=%d'
          % (state['counted'], state['events'], state['spawned'], state['spawned'], state['last_ns'],
             len(wm.watches), (ru.ru_utime + ru.ru_stime) * 1e6), flush=True)
    notifier.stop()


if __name__ == '__main__':
    sys.exit(main())
