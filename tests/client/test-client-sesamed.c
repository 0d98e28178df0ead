/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test-client-sesamed.c — libsesame-client against a real
 * sesamed (tests/client/harness.h): three users through three providers,
 * switching, the active user after logging out the active one, logout
 * (anonymous users forgotten), remove, link (and the link conflict
 * answered after exactly one refresh), delete, profile and custom data, an
 * expired access token refreshed exactly once, a revoked session ending as
 * logged out without a retry loop, API keys, the email/password flows, the
 * device id, the request helper and one client shared by threads.
 * Requests are counted with sesamed's /metrics; expiry is reached by moving
 * the daemon's clock; nothing sleeps.
 */
#include "config.h"

#include <sesame/client.h>

#include "harness.h"

#define LOGIN_ROUTE "/app/{app}/auth/providers/{name}/login"
#define CONFLICT "a user already exists with the specified provider"

static struct daemon *d;
static char *store_dir;

static int group_setup(void **state)
{
	d = client_daemon("client-lib");
	store_dir = tu_tmpdir("client-lib-stores");
	return 0;
}

static int group_teardown(void **state)
{
	tu_rmrf(store_dir);
	free(store_dir);
	return daemon_finish(d);
}

/* A client on a store of its own. */
static sesame_client *client_new(const char *name)
{
	sesame_client_error err;
	sesame_client *c;
	char *path = tu_path(store_dir, name);

	if (sesame_client_open(d->url, APP, path, 0, &c, &err) != SESAME_CLIENT_OK)
		fail_msg("open: %s", err.text);
	free(path);
	return c;
}

static char *login_ok(sesame_client *c, const char *provider, const char *credential)
{
	sesame_client_error err;
	json_t *cred = credential ? json_loads(credential, 0, NULL) : NULL;
	char *id = NULL;

	if (sesame_client_login(c, provider, cred, &id, &err) != SESAME_CLIENT_OK)
		fail_msg("login %s: %s", provider, err.text);
	json_decref(cred);
	assert_non_null(id);
	return id;
}

/* The store's users are `expect`: "ID:STATE[*]" joined by spaces, most
 * recently active first ('*': the active user). */
static void users_are(sesame_client *c, const char *expect)
{
	sesame_client_error err;
	json_t *users, *u;
	char got[1024] = "";
	size_t i, n = 0;

	assert_int_equal(sesame_client_users(c, &users, &err), SESAME_CLIENT_OK);
	json_array_foreach(users, i, u) {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s:%s%s", i ? " " : "",
				      json_string_value(json_object_get(u, "id")),
				      json_string_value(json_object_get(u, "state")),
				      json_is_true(json_object_get(u, "active")) ? "*" : "");
	}
	json_decref(users);
	if (strcmp(got, expect) != 0)
		fail_msg("users: %s\nexpected: %s", got, expect);
}

static char *entry(const char *id, const char *state, bool active)
{
	char *s;

	assert_true(asprintf(&s, "%s:%s%s", id, state, active ? "*" : "") > 0);
	return s;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The provider types of user `id`, in lexical order, joined by ','. */
static void providers_are(sesame_client *c, const char *id, const char *expect)
{
	sesame_client_error err;
	json_t *users, *u, *t;
	const char *types[8];
	char got[256] = "";
	size_t i, j, n = 0, len = 0;

	assert_int_equal(sesame_client_users(c, &users, &err), SESAME_CLIENT_OK);
	json_array_foreach(users, i, u) {
		if (strcmp(json_string_value(json_object_get(u, "id")), id) != 0)
			continue;
		json_array_foreach(json_object_get(u, "providers"), j, t) {
			assert_true(n < 8);
			types[n++] = json_string_value(t);
		}
	}
	qsort(types, n, sizeof(types[0]), by_name);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "", types[i]);
	json_decref(users);
	assert_string_equal(got, expect);
}

/* The active user's profile is `id`'s. */
static void profile_is(sesame_client *c, const char *id)
{
	sesame_client_error err;
	json_t *p;

	if (sesame_client_profile(c, &p, &err) != SESAME_CLIENT_OK)
		fail_msg("profile: %s", err.text);
	assert_string_equal(json_string_value(json_object_get(p, "user_id")), id);
	json_decref(p);
}

