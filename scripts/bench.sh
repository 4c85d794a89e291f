#!/usr/bin/env bash
# bench.sh: wimsnap against wimlib-imagex (and restic for reference) on real trees.
#
# Trees: a Debian root file system made once with `debootstrap --variant=minbase`
# from the Debian mirror configured in /etc/apt (cached in $BENCH_ROOT), and /usr.
# Operations, each timed with /usr/bin/time (wall seconds, peak RSS):
#   capture   wimsnap capture --compress=xpress  vs  wimlib-imagex capture --compress=xpress --unix-data
#   apply     wimsnap apply WIM 1 DIR            vs  wimlib-imagex apply --unix-data (fresh dir, same fs)
#   update    wimsnap append --update-of=1       vs  wimlib-imagex append --update-of=1 (unchanged tree)
#   restic    backup (fresh repo), unchanged re-backup, restore: reference figures only.
#   capture-lzx  wimsnap capture --compress=lzx  vs  wimlib-imagex capture --compress=lzx
#   apply-lzx    both tools apply the same WIM, wimlib's LZX capture of the tree
#   apply-lzms   both tools apply the same WIM, wimlib's --solid (LZMS, 64 MiB chunks) capture
# Each tool applies the WIM it captured itself. Threads are left at each tool's default.
# Page caches cannot be dropped reliably, so every group of runs is done twice and the
# second (warm) round is kept.
#
# Environment:
#   TOOLS          tools cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/wimsnap/tools)
#   BENCH_ROOT     cached debootstrap tree (default $TOOLS/../bench-root)
#   BENCH_TREES    space-separated trees to measure (default "$BENCH_ROOT /usr")
#   BENCH_MIRROR   Debian mirror URL and BENCH_SUITE its suite (default: read from /etc/apt)
#   BENCH_TMPDIR   where WIMs, repositories and applied trees go (default $TMPDIR or /tmp)
#   BENCH_GROUPS   which groups of operations to run: "xpress" (capture, apply, update and
#                  restic) and "codecs" (LZX and LZMS); default both
#   BENCH_CODEC_TREES  the trees the codecs group runs on (default "$BENCH_ROOT": LZX and LZMS
#                  captures of /usr take the better part of an hour on two cores)
#   WIMSNAP        wimsnap binary to measure (default: build bin/wimsnap)
# Run it as root (make bench does): debootstrap needs root (sudo is used otherwise), and the
# Debian tree holds files only root may read and device nodes only root may create.
# Usage: scripts/bench.sh [--prepare]   (--prepare only makes the debootstrap tree)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

TOOLS=${TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/wimsnap/tools}
BENCH_ROOT=${BENCH_ROOT:-$(dirname "$TOOLS")/bench-root}
BENCH_TREES=${BENCH_TREES:-"$BENCH_ROOT /usr"}
BENCH_TMPDIR=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
BENCH_GROUPS=${BENCH_GROUPS:-"xpress codecs"}
BENCH_CODEC_TREES=${BENCH_CODEC_TREES:-$BENCH_ROOT}
TIME=/usr/bin/time

die() { echo "bench.sh: $*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_sources prints "URI SUITE" for every enabled deb source, one-line and deb822 formats.
apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk '
			function flush(   n, m, i, j, U, S) {
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") {
					n = split(uris, U, /[ \t]+/); m = split(suites, S, /[ \t]+/)
					for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
						if (U[i] != "" && S[j] != "") print U[i], S[j]
				}
				types = uris = suites = ""; enabled = "yes"
			}
			BEGIN { enabled = "yes" }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[A-Za-z-]+:/ {
				key = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
				gsub(/^[ \t]+|[ \t]+$/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush() }' "$f"
	done
}

