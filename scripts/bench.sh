#!/usr/bin/env bash
# bench.sh: wimsnap against wimlib-imagex (and restic for reference) on real trees.
#
# Trees: a Debian root file system made once with `debootstrap --variant=minbase`
# from the Debian mirror configured in /etc/apt (cached in $BENCH_ROOT), and /usr.
# Operations, each timed to the millisecond, with its peak RSS from /usr/bin/time:
#   capture   wimsnap capture --compress=xpress  vs  wimlib-imagex capture --compress=xpress --unix-data
#   apply     wimsnap apply WIM 1 DIR            vs  wimlib-imagex apply --unix-data (fresh dir, same fs)
#   update    wimsnap append --update-of=1       vs  wimlib-imagex append --update-of=1 (unchanged tree)
#   restic    backup (fresh repo), unchanged re-backup, restore: reference figures only.
#   capture-lzx  wimsnap capture --compress=lzx  vs  wimlib-imagex capture --compress=lzx
#   capture-lzms wimsnap capture --compress=lzms vs  wimlib-imagex capture --compress=lzms (both
#                128 KiB chunks, not solid)
#   apply-lzx    both tools apply the same WIM, wimlib's LZX capture of the tree
#   apply-lzms   both tools apply the same WIM, wimlib's --solid (LZMS, 64 MiB chunks) capture
# Each tool applies the WIM it captured itself. Threads are left at each tool's default.
# Repository group, on a copy of the tree (made once per tree, changed in place), with a fresh
# repository, restic repository and wimsnap index ($WIMSNAP_CACHE_DIR) every round:
#   snapshot  wimsnap snapshot (fresh repo)  vs  restic backup (fresh repo)  vs  wimlib capture
#             --compress=xpress --unix-data; size: repository directory / WIM file bytes
#   resnap    the unchanged tree again: wimsnap snapshot, restic backup (its parent found
#             automatically), wimlib append --update-of=1; size: bytes the run added
#   change    the same after a line is appended to every 100th regular file (~1%)
#   restore   the latest snapshot (the changed tree) into a new directory; wimlib applies
#             image 3, the same tree
#   rollback  wimsnap restore --delete into its restored tree after ~1% of its files changed
#   export    wimsnap export of the latest snapshot into a WIM, which wimlib-imagex verify checks
# S3 group, against one MinIO server ($TOOLS/minio, made by make deps) started for the run on a
# free port of 127.0.0.1 with random credentials and its data in the work directory, and
# stopped on exit; wimsnap and restic each get a bucket ("wimsnap", "restic", made by their
# init) and a fresh repository under it every round, a fresh wimsnap index and restic cache:
#   snapshot  wimsnap snapshot --json (fresh repo)  vs  restic backup (fresh repo)
#   resnap    the unchanged tree again (restic finds its parent itself)
#   restore   the latest snapshot into a new directory (both checked against the tree)
#   check     wimsnap check --read-data of its repository, once (second round); a failure
#             fails the run
#   (lifecycle group: scripts/bench_lifecycle.sh, on $BENCH_ROOT only: a year of nightly
#   snapshots, then check, forget --keep-last=30, prune, against restic)
#   Each step's S3 requests are the difference of MinIO's request counters (its metrics v3
#   endpoint /minio/metrics/v3/api/requests, which is not cached, unlike v2's 10 s) before
#   and after the step, by API name and by kind; wimsnap's own count ("requests" in --json)
#   is shown beside them as a cross-check.
# Page caches cannot be dropped reliably, so every group of runs is done once as a warm-up that
# is not kept, then BENCH_ROUNDS times; the tables show each figure's median over the kept
# rounds (with BENCH_ROUNDS above 1, a table of every kept round's seconds follows, to show the
# spread). Checks of restored trees and exported WIMs are made in the first kept round.
# Trees applied or restored are moved aside, not deleted, until the run ends or free space
# runs short; a measured run starts at least 6 minutes after the run's last deletion. ext4
# without a journal (this machine's root file system) passes over inodes freed in the last
# 60 s when it allocates new ones, 360 s while their inode table block is dirty (as the new
# files make it), reading each one's inode table block: a restore a minute after another
# tool's restored tree was deleted spent a third of its time there, more or less depending
# on which tool came after which deletion. For the same reason, start the bench at least 6
# minutes after deleting a large tree.
#
# Environment:
#   TOOLS          tools cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/wimsnap/tools)
#   BENCH_ROOT     cached debootstrap tree (default $TOOLS/../bench-root)
#   BENCH_TREES    space-separated trees to measure (default "$BENCH_ROOT /usr")
#   BENCH_MIRROR   Debian mirror URL and BENCH_SUITE its suite (default: read from /etc/apt)
#   BENCH_TMPDIR   where WIMs, repositories and applied trees go (default $TMPDIR or /tmp)
#   BENCH_GROUPS   which groups of operations to run: "xpress" (capture, apply, update and
#                  restic), "repo" (repository snapshots against restic and wimlib),
#                  "codecs" (LZX and LZMS) and "s3" (snapshots to and restores from a local
#                  MinIO server, against restic) and "lifecycle" (365 nightly snapshots of the
#                  Debian tree, then check, forget and prune, against restic: ~20 minutes);
#                  default all five
#   BENCH_S3_CONNECTIONS  --connections for wimsnap's S3 commands (default: wimsnap's own)
#   BENCH_CODEC_TREES  the trees the codecs group runs on (default "$BENCH_ROOT": LZX and LZMS
#                  captures of /usr take the better part of an hour on two cores)
#   WIMSNAP        wimsnap binary to measure (default: build bin/wimsnap)
#   BENCH_ROUNDS   kept rounds after the warm-up (default 1); on a shared, noisy machine 3 or 5
#                  give medians that move less between runs
#   BENCH_MIN_FREE_GIB  free space below which the set-aside trees are deleted at once,
#                  before the next run (default 30)
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
BENCH_GROUPS=${BENCH_GROUPS:-"xpress repo codecs s3 lifecycle"}
BENCH_CODEC_TREES=${BENCH_CODEC_TREES:-$BENCH_ROOT}
BENCH_ROUNDS=${BENCH_ROUNDS:-1}
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
	make build # static, as the project ships it
	WIMSNAP=$repo_root/bin/wimsnap
