/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-ejson.c — daemon/ejson.c: every Extended JSON type the
 * SDKs send decoded to plain JSON, the refused types, hostile values (huge
 * numbers, bad hex, impossible dates, deep nesting, long member names)
 * with a message naming the member, and objects that only look like
 * EJSON left alone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

/* Decode `in`; it must become `expect`. */
static void decodes(const char *in, const char *expect)
{
	json_t *body = json_loads(in, JSON_REJECT_DUPLICATES, NULL), *want = json_loads(expect, 0, NULL);
	sesame_error err;

	if (!body || !want)
		fail_msg("bad test JSON: %s / %s", in, expect);
	if (ejson_decode(body, &err) != SESAME_OK)
		fail_msg("%s: refused: %s", in, err.text);
	if (!json_equal(body, want)) {
		char *got = json_dumps(body, JSON_COMPACT);

		fail_msg("%s decoded to %s, expected %s", in, got, expect);
	}
	json_decref(body);
	json_decref(want);
}

/* Decoding `in` must fail with a message containing `path` and `text`. */
static void refuses(const char *in, const char *path, const char *text)
{
	json_t *body = json_loads(in, JSON_REJECT_DUPLICATES, NULL);
	sesame_error err;
	char quoted[300];
	json_t *check;

	if (!body)
		fail_msg("bad test JSON: %s", in);
	if (ejson_decode(body, &err) == SESAME_OK)
		fail_msg("%s: accepted", in);
	snprintf(quoted, sizeof(quoted), "\"%s\"", path);
	if (!strstr(err.text, quoted) || !strstr(err.text, text))
		fail_msg("%s: message \"%s\" lacks %s or \"%s\"", in, err.text, quoted, text);
	/* The message goes into a JSON error body: it must be valid UTF-8. */
	check = json_string(err.text);
	assert_non_null(check);
	json_decref(check);
	json_decref(body);
}

static void test_numbers(void **state)
{
	(void)state;
	decodes(
	    "{\"n\": {\"$numberInt\": \"2\"}, \"m\": {\"$numberInt\": \"-2147483648\"}, \"x\": {\"$numberInt\": "
	    "\"2147483647\"}}",
	    "{\"n\": 2, \"m\": -2147483648, \"x\": 2147483647}");
	decodes(
	    "{\"l\": {\"$numberLong\": \"9223372036854775807\"}, \"k\": {\"$numberLong\": \"-9223372036854775808\"}}",
	    "{\"l\": 9223372036854775807, \"k\": -9223372036854775808}");
	decodes(
	    "{\"d\": {\"$numberDouble\": \"1.5\"}, \"e\": {\"$numberDouble\": \"-1.0e+20\"}, \"z\": "
	    "{\"$numberDouble\": \"-0.0\"}, \"i\": {\"$numberDouble\": \"3\"}}",
	    "{\"d\": 1.5, \"e\": -1.0e20, \"z\": -0.0, \"i\": 3.0}");
}

static void test_number_refusals(void **state)
{
	(void)state;
	refuses("{\"n\": {\"$numberInt\": \"2147483648\"}}", "n", "32-bit");
	refuses("{\"n\": {\"$numberInt\": \"-2147483649\"}}", "n", "32-bit");
	refuses("{\"n\": {\"$numberInt\": 2}}", "n", "$numberInt");
	refuses("{\"n\": {\"$numberInt\": \"+2\"}}", "n", "$numberInt");
	refuses("{\"n\": {\"$numberInt\": \" 2\"}}", "n", "$numberInt");
	refuses("{\"n\": {\"$numberInt\": \"2x\"}}", "n", "$numberInt");
	refuses("{\"n\": {\"$numberInt\": \"\"}}", "n", "$numberInt");
	refuses("{\"n\": {\"$numberInt\": \"-\"}}", "n", "$numberInt");
	refuses("{\"l\": {\"$numberLong\": \"9223372036854775808\"}}", "l", "64-bit");
	refuses("{\"l\": {\"$numberLong\": \"99999999999999999999999999999\"}}", "l", "64-bit");
	refuses("{\"l\": {\"$numberLong\": \"0x10\"}}", "l", "64-bit");
	refuses("{\"a\": {\"b\": {\"$numberDouble\": \"Infinity\"}}}", "a.b", "Infinity");
	refuses("{\"d\": {\"$numberDouble\": \"-Infinity\"}}", "d", "-Infinity");
	refuses("{\"d\": {\"$numberDouble\": \"NaN\"}}", "d", "NaN");
	refuses("{\"d\": {\"$numberDouble\": \"1e400\"}}", "d", "finite");
	refuses("{\"d\": {\"$numberDouble\": \"1e-400\"}}", "d", "finite");
	refuses("{\"d\": {\"$numberDouble\": \"inf\"}}", "d", "finite");
	refuses("{\"d\": {\"$numberDouble\": \"0x1p3\"}}", "d", "finite");
	refuses("{\"d\": {\"$numberDouble\": \"1.\"}}", "d", "finite");
	refuses("{\"d\": {\"$numberDouble\": 1.5}}", "d", "finite");
}

