#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/providers/local-userpass/sender.sh — the token "mailer" of the local-userpass tests:
# appends the {email, token, tokenId} it gets on stdin, one line each, to
# $1/outbox.  With $1/fail present it fails, as a mailer that is down.
[ -e "$1/fail" ] && exit 1
cat >> "$1/outbox"
printf '\n' >> "$1/outbox"
