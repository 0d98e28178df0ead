/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-request.c — daemon/request.c: content types, strict JSON
 * bodies, login bodies, bearer tokens, device ids. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

static void test_content_type(void **state)
{
	assert_true(content_type_is_json("application/json"));
	assert_true(content_type_is_json("application/json;charset=utf-8"));
	assert_true(content_type_is_json("Application/JSON; charset=UTF-8"));
	assert_true(content_type_is_json(" application/json "));
	assert_false(content_type_is_json(NULL));
	assert_false(content_type_is_json(""));
	assert_false(content_type_is_json("text/plain"));
	assert_false(content_type_is_json("application/jsonx"));
	assert_false(content_type_is_json("application/json-patch+json"));
	assert_false(content_type_is_json("application/x-www-form-urlencoded"));
}

static void parse_fails(const char *text, const char *expect)
{
	sesame_error err;
	json_t *v = (json_t *)1;

	assert_int_equal(body_parse_json(text, strlen(text), &v, &err), SESAME_MALFORMED);
	assert_null(v);
	if (!strstr(err.text, expect))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, err.text, expect);
}

static void test_body_parse(void **state)
{
	static const char nul[] = "{\"user\": \"a\\u0000b\"}";
	sesame_error err;
	json_t *v;

	assert_int_equal(body_parse_json("{\"user\": \"bob\"}", 15, &v, &err), 0);
	assert_string_equal(json_string_value(json_object_get(v, "user")), "bob");
	json_decref(v);

	parse_fails("", "empty");
	parse_fails("{\"user\": ", "malformed JSON body");
	parse_fails("{\"user\": \"a\", \"user\": \"b\"}", "duplicate");
	parse_fails("[1, 2]", "must be a JSON object");
	parse_fails("\"text\"", "must be a JSON object");
	parse_fails("{} {}", "malformed JSON body");
	parse_fails(nul, "malformed JSON body");
	/* A raw NUL byte between tokens, which jansson alone would skip. */
	{
		static const char raw[] = "{\"user\": 2\0, \"x\": 1}";

		v = (json_t *)1;
		assert_int_equal(body_parse_json(raw, sizeof(raw) - 1, &v, &err), SESAME_MALFORMED);
		assert_null(v);
		assert_string_equal(err.text, "malformed JSON body: a NUL byte");
	}
	/* The position helps the client developer. */
	parse_fails("{\n\"a\": tru}", "line 2");
}

static void test_login_body_split(void **state)
{
	json_t *body = json_loads(
	    "{\"token\": \"t\", \"provider\": \"custom-token\", \"options\": {\"device\": "
	    "{\"platform\": \"linux\", \"newField\": [1], \"deviceId\": \"x\"}}}",
	    JSON_REJECT_DUPLICATES, NULL);
	const json_t *device;
	json_t *cred;
	sesame_error err;

	assert_non_null(body);
	assert_int_equal(login_body_split(body, true, &cred, &device, &err), 0);
	assert_int_equal(json_object_size(cred), 1);
	assert_string_equal(json_string_value(json_object_get(cred, "token")), "t");
	assert_string_equal(json_string_value(json_object_get(device, "platform")), "linux");
	/* The body itself is unchanged. */
	assert_non_null(json_object_get(body, "options"));
	json_decref(cred);

	assert_int_equal(login_body_split(body, false, &cred, &device, &err), 0);
	assert_string_equal(json_string_value(json_object_get(cred, "provider")), "custom-token");
	assert_null(json_object_get(cred, "options"));
	json_decref(cred);
	json_decref(body);

	body = json_loads("{}", 0, NULL);
	assert_int_equal(login_body_split(body, true, &cred, &device, &err), 0);
	assert_null(device);
	assert_int_equal(json_object_size(cred), 0);
	json_decref(cred);
	json_decref(body);

	body = json_loads("{\"options\": []}", 0, NULL);
	assert_int_equal(login_body_split(body, true, &cred, &device, &err), SESAME_MALFORMED);
	assert_null(cred);
	assert_string_equal(err.text, "\"options\" must be an object");
	json_decref(body);
	body = json_loads("{\"options\": {\"device\": \"phone\"}}", 0, NULL);
	assert_int_equal(login_body_split(body, true, &cred, &device, &err), SESAME_MALFORMED);
	assert_string_equal(err.text, "\"options.device\" must be an object");
	json_decref(body);
}

