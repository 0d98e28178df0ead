/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-jws-cases.c — the data-driven JWS suite: every folder of
 * tests/jws/valid/ and tests/jws/invalid/ is one test, made of a token, its
 * keys (keys.json: a configured key list; jwks.json: a JWKS document),
 * optional rules.json and the expected outcome in `expect` ("OK" or
 * "STATUS reason").  Adding a token to refuse is adding a folder.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "testutil.h"

#define DEFAULT_NOW 1700000000

struct jws_case {
	char *dir;
	char *name;
};

/* The contents of dir/name, or NULL when there is no such file. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char *path = tu_path(dir, name), *buf = NULL;
	FILE *f = fopen(path, "rb");
	size_t cap = 0, n = 0, r;

	free(path);
	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static const char *status_word(int status)
{
	switch (status) {
	case SESAME_OK:
		return "OK";
	case SESAME_REJECTED:
		return "REJECTED";
	case SESAME_MALFORMED:
		return "MALFORMED";
	case SESAME_UNAVAILABLE:
		return "UNAVAILABLE";
	case SESAME_CONFIG:
		return "CONFIG";
	default:
		return "INTERNAL";
	}
}

/* A NULL-terminated copy of a JSON array of strings (borrowed strings). */
static const char **string_list(json_t *a)
{
	const char **list;
	size_t i;

	if (!a)
		return NULL;
	assert_true(json_is_array(a));
	list = calloc(json_array_size(a) + 1, sizeof(*list));
	assert_non_null(list);
	for (i = 0; i < json_array_size(a); i++)
		list[i] = json_string_value(json_array_get(a, i));
	return list;
}

static int load_keys(const char *dir, struct sesame_keys **keys, sesame_error *err)
{
	size_t len;
	char *text = slurp(dir, "keys.json", &len);
	int rc;

	if (text) {
		json_t *list = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

		assert_non_null(list);
		rc = keys_from_config(list, keys, err);
		json_decref(list);
	} else {
		text = slurp(dir, "jwks.json", &len);
		assert_non_null(text);
		*keys = calloc(1, sizeof(**keys));
		assert_non_null(*keys);
		rc = jwks_parse(text, len, false, NULL, NULL, dir, &(*keys)->fixed, err);
	}
	free(text);
	return rc;
}

/* For payloads that are not claims (RFC 8037's example): signature only. */
static int verify_signature_only(struct sesame_keys *keys, const char *token, sesame_error *err)
{
	struct jws_token t;
	size_t idx[8], n;
	int rc = jws_parse(token, 0, &t, err);

	if (rc != SESAME_OK)
		return rc;
	rc = jws_select_keys(keys->fixed, &t, NULL, idx, 8, &n, err);
	if (rc == SESAME_OK)
		rc = jws_check_signature(&keys->fixed->keys[idx[0]], &t, err);
	jws_token_clear(&t);
	return rc;
}

