/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/test-metadata-fields.c — integration: a drop-in's metadata_fields
 * applied by the core for every built-in provider type, the real plugins
 * loaded through sesame_configure(): each instance starts with the key
 * set, the configured fields (dot paths, field_name) land in the identity
 * and the user's profile, a missing required field refuses the login and
 * writes nothing, and without the key each type keeps its documented
 * default set, the standard fields as strings and the picture under both
 * of its names.  The social providers run against a loopback mock.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "providers/oauth2/socialutil.h"
#include "testutil.h"

#define FB_APP "1234567890"
#define FB_SECRET "fb-app-secret-0123456789"
#define APPLE_ID "com.example.app"
#define HMAC_SECRET "metadata-test-secret-0123456789abcdefghij"

/* The custom-function program: what it answers depends on "who". */
static const char program[] =
    "#!/bin/sh\n"
    "IFS= read -r cred\n"
    "case \"$cred\" in\n"
    "*'\"who\":\"full\"'*) echo '{\"id\": \"cf-full\", \"name\": \"Ann\", \"data\": "
    "{\"email\": \"ann@example.com\", \"age\": 36, \"min_age\": 18, \"picture\": "
    "\"https://img.example/ann.png\", \"address\": {\"city\": \"Paris\"}, \"a.b\": \"dotted\"}}' ;;\n"
    "*) echo '{\"id\": \"cf-bare\"}' ;;\n"
    "esac\n";

static json_t *field(const char *name, const char *field_name, int required)
{
	json_t *f = json_pack("{s:s}", "name", name);

	if (field_name)
		json_object_set_new(f, "field_name", json_string(field_name));
	if (required >= 0)
		json_object_set_new(f, "required", json_boolean(required));
	return f;
}

/* A drop-in of `type` with `config` (stolen) and `fields` (stolen, NULL: none). */
static void instance(struct social *s, const char *name, const char *type, json_t *config, json_t *fields)
{
	json_t *doc = json_pack("{s:s, s:o}", "type", type, "config", config);

	if (fields)
		json_object_set_new(doc, "metadata_fields", fields);
	social_provider(s, name, doc);
}

