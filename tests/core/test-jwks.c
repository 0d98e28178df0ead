/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-jwks.c — core/jwks.c and core/http.c against a mock
 * server on 127.0.0.1: the cache, max-age and its clamp, the unknown-kid
 * refetch cooldown, failures with and without cached keys, body cap,
 * redirects, URL policy, and verification racing refreshes.  Time is
 * passed explicitly: no test sleeps or measures time.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "mock/mockhttp.h"
#include "testutil.h"

#define T0	  1700000000
#define JWKS_PATH "/jwks.json"

static char *read_src(const char *rel)
{
	char *path = tu_path(tu_env("SESAME_TEST_SRCDIR"), rel);
	char *buf = calloc(1, 65536);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	free(path);
	return buf;
}

/* The public JWK of tests/jws/keys/ec256.pem. */
static json_t *ec_jwk(void)
{
	char *text = read_src("tests/jws/valid/jwks-by-kid/jwks.json");
	json_t *doc = json_loads(text, 0, NULL), *k;

	assert_non_null(doc);
	k = json_deep_copy(json_array_get(json_object_get(doc, "keys"), 1));
	assert_string_equal(json_string_value(json_object_get(k, "crv")), "P-256");
	json_decref(doc);
	free(text);
	return k;
}

/* A JWKS text holding the EC key under each of the given kids. */
static char *jwks_with(const char *kid1, const char *kid2)
{
	json_t *keys = json_array(), *doc;
	char *text;

	if (kid1) {
		json_t *k = ec_jwk();

		json_object_set_new(k, "kid", json_string(kid1));
		json_array_append_new(keys, k);
	}
	if (kid2) {
		json_t *k = ec_jwk();

		json_object_set_new(k, "kid", json_string(kid2));
		json_array_append_new(keys, k);
	}
	doc = json_pack("{s:o}", "keys", keys);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

/* An ES256 token with `kid`, valid for ten days from T0. */
static char *token_with_kid(const char *kid)
{
	char *pem = read_src("tests/jws/keys/ec256.pem"), *token = NULL;
	json_t *list = json_pack("[{s:s, s:s, s:s}]", "alg", "ES256", "kid", kid, "key", pem);
	json_t *claims = json_pack("{s:s, s:I}", "sub", "user-1", "exp", (json_int_t)T0 + 10 * 86400);
	struct sesame_keys *keys = NULL;
	sesame_error err;

	assert_int_equal(keys_from_config(list, &keys, &err), SESAME_OK);
	assert_int_equal(keys_sign(keys, kid, NULL, claims, &token, &err), SESAME_OK);
	keys_free(keys);
	json_decref(list);
	json_decref(claims);
	free(pem);
	return token;
}

struct fixture {
	struct mockhttp *mock;
	struct sesame_keys *keys;
	char *url;
};

static struct sesame_keys *remote_keys(const char *url, bool test_mode)
{
	struct jwks_options opt = {.url = url, .test_mode = test_mode, .name = "test"};
	struct sesame_keys *keys = NULL;
	sesame_error err;

	if (keys_from_jwks_uri(&opt, &keys, &err) != SESAME_OK)
		fail_msg("keys_from_jwks_uri: %s", err.text);
	return keys;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *jwks = jwks_with("ec-1", NULL);

	f->mock = mockhttp_start();
	f->url = mockhttp_url(f->mock, JWKS_PATH);
	mockhttp_set_str(f->mock, JWKS_PATH, 200, "application/json", jwks, NULL);
	f->keys = remote_keys(f->url, true);
	free(jwks);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	keys_free(f->keys);
	mockhttp_stop(f->mock);
	free(f->url);
	free(f);
	return 0;
}

/* Verify `token` at `now`; returns the status and fills err. */
static int verify_at(struct sesame_keys *keys, const char *token, int64_t now, sesame_error *err)
{
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = -1};
	json_t *claims = NULL;
	int rc;

	err_clear(err);
	rc = keys_verify(keys, token, &rules, now, &claims, err);
	if (rc == SESAME_OK)
		assert_string_equal(json_string_value(json_object_get(claims, "sub")), "user-1");
	else
		assert_null(claims);
	json_decref(claims);
	return rc;
}

static void cache_hit(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-1");
	sesame_error err;
	int i;

	for (i = 0; i < 5; i++)
		assert_int_equal(verify_at(f->keys, tok, T0 + i, &err), SESAME_OK);
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 1);
	free(tok);
}

