/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-providers-sesamed.c — the built-in providers end to end
 * through sesamed over HTTP: anonymous login, link (sign-up), logout and
 * the per-address anonymous-account throttle; custom-function logins with
 * tests/providers/custom-function/cf-program.sh; user API keys (create, login, list, disable,
 * delete) and server API keys through the admin API; email/password
 * register, confirm, login and reset with tests/providers/local-userpass/sender.sh; the
 * email/password routes under attack: parallel guesses,
 * known and unknown addresses told apart, the owner locked out, floods of
 * registrations and reset mails.  Every wait is bounded; nothing asserts
 * a duration.
 */
#include "config.h"

#include "harness.h"

static const char *const anon_plugins[] = {"anon-user", NULL};

static int anon_setup(void **state)
{
	struct daemon *d = daemon_new("providers-anon", "\"daemon\": {\"anon_logins_per_minute\": 4}", anon_plugins);

	provider(d, "anon-user", "{\"type\": \"anon-user\", \"config\": {\"session_ttl\": 86400}}");
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	daemon_start(d);
	*state = d;
	return 0;
}

static int daemon_teardown(void **state)
{
	return daemon_finish(*state);
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

	/* An anonymous identity is never linked into an existing user (the
	 * hosted service answers 500 with this text; 400 says whose fault). */
	f = client_login(d, LOGIN("alpha"), "{\"user\": \"existing\"}", NULL, &r);
	http_free(&r);
	assert_non_null(f);
	assert_null(client_login(d, LOGIN("anon-user") "?link=true", "{}", str(f, "access_token"), &r));
	assert_error(&r, 400, "BadRequest", "linking an anonymous identity is not allowed");
	http_free(&r);

	/* An anonymous user logging out is gone. */
	bearer_call(d, "DELETE", "/api/client/v2.0/auth/session", str(a, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(a, "access_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	json_decref(a);

	/* An anonymous user who links a real identity signed up: logging out
	 * its last (and only: the link opened none) session keeps it. */
	a = client_login(d, LOGIN("anon-user"), "{}", NULL, &r);
	http_free(&r);
	assert_non_null(a);
	l = client_login(d, LOGIN("alpha") "?link=true", "{\"user\": \"signed-up\"}", str(a, "access_token"), &r);
	if (!l)
		fail_msg("link: %ld %s", r.status, r.body);
	http_free(&r);
	assert_string_equal(str(l, "user_id"), str(a, "user_id"));
	assert_true(json_is_null(json_object_get(l, "refresh_token")));
	bearer_call(d, "DELETE", "/api/client/v2.0/auth/session", str(a, "refresh_token"), &r);
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
	/* Never more than the bucket's 4, at least 2 refused; tokens grow back
	 * at 4 a minute, so a slow machine may have regained some. */
	assert_in_range(ok, 2, 4);
	/* Other providers are not throttled by it. */
	s = client_login(d, LOGIN("alpha"), "{\"user\": \"not-anon\"}", NULL, &r);
	assert_non_null(s);
	http_free(&r);
	json_decref(s);
}

static const char *const cf_plugins[] = {"custom-function", NULL};

static int cf_setup(void **state)
{
	struct daemon *d = daemon_new("providers-cf", NULL, cf_plugins);
	char *program = copy_program(d, "providers/custom-function/cf-program.sh"), text[2048];
	char *box = tu_program_dir(d->dir, "box");

	snprintf(text, sizeof(text),
		 "{\"type\": \"custom-function\", \"config\": {\"command\": [\"%s\", \"%s\", \"99\"], \"timeout\": 1}}",
		 program, box);
	provider(d, "cf", text);
	free(program);
	free(box);
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

/* The SDKs send values as canonical EJSON; the program gets plain JSON. */
static void test_cf_program_gets_plain_json(void **state)
{
	struct daemon *d = *state;
	struct http r;
	char *path = tu_path(d->dir, "box/dump.txt"), *text, *nl;
	json_t *s, *got, *want;

	s = client_login(d, LOGIN("cf"),
			 "{\"mode\": \"dump\", \"n\": {\"$numberInt\": \"2\"}, \"l\": {\"$numberLong\": "
			 "\"9007199254740993\"}, \"d\": {\"$numberDouble\": \"2.5\"}, \"o\": {\"$oid\": "
			 "\"65F0C0FFEE0123456789ABCD\"}, \"t\": {\"$date\": {\"$numberLong\": \"1700000000000\"}}, "
			 "\"args\": [{\"$numberInt\": \"-1\"}, {\"$date\": \"1970-01-01T00:00:01Z\"}], "
			 "\"data\": {\"$oid\": \"x\", \"kept\": true}, \"provider\": \"custom-function\", "
			 "\"options\": {\"device\": {\"deviceId\": {\"$oid\": \"65f0c0ffee0123456789abcd\"}}}}",
			 NULL, &r);
	if (!s)
		fail_msg("custom-function login: %ld %s", r.status, r.body);
	http_free(&r);
	assert_string_equal(str(s, "device_id"), "65f0c0ffee0123456789abcd");
	json_decref(s);
	text = read_all(path);
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	got = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	want = json_loads("{\"mode\": \"dump\", \"n\": 2, \"l\": 9007199254740993, \"d\": 2.5, \"o\": "
			  "\"65f0c0ffee0123456789abcd\", \"t\": 1700000000000, \"args\": [-1, 1000], \"data\": "
			  "{\"$oid\": \"x\", \"kept\": true}}",
			  0, NULL);
	if (!got || !json_equal(got, want))
		fail_msg("the program got %s", text);
	json_decref(got);
	json_decref(want);
	free(text);
	/* A value JSON cannot hold is refused before the program runs. */
	unlink(path);
	assert_null(client_login(d, LOGIN("cf"), "{\"mode\": \"dump\", \"x\": {\"$numberDouble\": \"-Infinity\"}}",
				 NULL, &r));
	assert_error(&r, 400, "BadRequest", "\"x\"");
	http_free(&r);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

static const char *const ak_plugins[] = {"api-key", "anon-user", NULL};

static int ak_setup(void **state)
{
	struct daemon *d = daemon_new("providers-ak", "\"admin_key\": \"" ADMIN_KEY "\"", ak_plugins);

	provider(d, "api-key", "{\"type\": \"api-key\"}");
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	daemon_start(d);
	*state = d;
	return 0;
}

#define API_KEYS "/api/client/v2.0/auth/api_keys"

/* A request with a bearer token and an optional JSON body. */
static void call(const struct daemon *d, const char *method, const char *path, const char *token, const char *body,
		 struct http *r)
{
	char auth[4096];
	struct req q = {method, path, {auth, body ? "Content-Type: application/json" : NULL}, body, false, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	http(d, &q, r);
}

static void test_user_api_keys_over_http(void **state)
{
	struct daemon *d = *state;
	struct http r;
	json_t *s = client_login(d, LOGIN("alpha"), "{\"user\": \"keyholder\"}", NULL, &r), *k, *l, *a;
	char path[256], body[256];

	http_free(&r);
	assert_non_null(s);
	/* Created with the refresh token as bearer: 201 and the key, once. */
	call(d, "POST", API_KEYS, str(s, "refresh_token"), "{\"name\": \"laptop\"}", &r);
	assert_int_equal(r.status, 201);
	k = json_body(&r);
	http_free(&r);
	assert_int_equal(strlen(str(k, "key")), 64);
	assert_string_equal(str(k, "name"), "laptop");
	assert_true(json_is_false(json_object_get(k, "disabled")));
	/* An access token is not what these routes take. */
	call(d, "GET", API_KEYS, str(s, "access_token"), NULL, &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	call(d, "GET", API_KEYS, str(s, "refresh_token"), NULL, &r);
	assert_int_equal(r.status, 200);
	a = json_body(&r);
	http_free(&r);
	assert_int_equal(json_array_size(a), 1);
	assert_null(json_object_get(json_array_get(a, 0), "key"));
	json_decref(a);

	snprintf(body, sizeof(body), "{\"key\": \"%s\"}", str(k, "key"));
	l = client_login(d, LOGIN("api-key"), body, NULL, &r);
	if (!l)
		fail_msg("key login: %ld %s", r.status, r.body);
	http_free(&r);
	assert_string_equal(str(l, "user_id"), str(s, "user_id"));
	json_decref(l);

	snprintf(path, sizeof(path), API_KEYS "/%s/disable", str(k, "_id"));
	call(d, "PUT", path, str(s, "refresh_token"), NULL, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	assert_null(client_login(d, LOGIN("api-key"), body, NULL, &r));
	assert_error(&r, 401, "AuthError", "invalid API key");
	http_free(&r);
	snprintf(path, sizeof(path), API_KEYS "/%s/enable", str(k, "_id"));
	call(d, "PUT", path, str(s, "refresh_token"), NULL, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	snprintf(path, sizeof(path), API_KEYS "/%s", str(k, "_id"));
	call(d, "GET", path, str(s, "refresh_token"), NULL, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	call(d, "DELETE", path, str(s, "refresh_token"), NULL, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	call(d, "GET", path, str(s, "refresh_token"), NULL, &r);
	assert_error(&r, 404, "APIKeyNotFound", "API key not found");
	http_free(&r);
	assert_null(client_login(d, LOGIN("api-key"), body, NULL, &r));
	assert_error(&r, 401, "AuthError", "invalid API key");
	http_free(&r);
	json_decref(k);
	json_decref(s);

	/* Anonymous users cannot have keys. */
	s = client_login(d, LOGIN("anon-user"), "{}", NULL, &r);
	http_free(&r);
	assert_non_null(s);
	call(d, "POST", API_KEYS, str(s, "refresh_token"), "{\"name\": \"x\"}", &r);
	assert_error(&r, 403, "Forbidden", "anonymous");
	http_free(&r);
	json_decref(s);
}

/* App Services' answers: 404 APIKeyNotFound for an unknown key or another
 * user's, on every route; 400 InvalidParameter for a name it refuses. */
static void test_api_key_error_codes(void **state)
{
	static const char *const names[] = {"{\"name\": \"My very cool key\"}", "{\"name\": \"caf\u00e9\"}",
					    "{\"name\": \"a.b\"}", "{\"name\": \"\"}", "{\"name\": 7}", "{}"};
	static const char *const ops[][2] = {{"GET", ""}, {"DELETE", ""}, {"PUT", "/enable"}, {"PUT", "/disable"}};
	struct daemon *d = *state;
	struct http r;
	json_t *ann = client_login(d, LOGIN("alpha"), "{\"user\": \"ann-codes\"}", NULL, &r), *bob, *k, *list;
	char path[256], long_name[128];
	size_t i, j;

	http_free(&r);
	bob = client_login(d, LOGIN("alpha"), "{\"user\": \"bob-codes\"}", NULL, &r);
	http_free(&r);
	assert_non_null(ann);
	assert_non_null(bob);
	call(d, "POST", API_KEYS, str(ann, "refresh_token"), "{\"name\": \"Ann_key-1\"}", &r);
	assert_int_equal(r.status, 201);
	k = json_body(&r);
	http_free(&r);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		const char *ids[] = {str(k, "_id"), "65f0c0ffee0123456789abcd", "not-an-id"};

		for (j = 0; j < ARRAY_SIZE(ids); j++) {
			/* Ann's key as Bob, then ids nobody has. */
			snprintf(path, sizeof(path), API_KEYS "/%s%s", ids[j], ops[i][1]);
			call(d, ops[i][0], path, str(bob, "refresh_token"), NULL, &r);
			assert_error(&r, 404, "APIKeyNotFound", "API key not found");
			http_free(&r);
		}
	}
	/* Bob changed nothing: Ann's key is there and enabled. */
	snprintf(path, sizeof(path), API_KEYS "/%s", str(k, "_id"));
	call(d, "GET", path, str(ann, "refresh_token"), NULL, &r);
	assert_int_equal(r.status, 200);
	list = json_body(&r);
	http_free(&r);
	assert_true(json_is_false(json_object_get(list, "disabled")));
	json_decref(list);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		call(d, "POST", API_KEYS, str(ann, "refresh_token"), names[i], &r);
		assert_error(&r, 400, "InvalidParameter", "name");
		http_free(&r);
	}
	call(d, "POST", API_KEYS, str(ann, "refresh_token"), "{\"name\": \"My very cool key\"}", &r);
	assert_error(&r, 400, "InvalidParameter",
		     "API key name can only contain ASCII letters, numbers, underscores, and hyphens");
	http_free(&r);
	memset(long_name, 'a', 101);
	long_name[101] = '\0';
	snprintf(path, sizeof(path), "{\"name\": \"%s\"}", long_name);
	call(d, "POST", API_KEYS, str(ann, "refresh_token"), path, &r);
	assert_error(&r, 400, "InvalidParameter", "1 to 100");
	http_free(&r);
	long_name[100] = '\0';
	snprintf(path, sizeof(path), "{\"name\": \"%s\"}", long_name);
	call(d, "POST", API_KEYS, str(ann, "refresh_token"), path, &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	/* The refused names created nothing. */
	call(d, "GET", API_KEYS, str(ann, "refresh_token"), NULL, &r);
	list = json_body(&r);
	http_free(&r);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	json_decref(k);
	json_decref(ann);
	json_decref(bob);
}

static void test_server_api_key_over_admin_api(void **state)
{
	struct daemon *d = *state;
	struct http r;
	json_t *k, *l, *p;
	char body[256], path[256];

	call(d, "POST", "/api/admin/v1/api_keys", ADMIN_KEY, "{\"name\": \"backend\"}", &r);
	assert_int_equal(r.status, 201);
	k = json_body(&r);
	http_free(&r);
	snprintf(body, sizeof(body), "{\"key\": \"%s\"}", str(k, "key"));
	l = client_login(d, LOGIN("api-key"), body, NULL, &r);
	http_free(&r);
	assert_non_null(l);
	assert_string_equal(str(l, "user_id"), str(k, "user_id"));
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(l, "access_token"), &r);
	p = json_body(&r);
	http_free(&r);
	assert_string_equal(str(p, "type"), "server");
	json_decref(p);
	json_decref(l);
	/* Not without the admin key. */
	call(d, "POST", "/api/admin/v1/api_keys", "wrong", "{\"name\": \"x\"}", &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/admin/v1/api_keys/%s", str(k, "_id"));
	call(d, "DELETE", path, ADMIN_KEY, NULL, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	assert_null(client_login(d, LOGIN("api-key"), body, NULL, &r));
	assert_error(&r, 401, "AuthError", "invalid API key");
	http_free(&r);
	json_decref(k);
}

static const char *const lp_plugins[] = {"local-userpass", NULL};

static int lp_setup(void **state)
{
	struct daemon *d = daemon_new("providers-lp", NULL, lp_plugins);
	char *box, *sender = install_sender(d, &box), text[2048];
	char *caller = copy_program(d, "providers/local-userpass/caller.sh");

	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_call_command\": [\"%s\", \"%s\"], "
		 "\"reset_call_command\": [\"%s\", \"%s\"], \"scrypt\": {\"log2_n\": 10}, "
		 "\"max_mails_per_hour\": 100}}",
		 caller, box, caller, box);
	provider(d, "lp-call", text);
	free(caller);
	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"], "
		 "\"reset_command\": [\"%s\", \"%s\"], \"scrypt\": {\"log2_n\": 10}}}",
		 sender, box, sender, box);
	provider(d, "local-userpass", text);
	free(sender);
	free(box);
	daemon_start(d);
	*state = d;
	return 0;
}

#define USERPASS "/api/client/v2.0/app/test-app/auth/providers/local-userpass/"

static void test_userpass_over_http(void **state)
{
	struct daemon *d = *state;
	struct http r;
	char *confirm, *reset;
	json_t *s, *out;

	post(d, USERPASS "register", "{\"email\": \"Zoe@Example.org\", \"password\": \"first-pw\"}", &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	post(d, USERPASS "register", "{\"email\": \"zoe@example.org\", \"password\": \"other-pw\"}", &r);
	assert_error(&r, 409, "AccountNameInUse", "name already in use");
	http_free(&r);
	post(d, USERPASS "register", "{\"email\": \"x@example.org\", \"password\": \"short\"}", &r);
	assert_error(&r, 400, "BadRequest", "password must be between 6 and 128 characters");
	http_free(&r);
	/* Pending: no login yet. */
	assert_null(client_login(d, LOGIN("local-userpass"), "{\"username\": \"zoe@example.org\", \"password\": \"first-pw\"}",
				 NULL, &r));
	assert_error(&r, 401, "AuthError", "confirmation required");
	http_free(&r);
	confirm = mailed(d, NULL);
	post(d, USERPASS "confirm", confirm, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	post(d, USERPASS "confirm", confirm, &r);
	assert_error(&r, 400, "UserpassTokenInvalid", "invalid token data");
	http_free(&r);
	post(d, USERPASS "confirm/send", "{\"email\": \"zoe@example.org\"}", &r);
	assert_error(&r, 400, "UserAlreadyConfirmed", "user already confirmed");
	http_free(&r);
	post(d, USERPASS "confirm/send", "{\"email\": \"nobody@example.org\"}", &r);
	assert_error(&r, 404, "UserNotFound", "user not found");
	http_free(&r);
	s = client_login(d, LOGIN("local-userpass"), "{\"username\": \"zoe@example.org\", \"password\": \"first-pw\"}",
			 NULL, &r);
	if (!s)
		fail_msg("login: %ld %s", r.status, r.body);
	http_free(&r);
	assert_null(client_login(d, LOGIN("local-userpass"), "{\"username\": \"zoe@example.org\", \"password\": \"wrong-pw\"}",
				 NULL, &r));
	assert_error(&r, 401, "InvalidPassword", "invalid username/password");
	http_free(&r);
	assert_null(client_login(d, LOGIN("local-userpass"), "{\"username\": \"nobody@example.org\", \"password\": \"wrong-pw\"}",
				 NULL, &r));
	assert_error(&r, 401, "InvalidPassword", "invalid username/password");
	http_free(&r);

	/* Reset: the old session ends, the new password works. */
	post(d, USERPASS "reset/send", "{\"email\": \"zoe@example.org\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	reset = mailed(d, "second-pw");
	post(d, USERPASS "reset", reset, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	bearer_call(d, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	out = client_login(d, LOGIN("local-userpass"), "{\"username\": \"zoe@example.org\", \"password\": \"second-pw\"}",
			   NULL, &r);
	assert_non_null(out);
	http_free(&r);
	assert_string_equal(str(out, "user_id"), str(s, "user_id"));
	json_decref(out);
	json_decref(s);
	free(confirm);
	free(reset);
}

#define USERCALL "/api/client/v2.0/app/test-app/auth/providers/lp-call/"

/* What caller.sh answers next, and its exit code. */
static void answer(const struct daemon *d, const char *text, int code)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", code);
	free(tu_write(d->dir, "box/answer", text, 0644));
	free(tu_write(d->dir, "box/exit", num, 0644));
}

/* The last JSON caller.sh got, as a confirm/reset body (with `password`
 * when not NULL). */
static char *called(const struct daemon *d, const char *password)
{
	char cmd[1100], *out = NULL, *body;
	json_t *m;

	snprintf(cmd, sizeof(cmd), "tail -n 1 '%s/box/calls'", d->dir);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	m = json_loads(out, 0, NULL);
	assert_non_null(m);
	free(out);
	json_object_del(m, "email");
	json_object_del(m, "arguments");
	if (password)
		json_object_set_new(m, "password", json_string(password));
	body = json_dumps(m, 0);
	json_decref(m);
	return body;
}

static void call_login(const struct daemon *d, const char *password, long status)
{
	char body[256];
	struct http r;
	json_t *s;

	snprintf(body, sizeof(body), "{\"username\": \"una@example.org\", \"password\": \"%s\"}", password);
	s = client_login(d, LOGIN("lp-call"), body, NULL, &r);
	if (status == 200 ? !s : r.status != status)
		fail_msg("login with %s: %ld %s", password, r.status, r.body);
	json_decref(s);
	http_free(&r);
}

static void test_userpass_call_over_http(void **state)
{
	struct daemon *d = *state;
	struct http r;
	char *body, cmd[1100];

	/* register with a pending answer, then confirm/call: fail, exit 2, garbage, pending, confirm. */
	answer(d, "{\"status\": \"pending\"}", 0);
	post(d, USERCALL "register", "{\"email\": \"una@example.org\", \"password\": \"pass-word\"}", &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	call_login(d, "pass-word", 401);
	answer(d, "{\"status\": \"fail\"}", 0);
	post(d, USERCALL "confirm/call", "{\"email\": \"una@example.org\"}", &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	answer(d, "{\"status\": \"success\"}", 2);
	post(d, USERCALL "confirm/call", "{\"email\": \"una@example.org\"}", &r);
	assert_int_equal(r.status, 503);
	http_free(&r);
	answer(d, "nonsense", 0);
	post(d, USERCALL "confirm/call", "{\"email\": \"una@example.org\"}", &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	call_login(d, "pass-word", 401);
	answer(d, "{\"status\": \"pending\"}", 0);
	post(d, USERCALL "confirm/call", "{\"email\": \"una@example.org\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	body = called(d, NULL);
	post(d, USERCALL "confirm", body, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(body);
	call_login(d, "pass-word", 200);
	post(d, USERCALL "confirm/call", "{\"email\": \"una@example.org\"}", &r);
	assert_error(&r, 400, "UserAlreadyConfirmed", "user already confirmed");
	http_free(&r);
	post(d, USERCALL "confirm/call", "{\"email\": \"nobody@example.org\"}", &r);
	assert_error(&r, 404, "UserNotFound", "user not found");
	http_free(&r);

	/* reset/call: success at once, with the arguments passed through. */
	answer(d, "{\"status\": \"success\"}", 0);
	post(d, USERCALL "reset/call",
	     "{\"email\": \"una@example.org\", \"password\": \"hidden-one\", \"arguments\": [\"pet\", {\"k\": 1}]}",
	     &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	call_login(d, "hidden-one", 200);
	call_login(d, "pass-word", 401);
	snprintf(cmd, sizeof(cmd), "tail -n 1 '%s/box/calls' | grep -q '\"arguments\":\\[\"pet\",{\"k\":1}\\]'",
		 d->dir);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
	/* pending, then reset completes it. */
	answer(d, "{\"status\": \"pending\"}", 0);
	post(d, USERCALL "reset/call", "{\"email\": \"una@example.org\", \"password\": \"hidden-two\", \"arguments\": []}",
	     &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	call_login(d, "hidden-one", 200);
	body = called(d, "hidden-three");
	post(d, USERCALL "reset", body, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(body);
	call_login(d, "hidden-three", 200);
	/* fail, non-zero exit and garbage refuse; nothing changes. */
	answer(d, "{\"status\": \"fail\"}", 0);
	post(d, USERCALL "reset/call", "{\"email\": \"una@example.org\", \"password\": \"hidden-four\", \"arguments\": []}",
	     &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	answer(d, "{\"status\": \"success\"}", 9);
	post(d, USERCALL "reset/call", "{\"email\": \"una@example.org\", \"password\": \"hidden-four\", \"arguments\": []}",
	     &r);
	assert_int_equal(r.status, 503);
	http_free(&r);
	answer(d, "]]]", 0);
	post(d, USERCALL "reset/call", "{\"email\": \"una@example.org\", \"password\": \"hidden-four\", \"arguments\": []}",
	     &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	call_login(d, "hidden-three", 200);
	post(d, USERCALL "reset/call", "{\"email\": \"una@example.org\", \"password\": \"short\", \"arguments\": []}", &r);
	assert_error(&r, 400, "BadRequest", "password must be between 6 and 128 characters");
	http_free(&r);
	post(d, USERCALL "reset/call", "{\"email\": \"nobody@example.org\", \"password\": \"hidden-five\"}", &r);
	assert_error(&r, 404, "UserNotFound", "user not found");
	http_free(&r);
	/* The program never saw a password. */
	snprintf(cmd, sizeof(cmd), "grep -q hidden- '%s/box/calls'", d->dir);
	assert_int_not_equal(tu_run(cmd, NULL, NULL), 0);
	snprintf(cmd, sizeof(cmd), "grep -q pass-word '%s/box/calls'", d->dir);
	assert_int_not_equal(tu_run(cmd, NULL, NULL), 0);
}

/* ---- the email/password routes under attack ---------------------------------- */

/*
 * One daemon for the attacks, each bucket under test at its default: "up"
 * (max 14 failed logins per address) and "up2" (the default ceiling), both
 * confirming at once; "mail" mailing with sender.sh.  The per-address
 * login bucket is opened wide: the buckets under test are the others.
 */
static int abuse_setup(void **state)
{
	struct daemon *d = daemon_new(
	    "providers-abuse",
	    "\"daemon\": {\"login_failures_per_minute\": 100000, \"max_connections_per_address\": 0}", lp_plugins);
	char *box, *sender = install_sender(d, &box), text[2048];

	provider(d, "up", "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"max_failures\": 14, "
			  "\"scrypt\": {\"log2_n\": 10}}}");
	provider(d, "up2", "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"scrypt\": {\"log2_n\": 10}}}");
	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"], "
		 "\"reset_command\": [\"%s\", \"%s\"], \"scrypt\": {\"log2_n\": 10}}}",
		 sender, box, sender, box);
	provider(d, "mail", text);
	free(sender);
	free(box);
	daemon_start(d);
	*state = d;
	return 0;
}

/* Stops the daemon, also after a failed test. */
static int abuse_teardown(void **state)
{
	return daemon_finish(*state);
}

#define UP(name, route) "/api/client/v2.0/app/test-app/auth/providers/" name "/" route

/* What a client sees of an answer: status, Retry-After or not, body. */
static char *answer_of(const struct http *r)
{
	char *retry = header(r, "Retry-After"), *out;

	assert_true(asprintf(&out, "%ld %s %s", r->status, retry ? "retry" : "-", r->body ? r->body : "") > 0);
	free(retry);
	return out;
}

/* POST `body` to `path` from `source` (NULL: 127.0.0.1); the answer as
 * answer_of() shows it. */
static char *post_from(const struct daemon *d, const char *source, const char *path, const char *body)
{
	struct req q = {"POST", path, {JSON_TYPE_HEADER, NULL}, body, false, NULL};
	struct http r;
	char *out;

	http_from(d, &q, source, &r);
	if (r.rc != CURLE_OK)
		fail_msg("%s: no answer (%s)", path, curl_easy_strerror(r.rc));
	out = answer_of(&r);
	http_free(&r);
	return out;
}

static long status_of(const char *answer)
{
	return strtol(answer, NULL, 10);
}

struct parallel {
	const struct daemon *d;
	const char *path;
	char body[256];
	pthread_barrier_t *start;
	long status;
	bool retry_after;
};

static void *post_parallel(void *arg)
{
	struct parallel *p = arg;
	char *a;

	pthread_barrier_wait(p->start);
	a = post_from(p->d, NULL, p->path, p->body);
	p->status = status_of(a);
	p->retry_after = strstr(a, " retry ") != NULL;
	free(a);
	return NULL;
}

/* Send `n` (at most 200) requests at once, the i-th with body `pre` i
 * `post`; count the answers with `status`, and the refusals (429, each
 * with Retry-After) in *refused. */
static int burst(const struct daemon *d, const char *path, const char *pre, const char *post, int n, long status,
		 int *refused)
{
	struct parallel p[200];
	pthread_t t[200];
	pthread_barrier_t start;
	int i, hits = 0;

	assert_true(n <= 200);
	*refused = 0;
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (i = 0; i < n; i++) {
		p[i] = (struct parallel){d, path, "", &start, 0, false};
		snprintf(p[i].body, sizeof(p[i].body), "%s%d%s", pre, i, post);
		assert_int_equal(pthread_create(&t[i], NULL, post_parallel, &p[i]), 0);
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		hits += p[i].status == status;
		if (p[i].status == 429) {
			assert_true(p[i].retry_after);
			++*refused;
		}
	}
	pthread_barrier_destroy(&start);
	return hits;
}

/* 150 wrong passwords at once for one user from one address: exactly the 10
 * of daemon.identifier_failures_per_hour are evaluated, the others refused
 * before any work (the old check-then-charge let them all through). */
static void test_parallel_guesses_over_http(void **state)
{
	struct daemon *d = *state;
	int refused, evaluated;

	evaluated = burst(d, LOGIN("up2"), "{\"username\": \"target@example.org\", \"password\": \"guess-", "\"}", 150,
			  401, &refused);
	assert_int_equal(evaluated, 10);
	assert_int_equal(refused, 140);
}

/* A registered and an unregistered address answer alike at every step,
 * through the per-address bucket and then the provider's ceiling; the owner
 * of a hammered account still gets in from another address. */
static void test_known_and_unknown_alike_over_http(void **state)
{
	struct daemon *d = *state;
	char *known, *unknown, *a;
	int i, refused = 0;

	a = post_from(d, NULL, UP("up", "register"), "{\"email\": \"kay@example.org\", \"password\": \"right-pw\"}");
	assert_int_equal(status_of(a), 201);
	free(a);
	/* 12 from 127.0.0.1 (10 evaluated, then the bucket), then 6 from
	 * 127.0.0.2 (4 evaluated, then the ceiling of 14). */
	for (i = 0; i < 18; i++) {
		const char *source = i < 12 ? "127.0.0.1" : "127.0.0.2";

		known = post_from(d, source, LOGIN("up"), "{\"username\": \"kay@example.org\", \"password\": \"wrong-pw\"}");
		unknown =
		    post_from(d, source, LOGIN("up"), "{\"username\": \"kim@example.org\", \"password\": \"wrong-pw\"}");
		if (strcmp(known, unknown) != 0)
			fail_msg("step %d: a registered address answers\n  %s\nand an unknown one\n  %s", i, known, unknown);
		assert_int_equal(status_of(known), i < 10 || (i >= 12 && i < 16) ? 401 : 429);
		refused += status_of(known) == 429;
		free(known);
		free(unknown);
	}
	assert_int_equal(refused, 4);
}

static void test_owner_gets_in_from_another_address(void **state)
{
	struct daemon *d = *state;
	char *a;
	int i;

	a = post_from(d, NULL, UP("up2", "register"), "{\"email\": \"own@example.org\", \"password\": \"right-pw\"}");
	assert_int_equal(status_of(a), 201);
	free(a);
	for (i = 0; i < 12; i++) {
		a = post_from(d, "127.0.0.1", LOGIN("up2"), "{\"username\": \"own@example.org\", \"password\": \"wrong-pw\"}");
		assert_int_equal(status_of(a), i < 10 ? 401 : 429);
		free(a);
	}
	/* The attacker's address waits; the owner, elsewhere, does not. */
	a = post_from(d, "127.0.0.2", LOGIN("up2"), "{\"username\": \"own@example.org\", \"password\": \"right-pw\"}");
	if (status_of(a) != 200)
		fail_msg("the owner was refused: %s", a);
	free(a);
	a = post_from(d, "127.0.0.1", LOGIN("up2"), "{\"username\": \"own@example.org\", \"password\": \"right-pw\"}");
	assert_int_equal(status_of(a), 429);
	free(a);
}

/* 60 registrations at once from one address: the 30 of
 * daemon.account_requests_per_hour go through. */
static void test_registrations_throttled(void **state)
{
	struct daemon *d = *state;
	int refused, created;

	created = burst(d, UP("up2", "register"), "{\"email\": \"new", "@example.org\", \"password\": \"pass-word\"}", 60,
			201, &refused);
	assert_int_equal(created, 30);
	assert_int_equal(refused, 30);
}

/* Lines of the daemon's outbox holding `needle`. */
static int outbox_count(const struct daemon *d, const char *needle)
{
	char cmd[1200], *out = NULL;
	int n;

	snprintf(cmd, sizeof(cmd), "grep -c '%s' '%s/box/outbox' 2>/dev/null || true", needle, d->dir);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	n = (int)strtol(out, NULL, 10);
	free(out);
	return n;
}

/* 40 reset/sends for one address, from two client addresses, send at most
 * max_mails_per_hour (10) mails to it, its confirmation included; an
 * unregistered address answers exactly like a registered one, step by step,
 * and gets no mail. */
static void test_reset_mails_limited_and_alike(void **state)
{
	struct daemon *d = *state;
	static const char *const sources[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"};
	char *a, *known, *unknown;
	int i, ok = 0;

	a = post_from(d, "127.0.0.1", UP("mail", "register"), "{\"email\": \"ray@example.org\", \"password\": \"pass-word\"}");
	assert_int_equal(status_of(a), 201);
	free(a);
	for (i = 0; i < 40; i++) {
		a = post_from(d, sources[i % 2], UP("mail", "reset/send"), "{\"email\": \"ray@example.org\"}");
		if (status_of(a) == 200)
			ok++;
		else if (status_of(a) != 429 || !strstr(a, " retry "))
			fail_msg("reset/send %d: %s", i, a);
		free(a);
	}
	assert_int_equal(ok, 9);
	assert_int_equal(outbox_count(d, "ray@example.org"), 10);

	/* Alike: "sue" is registered (one confirmation mail counted), "sam"
	 * is not and gets one reset/send first, so both start level. */
	a = post_from(d, "127.0.0.3", UP("mail", "register"), "{\"email\": \"sue@example.org\", \"password\": \"pass-word\"}");
	assert_int_equal(status_of(a), 201);
	free(a);
	a = post_from(d, "127.0.0.4", UP("mail", "reset/send"), "{\"email\": \"sam@example.org\"}");
	assert_string_equal(a, "200 - {}");
	free(a);
	for (i = 0; i < 12; i++) {
		known = post_from(d, sources[2 + i % 2], UP("mail", "reset/send"), "{\"email\": \"sue@example.org\"}");
		unknown = post_from(d, sources[2 + i % 2], UP("mail", "reset/send"), "{\"email\": \"sam@example.org\"}");
		if (strcmp(known, unknown) != 0)
			fail_msg("step %d: a registered address answers\n  %s\nand an unknown one\n  %s", i, known, unknown);
		free(known);
		free(unknown);
	}
	assert_int_equal(outbox_count(d, "sue@example.org"), 10);
	assert_int_equal(outbox_count(d, "sam@example.org"), 0);
}

int main(void)
{
	const struct CMUnitTest anon[] = {
	    cmocka_unit_test(test_anon_login_link_logout),
	    cmocka_unit_test(test_anon_logins_throttled_per_address),
	};
	const struct CMUnitTest cf[] = {
	    cmocka_unit_test(test_cf_login_and_refusals),
	    cmocka_unit_test(test_cf_program_gets_plain_json),
	};
	const struct CMUnitTest ak[] = {
	    cmocka_unit_test(test_user_api_keys_over_http),
	    cmocka_unit_test(test_api_key_error_codes),
	    cmocka_unit_test(test_server_api_key_over_admin_api),
	};
	const struct CMUnitTest lp[] = {
	    cmocka_unit_test(test_userpass_over_http),
	    cmocka_unit_test(test_userpass_call_over_http),
	};
	/* Each with a daemon of its own, so no bucket carries over. */
	const struct CMUnitTest abuse[] = {
	    cmocka_unit_test_setup_teardown(test_parallel_guesses_over_http, abuse_setup, abuse_teardown),
	    cmocka_unit_test_setup_teardown(test_known_and_unknown_alike_over_http, abuse_setup, abuse_teardown),
	    cmocka_unit_test_setup_teardown(test_owner_gets_in_from_another_address, abuse_setup, abuse_teardown),
	    cmocka_unit_test_setup_teardown(test_registrations_throttled, abuse_setup, abuse_teardown),
	    cmocka_unit_test_setup_teardown(test_reset_mails_limited_and_alike, abuse_setup, abuse_teardown),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests_name("anon-user", anon, anon_setup, daemon_teardown);
	failed += cmocka_run_group_tests_name("custom-function", cf, cf_setup, daemon_teardown);
	failed += cmocka_run_group_tests_name("api-key", ak, ak_setup, daemon_teardown);
	failed += cmocka_run_group_tests_name("local-userpass", lp, lp_setup, daemon_teardown);
	failed += cmocka_run_group_tests_name("local-userpass under attack", abuse, NULL, NULL);
	curl_global_cleanup();
	return failed || daemon_exit_failures ? 1 : 0;
}
