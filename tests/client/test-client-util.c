/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test-client-util.c — the small checks libsesame-client
 * relies on (client/util.c, client/http.c): what counts as a token, an id
 * and a name, what of a server's text may be printed, reading an access
 * token's payload without verifying it, device ids, and which addresses
 * plain http may connect to.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "client/internal.h"

static void test_tokens(void **state)
{
	char *big = malloc(SESAME_CLIENT_TOKEN_MAX + 2);

	assert_true(cl_token_valid("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
	assert_true(cl_token_valid("abc-._~+/=="));
	assert_false(cl_token_valid(NULL));
	assert_false(cl_token_valid(""));
	assert_false(cl_token_valid("=="));
	assert_false(cl_token_valid("ab=c"));
	assert_false(cl_token_valid("a b"));
	assert_false(cl_token_valid("abc\r\nX-Injected: 1"));
	assert_false(cl_token_valid("abc,def"));
	assert_false(cl_token_valid("abc\"def"));
	assert_non_null(big);
	memset(big, 'a', SESAME_CLIENT_TOKEN_MAX);
	big[SESAME_CLIENT_TOKEN_MAX] = '\0';
	assert_true(cl_token_valid(big));
	big[SESAME_CLIENT_TOKEN_MAX] = 'a';
	big[SESAME_CLIENT_TOKEN_MAX + 1] = '\0';
	assert_false(cl_token_valid(big));
	free(big);
}

static void test_ids_and_names(void **state)
{
	assert_true(cl_id_valid("0123456789abcdef01234567"));
	assert_true(cl_id_valid("a.b_c-d"));
	assert_false(cl_id_valid(""));
	assert_false(cl_id_valid("a/b"));
	assert_false(cl_id_valid("a b"));
	assert_false(cl_id_valid("a?b"));
	assert_false(cl_id_valid("%2e%2e"));
	assert_true(cl_id_valid(".."));
	assert_false(cl_name_valid(".."));
	assert_false(cl_name_valid(".hidden"));
	assert_true(cl_name_valid("local-userpass"));
	assert_true(cl_device_id_valid("0123456789abcdef01234567"));
	assert_false(cl_device_id_valid("0123456789ABCDEF01234567"));
	assert_false(cl_device_id_valid("0123456789abcdef0123456"));
}

static void test_device_ids(void **state)
{
	char a[25], b[25];

	assert_int_equal(cl_device_id_new(a), 0);
	assert_int_equal(cl_device_id_new(b), 0);
	assert_true(cl_device_id_valid(a));
	assert_true(cl_device_id_valid(b));
	assert_string_not_equal(a, b);
}

static void test_sanitize(void **state)
{
	char out[16];

	cl_sanitize(out, sizeof(out), "a\x1b[2Jb\r\nc\x7f", 10, 100);
	assert_string_equal(out, "a?[2Jb??c?");
	cl_sanitize(out, sizeof(out), "0123456789abcdefghij", 20, 100);
	assert_string_equal(out, "0123456789abcde");
	cl_sanitize(out, sizeof(out), "0123456789", 10, 4);
	assert_string_equal(out, "0123");
	/* UTF-8 passes. */
	cl_sanitize(out, sizeof(out), "caf\xc3\xa9", 5, 100);
	assert_string_equal(out, "caf\xc3\xa9");
}

/* base64url of `json` (no padding), as the middle of a token. */
static char *token_with(const char *json)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(json), i, o = 0;
	char *t = malloc(n * 2 + 32);
	unsigned v;

	assert_non_null(t);
	o += (size_t)sprintf(t, "eyJhbGciOiJFUzI1NiJ9.");
	for (i = 0; i < n; i += 3) {
		v = (unsigned char)json[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)json[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)json[i + 2];
		t[o++] = alphabet[(v >> 18) & 63];
		t[o++] = alphabet[(v >> 12) & 63];
		if (i + 1 < n)
			t[o++] = alphabet[(v >> 6) & 63];
		if (i + 2 < n)
			t[o++] = alphabet[v & 63];
	}
	memcpy(t + o, ".c2ln", 6);
	return t;
}

static void test_jwt_payload(void **state)
{
	const char *payloads[] = {"{\"a\":1}", "{\"ab\":1}", "{\"abc\":1}", "{\"user_data\":{\"x\":\"\xc3\xa9?>\"}}"};
	json_t *p;
	char *t;
	size_t i;

	for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		t = token_with(payloads[i]);
		p = cl_jwt_payload(t);
		if (!p)
			fail_msg("no payload from %s", t);
		json_decref(p);
		free(t);
	}
	t = token_with("{\"user_data\":{\"color\":\"blue\"}}");
	p = cl_jwt_payload(t);
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "user_data"), "color")), "blue");
	json_decref(p);
	free(t);
	t = token_with("[1,2]");
	assert_null(cl_jwt_payload(t));
	free(t);
	t = token_with("{\"a\":1,\"a\":2}");
	assert_null(cl_jwt_payload(t));
	free(t);
	assert_null(cl_jwt_payload("nodots"));
	assert_null(cl_jwt_payload("a..c"));
	assert_null(cl_jwt_payload("a.eyJ+In0.c"));
	assert_null(cl_jwt_payload("a.eyJhIjoxfQ==.c"));
	assert_null(cl_jwt_payload(NULL));
}