static void run_case(void **state)
{
	const struct jws_case *c = *state;
	char *token = slurp(c->dir, "token", NULL), *expect = slurp(c->dir, "expect", NULL);
	char *rtext = slurp(c->dir, "rules.json", NULL), *ctext = slurp(c->dir, "claims.json", NULL);
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = -1};
	json_t *r = rtext ? json_loads(rtext, JSON_REJECT_DUPLICATES, NULL) : json_object();
	const char **aud, **iss, **algs;
	struct sesame_keys *keys = NULL;
	json_t *claims = NULL;
	int64_t now = DEFAULT_NOW;
	char got[64];
	sesame_error err;
	int rc;

	assert_non_null(token);
	assert_non_null(expect);
	assert_non_null(r);
	chomp(token);
	chomp(expect);
	aud = string_list(json_object_get(r, "audiences"));
	iss = string_list(json_object_get(r, "issuers"));
	algs = string_list(json_object_get(r, "algorithms"));
	rules.audiences = aud;
	rules.issuers = iss;
	rules.algorithms = algs;
	if (json_object_get(r, "leeway"))
		rules.leeway = json_integer_value(json_object_get(r, "leeway"));
	rules.max_length = (size_t)json_integer_value(json_object_get(r, "max_length"));
	if (json_is_true(json_object_get(r, "exp_optional")))
		rules.flags |= SESAME_JWT_EXP_OPTIONAL;
	if (json_is_true(json_object_get(r, "all_audiences")))
		rules.flags |= SESAME_JWT_ALL_AUDIENCES;
	if (json_object_get(r, "now"))
		now = json_integer_value(json_object_get(r, "now"));

	err_clear(&err);
	rc = load_keys(c->dir, &keys, &err);
	if (rc == SESAME_OK) {
		if (json_is_true(json_object_get(r, "signature_only")))
			rc = verify_signature_only(keys, token, &err);
		else
			rc = keys_verify(keys, token, &rules, now, &claims, &err);
	}
	if (rc == SESAME_OK)
		snprintf(got, sizeof(got), "OK");
	else
		snprintf(got, sizeof(got), "%s %s", status_word(rc), err.reason);
	if (strcmp(got, expect) != 0)
		fail_msg("%s: expected \"%s\", got \"%s\" (%s)", c->name, expect, got, err.text);
	if (rc != SESAME_OK) {
		json_t *text = json_string(err.text);

		assert_int_equal(err.status, rc);
		assert_true(err.text[0] != '\0');
		/* Error texts end up in JSON bodies: jansson must take them,
		 * even when a quoted kid or alg was cut. */
		if (!text)
			fail_msg("%s: the error text is not valid UTF-8: %s", c->name, err.text);
		json_decref(text);
	}
	if (rc == SESAME_OK && ctext) {
		json_t *want = json_loads(ctext, 0, NULL);

		assert_non_null(want);
		if (!json_equal(want, claims))
			fail_msg("%s: the claims differ from claims.json", c->name);
		json_decref(want);
	}
	json_decref(claims);
	keys_free(keys);
	free(aud);
	free(iss);
	free(algs);
	json_decref(r);
	free(token);
	free(expect);
	free(rtext);
	free(ctext);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jws_case *)a)->name, ((const struct jws_case *)b)->name);
}

/* The cases of one folder (valid or invalid), sorted by name. */
static size_t list_cases(const char *kind, struct jws_case **out)
{
	char *dir = tu_path(tu_env("SESAME_TEST_SRCDIR"), kind);
	DIR *dh = opendir(dir);
	struct dirent *de;
	struct jws_case *cases = NULL;
	size_t n = 0;

	if (!dh) {
		fprintf(stderr, "cannot open %s\n", dir);
		abort();
	}
	while ((de = readdir(dh))) {
		char name[512];

		if (de->d_name[0] == '.')
			continue;
		cases = realloc(cases, (n + 1) * sizeof(*cases));
		assert_non_null(cases);
		cases[n].dir = tu_path(dir, de->d_name);
		snprintf(name, sizeof(name), "%s/%s", strrchr(kind, '/') + 1, de->d_name);
		cases[n].name = strdup(name);
		n++;
	}
	closedir(dh);
	free(dir);
	qsort(cases, n, sizeof(*cases), name_cmp);
	*out = cases;
	return n;
}

int main(void)
{
	struct jws_case *valid, *invalid;
	size_t nv = list_cases("tests/jws/valid", &valid), ni = list_cases("tests/jws/invalid", &invalid), i;
	struct CMUnitTest *tests = calloc(nv + ni, sizeof(*tests));
	int rc;

	if (!tests || nv < 20 || ni < 80) {
		fprintf(stderr, "the JWS case folders are missing or incomplete\n");
		return 1;
	}
	for (i = 0; i < nv + ni; i++) {
		struct jws_case *c = i < nv ? &valid[i] : &invalid[i - nv];

		tests[i].name = c->name;
		tests[i].test_func = run_case;
		tests[i].initial_state = c;
	}
	rc = _cmocka_run_group_tests("jws-cases", tests, nv + ni, NULL, NULL);
	for (i = 0; i < nv; i++) {
		free(valid[i].dir);
		free(valid[i].name);
	}
	for (i = 0; i < ni; i++) {
		free(invalid[i].dir);
		free(invalid[i].name);
	}
	free(valid);
	free(invalid);
	free(tests);
	return rc;
}
