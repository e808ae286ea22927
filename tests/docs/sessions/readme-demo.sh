#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's quick start, for real, in a private mount namespace (a tmpfs on /tmp/inotaskd-demo). As root,
# from the source tree: unshare -m --propagation private tests/docs/sessions/readme-demo.sh [BUILD_DIR]
# prints the daemon's output (not run by meson).
B=${1:-build}
O=$(mktemp)
mkdir -p /tmp/inotaskd-demo
mount -t tmpfs tmpfs /tmp/inotaskd-demo
unset INVOCATION_ID NOTIFY_SOCKET
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent LANG=C.UTF-8
touch /tmp/inotaskd-demo/pre.txt
"$B"/src/daemon/inotaskd -c data/examples/demo.conf > $O 2>&1 &
D=$!
for _ in $(seq 200); do grep -q Ready $O && break; sleep 0.05; done
echo hello > /tmp/inotaskd-demo/a.txt; echo hello2 > /tmp/inotaskd-demo/a.txt
mkdir -p /tmp/inotaskd-demo/x/y && touch /tmp/inotaskd-demo/x/y/z; mv /tmp/inotaskd-demo/x /tmp/inotaskd-demo/x2
for _ in $(seq 200); do [ "$(grep -c 'finished' $O)" -ge 7 ] && break; sleep 0.05; done
sleep 0.3
kill $D; wait $D
umount /tmp/inotaskd-demo
cat "$O"; rm -f "$O"
