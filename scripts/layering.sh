#!/usr/bin/env bash
# layering.sh: fail when a package imports across the layers of design.md section 1.
#
#   wim/**                      standard library and wim/** only (no third-party modules
#                               outside tests); the codecs wim/xpress, wim/lzx, wim/lzms
#                               and the registry hive reader wim/regf import nothing of
#                               the project outside their own subtree
#   index/**, remote/**,        nothing of the project outside their own subtree
#   scheduler/**                (remote/remotetest may import remote, and so on)
#   snapshot/**                 wim/**, index/**, remote/** and snapshot/** only
#   cmd/**                      anything; nothing outside cmd/** imports cmd/**
#
# Test imports follow the same rules, except that tests may use third-party modules; so may
# the xxxtest helper packages (wim/wimtest, remote/remotetest), which only tests import.
# Packages are listed for each GOOS in $LAYERING_GOOS (default "linux windows") with
# the build tags in $GOTAGS (default wimlib), so platform and oracle files are seen.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mod=$(go list -m)
list() {
	local goos
	for goos in ${LAYERING_GOOS:-linux windows}; do
		# Fields: package, its imports, then "|" and its test imports.
		GOOS=$goos go list -e -tags "${GOTAGS-wimlib}" \
			-f '{{.ImportPath}} {{join .Imports " "}} | {{join .TestImports " "}} {{join .XTestImports " "}}' ./...
	done
}

list | sort -u | awk -v mod="$mod" '
	function inproj(p) { return p == mod || index(p, mod "/") == 1 }
	function rel(p) { return p == mod ? "." : substr(p, length(mod) + 2) }
	function under(p, dir) { return p == dir || index(p, dir "/") == 1 }
	function top(p, a) { split(p, a, "/"); return a[1] }
	function std(p, a) { split(p, a, "/"); return a[1] !~ /\./ }
	function codec(p) { return under(p, "wim/xpress") || under(p, "wim/lzx") || under(p, "wim/lzms") || under(p, "wim/regf") }
	function codecroot(p, a) { split(p, a, "/"); return a[1] "/" a[2] }
	function helper(p, n, a) { n = split(p, a, "/"); return a[n] ~ /.test$/ }
	function bad(pkg, imp, why) {
		key = pkg SUBSEP imp
		if (key in seen) return
		seen[key] = 1
		printf "layering: %s imports %s: %s\n", pkg, imp, why
		n++
	}
	# why returns the reason pkg may not import imp, or "" when it may.
	function why(pkg, imp, test,   dep, t) {
		if (!inproj(imp)) {
			if (under(pkg, "wim") && !test && !std(imp))
				return "wim/** uses the standard library only"
			return ""
		}
		dep = rel(imp)
		t = top(pkg)
		if (under(dep, "cmd") && t != "cmd")
			return "only cmd/** may import cmd/**"
		if (t == "wim") {
			if (top(dep) != "wim") return "wim/** imports only wim/**"
			if (codec(pkg) && !test && !under(dep, codecroot(pkg)))
				return "a codec (or wim/regf) imports nothing of the project"
			return ""
		}
		if (t == "index" || t == "remote" || t == "scheduler") {
			if (top(dep) != t) return t "/** imports nothing of the project outside " t "/**"
			return ""
		}
		if (t == "snapshot") {
			if (top(dep) !~ /^(wim|index|remote|snapshot)$/)
				return "snapshot/** imports only wim, index and remote"
			return ""
		}
		return ""
	}
	{
		pkg = rel($1)
		test = helper(pkg)
		for (i = 2; i <= NF; i++) {
			if ($i == "|") { test = 1; continue }
			r = why(pkg, $i, test)
			if (r != "") bad(pkg, inproj($i) ? rel($i) : $i, r)
		}
	}
	END {
		if (n > 0) { printf "layering: %d violation(s) of design.md section 1\n", n; exit 1 }
	}'