# debian_mirror sets mirror and suite: the first source that is a main Debian suite
# (not -security, -updates or -backports) that debootstrap has a script for.
debian_mirror() {
	mirror=${BENCH_MIRROR:-}
	suite=${BENCH_SUITE:-}
	if [ -n "$mirror" ] && [ -n "$suite" ]; then return; fi
	local u s
	while read -r u s; do
		case "$s" in *-*|*/*) continue ;; esac
		case "$u" in *security*) continue ;; esac
		[ -e "/usr/share/debootstrap/scripts/$s" ] || continue
		mirror=${mirror:-$u}
		suite=${suite:-$s}
		return
	done < <(apt_sources)
	die "no Debian mirror found in /etc/apt/sources.list(.d); set BENCH_MIRROR and BENCH_SUITE"
}

# prepare_root makes $BENCH_ROOT once; an interrupted run leaves only $BENCH_ROOT.partial,
# which the next run removes.
prepare_root() {
	[ -d "$BENCH_ROOT" ] && return
	command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || die "debootstrap missing: run make deps"
	debian_mirror
	local partial=$BENCH_ROOT.partial start
	remove_tree "$partial"
	mkdir -p "$(dirname "$BENCH_ROOT")"
	echo "bench.sh: debootstrap --variant=minbase $suite $mirror -> $BENCH_ROOT" >&2
	start=$(date +%s)
	as_root env PATH="/usr/sbin:/sbin:$PATH" debootstrap --variant=minbase "$suite" "$partial" "$mirror" \
		>"$partial.log" 2>&1 || { tail -n 30 "$partial.log" >&2; die "debootstrap failed (log: $partial.log)"; }
	mv "$partial" "$BENCH_ROOT"
	rm -f "$partial.log"
	echo "bench.sh: debootstrap took $(($(date +%s) - start)) s" >&2
}

# remove_tree deletes a directory without crossing into anything mounted below it.
remove_tree() {
	[ -e "$1" ] || return 0
	local m
	for m in proc sys dev/pts dev; do
		mountpoint -q "$1/$m" 2>/dev/null && as_root umount -l "$1/$m" || true
	done
	rm -rf --one-file-system "$1" 2>/dev/null || as_root rm -rf --one-file-system "$1"
}

if [ "${1:-}" = "--prepare" ]; then
	prepare_root
	exit 0
fi

for tool in wimlib-imagex restic "$TIME"; do
	command -v "$tool" >/dev/null || die "$tool missing: run make deps"
done
prepare_root

if [ -z "${WIMSNAP:-}" ]; then
	go build -o bin/wimsnap ./cmd/wimsnap
	WIMSNAP=$repo_root/bin/wimsnap
fi

work=$(mktemp -d "$BENCH_TMPDIR/wimsnap-bench.XXXXXX")
cleanup() { remove_tree "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export RESTIC_PASSWORD=wimsnap-bench RESTIC_CACHE_DIR=$work/restic-cache
results=$work/results.tsv
: >"$results"

# measure LABEL CMD...: runs CMD under /usr/bin/time and sets secs and kib.
measure() {
	local label=$1 log=$work/$1.log
	shift
	sync # start each run without the previous run's dirty pages still being written back
	if ! "$TIME" -f '%e %M' -o "$work/time" "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "$label failed: $*"
	fi
	read -r secs kib <"$work/time"
}

# record TREE OP TOOL SIZE: appends the last measurement if this is the kept round.
record() {
	[ "$round" = 2 ] || return 0
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$secs" "$kib" "$4" >>"$results"
}

fsize() { stat -c %s "$1"; }
dsize() { du -sb "$1" | cut -f1; }

# bench_xpress TREE W: XPRESS capture, apply and unchanged update against wimlib, and restic.
bench_xpress() {
	local tree=$1 w=$2
	measure ws-capture "$WIMSNAP" capture "$tree" "$w/ws.wim" --compress=xpress
	record "$tree" capture wimsnap "$(fsize "$w/ws.wim")"
	measure wl-capture wimlib-imagex capture "$tree" "$w/wl.wim" --compress=xpress --unix-data
	record "$tree" capture wimlib "$(fsize "$w/wl.wim")"

	measure ws-apply "$WIMSNAP" apply "$w/ws.wim" 1 "$w/ws-apply"
	record "$tree" apply wimsnap "$(dsize "$w/ws-apply")"
	remove_tree "$w/ws-apply"
	measure wl-apply wimlib-imagex apply "$w/wl.wim" 1 "$w/wl-apply" --unix-data
	record "$tree" apply wimlib "$(dsize "$w/wl-apply")"
	remove_tree "$w/wl-apply"

	# Size of an unchanged update is what the append added to the file. The new image is
	# named explicitly: its default name, the tree's base name, is taken by image 1.
	cp "$w/ws.wim" "$w/ws-up.wim"
	measure ws-update "$WIMSNAP" append "$tree" "$w/ws-up.wim" --update-of=1 --name=update
	record "$tree" update wimsnap "$(($(fsize "$w/ws-up.wim") - $(fsize "$w/ws.wim")))"
	cp "$w/wl.wim" "$w/wl-up.wim"
	measure wl-update wimlib-imagex append "$tree" "$w/wl-up.wim" update --update-of=1 --unix-data
	record "$tree" update wimlib "$(($(fsize "$w/wl-up.wim") - $(fsize "$w/wl.wim")))"
	rm -f "$w/ws-up.wim" "$w/wl-up.wim"

	restic init -q -r "$w/restic" >/dev/null
	measure rs-backup restic -q -r "$w/restic" backup "$tree"
	record "$tree" capture restic "$(dsize "$w/restic")"
	local before
	before=$(dsize "$w/restic")
	measure rs-update restic -q -r "$w/restic" backup "$tree"
	record "$tree" update restic "$(($(dsize "$w/restic") - before))"
	measure rs-restore restic -q -r "$w/restic" restore latest --target "$w/rs-apply"
	record "$tree" apply restic "$(dsize "$w/rs-apply")"
	remove_tree "$w/rs-apply"
}

# bench_codecs TREE W: LZX capture by each tool, and each tool applying the same LZX and LZMS
# (solid) WIMs that wimlib made.
bench_codecs() {
	local tree=$1 w=$2
	measure ws-capture-lzx "$WIMSNAP" capture "$tree" "$w/ws-lzx.wim" --compress=lzx
	record "$tree" capture-lzx wimsnap "$(fsize "$w/ws-lzx.wim")"
	measure wl-capture-lzx wimlib-imagex capture "$tree" "$w/wl-lzx.wim" --compress=lzx --unix-data
	record "$tree" capture-lzx wimlib "$(fsize "$w/wl-lzx.wim")"
	rm -f "$w/ws-lzx.wim"
	wimlib-imagex capture "$tree" "$w/wl-esd.wim" --solid --unix-data >/dev/null
	local c
	for c in lzx esd; do
		measure ws-apply-$c "$WIMSNAP" apply "$w/wl-$c.wim" 1 "$w/ws-apply"
		record "$tree" apply-${c/esd/lzms} wimsnap "$(dsize "$w/ws-apply")"
		remove_tree "$w/ws-apply"
		measure wl-apply-$c wimlib-imagex apply "$w/wl-$c.wim" 1 "$w/wl-apply" --unix-data
		record "$tree" apply-${c/esd/lzms} wimlib "$(dsize "$w/wl-apply")"
		remove_tree "$w/wl-apply"
	done
	rm -f "$w/wl-lzx.wim" "$w/wl-esd.wim"
}

bench_tree() {
	local tree=$1 name round w
	name=$(basename "$tree")
	[ -d "$tree" ] || die "no such tree: $tree"
	for round in 1 2; do
		w=$work/$name
		remove_tree "$w"
		mkdir -p "$w"
		echo "bench.sh: $tree round $round" >&2

		case " $BENCH_GROUPS " in *" xpress "*) bench_xpress "$tree" "$w" ;; esac
		case " $BENCH_GROUPS " in *" codecs "*)
			case " $BENCH_CODEC_TREES " in *" $tree "*) bench_codecs "$tree" "$w" ;; esac ;;
		esac
	done
	remove_tree "$w"
}

for tree in $BENCH_TREES; do
	bench_tree "$tree"
done

echo
echo "Absolute figures (second of two rounds; size: WIM/repository bytes, applied tree bytes, bytes added by the update)"
# Both tables read the results twice: first for the width of the tree column.
awk -F'\t' 'NR == FNR { if (length($1) > w) w = length($1); next }
	FNR == 1 { printf "%-*s %-8s %-8s %9s %10s %12s\n", w, "tree", "op", "tool", "seconds", "peak_MiB", "size_MiB" }
	{ printf "%-*s %-8s %-8s %9.2f %10.1f %12.1f\n", w, $1, $2, $3, $4, $5 / 1024, $6 / 1048576 }' "$results" "$results"
echo
echo "Ratios other/wimsnap (>1: wimsnap is faster, smaller, leaner)"
awk -F'\t' '
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
	NR == FNR { if (length($1) > w) w = length($1); next }
	{ k = $1 SUBSEP $2; t[k, $3] = $4; m[k, $3] = $5; s[k, $3] = $6; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
	END {
		printf "%-*s %-8s %-8s %8s %8s %8s\n", w, "tree", "op", "vs", "time", "size", "memory"
		for (i = 1; i <= n; i++) {
			k = order[i]; split(k, p, SUBSEP)
			split("wimlib restic", others, " ")
			for (j = 1; j <= 2; j++) {
				o = others[j]
				if (!((k, o) in t) || !((k, "wimsnap") in t)) continue
				printf "%-*s %-8s %-8s %8s %8s %8s\n", w, p[1], p[2], o,
					ratio(t[k, o], t[k, "wimsnap"]), ratio(s[k, o], s[k, "wimsnap"]), ratio(m[k, o], m[k, "wimsnap"])
			}
		}
	}' "$results" "$results"