/* Register `email` with the library and confirm it from the mail. */
static void register_confirmed(sesame_client *c, const char *email, const char *password)
{
	sesame_client_error err;
	json_t *m;

	if (sesame_client_register(c, NULL, email, password, &err) != SESAME_CLIENT_OK)
		fail_msg("register: %s", err.text);
	m = last_mail(d);
	assert_string_equal(json_string_value(json_object_get(m, "email")), email);
	if (sesame_client_confirm(c, NULL, json_string_value(json_object_get(m, "token")),
				  json_string_value(json_object_get(m, "tokenId")), &err) != SESAME_CLIENT_OK)
		fail_msg("confirm: %s", err.text);
	json_decref(m);
}

static char *userpass_credential(const char *email, const char *password)
{
	char *s;

	assert_true(asprintf(&s, "{\"username\": \"%s\", \"password\": \"%s\"}", email, password) > 0);
	return s;
}

static void expect_users(sesame_client *c, int n, ...)
{
	char expect[1024] = "";
	size_t len = 0;
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		char *e = va_arg(ap, char *);

		len += (size_t)snprintf(expect + len, sizeof(expect) - len, "%s%s", i ? " " : "", e);
		free(e);
	}
	va_end(ap);
	users_are(c, expect);
}

/* Three users through three providers; the most recently active first;
 * switching; logging out the active user; anonymous users forgotten at
 * logout; a logged-out user refused as the active one; remove. */
