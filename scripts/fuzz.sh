#!/usr/bin/env bash
# fuzz.sh [PACKAGE...]: runs every fuzz target of the packages (default ./...), one after
# another, for $FUZZTIME each, shrinking new inputs for $FUZZMINIMIZETIME (see the Makefile's
# fuzz target, which calls it), with the build tags in $GOTAGS.
#
# It fails on the first target that fails, with one exception: a bare "context deadline
# exceeded" at the end of a duration -fuzztime, with no failing input written, is a race in
# Go's fuzzing coordinator (go.dev/issue/75804, fixed in Go 1.27; Go 1.26 has it), not a
# finding. That is reported and the run goes on. A count -fuzztime (FUZZTIME=100000x) has no
# deadline to race.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
GOTAGS=${GOTAGS:-wimlib}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-1000x}
[ $# -gt 0 ] || set -- ./...

log=$(mktemp)
trap 'rm -f "$log"' EXIT
raced=0
for pkg in $("$GO" list -tags "$GOTAGS" "$@"); do
	list=$("$GO" test -tags "$GOTAGS" -list '^Fuzz' "$pkg")
	for target in $(grep '^Fuzz' <<<"$list" || true); do
		echo "== $pkg $target ($FUZZTIME)"
		if "$GO" test -tags "$GOTAGS" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" \
			-fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" 2>&1 | tee "$log"; then
			continue
		fi
		if grep -q 'Failing input written to' "$log" || ! grep -qx '    context deadline exceeded' "$log"; then
			echo "fuzz.sh: $pkg $target failed" >&2
			exit 1
		fi
		echo "fuzz.sh: $pkg $target: a bare 'context deadline exceeded' at the end of -fuzztime," \
			"no failing input: Go's coordinator race (go.dev/issue/75804), not a finding; going on" >&2
		raced=$((raced + 1))
	done
done
if [ "$raced" -gt 0 ]; then
	echo "fuzz.sh: no finding; $raced target(s) ended in the coordinator race above" >&2
fi