fi

work=$(mktemp -d "$BENCH_TMPDIR/wimsnap-bench.XXXXXX")
minio_pid= # the s3 group's MinIO server, stopped before its data goes
trashed=0 deleted_at= # discard's count of trees set aside; when empty_trash last deleted
cleanup() { stop_minio; remove_tree "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export RESTIC_PASSWORD=wimsnap-bench RESTIC_CACHE_DIR=$work/restic-cache
results=$work/results.tsv
repo_results=$work/repo.tsv # the repo group's rows, plus files_read and files_unchanged
notes=$work/notes.txt       # the repo group's checks, printed as they are
s3_results=$work/s3.tsv     # the s3 group's rows: time, memory, tree bytes, requests
s3_notes=$work/s3-notes.txt # the s3 group's checks
: >"$results"
: >"$repo_results"
: >"$notes"
: >"$s3_results"
: >"$s3_notes"

# discard DIR: moves DIR into the trash, to be deleted by empty_trash; at once when the file
# system has less than BENCH_MIN_FREE_GIB free.
discard() {
	[ -e "$1" ] || return 0
	mkdir -p "$work/trash"
	trashed=$((trashed + 1))
	mv "$1" "$work/trash/$trashed"
	local free
	free=$(df --output=avail -k "$work" | tail -n 1)
	[ "$free" -ge $((${BENCH_MIN_FREE_GIB:-30} * 1024 * 1024)) ] || empty_trash
}

# empty_trash deletes what discard set aside and notes when (deleted_at, in $SECONDS).
empty_trash() {
	[ -e "$work/trash" ] || return 0
	remove_tree "$work/trash"
	deleted_at=$SECONDS
}

# settle waits until 6 minutes have passed since empty_trash last deleted anything.
settle() {
	[ -n "$deleted_at" ] || return 0
	local wait=$((deleted_at + 361 - SECONDS))
	[ "$wait" -gt 0 ] || return 0
	echo "bench.sh: waiting $wait s for inodes freed by the last deletion to age" >&2
	sleep "$wait"
}

# measure LABEL CMD...: runs CMD under /usr/bin/time and sets secs (wall, to the millisecond)
# and kib (peak RSS). CMD's stdout is kept in $work/LABEL.out, its stderr in $work/LABEL.log.
# The wall time is taken around /usr/bin/time, whose %e has only 10 ms steps: too coarse for
# steps of tens of milliseconds such as an unchanged re-snapshot. It includes time's own
# start, about a millisecond, the same for every tool.
measure() {
	local label=$1 log=$work/$1.log out=$work/$1.out t0 t1
	shift
	settle
	sync # start each run without the previous run's dirty pages still being written back
	t0=${EPOCHREALTIME/[.,]/}
	if ! "$TIME" -f '%e %M' -o "$work/time" "$@" >"$out" 2>"$log"; then
		tail -n 20 "$out" "$log" >&2
		die "$label failed ($(head -n 1 "$work/time")): $*"
	fi
	t1=${EPOCHREALTIME/[.,]/}
	read -r _ kib <"$work/time"
	secs=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.3f", us / 1e6 }')
}

# kept: whether this round's figures are kept (every round after the warm-up).
kept() { [ "$round" -ge 2 ]; }

# record TREE OP TOOL SIZE: appends the last measurement if this round is kept.
record() {
	kept || return 0
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$secs" "$kib" "$4" >>"$results"
}

fsize() { stat -c %s "$1"; }
dsize() { du -sb "$1" | cut -f1; }

# read_tree DIR: reads every regular file of DIR, so that each tool's full read of a tree
# (capture, first snapshot) starts on the same page cache. Writes since the tree was last
# read (a round's restores write three copies of it) may have pushed it out of the cache;
# the tool measured first would then pay for the reads that warm it for the others.
read_tree() {
	find "$1" -type f -print0 | xargs -0 -r cat >/dev/null 2>&1 || true
}

# bench_xpress TREE W: XPRESS capture, apply and unchanged update against wimlib, and restic.
bench_xpress() {
	local tree=$1 w=$2
	read_tree "$tree"
	measure ws-capture "$WIMSNAP" capture "$tree" "$w/ws.wim" --compress=xpress
	record "$tree" capture wimsnap "$(fsize "$w/ws.wim")"
	read_tree "$tree"
	measure wl-capture wimlib-imagex capture "$tree" "$w/wl.wim" --compress=xpress --unix-data
	record "$tree" capture wimlib "$(fsize "$w/wl.wim")"

	measure ws-apply "$WIMSNAP" apply "$w/ws.wim" 1 "$w/ws-apply"
	record "$tree" apply wimsnap "$(dsize "$w/ws-apply")"
	discard "$w/ws-apply"
	measure wl-apply wimlib-imagex apply "$w/wl.wim" 1 "$w/wl-apply" --unix-data
	record "$tree" apply wimlib "$(dsize "$w/wl-apply")"
	discard "$w/wl-apply"

	# Size of an unchanged update is what the append added to the file. The new image is
	# named explicitly: its default name, the tree's base name, is taken by image 1.
	# The copies are written out first: wimsnap's append syncs the file it changed,
	# and would otherwise pay for writing out the whole copy (wimlib does not sync).
	cp "$w/ws.wim" "$w/ws-up.wim"
	cp "$w/wl.wim" "$w/wl-up.wim"
	sync "$w/ws-up.wim" "$w/wl-up.wim"
	measure ws-update "$WIMSNAP" append "$tree" "$w/ws-up.wim" --update-of=1 --name=update
	record "$tree" update wimsnap "$(($(fsize "$w/ws-up.wim") - $(fsize "$w/ws.wim")))"
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
	discard "$w/rs-apply"
}

# bench_codecs TREE W: LZX and LZMS captures by each tool, and each tool applying the same LZX
# and LZMS (solid) WIMs that wimlib made.
bench_codecs() {
	local tree=$1 w=$2
	measure ws-capture-lzx "$WIMSNAP" capture "$tree" "$w/ws-lzx.wim" --compress=lzx
	record "$tree" capture-lzx wimsnap "$(fsize "$w/ws-lzx.wim")"
	measure wl-capture-lzx wimlib-imagex capture "$tree" "$w/wl-lzx.wim" --compress=lzx --unix-data
	record "$tree" capture-lzx wimlib "$(fsize "$w/wl-lzx.wim")"
	rm -f "$w/ws-lzx.wim"
	measure ws-capture-lzms "$WIMSNAP" capture "$tree" "$w/ws-lzms.wim" --compress=lzms
	record "$tree" capture-lzms wimsnap "$(fsize "$w/ws-lzms.wim")"
	measure wl-capture-lzms wimlib-imagex capture "$tree" "$w/wl-lzms.wim" --compress=lzms --unix-data
	record "$tree" capture-lzms wimlib "$(fsize "$w/wl-lzms.wim")"
	rm -f "$w/ws-lzms.wim" "$w/wl-lzms.wim"
	wimlib-imagex capture "$tree" "$w/wl-esd.wim" --solid --unix-data >/dev/null
	local c
	for c in lzx esd; do
		measure ws-apply-$c "$WIMSNAP" apply "$w/wl-$c.wim" 1 "$w/ws-apply"
		record "$tree" apply-${c/esd/lzms} wimsnap "$(dsize "$w/ws-apply")"
		discard "$w/ws-apply"
		measure wl-apply-$c wimlib-imagex apply "$w/wl-$c.wim" 1 "$w/wl-apply" --unix-data
		record "$tree" apply-${c/esd/lzms} wimlib "$(dsize "$w/wl-apply")"
		discard "$w/wl-apply"
	done
	rm -f "$w/wl-lzx.wim" "$w/wl-esd.wim"
}

# record_repo TREE OP TOOL SIZE [FILES_READ FILES_UNCHANGED]: record for the repo group.
record_repo() {
	kept || return 0
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$secs" "$kib" "$4" "${5:--}" "${6:--}" >>"$repo_results"
}

# json_int FILE KEY: the first integer value of KEY in the JSON document FILE, else "-".
json_int() {
	awk -v k="\"$2\"" '
		{
			i = index($0, k); if (!i) next
			v = substr($0, i + length(k)); sub(/^[ \t]*:[ \t]*/, "", v)
			if (match(v, /^[0-9]+/)) { print substr(v, 1, RLENGTH); found = 1; exit }
		}
		END { if (!found) print "-" }' "$1"
}

# change_files DIR: appends a line to every 100th regular file under DIR (~1% of them); sets
# changed to how many that was and total to how many regular files DIR holds.
change_files() {
	local f
	changed=0 total=0
	while IFS= read -r -d '' f; do
		total=$((total + 1))
		[ $((total % 100)) -eq 0 ] || continue
		printf 'wimsnap bench change\n' >>"$f"
		changed=$((changed + 1))
	done < <(find "$1" -type f -print0)
}

# tree_list DIR: DIR's entries, sorted, one a line: path, type, mode, owner, group, size (not of
# directories) and modification second (of regular files only).
tree_list() {
	find "$1" -mindepth 1 -printf '%P\t%y\t%m\t%U\t%G\t%s\t%T@\n' |
		awk -F'\t' -v OFS='\t' '{ if ($2 == "d") $6 = "-"; if ($2 == "f") sub(/\..*/, "", $7); else $7 = "-"; print }' |
		LC_ALL=C sort
}

# check_tree TREE SRC DIR WHAT [NOTES]: notes whether DIR, restored by WHAT, lists as SRC does
# (into NOTES, default $notes).
check_tree() {
	local n notes=${5:-$notes}
	tree_list "$2" >"$work/want.lst"
	tree_list "$3" >"$work/got.lst"
	n=$(diff "$work/want.lst" "$work/got.lst" | grep -c '^[<>]' || true)
	if [ "$n" -eq 0 ]; then
		echo "$1: $4: the tree matches its source (names, types, modes, owners, sizes, file mtimes)" >>"$notes"
	else
		echo "$1: $4: $n lines differ from the source (<: source, >: restored tree); the first 10:" >>"$notes"
		diff "$work/want.lst" "$work/got.lst" | grep '^[<>]' | head -n 10 | sed 's/^/    /' >>"$notes" || true
	fi
}

# repo_step TREE OP TOOL REPO CMD...: measures CMD as TOOL's OP and records the bytes it added
# to REPO, a directory or a WIM file (for the first snapshot, REPO's whole size), and for
# wimsnap the files it read and those it took from the parent unopened (its --json summary).
repo_step() {
	local tree=$1 op=$2 tool=$3 repo=$4 before=0 label=$3-$2 nread=- unchanged=-
	shift 4
	[ "$op" = snapshot ] || before=$(dsize "$repo")
	measure "$label" "$@"
	if [ "$tool" = wimsnap ]; then
		nread=$(json_int "$work/$label.out" files_read)
		unchanged=$(json_int "$work/$label.out" files_unchanged)
	fi
	record_repo "$tree" "$op" "$tool" "$(($(dsize "$repo") - before))" "$nread" "$unchanged"
}

# bench_repo TREE SRC W: repository snapshots of SRC, a copy of TREE that this changes, by
# wimsnap and restic, with wimlib-imagex captures and appends beside them: first snapshot,
# unchanged and ~1% changed re-snapshots, restore into a new directory, wimsnap's rollback of
# a changed tree and its export of the latest snapshot as a WIM.
bench_repo() {
	local tree=$1 src=$2 w=$3
	local -x WIMSNAP_CACHE_DIR=$w/ws-cache # a cold index every round
	local ws=(snapshot "$src" --repo "$w/ws-repo" --json) rs=(restic -q -r "$w/rs-repo")
	"$WIMSNAP" init --repo "$w/ws-repo" >/dev/null
	"${rs[@]}" init >/dev/null

	read_tree "$src"
	repo_step "$tree" snapshot wimsnap "$w/ws-repo" "$WIMSNAP" "${ws[@]}"
	read_tree "$src"
	repo_step "$tree" snapshot restic "$w/rs-repo" "${rs[@]}" backup "$src"
	read_tree "$src"
	repo_step "$tree" snapshot wimlib "$w/wl.wim" wimlib-imagex capture "$src" "$w/wl.wim" \
		--compress=xpress --unix-data

	# restic finds its parent itself; wimlib's images need unique names.
	repo_step "$tree" resnap wimsnap "$w/ws-repo" "$WIMSNAP" "${ws[@]}"
	repo_step "$tree" resnap restic "$w/rs-repo" "${rs[@]}" backup "$src"
	repo_step "$tree" resnap wimlib "$w/wl.wim" wimlib-imagex append "$src" "$w/wl.wim" resnap \
		--update-of=1 --unix-data

	change_files "$src"
	if [ "$round" = 2 ]; then
		echo "$tree: change: a line appended to $changed of the $total regular files" >>"$notes"
	fi
	repo_step "$tree" change wimsnap "$w/ws-repo" "$WIMSNAP" "${ws[@]}"
	repo_step "$tree" change restic "$w/rs-repo" "${rs[@]}" backup "$src"
	repo_step "$tree" change wimlib "$w/wl.wim" wimlib-imagex append "$src" "$w/wl.wim" change \
		--update-of=2 --unix-data

	# Everyone restores the changed tree: wimlib's image 3. restic restores under the
	# source's full path.
	measure wimsnap-restore "$WIMSNAP" restore latest --target "$w/ws-apply" --repo "$w/ws-repo"
	record_repo "$tree" restore wimsnap "$(dsize "$w/ws-apply")"
	if [ "$round" = 2 ]; then check_tree "$tree" "$src" "$w/ws-apply" "wimsnap restore"; fi
	measure restic-restore "${rs[@]}" restore latest --target "$w/rs-apply"
	record_repo "$tree" restore restic "$(dsize "$w/rs-apply")"
	discard "$w/rs-apply"
	measure wimlib-restore wimlib-imagex apply "$w/wl.wim" 3 "$w/wl-apply" --unix-data
	record_repo "$tree" restore wimlib "$(dsize "$w/wl-apply")"
	discard "$w/wl-apply"

	# Rollback: ~1% of the restored files changed and one file added, which --delete removes.
	change_files "$w/ws-apply"
	echo stray >"$w/ws-apply/wimsnap-bench-stray"
	measure wimsnap-rollback "$WIMSNAP" restore latest --target "$w/ws-apply" --delete --repo "$w/ws-repo"
	record_repo "$tree" rollback wimsnap "$(dsize "$w/ws-apply")"
	if [ "$round" = 2 ]; then check_tree "$tree" "$src" "$w/ws-apply" "wimsnap rollback"; fi
	discard "$w/ws-apply"

	measure wimsnap-export "$WIMSNAP" export latest "$w/export.wim" --repo "$w/ws-repo"
	record_repo "$tree" export wimsnap "$(fsize "$w/export.wim")"
	if [ "$round" = 2 ]; then
		if wimlib-imagex verify "$w/export.wim" >"$work/verify.log" 2>&1; then
			echo "$tree: export: wimlib-imagex verify passes" >>"$notes"
		else
			echo "$tree: export: wimlib-imagex verify FAILS:" >>"$notes"
			tail -n 5 "$work/verify.log" | sed 's/^/    /' >>"$notes"
		fi
	fi
	rm -f "$w/export.wim" "$w/wl.wim"
}

# random_hex N: 2N random hexadecimal digits.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# http_get PATH: the response, headers and body, of GET PATH on the MinIO server (no curl needed).
http_get() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$s3_port" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" "$s3_port" >&"$fd"
	cat <&"$fd"
	exec {fd}<&-
}

