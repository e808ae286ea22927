#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A stand-in for journald's two client sockets, for test-journal.py: run in a mount namespace whose
/run/systemd/journal is a private directory, it binds /run/systemd/journal/socket (the native protocol:
one datagram per entry, KEY=value lines or KEY\\n<le64 size><bytes>\\n for binary values, a memfd for big
ones) and /run/systemd/journal/stdout (the stream protocol of systemd-cat and StandardError=journal: seven
header lines, then the log lines). Each entry or stream line is appended to OUT as a JSON line
({"native": {field: value}} or {"stream": identifier, "level_prefix": bool, "line": text}); OUT.ready
appears when both sockets listen. Exits when its parent (the process it was started under) is gone."""

import array
import json
import os
import select
import socket
import struct
import sys

JOURNAL_DIR = '/run/systemd/journal'


def parse_native(data):
    fields = {}
    pos = 0
    while pos < len(data):
        nl = data.index(b'\n', pos)
        line = data[pos:nl]
        if b'=' in line:
            k, v = line.split(b'=', 1)
            pos = nl + 1
        else:
            k = line
            (size,) = struct.unpack_from('<Q', data, nl + 1)
            v = data[nl + 9:nl + 9 + size]
            pos = nl + 9 + size + 1
        fields.setdefault(k.decode(), []).append(v.decode('utf-8', 'surrogateescape'))
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


def recv_native(sock):
    fds = array.array('i')
    data, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    for fd in fds:          # a sealed memfd with the whole entry
        with os.fdopen(fd, 'rb') as f:
            data = f.read()
    return parse_native(data)


def main():
    out_path = sys.argv[1]
    parent = os.getppid()
    os.makedirs(JOURNAL_DIR, exist_ok=True)
    native = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    native.bind(os.path.join(JOURNAL_DIR, 'socket'))
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind(os.path.join(JOURNAL_DIR, 'stdout'))
    stream.listen(16)
    out = open(out_path, 'a', buffering=1)
    open(out_path + '.ready', 'w').close()
    clients = {}        # socket -> [buffer, header lines or None when complete]

    def emit(obj):
        out.write(json.dumps(obj) + '\n')

    while os.getppid() == parent:
        ready, _, _ = select.select([native, stream] + list(clients), [], [], 0.2)
        for s in ready:
            if s is native:
                emit({'native': recv_native(native)})
            elif s is stream:
                c, _ = stream.accept()
                clients[c] = [b'', []]
            else:
                data = s.recv(65536)
                state = clients[s]
                state[0] += data
                while b'\n' in state[0]:
                    line, state[0] = state[0].split(b'\n', 1)
                    text = line.decode('utf-8', 'surrogateescape')
                    if len(state[1]) < 7:
                        state[1].append(text)
                        continue
                    emit({'stream': state[1][0], 'level_prefix': state[1][3] == '1', 'line': text})
                if not data:
                    del clients[s]
                    s.close()


if __name__ == '__main__':
    main()
