#!/bin/sh
# SPDX-License-Identifier: MIT
# examples/installcheck.sh — builds the *installed* copy of the sample
# plugin (under the documentation directory) out of tree against the
# installed sesame (headers and sesame-provider.pc found by pkg-config),
# runs the installed sesame-provider-check on it, loads it through a drop-in
# with the installed `sesame`, and checks what an operator would see.  Run
# by `make installcheck` (so by distcheck); the environment comes from
# installcheck-local in examples/local.am.
set -eu

: "${SESAME_DOC_EXAMPLE:?}" "${SESAME_BIN:?}" "${SESAME_PROVIDER_CHECK:?}" "${SESAME_LIBDIR:?}"
: "${SESAME_PKGCONFIGDIR:?}" "${SESAME_INCLUDEDIR:?}" "${EXPECT_PROVIDERDIR:?}"
MAKE=${MAKE:-make}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
DESTDIR=${DESTDIR:-}

fail() {
	echo "installcheck: $*" >&2
	exit 1
}

umask 022
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesame-installcheck.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -x "$SESAME_BIN" ] || fail "$SESAME_BIN is not installed; run make install first"
[ -x "$SESAME_PROVIDER_CHECK" ] || fail "$SESAME_PROVIDER_CHECK is not installed"
for pc in sesame.pc sesame-provider.pc; do
	[ -f "$SESAME_PKGCONFIGDIR/$pc" ] || fail "$SESAME_PKGCONFIGDIR/$pc is not installed"
done
[ -f "$SESAME_INCLUDEDIR/sesame/provider.h" ] || fail "$SESAME_INCLUDEDIR/sesame/provider.h is not installed"
for f in hello.c Makefile README check.json check-cases.jsonl; do
	[ -f "$SESAME_DOC_EXAMPLE/$f" ] || fail "the sample plugin's $f is not installed in $SESAME_DOC_EXAMPLE"
done

# pkg-config sees the installed sesame.pc; under DESTDIR its paths are the
# final ones, so the sysroot maps them into the staging tree.
PKG_CONFIG_PATH=$SESAME_PKGCONFIGDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH

for pc in sesame sesame-provider; do
	providerdir=$("$PKG_CONFIG" --variable=providerdir $pc)
	[ "$providerdir" = "$EXPECT_PROVIDERDIR" ] ||
		fail "pkg-config --variable=providerdir $pc says '$providerdir', configure said '$EXPECT_PROVIDERDIR'; fix $pc.pc.in"
done
# A plugin links jansson, never libsesame.
libs=$("$PKG_CONFIG" --libs sesame-provider)
case " $libs " in
*" -lsesame "*) fail "pkg-config --libs sesame-provider gives '$libs': a plugin must not link libsesame" ;;
*" -ljansson "*) ;;
*) fail "pkg-config --libs sesame-provider gives '$libs', without jansson" ;;
esac

# Build the sample plugin in a copy of its installed folder, as a third
# party would (and not as a sub-make of ours: no inherited make flags).
unset MAKEFLAGS MFLAGS MAKELEVEL || true
mkdir "$tmp/build"
cp "$SESAME_DOC_EXAMPLE/hello.c" "$SESAME_DOC_EXAMPLE/Makefile" "$SESAME_DOC_EXAMPLE/check.json" \
	"$SESAME_DOC_EXAMPLE/check-cases.jsonl" "$tmp/build/"
if [ -n "$DESTDIR" ]; then
	PKG_CONFIG_SYSROOT_DIR=$DESTDIR
	export PKG_CONFIG_SYSROOT_DIR
fi
cflags=$("$PKG_CONFIG" --cflags sesame-provider)
case " $cflags " in
*" -I$SESAME_INCLUDEDIR "*) ;;
*) fail "pkg-config --cflags sesame-provider gives '$cflags', not the installed headers in $SESAME_INCLUDEDIR" ;;
esac
(cd "$tmp/build" && $MAKE CC="$CC" PKG_CONFIG="$PKG_CONFIG" ${CFLAGS:+"CFLAGS=$CFLAGS"} && $MAKE check) ||
	fail "the sample plugin does not build against the installed headers (see above)"
unset PKG_CONFIG_SYSROOT_DIR

