/* SPDX-License-Identifier: MIT */
/* tests/providers/oauth2/socialutil.c — the helpers of socialutil.h. */
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
#include "providers/oauth2/socialutil.h"
#include "testutil.h"

char *social_read_src(const char *rel)
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

struct social *social_start(const char *tag)
{
	struct social *s = calloc(1, sizeof(*s));
	char *jwks = social_read_src("tests/jws/valid/jwks-by-kid/jwks.json");

	assert_non_null(s);
	s->dir = tu_tmpdir(tag);
	s->mock = mockhttp_start();
	mockhttp_set_str(s->mock, "/jwks.json", 200, "application/json", jwks, "Cache-Control: max-age=600");
	s->jwks_url = mockhttp_url(s->mock, "/jwks.json");
	free(tu_main_config(s->dir, "\"app_id\": \"social-app\""));
	free(jwks);
	return s;
}

void social_provider(struct social *s, const char *name, json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(1));

	assert_non_null(text);
	free(tu_provider(s->dir, name, text));
	free(text);
	json_decref(doc);
}

void social_configure(struct social *s)
{
	char *main_path = tu_path(s->dir, "sesame.json");
	sesame_error err;

	s->ctx = sesame_new();
	sesame_set_logger(s->ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(s->ctx, main_path, 0, &err) != SESAME_OK)
		fail_msg("sesame_configure: %s", err.text);
	free(main_path);
}

void social_stop(struct social *s)
{
	if (!s)
		return;
	sesame_free(s->ctx);
	mockhttp_stop(s->mock);
	tu_rmrf(s->dir);
	free(s->dir);
	free(s->jwks_url);
	free(s);
}

int social_teardown(void **state)
{
	social_stop(*state);
	return 0;
}

char *social_sign_rsa(json_t *claims)
{
	return social_sign("RS256", SOCIAL_RSA_KEY, SOCIAL_RSA_KID, claims);
}

json_t *social_with(json_t *claims, const char *key, json_t *value)
{
	if (value)
		json_object_set_new(claims, key, value);
	else
		json_object_del(claims, key);
	return claims;
}

char *social_secret_file(struct social *s, const char *name, const char *src)
{
	char *pem = social_read_src(src), *path = tu_write(s->dir, name, pem, 0600), *ref = malloc(strlen(path) + 2);

	assert_non_null(ref);
	ref[0] = '@';
	memcpy(ref + 1, path, strlen(path) + 1);
	free(pem);
	free(path);
	return ref;
}

void social_set_json(struct social *s, const char *path, int status, json_t *reply)
{
	char *text = json_dumps(reply, 0);

	mockhttp_set_str(s->mock, path, status, "application/json", text, NULL);
	free(text);
	json_decref(reply);
}

void social_expect_failed(json_t *list, const char *name, const char *word)
{
	size_t i;
	json_t *p;

	json_array_foreach (list, i, p) {
		const char *error = json_string_value(json_object_get(p, "error"));

		if (strcmp(json_string_value(json_object_get(p, "name")), name) != 0)
			continue;
		assert_string_equal(json_string_value(json_object_get(p, "state")), "failed");
		if (!error || !strstr(error, word))
			fail_msg("%s: error \"%s\" does not mention \"%s\"", name, error ? error : "", word);
		return;
	}
	fail_msg("no instance %s", name);
}

int social_cli_login(struct social *s, const char *provider, const char *token, char **out, char **err)
{
	char *config = tu_path(s->dir, "sesame.json"), cmd[8192];
	int rc;

	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' login %s '{\"id_token\": \"%s\"}'", tu_env("SESAME_CLI"), config,
		 provider, token);
	rc = tu_run(cmd, out, err);
	free(config);
	return rc;
}

char *social_sign(const char *alg, const char *keyfile, const char *kid, json_t *claims)
{
	char *pem = social_read_src(keyfile), *token = NULL;
	json_t *list = json_pack("[{s:s, s:s}]", "alg", alg, "key", pem);
	struct sesame_keys *keys = NULL;
	sesame_error err;

	if (kid)
		json_object_set_new(json_array_get(list, 0), "kid", json_string(kid));
	if (keys_from_config(list, &keys, &err) != SESAME_OK)
		fail_msg("test key %s: %s", keyfile, err.text);
	assert_int_equal(keys_sign(keys, NULL, NULL, claims, &token, &err), SESAME_OK);
	keys_free(keys);
	json_decref(list);
	json_decref(claims);
	free(pem);
	return token;
}

json_int_t social_now(json_int_t delta)
{
	return (json_int_t)time(NULL) + delta;
}

size_t social_count_users(struct social *s)
{
	sesame_caller *sys = sesame_caller_system(s->ctx);
	json_t *users = NULL;
	sesame_error err;
	size_t n;

	assert_int_equal(sesame_users_list(sys, NULL, 1000, &users, &err), SESAME_OK);
	n = json_array_size(users);
	json_decref(users);
	sesame_caller_free(sys);
	return n;
}

json_t *social_login(struct social *s, const char *provider, json_t *cred)
{
	json_t *session = NULL;
	sesame_error err;

	if (sesame_login(s->ctx, provider, cred, NULL, &session, &err) != SESAME_OK)
		fail_msg("login %s: %s/%s: %s", provider, sesame_status_name(err.status), err.reason, err.text);
	json_decref(cred);
	return session;
}

json_t *social_identity(struct social *s, const char *provider, json_t *cred)
{
	json_t *identity = NULL;
	sesame_error err;

	if (sesame_verify_credential(s->ctx, provider, cred, &identity, &err) != SESAME_OK)
		fail_msg("verify %s: %s/%s: %s", provider, sesame_status_name(err.status), err.reason, err.text);
	json_decref(cred);
	return identity;
}

void social_refuse(struct social *s, const char *provider, json_t *cred, int status, const char *reason)
{
	size_t before = social_count_users(s);
	json_t *session = NULL;
	sesame_error err;
	int rc = sesame_login(s->ctx, provider, cred, NULL, &session, &err);

	if (rc != status || strcmp(err.reason, reason) != 0)
		fail_msg("%s: expected %s/%s, got %s/%s: %s", provider, sesame_status_name(status), reason,
			 sesame_status_name(rc), rc ? err.reason : "", rc ? err.text : "");
	assert_null(session);
	assert_int_equal(social_count_users(s), before);
	json_decref(cred);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

char *social_form_value(const char *form, const char *name)
{
	size_t n = strlen(name);
	const char *p = form;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			char *out = malloc(len), *o = out;
			size_t i;

			assert_non_null(out);
			for (i = n + 1; i < len; i++) {
				if (p[i] == '%' && i + 2 < len + 1 && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
					*o++ = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
					i += 2;
				} else {
					*o++ = p[i] == '+' ? ' ' : p[i];
				}
			}
			*o = '\0';
			return out;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

json_t *social_jws_payload(const char *token)
{
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	unsigned char *raw;
	size_t len = 0;
	json_t *doc;

	assert_non_null(dot2);
	raw = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
	assert_non_null(raw);
	doc = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	assert_non_null(doc);
	return doc;
}
