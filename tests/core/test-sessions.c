/* SPDX-License-Identifier: MIT */
/* tests/core/test-sessions.c — core/sessions.c and core/api.c: logins,
 * access and refresh tokens, callers and what they may do, deletion. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "testutil.h"

struct env {
	char *dir, *main, *drop, *deleted_log;
	sesame_ctx *ctx;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096];

	e->dir = tu_tmpdir("sessions");
	e->drop = tu_mkdir(e->dir, "providers.d", 0755);
	e->deleted_log = tu_path(e->dir, "deleted.log");
	e->main =
	    tu_main_config_at(e->dir, tu_env("SESAME_TEST_FIXTURES"),
			      "\"app_id\": \"test-app\", \"sessions\": {\"access_ttl\": 600, \"refresh_ttl\": 3600}");
	snprintf(text, sizeof(text), "{\"type\": \"fixture-good\", \"config\": {\"deleted_log\": \"%s\"}}",
		 e->deleted_log);
	free(tu_write(e->drop, "fix.json", text, 0644));
	free(tu_write(e->drop, "other.json", "{\"type\": \"fixture-good\"}", 0644));
	free(tu_write(e->drop, "anon-user.json", "{\"type\": \"anon-user\"}", 0644));
	free(tu_write(e->drop, "v11.json", "{\"type\": \"fixture-v11\"}", 0644));
	e->ctx = tu_context(e->main);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->drop);
	free(e->deleted_log);
	free(e);
	return 0;
}

/* Log in `user` with provider `name`; returns the login answer. */
static json_t *login(struct env *e, const char *name, const char *user)
{
	json_t *cred = user ? json_pack("{s:s}", "user", user) : json_object(), *session = NULL;
	sesame_error err;

	if (sesame_login(e->ctx, name, cred, NULL, &session, &err) != SESAME_OK)
		fail_msg("login %s/%s: %s", name, user ? user : "", err.text);
	json_decref(cred);
	return session;
}

static size_t count_users(struct env *e)
{
	sesame_caller *sys = sesame_caller_system(e->ctx);
	json_t *users = NULL;
	sesame_error err;
	size_t n;

	assert_int_equal(sesame_users_list(sys, NULL, 1000, &users, &err), SESAME_OK);
	n = json_array_size(users);
	json_decref(users);
	sesame_caller_free(sys);
	return n;
}

static void test_same_identity_same_user_new_session(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "alice"), *b = login(e, "fix", "alice"), *c = login(e, "fix", "bob");

	assert_string_equal(tu_member(a, "user_id"), tu_member(b, "user_id"));
	assert_string_not_equal(tu_member(a, "refresh_token"), tu_member(b, "refresh_token"));
	assert_string_not_equal(tu_member(a, "user_id"), tu_member(c, "user_id"));
	/* ids and device ids carry randomness: 24 lowercase hex digits. */
	assert_int_equal(strlen(tu_member(a, "user_id")), 24);
	assert_int_equal(strlen(tu_member(a, "device_id")), 24);
	assert_string_not_equal(tu_member(a, "device_id"), tu_member(b, "device_id"));
	assert_int_equal(count_users(e), 2);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* The one rule for device ids, whatever the front: an ObjectId is kept,
 * anything else gets a new random one. */
static void test_device_id_kept_or_made(void **state)
{
	static const char *const replaced[] = {
	    "000000000000000000000000", /* the SDKs' "none" */
	    "",
	    "0123456789ABCDEF01234567",	 /* not lowercase */
	    "0123456789abcdef0123456",	 /* 23 digits */
	    "0123456789abcdef012345678", /* 25 digits */
	    "0123456789abcdef0123456g",
	    "a library's own name for its device, up to sixty-four characters",
	};
	struct env *e = *state;
	json_t *cred = json_pack("{s:s}", "user", "dev"), *s = NULL, *claims = NULL;
	unsigned char fresh[12] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7};
	char out[25], first[25];
	sesame_error err;
	size_t i;

	assert_int_equal(sesame_login(e->ctx, "fix", cred, "0123456789abcdef01234567", &s, &err), SESAME_OK);
	assert_string_equal(tu_member(s, "device_id"), "0123456789abcdef01234567");
	json_decref(s);
	for (i = 0; i < ARRAY_SIZE(replaced); i++) {
		assert_int_equal(sesame_login(e->ctx, "fix", cred, replaced[i], &s, &err), SESAME_OK);
		assert_int_equal(strlen(tu_member(s, "device_id")), 24);
		assert_string_not_equal(tu_member(s, "device_id"), replaced[i]);
		assert_int_equal(strspn(tu_member(s, "device_id"), "0123456789abcdef"), 24);
		/* The access token carries the same device. */
		assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(s, "access_token"), 0, &claims, &err),
				 SESAME_OK);
		assert_string_equal(tu_member(claims, "baas_device_id"), tu_member(s, "device_id"));
		json_decref(claims);
		json_decref(s);
	}
	/* Two logins without a device get two devices. */
	assert_int_equal(sesame_login(e->ctx, "fix", cred, NULL, &s, &err), SESAME_OK);
	snprintf(first, sizeof(first), "%s", tu_member(s, "device_id"));
	json_decref(s);
	assert_int_equal(sesame_login(e->ctx, "fix", cred, NULL, &s, &err), SESAME_OK);
	assert_string_not_equal(tu_member(s, "device_id"), first);
	json_decref(s);
	json_decref(cred);

	sessions_device_id("65f0c0ffee0123456789abcd", fresh, out);
	assert_string_equal(out, "65f0c0ffee0123456789abcd");
	sessions_device_id(NULL, fresh, out);
	assert_string_equal(out, "deadbeef0001020304050607");
	sessions_device_id("000000000000000000000000", fresh, out);
	assert_string_equal(out, "deadbeef0001020304050607");
}

