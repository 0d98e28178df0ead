/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/oauth2/test-oauth2-apple.c — integration: the oauth2-apple plugin against
 * a mock Apple (JWKS, token and revoke endpoints) on loopback.  ID tokens
 * and nonces, strict email flags, the code exchange with the client-secret
 * JWT checked against the team key's public half, the refresh token kept
 * and revoked when the user is deleted, and the refusals (claims and
 * nonces, email flags read strictly, codes, client-secret settings Apple
 * would refuse, revocation failures), each with its error and nothing
 * written.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "providers/oauth2/socialutil.h"
#include "testutil.h"

#define APP_ID "com.example.app"
#define WEB_ID "com.example.web"
#define TEAM "TEAM123456"
#define KEY_ID "KEY1234567"
#define APPLE "https://appleid.apple.com"
/* The nonce a client keeps; the token carries its SHA-256 in hex. */
#define RAW_NONCE "raw-nonce-42"

static json_t *apple_config(struct social *s, const char *p8)
{
	char *token_uri = mockhttp_url(s->mock, "/auth/token"), *revoke_uri = mockhttp_url(s->mock, "/auth/revoke");
	json_t *c =
	    json_pack("{s:[s, s], s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:[s]}", "client_ids", APP_ID, WEB_ID, "team_id",
		      TEAM, "key_id", KEY_ID, "private_key", p8, "jwks_uri", s->jwks_url, "token_uri", token_uri,
		      "revoke_uri", revoke_uri, "client_secret_ttl", 3600, "redirect_uris", "https://app.example/done");

	free(token_uri);
	free(revoke_uri);
	return c;
}

static void bad(struct social *s, const char *name, const char *p8, const char *key, json_t *value)
{
	json_t *c = apple_config(s, p8);

	if (value)
		json_object_set_new(c, key, value);
	else
		json_object_del(c, key);
	social_provider(s, name, json_pack("{s:s, s:o}", "type", "oauth2-apple", "config", c));
}

static int setup(void **state)
{
	struct social *s = social_start("apple");
	char *p8 = social_secret_file(s, "AuthKey.p8", "tests/jws/keys/ec256.pem");
	char *rsa = social_secret_file(s, "rsa.p8", "tests/jws/keys/rsa.pem");

	social_provider(s, "apple", json_pack("{s:s, s:o}", "type", "oauth2-apple", "config", apple_config(s, p8)));
	social_provider(s, "apple-nonce",
			json_pack("{s:s, s:{s:s, s:s, s:b}}", "type", "oauth2-apple", "config", "client_id", APP_ID,
				  "jwks_uri", s->jwks_url, "require_nonce", 1));
	/* Client-secret settings Apple would refuse stop the start. */
	bad(s, "bad-ttl", p8, "client_secret_ttl", json_integer(15777001));
	bad(s, "bad-no-kid", p8, "key_id", NULL);
	bad(s, "bad-no-team", p8, "team_id", NULL);
	bad(s, "bad-rsa-key", rsa, NULL, NULL);
	bad(s, "bad-garbage-key", p8, "private_key",
	    json_string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
	bad(s, "bad-unknown", p8, "clientSecret", json_string("x"));
	social_configure(s);
	free(p8);
	free(rsa);
	*state = s;
	return 0;
}

static json_t *apple_claims(const char *sub, const char *aud)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", APPLE, "aud", aud, "sub", sub, "iat",
			 social_now(0), "exp", social_now(600), "email", "x7@privaterelay.appleid.com",
			 "email_verified", "true", "is_private_email", "true");
}

static json_t *id_cred(char *token, const char *nonce)
{
	json_t *cred = json_pack("{s:s}", "id_token", token);

	if (nonce)
		json_object_set_new(cred, "nonce", json_string(nonce));
	free(token);
	return cred;
}

static void id_token_login(void **state)
{
	struct social *s = *state;
	json_t *id = social_identity(s, "apple", id_cred(social_sign_rsa(apple_claims("001.abc", WEB_ID)), NULL));
	json_t *data = json_object_get(id, "data"), *session;

	assert_string_equal(json_string_value(json_object_get(id, "id")), "001.abc");
	assert_string_equal(json_string_value(json_object_get(data, "email")), "x7@privaterelay.appleid.com");
	assert_true(json_is_true(json_object_get(data, "is_private_email")));
	assert_int_equal(json_object_size(json_object_get(id, "private")), 0);
	json_decref(id);
	session = social_login(s, "apple", id_cred(social_sign_rsa(apple_claims("001.abc", APP_ID)), NULL));
	json_decref(session);
	assert_int_equal(social_count_users(s), 1);
}

