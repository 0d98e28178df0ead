#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/providers/custom-function/cf-program.sh — the custom-function test program: the
# credential's "mode" says how to misbehave.  $1 is a directory for its
# reports, $2 a descriptor number that must not be inherited.  The
# credential is only ever data here, never evaluated.
IFS= read -r cred
case "$cred" in
*'"mode":"ok"'*) printf '{"id": "u-ok", "name": "Ann"}\n' ;;
*'"mode":"plain"'*) printf '"plain-id"' ;;
*'"mode":"exit"'*) printf 'bad\001 pass\033word\nsecond line\n' >&2; exit 3 ;;
*'"mode":"silent-exit"'*) exit 1 ;;
*'"mode":"signal"'*) kill -9 $$ ;;
*'"mode":"hang"'*) sleep 30 & echo $! > "$1/grandchild.pid"; wait ;;
*'"mode":"escape"'*)
	# A grandchild that leaves the program's process group and session
	# and is orphaned (double fork), then sleeps: it must not survive the
	# login.  The program answers once the grandchild has said who it is.
	(setsid sh -c 'echo $$ > "$1/escaped.tmp" && mv "$1/escaped.tmp" "$1/escaped.pid" && exec sleep 300' sh "$1" \
		</dev/null >/dev/null 2>&1 &)
	i=0
	while [ ! -s "$1/escaped.pid" ] && [ $i -lt 400 ]; do sleep 0.005; i=$((i + 1)); done
	printf '"escaped"'
	;;
*'"mode":"whoami"'*)
	# Who the program is, where, and whether it can read sesame's state
	# ($1/../state: the database, which holds the signing key).
	if cat "$1/../state/sesame.db" >/dev/null 2>&1; then state=readable; else state=denied; fi
	printf '{"id": "uid=%s gid=%s groups=%s cwd=%s state=%s"}' "$(id -u)" "$(id -g)" "$(id -G)" "$(pwd)" "$state"
	;;
*'"mode":"huge"'*) head -c 100000 /dev/zero | tr '\0' 'a' ;;
*'"mode":"extra"'*) echo '{"id": "a"} {"id": "b"}' ;;
*'"mode":"badjson"'*) echo 'nope' ;;
*'"mode":"longid"'*) printf '"%0256d"' 0 ;;
*'"mode":"emptyid"'*) echo '{"id": ""}' ;;
*'"mode":"unknown"'*) echo '{"id": "a", "admin": true}' ;;
*'"mode":"dump"'*)
	{
		printf '%s\n' "$cred"
		printf 'argc=%s\n' "$#"
		for a; do printf 'arg=%s\n' "$a"; done
		env | sort | sed 's/^/env:/'
		if [ -e "/dev/fd/$2" ]; then echo "fd $2 open"; fi
	} > "$1/dump.txt"
	echo '"dumped"'
	;;
*) echo "unknown mode" >&2; exit 1 ;;
esac
