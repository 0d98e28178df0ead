/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-login-json.c — how much JSON a login costs: jansson's
 * parsers and serializers are interposed by this program (it exports them,
 * so the core, the custom-token plugin and the sqlite store all call these
 * wrappers, and YAJL's yajl_alloc(), one per text the strict parse's fast
 * path reads) and counted around in-process logins with an RS256 custom
 * token, as bench/login.c makes them.  Inside the core identities are typed
 * records: JSON is only read and written at the ABI edges, and the counts
 * below are exact so that none creeps back.
 */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#ifdef HAVE_YAJL
#include <yajl/yajl_parse.h>
#endif

#include "internal.h"
#include "jose.h"
#include "testutil.h"

/* ---- the counters --------------------------------------------------------- */

/* measurements: json_dumpb() without a buffer, which only counts bytes. */
static unsigned long parses, serializations, measurements;
/* jansson's serializers call each other: count the outermost call only. */
static __thread int depth;

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

json_t *json_loads(const char *input, size_t flags, json_error_t *error)
{
	json_t *v;

	parses += depth++ == 0;
	v = REAL(json_loads)(input, flags, error);
	depth--;
	return v;
}

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
	json_t *v;

	parses += depth++ == 0;
	v = REAL(json_loadb)(buffer, buflen, flags, error);
	depth--;
	return v;
}

json_t *json_loadf(FILE *input, size_t flags, json_error_t *error)
{
	json_t *v;

	parses += depth++ == 0;
	v = REAL(json_loadf)(input, flags, error);
	depth--;
	return v;
}

json_t *json_load_file(const char *path, size_t flags, json_error_t *error)
{
	json_t *v;

	parses += depth++ == 0;
	v = REAL(json_load_file)(path, flags, error);
	depth--;
	return v;
}

#ifdef HAVE_YAJL
/* A text the strict parse's fast path takes is parsed by YAJL alone (one
 * yajl_alloc(), no json_loadb()); one it declines counts twice, which the
 * exact counts below would show. */
yajl_handle yajl_alloc(const yajl_callbacks *callbacks, yajl_alloc_funcs *afs, void *ctx)
{
	parses += depth == 0;
	return REAL(yajl_alloc)(callbacks, afs, ctx);
}
#endif

char *json_dumps(const json_t *json, size_t flags)
{
	char *s;

	serializations += depth++ == 0;
	s = REAL(json_dumps)(json, flags);
	depth--;
	return s;
}

size_t json_dumpb(const json_t *json, char *buffer, size_t size, size_t flags)
{
	size_t n;

	if (!buffer && size == 0)
		measurements += depth == 0;
	else
		serializations += depth == 0;
	depth++;
	n = REAL(json_dumpb)(json, buffer, size, flags);
	depth--;
	return n;
}

int json_dumpf(const json_t *json, FILE *output, size_t flags)
{
	int rc;

	serializations += depth++ == 0;
	rc = REAL(json_dumpf)(json, output, flags);
	depth--;
	return rc;
}

int json_dump_callback(const json_t *json, json_dump_callback_t callback, void *data, size_t flags)
{
	int rc;

	serializations += depth++ == 0;
	rc = REAL(json_dump_callback)(json, callback, data, flags);
	depth--;
	return rc;
}

/* ---- a context with a custom-token provider --------------------------------- */

#define APP "test-app"
#define ISSUER "https://issuer.example"

struct env {
	char *dir;
	sesame_ctx *ctx;
	struct sesame_keys *signer;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char *keys = tu_path(tu_env("SESAME_TEST_SRCDIR"), "tests/jws/keys"), *path, *pem, *drop, *text;
	json_t *conf;
	sesame_error err;