static int setup(void **state)
{
	struct social *s = social_start("metadata");
	char *graph = mockhttp_url(s->mock, ""), *prog = tu_write(s->dir, "cf.sh", program, 0755);
	char *secret = tu_write(s->dir, "hs.secret", HMAC_SECRET, 0600), ref[4200];

	snprintf(ref, sizeof(ref), "@%s", secret);
	instance(s, "g", "oauth2-google", json_pack("{s:s, s:s}", "client_id", "web-client", "jwks_uri", s->jwks_url),
		 NULL);
	instance(s, "g-meta", "oauth2-google",
		 json_pack("{s:s, s:s}", "client_id", "web-client", "jwks_uri", s->jwks_url),
		 json_pack("[o, o, o]", field("locale", NULL, 1), field("picture", NULL, -1),
			   field("first_name", "given", 0)));
	instance(s, "fb", "oauth2-facebook",
		 json_pack("{s:s, s:s, s:s, s:s}", "client_id", FB_APP, "client_secret", FB_SECRET, "graph_uri", graph,
			   "fields", "id,name,first_name,last_name,picture,gender,birthday,age_range,email,location"),
		 NULL);
	instance(s, "fb-meta", "oauth2-facebook",
		 json_pack("{s:s, s:s, s:s, s:s}", "client_id", FB_APP, "client_secret", FB_SECRET, "graph_uri", graph,
			   "fields", "id,name,age_range,location"),
		 json_pack("[o, o, o]", field("min_age", NULL, 1), field("location.name", "city", -1),
			   field("max_age", NULL, 0)));
	instance(s, "fb-strict", "oauth2-facebook",
		 json_pack("{s:s, s:s, s:s}", "client_id", FB_APP, "client_secret", FB_SECRET, "graph_uri", graph),
		 json_pack("[o]", field("max_age", NULL, 1)));
	instance(s, "apple", "oauth2-apple", json_pack("{s:s, s:s}", "client_id", APPLE_ID, "jwks_uri", s->jwks_url),
		 NULL);
	instance(s, "apple-meta", "oauth2-apple",
		 json_pack("{s:s, s:s}", "client_id", APPLE_ID, "jwks_uri", s->jwks_url),
		 json_pack("[o, o]", field("name", NULL, 1), field("email", "mail", -1)));
	instance(
	    s, "ct", "custom-token",
	    json_pack("{s:[{s:s, s:s}], s:[s]}", "signing_keys", "alg", "HS256", "key", ref, "audience", "social-app"),
	    NULL);
	instance(
	    s, "ct-meta", "custom-token",
	    json_pack("{s:[{s:s, s:s}], s:[s]}", "signing_keys", "alg", "HS256", "key", ref, "audience", "social-app"),
	    json_pack("[o, o]", field("profile.email", "email", 1), field("https://example\\.com/roles", "roles", 0)));
	instance(s, "anon", "anon-user", json_object(), NULL);
	instance(s, "anon-meta", "anon-user", json_object(), json_pack("[o]", field("name", NULL, 0)));
	instance(s, "anon-strict", "anon-user", json_object(), json_pack("[o]", field("name", NULL, 1)));
	instance(s, "cf", "custom-function", json_pack("{s:[s], s:i}", "command", prog, "timeout", 5), NULL);
	instance(s, "cf-meta", "custom-function", json_pack("{s:[s], s:i}", "command", prog, "timeout", 5),
		 json_pack("[o, o, o, o]", field("address.city", "city", 1), field("email", NULL, 1),
			   field("a\\.b", NULL, -1), field("age", "years", -1)));
	instance(s, "ak", "api-key", json_object(), NULL);
	instance(s, "ak-meta", "api-key", json_object(), json_pack("[o]", field("name", "key_name", 1)));
	instance(s, "up", "local-userpass", json_pack("{s:b, s:{s:i}}", "auto_confirm", 1, "scrypt", "log2_n", 10),
		 NULL);
	instance(s, "up-meta", "local-userpass", json_pack("{s:b, s:{s:i}}", "auto_confirm", 1, "scrypt", "log2_n", 10),
		 json_pack("[o]", field("email", "mail", 1)));
	social_configure(s);
	free(graph);
	free(prog);
	free(secret);
	*state = s;
	return 0;
}

/* The user's profile data after a login of `cred` (stolen) through `provider`. */
static json_t *profile_after_login(struct social *s, const char *provider, json_t *cred)
{
	json_t *session = social_login(s, provider, cred), *user = NULL, *data;
	sesame_caller *sys = sesame_caller_system(s->ctx);
	sesame_error err;

	assert_int_equal(sesame_user_get(sys, json_string_value(json_object_get(session, "user_id")), &user, &err),
			 SESAME_OK);
	data = json_incref(json_object_get(user, "data"));
	json_decref(user);
	json_decref(session);
	sesame_caller_free(sys);
	return data;
}

static void assert_str(const json_t *o, const char *key, const char *expect)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v || strcmp(v, expect) != 0) {
		char *dump = json_dumps(o, JSON_COMPACT);

		fail_msg("\"%s\" is not \"%s\" in %s", key, expect, dump);
	}
}

static void assert_keys(const json_t *o, size_t n)
{
	if (json_object_size(o) != n) {
		char *dump = json_dumps(o, JSON_COMPACT);

		fail_msg("expected %zu members in %s", n, dump);
	}
}

static void test_every_type_ready_with_metadata_fields(void **state)
{
	struct social *s = *state;
	json_t *list = sesame_providers_json(s->ctx), *p;
	size_t i;

	assert_int_equal(json_array_size(list), 18);
	json_array_foreach (list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "state")), "ready") != 0)
			fail_msg("%s is %s: %s", json_string_value(json_object_get(p, "name")),
				 json_string_value(json_object_get(p, "state")),
				 json_string_value(json_object_get(p, "error")));
	json_decref(list);
}

/* ---- oauth2-google ------------------------------------------------------- */

static json_t *google_cred(const char *sub, const char *locale)
{
	json_t *claims =
	    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:b, s:s, s:s, s:s, s:s}", "iss", "https://accounts.google.com",
		      "aud", "web-client", "sub", sub, "iat", social_now(0), "exp", social_now(3600), "email",
		      "ada@example.com", "email_verified", 1, "name", "Ada Lovelace", "given_name", "Ada",
		      "family_name", "Lovelace", "picture", "https://lh3.example/ada.png");
	char *token;
	json_t *cred;

	if (locale)
		json_object_set_new(claims, "locale", json_string(locale));
	token = social_sign_rsa(claims);
	cred = json_pack("{s:s}", "id_token", token);
	free(token);
	return cred;
}