static void test_bearer(void **state)
{
	const char *tok;
	char *huge;
	size_t len;

	assert_true(bearer_token("Bearer abc.DEF-ghi_jkl", &tok, &len));
	assert_int_equal(len, 15);
	assert_memory_equal(tok, "abc.DEF-ghi_jkl", 15);
	assert_true(bearer_token("bearer  abc==", &tok, &len));
	assert_int_equal(len, 5);
	assert_false(bearer_token(NULL, &tok, &len));
	assert_null(tok);
	assert_false(bearer_token("", &tok, &len));
	assert_false(bearer_token("Bearer", &tok, &len));
	assert_false(bearer_token("Bearer ", &tok, &len));
	assert_false(bearer_token("Basic dXNlcjpwYXNz", &tok, &len));
	assert_false(bearer_token("Bearer a b", &tok, &len));
	assert_false(bearer_token("Bearer a=b", &tok, &len));
	assert_false(bearer_token("Bearer ==", &tok, &len));
	assert_false(bearer_token("Bearer a\"b", &tok, &len));
	assert_false(bearer_token("Bearerabc", &tok, &len));
	huge = malloc(20000);
	memcpy(huge, "Bearer ", 7);
	memset(huge + 7, 'a', 20000 - 8);
	huge[20000 - 1] = '\0';
	assert_false(bearer_token(huge, &tok, &len));
	free(huge);
}

/* The daemon passes the client's device id on; the core decides (see
 * tests/core/test-sessions.c). */
static void test_device_ids(void **state)
{
	json_t *dev;

	dev = json_pack("{s:s}", "deviceId", "0123456789abcdef01234567");
	assert_string_equal(login_device_id(dev), "0123456789abcdef01234567");
	json_decref(dev);
	dev = json_pack("{s:i}", "deviceId", 7);
	assert_null(login_device_id(dev));
	json_decref(dev);
	assert_null(login_device_id(NULL));
}

static void test_login_throttle(void **state)
{
	struct server srv;
	struct request a, b;
	struct attempt at;
	struct reply rep;
	json_t *v;
	int i;

	memset(&srv, 0, sizeof(srv));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	srv.throttle = throttle_new(64, 2);
	a.srv = b.srv = &srv;
	snprintf(a.client, sizeof(a.client), "192.0.2.10");
	snprintf(b.client, sizeof(b.client), "192.0.2.11");
	reply_init(&rep);
	/* A success gives its token back; a refusal keeps it. */
	assert_true(request_attempt_begin(&a, &rep, &at));
	request_attempt_end(&a, &at, SESAME_OK);
	for (i = 0; i < 2; i++) {
		assert_true(request_attempt_begin(&a, &rep, &at));
		request_attempt_end(&a, &at, SESAME_REJECTED);
	}
	assert_int_equal(rep.status, 0);
	assert_false(request_attempt_begin(&a, &rep, &at));
	assert_int_equal(rep.status, 429);
	/* Two a minute: one grows back within 30 s (rounded up, so 29 or 30
	 * depending on the milliseconds elapsed). */
	assert_true(strcmp(reply_header_value(&rep, "Retry-After"), "30") == 0 ||
		    strcmp(reply_header_value(&rep, "Retry-After"), "29") == 0);
	v = json_loadb(rep.body, rep.body_len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), "TooManyRequests");
	json_decref(v);
	reply_clear(&rep);
	/* Another address is not affected. */
	assert_true(request_attempt_begin(&b, &rep, &at));
	request_attempt_end(&b, &at, SESAME_REJECTED);
	assert_int_equal(rep.status, 0);
	throttle_free(srv.throttle);
}

static const char *error_text(const struct reply *rep, char *buf, size_t len)
{
	json_t *v = json_loadb(rep->body, rep->body_len, 0, NULL);

	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), "TooManyRequests");
	snprintf(buf, len, "%s", json_string_value(json_object_get(v, "error")));
	json_decref(v);
	return buf;
}

/* Attempts reserved before they run, per address and per (address,
 * identifier); a success gives its tokens back, a refusal keeps them. */