static void test_access_token_claims(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "alice"), *claims = NULL;
	sesame_error err;

	assert_int_equal(
	    sesame_access_token_verify(e->ctx, tu_member(s, "access_token"), SESAME_VERIFY_SESSION, &claims, &err),
	    SESAME_OK);
	assert_string_equal(tu_member(claims, "sub"), tu_member(s, "user_id"));
	assert_string_equal(tu_member(claims, "aud"), "test-app");
	assert_string_equal(tu_member(claims, "typ"), "access");
	assert_string_equal(tu_member(claims, "baas_device_id"), tu_member(s, "device_id"));
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")) -
			     json_integer_value(json_object_get(claims, "iat")),
			 600);
	assert_null(json_object_get(claims, "user_data"));
	json_decref(claims);
	json_decref(s);
}

/*
 * The payload of JWT `jwt` is jansson's compact text of its own parse,
 * byte for byte, with the members `order` (n of them) in that order: what
 * core/sessions.c writes as text is what jansson wrote.  Returns the parse.
 */
static json_t *payload_is_jansson_text(const char *jwt, const char *const *order, size_t n)
{
	const char *p1 = strchr(jwt, '.') + 1, *p2 = strrchr(jwt, '.');
	size_t len = 0, i = 0;
	unsigned char *raw = b64url_decode(p1, (size_t)(p2 - p1), &len);
	json_t *c = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL), *v;
	char *again = json_dumps(c, JSON_COMPACT);
	const char *key;

	assert_non_null(c);
	assert_non_null(again);
	assert_int_equal(strlen(again), len);
	assert_memory_equal(again, raw, len);
	json_object_foreach (c, key, v) {
		assert_true(i < n);
		assert_string_equal(key, order[i++]);
	}
	assert_int_equal(i, n);
	free(again);
	free(raw);
	return c;
}

static const char *const access_members[] = {"sub", "aud", "iss", "iat", "exp", "typ", "sid", "baas_device_id",
					     "user_data"};

/*
 * A refresh token's payload (written member by member by core/sessions.c,
 * a string that needs escapes in jansson's text of it) is the compact JSON
 * jansson writes, of the members realm-core and sesame read, in their
 * order.
 */
static void check_refresh_payload(sesame_ctx *ctx, const json_t *s, const char *iss)
{
	static const char *const order[] = {"sub", "aud", "iss", "iat", "exp", "typ", "sid", "jti"};
	const char *rt = tu_member(s, "refresh_token"), *p1 = strchr(rt, '.') + 1, *p2 = strrchr(rt, '.');
	size_t len = 0, i = 0;
	unsigned char *raw = b64url_decode(p1, (size_t)(p2 - p1), &len);
	json_t *c = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL), *access = NULL, *out = NULL, *v;
	char *again = json_dumps(c, JSON_COMPACT);
	const char *key;
	sesame_error err;

	assert_non_null(c);
	assert_int_equal(strlen(again), len);
	assert_memory_equal(again, raw, len);
	json_object_foreach (c, key, v) {
		assert_true(i < 8);
		assert_string_equal(key, order[i++]);
	}
	assert_int_equal(i, 8);
	assert_int_equal(sesame_access_token_verify(ctx, tu_member(s, "access_token"), 0, &access, &err), SESAME_OK);
	assert_string_equal(tu_member(c, "sub"), tu_member(s, "user_id"));
	assert_string_equal(tu_member(c, "aud"), "test-app");
	assert_string_equal(tu_member(c, "iss"), iss);
	assert_string_equal(tu_member(c, "typ"), "refresh");
	assert_string_equal(tu_member(c, "sid"), tu_member(access, "sid"));
	assert_int_equal(strlen(tu_member(c, "jti")), 43);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")) - json_integer_value(json_object_get(c, "iat")),
			 3600);
	assert_int_equal(sesame_session_refresh(ctx, rt, &out, &err), SESAME_OK);
	json_decref(out);
	json_decref(access);
	free(again);
	json_decref(c);
	free(raw);
	/* The access token's payload, likewise (no custom data: 8 members). */
	c = payload_is_jansson_text(tu_member(s, "access_token"), access_members, 8);
	assert_string_equal(tu_member(c, "iss"), iss);
	assert_string_equal(tu_member(c, "typ"), "access");
	assert_string_equal(tu_member(c, "baas_device_id"), tu_member(s, "device_id"));
	json_decref(c);
}

static void test_refresh_token_payload(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "paula");
	char *dir = tu_tmpdir("sessions-iss"), *drop = tu_mkdir(dir, "providers.d", 0755), *main_file;
	sesame_ctx *ctx;
	sesame_error err;

	check_refresh_payload(e->ctx, s, "http://127.0.0.1:9090");
	json_decref(s);
	s = NULL;

	/* A public URL with a quote and a non-ASCII letter: jansson escapes it. */
	main_file =
	    tu_main_config_at(dir, tu_env("SESAME_TEST_FIXTURES"),
			      "\"app_id\": \"test-app\", \"public_url\": \"https://\\u00e9x.example/\\\"q\\\"\","
			      " \"sessions\": {\"access_ttl\": 600, \"refresh_ttl\": 3600}");
	free(tu_write(drop, "fix.json", "{\"type\": \"fixture-good\"}", 0644));
	ctx = tu_context(main_file);
	{
		json_t *cred = json_pack("{s:s}", "user", "quentin");

		assert_int_equal(sesame_login(ctx, "fix", cred, NULL, &s, &err), SESAME_OK);
		json_decref(cred);
	}
	check_refresh_payload(ctx, s, "https://\xc3\xa9x.example/\"q\"");
	json_decref(s);
	sesame_free(ctx);
	free(main_file);
	free(drop);
	tu_rmrf(dir);
	free(dir);
}

