#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check-man.sh — the man pages in doc/ must format without a groff
# warning, and every sesame page one of them refers to must exist in doc/.
# Run by `make check` after the pages are generated (man_MANS).
set -eu

srcdir=${SESAME_TEST_SRCDIR:?run me through make check (SESAME_TEST_SRCDIR unset)}
builddir=${SESAME_TEST_BUILDDIR:?run me through make check (SESAME_TEST_BUILDDIR unset)}
GROFF=${GROFF:-groff}

if ! command -v "$GROFF" >/dev/null 2>&1; then
	echo "check-man: $GROFF not found (Debian package groff-base); cannot check the man pages" >&2
	exit 77
fi

status=0
pages=0
for page in "$builddir"/doc/*.[1-8]; do
	[ -f "$page" ] || continue
	pages=$((pages + 1))
	name=$(basename "$page")
	# -Wbreak: "cannot adjust line" depends on how long the configured
	# paths are (distcheck's are long), not on the roff.
	warnings=$(LC_ALL=C "$GROFF" -t -man -Tutf8 -ww -Wbreak -z "$page" 2>&1) || true
	if [ -n "$warnings" ]; then
		echo "check-man: doc/$name.in formats with warnings; fix the roff:" >&2
		echo "$warnings" | sed "s|$page|doc/$name.in|" >&2
		status=1
	fi
	if grep -n -e '@[a-zA-Z_][a-zA-Z_]*@' "$page" >&2; then
		echo "check-man: doc/$name still holds @...@ placeholders above; add them to do_subst in Makefile.am" >&2
		status=1
	fi
	# References look like ".BR sesame\-providers.d (5)," in the source.
	for ref in $(sed -n 's/^\.BR \(sesame[a-z.\\-]*\) (\([1-8]\)).*/\1.\2/p' "$page" | sed 's/\\-/-/g' | sort -u); do
		if [ ! -f "$srcdir/doc/$ref.in" ]; then
			echo "check-man: doc/$name.in refers to $ref, which is not in doc/; write it or drop the reference" >&2
			status=1
		fi
	done
done

if [ "$pages" -eq 0 ]; then
	echo "check-man: no generated man page in $builddir/doc; run make first" >&2
	exit 99
fi
[ "$status" -ne 0 ] || echo "check-man: $pages man pages format cleanly and their sesame references exist"
exit "$status"
