/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-response.c — daemon/response.c: error bodies, the
 * libsesame status -> HTTP status and App Services code table, headers. */
#include "config.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "secretbuf.h"

static json_t *body_of(const struct reply *rep)
{
	json_t *v = json_loadb(rep->body, rep->body_len, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(v);
	return v;
}

static void test_error_body(void **state)
{
	struct reply rep;
	json_t *v;

	reply_init(&rep);
	reply_error(&rep, 401, "InvalidSession", "token %s", "expired");
	assert_int_equal(rep.status, 401);
	assert_string_equal(rep.content_type, "application/json");
	v = body_of(&rep);
	assert_int_equal(json_object_size(v), 3);
	assert_string_equal(json_string_value(json_object_get(v, "error")), "token expired");
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), "InvalidSession");
	assert_string_equal(json_string_value(json_object_get(v, "link")), "");
	json_decref(v);
	/* A second answer replaces the first; headers stay. */
	reply_header(&rep, "Retry-After", "3");
	reply_json(&rep, 200, json_pack("{s:b}", "ok", 1));
	assert_int_equal(rep.status, 200);
	assert_string_equal(rep.body, "{\"ok\":true}");
	assert_string_equal(reply_header_value(&rep, "retry-after"), "3");
	reply_clear(&rep);
	assert_int_equal(rep.status, 0);
	assert_null(rep.body);

	/* Out of memory building the body: a 500 with no body; server.c sends a fixed one. */
	reply_json(&rep, 200, NULL);
	assert_int_equal(rep.status, 500);
	assert_null(rep.body);
	reply_clear(&rep);
}

static json_t *long_members(void)
{
	char plain[5000], escaped[3000];
	size_t i;

	memset(plain, 'p', sizeof(plain) - 1);
	plain[sizeof(plain) - 1] = '\0';
	for (i = 0; i < sizeof(escaped) - 1; i++)
		escaped[i] = i % 7 == 0 ? '"' : i % 11 == 0 ? '\n' : 'e';
	escaped[sizeof(escaped) - 1] = '\0';
	return json_pack("{s:s, s:s, s:i}", "plain", plain, "escaped", escaped, "n", 3);
}

/* reply_json() writes what json_dumps(JSON_COMPACT) writes: objects
 * member by member (shared/jsontext.h: plain strings and integers copied,
 * anything else jansson's text of the value), other bodies by jansson. */
static void test_json_bodies_are_jansson_text(void **state)
{
	const char *shapes[] = {
	    /* A login's answer. */
	    "{\"access_token\": \"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\", \"refresh_token\": \"a.b.c\","
	    " \"user_id\": \"5f0000000000000000000001\", \"device_id\": \"000000000000000000000000\"}",
	    "{}",
	    "{\"n\": 0, \"min\": -9223372036854775808, \"max\": 9223372036854775807, \"t\": true, \"f\": false,"
	    " \"z\": null, \"e\": \"\", \"sp\": \" /~ \"}",
	    /* jansson's: escapes, control characters, DEL, non-ASCII, reals,
	     * nesting, an array. */
	    "{\"q\": \"a\\\"b\", \"bs\": \"a\\\\b\"}",
	    "{\"c\": \"a\\nb\\u0001\"}",
	    "{\"del\": \"\\u007f\"}",
	    "{\"u\": \"\\u00e9t\\u00e9\"}",
	    "{\"k\\\"ey\": 1}",
	    "{\"r\": 1.5}",
	    "{\"o\": {\"a\": 1}, \"l\": [1, \"x\"]}",
	    "[1, 2]",
	    "\"text\"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]) + 1; i++) {
		/* Last, members longer than the writer's first buffer, plain and
		 * not. */
		json_t *v = i < sizeof(shapes) / sizeof(shapes[0]) ? json_loads(shapes[i], JSON_DECODE_ANY, NULL)
								   : long_members();
		char *want;
		struct reply rep;

		assert_non_null(v);
		/* What reply_json() wrote before it had a path of its own: a
		 * bare string is no JSON text to json_dumps(), hence a 500. */
		want = json_dumps(v, JSON_COMPACT);
		reply_init(&rep);
		reply_json(&rep, 200, v);
		if (want) {
			assert_int_equal(rep.status, 200);
			assert_int_equal(rep.body_len, strlen(want));
			assert_string_equal(rep.body, want);
		} else {
			assert_int_equal(rep.status, 500);
			assert_null(rep.body);
		}
		free(want);
		reply_clear(&rep);
	}
}