static void test_custom_data_reaches_token_after_refresh(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "carol"), *data = json_pack("{s:s}", "plan", "gold"), *r = NULL, *claims = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	sesame_error err;

	assert_int_equal(sesame_user_custom_data_set(sys, tu_member(s, "user_id"), data, &err), SESAME_OK);
	assert_int_equal(sesame_session_refresh(e->ctx, tu_member(s, "refresh_token"), &r, &err), SESAME_OK);
	assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(r, "access_token"), 0, &claims, &err), SESAME_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(claims, "user_data"), "plan")), "gold");
	json_decref(claims);
	json_decref(r);
	json_decref(data);
	/* Custom data that needs escapes, nested: the payload is still
	 * jansson's text, user_data last. */
	data = json_pack("{s:s, s:s, s:{s:[i, b, n]}}", "plan", "gold", "note", "a\"b \xc3\xa9\\", "n", "x", 1, 1);
	assert_int_equal(sesame_user_custom_data_set(sys, tu_member(s, "user_id"), data, &err), SESAME_OK);
	assert_int_equal(sesame_session_refresh(e->ctx, tu_member(s, "refresh_token"), &r, &err), SESAME_OK);
	claims = payload_is_jansson_text(tu_member(r, "access_token"), access_members, 9);
	assert_true(json_equal(json_object_get(claims, "user_data"), data));
	json_decref(claims);
	json_decref(r);
	json_decref(data);
	data = json_pack("{s:s}", "plan", "gold");
	assert_int_equal(sesame_user_custom_data_set(sys, tu_member(s, "user_id"), data, &err), SESAME_OK);
	json_decref(data);
	/* Too large custom data is refused, and nothing changes. */
	data = json_object();
	{
		char big[17 * 1024];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		json_object_set_new(data, "blob", json_string(big));
	}
	tu_expect_error(sesame_user_custom_data_set(sys, tu_member(s, "user_id"), data, &err), &err, SESAME_MALFORMED,
			"size");
	json_decref(data);
	assert_int_equal(sesame_user_custom_data_get(sys, tu_member(s, "user_id"), &data, &err), SESAME_OK);
	assert_string_equal(tu_member(data, "plan"), "gold");
	json_decref(data);
	sesame_caller_free(sys);
	json_decref(s);
}

static void test_wrong_token_kinds_refused(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "dave"), *out = NULL;
	sesame_error err;

	/* A refresh token is no access token, and the reverse. */
	tu_expect_error(sesame_access_token_verify(e->ctx, tu_member(s, "refresh_token"), 0, &out, &err), &err,
			SESAME_REJECTED, "typ");
	tu_expect_error(sesame_session_refresh(e->ctx, tu_member(s, "access_token"), &out, &err), &err, SESAME_REJECTED,
			"typ");
	assert_null(out);
	tu_expect_error(sesame_access_token_verify(e->ctx, "not.a.token", 0, &out, &err), &err, SESAME_MALFORMED,
			"malformed");
	tu_expect_error(sesame_access_token_verify(e->ctx, "", 0, &out, &err), &err, SESAME_REJECTED, "token");
	json_decref(s);
}

static void test_tampered_tokens_refused(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "erin"), *out = NULL;
	char *tok = strdup(tu_member(s, "access_token")), *dot = strrchr(tok, '.');
	sesame_error err;

	/* A changed signature byte. */
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	tu_expect_error(sesame_access_token_verify(e->ctx, tok, 0, &out, &err), &err, SESAME_REJECTED, "sig");
	free(tok);
	/* Another user's id in the payload, signature kept. */
	{
		json_t *other = login(e, "fix", "frank");
		const char *a = tu_member(s, "access_token"), *b = tu_member(other, "access_token");
		const char *a1 = strchr(a, '.'), *a2 = strrchr(a, '.'), *b1 = strchr(b, '.'), *b2 = strrchr(b, '.');
		char forged[4096];

		snprintf(forged, sizeof(forged), "%.*s%.*s%s", (int)(a1 - a), a, (int)(b2 - b1), b1, a2);
		tu_expect_error(sesame_access_token_verify(e->ctx, forged, 0, &out, &err), &err, SESAME_REJECTED,
				"sig");
		json_decref(other);
	}
	json_decref(s);
}

static void test_expiry(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "gina"), *out = NULL;
	sesame_error err;

	/* Within the 5 s leeway sesame allows its own tokens, then past it. */
	e->ctx->clock_offset = 600 + 3;
	assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(s, "access_token"), 0, &out, &err), SESAME_OK);
	json_decref(out);
	out = NULL;
	e->ctx->clock_offset = 600 + 7;
	tu_expect_error(sesame_access_token_verify(e->ctx, tu_member(s, "access_token"), 0, &out, &err), &err,
			SESAME_REJECTED, "claim");
	/* The refresh token still works and gives a fresh access token. */
	assert_int_equal(sesame_session_refresh(e->ctx, tu_member(s, "refresh_token"), &out, &err), SESAME_OK);
	json_decref(out);
	out = NULL;
	/* Past the refresh token's lifetime: the session is over, and it says
	 * so as App Services does, for a refresh and for a logout (which
	 * realm-web then treats as done). */
	e->ctx->clock_offset = 3600 + 7;
	tu_expect_error(sesame_session_refresh(e->ctx, tu_member(s, "refresh_token"), &out, &err), &err,
			SESAME_REJECTED, "session");
	assert_string_equal(err.text, "failed to find refresh token");
	tu_expect_error(sesame_session_logout(e->ctx, tu_member(s, "refresh_token"), &err), &err, SESAME_REJECTED,
			"session");
	assert_string_equal(err.text, "failed to find refresh token");
	e->ctx->clock_offset = 0;
	json_decref(s);
}

/* sesame_clock_advance() moves the clock in test mode only. */
static void test_clock_advance(void **state)
{
	struct env *e = *state;
	char text[4096], *main_file;
	sesame_ctx *ctx = sesame_new();
	json_t *s, *out = NULL, *cred = json_pack("{s:s}", "user", "ivan");
	sesame_error err;

	tu_expect_error(sesame_clock_advance(e->ctx, 3600, &err), &err, SESAME_USAGE, "test-mode");
	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], "
		 "\"state_dir\": \"%s/state\", \"app_id\": \"test-app\", \"test_mode\": true, "
		 "\"sessions\": {\"access_ttl\": 600, \"refresh_ttl\": 3600}}",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), e->drop, e->dir);
	main_file = tu_write(e->dir, "test-mode.json", text, 0644);
	sesame_set_logger(ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, main_file, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	assert_int_equal(sesame_login(ctx, "fix", cred, NULL, &s, &err), SESAME_OK);
	assert_int_equal(sesame_clock_advance(ctx, 600, &err), SESAME_OK);
	assert_int_equal(sesame_access_token_verify(ctx, tu_member(s, "access_token"), 0, &out, &err), SESAME_OK);
	json_decref(out);
	out = NULL;
	assert_int_equal(sesame_clock_advance(ctx, 6, &err), SESAME_OK);
	tu_expect_error(sesame_access_token_verify(ctx, tu_member(s, "access_token"), 0, &out, &err), &err,
			SESAME_REJECTED, "claim");
	tu_expect_error(sesame_clock_advance(ctx, 200LL * 366 * 86400, &err), &err, SESAME_USAGE, "usage");
	json_decref(s);
	json_decref(cred);
	sesame_free(ctx);
	free(main_file);
}

