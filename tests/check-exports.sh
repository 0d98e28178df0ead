#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check-exports.sh — the ABI guard: libsesame.so must export exactly the
# symbols listed in core/libsesame.map, and libsesame-client.so those of
# client/libsesame-client.map, each under the version node it is listed in,
# and every provider or store plugin built in the tree exactly its one entry
# symbol (jansson's check-exports).  Run by `make check` with the harness
# environment.
set -eu

srcdir=${SESAME_TEST_SRCDIR:?run me through make check (SESAME_TEST_SRCDIR unset)}
builddir=${SESAME_TEST_BUILDDIR:?run me through make check (SESAME_TEST_BUILDDIR unset)}
NM=${NM:-nm}

if ! command -v "$NM" >/dev/null 2>&1; then
	echo "check-exports: '$NM' not found; install binutils (or set NM) to check the ABI" >&2
	exit 99
fi
for lib in "$builddir/.libs/libsesame.so" "$builddir/.libs/libsesame-client.so"; do
	if [ ! -f "$lib" ]; then
		echo "check-exports: $lib not found; build the libraries shared (do not configure with --disable-shared)" >&2
		exit 99
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The dynamic symbols a file defines, one "name VERSION" a line (VERSION
# "-" when unversioned), sorted, without the version nodes themselves and
# the markers some linkers add on their own.
exported() {
	"$NM" -D --defined-only "$1" |
		awk 'NF >= 3 && $2 != "A" {
			n = $3; v = "-"
			if (index(n, "@")) { v = n; sub(/^[^@]*@+/, "", v); sub(/@.*/, "", n) }
			print n, v }' |
		grep -v -E '^(_init|_fini|_edata|_end|__bss_start) ' |
		LC_ALL=C sort -u
}

# The symbols of version script $1, "name NODE", in the order written.
listed() {
	sed -e 's|/\*.*\*/||g' -e '/\/\*/,/\*\//d' "$1" |
		awk '/^[A-Za-z_][A-Za-z0-9_.]* *\{/ { node = $1; global = 0; next }
		     /^global:/ { global = 1; next }
		     /^local:/ { global = 0; next }
		     global && /^[ \t]*[A-Za-z_][A-Za-z0-9_]*;/ { s = $1; sub(/;$/, "", s); print s, node }'
}

status=0
checked=""

# check_library LIB MAP LT_VARIABLE: LIB exports what MAP lists, no more.
check_library() {
	lib=$1
	map=$2
	name=$(basename "$lib")
	listed "$map" >"$tmp/listed"
	if ! awk '{ print $1 }' "$tmp/listed" | LC_ALL=C sort -c 2>/dev/null; then
		echo "check-exports: the symbols of each node of $map are not sorted (LC_ALL=C)" >&2
		status=1
	fi
	if [ -n "$(awk '{ print $1 }' "$tmp/listed" | LC_ALL=C sort | uniq -d)" ]; then
		echo "check-exports: a symbol is listed twice in $map" >&2
		status=1
	fi

	exported "$lib" >"$tmp/actual"
	LC_ALL=C sort -u "$tmp/listed" >"$tmp/expected"
	if ! cmp -s "$tmp/expected" "$tmp/actual"; then
		cat >&2 <<MSG
check-exports: the symbols exported by $name (name and version node)
differ from $map
('-' listed but not exported, '+' exported but not listed):
MSG
		diff -u "$tmp/expected" "$tmp/actual" | sed -n '3,$p' | grep '^[-+]' >&2 || true
		cat >&2 <<MSG
Changing what $name exports is an ABI decision, not a build detail:
  - a symbol exported by mistake: give it internal linkage or drop its
    public prefix (only what the map lists leaves the library);
  - a new public function: add it to $(basename "$map"), in the node of
    the release that introduces it (a new node after a release), and bump
    $3 in configure.ac (interfaces added: C+1:0:A+1);
  - a removed or changed function: update the map and bump
    $3 to C+1:0:0 (a new soname; applications must rebuild).
MSG
		status=1
	fi
	checked="$checked${checked:+, }$name $(wc -l <"$tmp/expected" | tr -d ' ')"
}

check_library "$builddir/.libs/libsesame.so" "$srcdir/core/libsesame.map" SESAME_LT_VERSION
check_library "$builddir/.libs/libsesame-client.so" "$srcdir/client/libsesame-client.map" SESAME_CLIENT_LT_VERSION

# Plugins: exactly their entry descriptor, nothing else.
check_plugin() { # FILE ENTRY
	exported "$1" | awk '{ print $1 }' >"$tmp/plugin"
	if [ "$(cat "$tmp/plugin")" != "$2" ]; then
		echo "check-exports: $1 must export exactly '$2'; it exports:" >&2
		sed 's/^/  /' "$tmp/plugin" >&2
		echo "  link it with \$(PROVIDER_MODULE_FLAGS) or \$(STORE_MODULE_FLAGS) (see Makefile.am)" >&2
		status=1
	fi
}
plugins=0
for so in "$builddir"/plugins/providers/.libs/*.so; do
	[ -f "$so" ] || continue
	check_plugin "$so" sesame_provider_entry
	plugins=$((plugins + 1))
done
for so in "$builddir"/plugins/stores/.libs/*.so; do
	[ -f "$so" ] || continue
	check_plugin "$so" sesame_store_entry
	plugins=$((plugins + 1))
done

if [ "$status" -eq 0 ]; then
	echo "check-exports: exported symbols as listed, with their versions ($checked); $plugins plugin(s) export only their entry"
fi
exit "$status"
