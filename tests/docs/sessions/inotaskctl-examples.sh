#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# inotaskctl(1)'s examples, for real: a user instance of the built daemon on a private session bus, in a
# private mount namespace with a tmpfs on /srv. As root, from the source tree:
#   unshare -m --propagation private tests/docs/sessions/inotaskctl-examples.sh [BUILD_DIR] > transcript
# (not run by meson; the page's examples are pasted from the transcript).
set -u
B=$(realpath "${1:-build}")
export PATH=$B/src/ctl:$B/src/daemon:$PATH LANG=C.UTF-8 LC_ALL=C.UTF-8 SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 TZ=UTC
unset INVOCATION_ID NOTIFY_SOCKET COLUMNS
mount -t tmpfs tmpfs /srv
T=$(mktemp -d)
export XDG_CONFIG_HOME=$T/config XDG_STATE_HOME=$T/state XDG_RUNTIME_DIR=$T/run
mkdir -p $XDG_CONFIG_HOME/inotaskd $XDG_STATE_HOME $XDG_RUNTIME_DIR /srv/uploads /srv/photos
chmod 700 $XDG_RUNTIME_DIR
cat > $XDG_CONFIG_HOME/inotaskd/inotaskd.conf <<'CONF'
[Watch uploads]
Path=/srv/uploads
Recursive=yes

[Watch photos]
Path=/srv/photos
InitialEvent=exists

[Rule import]
Watch=uploads
On=changed
Match=*.csv
DelaySec=1min
Exec=/usr/bin/wc -l {pathname}

[Rule thumbnail]
Watch=photos
On=created exists
Match=*.jpg
Exec=/bin/echo thumbnail for {pathname}
CONF
echo jpg > /srv/photos/a.jpg
dbus-daemon --session --fork --print-address=3 --print-pid=4 3>$T/addr 4>$T/pid
export DBUS_SESSION_BUS_ADDRESS=$(head -1 $T/addr)
waitfor() { for _ in $(seq 1 200); do bash -c "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "TIMEOUT: $1"; }
inotaskd --user --log-target=console >$T/daemon.log 2>&1 &
DPID=$!
waitfor 'inotaskctl --user status | grep -q "State: ready"'
waitfor '[ "$(inotaskctl --user --no-legend list-tasks --all --state=done | wc -l)" = 1 ]'
printf 'a,b\n' > /srv/uploads/sales.csv; printf 'c,d\n' > /srv/uploads/stock.csv
waitfor '[ "$(inotaskctl --user --no-legend list-tasks | wc -l)" = 2 ]'
run() { printf '$ %s\n' "$*"; bash -c "$*" 2>&1; rc=$?; [ $rc -ne 0 ] && echo "[exit $rc]"; }
run inotaskctl --user status
run inotaskctl --user list-tasks
run inotaskctl --user list-tasks --all
run inotaskctl --user list-watches
run inotaskctl --user list-rules
run inotaskctl --user show 2
run inotaskctl --user show -p State -p Rule 2
run inotaskctl --user show --value -p Path 2
run inotaskctl --user --json list-rules
run inotaskctl --user list-tasks --json=pretty
run inotaskctl --user --json=pretty list-watches
run COLUMNS=44 inotaskctl --user list-tasks
run COLUMNS=44 inotaskctl --user list-tasks --full
run inotaskctl --user status 1
echo "=== monitor"
inotaskctl --user monitor >$T/monitor.txt 2>&1 &
MPID=$!
# Its "Monitoring ..." line (on stderr) says the matches and the subscription are in place.
waitfor 'grep -q "^Monitoring inotaskd" '$T/monitor.txt
run inotaskctl --user trigger 2
waitfor 'inotaskctl --user --no-legend list-tasks --all --state=done | grep -q sales'
run inotaskctl --user cancel 3
run inotaskctl --user cancel 99
run inotaskctl --user run thumbnail /srv/photos/b.jpg
run inotaskctl --user run thumbnail /etc/passwd
waitfor '[ "$(inotaskctl --user --no-legend list-tasks | wc -l)" = 0 ]'
run inotaskctl --user reload
waitfor 'grep -q "Manager.*State=ready" '$T/monitor.txt
run inotaskctl --user list-tasks --no-legend --all
run inotaskctl --user show
run inotaskctl --user --json show
run inotaskctl --user status 2
kill $MPID; wait $MPID 2>/dev/null
echo '$ inotaskctl --user monitor'; cat $T/monitor.txt
inotaskctl --user --json monitor >$T/monitor.json 2>&1 &
MPID=$!
waitfor 'grep -q "^Monitoring inotaskd" '$T/monitor.json
run inotaskctl --user run thumbnail /srv/photos/a.jpg
waitfor 'grep -q "\"signal\":\"TaskRemoved\"" '$T/monitor.json
kill $MPID; wait $MPID 2>/dev/null
echo '$ inotaskctl --user --json monitor'; cat $T/monitor.json
kill $DPID; wait $DPID
kill $(cat $T/pid)
echo "=== daemon log"; cat $T/daemon.log
umount /srv
rm -rf "$T"