static void test_logout_and_revoke(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "hank"), *b = login(e, "fix", "hank"), *out = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	sesame_error err;

	assert_int_equal(sesame_session_logout(e->ctx, tu_member(a, "refresh_token"), &err), SESAME_OK);
	tu_expect_error(sesame_session_refresh(e->ctx, tu_member(a, "refresh_token"), &out, &err), &err,
			SESAME_REJECTED, "session");
	tu_expect_error(
	    sesame_access_token_verify(e->ctx, tu_member(a, "access_token"), SESAME_VERIFY_SESSION, &out, &err), &err,
	    SESAME_REJECTED, "session");
	/* Without the session check an access token lives out its 10 minutes. */
	assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(a, "access_token"), 0, &out, &err), SESAME_OK);
	json_decref(out);
	out = NULL;
	/* The other session is untouched by that logout... */
	assert_int_equal(sesame_session_refresh(e->ctx, tu_member(b, "refresh_token"), &out, &err), SESAME_OK);
	json_decref(out);
	out = NULL;
	/* ...until every session of the user is revoked. */
	assert_int_equal(sesame_user_revoke_sessions(sys, tu_member(b, "user_id"), &err), SESAME_OK);
	tu_expect_error(sesame_session_refresh(e->ctx, tu_member(b, "refresh_token"), &out, &err), &err,
			SESAME_REJECTED, "session");
	assert_string_equal(err.text, "failed to find refresh token");
	/* Logging out twice is refused with the App Services text: the session
	 * is gone. */
	tu_expect_error(sesame_session_logout(e->ctx, tu_member(a, "refresh_token"), &err), &err, SESAME_REJECTED,
			"session");
	assert_string_equal(err.text, "failed to find refresh token");
	/* An access token is no refresh token, whatever its session's state. */
	tu_expect_error(sesame_session_logout(e->ctx, tu_member(b, "access_token"), &err), &err, SESAME_REJECTED,
			"typ");
	sesame_caller_free(sys);
	json_decref(a);
	json_decref(b);
}

static void test_disabled_user(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "ivan"), *out = NULL, *cred = json_pack("{s:s}", "user", "ivan");
	sesame_caller *sys = sesame_caller_system(e->ctx);
	sesame_error err;
	size_t users;

	assert_int_equal(sesame_user_set_disabled(sys, tu_member(s, "user_id"), 1, &err), SESAME_OK);
	users = count_users(e);
	tu_expect_error(sesame_login(e->ctx, "fix", cred, NULL, &out, &err), &err, SESAME_REJECTED, "disabled");
	assert_null(out);
	assert_int_equal(count_users(e), users);
	/* Disabling ended the sessions. */
	tu_expect_error(sesame_session_refresh(e->ctx, tu_member(s, "refresh_token"), &out, &err), &err,
			SESAME_REJECTED, "session");
	assert_int_equal(sesame_user_set_disabled(sys, tu_member(s, "user_id"), 0, &err), SESAME_OK);
	assert_int_equal(sesame_login(e->ctx, "fix", cred, NULL, &out, &err), SESAME_OK);
	assert_string_equal(tu_member(out, "user_id"), tu_member(s, "user_id"));
	json_decref(out);
	json_decref(cred);
	sesame_caller_free(sys);
	json_decref(s);
}

static void test_refused_login_writes_nothing(void **state)
{
	struct env *e = *state;
	json_t *cred = json_pack("{s:s}", "user", ""), *out = NULL;
	sesame_error err;
	size_t before = count_users(e);

	tu_expect_error(sesame_login(e->ctx, "fix", cred, NULL, &out, &err), &err, SESAME_REJECTED, "user");
	json_decref(cred);
	cred = json_pack("{s:s}", "user", "bad-identity");
	tu_expect_error(sesame_login(e->ctx, "fix", cred, NULL, &out, &err), &err, SESAME_INTERNAL, "identity");
	tu_expect_error(sesame_login(e->ctx, "nope", cred, NULL, &out, &err), &err, SESAME_NOT_FOUND, "provider");
	assert_null(out);
	assert_int_equal(count_users(e), before);
	json_decref(cred);
}

static void test_callers_only_touch_their_own_account(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "judy"), *b = login(e, "fix", "kim"), *out = NULL;
	sesame_caller *judy = NULL;
	sesame_error err;

	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(a, "access_token"), &judy, &err), SESAME_OK);
	assert_string_equal(sesame_caller_user_id(judy), tu_member(a, "user_id"));
	assert_int_equal(sesame_user_get(judy, tu_member(a, "user_id"), &out, &err), SESAME_OK);
	json_decref(out);
	tu_expect_error(sesame_user_get(judy, tu_member(b, "user_id"), &out, &err), &err, SESAME_REJECTED, "forbidden");
	tu_expect_error(sesame_user_delete(judy, tu_member(b, "user_id"), &err), &err, SESAME_REJECTED, "forbidden");
	tu_expect_error(sesame_users_list(judy, NULL, 10, &out, &err), &err, SESAME_REJECTED, "forbidden");
	tu_expect_error(sesame_user_set_disabled(judy, tu_member(a, "user_id"), 1, &err), &err, SESAME_REJECTED,
			"forbidden");
	assert_null(sesame_caller_user_id(NULL));
	sesame_caller_free(judy);
	/* A refresh token does not make a caller. */
	tu_expect_error(sesame_caller_from_access_token(e->ctx, tu_member(a, "refresh_token"), &judy, &err), &err,
			SESAME_REJECTED, "typ");
	assert_null(judy);
	json_decref(a);
	json_decref(b);
}

