/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/custom-token/test-custom-token.c — integration: the real custom-token plugin
 * loaded through sesame_configure() from drop-ins, logins through
 * sesame_verify_credential() with RS256, ES256, EdDSA and HS256 tokens from
 * static keys and from a JWKS URI on a loopback mock, metadata mapping,
 * required fields, refusals with their status and reason, and configuration
 * errors that keep an instance from starting.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "mock/mockhttp.h"
#include "testutil.h"

#define HMAC_SECRET "custom-token-test-secret-0123456789abcdefgh"

struct fixture {
	char *dir;
	struct mockhttp *mock;
	sesame_ctx *ctx;
};

static char *read_src(const char *rel)
{
	char *path = tu_path(tu_env("SESAME_TEST_SRCDIR"), rel);
	char *buf = calloc(1, 65536);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	free(path);
	return buf;
}

static void write_provider(const char *dir, const char *name, json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(1));

	free(tu_provider(dir, name, text));
	free(text);
	json_decref(doc);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *rsa = read_src("tests/jws/keys/rsa.pub.pem"), *ec = read_src("tests/jws/keys/ec256.pub.pem");
	char *ed = read_src("tests/jws/keys/ed25519.pub.pem"),
	     *jwks = read_src("tests/jws/valid/jwks-by-kid/jwks.json");
	char *url, *secret_path;
	sesame_error err;

	f->dir = tu_tmpdir("custom-token");
	f->mock = mockhttp_start();
	mockhttp_set_str(f->mock, "/jwks.json", 200, "application/json", jwks, "Cache-Control: max-age=600");
	url = mockhttp_url(f->mock, "/jwks.json");
	free(tu_main_config(f->dir, "\"app_id\": \"my-app\""));
	/* Three asymmetric keys, the default audience (app_id). */
	write_provider(f->dir, "static",
		       json_pack("{s:s, s:{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]}}", "type",
				 "custom-token", "config", "signing_keys", "alg", "RS256", "kid", "r", "key", rsa,
				 "alg", "ES256", "kid", "e", "key", ec, "alg", "EdDSA", "kid", "d", "key", ed));
	/* HS256 with the secret in a 0600 file, issuer, audiences, metadata. */
	secret_path = tu_write(f->dir, "hs.secret", HMAC_SECRET "\n", 0600);
	{
		char ref[4200];

		snprintf(ref, sizeof(ref), "@%s", secret_path);
		write_provider(
		    f->dir, "hmac",
		    json_pack("{s:s, s:{s:[{s:s, s:s}], s:s, s:[s, s], s:i}, s:[{s:s, s:b}, {s:s, s:s}, {s:s}, {s:s}]}",
			      "type", "custom-token", "config", "signing_keys", "alg", "HS256", "key", ref, "issuer",
			      "https://issuer.example", "audience", "my-app", "other", "leeway", 30, "metadata_fields",
			      "name", "email", "required", 1, "name", "profile.name", "field_name", "name", "name",
			      "https://example\\.com/roles", "name", "big"));
	}
	/* A JWKS URI on the loopback mock (test_mode is on). */
	write_provider(
	    f->dir, "remote",
	    json_pack("{s:s, s:{s:s, s:[s]}}", "type", "custom-token", "config", "jwk_uri", url, "audience", "my-app"));
	/* Instances that must fail to start, each for one reason. */
	write_provider(
	    f->dir, "bad-unknown-key",
	    json_pack("{s:s, s:{s:s, s:s}}", "type", "custom-token", "config", "jwk_uri", url, "audiences", "x"));
	write_provider(f->dir, "bad-short-secret",
		       json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "type", "custom-token", "config", "signing_keys", "alg",
				 "HS256", "key", "too-short"));
	write_provider(f->dir, "bad-both",
		       json_pack("{s:s, s:{s:s, s:[{s:s, s:s}]}}", "type", "custom-token", "config", "jwk_uri", url,
				 "signing_keys", "alg", "HS256", "key", HMAC_SECRET));
	write_provider(
	    f->dir, "bad-leeway",
	    json_pack("{s:s, s:{s:s, s:i}}", "type", "custom-token", "config", "jwk_uri", url, "leeway", 3600));
	write_provider(f->dir, "bad-four-keys",
		       json_pack("{s:s, s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}", "type", "custom-token",
				 "config", "signing_keys", "alg", "RS256", "key", rsa, "alg", "RS256", "key", rsa,
				 "alg", "RS256", "key", rsa, "alg", "RS256", "key", rsa));
	write_provider(
	    f->dir, "bad-https",
	    json_pack("{s:s, s:{s:s}}", "type", "custom-token", "config", "jwk_uri", "http://example.com/jwks.json"));
	f->ctx = sesame_new();
	sesame_set_logger(f->ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
	{
		char *main_path = tu_path(f->dir, "sesame.json");

		if (sesame_configure(f->ctx, main_path, 0, &err) != SESAME_OK)
			fail_msg("sesame_configure: %s", err.text);
		free(main_path);
	}
	free(secret_path);
	free(url);
	free(rsa);
	free(ec);
	free(ed);
	free(jwks);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sesame_free(f->ctx);
	mockhttp_stop(f->mock);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Sign `claims` (a JSON text; "$NOW" in it is not substituted: pass
 * numbers) with the private key `file` (NULL: the HMAC secret). */
static char *make_token(const char *alg, const char *file, const char *kid, json_t *claims)
{
	char *pem = file ? read_src(file) : strdup(HMAC_SECRET), *token = NULL;
	json_t *list = json_pack("[{s:s, s:s}]", "alg", alg, "key", pem);
	struct sesame_keys *keys = NULL;
	sesame_error err;

	if (kid)
		json_object_set_new(json_array_get(list, 0), "kid", json_string(kid));
	assert_int_equal(keys_from_config(list, &keys, &err), SESAME_OK);
	assert_int_equal(keys_sign(keys, NULL, NULL, claims, &token, &err), SESAME_OK);
	keys_free(keys);
	json_decref(list);
	json_decref(claims);
	free(pem);
	return token;
}

static json_int_t now_plus(json_int_t s)
{
	return (json_int_t)time(NULL) + s;
}

/* Log in with {"token": token} (+ provider/options); returns the status. */
static int login(struct fixture *f, const char *provider, const char *token, json_t **identity, sesame_error *err)
{
	json_t *cred = json_pack("{s:s, s:s, s:{s:{s:s}}}", "token", token, "provider", "custom-token", "options",
				 "device", "deviceId", "0123");
	int rc;

	*identity = NULL;
	rc = sesame_verify_credential(f->ctx, provider, cred, identity, err);
	json_decref(cred);
	return rc;
}

static void expect_login(struct fixture *f, const char *provider, char *token, const char *uid)
{
	json_t *id = NULL;
	sesame_error err;

	if (login(f, provider, token, &id, &err) != SESAME_OK)
		fail_msg("%s: %s (%s)", provider, err.text, err.reason);
	assert_string_equal(json_string_value(json_object_get(id, "id")), uid);
	assert_string_equal(json_string_value(json_object_get(id, "provider")), provider);
	assert_string_equal(json_string_value(json_object_get(id, "provider_type")), "custom-token");
	json_decref(id);
	free(token);
}

static void expect_refusal(struct fixture *f, const char *provider, char *token, int status, const char *reason)
{
	json_t *id = NULL;
	sesame_error err;
	int rc = login(f, provider, token, &id, &err);

	if (rc != status || strcmp(err.reason, reason) != 0)
		fail_msg("%s: expected %s/%s, got %s/%s: %s", provider, sesame_status_name(status), reason,
			 sesame_status_name(rc), err.reason, err.text);
	assert_null(id);
	free(token);
}

static json_t *claims_for(const char *sub, const char *aud)
{
	return json_pack("{s:s, s:s, s:I, s:I}", "sub", sub, "aud", aud, "iat", now_plus(0), "exp", now_plus(600));
}

static void static_keys_logins(void **state)
{
	struct fixture *f = *state;

	expect_login(f, "static", make_token("RS256", "tests/jws/keys/rsa.pem", "r", claims_for("rs-user", "my-app")),
		     "rs-user");
	expect_login(f, "static", make_token("ES256", "tests/jws/keys/ec256.pem", "e", claims_for("es-user", "my-app")),
		     "es-user");
	expect_login(f, "static",
		     make_token("EdDSA", "tests/jws/keys/ed25519.pem", "d", claims_for("ed-user", "my-app")),
		     "ed-user");
	/* Without a kid, the key pinned to the token's alg. */
	expect_login(f, "static", make_token("ES256", "tests/jws/keys/ec256.pem", NULL, claims_for("es2", "my-app")),
		     "es2");
}

static void hmac_login_and_metadata(void **state)
{
	struct fixture *f = *state;
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:s, s:{s:s, s:i}, s:[s, s], s:s}", "sub", "hs-user", "iss",
				   "https://issuer.example", "aud", "other", "exp", now_plus(600), "email",
				   "a@example.com", "profile", "name", "Ada", "age", 36, "https://example.com/roles",
				   "admin", "ops", "unmapped", "x");
	char *big = malloc(5000), *token;
	json_t *id = NULL, *data;
	sesame_error err;

	memset(big, 'b', 4999);
	big[4999] = '\0';
	json_object_set_new(claims, "big", json_string(big));
	token = make_token("HS256", NULL, NULL, claims);
	assert_int_equal(login(f, "hmac", token, &id, &err), SESAME_OK);
	data = json_object_get(id, "data");
	assert_string_equal(json_string_value(json_object_get(id, "id")), "hs-user");
	assert_string_equal(json_string_value(json_object_get(data, "email")), "a@example.com");
	assert_string_equal(json_string_value(json_object_get(data, "name")), "Ada");
	assert_true(json_is_array(json_object_get(data, "https://example.com/roles")));
	assert_int_equal(json_array_size(json_object_get(data, "https://example.com/roles")), 2);
	/* Unmapped claims stay out; an optional field over 4096 characters too. */
	assert_null(json_object_get(data, "unmapped"));
	assert_null(json_object_get(data, "big"));
	assert_int_equal(json_object_size(data), 3);
	json_decref(id);
	free(token);
	free(big);
}

