/* SPDX-License-Identifier: MIT */
/*
 * shared/fastjson.h — jansson's strict parse, sooner.
 *
 * jansson's lexer reads its input one character at a time through a
 * callback and copies each into a buffer: about 15 ns a byte here, so
 * parsing a 550-byte token payload cost three quarters of a verification
 * beside an HMAC.  YAJL's event parser scans the same text three times
 * faster, and its events build the jansson values the ABI carries directly.
 *
 * YAJL is only the fast path.  It takes the texts it is sure of and
 * declines every other one, which then goes to json_loadb() as before:
 * so what is accepted, refused and the error texts of refusals stay
 * jansson's (fuzz/fuzz-json.c checks that the fast path never accepts
 * what jansson refuses, nor builds a different value).  Declined are texts
 * with a \u escape (YAJL turns a lone surrogate into '?' where jansson
 * refuses it), with bytes that are not RFC 3629 UTF-8, with \f or \v (white
 * space to YAJL, not to JSON), a NUL byte, a duplicate member, an integer
 * out of range, nesting deeper than FASTJSON_MAX_DEPTH and a key longer than
 * FASTJSON_MAX_KEY; a real number is converted by jansson itself.
 *
 * Without YAJL (./configure --without-yajl), fastjson_loadb() is
 * json_loadb() with the same flags.
 */
#ifndef SESAME_FASTJSON_H
#define SESAME_FASTJSON_H

#include <stddef.h>

#include <jansson.h>

#define FASTJSON_MAX_DEPTH 32
#define FASTJSON_MAX_KEY 256

/*
 * json_loadb(text, len, JSON_REJECT_DUPLICATES | flags, jerr): the same
 * result, the same error.  `flags` may hold JSON_DECODE_ANY; any other
 * flag sends the text to jansson alone.
 */
json_t *fastjson_loadb(const char *text, size_t len, size_t flags, json_error_t *jerr);

/* The fast path alone: the value, or NULL when it declines the text (see
 * above).  For the differential fuzz target and the tests. */
json_t *fastjson_try(const char *text, size_t len, size_t flags);

#endif /* SESAME_FASTJSON_H */