# start_minio: starts MinIO on a free port of 127.0.0.1 with random credentials and its data in
# $work/minio; sets minio_pid, s3_port, s3_url, s3_user and s3_pass. Its request metrics are
# public (MINIO_PROMETHEUS_AUTH_TYPE), so that s3_counts can read them without a token.
start_minio() {
	local bin=$TOOLS/minio dir=$work/minio attempt i log
	[ -x "$bin" ] || die "MinIO missing at $bin: run make deps"
	mkdir -p "$dir"
	s3_user=bench$(random_hex 8) s3_pass=$(random_hex 20)
	local unset=() v
	for v in $(compgen -e); do case "$v" in MINIO_*) unset+=(-u "$v") ;; esac; done
	for attempt in 1 2 3; do
		# A port nothing answers on; another process may still take it first: then retry.
		for i in $(seq 1 50); do
			s3_port=$((20000 + RANDOM % 40000))
			(exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null || break
		done
		log=$dir/server$attempt.log
		env "${unset[@]}" HOME="$dir" MINIO_ROOT_USER="$s3_user" MINIO_ROOT_PASSWORD="$s3_pass" \
			MINIO_BROWSER=off MINIO_UPDATE=off MINIO_PROMETHEUS_AUTH_TYPE=public \
			"$bin" server --quiet --address "127.0.0.1:$s3_port" "$dir/data$attempt" >"$log" 2>&1 &
		minio_pid=$!
		for i in $(seq 1 600); do
			if http_get /minio/health/cluster 2>/dev/null | head -n 1 | grep -q '^HTTP/1\.[01] 200'; then
				s3_url=http://127.0.0.1:$s3_port
				echo "bench.sh: MinIO (pid $minio_pid) serves $s3_url" >&2
				return
			fi
			kill -0 "$minio_pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_minio
		grep -qi 'already in use' "$log" || { tail -n 20 "$log" >&2; die "MinIO did not start (log above)"; }
	done
	die "MinIO found no free port in 3 attempts"
}