static void test_three_users(void **state)
{
	sesame_client *c = client_new("three.json");
	sesame_client_error err;
	char *anon, *carol, *ann, *cred = userpass_credential("ann@example.org", "ann-password");
	long logouts;

	register_confirmed(c, "ann@example.org", "ann-password");
	anon = login_ok(c, "anon-user", NULL);
	carol = login_ok(c, "alpha", "{\"user\": \"carol\"}");
	ann = login_ok(c, "local-userpass", cred);
	expect_users(c, 3, entry(ann, "LoggedIn", true), entry(carol, "LoggedIn", false),
		     entry(anon, "LoggedIn", false));
	providers_are(c, ann, "local-userpass");
	providers_are(c, carol, "fixture-good");
	providers_are(c, anon, "anon-user");
	profile_is(c, ann);

	assert_int_equal(sesame_client_switch(c, carol, &err), SESAME_CLIENT_OK);
	profile_is(c, carol);
	assert_int_equal(sesame_client_switch(c, anon, &err), SESAME_CLIENT_OK);
	profile_is(c, anon);
	expect_users(c, 3, entry(anon, "LoggedIn", true), entry(carol, "LoggedIn", false),
		     entry(ann, "LoggedIn", false));
	assert_int_equal(sesame_client_switch(c, "0123456789abcdef01234567", &err), SESAME_CLIENT_NO_USER);
	assert_string_equal(err.reason, "unknown-user");

	/* The anonymous user is deleted by the server at logout: forgotten;
	 * carol, the most recently active user still logged in, is active. */
	assert_int_equal(sesame_client_logout(c, NULL, &err), SESAME_CLIENT_OK);
	assert_int_equal(admin_user_status(d, anon), 404);
	expect_users(c, 2, entry(carol, "LoggedIn", true), entry(ann, "LoggedIn", false));

	/* ann logged out stays listed; carol stays active. */
	assert_int_equal(sesame_client_logout(c, ann, &err), SESAME_CLIENT_OK);
	expect_users(c, 2, entry(carol, "LoggedIn", true), entry(ann, "LoggedOut", false));
	assert_int_equal(sesame_client_switch(c, ann, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.reason, "not-logged-in");
	expect_users(c, 2, entry(carol, "LoggedIn", true), entry(ann, "LoggedOut", false));
	/* Logging out a logged-out user has nothing to do. */
	assert_int_equal(sesame_client_logout(c, ann, &err), SESAME_CLIENT_OK);

	/* Logging the active user out: the most recently active user still
	 * logged in becomes active. */
	assert_int_equal(sesame_client_switch(c, carol, &err), SESAME_CLIENT_OK);
	free(login_ok(c, "local-userpass", cred));
	expect_users(c, 2, entry(ann, "LoggedIn", true), entry(carol, "LoggedIn", false));
	assert_int_equal(sesame_client_logout(c, NULL, &err), SESAME_CLIENT_OK);
	expect_users(c, 2, entry(ann, "LoggedOut", false), entry(carol, "LoggedIn", true));

	/* remove: the session ends on the server, the user is forgotten. */
	logouts = requests(d, "DELETE", "/auth/session", 204);
	assert_int_equal(sesame_client_remove(c, carol, &err), SESAME_CLIENT_OK);
	assert_int_equal(requests(d, "DELETE", "/auth/session", 204), logouts + 1);
	expect_users(c, 1, entry(ann, "LoggedOut", false));
	assert_int_equal(sesame_client_profile(c, &(json_t *){NULL}, &err), SESAME_CLIENT_NO_USER);
	assert_string_equal(err.reason, "no-active-user");
	assert_int_equal(sesame_client_remove(c, ann, &err), SESAME_CLIENT_OK);
	users_are(c, "");
	free(anon);
	free(carol);
	free(ann);
	free(cred);
	sesame_client_close(c);
}

/* "Try anonymously, then sign up": link email/password to the anonymous
 * user, which then survives logout; a link to an identity another user
 * holds is refused after exactly one refresh and retry; delete. */
static void test_link_and_delete(void **state)
{
	sesame_client *c = client_new("link.json");
	sesame_client_error err;
	char *cred = userpass_credential("bob@example.org", "bob-password"), *first, *second;
	json_t *p, *jc = json_loads(cred, 0, NULL);
	long ok, refused, fresh;

	register_confirmed(c, "bob@example.org", "bob-password");
	first = login_ok(c, "anon-user", NULL);
	if (sesame_client_link(c, "local-userpass", jc, &err) != SESAME_CLIENT_OK)
		fail_msg("link: %s", err.text);
	providers_are(c, first, "anon-user,local-userpass");
	assert_int_equal(sesame_client_profile(c, &p, &err), SESAME_CLIENT_OK);
	assert_int_equal(json_array_size(json_object_get(p, "identities")), 2);
	json_decref(p);
	/* No longer anonymous: logged out, it stays. */
	assert_int_equal(sesame_client_logout(c, NULL, &err), SESAME_CLIENT_OK);
	expect_users(c, 1, entry(first, "LoggedOut", false));
	assert_int_equal(admin_user_status(d, first), 200);

	second = login_ok(c, "anon-user", NULL);
	ok = refreshes(d, "success");
	refused = requests(d, "POST", LOGIN_ROUTE, 401);
	fresh = requests(d, "POST", LOGIN_ROUTE, 200);
	assert_int_equal(sesame_client_link(c, "local-userpass", jc, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.code, "InvalidSession");
	assert_int_equal(err.http_status, 401);
	assert_non_null(strstr(err.text, CONFLICT));
	assert_int_equal(refreshes(d, "success"), ok + 1);
	assert_int_equal(requests(d, "POST", LOGIN_ROUTE, 401), refused + 2);
	assert_int_equal(requests(d, "POST", LOGIN_ROUTE, 200), fresh);
	providers_are(c, second, "anon-user");

	assert_int_equal(sesame_client_delete(c, &err), SESAME_CLIENT_OK);
	assert_int_equal(admin_user_status(d, second), 404);
	expect_users(c, 1, entry(first, "LoggedOut", false));
	assert_int_equal(sesame_client_delete(c, &err), SESAME_CLIENT_NO_USER);
	json_decref(jc);
	free(cred);
	free(first);
	free(second);
	sesame_client_close(c);
}

static void test_profile_and_custom_data(void **state)
{
	sesame_client *c = client_new("custom.json");
	sesame_client_error err;
	char *dora = login_ok(c, "alpha", "{\"user\": \"dora\"}"), path[256];
	json_t *p, *data;
	struct http r;

	assert_int_equal(sesame_client_profile(c, &p, &err), SESAME_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(p, "user_id")), dora);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(p, "identities"), 0), "provider_type")),
	    "fixture-good");
	json_decref(p);
	assert_int_equal(sesame_client_refresh_custom_data(c, &data, &err), SESAME_CLIENT_OK);
	assert_int_equal(json_object_size(data), 0);
	json_decref(data);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/custom_data", dora);
	http(d,
	     &(struct req){"PUT",
			   path,
			   {JSON_TYPE_HEADER, "Authorization: Bearer " ADMIN_KEY},
			   "{\"color\": \"blue\"}",
			   false,
			   NULL},
	     &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	assert_int_equal(sesame_client_refresh_custom_data(c, &data, &err), SESAME_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(data, "color")), "blue");
	json_decref(data);
	free(dora);
	sesame_client_close(c);
}

