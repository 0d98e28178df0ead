#!/bin/sh
# tests/check-exports.sh — the ABI guard: libsesame.so must export exactly the
# symbols listed in tests/libsesame.exports, and every provider or store
# plugin built in the tree exactly its one entry symbol (jansson's
# check-exports).  Run by `make check` with the harness environment.
set -eu

srcdir=${SESAME_TEST_SRCDIR:?run me through make check (SESAME_TEST_SRCDIR unset)}
builddir=${SESAME_TEST_BUILDDIR:?run me through make check (SESAME_TEST_BUILDDIR unset)}
NM=${NM:-nm}
list="$srcdir/tests/libsesame.exports"
lib="$builddir/.libs/libsesame.so"

if ! command -v "$NM" >/dev/null 2>&1; then
	echo "check-exports: '$NM' not found; install binutils (or set NM) to check the ABI" >&2
	exit 99
fi
if [ ! -f "$lib" ]; then
	echo "check-exports: $lib not found; build libsesame shared (do not configure with --disable-shared)" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The dynamic symbols a file defines, one name a line, sorted, without
# symbol versions and without the markers some linkers add on their own.
exported() {
	"$NM" -D --defined-only "$1" |
		awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' |
		grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start |
		LC_ALL=C sort -u
}

status=0

if ! LC_ALL=C sort -u -c "$list" 2>/dev/null; then
	echo "check-exports: $list is not sorted and unique; regenerate it with LC_ALL=C sort -u" >&2
	status=1
fi

exported "$lib" >"$tmp/actual"
LC_ALL=C sort -u "$list" >"$tmp/expected"
if ! cmp -s "$tmp/expected" "$tmp/actual"; then
	cat >&2 <<MSG
check-exports: the symbols exported by libsesame.so differ from
  $list
('-' listed but not exported, '+' exported but not listed):
MSG
	diff -u "$tmp/expected" "$tmp/actual" | sed -n '3,$p' | grep '^[-+]' >&2 || true
	cat >&2 <<'MSG'
Changing what libsesame exports is an ABI decision, not a build detail:
  - a symbol exported by mistake: give it internal linkage or drop its
    sesame_ prefix (only sesame_* leaves the library);
  - a new public function: add it to tests/libsesame.exports and bump
    SESAME_LT_VERSION in configure.ac (interfaces added: C+1:0:A+1);
  - a removed or changed function: update the list and bump
    SESAME_LT_VERSION to C+1:0:0 (a new soname; applications must rebuild).
MSG
	status=1
fi

# Plugins: exactly their entry descriptor, nothing else.
check_plugin() { # FILE ENTRY
	exported "$1" >"$tmp/plugin"
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
	echo "check-exports: libsesame.so exports the $(wc -l <"$tmp/expected" | tr -d ' ') listed symbols; $plugins plugin(s) export only their entry"
fi
exit "$status"
