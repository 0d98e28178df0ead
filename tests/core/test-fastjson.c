/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-fastjson.c — the YAJL fast path of the strict JSON parse
 * (shared/fastjson.h): it takes the texts sesame parses all day (token
 * headers and payloads, request bodies, configuration) and builds exactly
 * jansson's value; every text it is not sure of is declined, and then
 * fastjson_loadb() refuses what jansson refuses with jansson's own error.
 * fuzz/fuzz-json checks the same on random texts.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fastjson.h"

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_COMPACT);
}

#ifdef HAVE_YAJL
/* The fast path takes `text` and builds what jansson builds. */
static void check_taken(const char *text, size_t flags)
{
	json_t *fast = fastjson_try(text, strlen(text), flags);
	json_t *ref = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES | flags, NULL);
	char *a, *b;

	if (!fast)
		fail_msg("the fast path declined %s", text);
	assert_non_null(ref);
	a = dump(fast);
	b = dump(ref);
	if (strcmp(a, b) != 0)
		fail_msg("%s: fast path built %s, jansson %s", text, a, b);
	assert_true(json_equal(fast, ref));
	free(a);
	free(b);
	json_decref(fast);
	json_decref(ref);
}

static void test_common_texts_taken(void **state)
{
	(void)state;
	check_taken("{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", 0);
	check_taken(
	    "{\"iss\":\"https://accounts.google.com\",\"aud\":[\"a\",\"b\"],\"sub\":\"110169484474386276334\","
	    "\"email_verified\":true,\"iat\":1700000000,\"exp\":1700003600,\"nonce\":null,"
	    "\"name\":\"J\xc3\xa9r\xc3\xb4me \xf0\x9f\x98\x80\",\"x\":false}",
	    0);
	check_taken(
	    " {\"token\":\"eyJ.a.b\",\"options\":{\"device\":{\"deviceId\":\"00\",\"sdkVersion\":\"2.0.1\"}}}\r\n",
	    JSON_DECODE_ANY);
	check_taken("[]", 0);
	check_taken("{}", 0);
	check_taken("{\"\":\"\"}", 0);
	check_taken("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 0); /* 32 deep */
	/* Escapes other than \u decode as jansson decodes them. */
	check_taken("{\"a\":\"\\\\u0041\"}", 0); /* an escaped backslash, then a 'u' */
	check_taken("{\"a\\\"b\":\"\\\\ \\/ \\b \\f \\n \\r \\t \\\"\"}", 0);
	/* Numbers: the integer range's edges, -0, reals by jansson. */
	check_taken("[0,-0,1,-1,9223372036854775807,-9223372036854775808]", 0);
	check_taken("[0.5,-0.0,1e3,1E-3,2.5e+10,1e-400]", 0);
	/* Scalars when any value is asked for. */
	check_taken("\"a\"", JSON_DECODE_ANY);
	check_taken(" 42 ", JSON_DECODE_ANY);
	check_taken("true", JSON_DECODE_ANY);
	check_taken("null", JSON_DECODE_ANY);
	check_taken("1.5", JSON_DECODE_ANY);
}
#endif

/*
 * The fast path declines `text` (`len` bytes), and fastjson_loadb() gives
 * what json_loadb() gives: both refuse it with the same error, or both
 * take it with the same value.
 */
static void check_declined(const char *text, size_t len, size_t flags)
{
	json_error_t e1, e2;
	json_t *fast = fastjson_try(text, len, flags), *v, *ref;

	if (fast) {
		char *s = dump(fast);
		fail_msg("the fast path took %.*s as %s", (int)len, text, s);
	}
	v = fastjson_loadb(text, len, flags, &e1);
	ref = json_loadb(text, len, JSON_REJECT_DUPLICATES | flags, &e2);
	assert_int_equal(v != NULL, ref != NULL);
	if (ref)
		assert_true(json_equal(v, ref));
	else
		assert_string_equal(e1.text, e2.text);
	json_decref(v);
	json_decref(ref);
}

#define DECLINED(lit) check_declined(lit, sizeof(lit) - 1, 0)

static void test_unsure_texts_declined(void **state)
{
	char deep[80], key[300];
	size_t i;

	(void)state;
	/* \u escapes: YAJL would make '?' of a lone surrogate jansson refuses. */
	DECLINED("{\"a\":\"\\ud800\"}");
	DECLINED("{\"a\":\"\\udc00\"}");
	DECLINED("{\"a\":\"\\ud800\\u0041\"}");
	DECLINED("{\"a\":\"a\\u0000b\"}");   /* hostile input 15: a NUL in a claim */
	DECLINED("{\"a\":\"\\u00e9\"}");     /* valid, but taken by jansson alone */
	DECLINED("{\"a\":\"\\\\\\u0041\"}"); /* an escaped backslash, then \u0041 */
	/* Bytes that are not RFC 3629 UTF-8 (YAJL's check is looser). */
	DECLINED("{\"a\":\"\xc0\x80\"}");	  /* overlong */
	DECLINED("{\"a\":\"\xed\xa0\x80\"}");	  /* an encoded surrogate */
	DECLINED("{\"a\":\"\xf4\x90\x80\x80\"}"); /* above U+10FFFF */
	DECLINED("{\"a\":\"\xff\"}");
	/* \f and \v: white space to YAJL, not to JSON. */
	DECLINED("{\f}");
	DECLINED("{\"a\":1\v}");
	/* A raw NUL byte, between tokens or in a string. */
	check_declined("{\"a\":1}\0", 8, 0);
	check_declined("{\"a\":\"x\0y\"}", 11, 0);
	/* Duplicate members (hostile input 9), also nested. */
	DECLINED("{\"alg\":\"RS256\",\"alg\":\"HS256\"}");
	DECLINED("{\"a\":{\"s\":1,\"s\":1}}");
	/* Integers out of range. */
	DECLINED("[9223372036854775808]");
	DECLINED("[-9223372036854775809]");
	DECLINED("[123456789012345678901234567890]");
	DECLINED("[1e400]");
	/* Deeper than FASTJSON_MAX_DEPTH: jansson decides (up to its own limit). */
	for (i = 0; i < FASTJSON_MAX_DEPTH + 1; i++)
		deep[i] = '[';
	for (; i < 2 * (FASTJSON_MAX_DEPTH + 1); i++)
		deep[i] = ']';
	check_declined(deep, i, 0);
	/* A key as long as FASTJSON_MAX_KEY. */
	key[0] = '{';
	key[1] = '"';
	memset(key + 2, 'k', FASTJSON_MAX_KEY);
	memcpy(key + 2 + FASTJSON_MAX_KEY, "\":1}", 4);
	check_declined(key, FASTJSON_MAX_KEY + 6, 0);
	/* Whatever follows the value, even an unterminated string, which
	 * YAJL alone would take for the end of a stream. */
	DECLINED("{\"token\":\"x\"}\"op");
	DECLINED("{\"a\":1} x");
	DECLINED("{\"a\":1}{}");
	DECLINED("[1] // c");
	/* Not JSON at all. */
	DECLINED("");
	DECLINED("   ");
	DECLINED("{\"a\":1,}");
	DECLINED("[1,]");
	DECLINED("{'a':1}");
	DECLINED("{\"a\" 1}");
	DECLINED("[01]");
	DECLINED("[.5]");
	DECLINED("[+1]");
	DECLINED("[-]");
	DECLINED("[1.]");
	DECLINED("[NaN]");
	DECLINED("/* c */ {}");
	DECLINED("{\"a\":\"tab\there\"}");
	DECLINED("{\"a\":\"line\nbreak\"}");
	DECLINED("\xef\xbb\xbf{}"); /* a byte order mark */
	DECLINED("{\"a\":tru}");
	DECLINED("[1");
	DECLINED("{\"a\":\"x");
	/* A scalar when an object or an array is asked for. */
	DECLINED("\"a\"");
	DECLINED("1");
}

/* Flags other than JSON_DECODE_ANY go to jansson alone. */
static void test_other_flags_go_to_jansson(void **state)
{
	(void)state;
	assert_null(fastjson_try("{\"a\":1}", 7, JSON_ALLOW_NUL));
	assert_null(fastjson_try("{\"a\":1}", 7, JSON_DISABLE_EOF_CHECK));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef HAVE_YAJL
	    cmocka_unit_test(test_common_texts_taken),
#endif
	    cmocka_unit_test(test_unsure_texts_declined),
	    cmocka_unit_test(test_other_flags_go_to_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
