/*
 * tests/prov7/test-prov7-sesamed.c — the built-in providers end to end
 * through sesamed over HTTP: anonymous login, link (sign-up), logout and
 * the per-address anonymous-account throttle; custom-function logins with
 * tests/prov7/cf-program.sh.  Every wait is bounded;
 * nothing asserts a duration.
 */
#include "config.h"

#include "harness.h"

static const char *const anon_plugins[] = {"anon-user", NULL};

static int anon_setup(void **state)
{
	struct daemon *d = daemon_new("prov7-anon", "\"daemon\": {\"anon_logins_per_minute\": 4}", anon_plugins);

	provider(d, "anon-user", "{\"type\": \"anon-user\", \"config\": {\"session_ttl\": 86400}}");
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	daemon_start(d);
	*state = d;
	return 0;
}

static int daemon_teardown(void **state)
{
	struct daemon *d = *state;

	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
	return 0;
}

/* The payload of a JWT, decoded without verification (as SDKs read it). */
static json_t *jwt_payload(const char *token)
{
	const char *a = strchr(token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	char cmd[8192], *out = NULL;
	json_t *v;

	assert_non_null(b);
	snprintf(cmd, sizeof(cmd),
		 "printf '%%s' '%.*s' | tr '_-' '/+' | awk '{ n = length($0) %% 4; if (n) $0 = $0 substr(\"===\", 1, 4 - n); print }' | base64 -d",
		 (int)(b - a - 1), a + 1);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	v = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(v);
	return v;
}

static void test_anon_login_link_logout(void **state)
{
	struct daemon *d = *state;
	struct http r;
	json_t *a = client_login(d, LOGIN("anon-user"), "{\"provider\": \"anon-user\", \"options\": {}}", NULL, &r);
	json_t *f, *l, *p, *claims;

	if (!a)
		fail_msg("anonymous login: %ld %s", r.status, r.body);
	http_free(&r);
	/* The session lives session_ttl seconds. */
	claims = jwt_payload(str(a, "refresh_token"));
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")) -
				 json_integer_value(json_object_get(claims, "iat")),
			 86400);
	json_decref(claims);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(a, "access_token"), &r);
	p = json_body(&r);
	http_free(&r);
	assert_string_equal(str(json_array_get(json_object_get(p, "identities"), 0), "provider_type"), "anon-user");
	json_decref(p);

	/* An anonymous identity is never linked into an existing user. */
	f = client_login(d, LOGIN("alpha"), "{\"user\": \"existing\"}", NULL, &r);
	http_free(&r);
	assert_non_null(f);
	assert_null(client_login(d, LOGIN("anon-user") "?link=true", "{}", str(f, "access_token"), &r));
	assert_error(&r, 400, "BadRequest", "anon");
	http_free(&r);

	/* An anonymous user logging out is gone. */
	bearer_call(d, "DELETE", "/api/client/v2.0/auth/session", str(a, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(a, "access_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	json_decref(a);

	/* An anonymous user who links a real identity signed up: logout keeps it. */
	a = client_login(d, LOGIN("anon-user"), "{}", NULL, &r);
	http_free(&r);
	assert_non_null(a);
	l = client_login(d, LOGIN("alpha") "?link=true", "{\"user\": \"signed-up\"}", str(a, "access_token"), &r);
	if (!l)
		fail_msg("link: %ld %s", r.status, r.body);
	http_free(&r);
	assert_string_equal(str(l, "user_id"), str(a, "user_id"));
	bearer_call(d, "DELETE", "/api/client/v2.0/auth/session", str(a, "refresh_token"), &r);
	http_free(&r);
	bearer_call(d, "DELETE", "/api/client/v2.0/auth/session", str(l, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	p = client_login(d, LOGIN("alpha"), "{\"user\": \"signed-up\"}", NULL, &r);
	http_free(&r);
	assert_non_null(p);
	assert_string_equal(str(p, "user_id"), str(a, "user_id"));
	json_decref(p);
	json_decref(l);
	json_decref(f);
	json_decref(a);
}

/* Runs after test_anon_login_link_logout, which used 2 of the 4 tokens. */
static void test_anon_logins_throttled_per_address(void **state)
{
	struct daemon *d = *state;
	struct http r;
	json_t *s;
	char *retry;
	int ok = 0, i;

	for (i = 0; i < 6; i++) {
		s = client_login(d, LOGIN("anon-user"), "{}", NULL, &r);
		if (s) {
			ok++;
			json_decref(s);
		} else {
			assert_error(&r, 429, "TooManyRequests", "anonymous users");
			retry = header(&r, "Retry-After");
			assert_non_null(retry);
			free(retry);
		}
		http_free(&r);
	}
	/* Tokens grow back at 4 a minute; a slow machine may regain one. */
	assert_in_range(ok, 2, 3);
	/* Other providers are not throttled by it. */
	s = client_login(d, LOGIN("alpha"), "{\"user\": \"not-anon\"}", NULL, &r);
	assert_non_null(s);
	http_free(&r);
	json_decref(s);
}

static const char *const cf_plugins[] = {"custom-function", NULL};

static int cf_setup(void **state)
{
	struct daemon *d = daemon_new("prov7-cf", NULL, cf_plugins);
	char src[1024], *program = tu_path(d->dir, "cf-program.sh"), text[2048];
	char *cmd;

	snprintf(src, sizeof(src), "%s/tests/prov7/cf-program.sh", tu_env("SESAME_TEST_SRCDIR"));
	assert_true(asprintf(&cmd, "cp '%s' '%s' && chmod 755 '%s'", src, program, program) > 0);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
	free(cmd);
	snprintf(text, sizeof(text),
		 "{\"type\": \"custom-function\", \"config\": {\"command\": [\"%s\", \"%s\", \"99\"], \"timeout\": 1}}",
		 program, d->dir);
	provider(d, "cf", text);
	free(program);
	daemon_start(d);
	*state = d;
	return 0;
}

static void test_cf_login_and_refusals(void **state)
{
	struct daemon *d = *state;
	struct http r;
	json_t *s = client_login(d, LOGIN("cf"), "{\"mode\": \"ok\", \"options\": {\"device\": {}}}", NULL, &r), *p;

	if (!s)
		fail_msg("custom-function login: %ld %s", r.status, r.body);
	http_free(&r);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(s, "access_token"), &r);
	p = json_body(&r);
	http_free(&r);
	assert_string_equal(str(json_array_get(json_object_get(p, "identities"), 0), "id"), "u-ok");
	assert_string_equal(str(json_object_get(json_array_get(json_object_get(p, "identities"), 0), "provider_data"),
				"name"),
			    "Ann");
	json_decref(p);
	json_decref(s);
	/* Non-zero exit: refused with the program's first stderr line. */
	assert_null(client_login(d, LOGIN("cf"), "{\"mode\": \"exit\"}", NULL, &r));
	assert_error(&r, 401, "AuthError", "bad password");
	http_free(&r);
	/* Bad output: refused. */
	assert_null(client_login(d, LOGIN("cf"), "{\"mode\": \"extra\"}", NULL, &r));
	assert_error(&r, 401, "AuthError", "output");
	http_free(&r);
	/* A hanging program: killed at the timeout, the service is unavailable. */
	assert_null(client_login(d, LOGIN("cf"), "{\"mode\": \"hang\"}", NULL, &r));
	assert_error(&r, 503, "ServiceUnavailable", "");
	http_free(&r);
}

int main(void)
{
	const struct CMUnitTest anon[] = {
	    cmocka_unit_test(test_anon_login_link_logout),
	    cmocka_unit_test(test_anon_logins_throttled_per_address),
	};
	const struct CMUnitTest cf[] = {
	    cmocka_unit_test(test_cf_login_and_refusals),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests_name("anon-user", anon, anon_setup, daemon_teardown);
	failed += cmocka_run_group_tests_name("custom-function", cf, cf_setup, daemon_teardown);
	curl_global_cleanup();
	return failed;
}