/* iss, aud, exp and the nonce. */
static void claims_and_nonce_refused(void **state)
{
	struct social *s = *state;
	unsigned char digest[32];
	char hex[65];
	json_t *session;
	size_t i;

	/* The hex digest the test expects is SHA-256 of RAW_NONCE. */
	assert_int_equal(host_services.sha256(RAW_NONCE, strlen(RAW_NONCE), digest), SESAME_OK);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	social_refuse(s, "apple",
		      id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "iss",
							  json_string("https://appleid.apple.com.evil"))),
			      NULL),
		      SESAME_REJECTED, "claim");
	social_refuse(
	    s, "apple",
	    id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "iss", json_string("appleid.apple.com"))),
		    NULL),
	    SESAME_REJECTED, "claim");
	social_refuse(s, "apple", id_cred(social_sign_rsa(apple_claims("1", "com.example")), NULL), SESAME_REJECTED,
		      "claim");
	social_refuse(s, "apple", id_cred(social_sign_rsa(apple_claims("1", "com.other.app")), NULL), SESAME_REJECTED,
		      "claim");
	social_refuse(
	    s, "apple",
	    id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "exp", json_integer(social_now(-600)))),
		    NULL),
	    SESAME_REJECTED, "claim");
	/* The nonce: the token holds SHA-256(raw), the client sends raw. */
	social_refuse(
	    s, "apple",
	    id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_string(hex))), "other-nonce"),
	    SESAME_REJECTED, "claim");
	social_refuse(s, "apple",
		      id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_string(RAW_NONCE))),
			      RAW_NONCE),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "apple", id_cred(social_sign_rsa(apple_claims("1", APP_ID)), RAW_NONCE), SESAME_REJECTED,
		      "claim");
	/* Required by configuration, missing from the request. */
	social_refuse(s, "apple-nonce",
		      id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_string(hex))), NULL),
		      SESAME_REJECTED, "claim");
	/* A token that carries a nonce is bound to it, even where
	 * require_nonce is off; leaving the nonce out skips nothing. */
	social_refuse(s, "apple",
		      id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_string(hex))), NULL),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "apple",
		      id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_string(""))), NULL),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "apple",
		      id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_null())), NULL),
		      SESAME_REJECTED, "claim");
	/* require_nonce keeps its meaning for a token without one. */
	social_refuse(s, "apple-nonce", id_cred(social_sign_rsa(apple_claims("1", APP_ID)), NULL), SESAME_REJECTED,
		      "claim");
	social_refuse(s, "apple",
		      id_cred(social_sign("RS256", SOCIAL_OTHER_KEY, SOCIAL_RSA_KID, apple_claims("1", APP_ID)), NULL),
		      SESAME_REJECTED, "sig");
	assert_int_equal(social_count_users(s), 0);
	session = social_login(
	    s, "apple-nonce",
	    id_cred(social_sign_rsa(social_with(apple_claims("1", APP_ID), "nonce", json_string(hex))), RAW_NONCE));
	json_decref(session);
	assert_int_equal(social_count_users(s), 1);
	/* Without require_nonce, a token without a nonce needs none. */
	session = social_login(s, "apple", id_cred(social_sign_rsa(apple_claims("2", APP_ID)), NULL));
	json_decref(session);
	session = social_login(
	    s, "apple",
	    id_cred(social_sign_rsa(social_with(apple_claims("3", APP_ID), "nonce", json_string(hex))), RAW_NONCE));
	json_decref(session);
	assert_int_equal(social_count_users(s), 3);
}