static void test_google(void **state)
{
	struct social *s = *state;
	json_t *d = profile_after_login(s, "g", google_cred("g-1", "en-GB"));

	/* The default set: App Services' five fields, the picture twice; no locale. */
	assert_str(d, "name", "Ada Lovelace");
	assert_str(d, "first_name", "Ada");
	assert_str(d, "last_name", "Lovelace");
	assert_str(d, "email", "ada@example.com");
	assert_str(d, "picture", "https://lh3.example/ada.png");
	assert_str(d, "picture_url", "https://lh3.example/ada.png");
	assert_keys(d, 6);
	json_decref(d);
	/* Configured: a field only this configuration asks for, a renamed one. */
	d = profile_after_login(s, "g-meta", google_cred("g-2", "fr"));
	assert_str(d, "locale", "fr");
	assert_str(d, "given", "Ada");
	assert_str(d, "picture", "https://lh3.example/ada.png");
	assert_str(d, "picture_url", "https://lh3.example/ada.png");
	assert_keys(d, 4);
	json_decref(d);
	/* Required and missing: refused, nobody created. */
	social_refuse(s, "g-meta", google_cred("g-3", NULL), SESAME_REJECTED, "claim");
}

/* ---- oauth2-facebook ----------------------------------------------------- */

static void set_facebook_user(struct social *s, const char *id)
{
	social_set_json(s, "/debug_token", 200,
			json_pack("{s:{s:s, s:s, s:I, s:b, s:s}}", "data", "app_id", FB_APP, "type", "USER",
				  "expires_at", social_now(3600), "is_valid", 1, "user_id", id));
	social_set_json(s, "/me", 200,
			json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:s}}, s:s, s:{s:i}, s:{s:s, s:s}}", "id", id, "name",
				  "Ada Lovelace", "first_name", "Ada", "last_name", "Lovelace", "picture", "data",
				  "url", "https://fb.example/ada.jpg", "email", "ada@example.com", "age_range", "min",
				  21, "location", "id", "1", "name", "London"));
}

static void test_facebook(void **state)
{
	struct social *s = *state;
	json_t *d;

	set_facebook_user(s, "10001");
	d = profile_after_login(s, "fb", json_pack("{s:s}", "accessToken", "EAAB-token-1"));
	/* The granted fields of the default set; min_age a string; location
	 * only when configured. */
	assert_str(d, "name", "Ada Lovelace");
	assert_str(d, "first_name", "Ada");
	assert_str(d, "last_name", "Lovelace");
	assert_str(d, "email", "ada@example.com");
	assert_str(d, "min_age", "21");
	assert_str(d, "picture", "https://fb.example/ada.jpg");
	assert_str(d, "picture_url", "https://fb.example/ada.jpg");
	assert_keys(d, 7);
	json_decref(d);
	set_facebook_user(s, "10002");
	d = profile_after_login(s, "fb-meta", json_pack("{s:s}", "accessToken", "EAAB-token-2"));
	assert_str(d, "min_age", "21");
	assert_str(d, "city", "London");
	assert_keys(d, 2);
	json_decref(d);
	set_facebook_user(s, "10003");
	social_refuse(s, "fb-strict", json_pack("{s:s}", "accessToken", "EAAB-token-3"), SESAME_REJECTED, "claim");
}

/* ---- oauth2-apple -------------------------------------------------------- */

static json_t *apple_cred(const char *sub, json_t *user)
{
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", "https://appleid.apple.com",
				   "aud", APPLE_ID, "sub", sub, "iat", social_now(0), "exp", social_now(600), "email",
				   "x7@privaterelay.appleid.com", "email_verified", "true", "is_private_email", "true");
	char *token = social_sign_rsa(claims);
	json_t *cred = json_pack("{s:s}", "id_token", token);

	if (user)
		json_object_set_new(cred, "user", user);
	free(token);
	return cred;
}

