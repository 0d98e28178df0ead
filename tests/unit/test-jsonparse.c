/*
 * tests/unit/test-jsonparse.c — core/jsonparse.c against jansson: on every
 * input, jsonparse_load() must accept exactly what json_loadb(...,
 * JSON_REJECT_DUPLICATES) accepts, build an equal value, and refuse the
 * rest with the same class of error (numeric overflow, NUL in a string,
 * anything else).  Hand-written hostile inputs first, then a deterministic
 * mutation run over JWT-like payloads.  One difference is deliberate: a
 * raw NUL byte is refused wherever it is (jansson skips one that follows a
 * number).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"

/* The class jws_claims() gives a jansson error. */
static int class_of_jansson(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_numeric_overflow:
		return JSONPARSE_OVERFLOW;
	case json_error_null_character:
		return JSONPARSE_NUL;
	default:
		return JSONPARSE_SYNTAX;
	}
}

/* Compare both parsers on `len` bytes of `text`; returns the class. */
static int same_as_jansson(const char *text, size_t len)
{
	struct jsonparse_error e;
	json_error_t je;
	json_t *want, *got;
	int rc;

	/* jansson loses a raw NUL byte that follows a number ("[0<NUL>]" is
	 * [0] to it); jsonparse refuses every raw NUL, as RFC 8259 does. */
	if (memchr(text, '\0', len)) {
		got = jsonparse_load(text, len, &e);
		assert_null(got);
		assert_true(e.code != JSONPARSE_OK && e.code != JSONPARSE_MEMORY);
		return e.code;
	}
	want = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	got = jsonparse_load(text, len, &e);

	if (!want != !got) {
		char shown[200];

		snprintf(shown, sizeof(shown), "%.*s", (int)(len < 150 ? len : 150), text);
		fail_msg("jansson %s, jsonparse %s on \"%s\" (%s / %s)", want ? "accepts" : "refuses",
			 got ? "accepts" : "refuses", shown, want ? "" : je.text, got ? "" : e.text);
	}
	if (want) {
		if (!json_equal(want, got))
			fail_msg("different values for \"%.*s\"", (int)(len < 150 ? len : 150), text);
		rc = JSONPARSE_OK;
	} else {
		rc = class_of_jansson(&je);
		if (rc != e.code)
			fail_msg("error class %d (jansson: %s) but %d (%s) on \"%.*s\"", rc, je.text, e.code, e.text,
				 (int)(len < 150 ? len : 150), text);
		assert_non_null(e.text);
		assert_true(e.offset <= len);
	}
	json_decref(want);
	json_decref(got);
	return rc;
}

static int same(const char *text)
{
	return same_as_jansson(text, strlen(text));
}

static void accepted(void **state)
{
	json_t *v;
	struct jsonparse_error e;

	(void)state;
	assert_int_equal(same("{}"), JSONPARSE_OK);
	assert_int_equal(same("[]"), JSONPARSE_OK);
	assert_int_equal(same(" \t\r\n{ \"a\" : [ 1 , -2 , 3.5 , -0 , -0.0 , 1e3 , 1E-3 , 2e+2 ] } \n"), JSONPARSE_OK);
	assert_int_equal(same("{\"s\":\"plain\",\"t\":true,\"f\":false,\"n\":null,\"o\":{\"x\":{}}}"), JSONPARSE_OK);
	assert_int_equal(same("{\"esc\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20AC \\ud83d\\ude00\"}"),
			 JSONPARSE_OK);
	assert_int_equal(same("{\"utf8\":\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}"), JSONPARSE_OK);
	assert_int_equal(same("{\"k\\u00e9y\":1,\"k\xc3\xa9y2\":2}"), JSONPARSE_OK);
	assert_int_equal(same("[9223372036854775807,-9223372036854775808,1e-400,0.000001]"), JSONPARSE_OK);
	/* Keys with escapes stay right while the value reuses the buffer. */
	assert_int_equal(same("{\"a\\nb\":\"c\\nd\",\"e\\u0041\":{\"f\\\"\":\"\\u0042\"}}"), JSONPARSE_OK);
	/* The types jansson gives. */
	v = jsonparse_load("[1, 1.0, \"x\"]", 13, &e);
	assert_non_null(v);
	assert_true(json_is_integer(json_array_get(v, 0)));
	assert_true(json_is_real(json_array_get(v, 1)));
	json_decref(v);
}

