#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's "Steering it" session, for real: a user instance of the built daemon on a private session bus,
# its watch in a private tmpfs on /tmp/t1. As root, from the source tree:
#   unshare -m --propagation private tests/docs/sessions/readme-steering.sh [BUILD_DIR] > transcript
# (not run by meson).
set -u
B=$(realpath "${1:-build}")
export PATH=$B/src/ctl:$B/src/daemon:$PATH LANG=C.UTF-8 LC_ALL=C.UTF-8 SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 TZ=UTC
unset INVOCATION_ID NOTIFY_SOCKET COLUMNS
mkdir -p /tmp/t1
mount -t tmpfs tmpfs /tmp/t1
T=/tmp/t1/run
export XDG_CONFIG_HOME=$T/config XDG_STATE_HOME=$T/state XDG_RUNTIME_DIR=$T/run
mkdir -p $XDG_CONFIG_HOME/inotaskd $XDG_STATE_HOME $XDG_RUNTIME_DIR /tmp/t1/w
chmod 700 $XDG_RUNTIME_DIR
cat > $XDG_CONFIG_HOME/inotaskd/inotaskd.conf <<'CONF'
[Watch w]
Path=/tmp/t1/w

[Rule slow]
On=changed
DelaySec=30
Exec=/bin/true {pathname}
CONF
dbus-daemon --session --fork --print-address=3 --print-pid=4 3>$T/addr 4>$T/pid
export DBUS_SESSION_BUS_ADDRESS=$(head -1 $T/addr)
waitfor() { for _ in $(seq 1 200); do bash -c "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "TIMEOUT: $1"; }
run() { printf '$ %s\n' "$*"; bash -c "$*" 2>&1; }
inotaskd --user --log-target=null &
DPID=$!
waitfor 'inotaskctl --user status | grep -q "State: ready"'
echo a > /tmp/t1/w/report.csv; echo b > "/tmp/t1/w/odd name $(printf '\377').csv"
waitfor '[ "$(inotaskctl --user --no-legend list-tasks | wc -l)" = 2 ]'
run inotaskctl --user status
run inotaskctl --user list-tasks
run inotaskctl --user trigger 1
waitfor 'inotaskctl --user --no-legend list-tasks --all --state=done | grep -q report'
run inotaskctl --user list-tasks --all
run inotaskctl --user --json list-tasks
run 'inotaskctl --user cancel 99; echo $?'
kill $DPID; wait $DPID
run 'inotaskctl --user status; echo $?'
kill $(cat $T/pid)
cd /; umount /tmp/t1
