#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/installcheck-first-run.sh — `make installcheck`: a fresh
# installation logs a user in after `make install` and one provider drop-in,
# with no other step (no main file, no state directory made by hand).
# Cleans up what it made, so that uninstall leaves nothing behind.
set -eu

: "${SESAME_BIN:?}" "${SESAME_SYSCONFDIR:?}" "${SESAME_STATEDIR:?}"

fail() {
	echo "installcheck-first-run: $*" >&2
	exit 1
}

dropin="$SESAME_SYSCONFDIR/sesame/providers.d/first-run.json"
[ -d "$SESAME_SYSCONFDIR/sesame/providers.d" ] || fail "make install did not create $SESAME_SYSCONFDIR/sesame/providers.d"
[ -d "$SESAME_STATEDIR" ] || fail "make install did not create the state directory $SESAME_STATEDIR"
mode=$(stat -c %a "$SESAME_STATEDIR")
[ "$mode" = 700 ] || fail "the state directory $SESAME_STATEDIR has mode $mode, not 700"
[ ! -e "$SESAME_SYSCONFDIR/sesame/sesame.json" ] || fail "a main file exists; this check wants the built-in defaults"

cleanup() {
	rm -f "$dropin" "$SESAME_STATEDIR/sesame.db" "$SESAME_STATEDIR/sesame.db-wal" \
		"$SESAME_STATEDIR/sesame.db-shm" "$SESAME_STATEDIR/signing-key.pem"
}
trap cleanup EXIT INT TERM

printf '{"type": "anon-user"}\n' >"$dropin"
out=$("$SESAME_BIN" login first-run) || fail "sesame login failed on a fresh installation"
case "$out" in
*'"user_id"'*'"refresh_token"'* | *'"refresh_token"'*'"user_id"'*) ;;
*) fail "sesame login printed no session: $out" ;;
esac
[ -f "$SESAME_STATEDIR/sesame.db" ] || fail "no database in $SESAME_STATEDIR"
echo "installcheck-first-run: a fresh installation logs a user in"