# stop_minio: stops the MinIO server start_minio started, if any (SIGKILL after 10 s).
stop_minio() {
	[ -n "$minio_pid" ] || return 0
	local i
	kill "$minio_pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$minio_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$minio_pid" 2>/dev/null || true
	wait "$minio_pid" 2>/dev/null || true
	minio_pid=
}

# s3_counts FILE: MinIO's request counters, "API COUNT" a line (e.g. "PutObject 12"), into FILE.
# They are read until two reads 0.2 s apart agree: a request is counted when the server has
# finished it, which may be just after its client has gone.
s3_counts() {
	local i cur prev=none
	for i in $(seq 1 25); do
		cur=$(http_get /minio/metrics/v3/api/requests | awk '
			/^minio_api_requests_total\{/ && match($0, /name="[^"]*"/) { c[substr($0, RSTART + 6, RLENGTH - 7)] += $NF }
			END { for (n in c) printf "%s %.0f\n", n, c[n] }' | LC_ALL=C sort)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 0.2
	done
	[ -n "$cur" ] || die "no request counters from MinIO's /minio/metrics/v3/api/requests"
	printf '%s\n' "$cur" >"$1"
}

# s3_delta BEFORE AFTER: the requests between two s3_counts: "put get head list delete other
# total detail", kinds by HTTP method as wimsnap counts them (GetBucketLocation and POSTs such as
# multipart uploads and multi-object deletes are "other"), detail "API=N,..." by API name.
s3_delta() {
	awk '
		NR == FNR { b[$1] = $2; next }
		{ d = $2 - b[$1]; if (d <= 0) next
		  if ($1 == "GetBucketLocation") k = "other"
		  else if ($1 ~ /^(Put|Copy)/) k = "put"
		  else if ($1 ~ /^List/) k = "list"
		  else if ($1 ~ /^Get/ || $1 == "SelectObjectContent") k = "get"
		  else if ($1 ~ /^Head/) k = "head"
		  else if ($1 ~ /^(Delete|Abort)/ && $1 != "DeleteMultipleObjects") k = "delete"
		  else k = "other"
		  n[k] += d; total += d; detail = detail (detail == "" ? "" : ",") $1 "=" d }
		END { printf "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", n["put"], n["get"], n["head"], n["list"],
			n["delete"], n["other"], total, detail == "" ? "-" : detail }' "$1" "$2"
}

# s3_step TREE OP TOOL BYTES CMD...: measures CMD as TOOL's OP with the S3 requests it made,
# and for wimsnap the total of its own count ("requests" of its --json summary); BYTES is the
# tree's size, for the rate. Recorded in the kept round.
s3_step() {
	local tree=$1 op=$2 tool=$3 bytes=$4 label=s3-$3-$2 own=- k v
	shift 4
	s3_counts "$work/s3-before"
	measure "$label" "$@"
	s3_counts "$work/s3-after"
	if [ "$tool" = wimsnap ]; then
		own=0
		for k in put get head list delete other; do
			v=$(json_int "$work/$label.out" "$k")
			[ "$v" = - ] && { own=-; break; }
			own=$((own + v))
		done
	fi
	kept || return 0
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tree" "$op" "$tool" "$secs" "$kib" "$bytes" \
		"$(s3_delta "$work/s3-before" "$work/s3-after")" "$own" >>"$s3_results"
}

# bench_s3 TREE W: wimsnap and restic against the MinIO server: first snapshot into a fresh
# repository, unchanged re-snapshot, restore; then wimsnap check --read-data (second round).
bench_s3() {
	local tree=$1 w=$2 name bytes
	name=$(basename "$tree")-$round
	bytes=$(dsize "$tree")
	local -x AWS_ACCESS_KEY_ID=$s3_user AWS_SECRET_ACCESS_KEY=$s3_pass
	local -x WIMSNAP_CACHE_DIR=$w/ws-s3-cache RESTIC_CACHE_DIR=$w/rs-s3-cache # cold every round
	local wsr=(--repo "s3:$s3_url/wimsnap/$name") rs=(restic -q -r "s3:$s3_url/restic/$name")
	[ -z "${BENCH_S3_CONNECTIONS:-}" ] || wsr+=(--connections "$BENCH_S3_CONNECTIONS")
	"$WIMSNAP" init "${wsr[@]}" >/dev/null
	"${rs[@]}" init >/dev/null

	s3_step "$tree" snapshot wimsnap "$bytes" "$WIMSNAP" snapshot "$tree" "${wsr[@]}" --json
	s3_step "$tree" snapshot restic "$bytes" "${rs[@]}" backup "$tree"
	s3_step "$tree" resnap wimsnap "$bytes" "$WIMSNAP" snapshot "$tree" "${wsr[@]}" --json
	s3_step "$tree" resnap restic "$bytes" "${rs[@]}" backup "$tree"

	# restic restores under the source's full path. wimsnap, like wimlib (RP_FIX), re-roots
	# absolute symlinks to inside the tree at the target: on /usr their sizes differ.
	s3_step "$tree" restore wimsnap "$bytes" "$WIMSNAP" restore latest --target "$w/ws-s3-apply" "${wsr[@]}" --json
	if [ "$round" = 2 ]; then check_tree "$tree" "$tree" "$w/ws-s3-apply" "s3: wimsnap restore" "$s3_notes"; fi
	discard "$w/ws-s3-apply"
	s3_step "$tree" restore restic "$bytes" "${rs[@]}" restore latest --target "$w/rs-s3-apply"
	if [ "$round" = 2 ]; then check_tree "$tree" "$tree" "$w/rs-s3-apply$tree" "s3: restic restore" "$s3_notes"; fi
	discard "$w/rs-s3-apply"

	if [ "$round" = 2 ]; then
		s3_step "$tree" check wimsnap "$bytes" "$WIMSNAP" check --read-data "${wsr[@]}"
		echo "$tree: s3: wimsnap check --read-data passes: $(tail -n 1 "$work/s3-wimsnap-check.out")" >>"$s3_notes"
	fi
}

bench_tree() {
	local tree=$1 name round w src
	name=$(basename "$tree")
	[ -d "$tree" ] || die "no such tree: $tree"
	# The repo group changes files: it works on a copy, made once, beside the rounds' folder.
	src=$work/$name-src
	case " $BENCH_GROUPS " in *" repo "*)
		echo "bench.sh: copying $tree" >&2
		cp -a "$tree" "$src" ;;
	esac
	for round in $(seq 1 $((BENCH_ROUNDS + 1))); do
		w=$work/$name
		discard "$w"
		mkdir -p "$w"
		echo "bench.sh: $tree round $round" >&2

		case " $BENCH_GROUPS " in *" xpress "*) bench_xpress "$tree" "$w" ;; esac
		case " $BENCH_GROUPS " in *" repo "*) bench_repo "$tree" "$src" "$w" ;; esac
		case " $BENCH_GROUPS " in *" codecs "*)
			case " $BENCH_CODEC_TREES " in *" $tree "*) bench_codecs "$tree" "$w" ;; esac ;;
		esac
		case " $BENCH_GROUPS " in *" s3 "*) bench_s3 "$tree" "$w" ;; esac
	done
	discard "$w"
	discard "$src"
	case " $BENCH_GROUPS " in *" lifecycle "*)
		if [ "$tree" = "$BENCH_ROOT" ]; then
			WIMSNAP=$WIMSNAP TIME=$TIME scripts/bench_lifecycle.sh "$tree" "$work/lifecycle" >>"$work/lifecycle.txt"
		fi ;;
	esac
}