static void test_oid_and_date(void **state)
{
	(void)state;
	decodes("{\"options\": {\"device\": {\"deviceId\": {\"$oid\": \"65F0C0FFEE0123456789ABCD\"}}}}",
		"{\"options\": {\"device\": {\"deviceId\": \"65f0c0ffee0123456789abcd\"}}}");
	decodes(
	    "{\"t\": {\"$date\": {\"$numberLong\": \"1700000000123\"}}, \"u\": {\"$date\": {\"$numberLong\": "
	    "\"-86400000\"}}}",
	    "{\"t\": 1700000000123, \"u\": -86400000}");
	decodes(
	    "{\"t\": {\"$date\": \"2023-11-14T22:13:20.123Z\"}, \"u\": {\"$date\": \"2023-11-14T23:13:20+01:00\"},"
	    " \"v\": {\"$date\": \"1970-01-01T00:00:00Z\"}, \"w\": {\"$date\": \"2024-02-29T00:00:00.5Z\"}}",
	    "{\"t\": 1700000000123, \"u\": 1700000000000, \"v\": 0, \"w\": 1709164800500}");
	refuses("{\"o\": {\"$oid\": \"65f0c0ffee0123456789abc\"}}", "o", "24 hexadecimal");
	refuses("{\"o\": {\"$oid\": \"65f0c0ffee0123456789abcde\"}}", "o", "24 hexadecimal");
	refuses("{\"o\": {\"$oid\": \"65f0c0ffee0123456789abcg\"}}", "o", "24 hexadecimal");
	refuses("{\"o\": {\"$oid\": 12}}", "o", "24 hexadecimal");
	refuses("{\"t\": {\"$date\": \"2023-02-29T00:00:00Z\"}}", "t", "$date");
	refuses("{\"t\": {\"$date\": \"2023-04-31T00:00:00Z\"}}", "t", "$date");
	refuses("{\"t\": {\"$date\": \"2023-11-14 22:13:20Z\"}}", "t", "$date");
	refuses("{\"t\": {\"$date\": \"2023-11-14T22:13:20\"}}", "t", "$date");
	refuses("{\"t\": {\"$date\": \"2023-11-14T25:13:20Z\"}}", "t", "$date");
	refuses("{\"t\": {\"$date\": \"2023-11-14T22:13:20.Z\"}}", "t", "$date");
	refuses("{\"t\": {\"$date\": 1700000000000}}", "t", "$date");
	refuses("{\"t\": {\"$date\": {\"$numberLong\": \"1\", \"x\": 1}}}", "t", "$date");
	refuses("{\"t\": {\"$date\": {\"$numberInt\": \"1\"}}}", "t", "$date");
}

static void test_refused_types(void **state)
{
	static const char *const types[] = {"$numberDecimal", "$binary", "$uuid",   "$regularExpression",
					    "$timestamp",     "$symbol", "$code",   "$codeWithScope",
					    "$dbPointer",     "$minKey", "$maxKey", "$undefined"};
	char in[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(in, sizeof(in), "{\"arguments\": [1, {\"%s\": \"x\"}]}", types[i]);
		refuses(in, "arguments[1]", types[i]);
	}
}