/* email_verified and is_private_email: only true and "true" are true. */
static void email_flags_strict(void **state)
{
	struct social *s = *state;
	json_t *values[] = {json_false(),
			    json_string("false"),
			    json_string("yes"),
			    json_string("True"),
			    json_integer(1),
			    json_string("true "),
			    NULL};
	size_t i;

	for (i = 0; i < 7; i++) {
		json_t *claims = apple_claims("2", APP_ID), *id;

		social_with(claims, "email_verified", values[i] ? json_incref(values[i]) : NULL);
		social_with(claims, "is_private_email", values[i]);
		id = social_identity(s, "apple", id_cred(social_sign_rsa(claims), NULL));
		assert_null(json_object_get(json_object_get(id, "data"), "email"));
		assert_null(json_object_get(json_object_get(id, "data"), "is_private_email"));
		json_decref(id);
	}
	{
		json_t *id = social_identity(
		    s, "apple",
		    id_cred(social_sign_rsa(social_with(apple_claims("2", APP_ID), "email_verified", json_true())),
			    NULL));

		assert_non_null(json_object_get(json_object_get(id, "data"), "email"));
		json_decref(id);
	}
}

static char *form_value(struct social *s, const char *path, const char *name)
{
	char *body = mockhttp_last_body(s->mock, path), *v = social_form_value(body, name);

	free(body);
	if (!v)
		fail_msg("%s: no form value %s", path, name);
	return v;
}

/* The client secret sesame sent: an ES256 JWT by the team key, kid = key
 * id, iss = team, sub = the client id, aud = Apple, a bounded life, a raw
 * 64-byte R||S signature. */
static void check_client_secret(const char *jwt, const char *client_id)
{
	char *pub = social_read_src("tests/jws/keys/ec256.pub.pem");
	json_t *list = json_pack("[{s:s, s:s, s:s}]", "alg", "ES256", "kid", KEY_ID, "key", pub), *claims = NULL;
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = 0};
	const char *aud[] = {APPLE, NULL}, *iss[] = {TEAM, NULL}, *sig = strrchr(jwt, '.');
	struct sesame_keys *keys = NULL;
	sesame_error err;
	size_t siglen = 0;
	unsigned char *raw;

	rules.audiences = aud;
	rules.issuers = iss;
	assert_int_equal(keys_from_config(list, &keys, &err), SESAME_OK);
	if (keys_verify(keys, jwt, &rules, (int64_t)social_now(0), &claims, &err) != SESAME_OK)
		fail_msg("client secret: %s", err.text);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), client_id);
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")) -
			     json_integer_value(json_object_get(claims, "iat")),
			 3600);
	raw = b64url_decode(sig + 1, strlen(sig + 1), &siglen);
	assert_non_null(raw);
	assert_int_equal(siglen, 64);
	free(raw);
	{
		const char *dot = strchr(jwt, '.');
		unsigned char *hdr = b64url_decode(jwt, (size_t)(dot - jwt), &siglen);
		json_t *h = json_loadb((const char *)hdr, siglen, 0, NULL);

		assert_string_equal(json_string_value(json_object_get(h, "kid")), KEY_ID);
		assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
		json_decref(h);
		free(hdr);
	}
	json_decref(claims);
	json_decref(list);
	keys_free(keys);
	free(pub);
}

static char *user_of(json_t *session)
{
	char *id = strdup(json_string_value(json_object_get(session, "user_id")));

	json_decref(session);
	return id;
}

static void delete_user(struct social *s, const char *user_id)
{
	sesame_caller *sys = sesame_caller_system(s->ctx);
	sesame_error err;

	if (sesame_user_delete(sys, user_id, &err) != SESAME_OK)
		fail_msg("delete: %s", err.text);
	sesame_caller_free(sys);
}