static void test_apple(void **state)
{
	struct social *s = *state;
	json_t *d;

	/* The first authorization: the name beside the token, as the form_post
	 * sends it (JSON text). */
	d = profile_after_login(
	    s, "apple",
	    apple_cred("001.a", json_string("{\"name\":{\"firstName\":\"Ada\",\"lastName\":\"Lovelace\"},"
					    "\"email\":\"someone@else.example\"}")));
	assert_str(d, "name", "Ada Lovelace");
	assert_str(d, "first_name", "Ada");
	assert_str(d, "last_name", "Lovelace");
	assert_str(d, "email", "x7@privaterelay.appleid.com");
	assert_true(json_is_true(json_object_get(d, "is_private_email")));
	assert_keys(d, 5);
	json_decref(d);
	/* As an object too; a configured required name is there. */
	d = profile_after_login(s, "apple-meta",
				apple_cred("001.b", json_pack("{s:{s:s}}", "name", "firstName", "Grace")));
	assert_str(d, "name", "Grace");
	assert_str(d, "mail", "x7@privaterelay.appleid.com");
	assert_keys(d, 2);
	json_decref(d);
	/* Later logins carry no name: refused where it is required. */
	social_refuse(s, "apple-meta", apple_cred("001.c", NULL), SESAME_REJECTED, "claim");
	social_refuse(s, "apple", apple_cred("001.d", json_string("not json")), SESAME_MALFORMED, "credential");
}

/* ---- custom-token -------------------------------------------------------- */

/* A custom JWT signed with the instances' HS256 secret. */
static char *ct_token(json_t *claims)
{
	json_t *list = json_pack("[{s:s, s:s}]", "alg", "HS256", "key", HMAC_SECRET);
	struct sesame_keys *keys = NULL;
	char *token = NULL;
	sesame_error err;

	assert_int_equal(keys_from_config(list, &keys, &err), SESAME_OK);
	assert_int_equal(keys_sign(keys, NULL, NULL, claims, &token, &err), SESAME_OK);
	keys_free(keys);
	json_decref(list);
	json_decref(claims);
	return token;
}

static json_t *ct_cred(const char *sub, bool with_email)
{
	json_t *claims =
	    json_pack("{s:s, s:s, s:I, s:I, s:s, s:[s, s]}", "sub", sub, "aud", "social-app", "iat", social_now(0),
		      "exp", social_now(600), "name", "C", "https://example.com/roles", "admin", "ops");
	char *token;
	json_t *cred;

	if (with_email)
		json_object_set_new(claims, "profile", json_pack("{s:s}", "email", "c@example.com"));
	token = ct_token(claims);
	cred = json_pack("{s:s}", "token", token);
	free(token);
	return cred;
}

static void test_custom_token(void **state)
{
	struct social *s = *state;
	json_t *d = profile_after_login(s, "ct", ct_cred("ct-1", true));

	/* App Services keeps no claim of a custom JWT that is not configured. */
	assert_keys(d, 0);
	json_decref(d);
	d = profile_after_login(s, "ct-meta", ct_cred("ct-2", true));
	assert_str(d, "email", "c@example.com");
	assert_int_equal(json_array_size(json_object_get(d, "roles")), 2);
	assert_keys(d, 2);
	json_decref(d);
	social_refuse(s, "ct-meta", ct_cred("ct-3", false), SESAME_REJECTED, "claim");
}

/* ---- anon-user ----------------------------------------------------------- */

static void test_anon_user(void **state)
{
	struct social *s = *state;
	json_t *d = profile_after_login(s, "anon", json_object());

	assert_keys(d, 0);
	json_decref(d);
	d = profile_after_login(s, "anon-meta", json_object());
	assert_keys(d, 0);
	json_decref(d);
	/* An anonymous identity has no name: a configuration that requires one
	 * refuses every login and creates nobody. */
	social_refuse(s, "anon-strict", json_object(), SESAME_REJECTED, "claim");
}

/* ---- custom-function ----------------------------------------------------- */

