#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 14 item 6: tasks per second and write->start latency of inotaskd's tasks as transient units
# (TaskUnits=yes), as its own children (TaskUnits=no, direct spawn) and of a plain "systemd-run --no-block"
# loop, in one run, under a real systemd. Run as root where inotaskd.service is active (tests/system/run
# runs it in its container and prints the figures; it is a measurement, not a pass/fail check):
#
#   tests/bench/unit-rate.sh HELPERS_DIR WORK_DIR [N [L]]
#
# HELPERS_DIR holds the build's tests/bench/stamp and bench-gen. WORK_DIR is a directory the tasks may
# write to. N tasks for the rate (default 200), L for the latency (default 30, one every 100 ms, each
# after the previous started).
#   rate: inotaskd: N new files written at full speed (bench-gen create), rate = N / (last task start
#         - first write); systemd-run: N calls in a loop, rate = N / (last start - first call).
#   latency: inotaskd: the close of a new file to its task's first instruction (stamp); systemd-run: the
#         call to the command's first instruction. Median and 90th percentile.
# Every command is stamp (a /bin/true that appends its CLOCK_MONOTONIC start time first). inotaskd's
# MaxRunningTasks= (16 by default) bounds its tasks in flight; systemd-run --no-block does not wait.
# A daemon that does not know TaskUnits= (before tasks in units) runs the "unit" rule by direct spawn
# too: the output says so.
set -euo pipefail

HELPERS=$1 WORK=$2 N=${3:-200} L=${4:-30}
STAMP=$HELPERS/stamp GEN=$HELPERS/bench-gen
CONF=/etc/inotaskd/conf.d/70-bench-unit-rate.conf

units_known=no
# not grep -q: it may exit before inotaskd has written all, whose SIGPIPE then fails the pipeline
inotaskd --dump-config 2>/dev/null | grep '^TaskUnits=' >/dev/null && units_known=yes

cleanup() {
        rm -f "$CONF"
        systemctl reload inotaskd || true
        systemctl stop 'bench-run-*' 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$WORK" && mkdir -p "$WORK/out" "$(dirname "$CONF")"
{
        for mode in direct unit; do
                mkdir -p "$WORK/$mode-rate" "$WORK/$mode-lat"
                for kind in rate lat; do
                        printf '[Watch bench-%s-%s]\nPath=%s/%s-%s\n\n' "$mode" "$kind" "$WORK" "$mode" "$kind"
                        printf '[Rule bench-%s-%s]\nWatch=bench-%s-%s\nOn=IN_CLOSE_WRITE\n' "$mode" "$kind" "$mode" "$kind"
                        if [ $units_known = yes ]; then
                                [ $mode = unit ] && echo "TaskUnits=yes" || echo "TaskUnits=no"
                        fi
                        printf 'Exec=%s %s/out/%s-%s.stamps {name}\n\n' "$STAMP" "$WORK" "$mode" "$kind"
                done
        done
} >"$CONF"
systemctl reload inotaskd

now() { "$GEN" now; }
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
wait_lines() {          # wait_lines FILE COUNT SECONDS
        local end=$((SECONDS + $3))
        while [ "$(lines "$1")" -lt "$2" ]; do
                [ $SECONDS -lt $end ] || { echo "timed out: $(lines "$1") of $2 tasks started ($1)" >&2; return 1; }
                sleep 0.02
        done
}
last() { sort -n "$1" | tail -n 1 | cut -d' ' -f1; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / ((b - a) / 1e9) }'; }
# stats FILE: "median p90" (ms) of the numbers (ns) in FILE
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)];
        printf "%.1f %.1f", m / 1e6, p / 1e6 }'; }

declare -A RATE LAT
for mode in direct unit; do
        start=$("$GEN" create "$WORK/$mode-rate" "$N" 0 16 f | awk '/^START/ { print $2 }')
        wait_lines "$WORK/out/$mode-rate.stamps" "$N" 180
        RATE[$mode]=$(rate "$N" "$start" "$(last "$WORK/out/$mode-rate.stamps")")

        : >"$WORK/$mode-lat.writes"
        for i in $(seq 1 "$L"); do
                t=$(now)
                : >"$WORK/$mode-lat/l$i"
                echo "l$i $t" >>"$WORK/$mode-lat.writes"
                wait_lines "$WORK/out/$mode-lat.stamps" "$i" 30
                sleep 0.1       # pacing, not waiting: probes 100 ms apart measure one task each
        done
        awk 'NR == FNR { w[$1] = $2; next } ($2 in w) { print $1 - w[$2] }' \
                "$WORK/$mode-lat.writes" "$WORK/out/$mode-lat.stamps" >"$WORK/$mode-lat.ns"
        LAT[$mode]=$(stats "$WORK/$mode-lat.ns")
done

start=$(now)
for i in $(seq 1 "$N"); do
        systemd-run --no-block --quiet --collect --unit="bench-run-r$i" "$STAMP" "$WORK/out/run-rate.stamps" "r$i"
done
wait_lines "$WORK/out/run-rate.stamps" "$N" 180
RATE[run]=$(rate "$N" "$start" "$(last "$WORK/out/run-rate.stamps")")
: >"$WORK/run-lat.ns"
for i in $(seq 1 "$L"); do
        t=$(now)
        systemd-run --no-block --quiet --collect --unit="bench-run-l$i" "$STAMP" "$WORK/out/run-lat.stamps" "l$i"
        wait_lines "$WORK/out/run-lat.stamps" "$i" 30
        echo $(( $(tail -n 1 "$WORK/out/run-lat.stamps" | cut -d' ' -f1) - t )) >>"$WORK/run-lat.ns"
        sleep 0.1       # pacing, as above
done
LAT[run]=$(stats "$WORK/run-lat.ns")

unit_note="as a transient unit"
[ $units_known = yes ] || unit_note="NOT a unit: this daemon has no TaskUnits=, so this is direct spawn again"
printf '%-12s %6s %9s %22s  %s\n' mode tasks tasks/s "write->start ms (p50 p90)" ""
printf '%-12s %6s %9s %22s  %s\n' direct "$N" "${RATE[direct]}" "${LAT[direct]}" "TaskUnits=no: the daemon's child"
printf '%-12s %6s %9s %22s  %s\n' unit "$N" "${RATE[unit]}" "${LAT[unit]}" "TaskUnits=yes: $unit_note"
printf '%-12s %6s %9s %22s  %s\n' systemd-run "$N" "${RATE[run]}" "${LAT[run]}" "a loop of systemd-run --no-block"
awk -v u="${RATE[unit]}" -v r="${RATE[run]}" -v d="${RATE[direct]}" 'BEGIN {
        printf "systemd-run rate / unit-mode rate: %.2f (target <= 1.3); direct / unit: %.2f\n", r / u, d / u }'
