/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-link-sesamed.c — linking, logout and sessions through
 * sesamed over HTTP, as the App Services SDKs rely on them: "try
 * anonymously, then sign up" with email/password, the linking refusals
 * with the hosted service's texts, the link-conflict answer that ends
 * realm-web's endless refresh-and-retry, links that open no session, and
 * logout of a session that has already ended.  The real anon-user and
 * local-userpass plugins run beside the fixture-good plugin; the test also
 * opens the daemon's configuration with libsesame to count sessions and
 * read token claims.  Every wait is bounded; nothing asserts a duration.
 */
#include "config.h"

#include <sesame/sesame.h>

#include "harness.h"

#define CLIENT "/api/client/v2.0"
#define USERPASS CLIENT "/app/test-app/auth/providers/local-userpass/"
#define CONFLICT "a user already exists with the specified provider"
#define NO_TOKEN "invalid session: failed to find refresh token"

static const char *const plugins[] = {"anon-user", "local-userpass", NULL};

static int setup(void **state)
{
	struct daemon *d = daemon_new("link", "\"admin_key\": \"" ADMIN_KEY "\"", plugins);
	char *box, *sender = install_sender(d, &box), text[2048];

	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"], "
		 "\"reset_command\": [\"%s\", \"%s\"], \"scrypt\": {\"log2_n\": 10}}}",
		 sender, box, sender, box);
	provider(d, "local-userpass", text);
	free(sender);
	free(box);
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	daemon_start(d);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	return daemon_finish(*state);
}

static void admin_put(const struct daemon *d, const char *path, struct http *r)
{
	struct req q = {"PUT", path, {"Authorization: Bearer " ADMIN_KEY, NULL}, NULL, false, NULL};

	http(d, &q, r);
}

/* The error body's "error" is exactly `text`. */
static void assert_error_text(const struct http *r, long status, const char *code, const char *text)
{
	json_t *v;

	assert_error(r, status, code, text);
	v = json_body(r);
	assert_string_equal(json_string_value(json_object_get(v, "error")), text);
	json_decref(v);
}

