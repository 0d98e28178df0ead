/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test-client-refusals.c — libsesame-client against a server
 * that does not keep to the client API (a scripted mock on loopback):
 * answers that are not JSON, too large, of the wrong types, redirects
 * (never followed, to another host or not), a location that is not https,
 * tokens that would inject headers, a profile of another user, a server
 * that answers InvalidSession forever (one refresh, one retry, no loop), a
 * refresh refused (the user logged out), error texts with escape
 * sequences and echoed tokens, slow and unreachable servers, and base URLs
 * the client refuses to use.  Each refusal is a clear error and stores
 * nothing.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sesame/client.h>

#include "mock/mockhttp.h"
#include "testutil.h"

#define APP "test-app"
#define CLIENT "/api/client/v2.0"
#define LOCATION CLIENT "/app/" APP "/location"
#define LOGIN CLIENT "/app/" APP "/auth/providers/anon-user/login"
#define PROFILE CLIENT "/auth/profile"
#define SESSION CLIENT "/auth/session"
#define JSON "application/json"
/* Three base64url segments, as a JWT; the payload is {"sub":"u1"}. */
#define ACCESS "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.YWNjZXNz"
#define ACCESS2 "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.bmV3LWFjY2Vzcw"
#define REFRESH "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.cmVmcmVzaA"
#define USER "0123456789abcdef01234567"

struct fixture {
	struct mockhttp *m;
	char *dir;
	char *store;
	sesame_client *c;
};

static void set_json(struct mockhttp *m, const char *path, int status, const char *body)
{
	mockhttp_set_str(m, path, status, JSON, body, NULL);
}

/* The mock as a well-behaved server: location, login, profile of USER. */
static void well_behaved(struct mockhttp *m)
{
	char *base = mockhttp_url(m, ""), body[512];

	snprintf(body, sizeof(body),
		 "{\"deployment_model\": \"GLOBAL\", \"location\": \"local\", \"hostname\": \"%s\", "
		 "\"ws_hostname\": \"ws://x\"}",
		 base);
	set_json(m, LOCATION, 200, body);
	set_json(m, LOGIN, 200,
		 "{\"access_token\": \"" ACCESS "\", \"refresh_token\": \"" REFRESH "\", \"user_id\": \"" USER
		 "\", \"device_id\": \"000000000000000000000000\"}");
	set_json(m, PROFILE, 200,
		 "{\"user_id\": \"" USER
		 "\", \"type\": \"normal\", \"identities\": [{\"id\": \"x\", "
		 "\"provider_type\": \"anon-user\", \"provider_id\": \"anon-user\"}], \"data\": {}}");
	set_json(m, SESSION, 201, "{\"access_token\": \"" ACCESS2 "\"}");
	free(base);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	sesame_client_error err;
	char *base;

	assert_non_null(f);
	f->m = mockhttp_start();
	well_behaved(f->m);
	f->dir = tu_tmpdir("client-refusals");
	f->store = tu_path(f->dir, "store.json");
	base = mockhttp_url(f->m, "");
	if (sesame_client_open(base, APP, f->store, 0, &f->c, &err) != SESAME_CLIENT_OK)
		fail_msg("open: %s", err.text);
	free(base);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	sesame_client_close(f->c);
	mockhttp_stop(f->m);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->store);
	free(f);
	return 0;
}

static size_t user_count(struct fixture *f)
{
	sesame_client_error err;
	json_t *users;
	size_t n;

	assert_int_equal(sesame_client_users(f->c, &users, &err), SESAME_CLIENT_OK);
	n = json_array_size(users);
	json_decref(users);
	return n;
}

/* A login fails with `status` and `reason`, its text holding `text`, and
 * no user is stored. */
static void login_fails(struct fixture *f, int status, const char *reason, const char *text)
{
	sesame_client_error err;
	char *id = NULL;

	assert_int_equal(sesame_client_login(f->c, "anon-user", NULL, &id, &err), status);
	assert_null(id);
	assert_string_equal(err.reason, reason);
	if (!strstr(err.text, text))
		fail_msg("\"%s\" lacks \"%s\"", err.text, text);
	assert_int_equal(user_count(f), 0);
}

static void login_ok(struct fixture *f)
{
	sesame_client_error err;

	if (sesame_client_login(f->c, "anon-user", NULL, NULL, &err) != SESAME_CLIENT_OK)
		fail_msg("login: %s", err.text);
}