static void test_status_map(void **state)
{
	static const struct {
		int status;
		const char *reason;
		unsigned http;
		const char *code;
	} cases[] = {
	    {SESAME_REJECTED, "sig", 401, "AuthError"},
	    {SESAME_REJECTED, NULL, 401, "AuthError"},
	    {SESAME_REJECTED, "disabled", 401, "UserDisabled"},
	    {SESAME_REJECTED, "session", 401, "InvalidSession"},
	    {SESAME_MALFORMED, "syntax", 400, "BadRequest"},
	    {SESAME_NOT_FOUND, "provider", 404, "AuthProviderNotFound"},
	    {SESAME_NOT_FOUND, "user", 404, "UserNotFound"},
	    {SESAME_CONFLICT, NULL, 409, "AccountNameInUse"},
	    /* A store conflict still there after every retry is no account
	     * name in use: the client should try again. */
	    {SESAME_CONFLICT, "busy", 503, "ServiceUnavailable"},
	    /* As the hosted service answers it. */
	    {SESAME_CONFLICT, "already-confirmed", 400, "UserAlreadyConfirmed"},
	    {SESAME_REJECTED, "throttled", 429, "TooManyRequests"},
	    {SESAME_UNAVAILABLE, "busy", 503, "ServiceUnavailable"},
	    {SESAME_UNAVAILABLE, "provider", 503, "ServiceUnavailable"},
	    {SESAME_INTERNAL, NULL, 500, "InternalServerError"},
	    {SESAME_CONFIG, NULL, 500, "InternalServerError"},
	    {99, NULL, 500, "InternalServerError"},
	};
	const char *code;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(error_http_status(cases[i].status, cases[i].reason, &code), cases[i].http);
		assert_string_equal(code, cases[i].code);
	}
}

static void test_sesame_error_hides_internals(void **state)
{
	sesame_error err = {SESAME_INTERNAL, 0, 0, "memory", "", "/usr/lib/sesame/x.so: secret detail"};
	struct reply rep;
	json_t *v;

	reply_init(&rep);
	reply_sesame_error(&rep, &err);
	assert_int_equal(rep.status, 500);
	assert_null(strstr(rep.body, "secret detail"));
	reply_clear(&rep);

	err.status = SESAME_NOT_FOUND;
	snprintf(err.reason, sizeof(err.reason), "provider");
	snprintf(err.text, sizeof(err.text), "no enabled provider named \"x\"");
	reply_sesame_error(&rep, &err);
	assert_int_equal(rep.status, 404);
	v = body_of(&rep);
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), "AuthProviderNotFound");
	assert_string_equal(json_string_value(json_object_get(v, "error")), "no enabled provider named \"x\"");
	json_decref(v);
	reply_clear(&rep);
}

/* Answers a client should retry carry Retry-After; others do not. */
static void test_retry_after(void **state)
{
	sesame_error busy = {SESAME_UNAVAILABLE, 0, 0, "busy", "", "password hashing is busy"};
	sesame_error throttled = {SESAME_REJECTED, 0, 0, "throttled", "", "too many failed logins for this user"};
	sesame_error down = {SESAME_UNAVAILABLE, 0, 0, "provider", "", "provider x is unavailable"};
	sesame_error wrong = {SESAME_REJECTED, 0, 0, "password", "", "invalid username/password"};
	struct reply rep;
	json_t *v;

	reply_init(&rep);
	reply_sesame_error(&rep, &busy);
	assert_int_equal(rep.status, 503);
	assert_string_equal(reply_header_value(&rep, "Retry-After"), "5");
	v = body_of(&rep);
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), "ServiceUnavailable");
	json_decref(v);
	reply_clear(&rep);
	reply_sesame_error(&rep, &throttled);
	assert_int_equal(rep.status, 429);
	assert_string_equal(reply_header_value(&rep, "Retry-After"), "60");
	v = body_of(&rep);
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), "TooManyRequests");
	assert_string_equal(json_string_value(json_object_get(v, "error")), "too many failed logins for this user");
	json_decref(v);
	reply_clear(&rep);
	reply_sesame_error(&rep, &down);
	assert_int_equal(rep.status, 503);
	assert_null(reply_header_value(&rep, "Retry-After"));
	reply_clear(&rep);
	reply_sesame_error(&rep, &wrong);
	assert_int_equal(rep.status, 401);
	assert_null(reply_header_value(&rep, "Retry-After"));
	reply_clear(&rep);
}

/* Error bodies are built from any bytes: invalid UTF-8 is repaired, and a
 * message cut at REPLY_ERROR_MAX never splits a character (else jansson
 * refuses the body and the answer is a 500). */