static void test_linking(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "leo"), *b = login(e, "other", "mia"), *cred, *user = NULL, *s = NULL;
	sesame_caller *leo = NULL;
	sesame_error err;

	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(a, "access_token"), &leo, &err), SESAME_OK);
	cred = json_pack("{s:s}", "user", "leo-elsewhere");
	assert_int_equal(sesame_link(leo, tu_member(a, "user_id"), "other", cred, &user, &err), SESAME_OK);
	assert_int_equal(json_array_size(json_object_get(user, "identities")), 2);
	json_decref(user);
	/* Logging in with the linked identity now reaches the same user. */
	assert_int_equal(sesame_login(e->ctx, "other", cred, NULL, &s, &err), SESAME_OK);
	assert_string_equal(tu_member(s, "user_id"), tu_member(a, "user_id"));
	json_decref(s);
	json_decref(cred);
	/* mia's identity belongs to another user. */
	cred = json_pack("{s:s}", "user", "mia");
	tu_expect_error(sesame_link(leo, tu_member(a, "user_id"), "other", cred, &user, &err), &err, SESAME_CONFLICT,
			"linked");
	assert_non_null(strstr(err.text, "a user already exists with the specified provider"));
	json_decref(cred);
	/* An anonymous identity is never linked into an existing user. */
	cred = json_object();
	tu_expect_error(sesame_link(leo, tu_member(a, "user_id"), "anon-user", cred, &user, &err), &err,
			SESAME_REJECTED, "link-type");
	assert_string_equal(err.text, "linking an anonymous identity is not allowed");
	json_decref(cred);
	/* A new session for the caller, for embedders that want one. */
	assert_int_equal(sesame_session_create(leo, NULL, &s, &err), SESAME_OK);
	assert_string_equal(tu_member(s, "user_id"), tu_member(a, "user_id"));
	assert_string_equal(tu_member(s, "device_id"), tu_member(a, "device_id"));
	json_decref(s);
	/* Unlinking: fine for one of two identities, refused for the last. */
	assert_int_equal(sesame_unlink(leo, tu_member(a, "user_id"), "other", "leo-elsewhere", &err), SESAME_OK);
	tu_expect_error(sesame_unlink(leo, tu_member(a, "user_id"), "fix", "leo", &err), &err, SESAME_REJECTED,
			"last-identity");
	sesame_caller_free(leo);
	json_decref(a);
	json_decref(b);
}

/* The sid claim of a token, decoded after verification. */
static char *token_sid(struct env *e, const char *access_token)
{
	json_t *claims = NULL;
	sesame_error err;
	char *sid;

	assert_int_equal(sesame_access_token_verify(e->ctx, access_token, SESAME_VERIFY_SESSION, &claims, &err),
			 SESAME_OK);
	sid = strdup(tu_member(claims, "sid"));
	json_decref(claims);
	return sid;
}

/* What a link answers: a fresh access token of the caller's own session.
 * However many links, the number of sessions stays the same. */
static void test_link_answers_the_callers_session(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "lena"), *cred, *out = NULL;
	sesame_caller *lena = NULL, *sys = sesame_caller_system(e->ctx);
	uint64_t before = 0, after = 0;
	char user[32], *sid = token_sid(e, tu_member(a, "access_token")), *got;
	sesame_error err;
	int i;

	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(a, "access_token"), &lena, &err), SESAME_OK);
	assert_int_equal(sesame_active_sessions(e->ctx, &before, &err), SESAME_OK);
	for (i = 0; i < 5; i++) {
		snprintf(user, sizeof(user), "lena-%d", i);
		cred = json_pack("{s:s}", "user", user);
		assert_int_equal(sesame_link(lena, tu_member(a, "user_id"), "other", cred, NULL, &err), SESAME_OK);
		json_decref(cred);
		assert_int_equal(sesame_session_access_token(lena, &out, &err), SESAME_OK);
		assert_string_equal(tu_member(out, "user_id"), tu_member(a, "user_id"));
		assert_string_equal(tu_member(out, "device_id"), tu_member(a, "device_id"));
		assert_null(json_object_get(out, "refresh_token"));
		got = token_sid(e, tu_member(out, "access_token"));
		assert_string_equal(got, sid);
		free(got);
		json_decref(out);
		out = NULL;
	}
	assert_int_equal(sesame_active_sessions(e->ctx, &after, &err), SESAME_OK);
	assert_int_equal(after, before);
	/* No session for the system user, none after the caller's has ended. */
	tu_expect_error(sesame_session_access_token(sys, &out, &err), &err, SESAME_USAGE, "usage");
	assert_int_equal(sesame_session_logout(e->ctx, tu_member(a, "refresh_token"), &err), SESAME_OK);
	tu_expect_error(sesame_session_access_token(lena, &out, &err), &err, SESAME_REJECTED, "session");
	assert_null(out);
	free(sid);
	sesame_caller_free(lena);
	sesame_caller_free(sys);
	json_decref(a);
}

static void test_delete_calls_hooks_and_ends_sessions(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "fail-hook"), *out = NULL;
	sesame_caller *self = NULL;
	sesame_error err;
	char *log;

	/* The user deletes itself; the provider's hook fails, the deletion stands. */
	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(a, "access_token"), &self, &err), SESAME_OK);
	assert_int_equal(sesame_user_delete(self, tu_member(a, "user_id"), &err), SESAME_OK);
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "cat '%s'", e->deleted_log);
		assert_int_equal(tu_run(cmd, &log, NULL), 0);
	}
	assert_string_equal(log, "fail-hook\n");
	free(log);
	tu_expect_error(sesame_session_refresh(e->ctx, tu_member(a, "refresh_token"), &out, &err), &err,
			SESAME_REJECTED, "session");
	tu_expect_error(sesame_user_get(self, tu_member(a, "user_id"), &out, &err), &err, SESAME_NOT_FOUND, "user");
	sesame_caller_free(self);
	json_decref(a);
}