static void hmac_refusals(void **state)
{
	struct fixture *f = *state;

	/* The required metadata field is missing. */
	expect_refusal(f, "hmac",
		       make_token("HS256", NULL, NULL,
				  json_pack("{s:s, s:s, s:s, s:I}", "sub", "u", "iss", "https://issuer.example", "aud",
					    "my-app", "exp", now_plus(600))),
		       SESAME_REJECTED, "claim");
	/* Wrong issuer (a prefix), then no issuer at all. */
	expect_refusal(f, "hmac",
		       make_token("HS256", NULL, NULL,
				  json_pack("{s:s, s:s, s:s, s:I, s:s}", "sub", "u", "iss", "https://issuer", "aud",
					    "my-app", "exp", now_plus(600), "email", "e")),
		       SESAME_REJECTED, "claim");
	expect_refusal(f, "hmac",
		       make_token("HS256", NULL, NULL,
				  json_pack("{s:s, s:s, s:I, s:s}", "sub", "u", "aud", "my-app", "exp", now_plus(600),
					    "email", "e")),
		       SESAME_REJECTED, "claim");
	/* Expired beyond the leeway of 30 s. */
	expect_refusal(f, "hmac",
		       make_token("HS256", NULL, NULL,
				  json_pack("{s:s, s:s, s:s, s:I, s:s}", "sub", "u", "iss", "https://issuer.example",
					    "aud", "my-app", "exp", now_plus(-31), "email", "e")),
		       SESAME_REJECTED, "claim");
	/* Signed with another secret. */
	{
		json_t *list = json_pack("[{s:s, s:s}]", "alg", "HS256", "key", HMAC_SECRET "-other");
		json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:s}", "sub", "u", "iss", "https://issuer.example",
					   "aud", "my-app", "exp", now_plus(600), "email", "e");
		struct sesame_keys *keys = NULL;
		char *token = NULL;
		sesame_error err;

		assert_int_equal(keys_from_config(list, &keys, &err), SESAME_OK);
		assert_int_equal(keys_sign(keys, NULL, NULL, claims, &token, &err), SESAME_OK);
		expect_refusal(f, "hmac", token, SESAME_REJECTED, "sig");
		keys_free(keys);
		json_decref(list);
		json_decref(claims);
	}
}

