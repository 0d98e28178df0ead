#!/bin/sh
# SPDX-License-Identifier: MIT
# client/installcheck.sh — an application built against the *installed*
# libsesame-client (header and sesame-client.pc found by pkg-config) that
# uses a store, and the installed sesame-client on the same store.  No
# server is needed: both only read and write the store.  Run by `make
# installcheck` (so by distcheck); the environment comes from
# installcheck-local in client/local.am.
set -eu

: "${SESAME_CLIENT_BIN:?}" "${SESAME_LIBDIR:?}" "${SESAME_PKGCONFIGDIR:?}" "${SESAME_INCLUDEDIR:?}"
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
DESTDIR=${DESTDIR:-}

fail() {
	echo "installcheck: $*" >&2
	exit 1
}

umask 022
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesame-client-installcheck.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -x "$SESAME_CLIENT_BIN" ] || fail "$SESAME_CLIENT_BIN is not installed; run make install first"
[ -f "$SESAME_PKGCONFIGDIR/sesame-client.pc" ] || fail "$SESAME_PKGCONFIGDIR/sesame-client.pc is not installed"
[ -f "$SESAME_INCLUDEDIR/sesame/client.h" ] || fail "$SESAME_INCLUDEDIR/sesame/client.h is not installed"

PKG_CONFIG_PATH=$SESAME_PKGCONFIGDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
if [ -n "$DESTDIR" ]; then
	PKG_CONFIG_SYSROOT_DIR=$DESTDIR
	export PKG_CONFIG_SYSROOT_DIR
fi
cat >"$tmp/app.c" <<'C'
#include <stdio.h>
#include <sesame/client.h>

int main(int argc, char **argv)
{
	sesame_client_error err;
	sesame_client *c;
	json_t *users;

	if (argc != 2 || sesame_client_open(NULL, "installcheck", argv[1], 0, &c, &err) != SESAME_CLIENT_OK ||
	    sesame_client_users(c, &users, &err) != SESAME_CLIENT_OK) {
		fprintf(stderr, "app: %s\n", argc == 2 ? err.text : "usage: app STORE");
		return 1;
	}
	printf("%zu users, version %s\n", json_array_size(users), sesame_client_version());
	json_decref(users);
	sesame_client_close(c);
	return 0;
}
C
# shellcheck disable=SC2046,SC2086
$CC ${CFLAGS:-} -o "$tmp/app" "$tmp/app.c" $("$PKG_CONFIG" --cflags --libs sesame-client) ||
	fail "an application does not build against the installed libsesame-client (see above)"
unset PKG_CONFIG_SYSROOT_DIR

LD_LIBRARY_PATH=$SESAME_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
mkdir -m 0700 "$tmp/state"
out=$("$tmp/app" "$tmp/state/store.json") || fail "the application failed"
[ "$out" = "0 users, version $("$SESAME_CLIENT_BIN" --version | sed 's/^sesame-client //')" ] ||
	fail "the application printed '$out'"
out=$("$SESAME_CLIENT_BIN" --app installcheck --store "$tmp/state/store.json" users) ||
	fail "sesame-client users failed"
[ "$out" = "[]" ] || fail "sesame-client users printed '$out'"
# A store others may read is refused by both, naming the file.
printf '{}' >"$tmp/state/open.json"
chmod 0644 "$tmp/state/open.json"
if "$tmp/app" "$tmp/state/open.json" 2>"$tmp/err"; then
	fail "the application read a store others may read"
fi
grep -q -F "$tmp/state/open.json" "$tmp/err" || fail "the refusal does not name the file: $(cat "$tmp/err")"
set +e
"$SESAME_CLIENT_BIN" --app installcheck --store "$tmp/state/open.json" users 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "sesame-client on a store others may read exited $rc, not 2"
echo "installcheck: an application builds against the installed libsesame-client; sesame-client shares its store"
