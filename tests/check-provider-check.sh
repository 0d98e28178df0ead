#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check-provider-check.sh — sesame-provider-check finds what it is
# for: each fault of tests/fixtures/fixture-faulty.c (and an extra export,
# a foreign ABI major) fails its check with a line that names it, a crash
# in verify() is a failed check and not the checker's death, a conforming
# plugin passes (a newer ABI minor is only a warning), and bad input is a
# usage error that names the file and line.  Run by `make check`.
set -eu

builddir=${SESAME_TEST_BUILDDIR:?run me through make check (SESAME_TEST_BUILDDIR unset)}
fixtures=${SESAME_TEST_FIXTURES:?}
stores=${SESAME_TEST_STORES:?}
check=$builddir/sesame-provider-check
faulty=$fixtures/fixture-faulty.so

tmp=$(mktemp -d "${SESAME_TEST_TMPDIR:-${TMPDIR:-/tmp}}/check-provider-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() {
	echo "check-provider-check: $*" >&2
	exit 1
}

# run EXPECTED-EXIT NAME ARGS...: the output goes to $tmp/NAME.
run() {
	want=$1 name=$2
	shift 2
	set +e
	"$check" "$@" >"$tmp/$name" 2>&1
	got=$?
	set -e
	if [ "$got" -ne "$want" ]; then
		cat "$tmp/$name" >&2
		fail "$name: exited $got, expected $want"
	fi
}

# expect NAME EXTENDED-REGEX: a line of the output matches.
expect() {
	grep -E -q -e "$2" "$tmp/$1" || {
		cat "$tmp/$1" >&2
		fail "$1: no line matches '$2'"
	}
}

instance() { # FILE FAULTS-JSON
	printf '{"type": "fixture-faulty", "config": {"faults": %s}}\n' "$2" >"$tmp/$1"
}

cat >"$tmp/cases.jsonl" <<'JSON'
{"credential": {"user": "alice"}, "expect": "ok", "id": "alice"}
{"credential": {"user": "bob"}, "expect": "rejected"}

{"credential": {"user": 5}, "expect": "malformed"}
JSON

# A conforming plugin passes; its ABI minor, newer than ours, is a warning.
instance clean.json '[]'
run 0 clean "$faulty" --config "$tmp/clean.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect clean '^pass  exports: only sesame_provider_entry$'
expect clean '^warn  descriptor: ABI minor [0-9]+ is newer than this checker'"'"'s [0-9]+'
expect clean '^pass  init: refuses the unknown config key: .*sesame_provider_check_unknown_key'
expect clean '^pass  case line 1: ok, id "alice"$'
expect clean '^pass  case line 2: rejected: unknown user$'
expect clean '^pass  case line 4: malformed: '
expect clean '^pass  battery: "user" with a NUL byte: malformed: '
expect clean '^pass  battery: "user" as a 1 MiB string: rejected: '
expect clean '^pass  battery: 10000 members: malformed: '
expect clean '^pass  threads: 8 threads verified 3 cases 16 times each at once'
expect clean '^(pass  fini: [0-9]+ heap bytes|skip  fini: heap left per configure/free cycle not measured)'
expect clean '^pass  fini: no JSON value left'
expect clean 'fixture-faulty.so: [0-9]+ checks, 0 failed$'

# strcmp() takes "alice\0..." for alice.
instance strcmp.json '["strcmp"]'
run 1 strcmp "$faulty" --config "$tmp/strcmp.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect strcmp '^FAIL  battery: "user" with a NUL byte: accepted \(id "alice"\)$'
expect strcmp 'checks, 1 failed$'

# A crash in verify() fails the check that caused it; the checker goes on.
instance crash.json '["crash"]'
run 1 crash "$faulty" --config "$tmp/crash.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect crash '^FAIL  battery: "user" with invalid UTF-8: (the plugin crashed: signal [0-9]+|the verifying process ended without an answer)'
expect crash '^pass  threads: '
expect crash 'checks, 1 failed$'

instance unknown.json '["unknown-key"]'
run 1 unknown "$faulty" --config "$tmp/unknown.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect unknown '^FAIL  init: accepted the unknown config key "sesame_provider_check_unknown_key"'

# A key pointed at by its position (config_error()) counts as named.
instance positional.json '["positional"]'
run 0 positional "$faulty" --config "$tmp/positional.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect positional '^pass  init: refuses the unknown config key, at its position: not a key of this plugin$'

instance flaky.json '["flaky"]'
run 1 flaky "$faulty" --config "$tmp/flaky.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect flaky '^FAIL  threads: [0-9]+ of 384 verifications from 8 threads differ from one thread'"'"'s, first case line [14]: rejected: tired of verifying, one thread got (ok with id alice|malformed)$'

