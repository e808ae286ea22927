#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's session, for real, inside a kept system-test container (it resets the daemon's unit, state,
# configuration and journal there first). As root, from the source tree:
#   INOTASKD_SYSTEST_KEEP=1 INOTASKD_SYSTEST_ONLY='catalog installed' tests/system/run build
#   nsenter -t PID -a bash -s < tests/docs/sessions/readme-session.sh > transcript
# (PID from the "kept:" line; not run by meson; README's session is pasted from the transcript).
export SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 SYSTEMD_LOG_COLOR=0 LANG=C.UTF-8 COLUMNS=100
run() { printf '$ %s\n' "$*"; bash -c "$*" 2>&1; rc=$?; [ $rc -ne 0 ] && echo "[exit $rc]"; echo; }
waitfor() { for _ in $(seq 1 200); do bash -c "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "TIMEOUT: $1"; }
systemctl stop inotaskd; rm -rf /etc/systemd/system/inotaskd.service.d; systemctl daemon-reload; systemctl enable -q inotaskd
rm -rf /etc/inotaskd/conf.d /var/lib/inotaskd/* /srv/uploads
journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-time=1s >/dev/null 2>&1
mkdir -p /srv/uploads
cat >/etc/inotaskd/inotaskd.conf <<'CONF'
[Watch uploads]
Path=/srv/uploads

[Rule checksum]
On=changed
Exec=/usr/bin/sha256sum {pathname}
CONF
echo "=== first config"
run inotaskd --check-config
run systemctl start inotaskd
run systemctl status inotaskd
run 'echo hello > /srv/uploads/report.csv'
waitfor 'journalctl -u inotaskd -o cat | grep -q "finished: success"'
run journalctl -u inotaskd
run inotaskctl status
run inotaskctl list-tasks --all
echo "=== delay drop-in"
mkdir -p /etc/inotaskd/conf.d
printf '[Rule checksum]\nDelaySec=1min\n' >/etc/inotaskd/conf.d/50-delay.conf
run cat /etc/inotaskd/conf.d/50-delay.conf
run systemctl reload inotaskd
run 'echo a,b > /srv/uploads/q1.csv; printf "x\n" > "/srv/uploads/odd name $(printf "\377").csv"'
waitfor '[ "$(inotaskctl --no-legend list-tasks | wc -l)" = 2 ]'
run inotaskctl list-tasks
run inotaskctl show 2
run busctl call org.inotaskd1 /org/inotaskd1 org.inotaskd1.Manager ListTasks
run busctl get-property org.inotaskd1 /org/inotaskd1/task/3 org.inotaskd1.Task PathBytes
run gdbus call --system --dest org.inotaskd1 --object-path /org/inotaskd1/task/2 --method org.inotaskd1.Task.Trigger
waitfor 'journalctl -u inotaskd -o cat INOTASKD_TASK_ID=2 | grep -q "finished"'
run 'setpriv --reuid=nobody --regid=nogroup --clear-groups inotaskctl --no-ask-password cancel 3'
run inotaskctl status 2
run inotaskctl cancel 3
run inotaskctl list-tasks --all
run inotaskctl --json list-tasks --all
run journalctl -o cat INOTASKD_RULE=checksum
run journalctl -o verbose INOTASKD_TASK_ID=2 --output-fields=MESSAGE,INOTASKD_RULE,INOTASKD_PATH,INOTASKD_RESULT,INOTASKD_EXIT_STATUS
run journalctl -x -n 1 INOTASKD_TASK_ID=2
run inotaskctl cancel 99
echo "=== broken reload"
sleep 1; T0=$(date +%H:%M:%S)
run "printf '[Rule checksum]\\nDelaySec=5 minuts\\n' >/etc/inotaskd/conf.d/60-typo.conf"
run systemctl reload inotaskd
run 'systemctl is-active inotaskd'
run journalctl -u inotaskd --since $T0
run inotaskd --check-config
rm /etc/inotaskd/conf.d/60-typo.conf
run systemctl reload inotaskd
run systemctl stop inotaskd
run inotaskctl status