	e->dir = tu_tmpdir("login-json");
	drop = tu_mkdir(e->dir, "providers.d", 0755);
	path = tu_path(keys, "rsa.pub.pem");
	pem = slurp(path);
	free(path);
	conf = json_pack("{s:s, s:{s:[{s:s, s:s, s:s}], s:[s], s:s}, s:[{s:s}, {s:s}]}", "type", "custom-token",
			 "config", "signing_keys", "alg", "RS256", "kid", "k1", "key", pem, "audience", APP, "issuer",
			 ISSUER, "metadata_fields", "name", "email", "name", "name");
	text = json_dumps(conf, 0);
	free(tu_write(drop, "ct.json", text, 0644));
	free(text);
	json_decref(conf);
	free(pem);
	conf = json_pack("{s:s, s:s, s:[s], s:s, s:s}", "plugin_dir", tu_env("SESAME_TEST_PLUGINS"), "store_dir",
			 tu_env("SESAME_TEST_STORES"), "provider_dirs", drop, "state_dir", e->dir, "app_id", APP);
	text = json_dumps(conf, 0);
	path = tu_write(e->dir, "sesame.json", text, 0644);
	free(text);
	json_decref(conf);
	e->ctx = tu_context(path);
	free(path);
	path = tu_path(keys, "rsa.pem");
	pem = slurp(path);
	conf = json_pack("[{s:s, s:s, s:s}]", "alg", "RS256", "kid", "k1", "key", pem);
	assert_int_equal(keys_from_config(conf, &e->signer, &err), SESAME_OK);
	json_decref(conf);
	free(pem);
	free(path);
	free(drop);
	free(keys);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	keys_free(e->signer);
	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

/* The credential of a login as `sub`, made before anything is counted. */
static json_t *credential(struct env *e, const char *sub)
{
	json_int_t now = (json_int_t)time(NULL);
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "sub", sub, "aud", APP, "iss", ISSUER, "iat",
				   now, "exp", now + 600, "email", "someone@example.com", "name", "Some One"),
	       *cred;
	char *token = NULL;
	sesame_error err;

	assert_int_equal(keys_sign(e->signer, NULL, NULL, claims, &token, &err), SESAME_OK);
	cred = json_pack("{s:s}", "token", token);
	free(token);
	json_decref(claims);
	return cred;
}

/* Log in with `cred`, counting; the counts of this login. */
static void counted_login(struct env *e, const json_t *cred, unsigned long *p, unsigned long *s, unsigned long *m)
{
	json_t *session = NULL;
	sesame_error err;
	int rc;

	parses = serializations = measurements = 0;
	rc = sesame_login(e->ctx, "ct", cred, NULL, &session, &err);
	*p = parses;
	*s = serializations;
	*m = measurements;
	if (rc != SESAME_OK)
		fail_msg("login: %s", err.text);
	json_decref(session);
}

static void test_json_per_login(void **state)
{
	struct env *e = *state;
	json_t *warm = credential(e, "warm"), *first = credential(e, "alice"), *again = credential(e, "alice");
	unsigned long p, s, m;

	/* The first login of the process loads (or makes) the signing key. */
	counted_login(e, warm, &p, &s, &m);

	/*
	 * A first login: the user and the identity are written (their data
	 * serialized by the store: 2; empty private and custom data are not);
	 * the two tokens' payloads are written as text (core/sessions.c), not
	 * serialized.  The credential
	 * token's payload is parsed (1), nothing else: its header is the
	 * warm-up login's, which jws_parse() remembers, and the identity stays
	 * a struct.  Its kept data is measured once (jansson counts the bytes
	 * without building the text) against the size cap.
	 */
	counted_login(e, first, &p, &s, &m);
	assert_int_equal(p, 1);
	assert_int_equal(s, 2);
	assert_int_equal(m, 1);

	/*
	 * A returning login with the same profile: the credential token's
	 * payload (1 parse) and the store's reads of the identity's data and
	 * the user's (2); nothing else of the user is read again (no other identity, no
	 * private data), nothing of the identity or the user is rewritten but
	 * timestamps, and the tokens are written as text: nothing is
	 * serialized.
	 */
	counted_login(e, again, &p, &s, &m);
	assert_int_equal(p, 3);
	assert_int_equal(s, 0);
	assert_int_equal(m, 1);

	json_decref(warm);
	json_decref(first);
	json_decref(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_json_per_login, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