static void test_anonymous_user_deleted_at_logout(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "anon-user", NULL), *b = login(e, "anon-user", NULL), *out = NULL;
	sesame_caller *sys = sesame_caller_system(e->ctx);
	sesame_error err;

	/* Every anonymous login is a new user. */
	assert_string_not_equal(tu_member(a, "user_id"), tu_member(b, "user_id"));
	assert_int_equal(sesame_session_logout(e->ctx, tu_member(a, "refresh_token"), &err), SESAME_OK);
	tu_expect_error(sesame_user_get(sys, tu_member(a, "user_id"), &out, &err), &err, SESAME_NOT_FOUND, "user");
	assert_int_equal(sesame_user_get(sys, tu_member(b, "user_id"), &out, &err), SESAME_OK);
	json_decref(out);
	/* A user who linked a real identity is no longer anonymous. */
	{
		sesame_caller *bc = NULL;
		json_t *cred = json_pack("{s:s}", "user", "signed-up"), *u = NULL;

		assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(b, "access_token"), &bc, &err),
				 SESAME_OK);
		assert_int_equal(sesame_link(bc, tu_member(b, "user_id"), "fix", cred, &u, &err), SESAME_OK);
		assert_int_equal(sesame_session_logout(e->ctx, tu_member(b, "refresh_token"), &err), SESAME_OK);
		assert_int_equal(sesame_user_get(sys, tu_member(b, "user_id"), &out, &err), SESAME_OK);
		json_decref(out);
		json_decref(u);
		json_decref(cred);
		sesame_caller_free(bc);
	}
	sesame_caller_free(sys);
	json_decref(a);
	json_decref(b);
}

/* Anonymous means: every identity comes from an instance that declares
 * SESAME_PROVIDER_CAP_ANONYMOUS now.  Once the anonymous instance is gone
 * from the configuration, its users are no longer deleted at logout. */
static void test_anonymous_is_a_capability_of_the_instance(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "anon-user", NULL), *out = NULL;
	char *anon = tu_path(e->drop, "anon-user.json");
	sesame_caller *sys;
	sesame_ctx *ctx;
	sesame_error err;

	assert_int_equal(unlink(anon), 0);
	ctx = tu_context(e->main);
	assert_int_equal(sesame_session_logout(ctx, tu_member(a, "refresh_token"), &err), SESAME_OK);
	sys = sesame_caller_system(ctx);
	assert_int_equal(sesame_user_get(sys, tu_member(a, "user_id"), &out, &err), SESAME_OK);
	json_decref(out);
	sesame_caller_free(sys);
	sesame_free(ctx);
	free(anon);
	json_decref(a);
}

static void test_rotation_and_jwks(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "nora"), *jwks, *rot = NULL, *out = NULL, *k;
	sesame_error err;

	jwks = sesame_jwks(e->ctx, &err);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 1);
	k = json_array_get(json_object_get(jwks, "keys"), 0);
	assert_string_equal(tu_member(k, "kty"), "EC");
	assert_string_equal(tu_member(k, "crv"), "P-256");
	assert_string_equal(tu_member(k, "alg"), "ES256");
	assert_null(json_object_get(k, "d"));
	json_decref(jwks);
	assert_int_equal(sesame_keys_rotate(e->ctx, &rot, &err), SESAME_OK);
	/* The old key still verifies what it signed... */
	assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(s, "access_token"), 0, &out, &err), SESAME_OK);
	json_decref(out);
	/* ...new tokens carry the new kid, and both keys are published. */
	assert_int_equal(sesame_session_refresh(e->ctx, tu_member(s, "refresh_token"), &out, &err), SESAME_OK);
	{
		const char *tok = tu_member(out, "access_token");
		size_t len = 0;
		unsigned char *raw = b64url_decode(tok, (size_t)(strchr(tok, '.') - tok), &len);
		json_t *header = raw ? json_loadb((const char *)raw, len, 0, NULL) : NULL;

		assert_non_null(header);
		assert_string_equal(tu_member(header, "kid"), tu_member(rot, "kid"));
		json_decref(header);
		free(raw);
	}
	jwks = sesame_jwks(e->ctx, &err);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 2);
	assert_string_equal(tu_member(json_array_get(json_object_get(jwks, "keys"), 0), "kid"), tu_member(rot, "kid"));
	json_decref(jwks);
	json_decref(out);
	json_decref(rot);
	json_decref(s);
}

/* The kid in a token's header (malloc'd). */
static char *token_kid(const char *tok)
{
	size_t len = 0;
	unsigned char *raw = b64url_decode(tok, (size_t)(strchr(tok, '.') - tok), &len);
	json_t *header = raw ? json_loadb((const char *)raw, len, 0, NULL) : NULL;
	char *kid;

	assert_non_null(header);
	kid = json_is_string(json_object_get(header, "kid")) ? strdup(tu_member(header, "kid")) : NULL;
	json_decref(header);
	free(raw);
	return kid;
}

/* Whether the store of `ctx` holds the signing key `kid` (the keys live in
 * the store: core/signing-store.c). */
static bool store_holds_kid(sesame_ctx *ctx, const char *kid)
{
	struct store *st = NULL;
	json_t *keys = NULL, *k;
	sesame_error err;
	bool found = false;
	size_t i;

	assert_int_equal(ctx_store(ctx, &st, &err), SESAME_OK);
	assert_true(store_has_keys(st));
	assert_int_equal(st->desc->keys_list(st->h, NULL, &keys, &err), SESAME_OK);
	json_array_foreach (keys, i, k)
		found = found || strcmp(tu_member(k, "kid"), kid) == 0;
	json_decref(keys);
	return found;
}

/* A second context on the same store, as a running sesamed is beside the
 * command line that rotates the key. */
static sesame_ctx *other_process(struct env *e)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	sesame_set_logger(ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, e->main, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	return ctx;
}

/*
 * Rotation ends no session: sessions opened before a rotation refresh after
 * the old key was pruned, and a process that loaded the keys before the
 * rotation verifies the new key's tokens at once and signs with it within
 * seconds, without a reload.
 */