static void test_attempts(void **state)
{
	struct server srv;
	struct request a, b;
	struct reply rep;
	struct attempt at;
	char text[256];
	int i;

	memset(&srv, 0, sizeof(srv));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	srv.throttle = throttle_new(64, 3);
	srv.ident_throttle = throttle_new_period(64, 2, 3600);
	memset(srv.ident_key, 7, sizeof(srv.ident_key));
	a.srv = b.srv = &srv;
	snprintf(a.client, sizeof(a.client), "192.0.2.20");
	snprintf(b.client, sizeof(b.client), "192.0.2.21");
	reply_init(&rep);
	/* Successes cost nothing, however many. */
	for (i = 0; i < 10; i++) {
		assert_true(request_attempt_begin(&a, &rep, &at));
		assert_true(request_attempt_identifier(&a, &rep, &at, "up", "Ann@Example.org"));
		request_attempt_end(&a, &at, SESAME_OK);
	}
	/* Two failures for ann from a, in any letter case... */
	for (i = 0; i < 2; i++) {
		assert_true(request_attempt_begin(&a, &rep, &at));
		assert_true(request_attempt_identifier(&a, &rep, &at, "up", i ? "ANN@example.org" : "ann@example.org"));
		request_attempt_end(&a, &at, SESAME_REJECTED);
	}
	assert_int_equal(rep.status, 0);
	/* ...and the third is refused before it runs, by the user's bucket. */
	assert_true(request_attempt_begin(&a, &rep, &at));
	assert_false(request_attempt_identifier(&a, &rep, &at, "up", "ann@EXAMPLE.org"));
	assert_int_equal(rep.status, 429);
	assert_string_equal(error_text(&rep, text, sizeof(text)),
			    "too many failed logins for this user from this address; try again later");
	/* Two an hour: one grows back in 30 minutes. */
	assert_true(strcmp(reply_header_value(&rep, "Retry-After"), "1800") == 0 ||
		    strcmp(reply_header_value(&rep, "Retry-After"), "1799") == 0);
	reply_clear(&rep);
	/* Its address token came back: one failure for bob still fits. */
	assert_true(request_attempt_begin(&a, &rep, &at));
	assert_true(request_attempt_identifier(&a, &rep, &at, "up", "bob@example.org"));
	request_attempt_end(&a, &at, SESAME_REJECTED);
	/* Now the address has used its 3. */
	assert_false(request_attempt_begin(&a, &rep, &at));
	assert_int_equal(rep.status, 429);
	assert_non_null(strstr(error_text(&rep, text, sizeof(text)), "from this address"));
	reply_clear(&rep);
	/* Another address, or another instance, has buckets of its own. */
	assert_true(request_attempt_begin(&b, &rep, &at));
	assert_true(request_attempt_identifier(&b, &rep, &at, "up", "ann@example.org"));
	request_attempt_end(&b, &at, SESAME_REJECTED);
	assert_true(request_attempt_begin(&b, &rep, &at));
	assert_true(request_attempt_identifier(&b, &rep, &at, "other", "ann@example.org"));
	/* Neither a malformed request nor an unavailable service counts. */
	request_attempt_end(&b, &at, SESAME_MALFORMED);
	for (i = 0; i < 5; i++) {
		assert_true(request_attempt_begin(&b, &rep, &at));
		request_attempt_end(&b, &at, SESAME_UNAVAILABLE);
	}
	assert_int_equal(rep.status, 0);
	throttle_free(srv.throttle);
	throttle_free(srv.ident_throttle);
}

/* Registrations, mails and call programs: each takes a token. */
static void test_account_requests(void **state)
{
	struct server srv;
	struct request a;
	struct reply rep;
	char text[256];

	memset(&srv, 0, sizeof(srv));
	memset(&a, 0, sizeof(a));
	srv.account_throttle = throttle_new_period(64, 2, 3600);
	a.srv = &srv;
	snprintf(a.client, sizeof(a.client), "2001:db8::7");
	reply_init(&rep);
	assert_true(request_account_request_allowed(&a, &rep));
	assert_true(request_account_request_allowed(&a, &rep));
	assert_false(request_account_request_allowed(&a, &rep));
	assert_int_equal(rep.status, 429);
	assert_string_equal(error_text(&rep, text, sizeof(text)),
			    "too many account requests from this address; try again later");
	assert_non_null(reply_header_value(&rep, "Retry-After"));
	reply_clear(&rep);
	throttle_free(srv.account_throttle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_type),     cmocka_unit_test(test_body_parse),
	    cmocka_unit_test(test_login_body_split), cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_device_ids),	     cmocka_unit_test(test_login_throttle),
	    cmocka_unit_test(test_attempts),	     cmocka_unit_test(test_account_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