/* How many fetches a set sees when asked at each of `times`. */
static void fetch_times(struct fixture *f, const char *cache_control, const int64_t *times, const unsigned *hits,
			size_t n)
{
	char *jwks = jwks_with("ec-1", NULL);
	struct jose_keyset *set;
	sesame_error err;
	size_t i;

	mockhttp_set_str(f->mock, JWKS_PATH, 200, "application/json", jwks, cache_control);
	free(jwks);
	for (i = 0; i < n; i++) {
		assert_int_equal(jwks_source_get(f->keys->remote, times[i], false, &set, &err), SESAME_OK);
		keyset_unref(set);
		if (mockhttp_hits(f->mock, JWKS_PATH) != hits[i])
			fail_msg("at T0+%lld: %u fetches, expected %u", (long long)(times[i] - T0),
				 mockhttp_hits(f->mock, JWKS_PATH), hits[i]);
	}
}

static void max_age_honoured(void **state)
{
	const int64_t t[] = {T0, T0 + 119, T0 + 120, T0 + 200, T0 + 240};
	const unsigned h[] = {1, 1, 2, 2, 3};

	fetch_times(*state, "Cache-Control: public, max-age=120", t, h, 5);
}

static void max_age_clamped_high(void **state)
{
	const int64_t t[] = {T0, T0 + 86399, T0 + 86400};
	const unsigned h[] = {1, 1, 2};

	fetch_times(*state, "Cache-Control: max-age=315360000", t, h, 3);
}

static void max_age_clamped_low(void **state)
{
	const int64_t t[] = {T0, T0 + 5, T0 + 59, T0 + 60};
	const unsigned h[] = {1, 1, 1, 2};

	fetch_times(*state, "Cache-Control: no-cache, max-age=1", t, h, 4);
}

static void max_age_default(void **state)
{
	const int64_t t[] = {T0, T0 + 3599, T0 + 3600};
	const unsigned h[] = {1, 1, 2};

	fetch_times(*state, NULL, t, h, 3);
}

static void unknown_kid_refetch_cooldown(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-2"), *both = jwks_with("ec-1", "ec-2");
	sesame_error err;
	int i;

	/* First use: one fetch, kid unknown, no second fetch (just stamped). */
	assert_int_equal(verify_at(f->keys, tok, T0, &err), SESAME_REJECTED);
	assert_string_equal(err.reason, "nokey");
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 1);
	/* The issuer rotates ec-2 in; within the cooldown nothing is fetched. */
	mockhttp_set_str(f->mock, JWKS_PATH, 200, "application/json", both, NULL);
	assert_int_equal(verify_at(f->keys, tok, T0 + 30, &err), SESAME_REJECTED);
	assert_string_equal(err.reason, "nokey");
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 1);
	/* After the cooldown the unknown kid triggers one refetch and passes. */
	assert_int_equal(verify_at(f->keys, tok, T0 + 60, &err), SESAME_OK);
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 2);
	/* A flood of random kids over 100 s costs one fetch per cooldown. */
	for (i = 0; i < 50; i++) {
		char kid[32], *t2;

		snprintf(kid, sizeof(kid), "random-%d", i);
		t2 = token_with_kid(kid);
		assert_int_equal(verify_at(f->keys, t2, T0 + 61 + 2 * i, &err), SESAME_REJECTED);
		assert_string_equal(err.reason, "nokey");
		free(t2);
	}
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 3);
	free(tok);
	free(both);
}

static void cooldown_stamped_on_failure(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-1");
	sesame_error err;

	mockhttp_set_str(f->mock, JWKS_PATH, 503, "text/plain", "busy", NULL);
	assert_int_equal(verify_at(f->keys, tok, T0, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "jwks");
	assert_non_null(strstr(err.text, "503"));
	/* Within the cooldown: no new fetch, still unavailable. */
	assert_int_equal(verify_at(f->keys, tok, T0 + 10, &err), SESAME_UNAVAILABLE);
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 1);
	/* The endpoint recovers; the next attempt after the cooldown works. */
	{
		char *jwks = jwks_with("ec-1", NULL);

		mockhttp_set_str(f->mock, JWKS_PATH, 200, "application/json", jwks, NULL);
		free(jwks);
	}
	assert_int_equal(verify_at(f->keys, tok, T0 + 60, &err), SESAME_OK);
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 2);
	free(tok);
}

/* A failed refresh keeps the last good keys, whatever the failure. */
static void failures_keep_cached_keys(void **state)
{
	struct fixture *f = *state;
	static const struct {
		int status;
		const char *body, *headers;
	} bad[] = {
	    {500, "oops", NULL},
	    {200, "not json", NULL},
	    {200, "{\"keys\":[]}", NULL},
	    {200, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", NULL},
	    {302, "", "Location: http://evil.example/jwks.json"},
	};
	char *tok = token_with_kid("ec-1");
	sesame_error err;
	int64_t now = T0;
	size_t i;

	assert_int_equal(verify_at(f->keys, tok, now, &err), SESAME_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		now += 3600; /* past the default TTL: a refresh is due */
		mockhttp_set_str(f->mock, JWKS_PATH, bad[i].status, "application/json", bad[i].body, bad[i].headers);
		assert_int_equal(verify_at(f->keys, tok, now, &err), SESAME_OK);
		assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), i + 2);
	}
	free(tok);
}