static void static_refusals(void **state)
{
	struct fixture *f = *state;

	/* Audience other than app_id. */
	expect_refusal(f, "static", make_token("RS256", "tests/jws/keys/rsa.pem", "r", claims_for("u", "someone-else")),
		       SESAME_REJECTED, "claim");
	/* An HS256 token against the RSA key's kid: algorithm confusion. */
	expect_refusal(f, "static", make_token("HS256", NULL, "r", claims_for("u", "my-app")), SESAME_REJECTED, "alg");
	/* An unknown kid. */
	expect_refusal(f, "static", make_token("ES256", "tests/jws/keys/ec256.pem", "zz", claims_for("u", "my-app")),
		       SESAME_REJECTED, "nokey");
	/* Signed by a key that is not configured. */
	expect_refusal(f, "static", make_token("RS256", "tests/jws/keys/rsa-other.pem", "r", claims_for("u", "my-app")),
		       SESAME_REJECTED, "sig");
	/* No sub, an empty sub, a sub of 256 bytes. */
	expect_refusal(f, "static",
		       make_token("ES256", "tests/jws/keys/ec256.pem", "e",
				  json_pack("{s:s, s:I}", "aud", "my-app", "exp", now_plus(600))),
		       SESAME_REJECTED, "claim");
	expect_refusal(f, "static", make_token("ES256", "tests/jws/keys/ec256.pem", "e", claims_for("", "my-app")),
		       SESAME_REJECTED, "claim");
	{
		char sub[257];

		memset(sub, 's', 256);
		sub[256] = '\0';
		expect_refusal(f, "static",
			       make_token("ES256", "tests/jws/keys/ec256.pem", "e", claims_for(sub, "my-app")),
			       SESAME_REJECTED, "claim");
	}
	/* alg none, and garbage. */
	expect_refusal(f, "static", strdup("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0."), SESAME_REJECTED, "alg");
	expect_refusal(f, "static", strdup("not-a-token"), SESAME_MALFORMED, "malformed");
}