case " $BENCH_GROUPS " in *" s3 "*) start_minio ;; esac
for tree in $BENCH_TREES; do
	bench_tree "$tree"
done
stop_minio

# medians FILE: rewrites FILE, whose rows are TREE OP TOOL SECONDS KIB ... with one row per kept
# round, to one row per TREE OP TOOL: the median seconds and peak memory of its rounds (the
# mean of the middle two for an even count), the other fields from its last round. Rows keep
# the order in which their TREE OP TOOL first came.
medians() {
	awk -F'\t' -v OFS='\t' '
		function median(list,   v, n, i, j, x) {
			n = split(list, v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		{ k = $1 SUBSEP $2 SUBSEP $3; if (!(k in row)) order[++n] = k; row[k] = $0; secs[k] = secs[k] " " $4; kib[k] = kib[k] " " $5 }
		END {
			for (i = 1; i <= n; i++) {
				k = order[i]; c = split(row[k], f, "\t")
				f[4] = sprintf("%.3f", median(secs[k])); f[5] = sprintf("%.0f", median(kib[k]))
				line = f[1]; for (j = 2; j <= c; j++) line = line OFS f[j]; print line
			}
		}' "$1" >"$1.median"
	mv "$1.median" "$1"
}

# rounds_table FILE...: every kept round's seconds of each TREE OP TOOL, from the rows of FILEs.
rounds_table() {
	awk -F'\t' '
		{ k = $1 SUBSEP $2 SUBSEP $3; if (!(k in secs)) order[++n] = k; secs[k] = secs[k] sprintf(" %8.3f", $4)
		  if (length($1) > w) w = length($1) }
		END {
			for (i = 1; i <= n; i++) { split(order[i], p, SUBSEP); printf "%-*s %-8s %-8s%s\n", w, p[1], p[2], p[3], secs[order[i]] }
		}' "$@"
}

all=$work/all.tsv
if [ "$BENCH_ROUNDS" -gt 1 ]; then
	rounds_table "$results" "$repo_results" >"$work/rounds.txt"
	rounds_table "$s3_results" | sed 's/^/s3: /' >>"$work/rounds.txt"
fi
for f in "$results" "$repo_results" "$s3_results"; do medians "$f"; done
cat "$results" "$repo_results" >"$all"
if [ -s "$all" ]; then
	echo
	echo "Absolute figures (median of $BENCH_ROUNDS kept round(s); size: WIM/repository bytes, applied or restored tree bytes,"
	echo "bytes added by an update, resnap or change, exported WIM bytes)"
	# The tables read their results twice: first for the width of the tree column.
	awk -F'\t' 'NR == FNR { if (length($1) > w) w = length($1); next }
		FNR == 1 { printf "%-*s %-8s %-8s %9s %10s %12s\n", w, "tree", "op", "tool", "seconds", "peak_MiB", "size_MiB" }
		{ printf "%-*s %-8s %-8s %9.3f %10.1f %12.1f\n", w, $1, $2, $3, $4, $5 / 1024, $6 / 1048576 }' "$all" "$all"
fi
if [ -s "$results" ]; then
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
fi
if [ -s "$repo_results" ]; then
	echo
	echo "Repository group: speedup = other seconds / wimsnap seconds (>1: wimsnap is faster);"
	echo "size and memory = wimsnap / other (<1: wimsnap is smaller, leaner). Size: repository or WIM"
	echo "for snapshot, bytes added for resnap (unchanged tree) and change (~1% of files), restored tree."
	awk -F'\t' '
		function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
		function kib(b) { return sprintf("%.0f KiB", b / 1024) }
		NR == FNR { if (length($1) > w) w = length($1); next }
		{
			k = $1 SUBSEP $2; t[k, $3] = $4; m[k, $3] = $5; s[k, $3] = $6
			if ($3 == "wimsnap") { fr[k] = $7; fu[k] = $8 }
			if (!($1 in seen)) { seen[$1] = 1; trees[++n] = $1 }
		}
		END {
			nops = split("snapshot resnap change restore", ops, " ")
			split("restic wimlib", others, " ")
			printf "%-*s %-8s %-8s %8s %8s %8s\n", w, "tree", "step", "vs", "speedup", "size", "memory"
			for (i = 1; i <= n; i++) for (j = 1; j <= nops; j++) for (l = 1; l <= 2; l++) {
				k = trees[i] SUBSEP ops[j]; o = others[l]
				if (!((k, o) in t) || !((k, "wimsnap") in t)) continue
				printf "%-*s %-8s %-8s %8s %8s %8s\n", w, trees[i], ops[j], o,
					ratio(t[k, o], t[k, "wimsnap"]), ratio(s[k, "wimsnap"], s[k, o]), ratio(m[k, "wimsnap"], m[k, o])
			}
			print ""
			for (i = 1; i <= n; i++) {
				for (j = 1; j <= 3; j++) {
					k = trees[i] SUBSEP ops[j]
					if (!((k, "wimsnap") in t)) continue
					printf "%-*s %-8s wimsnap read %s files, took %s unchanged; added %s (restic %s, wimlib %s)\n",
						w, trees[i], ops[j], fr[k], fu[k], kib(s[k, "wimsnap"]), kib(s[k, "restic"]), kib(s[k, "wimlib"])
				}
				k = trees[i] SUBSEP "rollback"; r = trees[i] SUBSEP "restore"
				if ((k, "wimsnap") in t)
					printf "%-*s %-8s %.3f s: %s of the full restore (%.3f s)\n", w, trees[i], "rollback",
						t[k, "wimsnap"], ratio(t[k, "wimsnap"], t[r, "wimsnap"]), t[r, "wimsnap"]
				k = trees[i] SUBSEP "export"; r = trees[i] SUBSEP "snapshot"
				if ((k, "wimsnap") in t)
					printf "%-*s %-8s %.2f s: %s of the first snapshot (%.2f s); WIM %.1f MiB, repository %.1f MiB\n",
						w, trees[i], "export", t[k, "wimsnap"], ratio(t[k, "wimsnap"], t[r, "wimsnap"]), t[r, "wimsnap"],
						s[k, "wimsnap"] / 1048576, s[r, "wimsnap"] / 1048576
			}
		}' "$repo_results" "$repo_results"
	echo
	cat "$notes"
fi
if [ -s "$s3_results" ]; then
	echo
	echo "S3 group: wimsnap and restic against one MinIO server on 127.0.0.1 (median of $BENCH_ROUNDS kept round(s); wimsnap"
	echo "--connections ${BENCH_S3_CONNECTIONS:-default}, restic's defaults). MiB/s: the tree's bytes (du -sb) / seconds."
	echo "Requests: those MinIO counted during the step, by HTTP method (other: GetBucketLocation, POSTs);"
	echo "own: wimsnap's count in its --json summary (check has none)."
	awk -F'\t' 'NR == FNR { if (length($1) > w) w = length($1); next }
		FNR == 1 { printf "%-*s %-8s %-8s %8s %8s %9s %8s %7s %7s %6s %6s %6s %6s %8s\n", w, "tree", "op", "tool",
			"seconds", "MiB/s", "peak_MiB", "requests", "put", "get", "head", "list", "delete", "other", "own" }
		{ rate = $2 == "check" || $4 <= 0 ? "-" : sprintf("%.1f", $6 / 1048576 / $4)
		  printf "%-*s %-8s %-8s %8.2f %8s %9.1f %8d %7d %7d %6d %6d %6d %6d %8s\n", w, $1, $2, $3,
			$4, rate, $5 / 1024, $13, $7, $8, $9, $10, $11, $12, $15 }' "$s3_results" "$s3_results"
	echo
	echo "S3 ratios restic / wimsnap (>1: wimsnap is faster, leaner, sends fewer requests)"
	awk -F'\t' '
		function ratio(a, b) { return b <= 0 ? "-" : a / b >= 0.1 || a == 0 ? sprintf("%.2f", a / b) : sprintf("%.2g", a / b) }
		NR == FNR { if (length($1) > w) w = length($1); next }
		{ k = $1 SUBSEP $2; t[k, $3] = $4; m[k, $3] = $5; r[k, $3] = $13; for (i = 7; i <= 10; i++) q[k, $3, i] = $i
		  if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
		END {
			printf "%-*s %-8s %8s %8s %9s %8s %8s %8s %8s\n", w, "tree", "op", "time", "memory", "requests", "put", "get", "head", "list"
			for (i = 1; i <= n; i++) {
				k = order[i]; split(k, p, SUBSEP)
				if (!((k, "restic") in t) || !((k, "wimsnap") in t)) continue
				printf "%-*s %-8s %8s %8s %9s %8s %8s %8s %8s\n", w, p[1], p[2], ratio(t[k, "restic"], t[k, "wimsnap"]),
					ratio(m[k, "restic"], m[k, "wimsnap"]), ratio(r[k, "restic"], r[k, "wimsnap"]),
					ratio(q[k, "restic", 7], q[k, "wimsnap", 7]), ratio(q[k, "restic", 8], q[k, "wimsnap", 8]),
					ratio(q[k, "restic", 9], q[k, "wimsnap", 9]), ratio(q[k, "restic", 10], q[k, "wimsnap", 10])
			}
		}' "$s3_results" "$s3_results"
	echo
	echo "S3 requests by API name"
	awk -F'\t' '{ d = $14; gsub(/,/, " ", d); printf "%s %s %s: %s\n", $1, $2, $3, d
		if ($3 == "wimsnap" && $15 != "-" && $15 != $13)
			printf "%s %s wimsnap: its own count (%s) differs from the server'"'"'s (%s)\n", $1, $2, $15, $13 }' "$s3_results"
	echo
	cat "$s3_notes"
fi
if [ -s "$work/rounds.txt" ]; then
	echo
	echo "Seconds in each of the $BENCH_ROUNDS kept rounds (the tables above show their medians)"
	cat "$work/rounds.txt"
fi
if [ -s "$work/lifecycle.txt" ]; then
	cat "$work/lifecycle.txt"
fi