static void test_well_behaved_server(void **state)
{
	struct fixture *f = *state;
	char *auth, *body, *dev;
	json_t *sent, *store;
	char *text = NULL, *cmd;

	login_ok(f);
	assert_int_equal(user_count(f), 1);
	/* The access token, not the refresh token, went to the profile. */
	auth = mockhttp_last_header(f->m, PROFILE, "authorization");
	assert_string_equal(auth, "Bearer " ACCESS);
	free(auth);
	/* The store's device id went with the login, as EJSON. */
	body = mockhttp_last_body(f->m, LOGIN);
	sent = json_loads(body, 0, NULL);
	assert_non_null(sent);
	dev = strdup(json_string_value(json_object_get(
	    json_object_get(json_object_get(json_object_get(sent, "options"), "device"), "deviceId"), "$oid")));
	assert_true(asprintf(&cmd, "cat '%s'", f->store) > 0);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	store = json_loads(text, 0, NULL);
	assert_string_equal(dev, json_string_value(json_object_get(store, "device_id")));
	json_decref(store);
	json_decref(sent);
	free(text);
	free(cmd);
	free(dev);
	free(body);
}

/* A proxy from the environment never sees plain http: it goes to loopback
 * only, directly (a proxy elsewhere would be refused at connect). */
static void test_no_proxy_for_loopback(void **state)
{
	struct fixture *f = *state;

	setenv("http_proxy", "http://192.0.2.1:9", 1);
	setenv("ALL_PROXY", "http://192.0.2.1:9", 1);
	login_ok(f);
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	assert_int_equal(user_count(f), 1);
}

static void test_location_not_json(void **state)
{
	struct fixture *f = *state;

	mockhttp_set_str(f->m, LOCATION, 200, "text/html", "<html>hello</html>", NULL);
	login_fails(f, SESAME_CLIENT_PROTOCOL, "not-json", "location: the server's answer is not JSON");
	assert_int_equal(mockhttp_hits(f->m, LOGIN), 0);
}

static void test_huge_answer(void **state)
{
	struct fixture *f = *state;
	size_t n = 2 * 1024 * 1024;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	mockhttp_set(f->m, LOGIN, 200, JSON, big, n, NULL);
	login_fails(f, SESAME_CLIENT_PROTOCOL, "too-large", "larger than 1048576 bytes");
	free(big);
}