# The leaks are the point here: AddressSanitizer's own leak report at exit
# would only repeat them.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
instance leak-json.json '["leak-json"]'
run 1 leak-json "$faulty" --config "$tmp/leak-json.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
expect leak-json '^FAIL  fini: [0-9]+ JSON allocation\(s\) left after the contexts were freed'

instance leak-heap.json '["leak-heap"]'
if grep -q '^skip  fini: heap left' "$tmp/clean"; then
	# mallinfo2() does not see the heap (AddressSanitizer): nothing to find.
	run 0 leak-heap "$faulty" --config "$tmp/leak-heap.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
else
	run 1 leak-heap "$faulty" --config "$tmp/leak-heap.json" --cases "$tmp/cases.jsonl" --store-dir "$stores"
	expect leak-heap '^FAIL  fini: [0-9]{4,} heap bytes left behind per configure/verify/free cycle'
fi
unset ASAN_OPTIONS

# A case whose expectation the plugin does not meet.
echo '{"credential": {"user": "alice"}, "expect": "rejected"}' >"$tmp/wrong.jsonl"
run 1 wrong "$faulty" --config "$tmp/clean.json" --cases "$tmp/wrong.jsonl" --store-dir "$stores"
expect wrong '^FAIL  case line 1: expected rejected, got ok: alice$'

# init() refuses the configuration: the message is the plugin's.
echo '{"config": {"faults": "all"}}' >"$tmp/bad-config.json"
run 1 bad-config "$faulty" --config "$tmp/bad-config.json" --store-dir "$stores"
expect bad-config '^FAIL  init: provider check: init: "faults" must be an array of names$'
expect bad-config '^skip  unknown config key, cases, hostile credentials, threads and fini: not checked$'

# The loader's warning about extra exports fails the exports check.
run 1 exports "$fixtures/fixture-extra-export.so" --store-dir "$stores"
expect exports '^FAIL  exports: 2 symbol\(s\) besides sesame_provider_entry: fixture_extra_(helper|counter), fixture_extra_(helper|counter);'

# A plugin of another ABI major: what the core refuses, the checker fails.
run 1 major "$fixtures/fixture-wrong-major.so" --store-dir "$stores"
expect major '^FAIL  descriptor: ABI 2\.0: this sesame speaks major 1$'
expect major '^FAIL  init: provider check: .*ABI major 2'

# Usage errors: exit 2 and a message naming what is wrong.
run 0 help --help
expect help '^Usage: sesame-provider-check PLUGIN.so'
run 2 no-plugin
expect no-plugin 'missing PLUGIN.so'
run 2 missing "$fixtures/no-such-plugin.so"
expect missing 'no-such-plugin.so: No such file or directory'
run 2 not-so "$tmp/cases.jsonl"
expect not-so 'a plugin'"'"'s file is named TYPE.so'
run 2 threads "$faulty" --threads 0
expect threads -- '--threads: expected a number from 1 to 256, not "0"'
printf '{"credential": {}, "expect": "ok"}\n{"credential": \n' >"$tmp/bad-json.jsonl"
run 2 bad-json "$faulty" --cases "$tmp/bad-json.jsonl"
expect bad-json 'bad-json.jsonl:2:'
echo '{"credential": {}, "expect": "ok", "user": "x"}' >"$tmp/bad-member.jsonl"
run 2 bad-member "$faulty" --cases "$tmp/bad-member.jsonl"
expect bad-member 'bad-member.jsonl:1: unknown member'
echo '{"credential": {}, "expect": "rejected", "id": "x"}' >"$tmp/bad-id.jsonl"
run 2 bad-id "$faulty" --cases "$tmp/bad-id.jsonl"
expect bad-id 'bad-id.jsonl:1: "id" must be a string, and only an "ok" case has one'
echo '{"type": "fixture-good", "config": {}}' >"$tmp/other-type.json"
run 2 other-type "$faulty" --config "$tmp/other-type.json"
expect other-type '"type" is "fixture-good", but the plugin'"'"'s file name makes its type "fixture-faulty"'
echo '{"config": {}, "disabled": true}' >"$tmp/extra-member.json"
run 2 extra-member "$faulty" --config "$tmp/extra-member.json"
expect extra-member 'extra-member.json: unknown member "disabled"'
echo '{"config": {}, "metadata_fields": 5}' >"$tmp/bad-fields.json"
run 2 bad-fields "$faulty" --config "$tmp/bad-fields.json" --store-dir "$stores"
expect bad-fields 'bad-fields.json:1:16: "metadata_fields": expected an array'

echo "check-provider-check: sesame-provider-check finds every fault of the fixtures"
