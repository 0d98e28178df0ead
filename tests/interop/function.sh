#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/interop/function.sh — the custom-function program of the interop
# suite.  The credential {"username": NAME} logs in as "fn-NAME"; one that
# also carries a "pin" must carry it as the plain JSON number 4711, which is
# how sesame must hand over the canonical EJSON {"$numberInt": "4711"} the
# SDKs send.  The credential is only ever matched as data, never evaluated.
IFS= read -r cred
name=$(printf '%s\n' "$cred" | sed -n 's/.*"username":"\([a-z0-9-]\{1,64\}\)".*/\1/p')
if [ -z "$name" ]; then
	echo "no username of lowercase letters, digits and dashes" >&2
	exit 1
fi
case "$cred" in
*'"pin":4711,'* | *'"pin":4711}'*) ;;
*'"pin":'*)
	echo "pin is not the plain number 4711: $(printf '%s' "$cred" | sed -n 's/.*"pin":\([^,}]*[}]\{0,1\}\).*/\1/p')" >&2
	exit 1
	;;
esac
printf '{"id": "fn-%s", "name": "%s"}\n' "$name" "$name"
