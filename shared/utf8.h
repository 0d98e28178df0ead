/* SPDX-License-Identifier: MIT */
/*
 * shared/utf8.h — UTF-8 for texts built from untrusted bytes.  Error messages
 * quote request paths, provider names and token fields; they must stay
 * valid UTF-8 (jansson refuses anything else, so a JSON error body could
 * not be built) and a truncation must never cut a character in two.
 *
 * Pure functions without state or allocation: libsesame and sesamed each
 * compile this file (sesamed reaches libsesame through its public API only).
 * Validity is RFC 3629's, as jansson applies it: no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
#ifndef SESAME_UTF8_H
#define SESAME_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1 to 4) of the valid character at `s`, which has `n` bytes
 * left; 0 when the bytes there are not a valid, complete character. */
size_t utf8_char_length(const char *s, size_t n);

/* Whether the `n` bytes at `s` are valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/*
 * The length of the longest prefix of the `n` bytes at `s` that is at most
 * `max` bytes long and does not end inside a valid character: where
 * printf's "%.64s" would cut, "%.*s" with utf8_cut(s, strlen(s), 64) cuts
 * before the character instead.
 */
size_t utf8_cut(const char *s, size_t n, size_t max);

/*
 * Copy the `n` bytes at `src` into `dst` (`size` bytes, at least 1) as valid
 * UTF-8: each byte that does not belong to a valid character, and each NUL,
 * becomes U+FFFD (the replacement character), and the copy ends before the first
 * character that does not fit.  `dst` is NUL-terminated; returns its length.
 */
size_t utf8_sanitize(char *dst, size_t size, const char *src, size_t n);

#endif /* SESAME_UTF8_H */
