/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/oauth2/test-oauth2-facebook.c — integration: the oauth2-facebook plugin
 * against a mock Graph API (debug_token, /me, /oauth/access_token) and a
 * mock Limited Login JWKS on loopback.  What sesame sends (the app token,
 * appsecret_proof), what it takes from the answers (the user id from
 * debug_token only), and the refusals (what debug_token and /me say no
 * to, Limited Login tokens with a wrong issuer, audience or nonce), each
 * with its error and nothing written.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "providers/oauth2/socialutil.h"

#define APP_ID "1234567890"
#define APP_SECRET "fb-app-secret-0123456789"
#define USER_TOKEN "EAAB+user/token=1"

static int setup(void **state)
{
	struct social *s = social_start("facebook");
	char *graph = mockhttp_url(s->mock, "");

	social_provider(s, "facebook",
			json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[s]}}", "type", "oauth2-facebook", "config",
				  "client_id", APP_ID, "client_secret", APP_SECRET, "graph_uri", graph, "jwks_uri",
				  s->jwks_url, "redirect_uris", "https://app.example/done"));
	social_provider(s, "facebook-nonce",
			json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:b}}", "type", "oauth2-facebook", "config",
				  "client_id", APP_ID, "client_secret", APP_SECRET, "graph_uri", graph, "jwks_uri",
				  s->jwks_url, "require_nonce", 1));
	social_provider(s, "bad-no-secret",
			json_pack("{s:s, s:{s:s, s:s}}", "type", "oauth2-facebook", "config", "client_id", APP_ID,
				  "graph_uri", graph));
	social_provider(s, "bad-pipe",
			json_pack("{s:s, s:{s:s, s:s}}", "type", "oauth2-facebook", "config", "client_id", APP_ID "|x",
				  "client_secret", APP_SECRET));
	social_provider(s, "bad-unknown",
			json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "oauth2-facebook", "config", "client_id", APP_ID,
				  "client_secret", APP_SECRET, "app_token", "x"));
	social_configure(s);
	free(graph);
	*state = s;
	return 0;
}

/* debug_token's answer for a valid user token of ours, with `key` changed. */
static void set_debug(struct social *s, const char *key, json_t *value)
{
	json_t *data = json_pack("{s:s, s:s, s:s, s:I, s:b, s:[s, s], s:s}", "app_id", APP_ID, "type", "USER",
				 "application", "Example", "expires_at", social_now(3600), "is_valid", 1, "scopes",
				 "public_profile", "email", "user_id", "10001");

	if (key && value)
		json_object_set_new(data, key, value);
	else if (key)
		json_object_del(data, key);
	social_set_json(s, "/debug_token", 200, json_pack("{s:o}", "data", data));
}

static void set_me(struct social *s, const char *id)
{
	social_set_json(s, "/me", 200,
			json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:s, s:i}}, s:s, s:s, s:{s:i}, s:s}", "id", id, "name",
				  "Ada Lovelace", "first_name", "Ada", "last_name", "Lovelace", "picture", "data",
				  "url", "https://fb.example/ada.jpg", "height", 50, "gender", "female", "birthday",
				  "12/10/1815", "age_range", "min", 21, "email", "ada@example.com"));
}

static json_t *token_cred(const char *token)
{
	return json_pack("{s:s, s:s}", "accessToken", token, "provider", "oauth2-facebook");
}

static char *query(struct social *s, const char *path, const char *name)
{
	char *v = mockhttp_last_query(s->mock, path, name);

	if (!v)
		fail_msg("%s: no query argument %s", path, name);
	return v;
}

