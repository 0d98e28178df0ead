/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/oauth2/test-oauth2-google.c — integration: the oauth2-google plugin loaded
 * through sesame_configure(), with Google's JWKS and token endpoint mocked
 * on loopback.  ID-token logins, the claim checks (iss, aud, azp, exp,
 * alg, hd) and unverified emails (each with its error, each writing
 * nothing), the authorization
 * code exchange and what sesame sends Google, and configuration errors.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "providers/oauth2/socialutil.h"
#include "testutil.h"

#define SECRET "google-client-secret-value"

static int setup(void **state)
{
	struct social *s = social_start("google");
	char *token_uri = mockhttp_url(s->mock, "/token");

	social_provider(s, "google",
			json_pack("{s:s, s:{s:[s, s], s:s, s:s, s:s, s:[s]}}", "type", "oauth2-google", "config",
				  "client_ids", "web-client", "ios-client", "client_secret", SECRET, "jwks_uri",
				  s->jwks_url, "token_uri", token_uri, "redirect_uris", "https://app.example/done"));
	social_provider(s, "google-hd",
			json_pack("{s:s, s:{s:s, s:s, s:[s, s]}}", "type", "oauth2-google", "config", "client_id",
				  "web-client", "jwks_uri", s->jwks_url, "hosted_domains", "example.com",
				  "example.org"));
	social_provider(
	    s, "bad-unknown",
	    json_pack("{s:s, s:{s:s, s:s}}", "type", "oauth2-google", "config", "client_id", "c", "clientSecret", "x"));
	social_provider(s, "bad-no-client",
			json_pack("{s:s, s:{s:s}}", "type", "oauth2-google", "config", "jwks_uri", s->jwks_url));
	social_provider(s, "bad-http",
			json_pack("{s:s, s:{s:s, s:s}}", "type", "oauth2-google", "config", "client_id", "c",
				  "token_uri", "http://example.com/token"));
	social_provider(
	    s, "bad-domains",
	    json_pack("{s:s, s:{s:s, s:[]}}", "type", "oauth2-google", "config", "client_id", "c", "hosted_domains"));
	social_configure(s);
	free(token_uri);
	*state = s;
	return 0;
}

/* Claims Google would issue to `aud` for `sub`. */
static json_t *google_claims(const char *sub, const char *aud)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:b, s:s, s:s, s:s, s:s}", "iss",
			 "https://accounts.google.com", "aud", aud, "sub", sub, "iat", social_now(0), "exp",
			 social_now(3600), "email", "ada@example.com", "email_verified", 1, "name", "Ada Lovelace",
			 "given_name", "Ada", "family_name", "Lovelace", "picture", "https://lh3.example/ada.png");
}

static json_t *id_cred(char *token)
{
	json_t *cred = json_pack("{s:s, s:s, s:{s:{s:s}}}", "id_token", token, "provider", "oauth2-google", "options",
				 "device", "platform", "test");

	free(token);
	return cred;
}

static void id_token_login_and_metadata(void **state)
{
	struct social *s = *state;
	json_t *id = social_identity(s, "google", id_cred(social_sign_rsa(google_claims("1001", "web-client"))));
	json_t *data = json_object_get(id, "data"), *a, *b;

	assert_string_equal(json_string_value(json_object_get(id, "id")), "1001");
	assert_string_equal(json_string_value(json_object_get(id, "provider_type")), "oauth2-google");
	assert_string_equal(json_string_value(json_object_get(data, "name")), "Ada Lovelace");
	assert_string_equal(json_string_value(json_object_get(data, "first_name")), "Ada");
	assert_string_equal(json_string_value(json_object_get(data, "last_name")), "Lovelace");
	assert_string_equal(json_string_value(json_object_get(data, "picture")), "https://lh3.example/ada.png");
	assert_string_equal(json_string_value(json_object_get(data, "email")), "ada@example.com");
	json_decref(id);
	/* A login creates the user once; the second client id and the bare
	 * issuer spelling are Google's too. */
	a = social_login(s, "google", id_cred(social_sign_rsa(google_claims("1001", "web-client"))));
	b = social_login(s, "google",
			 id_cred(social_sign_rsa(social_with(google_claims("1001", "ios-client"), "iss",
							     json_string("accounts.google.com")))));
	assert_string_equal(json_string_value(json_object_get(a, "user_id")),
			    json_string_value(json_object_get(b, "user_id")));
	assert_int_equal(social_count_users(s), 1);
	json_decref(a);
	json_decref(b);
	/* JWKS fetched once and cached. */
	assert_int_equal(mockhttp_hits(s->mock, "/jwks.json"), 1);
}