static void test_arrays_and_nesting(void **state)
{
	char deep[4096];
	size_t n = 0, i;

	(void)state;
	decodes(
	    "{\"arguments\": [{\"$numberInt\": \"1\"}, [{\"$oid\": \"000000000000000000000001\"}], {\"k\": "
	    "{\"$numberLong\": \"5\"}}]}",
	    "{\"arguments\": [1, [\"000000000000000000000001\"], {\"k\": 5}]}");
	/* 64 levels decode; 65 are refused. */
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\": ");
	for (i = 1; i < 64; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "[");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"$numberInt\": \"7\"}");
	for (i = 1; i < 64; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "]");
	snprintf(deep + n, sizeof(deep) - n, "}");
	{
		json_t *body = json_loads(deep, 0, NULL), *v;
		sesame_error err;

		assert_non_null(body);
		assert_int_equal(ejson_decode(body, &err), 0);
		for (v = json_object_get(body, "a"); json_is_array(v); v = json_array_get(v, 0))
			;
		assert_int_equal(json_integer_value(v), 7);
		json_decref(body);
	}
	n = 0;
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\": ");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "[");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "1");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "]");
	snprintf(deep + n, sizeof(deep) - n, "}");
	{
		char path[256] = "a";

		for (i = 0; i < 63; i++)
			strcat(path, "[0]");
		refuses(deep, path, "nested deeper than 64");
	}
}

/* Objects that merely contain "$" keys are data. */
static void test_not_ejson(void **state)
{
	(void)state;
	decodes(
	    "{\"a\": {\"$oid\": \"x\", \"b\": 1}, \"c\": {\"$foo\": 1}, \"d\": {\"$regex\": \"^a\", \"$options\": "
	    "\"i\"}, \"e\": {}, \"$oid\": \"not a wrapper at the top\", \"f\": \"{\\\"$numberInt\\\": \\\"1\\\"}\"}",
	    "{\"a\": {\"$oid\": \"x\", \"b\": 1}, \"c\": {\"$foo\": 1}, \"d\": {\"$regex\": \"^a\", \"$options\": "
	    "\"i\"}, \"e\": {}, \"$oid\": \"not a wrapper at the top\", \"f\": \"{\\\"$numberInt\\\": \\\"1\\\"}\"}");
	/* The body itself is the request, never a value. */
	decodes("{\"$numberInt\": \"1\"}", "{\"$numberInt\": \"1\"}");
}

/* A long path is cut with "...", never inside a UTF-8 character. */
static void test_long_paths(void **state)
{
	char in[2048], key[400];
	json_t *body;
	sesame_error err;
	size_t i;

	(void)state;
	for (i = 0; i + 2 < 398; i += 2)
		memcpy(key + i, "\xc3\xa9", 2); /* é */
	key[i] = '\0';
	snprintf(in, sizeof(in), "{\"%s\": {\"x%s\": {\"$oid\": \"bad\"}}}", key, key);
	body = json_loads(in, 0, NULL);
	assert_non_null(body);
	assert_int_equal(ejson_decode(body, &err), SESAME_MALFORMED);
	assert_non_null(strstr(err.text, "...\""));
	{
		json_t *check = json_string(err.text);

		assert_non_null(check);
		json_decref(check);
	}
	json_decref(body);
}

/* Every client API route with a JSON body decodes it: a request value
 * reaches no provider or program as EJSON. */
static void test_client_routes_decode(void **state)
{
	size_t n, i, checked = 0;
	const struct route *routes = routes_table(&n);

	(void)state;
	for (i = 0; i < n; i++) {
		if (strncmp(routes[i].pattern, "/api/client/v2.0/", 17) != 0 || !(routes[i].flags & ROUTE_JSON_BODY))
			continue;
		if (!(routes[i].flags & ROUTE_EJSON))
			fail_msg("%s %s takes a JSON body without EJSON decoding", routes[i].method, routes[i].pattern);
		checked++;
	}
	assert_true(checked >= 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_number_refusals),
	    cmocka_unit_test(test_oid_and_date),
	    cmocka_unit_test(test_refused_types),
	    cmocka_unit_test(test_arrays_and_nesting),
	    cmocka_unit_test(test_not_ejson),
	    cmocka_unit_test(test_long_paths),
	    cmocka_unit_test(test_client_routes_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
