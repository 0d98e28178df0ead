/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz-json.c — libFuzzer target, differential: the YAJL fast path of
 * the strict JSON parse (shared/fastjson.h) against jansson's json_loadb()
 * with JSON_REJECT_DUPLICATES, which defines what sesame accepts.  Aborts
 * when the fast path accepts a text jansson refuses, or builds a value
 * jansson would not (compared member order and all).  The first input byte
 * picks the flags (odd: JSON_DECODE_ANY).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_COMPACT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t flags;
	const char *text;
	json_t *fast, *ref;
	char *a, *b;

	if (size == 0)
		return 0;
	flags = (data[0] & 1) ? JSON_DECODE_ANY : 0;
	text = (const char *)data + 1;
	size--;
	fast = fastjson_try(text, size, flags);
	if (!fast)
		return 0;
	ref = json_loadb(text, size, JSON_REJECT_DUPLICATES | flags, NULL);
	if (!ref)
		abort(); /* accepted what jansson refuses */
	a = dump(fast);
	b = dump(ref);
	if (!a || !b || strcmp(a, b) != 0 || !json_equal(fast, ref))
		abort(); /* a different value */
	free(a);
	free(b);
	json_decref(fast);
	json_decref(ref);
	return 0;
}