/* iss, aud, azp, exp, alg. */
static void claims_refused(void **state)
{
	struct social *s = *state;
	json_t *ok;

	social_refuse(s, "google",
		      id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "iss",
							  json_string("https://accounts.google.com.evil")))),
		      SESAME_REJECTED, "claim");
	social_refuse(
	    s, "google",
	    id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "iss", json_string("google.com")))),
	    SESAME_REJECTED, "claim");
	social_refuse(s, "google", id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "iss", NULL))),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "google", id_cred(social_sign_rsa(google_claims("1", "someone-elses-client"))),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "google", id_cred(social_sign_rsa(google_claims("1", "web-client-x"))), SESAME_REJECTED,
		      "claim");
	social_refuse(
	    s, "google",
	    id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "azp", json_string("evil-client")))),
	    SESAME_REJECTED, "claim");
	social_refuse(s, "google",
		      id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "azp", json_integer(5)))),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "google",
		      id_cred(social_sign_rsa(
			  social_with(google_claims("1", "web-client"), "exp", json_integer(social_now(-3600))))),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "google", id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "exp", NULL))),
		      SESAME_REJECTED, "claim");
	/* RS512 with Google's RS256 key, ES256 with a key Google would never
	 * publish: the algorithm is refused before any key is tried. */
	social_refuse(s, "google",
		      id_cred(social_sign("RS512", SOCIAL_RSA_KEY, SOCIAL_RSA_KID, google_claims("1", "web-client"))),
		      SESAME_REJECTED, "alg");
	social_refuse(
	    s, "google",
	    id_cred(social_sign("ES256", "tests/jws/keys/ec256.pem", "ec-1", google_claims("1", "web-client"))),
	    SESAME_REJECTED, "alg");
	social_refuse(s, "google",
		      id_cred(social_sign("RS256", SOCIAL_OTHER_KEY, SOCIAL_RSA_KID, google_claims("1", "web-client"))),
		      SESAME_REJECTED, "sig");
	/* An azp of ours is fine. */
	ok = social_login(
	    s, "google",
	    id_cred(social_sign_rsa(social_with(google_claims("2", "web-client"), "azp", json_string("ios-client")))));
	json_decref(ok);
	assert_int_equal(social_count_users(s), 1);
}

/* With hosted_domains, hd must name one of them: an email at the domain
 * is not enough. */
static void hosted_domain_required(void **state)
{
	struct social *s = *state;
	json_t *ok;

	/* No hd: a consumer account, even with an email at the domain. */
	social_refuse(s, "google-hd", id_cred(social_sign_rsa(google_claims("1", "web-client"))), SESAME_REJECTED,
		      "claim");
	social_refuse(
	    s, "google-hd",
	    id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "hd", json_string("evil.com")))),
	    SESAME_REJECTED, "claim");
	social_refuse(s, "google-hd",
		      id_cred(social_sign_rsa(
			  social_with(google_claims("1", "web-client"), "hd", json_string("example.com.evil")))),
		      SESAME_REJECTED, "claim");
	social_refuse(s, "google-hd",
		      id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "hd", json_true()))),
		      SESAME_REJECTED, "claim");
	ok = social_login(
	    s, "google-hd",
	    id_cred(social_sign_rsa(social_with(google_claims("1", "web-client"), "hd", json_string("example.org")))));
	json_decref(ok);
	assert_int_equal(social_count_users(s), 1);
}

/* An unverified email is not the user's email, and two accounts with one
 * unverified address stay two accounts. */