static void test_wrong_types(void **state)
{
	struct fixture *f = *state;

	set_json(
	    f->m, LOCATION, 200,
	    "{\"deployment_model\": \"GLOBAL\", \"location\": \"local\", \"hostname\": 42, \"ws_hostname\": \"x\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "\"hostname\" in the server's answer is not a string");
	set_json(f->m, LOCATION, 200, "{\"deployment_model\": \"GLOBAL\", \"location\": \"local\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "\"hostname\" in the server's answer is missing");
	set_json(f->m, LOCATION, 200, "\"http://127.0.0.1:1\"");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "not an object");
	well_behaved(f->m);
	set_json(f->m, LOGIN, 200,
		 "{\"access_token\": \"" ACCESS "\", \"refresh_token\": \"" REFRESH "\", \"user_id\": 7}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "lacks a valid");
	set_json(f->m, LOGIN, 200, "{\"access_token\": \"" ACCESS "\", \"user_id\": \"" USER "\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "lacks a valid");
	set_json(f->m, LOGIN, 200, "[\"" ACCESS "\"]");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "lacks a valid");
	set_json(f->m, LOGIN, 200,
		 "{\"access_token\": \"a,b\", \"refresh_token\": \"" REFRESH "\", \"user_id\": \"" USER "\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "lacks a valid");
	well_behaved(f->m);
	set_json(f->m, PROFILE, 200, "{\"user_id\": \"" USER "\", \"identities\": [{\"provider_type\": [1]}]}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "no valid \"provider_type\"");
}

/* A token made to end the Authorization header and add one of its own is
 * never stored, so never sent. */
static void test_header_injection(void **state)
{
	struct fixture *f = *state;

	set_json(f->m, LOGIN, 200,
		 "{\"access_token\": \"" ACCESS "\\r\\nX-Injected: 1\", \"refresh_token\": \"" REFRESH
		 "\", \"user_id\": \"" USER "\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "lacks a valid");
	assert_int_equal(mockhttp_hits(f->m, PROFILE), 0);
	set_json(f->m, LOGIN, 200,
		 "{\"access_token\": \"" ACCESS "\", \"refresh_token\": \"" REFRESH "\", \"user_id\": \"../" USER
		 "\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "lacks a valid");
}

/* The profile of someone else after a login: nothing stored, and the
 * session just opened is ended rather than leaked. */
static void test_profile_of_another_user(void **state)
{
	struct fixture *f = *state;
	char *method;

	set_json(f->m, PROFILE, 200, "{\"user_id\": \"ffffffffffffffffffffffff\", \"identities\": []}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "answer", "not user " USER "'s profile");

	assert_int_equal(mockhttp_hits(f->m, SESSION), 1);
	method = mockhttp_last_method(f->m, SESSION);
	assert_string_equal(method, "DELETE");
	free(method);
}

static void test_redirects_refused(void **state)
{
	struct fixture *f = *state;

	mockhttp_set_str(f->m, LOCATION, 302, NULL, "", "Location: https://evil.example/steal");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "redirect", "to https://evil.example");
	/* Not even to the same server. */
	well_behaved(f->m);
	mockhttp_set_str(f->m, LOGIN, 307, NULL, "", "Location: /elsewhere");
	set_json(f->m, "/elsewhere", 200, "{}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "redirect", "follows none");
	assert_int_equal(mockhttp_hits(f->m, "/elsewhere"), 0);
}

static void test_location_not_https(void **state)
{
	struct fixture *f = *state;

	set_json(f->m, LOCATION, 200,
		 "{\"deployment_model\": \"GLOBAL\", \"location\": \"x\", \"hostname\": \"http://auth.example.com\", "
		 "\"ws_hostname\": \"ws://x\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "https", "plain http is allowed to a loopback address only");
	set_json(f->m, LOCATION, 200,
		 "{\"deployment_model\": \"GLOBAL\", \"location\": \"x\", \"hostname\": \"file:///etc/passwd\", "
		 "\"ws_hostname\": \"ws://x\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "url", "not an absolute http:// or https:// URL");
	set_json(f->m, LOCATION, 200,
		 "{\"deployment_model\": \"GLOBAL\", \"location\": \"x\", \"hostname\": \"gopher://127.0.0.1/\", "
		 "\"ws_hostname\": \"ws://x\"}");
	login_fails(f, SESAME_CLIENT_PROTOCOL, "url", "must be an https:// URL, not gopher://");
	assert_int_equal(mockhttp_hits(f->m, LOGIN), 0);
}

/* InvalidSession for every access token: one refresh, one retry, then the
 * answer. */
static void test_invalid_session_forever(void **state)
{
	struct fixture *f = *state;
	sesame_client_error err;
	json_t *p = NULL;

	login_ok(f);
	mockhttp_reset_hits(f->m);
	set_json(f->m, PROFILE, 401, "{\"error\": \"invalid session\", \"error_code\": \"InvalidSession\"}");
	assert_int_equal(sesame_client_profile(f->c, &p, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.code, "InvalidSession");
	assert_int_equal(mockhttp_hits(f->m, PROFILE), 2);
	assert_int_equal(mockhttp_hits(f->m, SESSION), 1);
	/* The refreshed token was the one retried, and it was kept. */
	{
		char *auth = mockhttp_last_header(f->m, PROFILE, "authorization");

		assert_string_equal(auth, "Bearer " ACCESS2);
		free(auth);
	}
	/* Another code is not a reason to refresh. */
	mockhttp_reset_hits(f->m);
	set_json(f->m, PROFILE, 401, "{\"error\": \"no\", \"error_code\": \"AuthError\"}");
	assert_int_equal(sesame_client_profile(f->c, &p, &err), SESAME_CLIENT_REFUSED);
	assert_int_equal(mockhttp_hits(f->m, PROFILE), 1);
	assert_int_equal(mockhttp_hits(f->m, SESSION), 0);
	assert_int_equal(user_count(f), 1);
}

/* A refresh answered 401: the user is logged out, its tokens gone. */
static void test_refresh_refused(void **state)
{
	struct fixture *f = *state;
	sesame_client_error err;
	json_t *p = NULL, *users;
	char *cmd, *text = NULL;

	login_ok(f);
	mockhttp_reset_hits(f->m);
	set_json(f->m, PROFILE, 401, "{\"error\": \"expired\", \"error_code\": \"InvalidSession\"}");
	set_json(f->m, SESSION, 401,
		 "{\"error\": \"invalid session: failed to find refresh token\", \"error_code\": \"InvalidSession\"}");
	assert_int_equal(sesame_client_profile(f->c, &p, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.reason, "logged-out");
	assert_int_equal(mockhttp_hits(f->m, PROFILE), 1);
	assert_int_equal(mockhttp_hits(f->m, SESSION), 1);
	/* An anonymous user cannot come back: forgotten. */
	assert_int_equal(sesame_client_users(f->c, &users, &err), SESAME_CLIENT_OK);
	assert_int_equal(json_array_size(users), 0);
	json_decref(users);
	assert_true(asprintf(&cmd, "cat '%s'", f->store) > 0);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	assert_null(strstr(text, REFRESH));
	free(text);
	free(cmd);
}

/* What a server says is cut, cleaned of control characters, and never
 * repeats a token we sent. */
static void test_error_text_is_safe(void **state)
{
	struct fixture *f = *state;
	sesame_client_error err;
	json_t *p = NULL;
	size_t i;

	login_ok(f);
	set_json(f->m, PROFILE, 400,
		 "{\"error\": \"bad token " ACCESS
		 " \\u001b[2J\\u001b]0;pwned\\u0007 here\", \"error_code\": "
		 "\"Bad\\nCode\"}");
	assert_int_equal(sesame_client_profile(f->c, &p, &err), SESAME_CLIENT_REFUSED);
	assert_int_equal(err.http_status, 400);
	assert_null(strstr(err.text, ACCESS));
	assert_non_null(strstr(err.text, "[token]"));
	for (i = 0; err.text[i]; i++)
		assert_true((unsigned char)err.text[i] >= 0x20 && err.text[i] != 0x7f);
	assert_string_equal(err.code, "Bad?Code");
	set_json(f->m, PROFILE, 500, "not json at all");
	assert_int_equal(sesame_client_profile(f->c, &p, &err), SESAME_CLIENT_UNAVAILABLE);
	assert_string_equal(err.reason, "server");
}

static void test_slow_server(void **state)
{
	struct fixture *f = *state;
	sesame_client_error err;

	assert_int_equal(sesame_client_set_limits(f->c, 200, 0, &err), SESAME_CLIENT_OK);
	mockhttp_set_delay(f->m, LOCATION, 800);
	login_fails(f, SESAME_CLIENT_UNAVAILABLE, "timeout", "did not answer in time");
	assert_int_equal(sesame_client_set_limits(f->c, -1, 0, &err), SESAME_CLIENT_USAGE);
}

static void test_unreachable(void **state)
{
	sesame_client_error err;
	sesame_client *c;
	char *dir = tu_tmpdir("client-unreachable"), *store = tu_path(dir, "s.json");
	json_t *loc = NULL;

	/* Port 1 on loopback: nothing listens there. */
	assert_int_equal(sesame_client_open("http://127.0.0.1:1", APP, store, 0, &c, &err), SESAME_CLIENT_OK);
	assert_int_equal(sesame_client_location(c, &loc, &err), SESAME_CLIENT_UNAVAILABLE);
	assert_string_equal(err.reason, "connect");
	assert_null(loc);
	sesame_client_close(c);
	tu_rmrf(dir);
	free(store);
	free(dir);
}

static void open_refused(const char *url, const char *reason, const char *text)
{
	sesame_client_error err;
	sesame_client *c = NULL;

	assert_int_equal(sesame_client_open(url, APP, "/nonexistent/s.json", 0, &c, &err), SESAME_CLIENT_USAGE);
	assert_null(c);
	assert_string_equal(err.reason, reason);
	if (!strstr(err.text, text))
		fail_msg("%s: \"%s\" lacks \"%s\"", url, err.text, text);
}

static void test_base_urls(void **state)
{
	sesame_client_error err;
	sesame_client *c;

	open_refused("http://auth.example.com", "https", "loopback address only");
	open_refused("http://10.0.0.1:9090", "https", "loopback address only");
	open_refused("ftp://127.0.0.1/", "url", "must be an https:// URL");
	open_refused("https://ann:s3cret@auth.example.com", "url", "must not hold a user name or password");
	open_refused("https://auth.example.com/?next=x", "url", "query");
	open_refused("auth.example.com", "url", "not an absolute");
	open_refused("https://auth.example.com/a b", "url", "space");
	{
		sesame_client_error e2;

		sesame_client_open("https://ann:s3cret@auth.example.com", APP, "/x", 0, &c, &e2);
		assert_null(strstr(e2.text, "s3cret"));
	}
	assert_int_equal(sesame_client_open("http://localhost:9", APP, "/nonexistent/s.json", 0, &c, &err),
			 SESAME_CLIENT_OK);
	sesame_client_close(c);
	assert_int_equal(sesame_client_open("http://[::1]:9/", APP, "/nonexistent/s.json", 0, &c, &err),
			 SESAME_CLIENT_OK);
	sesame_client_close(c);
	assert_int_equal(sesame_client_open("https://auth.example.com/base/", APP, "/nonexistent/s.json", 0, &c, &err),
			 SESAME_CLIENT_OK);
	sesame_client_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_well_behaved_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_proxy_for_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_location_not_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_huge_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_injection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_profile_of_another_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redirects_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_location_not_https, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_session_forever, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_text_is_safe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_server, setup, teardown),
	    cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_base_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
