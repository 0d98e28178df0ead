#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/interop/mailbox.sh — the local-userpass programs of the interop
# suite: `mailbox.sh DIR KIND` appends the JSON line it gets on stdin to
# DIR/KIND, so the suite can read the tokens a mailer would have sent.  For
# the "call" kinds (confirm-call, reset-call) it also decides: success,
# unless DIR/KIND.answer holds another answer.
cat >>"$1/$2"
printf '\n' >>"$1/$2"
case "$2" in
*-call)
	if [ -e "$1/$2.answer" ]; then cat "$1/$2.answer"; else printf '{"status": "success"}\n'; fi
	;;
esac
exit 0