static void code_exchange_and_revocation(void **state)
{
	struct social *s = *state;
	char *token = social_sign_rsa(apple_claims("003.xyz", APP_ID)), *secret, *v, *user;

	social_set_json(s, "/auth/token", 200,
			json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", "a.apple", "token_type", "Bearer",
				  "expires_in", 3600, "refresh_token", "r.apple.1", "id_token", token));
	free(token);
	social_set_json(s, "/auth/revoke", 200, json_object());
	user = user_of(social_login(s, "apple", json_pack("{s:s}", "authCode", "c.apple+1/=")));
	v = form_value(s, "/auth/token", "code");
	assert_string_equal(v, "c.apple+1/=");
	free(v);
	v = form_value(s, "/auth/token", "grant_type");
	assert_string_equal(v, "authorization_code");
	free(v);
	v = form_value(s, "/auth/token", "client_id");
	assert_string_equal(v, APP_ID);
	free(v);
	secret = form_value(s, "/auth/token", "client_secret");
	check_client_secret(secret, APP_ID);
	/* The secret is reused, not signed again for every login. */
	token = social_sign_rsa(apple_claims("003.xyz", APP_ID));
	social_set_json(s, "/auth/token", 200,
			json_pack("{s:s, s:s}", "refresh_token", "r.apple.2", "id_token", token));
	free(token);
	free(user_of(social_login(s, "apple", json_pack("{s:s}", "code", "c2"))));
	v = form_value(s, "/auth/token", "client_secret");
	assert_string_equal(v, secret);
	free(v);
	free(secret);
	/* An ID-token login later keeps the stored refresh token. */
	free(user_of(social_login(s, "apple", id_cred(social_sign_rsa(apple_claims("003.xyz", APP_ID)), NULL))));
	assert_int_equal(mockhttp_hits(s->mock, "/auth/revoke"), 0);
	delete_user(s, user);
	assert_int_equal(social_count_users(s), 0);
	assert_int_equal(mockhttp_hits(s->mock, "/auth/revoke"), 1);
	v = form_value(s, "/auth/revoke", "token");
	assert_string_equal(v, "r.apple.2");
	free(v);
	v = form_value(s, "/auth/revoke", "token_type_hint");
	assert_string_equal(v, "refresh_token");
	free(v);
	v = form_value(s, "/auth/revoke", "client_id");
	assert_string_equal(v, APP_ID);
	free(v);
	secret = form_value(s, "/auth/revoke", "client_secret");
	check_client_secret(secret, APP_ID);
	free(secret);
	free(user);
}

static void web_client_code(void **state)
{
	struct social *s = *state;
	char *token = social_sign_rsa(apple_claims("004", WEB_ID)), *v;

	social_set_json(s, "/auth/token", 200, json_pack("{s:s, s:s}", "refresh_token", "r.web", "id_token", token));
	free(token);
	free(user_of(social_login(s, "apple",
				  json_pack("{s:s, s:s, s:s}", "code", "c", "client_id", WEB_ID, "redirect_uri",
					    "https://sesame.example/callback"))));
	v = form_value(s, "/auth/token", "client_id");
	assert_string_equal(v, WEB_ID);
	free(v);
	v = form_value(s, "/auth/token", "redirect_uri");
	assert_string_equal(v, "https://sesame.example/callback");
	free(v);
	v = form_value(s, "/auth/token", "client_secret");
	check_client_secret(v, WEB_ID);
	free(v);
	social_refuse(s, "apple", json_pack("{s:s, s:s}", "code", "c", "client_id", "com.evil"), SESAME_REJECTED,
		      "credential");
}

/* Codes: one the token endpoint refuses (replayed, expired, foreign), an
 * answer without an ID token or with one that does not verify, the
 * endpoint down, an instance without the team key, credentials of the
 * wrong shape. */
static void bad_codes_refused(void **state)
{
	struct social *s = *state;
	char *token;

	social_set_json(s, "/auth/token", 400, json_pack("{s:s}", "error", "invalid_grant"));
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "replayed"), SESAME_REJECTED, "upstream");
	social_set_json(s, "/auth/token", 200, json_pack("{s:s}", "refresh_token", "r"));
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "upstream");
	/* The endpoint's ID token is verified, never trusted. */
	social_set_json(
	    s, "/auth/token", 200,
	    json_pack("{s:s, s:s}", "refresh_token", "r", "id_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."));
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "alg");
	token = social_sign("RS256", SOCIAL_OTHER_KEY, SOCIAL_RSA_KID, apple_claims("5", APP_ID));
	social_set_json(s, "/auth/token", 200, json_pack("{s:s, s:s}", "refresh_token", "r", "id_token", token));
	free(token);
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "sig");
	token = social_sign_rsa(social_with(apple_claims("5", APP_ID), "exp", json_integer(social_now(-600))));
	social_set_json(s, "/auth/token", 200, json_pack("{s:s, s:s}", "refresh_token", "r", "id_token", token));
	free(token);
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "claim");
	token = social_sign_rsa(apple_claims("5", "com.other.app"));
	social_set_json(s, "/auth/token", 200, json_pack("{s:s, s:s}", "refresh_token", "r", "id_token", token));
	free(token);
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "claim");
	mockhttp_set_str(s->mock, "/auth/token", 502, "text/html", "bad gateway", NULL);
	social_refuse(s, "apple", json_pack("{s:s}", "authCode", "c"), SESAME_UNAVAILABLE, "upstream");
	/* An instance without the team key takes no codes. */
	social_refuse(s, "apple-nonce", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "config");
	social_refuse(s, "apple", json_pack("{s:s, s:s}", "authCode", "c", "id_token", "a.b.c"), SESAME_MALFORMED,
		      "credential");
	social_refuse(s, "apple", json_pack("{s:s, s:s}", "id_token", "a.b.c", "client_id", APP_ID), SESAME_MALFORMED,
		      "credential");
	social_refuse(s, "apple", json_pack("{s:s}", "token", "a.b.c"), SESAME_MALFORMED, "credential");
}