static void test_error_body_utf8(void **state)
{
	char long_text[2 * REPLY_ERROR_MAX];
	struct reply rep;
	json_t *v;
	size_t i;

	reply_init(&rep);
	reply_error(&rep, 404, "NotFound", "no route for GET %s", "/x\xff\xc3");
	assert_int_equal(rep.status, 404);
	v = body_of(&rep);
	assert_string_equal(json_string_value(json_object_get(v, "error")),
			    "no route for GET /x\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(v);
	for (i = 0; i < 2; i++) {
		size_t n = i;

		/* "é" (2 bytes) across the cut, at both parities. */
		memset(long_text, 'a', i);
		while (n + 2 < sizeof(long_text)) {
			memcpy(long_text + n, "\xc3\xa9", 2);
			n += 2;
		}
		long_text[n] = '\0';
		reply_error(&rep, 401, "AuthError", "%s", long_text);
		assert_int_equal(rep.status, 401);
		v = body_of(&rep);
		assert_true(strlen(json_string_value(json_object_get(v, "error"))) >= REPLY_ERROR_MAX - 2);
		json_decref(v);
	}
	reply_clear(&rep);
}

/* Without the admin key a caller reads fixed texts for what would describe
 * the server or another user; the detail is kept for the log line. */
static void test_public_texts(void **state)
{
	static const struct {
		const char *reason, *text, *shown;
	} cases[] = {
	    {"nokey", "no key with kid \"k1\"", "the token's signature cannot be verified"},
	    {"alg", "the key \"k1\" is pinned to RS256, not HS256", "the token's signature cannot be verified"},
	    {"sig", "the RS256 signature is 255 bytes, expected 256", "the token's signature cannot be verified"},
	    {"disabled", "user 0123456789abcdef01234567 is disabled", "user disabled"},
	    {"upstream", "Google refused the authorization code (HTTP 400, invalid_grant)",
	     "the identity provider refused the credential"},
	    {"claim", "the token expired (claim \"exp\")", "the token expired (claim \"exp\")"},
	};
	sesame_error err;
	struct reply rep;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&err, 0, sizeof(err));
		err.status = SESAME_REJECTED;
		snprintf(err.reason, sizeof(err.reason), "%s", cases[i].reason);
		snprintf(err.text, sizeof(err.text), "%s", cases[i].text);
		reply_init(&rep);
		assert_string_equal(reply_public_text(&rep, &err), cases[i].shown);
		if (strcmp(cases[i].text, cases[i].shown) != 0)
			assert_string_equal(rep.detail, cases[i].text);
		else
			assert_null(rep.detail);
		reply_clear(&rep);
		/* The admin reads them whole. */
		reply_init(&rep);
		rep.trusted = true;
		assert_string_equal(reply_public_text(&rep, &err), cases[i].text);
		reply_clear(&rep);
	}
	/* Server-side failures are hidden from everyone. */
	err.status = SESAME_UNAVAILABLE;
	snprintf(err.text, sizeof(err.text), "%s", "https://idp.internal/jwks answered HTTP 502");
	reply_init(&rep);
	rep.trusted = true;
	assert_string_equal(reply_public_text(&rep, &err), "service unavailable, try again later");
	assert_string_equal(rep.detail, "https://idp.internal/jwks answered HTTP 502");
	reply_clear(&rep);
}

static void test_headers(void **state)
{
	struct reply rep;
	char name[16];
	int i;

	reply_init(&rep);
	reply_header(&rep, "Vary", "Origin");
	reply_header(&rep, "vary", "Accept");
	assert_int_equal(rep.n_headers, 1);
	assert_string_equal(reply_header_value(&rep, "VARY"), "Accept");
	assert_null(reply_header_value(&rep, "Allow"));
	/* A fixed number of headers: extra ones are dropped, never overflow. */
	for (i = 0; i < 2 * REPLY_MAX_HEADERS; i++) {
		snprintf(name, sizeof(name), "X-H%d", i);
		reply_header(&rep, name, "v");
	}
	assert_int_equal(rep.n_headers, REPLY_MAX_HEADERS);
	reply_clear(&rep);
}

/* Memory that held a secret is wiped whole: the block's every usable
 * byte, not only the bytes of the string it held. */
static void test_secret_wipe(void **state)
{
	char *p = malloc(100);
	size_t n, i;

	(void)state;
	assert_non_null(p);
	n = malloc_usable_size(p);
	assert_true(n >= 100);
	memset(p, 'S', n);
	secret_wipe(p);
	for (i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
	free(p);
	secret_wipe(NULL);
	secret_free(NULL);
	secret_free(strdup("a refresh token"));
}

/* A buffer grows into a new block holding what it held; out of memory
 * aside, from nothing too. */
static void test_secretbuf_grow(void **state)
{
	char *buf = NULL;
	size_t cap = 0;

	(void)state;
	assert_true(secretbuf_grow(&buf, 0, &cap, 4));
	assert_non_null(buf);
	assert_int_equal(cap, 4);
	memcpy(buf, "pass", 4);
	assert_true(secretbuf_grow(&buf, 4, &cap, 64));
	assert_int_equal(cap, 64);
	assert_memory_equal(buf, "pass", 4);
	free(buf);
}

/* sesamed's JSON values go back through secret_free(): the strings of a
 * parsed body (a password) and of a session (its tokens). */
static void test_memory_init_wipes_json(void **state)
{
	json_malloc_t m;
	json_free_t f;
	json_t *v;

	(void)state;
	daemon_memory_init();
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, malloc);
	assert_ptr_equal(f, secret_free);
	v = json_pack("{s:s}", "password", "correct horse battery staple");
	assert_non_null(v);
	json_decref(v);
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_body),	    cmocka_unit_test(test_json_bodies_are_jansson_text),
	    cmocka_unit_test(test_status_map),	    cmocka_unit_test(test_sesame_error_hides_internals),
	    cmocka_unit_test(test_error_body_utf8), cmocka_unit_test(test_public_texts),
	    cmocka_unit_test(test_headers),	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_secret_wipe),	    cmocka_unit_test(test_memory_init_wipes_json),
	    cmocka_unit_test(test_secretbuf_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
