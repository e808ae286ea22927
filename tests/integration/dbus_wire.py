# SPDX-License-Identifier: GPL-2.0-or-later
"""A D-Bus client on the raw wire protocol, for the setgid race of test_polkit.py (Python 3 standard
library only: no client library lets a program send calls and then exec with the connection open).

  python3 dbus_wire.py send SOCKET_PATH N RULE PATH PROGRAM...
      connects, sends Hello and N pipelined RunRule(RULE, PATH) calls to org.inotaskd1 without waiting,
      then execs PROGRAM... with the connection's fd number appended (the socket stays open across it)
  python3 dbus_wire.py read FIRST_SERIAL N FD
      reads until the replies to serials FIRST_SERIAL .. FIRST_SERIAL+N-1 are in (20 s at most) and
      prints one JSON object: {"returns": count, "errors": {name: count}, "missing": count}"""

import json
import os
import select
import socket
import struct
import sys
import time


def _pad(buf, n):
    return buf + b'\0' * (-len(buf) % n)


def _string(buf, s, code=None):
    b = s.encode()
    buf = _pad(buf, 4)
    return buf + struct.pack('<I', len(b)) + b + b'\0'


def _signature(buf, s):
    b = s.encode()
    return buf + struct.pack('<B', len(b)) + b + b'\0'


def method_call(serial, destination, path, interface, member, signature='', args=()):
    body = b''
    for a in args:
        body = _string(body, a)
    fields = b''
    for code, sig, value in ((1, 'o', path), (2, 's', interface), (3, 's', member),
                             (6, 's', destination)) + (((8, 'g', signature),) if signature else ()):
        fields = _pad(fields, 8) + struct.pack('<B', code)
        fields = _signature(fields, sig)
        fields = _signature(fields, value) if sig == 'g' else _string(fields, value)
    head = struct.pack('<cBBBIII', b'l', 1, 0, 1, len(body), serial, len(fields)) + fields
    return _pad(head, 8) + body


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'\0AUTH EXTERNAL ' + str(os.geteuid()).encode().hex().encode() + b'\r\n')
    line = b''
    while not line.endswith(b'\r\n'):
        chunk = s.recv(256)
        if not chunk:
            raise SystemExit('bus closed during authentication')
        line += chunk
    if not line.startswith(b'OK '):
        raise SystemExit('authentication refused: %r' % line)
    s.sendall(b'BEGIN\r\n')
    return s


def send(path, n, rule, target, program):
    s = connect(path)
    out = method_call(1, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello')
    for i in range(n):
        out += method_call(2 + i, 'org.inotaskd1', '/org/inotaskd1', 'org.inotaskd1.Manager', 'RunRule',
                           'ss', (rule, target))
    s.sendall(out)
    fd = s.detach()
    os.set_inheritable(fd, True)
    os.execv(program[0], program + [str(fd)])


def _parse_fields(data):
    """(reply_serial, error_name) from a header fields array."""
    pos, reply, error = 0, None, None
    while pos < len(data):
        pos += -pos % 8
        if pos >= len(data):
            break
        code = data[pos]
        slen = data[pos + 1]
        sig = data[pos + 2:pos + 2 + slen].decode()
        pos += 3 + slen
        if sig in ('s', 'o'):
            pos += -pos % 4
            (ln,) = struct.unpack_from('<I', data, pos)
            value = data[pos + 4:pos + 4 + ln].decode()
            pos += 5 + ln
        elif sig == 'g':
            ln = data[pos]
            value = data[pos + 1:pos + 1 + ln].decode()
            pos += 2 + ln
        elif sig == 'u':
            pos += -pos % 4
            (value,) = struct.unpack_from('<I', data, pos)
            pos += 4
        else:
            raise ValueError('unexpected header field type %r' % sig)
        if code == 5:
            reply = value
        elif code == 4:
            error = value
    return reply, error


def read(first, n, fd):
    s = socket.socket(fileno=fd)
    want = set(range(first, first + n))
    returns, errors = 0, {}
    buf = b''
    deadline = time.monotonic() + 20
    while want and time.monotonic() < deadline:
        while len(buf) >= 16:
            endian, mtype, _, _, body_len, _, fields_len = struct.unpack_from('<cBBBIII', buf)
            if endian != b'l':
                raise SystemExit('big-endian message: not handled')
            total = 16 + fields_len + (-(16 + fields_len) % 8) + body_len
            if len(buf) < total:
                break
            reply, error = _parse_fields(buf[16:16 + fields_len])
            buf = buf[total:]
            if reply in want:
                want.discard(reply)
                if mtype == 2:
                    returns += 1
                elif mtype == 3:
                    errors[error] = errors.get(error, 0) + 1
        if not want:
            break
        ready, _, _ = select.select([s], [], [], max(0, deadline - time.monotonic()))
        if ready:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    print(json.dumps({'returns': returns, 'errors': errors, 'missing': len(want),
                      'egid': os.getegid(), 'gid': os.getgid()}))


if __name__ == '__main__':
    if sys.argv[1] == 'send':
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6:])
    elif sys.argv[1] == 'read':
        read(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit('usage: see the module docstring')