static void test_rotation_ends_no_session(void **state)
{
	struct env *e = *state;
	sesame_ctx *daemon = other_process(e);
	json_t *s, *rot = NULL, *out = NULL, *cred = json_pack("{s:s}", "user", "rita"), *jwks;
	char *old_kid, *kid;
	sesame_error err;

	/* The daemon logs a user in with the first key. */
	assert_int_equal(sesame_login(daemon, "fix", cred, NULL, &s, &err), SESAME_OK);
	old_kid = token_kid(tu_member(s, "access_token"));
	/* The operator rotates it from another process. */
	assert_int_equal(sesame_keys_rotate(e->ctx, &rot, &err), SESAME_OK);
	assert_string_not_equal(tu_member(rot, "kid"), old_kid);
	/* A token of the new key verifies in the daemon at once... */
	{
		json_t *other = login(e, "fix", "sam");

		kid = token_kid(tu_member(other, "access_token"));
		assert_string_equal(kid, tu_member(rot, "kid"));
		free(kid);
		assert_int_equal(sesame_access_token_verify(daemon, tu_member(other, "access_token"), 0, &out, &err),
				 SESAME_OK);
		json_decref(out);
		out = NULL;
		json_decref(other);
	}
	/* ...and it signs with the new key a few seconds later. */
	atomic_fetch_add(&daemon->clock_offset, 6);
	assert_int_equal(sesame_session_refresh(daemon, tu_member(s, "refresh_token"), &out, &err), SESAME_OK);
	kid = token_kid(tu_member(out, "access_token"));
	assert_string_equal(kid, tu_member(rot, "kid"));
	free(kid);
	json_decref(out);
	out = NULL;
	/* Past the old access tokens' lifetime the retired key is pruned by the
	 * next process that loads the keys... */
	assert_true(store_holds_kid(e->ctx, old_kid));
	{
		sesame_ctx *later = sesame_new();

		sesame_set_logger(later, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
		assert_int_equal(sesame_configure(later, e->main, 0, &err), SESAME_OK);
		atomic_store(&later->clock_offset, 600 + 300 + 10);
		jwks = sesame_jwks(later, &err);
		assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 1);
		json_decref(jwks);
		assert_false(store_holds_kid(later, old_kid));
		assert_true(store_holds_kid(later, tu_member(rot, "kid")));
		/* ...and the session opened under it still refreshes. */
		assert_int_equal(sesame_session_refresh(later, tu_member(s, "refresh_token"), &out, &err), SESAME_OK);
		json_decref(out);
		out = NULL;
		sesame_free(later);
	}
	/* The daemon too, once it has looked at the files again. */
	atomic_fetch_add(&daemon->clock_offset, 600 + 300 + 10);
	assert_int_equal(sesame_session_refresh(daemon, tu_member(s, "refresh_token"), &out, &err), SESAME_OK);
	json_decref(out);
	assert_int_equal(sesame_session_logout(daemon, tu_member(s, "refresh_token"), &err), SESAME_OK);
	free(old_kid);
	json_decref(cred);
	json_decref(rot);
	json_decref(s);
	sesame_free(daemon);
}

/* A refresh token stands for its session only: its secret must hash to the
 * session's, and its sid and sub must be that session's. */
static void test_forged_refresh_tokens_refused(void **state)
{
	struct env *e = *state;
	json_t *a = login(e, "fix", "tina"), *b = login(e, "fix", "ugo"), *out = NULL;
	const char *ta = tu_member(a, "refresh_token"), *tb = tu_member(b, "refresh_token");
	char forged[4096];
	sesame_error err;

	/* b's payload (sid, sub, jti) with a's header and MAC: b's session
	 * itself, since its secret is b's (the MAC proves nothing sesame
	 * relies on); not a way into a's account. */
	snprintf(forged, sizeof(forged), "%.*s%.*s%s", (int)(strchr(ta, '.') - ta), ta,
		 (int)(strrchr(tb, '.') - strchr(tb, '.')), strchr(tb, '.'), strrchr(ta, '.'));
	assert_int_equal(sesame_session_refresh(e->ctx, forged, &out, &err), SESAME_OK);
	{
		json_t *claims = NULL;

		assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(out, "access_token"), 0, &claims, &err),
				 SESAME_OK);
		assert_string_equal(tu_member(claims, "sub"), tu_member(b, "user_id"));
		json_decref(claims);
	}
	json_decref(out);
	out = NULL;
	/* a's secret with b's user id or session id: refused. */
	{
		size_t len = 0;
		const char *p1 = strchr(ta, '.') + 1, *p2 = strrchr(ta, '.');
		unsigned char *raw = b64url_decode(p1, (size_t)(p2 - p1), &len);
		json_t *claims = json_loadb((const char *)raw, len, 0, NULL);
		char *text, *payload;
		const char *members[] = {"sub", "sid"};
		size_t i;

		for (i = 0; i < 2; i++) {
			json_t *c = json_deep_copy(claims);

			json_object_set_new(c, members[i],
					    json_string(i == 0 ? tu_member(b, "user_id") : "0123456789abcdef01234567"));
			text = json_dumps(c, JSON_COMPACT);
			payload = b64url_encode(text, strlen(text));
			snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(strchr(ta, '.') - ta), ta, payload, p2);
			tu_expect_error(sesame_session_refresh(e->ctx, forged, &out, &err), &err, SESAME_REJECTED,
					"session");
			free(text);
			free(payload);
			json_decref(c);
		}
		/* a's secret with b's session id and user id: b's session is
		 * found, and its hash is not that of a's secret.  A session id
		 * that is not one is refused the same way. */
		{
			json_t *bc = NULL, *c;
			const char *sids[2];

			assert_int_equal(sesame_access_token_verify(e->ctx, tu_member(b, "access_token"), 0, &bc, &err),
					 SESAME_OK);
			sids[0] = tu_member(bc, "sid");
			sids[1] = "'; --";
			for (i = 0; i < 2; i++) {
				c = json_deep_copy(claims);
				json_object_set_new(c, "sub", json_string(tu_member(b, "user_id")));
				json_object_set_new(c, "sid", json_string(sids[i]));
				text = json_dumps(c, JSON_COMPACT);
				payload = b64url_encode(text, strlen(text));
				snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(strchr(ta, '.') - ta), ta, payload,
					 p2);
				tu_expect_error(sesame_session_refresh(e->ctx, forged, &out, &err), &err,
						SESAME_REJECTED, "session");
				assert_string_equal(err.text, "failed to find refresh token");
				tu_expect_error(sesame_session_logout(e->ctx, forged, &err), &err, SESAME_REJECTED,
						"session");
				free(text);
				free(payload);
				json_decref(c);
			}
			json_decref(bc);
		}
		/* An unknown secret. */
		json_object_set_new(claims, "jti", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
		text = json_dumps(claims, JSON_COMPACT);
		payload = b64url_encode(text, strlen(text));
		snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(strchr(ta, '.') - ta), ta, payload, p2);
		tu_expect_error(sesame_session_refresh(e->ctx, forged, &out, &err), &err, SESAME_REJECTED, "session");
		tu_expect_error(sesame_session_logout(e->ctx, forged, &err), &err, SESAME_REJECTED, "session");
		free(text);
		free(payload);
		json_decref(claims);
		free(raw);
	}
	/* Not a JWS at all, or two payload members named alike. */
	tu_expect_error(sesame_session_refresh(e->ctx, "a.b", &out, &err), &err, SESAME_MALFORMED, "malformed");
	assert_null(out);
	/* a still works. */
	assert_int_equal(sesame_session_refresh(e->ctx, ta, &out, &err), SESAME_OK);
	json_decref(out);
	json_decref(a);
	json_decref(b);
}