/* An expired access token: one 401, one refresh, one retry. */
static void test_expired_access_token_refreshed_once(void **state)
{
	sesame_client *c = client_new("expiry.json");
	char *erin = login_ok(c, "alpha", "{\"user\": \"erin\"}");
	long denied = requests(d, "GET", "/auth/profile", 401), served = requests(d, "GET", "/auth/profile", 200);
	long ok = refreshes(d, "success");

	clock_advance(d, 1900);
	profile_is(c, erin);
	assert_int_equal(requests(d, "GET", "/auth/profile", 401), denied + 1);
	assert_int_equal(requests(d, "GET", "/auth/profile", 200), served + 1);
	assert_int_equal(refreshes(d, "success"), ok + 1);
	/* The new token was kept: the next call needs no refresh. */
	profile_is(c, erin);
	assert_int_equal(refreshes(d, "success"), ok + 1);
	assert_int_equal(requests(d, "GET", "/auth/profile", 401), denied + 1);
	free(erin);
	sesame_client_close(c);
}

/* A session revoked on the server: one 401, one refused refresh, the user
 * logged out, and no further request. */
static void test_revoked_session_logged_out(void **state)
{
	sesame_client *c = client_new("revoked.json");
	sesame_client_error err;
	char *frank = login_ok(c, "alpha", "{\"user\": \"frank\"}");
	long denied, served, ok, rejected;
	json_t *p = NULL;

	admin_user_put(d, frank, "logout");
	denied = requests(d, "GET", "/auth/profile", 401);
	served = requests(d, "GET", "/auth/profile", 200);
	ok = refreshes(d, "success");
	rejected = refreshes(d, "rejected");
	assert_int_equal(sesame_client_profile(c, &p, &err), SESAME_CLIENT_REFUSED);
	assert_null(p);
	assert_string_equal(err.reason, "logged-out");
	assert_string_equal(err.code, "InvalidSession");
	assert_int_equal(requests(d, "GET", "/auth/profile", 401), denied + 1);
	assert_int_equal(requests(d, "GET", "/auth/profile", 200), served);
	assert_int_equal(refreshes(d, "rejected"), rejected + 1);
	assert_int_equal(refreshes(d, "success"), ok);
	expect_users(c, 1, entry(frank, "LoggedOut", false));
	assert_int_equal(sesame_client_profile(c, &p, &err), SESAME_CLIENT_NO_USER);
	assert_int_equal(requests(d, "GET", "/auth/profile", 401), denied + 1);
	free(frank);
	sesame_client_close(c);
}

