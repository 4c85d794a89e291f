#!/usr/bin/env bash
# bench_lifecycle.sh TREE WORKDIR: retention on a year of nightly snapshots, wimsnap against restic.
#
# A copy of TREE gets N nightly snapshots (default 365, $BENCH_LIFECYCLE_SNAPSHOTS) into a local
# wimsnap repository and a local restic repository; each night adds a file of 64 KiB of new random
# data and appends a line to a log file. Then, each timed with /usr/bin/time (wall seconds, peak
# RSS) for both tools:
#   check      the structure check with all N snapshots
#   forget     forget --keep-last=30 (manifests only)
#   prune      prune of what the N-30 forgotten snapshots alone used
#   check-30   the structure check again, with 30 snapshots
#   prune-30   prune again, with nothing to do
# Memory that grows with the number of chunks, not with snapshots times files, shows as check and
# prune needing about as much with N snapshots as with 30 (the chunks are nearly the same).
# Environment: WIMSNAP (binary), TIME (/usr/bin/time), BENCH_LIFECYCLE_SNAPSHOTS.
set -euo pipefail

tree=$1 w=$2
n=${BENCH_LIFECYCLE_SNAPSHOTS:-365}
TIME=${TIME:-/usr/bin/time}
WIMSNAP=${WIMSNAP:?}
die() { echo "bench_lifecycle.sh: $*" >&2; exit 1; }

src=$w/src
ws=(--repo "$w/ws-repo")
rs=(restic -q -r "$w/restic")
export RESTIC_PASSWORD=${RESTIC_PASSWORD:-wimsnap-bench} WIMSNAP_CACHE_DIR=$w/ws-cache
export RESTIC_CACHE_DIR=$w/restic-cache
results=$w/lifecycle.tsv

# measure OP TOOL CMD...: runs CMD under time and records seconds and peak KiB.
measure() {
	local op=$1 tool=$2
	shift 2
	sync
	if ! "$TIME" -f '%e %M' -o "$w/time" "$@" >"$w/$tool-$op.out" 2>"$w/$tool-$op.log"; then
		tail -n 20 "$w/$tool-$op.out" "$w/$tool-$op.log" >&2
		die "$tool $op failed: $*"
	fi
	read -r secs kib <"$w/time"
	printf '%s\t%s\t%s\t%s\n' "$op" "$tool" "$secs" "$kib" >>"$results"
}

rm -rf "$w" && mkdir -p "$w"
: >"$results"
cp -a "$tree" "$src"
mkdir -p "$src/var/lib/wimsnap-bench"
"$WIMSNAP" init "${ws[@]}" >/dev/null
"${rs[@]}" init >/dev/null
echo "bench_lifecycle.sh: $n nightly snapshots of $tree" >&2
start=$(date +%s)
for ((day = 1; day <= n; day++)); do
	head -c 65536 /dev/urandom >"$src/var/lib/wimsnap-bench/day-$day.bin"
	echo "night $day" >>"$src/var/lib/wimsnap-bench/log"
	"$WIMSNAP" snapshot "$src" "${ws[@]}" --host=bench >/dev/null 2>>"$w/snapshots.log" ||
		die "wimsnap snapshot of night $day failed: $(tail -n 3 "$w/snapshots.log")"
	"${rs[@]}" backup --host=bench "$src" >/dev/null 2>>"$w/snapshots.log" ||
		die "restic backup of night $day failed"
	if ((day % 50 == 0)); then echo "bench_lifecycle.sh: night $day ($(($(date +%s) - start)) s)" >&2; fi
done

measure check wimsnap "$WIMSNAP" check "${ws[@]}"
measure check restic "${rs[@]}" check
measure forget wimsnap "$WIMSNAP" forget --keep-last=30 "${ws[@]}"
measure forget restic "${rs[@]}" forget --keep-last 30
measure prune wimsnap "$WIMSNAP" prune "${ws[@]}" --json
measure prune restic "${rs[@]}" prune
measure check-30 wimsnap "$WIMSNAP" check "${ws[@]}"
measure check-30 restic "${rs[@]}" check
measure prune-30 wimsnap "$WIMSNAP" prune "${ws[@]}"
measure prune-30 restic "${rs[@]}" prune
"$WIMSNAP" check --read-data "${ws[@]}" >"$w/final-check.out" 2>&1 || die "wimsnap check --read-data fails after prune"

echo
echo "Lifecycle: $n nightly snapshots of $(basename "$tree") (64 KiB new each night), forget --keep-last=30,"
echo "prune; local repositories. speedup = restic seconds / wimsnap seconds; memory = wimsnap / restic."
awk -F'\t' '
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
	{ t[$1, $2] = $3; m[$1, $2] = $4; if (!($1 in seen)) { seen[$1] = 1; ops[++k] = $1 } }
	END {
		printf "%-9s %10s %10s %10s %10s %8s %8s\n", "op", "ws_sec", "restic_sec", "ws_MiB", "restic_MiB", "speedup", "memory"
		for (i = 1; i <= k; i++) {
			o = ops[i]
			sp = ratio(t[o, "restic"], t[o, "wimsnap"])
			me = ratio(m[o, "wimsnap"], m[o, "restic"])
			printf "%-9s %10.2f %10.2f %10.1f %10.1f %8s %8s\n", o, t[o, "wimsnap"], t[o, "restic"],
				m[o, "wimsnap"] / 1024, m[o, "restic"] / 1024, sp, me
		}
	}' "$results"
echo "wimsnap prune: $(tr -d '\n' <"$w/wimsnap-prune.out" | grep -o '"packs_deleted": *[0-9]*, *"packs_repacked": *[0-9]*' || true)"
echo "wimsnap repository after: $(du -sh "$w/ws-repo" | cut -f1), restic: $(du -sh "$w/restic" | cut -f1)"
rm -rf "$w"