static void access_token_login(void **state)
{
	struct social *s = *state;
	unsigned char mac[32];
	unsigned int maclen = 0;
	char proof[65], *v;
	json_t *id, *data, *session;
	size_t i;

	set_debug(s, NULL, NULL);
	set_me(s, "10001");
	id = social_identity(s, "facebook", token_cred(USER_TOKEN));
	data = json_object_get(id, "data");
	assert_string_equal(json_string_value(json_object_get(id, "id")), "10001");
	assert_string_equal(json_string_value(json_object_get(data, "name")), "Ada Lovelace");
	assert_string_equal(json_string_value(json_object_get(data, "first_name")), "Ada");
	assert_string_equal(json_string_value(json_object_get(data, "last_name")), "Lovelace");
	assert_string_equal(json_string_value(json_object_get(data, "picture")), "https://fb.example/ada.jpg");
	assert_string_equal(json_string_value(json_object_get(data, "gender")), "female");
	assert_string_equal(json_string_value(json_object_get(data, "birthday")), "12/10/1815");
	assert_string_equal(json_string_value(json_object_get(data, "email")), "ada@example.com");
	/* realm-core reads the standard fields as strings; both picture names. */
	assert_string_equal(json_string_value(json_object_get(data, "min_age")), "21");
	assert_null(json_object_get(data, "max_age"));
	assert_string_equal(json_string_value(json_object_get(data, "picture_url")), "https://fb.example/ada.jpg");
	json_decref(id);
	/* debug_token is asked with the app token ... */
	v = query(s, "/debug_token", "input_token");
	assert_string_equal(v, USER_TOKEN);
	free(v);
	v = query(s, "/debug_token", "access_token");
	assert_string_equal(v, APP_ID "|" APP_SECRET);
	free(v);
	/* ... and /me carries appsecret_proof = HMAC-SHA256(app secret, token). */
	assert_non_null(HMAC(EVP_sha256(), APP_SECRET, (int)strlen(APP_SECRET), (const unsigned char *)USER_TOKEN,
			     strlen(USER_TOKEN), mac, &maclen));
	for (i = 0; i < 32; i++)
		snprintf(proof + 2 * i, 3, "%02x", mac[i]);
	v = query(s, "/me", "appsecret_proof");
	assert_string_equal(v, proof);
	free(v);
	v = query(s, "/me", "access_token");
	assert_string_equal(v, USER_TOKEN);
	free(v);
	v = query(s, "/me", "fields");
	assert_non_null(strstr(v, "age_range"));
	free(v);
	/* A token that never expires (expires_at 0) is fine. */
	set_debug(s, "expires_at", json_integer(0));
	session = social_login(s, "facebook", token_cred(USER_TOKEN));
	json_decref(session);
	assert_int_equal(social_count_users(s), 1);
}

/* The user id comes from debug_token alone, and only when it says the
 * token is a valid user token of this app, not expired: any other answer,
 * an error, a redirect, a /me for someone else or a client naming its own
 * id is refused. */