static void test_api_keys(void **state)
{
	sesame_client *c = client_new("keys.json");
	sesame_client_error err;
	char *cred = userpass_credential("kim@example.org", "kim-password"), *kim, *again;
	json_t *key, *keys, *got, *login;
	const char *id;
	long ok;

	register_confirmed(c, "kim@example.org", "kim-password");
	kim = login_ok(c, "local-userpass", cred);
	assert_int_equal(sesame_client_api_key_create(c, "laptop", &key, &err), SESAME_CLIENT_OK);
	id = json_string_value(json_object_get(key, "_id"));
	assert_int_equal(sesame_client_api_keys(c, &keys, &err), SESAME_CLIENT_OK);
	assert_int_equal(json_array_size(keys), 1);
	assert_null(json_object_get(json_array_get(keys, 0), "key"));
	json_decref(keys);
	assert_int_equal(sesame_client_api_key_disable(c, id, &err), SESAME_CLIENT_OK);
	assert_int_equal(sesame_client_api_key_get(c, id, &got, &err), SESAME_CLIENT_OK);
	assert_true(json_is_true(json_object_get(got, "disabled")));
	json_decref(got);
	login = json_pack("{s:O}", "key", json_object_get(key, "key"));
	assert_int_equal(sesame_client_login(c, "api-key", login, NULL, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.code, "AuthError");
	assert_int_equal(sesame_client_api_key_enable(c, id, &err), SESAME_CLIENT_OK);
	assert_int_equal(sesame_client_login(c, "api-key", login, &again, &err), SESAME_CLIENT_OK);
	assert_string_equal(again, kim);
	providers_are(c, kim, "api-key,local-userpass");
	/* Deleting a key ends the sessions it opened: log in with the
	 * password again first. */
	free(login_ok(c, "local-userpass", cred));
	assert_int_equal(sesame_client_api_key_delete(c, id, &err), SESAME_CLIENT_OK);
	assert_int_equal(sesame_client_api_key_get(c, id, &got, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.code, "APIKeyNotFound");
	assert_int_equal(sesame_client_api_key_get(c, "../x", &got, &err), SESAME_CLIENT_USAGE);
	/* A 401 to a refresh-token call: the user is logged out at once,
	 * without a refresh (it would use the same refresh token). */
	admin_user_put(d, kim, "logout");
	ok = refreshes(d, "success") + refreshes(d, "rejected");
	assert_int_equal(sesame_client_api_keys(c, &keys, &err), SESAME_CLIENT_REFUSED);
	assert_string_equal(err.reason, "logged-out");
	assert_int_equal(err.http_status, 401);
	assert_int_equal(refreshes(d, "success") + refreshes(d, "rejected"), ok);
	expect_users(c, 1, entry(kim, "LoggedOut", false));
	json_decref(login);
	json_decref(key);
	free(again);
	free(kim);
	free(cred);
	sesame_client_close(c);
}

static void test_email_password_flows(void **state)
{
	sesame_client *c = client_new("userpass.json");
	sesame_client_error err;
	char *old = userpass_credential("liz@example.org", "liz-password");
	char *new = userpass_credential("liz@example.org", "liz-new-password");
	json_t *m, *jold, *jnew;

	assert_int_equal(sesame_client_register(c, NULL, "liz@example.org", "liz-password", &err), SESAME_CLIENT_OK);
	assert_int_equal(sesame_client_register(c, NULL, "liz@example.org", "liz-password", &err),
			 SESAME_CLIENT_REFUSED);
	assert_string_equal(err.code, "AccountNameInUse");
	assert_int_equal(sesame_client_resend_confirmation(c, NULL, "liz@example.org", &err), SESAME_CLIENT_OK);
	m = last_mail(d);
	assert_int_equal(sesame_client_confirm(c, "local-userpass", json_string_value(json_object_get(m, "token")),
					       json_string_value(json_object_get(m, "tokenId")), &err),
			 SESAME_CLIENT_OK);
	json_decref(m);
	assert_int_equal(sesame_client_send_reset_email(c, NULL, "liz@example.org", &err), SESAME_CLIENT_OK);
	m = last_mail(d);
	assert_int_equal(sesame_client_reset_password(c, NULL, json_string_value(json_object_get(m, "token")),
						      json_string_value(json_object_get(m, "tokenId")),
						      "liz-new-password", &err),
			 SESAME_CLIENT_OK);
	json_decref(m);
	jold = json_loads(old, 0, NULL);
	jnew = json_loads(new, 0, NULL);
	assert_int_equal(sesame_client_login(c, "local-userpass", jold, NULL, &err), SESAME_CLIENT_REFUSED);
	users_are(c, "");
	assert_int_equal(sesame_client_login(c, "local-userpass", jnew, NULL, &err), SESAME_CLIENT_OK);
	assert_int_equal(sesame_client_register(c, "no/such", "x@example.org", "password", &err), SESAME_CLIENT_USAGE);
	assert_int_equal(sesame_client_register(c, NULL, NULL, "password", &err), SESAME_CLIENT_USAGE);
	json_decref(jold);
	json_decref(jnew);
	free(old);
	free(new);
	sesame_client_close(c);
}

/* One device id per store, made once, sent with every login (the server
 * puts it in the access token). */
static void test_device_id(void **state)
{
	sesame_client *c = client_new("device.json");
	char *path = tu_path(store_dir, "device.json"), *text, *one = login_ok(c, "alpha", "{\"user\": \"gus\"}"), *two;
	json_t *store, *user;
	const char *device;
	size_t i;

	two = login_ok(c, "anon-user", NULL);
	text = read_all(path);
	store = json_loads(text, 0, NULL);
	assert_non_null(store);
	device = json_string_value(json_object_get(store, "device_id"));
	assert_non_null(device);
	assert_int_equal(strlen(device), 24);
	json_array_foreach(json_object_get(store, "users"), i, user) {
		const char *token = json_string_value(json_object_get(user, "access_token"));
		char *cmd, *out = NULL;

		/* The payload's baas_device_id, decoded by base64. */
		assert_true(asprintf(&cmd,
				     "printf '%%s' '%s' | cut -d. -f2 | tr '_-' '/+' | "
				     "awk '{ while (length($0) %% 4) $0 = $0 \"=\"; print }' | base64 -d",
				     token) > 0);
		assert_int_equal(tu_run(cmd, &out, NULL), 0);
		assert_non_null(strstr(out, device));
		free(cmd);
		free(out);
	}
	json_decref(store);
	free(text);
	free(path);
	free(one);
	free(two);
	sesame_client_close(c);
}

static void test_call(void **state)
{
	sesame_client *c = client_new("call.json");
	sesame_client_error err;
	char *hal = login_ok(c, "alpha", "{\"user\": \"hal\"}");
	json_t *answer = NULL, *empty = json_object();
	long status = 0;

	assert_int_equal(sesame_client_call(c, "GET", "/api/client/v2.0/auth/profile", NULL, &status, &answer, &err),
			 SESAME_CLIENT_OK);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(answer, "user_id")), hal);
	json_decref(answer);
	assert_int_equal(sesame_client_call(c, "POST", "/api/sesame/v1/nothing", empty, &status, &answer, &err),
			 SESAME_CLIENT_REFUSED);
	assert_int_equal(err.http_status, 404);
	assert_string_equal(err.code, "NotFound");
	assert_int_equal(sesame_client_call(c, "TRACE", "/x", NULL, NULL, NULL, &err), SESAME_CLIENT_USAGE);
	assert_int_equal(sesame_client_call(c, "GET", "https://elsewhere.example/x", NULL, NULL, NULL, &err),
			 SESAME_CLIENT_USAGE);
	assert_int_equal(sesame_client_call(c, "GET", "/x\r\nX-Injected: 1", NULL, NULL, NULL, &err),
			 SESAME_CLIENT_USAGE);
	json_decref(empty);
	free(hal);
	sesame_client_close(c);
}