/*
 * The caller reaches a plugin only as the core fills it in: typed for a
 * plugin with action_as(), as the "caller" member for one built against
 * ABI 1.1; a "caller" the client put in the arguments never arrives.
 */
static void test_action_callers(void **state)
{
	struct env *e = *state;
	json_t *s = login(e, "fix", "vera"), *forged = json_pack("{s:i, s:{s:b}}", "x", 1, "caller", "system", 1);
	json_t *out = NULL, *c;
	sesame_caller *sys = sesame_caller_system(e->ctx), *user = NULL;
	sesame_error err;

	assert_int_equal(sesame_caller_from_access_token(e->ctx, tu_member(s, "access_token"), &user, &err), SESAME_OK);
	/* Typed: nobody, the system user, a user. */
	assert_int_equal(sesame_provider_action_as(e->ctx, NULL, "fix", "echo", forged, &out, &err), SESAME_OK);
	assert_null(json_object_get(json_object_get(out, "args"), "caller"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "args"), "x")), 1);
	assert_string_equal(tu_member(json_object_get(out, "caller"), "kind"), "none");
	json_decref(out);
	assert_int_equal(sesame_provider_action(e->ctx, "fix", "echo", forged, &out, &err), SESAME_OK);
	assert_string_equal(tu_member(json_object_get(out, "caller"), "kind"), "none");
	json_decref(out);
	assert_int_equal(sesame_provider_action_as(e->ctx, sys, "fix", "echo", forged, &out, &err), SESAME_OK);
	assert_string_equal(tu_member(json_object_get(out, "caller"), "kind"), "system");
	assert_true(json_is_null(json_object_get(json_object_get(out, "caller"), "user_id")));
	json_decref(out);
	assert_int_equal(sesame_provider_action_as(e->ctx, user, "fix", "echo", forged, &out, &err), SESAME_OK);
	c = json_object_get(out, "caller");
	assert_string_equal(tu_member(c, "kind"), "user");
	assert_string_equal(tu_member(c, "user_id"), tu_member(s, "user_id"));
	assert_string_equal(tu_member(c, "user_type"), "normal");
	assert_false(json_is_true(json_object_get(c, "anonymous")));
	assert_null(json_object_get(json_object_get(out, "args"), "caller"));
	json_decref(out);
	/* ABI 1.1: the member, filled by the core. */
	assert_int_equal(sesame_provider_action_as(e->ctx, NULL, "v11", "echo", forged, &out, &err), SESAME_OK);
	assert_null(json_object_get(out, "caller"));
	json_decref(out);
	assert_int_equal(sesame_provider_action_as(e->ctx, sys, "v11", "echo", forged, &out, &err), SESAME_OK);
	assert_true(json_is_true(json_object_get(json_object_get(out, "caller"), "system")));
	assert_int_equal(json_object_size(json_object_get(out, "caller")), 1);
	json_decref(out);
	assert_int_equal(sesame_provider_action_as(e->ctx, user, "v11", "echo", forged, &out, &err), SESAME_OK);
	c = json_object_get(out, "caller");
	assert_string_equal(tu_member(c, "user_id"), tu_member(s, "user_id"));
	assert_string_equal(tu_member(c, "type"), "normal");
	assert_null(json_object_get(c, "system"));
	json_decref(out);
	sesame_caller_free(user);
	sesame_caller_free(sys);
	json_decref(forged);
	json_decref(s);
}

static void test_unusable_signing_key_writes_nothing(void **state)
{
	struct env *e = *state;
	char *key = tu_write(e->dir, "state/signing-key.pem", "not a key", 0644);
	json_t *cred = json_pack("{s:s}", "user", "olga"), *out = NULL;
	sesame_error err;

	/* A signing key that others may read is refused before any write. */
	tu_expect_error(sesame_login(e->ctx, "fix", cred, NULL, &out, &err), &err, SESAME_CONFIG, "permissions");
	assert_null(out);
	assert_int_equal(count_users(e), 0);
	chmod(key, 0600);
	tu_expect_error(sesame_login(e->ctx, "fix", cred, NULL, &out, &err), &err, SESAME_CONFIG, "key");
	assert_int_equal(count_users(e), 0);
	json_decref(cred);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_identity_same_user_new_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_device_id_kept_or_made, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_access_token_claims, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_token_payload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_custom_data_reaches_token_after_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_token_kinds_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_tokens_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clock_advance, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logout_and_revoke, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_login_writes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callers_only_touch_their_own_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_linking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_calls_hooks_and_ends_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anonymous_user_deleted_at_logout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anonymous_is_a_capability_of_the_instance, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_answers_the_callers_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_and_jwks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_ends_no_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_refresh_tokens_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_action_callers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unusable_signing_key_writes_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