static void refused(void **state)
{
	/* clang-format off */
	static const char *const syntax[] = {
		"", " ", "\"text\"", "1", "true", "null", "{", "[", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}",
		"[1,]", "[1 2]", "{\"a\" 1}", "{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":.5}",
		"{\"a\":1e}", "{\"a\":1e+}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}", "{\"a\":NaN}",
		"{\"a\":Infinity}", "{} {}", "{}x", "[]]", "{\"a\":\"\x01\"}", "{\"a\":\"line\nbreak\"}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\ud800\"}",
		"{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"\xc3\"}",
		"{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xe0\x80\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\x80\"}", "\xef\xbb\xbf{}",
		/* Duplicate members at any depth, and NUL in a key. */
		"{\"alg\":\"RS256\",\"alg\":\"HS256\"}", "{\"o\":{\"x\":1,\"x\":2}}", "[{\"x\":1,\"x\":1}]",
		"{\"a\":1,\"\\u0061\":2}", "{\"a\\u0000b\":1}",
		/* A duplicate found before a bad value, as jansson finds it. */
		"{\"a\":1,\"a\":1e400}", "{\"a\":1,\"a\":\"\\u0000\"}",
	};
	/* clang-format on */
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(syntax); i++)
		assert_int_equal(same(syntax[i]), JSONPARSE_SYNTAX);
	assert_int_equal(same("{\"exp\":1e400}"), JSONPARSE_OVERFLOW);
	assert_int_equal(same("{\"exp\":-1e400}"), JSONPARSE_OVERFLOW);
	assert_int_equal(same("{\"exp\":99999999999999999999}"), JSONPARSE_OVERFLOW);
	assert_int_equal(same("{\"exp\":9223372036854775808}"), JSONPARSE_OVERFLOW);
	assert_int_equal(same("{\"exp\":-9223372036854775809}"), JSONPARSE_OVERFLOW);
	assert_int_equal(same("{\"sub\":\"a\\u0000b\"}"), JSONPARSE_NUL);
	assert_int_equal(same("[\"\\u0000\"]"), JSONPARSE_NUL);
	/* A raw NUL byte is not the escape: a syntax error. */
	assert_int_equal(same_as_jansson("{\"a\":\"x\0y\"}", 11), JSONPARSE_SYNTAX);
	assert_int_equal(same_as_jansson("{\"a\":1}\0", 8), JSONPARSE_SYNTAX);
	assert_int_equal(same_as_jansson("[0\0]", 4), JSONPARSE_SYNTAX);
}

/* jansson's limit: 2048 nested values, the innermost scalar included. */
static void depth(void **state)
{
	char *text = malloc(2 * 2100 + 2);
	size_t n, i;

	(void)state;
	assert_non_null(text);
	for (n = 2046; n <= 2050; n++) {
		for (i = 0; i < n; i++)
			text[i] = '[';
		text[n] = '1';
		for (i = 0; i < n; i++)
			text[n + 1 + i] = ']';
		same_as_jansson(text, 2 * n + 1);
		/* Empty innermost container. */
		same_as_jansson(text, n);
		memcpy(text + n - 1, "[]", 2);
		for (i = 0; i < n; i++)
			text[n + 1 + i] = ']';
		same_as_jansson(text, 2 * n);
	}
	free(text);
}

/* xorshift: the same mutations on every run. */
static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void mutations(void **state)
{
	static const char *const seeds[] = {
	    "{\"iss\":\"https://accounts.google.com\",\"aud\":[\"a\",\"b\"],\"sub\":\"110169484474386276334\","
	    "\"email_verified\":true,\"iat\":1700000000,\"exp\":1700003600,\"name\":\"J\\u00e9r\\u00f4me \\\"J\\\"\","
	    "\"picture\":\"https:\\/\\/x.example\\/p.png\",\"score\":-12.5e-3,\"n\":null,\"o\":{\"k\":[1,{}]}}",
	    "{\"alg\":\"ES256\",\"kid\":\"k\xc3\xa9\",\"typ\":\"JWT\",\"crit\":[\"b64\"],\"x\":[[[]]]}",
	    "[\"\\ud83d\\ude00\",0,-0,1E+2,\"\xf0\x9f\x98\x80\",false]",
	    "{\"exp\":1e300,\"big\":922337203685477580,\"s\":\"\\u0001\"}",
	};
	static const char bytes[] =
	    "\"\\{}[],:0-+eE.u ntf\x00\x1f\x7f\x80\xbf\xc3\xed\xf0\xf4\xff"
	    "aA9";
	char buf[512];
	uint32_t rnd = 0x2545f491;
	int counts[5] = {0};
	size_t i, len;
	int k;

	(void)state;
	for (i = 0; i < 40000; i++) {
		const char *seed = seeds[i % ARRAY_SIZE(seeds)];
		int edits = 1 + (int)(next_random(&rnd) % 3);

		len = strlen(seed);
		memcpy(buf, seed, len);
		for (k = 0; k < edits; k++) {
			size_t at = len ? next_random(&rnd) % len : 0;
			char c = bytes[next_random(&rnd) % (sizeof(bytes) - 1)];

			switch (next_random(&rnd) % 3) {
			case 0: /* replace */
				if (len)
					buf[at] = c;
				break;
			case 1: /* insert */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				break;
			default: /* delete */
				if (len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			}
		}
		counts[same_as_jansson(buf, len)]++;
	}
	/* The run reached every class, so the comparison meant something. */
	assert_true(counts[JSONPARSE_OK] > 100);
	assert_true(counts[JSONPARSE_SYNTAX] > 100);
	assert_true(counts[JSONPARSE_OVERFLOW] > 5 && counts[JSONPARSE_NUL] > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(accepted),
	    cmocka_unit_test(refused),
	    cmocka_unit_test(depth),
	    cmocka_unit_test(mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