# A configuration of its own: plugin dir, one drop-in dir, secrets.
mkdir "$tmp/plugins" "$tmp/providers.d" "$tmp/state"
cp "$tmp/build/hello.so" "$tmp/plugins/hello.so"
chmod 0755 "$tmp/plugins/hello.so"
printf 'alice-secret-from-a-file\n' >"$tmp/alice.secret"
chmod 0600 "$tmp/alice.secret"
cat >"$tmp/sesame.json" <<JSON
{
  "app_id": "installcheck",
  "state_dir": "$tmp/state",
  "plugin_dir": "$tmp/plugins",
  "provider_dirs": ["$tmp/providers.d"]
}
JSON
cat >"$tmp/providers.d/hello-demo.json" <<JSON
{
  "type": "hello",
  "config": {
    "users": {
      "alice": {"secret": "@$tmp/alice.secret", "name": "Alice"},
      "bob": {"secret": "bob-inline-secret"}
    }
  }
}
JSON

LD_LIBRARY_PATH=$SESAME_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

# The installed conformance checker passes the sample plugin, through the
# sample's own Makefile target.
(cd "$tmp/build" && $MAKE conformance SESAME_PROVIDER_CHECK="$SESAME_PROVIDER_CHECK") >"$tmp/conformance" 2>&1 || {
	cat "$tmp/conformance" >&2
	fail "sesame-provider-check fails the sample plugin (see above)"
}
grep -q 'hello.so: [0-9]* checks, 0 failed$' "$tmp/conformance" || {
	cat "$tmp/conformance" >&2
	fail "sesame-provider-check printed no summary line"
}

run() { # EXPECTED-EXIT OUT-FILE ARGS...
	want=$1 out=$2
	shift 2
	set +e
	"$SESAME_BIN" --config "$tmp/sesame.json" "$@" >"$out" 2>"$out.err"
	got=$?
	set -e
	if [ "$got" -ne "$want" ]; then
		cat "$out" "$out.err" >&2
		fail "sesame $* exited $got, expected $want"
	fi
}
expect() { # FILE TEXT WHAT
	grep -F -q -e "$2" "$1" || { cat "$1" >&2; fail "$3: no '$2' in the output above"; }
}

run 0 "$tmp/list" providers list
expect "$tmp/list" '"name": "hello-demo"' "providers list"
expect "$tmp/list" '"type": "hello"' "providers list"
expect "$tmp/list" '"state": "ready"' "the sample provider is not ready"
expect "$tmp/list" "\"plugin\": \"$tmp/plugins/hello.so\"" "providers list"
expect "$tmp/list" '"version": "1.0.0"' "providers list"
expect "$tmp/list" "\"source\": \"$tmp/providers.d/hello-demo.json\"" "providers list"

run 0 "$tmp/check" config check
expect "$tmp/check" "\"secret\": \"@$tmp/alice.secret\"" "config check shows a file secret by its reference"
expect "$tmp/check" '"secret": "********"' "config check masks an inline secret"
! grep -q -e alice-secret-from-a-file -e bob-inline-secret "$tmp/check" ||
	fail "config check printed a secret: $(cat "$tmp/check")"

# The plugin's own action, through the command line as the system user.
run 0 "$tmp/users" action hello-demo users
expect "$tmp/users" '"alice"' "sesame action hello-demo users"
expect "$tmp/users" '"bob"' "sesame action hello-demo users"
run 1 "$tmp/nope" action hello-demo frobnicate
expect "$tmp/nope.err" 'frobnicate' "an unknown action"

# A second instance with a bad configuration fails closed with the
# plugin's message; the first keeps working.
echo '{"type": "hello", "config": {"users": {}}}' >"$tmp/providers.d/hello-broken.json"
run 3 "$tmp/list2" providers list
expect "$tmp/list2" '"state": "failed"' "a broken instance"
expect "$tmp/list2" '\"users\": expected an object of 1 to' "the plugin's configuration error"
expect "$tmp/list2" "$tmp/providers.d/hello-broken.json:1:" "the plugin's error names FILE:LINE:COL"
expect "$tmp/list2" '"state": "ready"' "the good instance next to a broken one"
run 2 "$tmp/check2" config check
expect "$tmp/check2.err" 'provider hello-broken:' "config check names the broken instance"

# Masking it with an empty file brings the exit status back to 0.
: >"$tmp/providers.d/hello-broken.json"
run 0 "$tmp/list3" providers list
! grep -q hello-broken "$tmp/list3" || fail "a masked instance is still listed"

echo "installcheck: hello-provider builds against the installed headers, passes sesame-provider-check and loads as a drop-in"
