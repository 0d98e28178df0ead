/* SPDX-License-Identifier: MIT */
/*
 * shared/jsontext.h — a JSON object's compact text written member by
 * member, exactly as jansson's json_dumps(JSON_COMPACT) writes the object,
 * without building it.
 *
 * A string that needs no escape (printable ASCII but '"' and '\\') is
 * copied between quotes and an integer is printed; any other value, and
 * any string that needs an escape, is jansson's own text of it
 * (json_dumps(JSON_COMPACT | JSON_ENCODE_ANY)), which is what jansson
 * writes for it inside an object.  So nothing of JSON's syntax is written
 * here that jansson would write differently, and the common case (tokens'
 * payloads, the daemon's answers: ids, tokens, URLs, numbers) goes
 * through no callback and no per-character escape test of jansson's
 * dumper.
 *
 * The text may hold secrets (a refresh token's jti): a buffer that grows
 * is wiped before it is freed, as is the text of a failed build; the
 * caller wipes what jsontext_close() returns.
 */
#ifndef SESAME_JSONTEXT_H
#define SESAME_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct jsontext {
	char *buf;
	size_t len, cap;
	bool failed; /* out of memory, or a value jansson cannot write */
};

/* True when the `n` bytes at `s` need no escape in a JSON string. */
bool jsontext_plain(const char *s, size_t n);

/* Start an object (its "{"). */
void jsontext_open(struct jsontext *t);

/* Add member `key`: a string, an integer, or any JSON value. */
void jsontext_string(struct jsontext *t, const char *key, const char *value);
void jsontext_integer(struct jsontext *t, const char *key, json_int_t value);
void jsontext_value(struct jsontext *t, const char *key, const json_t *value);

/* End the object: its malloc'd text (*len its length), or NULL when a
 * member could not be written (the buffer then wiped and freed). */
char *jsontext_close(struct jsontext *t, size_t *len);

#endif /* SESAME_JSONTEXT_H */
