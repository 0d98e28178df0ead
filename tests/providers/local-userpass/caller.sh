#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/providers/local-userpass/caller.sh — the "call" program of the local-userpass tests:
# appends the JSON it gets on stdin, one line each, to $1/calls, prints
# $1/answer ({"status": "success"} without one) and exits with the code in
# $1/exit (0 without one).
cat >> "$1/calls"
printf '\n' >> "$1/calls"
if [ -e "$1/answer" ]; then cat "$1/answer"; else printf '{"status": "success"}\n'; fi
if [ -e "$1/exit" ]; then exit "$(cat "$1/exit")"; fi
exit 0