/* Whatever revoke answers, the account goes. */
static void revoke_failures_delete_anyway(void **state)
{
	struct social *s = *state;
	int statuses[] = {500, 400, 0};
	size_t i;

	for (i = 0; i < 3; i++) {
		char *token = social_sign_rsa(apple_claims(i == 0 ? "006" : i == 1 ? "007" : "008", APP_ID)), *user;

		social_set_json(s, "/auth/token", 200,
				json_pack("{s:s, s:s}", "refresh_token", "r.x", "id_token", token));
		free(token);
		if (statuses[i])
			social_set_json(s, "/auth/revoke", statuses[i], json_pack("{s:s}", "error", "invalid_request"));
		else
			mockhttp_set_str(s->mock, "/auth/revoke", 200, "text/plain", "not json", NULL);
		user = user_of(social_login(s, "apple", json_pack("{s:s}", "authCode", "c")));
		assert_int_equal(social_count_users(s), 1);
		delete_user(s, user);
		assert_int_equal(social_count_users(s), 0);
		assert_int_equal(mockhttp_hits(s->mock, "/auth/revoke"), i + 1);
		free(user);
	}
	/* A user who only ever sent ID tokens has nothing to revoke. */
	free(user_of(social_login(s, "apple", id_cred(social_sign_rsa(apple_claims("009", APP_ID)), NULL))));
	{
		json_t *users = NULL;
		sesame_caller *sys = sesame_caller_system(s->ctx);
		sesame_error err;

		assert_int_equal(sesame_users_list(sys, NULL, 10, &users, &err), SESAME_OK);
		delete_user(s, json_string_value(json_object_get(json_array_get(users, 0), "id")));
		json_decref(users);
		sesame_caller_free(sys);
	}
	assert_int_equal(mockhttp_hits(s->mock, "/auth/revoke"), 3);
	assert_int_equal(social_count_users(s), 0);
}

/* Client-secret settings Apple would refuse keep the instance from
 * starting. */
static void client_secret_config_refused(void **state)
{
	struct social *s = *state;
	json_t *list = sesame_providers_json(s->ctx);

	social_expect_failed(list, "bad-ttl", "client_secret_ttl");
	social_expect_failed(list, "bad-no-kid", "go together");
	social_expect_failed(list, "bad-no-team", "go together");
	social_expect_failed(list, "bad-rsa-key", "ES256");
	social_expect_failed(list, "bad-garbage-key", "ES256");
	social_expect_failed(list, "bad-unknown", "clientSecret");
	json_decref(list);
}

/* The operator's command line logs in through the same plugin. */
static void cli_login(void **state)
{
	struct social *s = *state;
	char *token = social_sign_rsa(apple_claims("cli-1", APP_ID)), *out = NULL, *errs = NULL;
	json_t *doc;

	if (social_cli_login(s, "apple", token, &out, &errs) != 0)
		fail_msg("sesame login: %s", errs);
	doc = json_loads(out, 0, NULL);
	assert_int_equal(json_string_length(json_object_get(doc, "user_id")), 24);
	json_decref(doc);
	free(out);
	free(errs);
	free(token);
	/* Refused: exit status 1, nothing written. */
	token = social_sign_rsa(social_with(apple_claims("cli-2", APP_ID), "exp", json_integer(social_now(-3600))));
	assert_int_equal(social_cli_login(s, "apple", token, &out, &errs), 1);
	assert_int_equal(social_count_users(s), 1);
	free(out);
	free(errs);
	free(token);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(cli_login, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(id_token_login, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(claims_and_nonce_refused, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(email_flags_strict, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(code_exchange_and_revocation, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(web_client_code, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(bad_codes_refused, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(revoke_failures_delete_anyway, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(client_secret_config_refused, setup, social_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
