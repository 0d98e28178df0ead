/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/oauth2/socialutil.h — the shared set-up of the oauth2
 * provider tests (and of the tests that run those plugins elsewhere): a
 * sesame context configured from drop-ins in a temporary directory with a
 * loopback mock identity provider, secret files, ID tokens signed with the
 * test keys of tests/jws/keys, mock answers, logins that must succeed or
 * fail (and then write nothing), instances that must fail to start, the
 * sesame command line on the same configuration, and form decoding to read
 * what sesame sent the mock.
 */
#ifndef SESAME_SOCIALUTIL_H
#define SESAME_SOCIALUTIL_H

#include <jansson.h>
#include <sesame/sesame.h>

#include "mock/mockhttp.h"

struct social {
	char *dir;
	struct mockhttp *mock;
	sesame_ctx *ctx;
	char *jwks_url; /* the mock's /jwks.json, serving tests/jws/valid/jwks-by-kid */
};

/* A temp dir, a started mock serving /jwks.json, sesame.json written with
 * app_id "social-app" and test_mode.  Providers are added next. */
struct social *social_start(const char *tag);

/* Write providers.d/NAME.json from `doc` (stolen). */
void social_provider(struct social *s, const char *name, json_t *doc);

/* sesame_configure() the context; aborts the test on failure. */
void social_configure(struct social *s);

void social_stop(struct social *s);

/* A cmocka teardown: social_stop(*state). */
int social_teardown(void **state);

/* The RSA test key whose public half the mock's JWKS serves as kid
 * SOCIAL_RSA_KID, and another RSA key it does not serve. */
#define SOCIAL_RSA_KEY "tests/jws/keys/rsa.pem"
#define SOCIAL_RSA_KID "rsa-1"
#define SOCIAL_OTHER_KEY "tests/jws/keys/rsa-other.pem"

/* `claims` (stolen) signed RS256 with SOCIAL_RSA_KEY, kid SOCIAL_RSA_KID. */
char *social_sign_rsa(json_t *claims);

/* `claims` with `key` set to `value` (stolen), or removed when NULL. */
json_t *social_with(json_t *claims, const char *key, json_t *value);

/* Copy the source tree's file `src` to dir/NAME, mode 0600 as secrets must
 * be; the "@/path" reference a configuration names it by, malloc'd. */
char *social_secret_file(struct social *s, const char *name, const char *src);

/* The mock answers `path` with `status` and the JSON `reply` (stolen). */
void social_set_json(struct social *s, const char *path, int status, json_t *reply);

/* In sesame_providers_json()'s `list`, instance `name` failed to start
 * with an error that mentions `word`. */
void social_expect_failed(json_t *list, const char *name, const char *word);

/* `sesame --config dir/sesame.json login PROVIDER '{"id_token": TOKEN}'`:
 * its exit status, stdout and stderr in *out and *err (malloc'd). */
int social_cli_login(struct social *s, const char *provider, const char *token, char **out, char **err);

/* A file of the source tree, malloc'd. */
char *social_read_src(const char *rel);

/* A compact JWS of `claims` (stolen) signed with `alg` and the private key
 * in `keyfile` (relative to the source tree), header kid `kid` (or none). */
char *social_sign(const char *alg, const char *keyfile, const char *kid, json_t *claims);

/* time(NULL) + delta. */
json_int_t social_now(json_int_t delta);

size_t social_count_users(struct social *s);

/* sesame_login() with `cred` (stolen); the session, or the test fails. */
json_t *social_login(struct social *s, const char *provider, json_t *cred);

/* sesame_verify_credential() with `cred` (stolen); the identity, or the test fails. */
json_t *social_identity(struct social *s, const char *provider, json_t *cred);

/* sesame_login() with `cred` (stolen) must fail with `status` and `reason`
 * and create no user. */
void social_refuse(struct social *s, const char *provider, json_t *cred, int status, const char *reason);

/* The decoded value of `name` in an x-www-form-urlencoded `form`,
 * malloc'd; NULL when absent. */
char *social_form_value(const char *form, const char *name);

/* The JSON payload of a compact JWS (not verified), a new reference. */
json_t *social_jws_payload(const char *token);

#endif
