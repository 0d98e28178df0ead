/*
 * tests/providers/oauth2/socialutil.h — helpers of the social provider tests: a
 * sesame context configured from drop-ins in a temporary directory with a
 * loopback mock identity provider, ID tokens signed with the test keys of
 * tests/jws/keys, logins that must succeed or fail (and then write
 * nothing), and form decoding to read what sesame sent the mock.
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
