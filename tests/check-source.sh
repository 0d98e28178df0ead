#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check-source.sh — sesame's source checker (curl's checksrc spirit):
# the SPDX licence tag at the top of every source, script, build and test
# file, trailing whitespace, banned C functions in shipped code, and C
# files without a comment saying what they are for.  Prints FILE:LINE:
# problem; run by `make check`, or by hand: tests/check-source.sh [SRCDIR].
set -eu

srcdir=${1:-${SESAME_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}}
cd "$srcdir"

# C sources and headers, relative to srcdir, in a stable order.
c_files() {
	for d in "$@"; do
		[ -d "$d" ] || continue
		find "$d" \( -name .libs -o -name .deps \) -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print
	done | LC_ALL=C sort
}

# Shipped code: the banned functions are checked here.
SHIPPED_DIRS="core cli client plugins daemon pam examples"
# Everything else we write by hand.
OTHER_DIRS="include tests fuzz bench"

shipped=$(c_files $SHIPPED_DIRS)
other=$(c_files $OTHER_DIRS)
text=$(
	{
		ls configure.ac Makefile.am autogen.sh ./*.pc.in .gitignore .clang-format 2>/dev/null | sed 's|^\./||' || true
		for d in $SHIPPED_DIRS $OTHER_DIRS doc etc scripts .ci; do
			[ -d "$d" ] || continue
			find "$d" \( -name .libs -o -name .deps -o -name node_modules \) -prune -o -type f \
				\( -name '*.am' -o -name '*.sh' -o -name '*.in' -o -name '*.json' -o -name '*.map' \
				-o -name '*.js' -o -name '*.mjs' -o -name '*.lua' \
				-o -path 'scripts/*' -o -path '.ci/*' -o -path 'tests/interop/run' -o -path 'fuzz/run-smoke' \
				-o -name Makefile -o -name README \) -print
		done
	} | LC_ALL=C sort -u
)

# The lists are one path a line; a path may hold spaces (a test case named
# "bad name.json"), so they split at newlines only.
ifs=$IFS
IFS='
'
problems=$(
	# shellcheck disable=SC2086
	awk -v shipped="$(echo $shipped)" '
	BEGIN {
		n = split(shipped, list, " ")
		for (i = 1; i <= n; i++)
			is_shipped[list[i]] = 1
		# Why each one is banned, and what to use instead.
		banned["strcpy"] = "no bounds; use snprintf() or memcpy() with a checked length"
		banned["strcat"] = "no bounds; build the string with snprintf()"
		banned["sprintf"] = "no bounds; use snprintf()"
		banned["vsprintf"] = "no bounds; use vsnprintf()"
		banned["gets"] = "no bounds; use fgets()"
		banned["strncpy"] = "may leave no NUL; use snprintf() or memcpy()"
		banned["strtok"] = "not reentrant; use strtok_r() or strcspn()"
		banned["atoi"] = "no error detection; use strtol() and check endptr and errno"
		banned["atol"] = "no error detection; use strtol() and check endptr and errno"
	}
	FNR == 1 {
		in_comment = 0
		files[++nfiles] = FILENAME
		if (FILENAME ~ /\.[ch]$/ && $0 !~ /^\/[*\/]/)
			printf "%s:1: the first lines must be comments: the licence tag, then what the file is for\n", FILENAME
	}
	# The licence of every file we write, in its first three lines, as
	# the SPDX tag (https://spdx.dev/ids/).  Data files (JSON, test
	# vectors, corpora) and prose (README) cannot carry one or need none.
	FNR <= 3 && /SPDX-License-Identifier: MIT/ {
		tagged[FILENAME] = 1
	}
	END {
		for (i = 1; i <= nfiles; i++) {
			f = files[i]
			if (f ~ /\.json$/ || f ~ /(^|\/)README$/ || tagged[f])
				continue
			printf "%s:1: no \"SPDX-License-Identifier: MIT\" line in the first three lines\n", f
		}
	}
	/[ \t\r]$/ {
		printf "%s:%d: trailing whitespace\n", FILENAME, FNR
	}
	FILENAME ~ /\.[ch]$/ && is_shipped[FILENAME] {
		# Strip comments and string/char literals, then look for calls.
		line = $0
		code = ""
		while (length(line) > 0) {
			if (in_comment) {
				i = index(line, "*/")
				if (i == 0) { line = ""; break }
				line = substr(line, i + 2)
				in_comment = 0
				continue
			}
			if (match(line, /\/\*|\/\/|"|\047/) == 0) { code = code line; break }
			code = code substr(line, 1, RSTART - 1)
			tok = substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
			if (tok == "/*") { in_comment = 1; continue }
			if (tok == "//") break
			# A literal: skip to its unescaped closing quote.
			while (length(line) > 0) {
				c = substr(line, 1, 1)
				line = substr(line, 2)
				if (c == "\\") { line = substr(line, 2); continue }
				if (c == tok) break
			}
			code = code " "
		}
		for (f in banned)
			if (match(code, "(^|[^A-Za-z0-9_.>])" f "[ \t]*\\("))
				printf "%s:%d: %s() is banned: %s\n", FILENAME, FNR, f, banned[f]
	}
	' $shipped $other $text
)
IFS=$ifs

# The fence around the core: outside core/ (and the tests, fuzzers and
# benchmarks that look inside it), a quoted include names a header of the
# file's own folder, of shared/, or config.h; libsesame's private headers
# (core/internal.h, core/jose.h, ...) are never reachable from the daemon,
# the command lines, the client or a plugin.
fence=$(
	for f in $(c_files cli client daemon plugins examples pam); do
		dir=$(dirname "$f")
		sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f" | while read -r h; do
			[ "$h" = config.h ] && continue
			[ -f "$dir/$h" ] && continue
			[ -f "shared/$h" ] && continue
			echo "$f: #include \"$h\" reaches outside its folder; only include/sesame/ and shared/ are public to it"
		done
	done
)
if [ -n "$fence" ]; then
	problems=$(printf '%s\n%s' "$problems" "$fence" | sed '/^$/d')
fi

if [ -n "$problems" ]; then
	echo "$problems" >&2
	echo "check-source: $(echo "$problems" | wc -l | tr -d ' ') problem(s) in $srcdir; fix them (see tests/check-source.sh for why each rule exists)" >&2
	exit 1
fi
echo "check-source: $(echo $shipped $other $text | wc -w | tr -d ' ') files clean"