struct worker {
	sesame_client *c;
	const char *id;
	int failures;
};

static void *profiles(void *arg)
{
	struct worker *w = arg;
	sesame_client_error err;
	json_t *p;
	int i;

	for (i = 0; i < 10; i++) {
		if (sesame_client_profile(w->c, &p, &err) != SESAME_CLIENT_OK ||
		    strcmp(json_string_value(json_object_get(p, "user_id")), w->id) != 0)
			w->failures++;
		json_decref(p);
	}
	return NULL;
}

/* One client, four threads, after expiry (so the refresh races too). */
static void test_threads(void **state)
{
	sesame_client *c = client_new("threads.json");
	char *ivy = login_ok(c, "alpha", "{\"user\": \"ivy\"}");
	struct worker w[4];
	pthread_t t[4];
	long ok = refreshes(d, "success");
	size_t i;

	clock_advance(d, 1900);
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){c, ivy, 0};
		assert_int_equal(pthread_create(&t[i], NULL, profiles, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	/* Calls on one client run one at a time: one refresh served them all. */
	assert_int_equal(refreshes(d, "success"), ok + 1);
	free(ivy);
	sesame_client_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_three_users),
	    cmocka_unit_test(test_link_and_delete),
	    cmocka_unit_test(test_profile_and_custom_data),
	    cmocka_unit_test(test_expired_access_token_refreshed_once),
	    cmocka_unit_test(test_revoked_session_logged_out),
	    cmocka_unit_test(test_api_keys),
	    cmocka_unit_test(test_email_password_flows),
	    cmocka_unit_test(test_device_id),
	    cmocka_unit_test(test_call),
	    cmocka_unit_test(test_threads),
	};
	int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);

	return failed || daemon_exit_failures ? 1 : 0;
}