static bool v4(const char *addr)
{
	struct sockaddr_in in = {.sin_family = AF_INET};

	assert_int_equal(inet_pton(AF_INET, addr, &in.sin_addr), 1);
	return http_sockaddr_loopback((struct sockaddr *)&in);
}

static bool v6(const char *addr)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

	assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
	return http_sockaddr_loopback((struct sockaddr *)&in6);
}

static void test_loopback_addresses(void **state)
{
	assert_true(v4("127.0.0.1"));
	assert_true(v4("127.200.3.4"));
	assert_false(v4("10.0.0.1"));
	assert_false(v4("128.0.0.1"));
	assert_false(v4("0.0.0.0"));
	assert_true(v6("::1"));
	assert_true(v6("::ffff:127.0.0.1"));
	assert_false(v6("::ffff:10.0.0.1"));
	assert_false(v6("::"));
	assert_false(v6("2001:db8::1"));
	assert_false(v6("fe80::1"));
}

/* "localhost" passes the URL check, but plain http connects to a loopback
 * address only, whatever the name resolves to. */
static void test_http_connects_to_loopback_only(void **state)
{
	sesame_client_error err;
	sesame_client *c;
	json_t *loc = NULL;

	assert_int_equal(sesame_client_open("http://localhost:9", "app", "/nonexistent/s.json", 0, &c, &err),
			 SESAME_CLIENT_OK);
	c->resolve = curl_slist_append(NULL, "localhost:9:192.0.2.1");
	assert_non_null(c->resolve);
	assert_int_equal(sesame_client_location(c, &loc, &err), SESAME_CLIENT_USAGE);
	assert_string_equal(err.reason, "https");
	assert_non_null(strstr(err.text, "resolved to another address"));
	assert_null(loc);
	curl_slist_free_all(c->resolve);
	c->resolve = NULL;
	sesame_client_close(c);
}

static void test_urls(void **state)
{
	sesame_client_error err;
	char *out;

	assert_int_equal(http_check_url("https://auth.example.com/base//", "u", SESAME_CLIENT_USAGE, &out, &err),
			 SESAME_CLIENT_OK);
	assert_string_equal(out, "https://auth.example.com/base");
	free(out);
	assert_int_equal(http_check_url("HTTP://127.0.0.2:8080", "u", SESAME_CLIENT_USAGE, &out, &err), SESAME_CLIENT_OK);
	free(out);
	assert_int_equal(http_check_url("http://127.0.0.1.example.com", "u", SESAME_CLIENT_USAGE, &out, &err),
			 SESAME_CLIENT_USAGE);
	assert_string_equal(err.reason, "https");
	assert_int_equal(http_check_url("http://[::ffff:10.0.0.1]", "u", SESAME_CLIENT_PROTOCOL, &out, &err),
			 SESAME_CLIENT_PROTOCOL);
	assert_int_equal(http_check_url("https://x/#frag", "u", SESAME_CLIENT_USAGE, &out, &err), SESAME_CLIENT_USAGE);
	assert_int_equal(http_check_url("https://x/\x7f", "u", SESAME_CLIENT_USAGE, &out, &err), SESAME_CLIENT_USAGE);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),	 cmocka_unit_test(test_ids_and_names),
	    cmocka_unit_test(test_device_ids),	 cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_jwt_payload),	 cmocka_unit_test(test_loopback_addresses),
	    cmocka_unit_test(test_urls),		 cmocka_unit_test(test_http_connects_to_loopback_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