static void server_down_with_cached_keys(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-1");
	sesame_error err;

	assert_int_equal(verify_at(f->keys, tok, T0, &err), SESAME_OK);
	mockhttp_stop(f->mock);
	f->mock = mockhttp_start(); /* another port: the configured one now refuses */
	assert_int_equal(verify_at(f->keys, tok, T0 + 7200, &err), SESAME_OK);
	free(tok);
}

static void server_down_without_keys(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-1");
	sesame_error err;

	mockhttp_stop(f->mock);
	f->mock = mockhttp_start();
	assert_int_equal(verify_at(f->keys, tok, T0, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "jwks");
	free(tok);
}

static void bad_bodies_without_keys(void **state)
{
	struct fixture *f = *state;
	static const char *const bodies[] = {"<html>", "{\"keys\":[]}", "{\"keys\":{}}", "[]"};
	char *tok = token_with_kid("ec-1");
	sesame_error err;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		mockhttp_set_str(f->mock, JWKS_PATH, 200, "application/json", bodies[i], NULL);
		assert_int_equal(verify_at(f->keys, tok, T0 + 100 * (int64_t)i, &err), SESAME_UNAVAILABLE);
		assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), i + 1);
	}
	free(tok);
}

static void oversize_body(void **state)
{
	struct fixture *f = *state;
	size_t len = 1024 * 1024 + 1;
	char *big = malloc(len), *tok = token_with_kid("ec-1");
	struct sesame_http_request req = {.struct_size = sizeof(req), .method = "GET", .url = f->url};
	struct sesame_http_response resp;
	sesame_error err;

	memset(big, ' ', len);
	mockhttp_set(f->mock, JWKS_PATH, 200, "application/json", big, len, NULL);
	assert_int_equal(verify_at(f->keys, tok, T0, &err), SESAME_UNAVAILABLE);
	assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_UNAVAILABLE);
	assert_non_null(strstr(err.text, "larger than"));
	assert_null(resp.body);
	/* A smaller cap, from the request. */
	req.max_body = 100;
	mockhttp_set(f->mock, JWKS_PATH, 200, "text/plain", big, 101, NULL);
	assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_UNAVAILABLE);
	mockhttp_set(f->mock, JWKS_PATH, 200, "text/plain", big, 100, NULL);
	assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_OK);
	assert_int_equal(resp.body_length, 100);
	http_response_clear(&resp);
	free(big);
	free(tok);
}

/* A server that answers too slowly is unavailable (the timeout, not the
 * time taken, is what this checks). */
static void slow_server_times_out(void **state)
{
	struct fixture *f = *state;
	struct sesame_http_request req = {.struct_size = sizeof(req), .method = "GET", .url = f->url, .timeout_ms = 200};
	struct sesame_http_response resp;
	sesame_error err;

	mockhttp_set_delay(f->mock, JWKS_PATH, 1500);
	assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "http");
	assert_non_null(strstr(err.text, "timed out"));
	assert_null(resp.body);
}

static void redirect_refused(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-1"), *target = mockhttp_url(f->mock, "/elsewhere"),
	     *jwks = jwks_with("ec-1", NULL);
	char loc[256];
	struct sesame_http_request req = {.struct_size = sizeof(req), .method = "GET", .url = f->url};
	struct sesame_http_response resp;
	sesame_error err;

	mockhttp_set_str(f->mock, "/elsewhere", 200, "application/json", jwks, NULL);
	snprintf(loc, sizeof(loc), "Location: %s", target);
	mockhttp_set_str(f->mock, JWKS_PATH, 301, "text/plain", "moved", loc);
	assert_int_equal(verify_at(f->keys, tok, T0, &err), SESAME_UNAVAILABLE);
	assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_UNAVAILABLE);
	assert_non_null(strstr(err.text, "redirect"));
	assert_int_equal(mockhttp_hits(f->mock, "/elsewhere"), 0);
	free(tok);
	free(target);
	free(jwks);
}