static void unverified_email_not_trusted(void **state)
{
	struct social *s = *state;
	json_t *values[] = {json_false(), json_string("false"), json_string("TRUE"), json_integer(1), NULL};
	json_t *a, *b;
	size_t i;

	for (i = 0; i < 5; i++) {
		json_t *claims = social_with(google_claims("300", "web-client"), "email_verified", values[i]);
		json_t *id = social_identity(s, "google", id_cred(social_sign_rsa(claims)));

		assert_null(json_object_get(json_object_get(id, "data"), "email"));
		assert_string_equal(json_string_value(json_object_get(json_object_get(id, "data"), "name")),
				    "Ada Lovelace");
		json_decref(id);
	}
	{
		json_t *id =
		    social_identity(s, "google",
				    id_cred(social_sign_rsa(social_with(google_claims("300", "web-client"),
									"email_verified", json_string("true")))));

		assert_string_equal(json_string_value(json_object_get(json_object_get(id, "data"), "email")),
				    "ada@example.com");
		json_decref(id);
	}
	a = social_login(s, "google", id_cred(social_sign_rsa(google_claims("401", "web-client"))));
	b = social_login(
	    s, "google",
	    id_cred(social_sign_rsa(social_with(google_claims("402", "web-client"), "email_verified", json_false()))));
	assert_string_not_equal(json_string_value(json_object_get(a, "user_id")),
				json_string_value(json_object_get(b, "user_id")));
	assert_int_equal(social_count_users(s), 2);
	json_decref(a);
	json_decref(b);
}

static void set_token_reply(struct social *s, int status, json_t *reply)
{
	social_set_json(s, "/token", status, reply);
}

static void expect_form(struct social *s, const char *name, const char *value)
{
	char *body = mockhttp_last_body(s->mock, "/token"), *v = social_form_value(body, name);

	if (!v || strcmp(v, value) != 0)
		fail_msg("form %s: expected \"%s\", got \"%s\" in %s", name, value, v ? v : "(absent)", body);
	free(v);
	free(body);
}

static void auth_code_exchange(void **state)
{
	struct social *s = *state;
	char *token = social_sign_rsa(google_claims("777", "web-client")), *ctype, *method;
	json_t *session;

	set_token_reply(
	    s, 200, json_pack("{s:s, s:s, s:s}", "access_token", "ya29.x", "id_token", token, "token_type", "Bearer"));
	free(token);
	session = social_login(s, "google", json_pack("{s:s}", "authCode", "4/0Ab+c&d=e f"));
	assert_non_null(json_object_get(session, "access_token"));
	json_decref(session);
	method = mockhttp_last_method(s->mock, "/token");
	assert_string_equal(method, "POST");
	free(method);
	ctype = mockhttp_last_header(s->mock, "/token", "Content-Type");
	assert_non_null(ctype);
	assert_string_equal(ctype, "application/x-www-form-urlencoded");
	free(ctype);
	/* Every value arrives intact: the special characters were encoded. */
	expect_form(s, "code", "4/0Ab+c&d=e f");
	expect_form(s, "client_id", "web-client");
	expect_form(s, "client_secret", SECRET);
	expect_form(s, "grant_type", "authorization_code");
	expect_form(s, "redirect_uri", "");
	/* The web flow passes its callback and PKCE verifier along. */
	token = social_sign_rsa(google_claims("777", "web-client"));
	set_token_reply(s, 200, json_pack("{s:s}", "id_token", token));
	free(token);
	session = social_login(s, "google",
			       json_pack("{s:s, s:s, s:s}", "authCode", "c2", "redirect_uri",
					 "https://sesame.example/cb", "code_verifier", "v3rifier"));
	json_decref(session);
	expect_form(s, "redirect_uri", "https://sesame.example/cb");
	expect_form(s, "code_verifier", "v3rifier");
	assert_int_equal(social_count_users(s), 1);
}

