#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check-providers.sh — every built-in provider passes
# sesame-provider-check, with the instance configuration and the cases in
# tests/provider-check/TYPE.json and TYPE.jsonl (no case needs the network:
# the social providers get malformed tokens only, their endpoints point at a
# closed loopback port).  A provider without data there fails this test.
# Run by `make check` (AM_TESTS_ENVIRONMENT in tests/local.am).
set -eu

srcdir=${SESAME_TEST_SRCDIR:?run me through make check (SESAME_TEST_SRCDIR unset)}
builddir=${SESAME_TEST_BUILDDIR:?}
plugins=${SESAME_TEST_PLUGINS:?}
stores=${SESAME_TEST_STORES:?}
data=$srcdir/tests/provider-check
check=$builddir/sesame-provider-check

tmp=$(mktemp -d "${SESAME_TEST_TMPDIR:-${TMPDIR:-/tmp}}/check-providers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0
n=0
for so in "$plugins"/*.so; do
	[ -f "$so" ] || continue
	type=$(basename "$so" .so)
	n=$((n + 1))
	if [ ! -f "$data/$type.json" ] || [ ! -f "$data/$type.jsonl" ]; then
		echo "check-providers: $type has no tests/provider-check/$type.json and $type.jsonl" >&2
		status=1
		continue
	fi
	# Instance files may name programs of the source tree.
	sed "s|@srcdir@|$srcdir|g" "$data/$type.json" >"$tmp/$type.json"
	if "$check" "$so" --config "$tmp/$type.json" --cases "$data/$type.jsonl" --store-dir "$stores" \
		>"$tmp/$type.out" 2>&1; then
		tail -n 1 "$tmp/$type.out"
	else
		echo "check-providers: sesame-provider-check fails $type:" >&2
		grep -v '^pass  ' "$tmp/$type.out" >&2 || true
		status=1
	fi
done
if [ "$n" -eq 0 ]; then
	echo "check-providers: no provider plugin in $plugins; run make first" >&2
	exit 99
fi
exit $status