static void url_policy(void **state)
{
	struct fixture *f = *state;
	struct jwks_options opt = {.url = f->url, .test_mode = false};
	struct sesame_http_request req = {.struct_size = sizeof(req), .method = "GET", .url = f->url};
	struct sesame_http_response resp;
	struct sesame_keys *keys = NULL;
	sesame_error err;

	/* Outside test mode, http:// is refused even on loopback. */
	assert_int_equal(keys_from_jwks_uri(&opt, &keys, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "url");
	assert_null(keys);
	assert_int_equal(http_perform(false, &req, &resp, NULL, &err), SESAME_MALFORMED);
	assert_int_equal(mockhttp_hits(f->mock, JWKS_PATH), 0);
	assert_int_equal(http_check_url("https://www.googleapis.com/oauth2/v3/certs", false, &err), SESAME_OK);
	assert_int_equal(http_check_url("http://localhost:1/x", true, &err), SESAME_OK);
	assert_int_equal(http_check_url("http://127.9.9.9/x", true, &err), SESAME_OK);
	assert_int_equal(http_check_url("http://[::1]:80/x", true, &err), SESAME_OK);
	assert_int_equal(http_check_url("http://128.0.0.1/x", true, &err), SESAME_MALFORMED);
	assert_int_equal(http_check_url("http://example.com/x", true, &err), SESAME_MALFORMED);
	assert_int_equal(http_check_url("http://127.0.0.1.evil.example/x", true, &err), SESAME_MALFORMED);
	assert_int_equal(http_check_url("ftp://127.0.0.1/x", true, &err), SESAME_MALFORMED);
	assert_int_equal(http_check_url("file:///etc/passwd", true, &err), SESAME_MALFORMED);
	assert_int_equal(http_check_url("not a url", true, &err), SESAME_MALFORMED);
	/* Header injection through a request header is refused. */
	{
		const char *const hdr[] = {"X-A: 1\r\nX-B: 2", NULL};

		req.headers = hdr;
		assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_USAGE);
	}
}

static void post_and_headers(void **state)
{
	struct fixture *f = *state;
	const char *const hdr[] = {"Content-Type: application/x-www-form-urlencoded", "X-Test: yes", NULL};
	char *url = mockhttp_url(f->mock, "/token"), *m, *b, *h;
	struct sesame_http_request req = {.struct_size = sizeof(req),
					  .method = "POST",
					  .url = url,
					  .headers = hdr,
					  .body = "a=1&b=2",
					  .body_length = 7};
	struct sesame_http_response resp;
	sesame_error err;

	mockhttp_set_str(f->mock, "/token", 400, "application/json", "{\"error\":\"invalid_grant\"}", NULL);
	assert_int_equal(http_perform(true, &req, &resp, NULL, &err), SESAME_OK);
	assert_int_equal(resp.status, 400);
	assert_string_equal(resp.body, "{\"error\":\"invalid_grant\"}");
	assert_string_equal(resp.content_type, "application/json");
	http_response_clear(&resp);
	m = mockhttp_last_method(f->mock, "/token");
	b = mockhttp_last_body(f->mock, "/token");
	h = mockhttp_last_header(f->mock, "/token", "X-Test");
	assert_string_equal(m, "POST");
	assert_string_equal(b, "a=1&b=2");
	assert_string_equal(h, "yes");
	free(m);
	free(b);
	free(h);
	free(url);
}

/* ---- verification racing refreshes ------------------------------------- */

struct racer {
	struct sesame_keys *keys;
	const char *token;
	int64_t base;
	int ok;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = -1};
	int i;

	for (i = 0; i < 40; i++) {
		json_t *claims = NULL;
		sesame_error err;

		/* Each step is past the TTL and the cooldown: every call may
		 * swap the key set while the other threads verify with it. */
		if (keys_verify(r->keys, r->token, &rules, r->base + (int64_t)i * 3700, &claims, &err) == SESAME_OK)
			r->ok++;
		json_decref(claims);
	}
	return NULL;
}

static void concurrent_verify_during_refresh(void **state)
{
	struct fixture *f = *state;
	char *tok = token_with_kid("ec-1");
	struct racer r[4];
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++) {
		r[i] = (struct racer){.keys = f->keys, .token = tok, .base = T0 + i, .ok = 0};
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].ok, 40);
	}
	assert_true(mockhttp_hits(f->mock, JWKS_PATH) >= 2);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(cache_hit, setup, teardown),
	    cmocka_unit_test_setup_teardown(max_age_honoured, setup, teardown),
	    cmocka_unit_test_setup_teardown(max_age_clamped_high, setup, teardown),
	    cmocka_unit_test_setup_teardown(max_age_clamped_low, setup, teardown),
	    cmocka_unit_test_setup_teardown(max_age_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_kid_refetch_cooldown, setup, teardown),
	    cmocka_unit_test_setup_teardown(cooldown_stamped_on_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(failures_keep_cached_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(server_down_with_cached_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(server_down_without_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_bodies_without_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(oversize_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(redirect_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(slow_server_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(url_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(post_and_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_verify_during_refresh, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