static void test_custom_function(void **state)
{
	struct social *s = *state;
	json_t *d = profile_after_login(s, "cf", json_pack("{s:s}", "who", "full"));

	/* No default set: all the program returned; standard fields strings. */
	assert_str(d, "name", "Ann");
	assert_str(d, "email", "ann@example.com");
	assert_str(d, "min_age", "18");
	assert_int_equal(json_integer_value(json_object_get(d, "age")), 36);
	assert_str(d, "picture", "https://img.example/ann.png");
	assert_str(d, "picture_url", "https://img.example/ann.png");
	assert_str(json_object_get(d, "address"), "city", "Paris");
	assert_str(d, "a.b", "dotted");
	assert_keys(d, 8);
	json_decref(d);
	/* Dot paths, an escaped dot, field_name; the program's name not asked for. */
	d = profile_after_login(s, "cf-meta", json_pack("{s:s}", "who", "full"));
	assert_str(d, "city", "Paris");
	assert_str(d, "email", "ann@example.com");
	assert_str(d, "a.b", "dotted");
	assert_int_equal(json_integer_value(json_object_get(d, "years")), 36);
	assert_keys(d, 4);
	json_decref(d);
	social_refuse(s, "cf-meta", json_pack("{s:s}", "who", "bare"), SESAME_REJECTED, "claim");
}

/* ---- api-key ------------------------------------------------------------- */

/* A key created by a user logged in with a custom-function identity. */
static char *new_key(struct social *s, const char *instance, const char *who)
{
	json_t *session = social_login(s, "cf", json_pack("{s:s}", "who", who)), *out = NULL, *args;
	sesame_caller *caller = NULL;
	sesame_error err;
	char *key;

	assert_int_equal(sesame_caller_from_access_token(
			     s->ctx, json_string_value(json_object_get(session, "access_token")), &caller, &err),
			 SESAME_OK);
	args = json_pack("{s:s}", "name", "build-bot");
	if (sesame_provider_action_as(s->ctx, caller, instance, "create", args, &out, &err) != SESAME_OK)
		fail_msg("create: %s", err.text);
	key = strdup(json_string_value(json_object_get(out, "key")));
	json_decref(out);
	json_decref(args);
	json_decref(session);
	sesame_caller_free(caller);
	return key;
}

/* The data of the api-key identity of the user behind `session`. */
static json_t *key_identity_data(struct social *s, const char *instance, const char *key)
{
	json_t *id = social_identity(s, instance, json_pack("{s:s}", "key", key));
	json_t *d = json_incref(json_object_get(id, "data"));

	json_decref(id);
	return d;
}

static void test_api_key(void **state)
{
	struct social *s = *state;
	char *key = new_key(s, "ak", "full"), *key2 = new_key(s, "ak-meta", "bare");
	json_t *d = key_identity_data(s, "ak", key);

	assert_str(d, "name", "build-bot");
	assert_keys(d, 1);
	json_decref(d);
	d = key_identity_data(s, "ak-meta", key2);
	assert_str(d, "key_name", "build-bot");
	assert_keys(d, 1);
	json_decref(d);
	free(key);
	free(key2);
}

/* ---- local-userpass ------------------------------------------------------ */

static void test_local_userpass(void **state)
{
	struct social *s = *state;
	const char *names[] = {"up", "up-meta"};
	json_t *d, *args, *out = NULL;
	sesame_error err;
	size_t i;

	for (i = 0; i < 2; i++) {
		args = json_pack("{s:s, s:s}", "email", "lu@example.com", "password", "correct horse");
		if (sesame_provider_action(s->ctx, names[i], "register", args, &out, &err) != SESAME_OK)
			fail_msg("register: %s", err.text);
		json_decref(out);
		json_decref(args);
		out = NULL;
	}
	d = profile_after_login(s, "up",
				json_pack("{s:s, s:s}", "username", "lu@example.com", "password", "correct horse"));
	assert_str(d, "email", "lu@example.com");
	assert_keys(d, 1);
	json_decref(d);
	d = profile_after_login(s, "up-meta",
				json_pack("{s:s, s:s}", "username", "lu@example.com", "password", "correct horse"));
	assert_str(d, "mail", "lu@example.com");
	assert_keys(d, 1);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_type_ready_with_metadata_fields, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_google, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_facebook, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_apple, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_custom_token, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_anon_user, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_custom_function, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_api_key, setup, social_teardown),
	    cmocka_unit_test_setup_teardown(test_local_userpass, setup, social_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