static void credential_shape(void **state)
{
	struct fixture *f = *state;
	json_t *id = NULL, *cred;
	sesame_error err;

	cred = json_pack("{s:s, s:s}", "token", "x.y.z", "password", "p");
	assert_int_equal(sesame_verify_credential(f->ctx, "static", cred, &id, &err), SESAME_MALFORMED);
	assert_string_equal(err.reason, "credential");
	assert_non_null(strstr(err.text, "password"));
	json_decref(cred);
	cred = json_pack("{s:i}", "token", 5);
	assert_int_equal(sesame_verify_credential(f->ctx, "static", cred, &id, &err), SESAME_MALFORMED);
	json_decref(cred);
	cred = json_object();
	assert_int_equal(sesame_verify_credential(f->ctx, "static", cred, &id, &err), SESAME_MALFORMED);
	json_decref(cred);
	assert_null(id);
}

static void jwks_uri_logins(void **state)
{
	struct fixture *f = *state;

	expect_login(f, "remote", make_token("RS256", "tests/jws/keys/rsa.pem", "rsa-1", claims_for("r1", "my-app")),
		     "r1");
	expect_login(f, "remote", make_token("ES256", "tests/jws/keys/ec256.pem", "ec-1", claims_for("e1", "my-app")),
		     "e1");
	expect_login(f, "remote", make_token("EdDSA", "tests/jws/keys/ed25519.pem", "ed-1", claims_for("d1", "my-app")),
		     "d1");
	/* Cached: one fetch for three logins. */
	assert_int_equal(mockhttp_hits(f->mock, "/jwks.json"), 1);
	/* An unknown kid refetches at most once per cooldown. */
	expect_refusal(f, "remote", make_token("ES256", "tests/jws/keys/ec256.pem", "new", claims_for("x", "my-app")),
		       SESAME_REJECTED, "nokey");
	expect_refusal(f, "remote", make_token("ES256", "tests/jws/keys/ec256.pem", "new2", claims_for("x", "my-app")),
		       SESAME_REJECTED, "nokey");
	assert_true(mockhttp_hits(f->mock, "/jwks.json") <= 2);
}

static void jwks_uri_unavailable(void **state)
{
	struct fixture *f = *state;

	mockhttp_set_str(f->mock, "/jwks.json", 500, "text/plain", "down", NULL);
	expect_refusal(f, "remote", make_token("ES256", "tests/jws/keys/ec256.pem", "ec-1", claims_for("e1", "my-app")),
		       SESAME_UNAVAILABLE, "jwks");
}

/* The instance named `name` is "failed" and its error mentions `word`. */
static void expect_failed(json_t *list, const char *name, const char *word)
{
	size_t i;
	json_t *p;

	json_array_foreach(list, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "name")), name) != 0)
			continue;
		assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
		if (!strstr(json_string_value(json_object_get(p, "error")), word))
			fail_msg("%s: error \"%s\" does not mention \"%s\"", name,
				 json_string_value(json_object_get(p, "error")), word);
		return;
	}
	fail_msg("no instance %s", name);
}

static void config_errors(void **state)
{
	struct fixture *f = *state;
	json_t *list = sesame_providers_json(f->ctx), *id = NULL, *cred;
	sesame_error err;

	assert_non_null(list);
	expect_failed(list, "bad-unknown-key", "audiences");
	expect_failed(list, "bad-short-secret", "32 bytes");
	expect_failed(list, "bad-both", "exactly one");
	expect_failed(list, "bad-leeway", "leeway");
	expect_failed(list, "bad-four-keys", "signing_keys");
	expect_failed(list, "bad-https", "https");
	json_decref(list);
	/* A failed instance fails closed. */
	cred = json_pack("{s:s}", "token", "a.b.c");
	assert_int_equal(sesame_verify_credential(f->ctx, "bad-both", cred, &id, &err), SESAME_UNAVAILABLE);
	json_decref(cred);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(static_keys_logins, setup, teardown),
	    cmocka_unit_test_setup_teardown(hmac_login_and_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(hmac_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(static_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(credential_shape, setup, teardown),
	    cmocka_unit_test_setup_teardown(jwks_uri_logins, setup, teardown),
	    cmocka_unit_test_setup_teardown(jwks_uri_unavailable, setup, teardown),
	    cmocka_unit_test_setup_teardown(config_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
