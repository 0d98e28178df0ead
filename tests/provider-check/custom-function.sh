#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/provider-check/custom-function.sh — the program of the
# custom-function instance that tests/check-providers.sh checks: it knows
# one credential, {"user": "alice", "pin": "1234"} (as compact JSON, in
# that order), vouches for alice, and refuses everything else.  The
# credential is only ever compared here, never evaluated.
IFS= read -r credential
case $credential in
'{"user":"alice","pin":"1234"}') echo '{"id": "alice", "name": "Alice"}' ;;
*)
	echo "unknown credential" >&2
	exit 1
	;;
esac