static void auth_code_refusals(void **state)
{
	struct social *s = *state;
	char *token;

	/* Google refuses the code (replayed, expired, foreign). */
	set_token_reply(s, 400, json_pack("{s:s, s:s}", "error", "invalid_grant", "error_description", "Bad Request"));
	social_refuse(s, "google", json_pack("{s:s}", "authCode", "used"), SESAME_REJECTED, "upstream");
	/* An error object inside a 200. */
	set_token_reply(s, 200, json_pack("{s:s}", "error", "invalid_grant"));
	social_refuse(s, "google", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "upstream");
	/* No id_token at all. */
	set_token_reply(s, 200, json_pack("{s:s}", "access_token", "ya29.x"));
	social_refuse(s, "google", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "upstream");
	/* The endpoint's id_token gets every check: a forged signature, a
	 * foreign audience. */
	token = social_sign("RS256", SOCIAL_OTHER_KEY, SOCIAL_RSA_KID, google_claims("9", "web-client"));
	set_token_reply(s, 200, json_pack("{s:s}", "id_token", token));
	free(token);
	social_refuse(s, "google", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "sig");
	token = social_sign_rsa(google_claims("9", "other-client"));
	set_token_reply(s, 200, json_pack("{s:s}", "id_token", token));
	free(token);
	social_refuse(s, "google", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "claim");
	/* Google down: fail closed. */
	mockhttp_set_str(s->mock, "/token", 503, "text/html", "<html>down</html>", NULL);
	social_refuse(s, "google", json_pack("{s:s}", "authCode", "c"), SESAME_UNAVAILABLE, "upstream");
	/* An instance without a client secret takes no codes. */
	social_refuse(s, "google-hd", json_pack("{s:s}", "authCode", "c"), SESAME_REJECTED, "config");
	assert_int_equal(social_count_users(s), 0);
}

static void credential_shape(void **state)
{
	struct social *s = *state;

	social_refuse(s, "google", json_pack("{s:s, s:s}", "id_token", "a.b.c", "authCode", "c"), SESAME_MALFORMED,
		      "credential");
	social_refuse(s, "google", json_object(), SESAME_MALFORMED, "credential");
	social_refuse(s, "google", json_pack("{s:s}", "token", "a.b.c"), SESAME_MALFORMED, "credential");
	social_refuse(s, "google", json_pack("{s:i}", "id_token", 5), SESAME_MALFORMED, "credential");
	social_refuse(s, "google", json_pack("{s:s, s:s}", "id_token", "a.b.c", "redirect_uri", "x"), SESAME_MALFORMED,
		      "credential");
	social_refuse(s, "google", json_pack("{s:s}", "id_token", "not-a-jwt"), SESAME_MALFORMED, "malformed");
}

static void config_errors(void **state)
{
	struct social *s = *state;
	json_t *list = sesame_providers_json(s->ctx);

	social_expect_failed(list, "bad-unknown", "clientSecret");
	social_expect_failed(list, "bad-no-client", "client_id");
	social_expect_failed(list, "bad-http", "https");
	social_expect_failed(list, "bad-domains", "hosted_domains");
	json_decref(list);
}

/* The operator's command line logs in through the same plugin. */
static void cli_login(void **state)
{
	struct social *s = *state;
	char *token = social_sign_rsa(google_claims("cli-1", "web-client")), *out = NULL, *errs = NULL;
	json_t *doc;

	if (social_cli_login(s, "google", token, &out, &errs) != 0)
		fail_msg("sesame login: %s", errs);
	doc = json_loads(out, 0, NULL);
	assert_int_equal(json_string_length(json_object_get(doc, "user_id")), 24);
	json_decref(doc);
	free(out);
	free(errs);
	free(token);
	/* Refused: exit status 1, nothing written. */
	token =
	    social_sign_rsa(social_with(google_claims("cli-2", "web-client"), "exp", json_integer(social_now(-3600))));
	assert_int_equal(social_cli_login(s, "google", token, &out, &errs), 1);
	assert_int_equal(social_count_users(s), 1);
	free(out);
	free(errs);
	free(token);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(cli_login, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(id_token_login_and_metadata, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(claims_refused, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(hosted_domain_required, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(unverified_email_not_trusted, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(auth_code_exchange, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(auth_code_refusals, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(credential_shape, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(config_errors, setup, social_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