static void debug_token_refusals(void **state)
{
	struct social *s = *state;

	set_me(s, "10001");
	set_debug(s, "app_id", json_string("999999"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "app_id", json_string(APP_ID "1"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "app_id", NULL);
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "is_valid", json_false());
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "is_valid", json_string("true"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "type", json_string("PAGE"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "expires_at", json_integer(social_now(-10)));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "expires_at", json_string("9999999999"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "user_id", NULL);
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_debug(s, "error", json_pack("{s:i, s:s}", "code", 190, "message", "Invalid OAuth access token."));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	/* An error object inside an HTTP 200, and a plain 400. */
	social_set_json(s, "/debug_token", 200, json_pack("{s:{s:s, s:i}}", "error", "message", "bad", "code", 190));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	social_set_json(s, "/debug_token", 400, json_pack("{s:{s:s}}", "error", "message", "bad"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	mockhttp_set_str(s->mock, "/debug_token", 500, "text/html", "oops", NULL);
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_UNAVAILABLE, "upstream");
	/* A redirect is refused by the host; the message names the cause but
	 * not the URL, whose query holds the app secret and the user token. */
	mockhttp_set_str(s->mock, "/debug_token", 302, "text/html", "", "Location: http://127.0.0.1:1/x");
	{
		json_t *cred = token_cred(USER_TOKEN), *id = NULL;
		sesame_error err;

		assert_int_equal(sesame_verify_credential(s->ctx, "facebook", cred, &id, &err), SESAME_UNAVAILABLE);
		assert_string_equal(err.reason, "upstream");
		assert_non_null(strstr(err.text, "redirect"));
		assert_null(strstr(err.text, APP_SECRET));
		assert_null(strstr(err.text, "user"));
		json_decref(cred);
	}
	/* The user id is debug_token's: a /me for someone else, or a client
	 * naming its own id, is refused. */
	set_debug(s, NULL, NULL);
	set_me(s, "66666");
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	set_me(s, "10001");
	social_set_json(s, "/me", 200, json_pack("{s:{s:s}}", "error", "message", "bad proof"));
	social_refuse(s, "facebook", token_cred(USER_TOKEN), SESAME_REJECTED, "upstream");
	social_refuse(s, "facebook", json_pack("{s:s, s:s}", "accessToken", USER_TOKEN, "userId", "66666"),
		      SESAME_MALFORMED, "credential");
	social_refuse(s, "facebook", json_pack("{s:s, s:s}", "accessToken", USER_TOKEN, "id_token", "a.b.c"),
		      SESAME_MALFORMED, "credential");
	assert_int_equal(social_count_users(s), 0);
}

static json_t *ll_claims(const char *aud)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", "https://www.facebook.com", "aud", aud,
			 "sub", "10001", "iat", social_now(0), "exp", social_now(600), "nonce", "n-123", "name",
			 "Ada Lovelace", "email", "ada@example.com");
}

static json_t *ll_cred(json_t *claims, const char *nonce)
{
	char *token = social_sign_rsa(claims);
	json_t *cred = json_pack("{s:s}", "id_token", token);

	if (nonce)
		json_object_set_new(cred, "nonce", json_string(nonce));
	free(token);
	return cred;
}

/* Limited Login: iss, aud and the nonce. */
static void limited_login_refusals(void **state)
{
	struct social *s = *state;
	json_t *claims, *id;

	claims = ll_claims(APP_ID);
	json_object_set_new(claims, "iss", json_string("https://facebook.com"));
	social_refuse(s, "facebook", ll_cred(claims, NULL), SESAME_REJECTED, "claim");
	social_refuse(s, "facebook", ll_cred(ll_claims("999999"), NULL), SESAME_REJECTED, "claim");
	social_refuse(s, "facebook", ll_cred(ll_claims(APP_ID "0"), NULL), SESAME_REJECTED, "claim");
	social_refuse(s, "facebook", ll_cred(ll_claims(APP_ID), "n-12"), SESAME_REJECTED, "claim");
	social_refuse(s, "facebook", ll_cred(ll_claims(APP_ID), "n-1234"), SESAME_REJECTED, "claim");
	social_refuse(s, "facebook-nonce", ll_cred(ll_claims(APP_ID), NULL), SESAME_REJECTED, "claim");
	/* A token that carries a nonce is bound to it, even where
	 * require_nonce is off; leaving the nonce out skips nothing. */
	social_refuse(s, "facebook", ll_cred(ll_claims(APP_ID), NULL), SESAME_REJECTED, "claim");
	claims = ll_claims(APP_ID);
	json_object_set_new(claims, "nonce", json_string(""));
	social_refuse(s, "facebook", ll_cred(claims, NULL), SESAME_REJECTED, "claim");
	/* require_nonce keeps its meaning for a token without one. */
	claims = ll_claims(APP_ID);
	json_object_del(claims, "nonce");
	social_refuse(s, "facebook-nonce", ll_cred(claims, NULL), SESAME_REJECTED, "claim");
	claims = ll_claims(APP_ID);
	json_object_set_new(claims, "exp", json_integer(social_now(-600)));
	social_refuse(s, "facebook", ll_cred(claims, "n-123"), SESAME_REJECTED, "claim");
	assert_int_equal(social_count_users(s), 0);
	assert_int_equal(mockhttp_hits(s->mock, "/debug_token"), 0);
	id = social_identity(s, "facebook-nonce", ll_cred(ll_claims(APP_ID), "n-123"));
	assert_string_equal(json_string_value(json_object_get(id, "id")), "10001");
	assert_string_equal(json_string_value(json_object_get(json_object_get(id, "data"), "name")), "Ada Lovelace");
	json_decref(id);
	json_decref(social_login(s, "facebook", ll_cred(ll_claims(APP_ID), "n-123")));
	assert_int_equal(social_count_users(s), 1);
	/* Without require_nonce, a token without a nonce needs none. */
	claims = ll_claims(APP_ID);
	json_object_del(claims, "nonce");
	json_object_set_new(claims, "sub", json_string("10002"));
	json_decref(social_login(s, "facebook", ll_cred(claims, NULL)));
	assert_int_equal(social_count_users(s), 2);
}

static void code_exchange(void **state)
{
	struct social *s = *state;
	json_t *session;
	char *v;

	social_set_json(
	    s, "/oauth/access_token", 200,
	    json_pack("{s:s, s:s, s:i}", "access_token", "EAAcode", "token_type", "bearer", "expires_in", 5000));
	set_debug(s, NULL, NULL);
	set_me(s, "10001");
	session = social_login(
	    s, "facebook", json_pack("{s:s, s:s}", "authCode", "AQ+code", "redirect_uri", "https://sesame.example/cb"));
	json_decref(session);
	v = query(s, "/oauth/access_token", "code");
	assert_string_equal(v, "AQ+code");
	free(v);
	v = query(s, "/oauth/access_token", "client_secret");
	assert_string_equal(v, APP_SECRET);
	free(v);
	v = query(s, "/oauth/access_token", "redirect_uri");
	assert_string_equal(v, "https://sesame.example/cb");
	free(v);
	v = query(s, "/debug_token", "input_token");
	assert_string_equal(v, "EAAcode");
	free(v);
	social_set_json(s, "/oauth/access_token", 400, json_pack("{s:{s:s}}", "error", "message", "code used"));
	social_refuse(s, "facebook", json_pack("{s:s}", "authCode", "AQ"), SESAME_REJECTED, "upstream");
	assert_int_equal(social_count_users(s), 1);
}

static void config_errors(void **state)
{
	struct social *s = *state;
	json_t *list = sesame_providers_json(s->ctx);

	social_expect_failed(list, "bad-no-secret", "client_secret");
	social_expect_failed(list, "bad-pipe", "app id alone");
	social_expect_failed(list, "bad-unknown", "app_token");
	json_decref(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(access_token_login, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(debug_token_refusals, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(limited_login_refusals, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(code_exchange, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(config_errors, setup, social_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
