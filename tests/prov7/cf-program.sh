#!/bin/sh
# tests/prov7/cf-program.sh — the custom-function test program: the
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