/* Register `email` and confirm it with the token the mailer got. */
static void register_confirmed(const struct daemon *d, const char *email, const char *password)
{
	char body[512], *confirm;
	struct http r;
	json_t *m;

	snprintf(body, sizeof(body), "{\"email\": \"%s\", \"password\": \"%s\"}", email, password);
	post(d, USERPASS "register", body, &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	m = last_mail(d);
	assert_string_equal(json_string_value(json_object_get(m, "email")), email);
	json_object_del(m, "email");
	confirm = json_dumps(m, 0);
	json_decref(m);
	post(d, USERPASS "confirm", confirm, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(confirm);
}

static json_t *login_ok(const struct daemon *d, const char *path, const char *body, const char *bearer)
{
	struct http r;
	json_t *s = client_login(d, path, body, bearer, &r);

	if (!s)
		fail_msg("%s %s: %ld %s", path, body, r.status, r.body ? r.body : "");
	http_free(&r);
	return s;
}

static size_t identities(const struct daemon *d, const char *access)
{
	struct http r;
	json_t *p;
	size_t n;

	bearer_call(d, "GET", CLIENT "/auth/profile", access, &r);
	assert_int_equal(r.status, 200);
	p = json_body(&r);
	http_free(&r);
	n = json_array_size(json_object_get(p, "identities"));
	json_decref(p);
	return n;
}

/* The daemon's configuration opened in this process: the same store and
 * keys. */
static sesame_ctx *open_ctx(const struct daemon *d)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	assert_non_null(ctx);
	sesame_set_logger(ctx, NULL, NULL, SESAME_LOG_ERR);
	if (sesame_configure(ctx, d->config, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	return ctx;
}

static uint64_t session_count(const struct daemon *d)
{
	sesame_ctx *ctx = open_ctx(d);
	uint64_t n = 0;
	sesame_error err;

	assert_int_equal(sesame_active_sessions(ctx, &n, &err), SESAME_OK);
	sesame_free(ctx);
	return n;
}

/* The "sid" of an access token whose session is live, malloc'd. */
static char *live_sid(const struct daemon *d, const char *access)
{
	sesame_ctx *ctx = open_ctx(d);
	json_t *claims = NULL;
	sesame_error err;
	char *sid;

	if (sesame_access_token_verify(ctx, access, SESAME_VERIFY_SESSION, &claims, &err) != SESAME_OK)
		fail_msg("access token: %s", err.text);
	sid = strdup(str(claims, "sid"));
	json_decref(claims);
	sesame_free(ctx);
	return sid;
}

/* The standard flow of every SDK's docs: log in anonymously, register,
 * confirm, link the email/password credential with the anonymous user's
 * access token.  The user is then an ordinary one: logging out its last
 * session keeps it, and email/password logins return it. */
static void test_try_anonymously_then_sign_up(void **state)
{
	struct daemon *d = *state;
	json_t *a = login_ok(d, LOGIN("anon-user"), "{}", NULL), *l, *s;
	struct http r;

	register_confirmed(d, "ann@example.org", "ann-password");
	l = login_ok(d, LOGIN("local-userpass") "?link=true",
		     "{\"username\": \"ann@example.org\", \"password\": \"ann-password\"}", str(a, "access_token"));
	assert_string_equal(str(l, "user_id"), str(a, "user_id"));
	assert_int_equal(identities(d, str(l, "access_token")), 2);
	bearer_call(d, "DELETE", CLIENT "/auth/session", str(a, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	s = login_ok(d, LOGIN("local-userpass"), "{\"username\": \"ann@example.org\", \"password\": \"ann-password\"}",
		     NULL);
	assert_string_equal(str(s, "user_id"), str(a, "user_id"));
	assert_int_equal(identities(d, str(s, "access_token")), 2);
	json_decref(s);
	json_decref(l);
	json_decref(a);
}

/* A second email/password identity, and an anonymous one, are refused with
 * the hosted service's texts (400: the hosted 500 for the anonymous one
 * blames the server for a client's mistake); nothing is linked. */
static void test_linking_refusals(void **state)
{
	struct daemon *d = *state;
	json_t *a = login_ok(d, LOGIN("anon-user"), "{}", NULL), *l;
	struct http r;

	register_confirmed(d, "bea@example.org", "bea-password");
	register_confirmed(d, "bea2@example.org", "bea-password");
	l = login_ok(d, LOGIN("local-userpass") "?link=true",
		     "{\"username\": \"bea@example.org\", \"password\": \"bea-password\"}", str(a, "access_token"));
	assert_null(client_login(d, LOGIN("local-userpass") "?link=true",
				 "{\"username\": \"bea2@example.org\", \"password\": \"bea-password\"}",
				 str(a, "access_token"), &r));
	assert_error_text(&r, 400, "BadRequest",
			  "linking a local-userpass identity is not allowed when one is already linked");
	http_free(&r);
	assert_null(client_login(d, LOGIN("anon-user") "?link=true", "{}", str(a, "access_token"), &r));
	assert_error_text(&r, 400, "BadRequest", "linking an anonymous identity is not allowed");
	http_free(&r);
	assert_int_equal(identities(d, str(a, "access_token")), 2);
	json_decref(l);
	json_decref(a);
}

/* An identity another user holds: the first attempt and its one retry (a
 * native SDK's) get 401 InvalidSession with the exact text; a further
 * identical attempt in the window gets 409, which realm-web does not retry,
 * even after the refreshes realm-web makes in between.  Another identity
 * or another session starts over.  Nothing is ever linked. */
static void test_link_conflict_ends_retry_storms(void **state)
{
	struct daemon *d = *state;
	json_t *owner = login_ok(d, LOGIN("alpha"), "{\"user\": \"held\"}", NULL);
	json_t *owner2 = login_ok(d, LOGIN("alpha"), "{\"user\": \"held-too\"}", NULL);
	json_t *me = login_ok(d, LOGIN("alpha"), "{\"user\": \"storm\"}", NULL), *me2, *fresh;
	char *access = strdup(str(me, "access_token"));
	struct http r;
	int i;

	for (i = 0; i < 2; i++) {
		assert_null(client_login(d, LOGIN("alpha") "?link=true", "{\"user\": \"held\"}", access, &r));
		assert_error_text(&r, 401, "InvalidSession", CONFLICT);
		http_free(&r);
		/* realm-web refreshes before each retry: same session, new token. */
		bearer_call(d, "POST", CLIENT "/auth/session", str(me, "refresh_token"), &r);
		assert_int_equal(r.status, 201);
		fresh = json_body(&r);
		http_free(&r);
		free(access);
		access = strdup(str(fresh, "access_token"));
		json_decref(fresh);
	}
	for (i = 0; i < 3; i++) {
		assert_null(client_login(d, LOGIN("alpha") "?link=true", "{\"user\": \"held\"}", access, &r));
		assert_error_text(&r, 409, "AccountNameInUse", CONFLICT);
		http_free(&r);
	}
	/* Another identity, held by another user: a fresh count. */
	assert_null(client_login(d, LOGIN("alpha") "?link=true", "{\"user\": \"held-too\"}", access, &r));
	assert_error_text(&r, 401, "InvalidSession", CONFLICT);
	http_free(&r);
	/* The same identity from another session of the same user. */
	me2 = login_ok(d, LOGIN("alpha"), "{\"user\": \"storm\"}", NULL);
	assert_null(client_login(d, LOGIN("alpha") "?link=true", "{\"user\": \"held\"}", str(me2, "access_token"), &r));
	assert_error_text(&r, 401, "InvalidSession", CONFLICT);
	http_free(&r);
	assert_int_equal(identities(d, access), 1);
	assert_int_equal(identities(d, str(owner, "access_token")), 1);
	free(access);
	json_decref(me2);
	json_decref(me);
	json_decref(owner2);
	json_decref(owner);
}

/* A link answers a fresh access token of the caller's own session and no
 * refresh token: the number of sessions does not grow with links, and the
 * token works and carries the caller's sid. */
static void test_links_open_no_session(void **state)
{
	struct daemon *d = *state;
	json_t *me = login_ok(d, LOGIN("alpha"), "{\"user\": \"collector\"}", NULL), *l;
	char *sid = live_sid(d, str(me, "access_token")), *got, body[64];
	uint64_t before = session_count(d);
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "{\"user\": \"collected-%d\"}", i);
		l = login_ok(d, LOGIN("alpha") "?link=true", body, str(me, "access_token"));
		assert_string_equal(str(l, "user_id"), str(me, "user_id"));
		assert_string_equal(str(l, "device_id"), str(me, "device_id"));
		assert_true(json_is_null(json_object_get(l, "refresh_token")));
		got = live_sid(d, str(l, "access_token"));
		assert_string_equal(got, sid);
		free(got);
		assert_int_equal(identities(d, str(l, "access_token")), (size_t)i + 2);
		json_decref(l);
	}
	assert_int_equal(session_count(d), before);
	free(sid);
	json_decref(me);
}

/* Logout with the refresh token of a session that ended (self-delete,
 * admin logout, disable, password reset, a logout before) answers what
 * App Services answers, which realm-web's logOut() ignores; so does a
 * refresh. */
static void test_logout_of_ended_sessions(void **state)
{
	struct daemon *d = *state;
	json_t *gone = login_ok(d, LOGIN("alpha"), "{\"user\": \"gone\"}", NULL);
	json_t *revoked = login_ok(d, LOGIN("alpha"), "{\"user\": \"revoked\"}", NULL);
	json_t *off = login_ok(d, LOGIN("alpha"), "{\"user\": \"off\"}", NULL);
	json_t *twice = login_ok(d, LOGIN("alpha"), "{\"user\": \"twice\"}", NULL), *reset;
	const char *ended[5];
	char path[256], cmd[1100], *out = NULL;
	struct http r;
	json_t *m;
	size_t i;

	bearer_call(d, "DELETE", CLIENT "/auth/delete", str(gone, "access_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/logout", str(revoked, "user_id"));
	admin_put(d, path, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/disable", str(off, "user_id"));
	admin_put(d, path, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(d, "DELETE", CLIENT "/auth/session", str(twice, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	register_confirmed(d, "cid@example.org", "cid-password");
	reset = login_ok(d, LOGIN("local-userpass"),
			 "{\"username\": \"cid@example.org\", \"password\": \"cid-password\"}", NULL);
	post(d, USERPASS "reset/send", "{\"email\": \"cid@example.org\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	snprintf(cmd, sizeof(cmd), "tail -n 1 '%s/box/outbox'", d->dir);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	m = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(m);
	json_object_del(m, "email");
	json_object_set_new(m, "password", json_string("cid-password-2"));
	out = json_dumps(m, 0);
	json_decref(m);
	post(d, USERPASS "reset", out, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(out);

	ended[0] = str(gone, "refresh_token");
	ended[1] = str(revoked, "refresh_token");
	ended[2] = str(off, "refresh_token");
	ended[3] = str(twice, "refresh_token");
	ended[4] = str(reset, "refresh_token");
	for (i = 0; i < ARRAY_SIZE(ended); i++) {
		bearer_call(d, "DELETE", CLIENT "/auth/session", ended[i], &r);
		assert_error_text(&r, 401, "InvalidSession", NO_TOKEN);
		http_free(&r);
		bearer_call(d, "POST", CLIENT "/auth/session", ended[i], &r);
		assert_error_text(&r, 401, "InvalidSession", NO_TOKEN);
		http_free(&r);
	}
	/* A token that is not a refresh token is not "not found". */
	bearer_call(d, "DELETE", CLIENT "/auth/session", str(reset, "access_token"), &r);
	assert_int_equal(r.status, 401);
	assert_null(strstr(r.body, "failed to find refresh token"));
	http_free(&r);
	json_decref(reset);
	json_decref(twice);
	json_decref(off);
	json_decref(revoked);
	json_decref(gone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_try_anonymously_then_sign_up),    cmocka_unit_test(test_linking_refusals),
	    cmocka_unit_test(test_link_conflict_ends_retry_storms), cmocka_unit_test(test_links_open_no_session),
	    cmocka_unit_test(test_logout_of_ended_sessions),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests_name("linking and sessions", tests, setup, teardown);
	curl_global_cleanup();
	return failed || daemon_exit_failures ? 1 : 0;
}
