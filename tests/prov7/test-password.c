/* tests/prov7/test-password.c — core/password.c through the host table:
 * scrypt PHC strings, verification, rehash detection, no truncation, and
 * the KDF-run counter that lets provider tests check that a path hashed
 * (hostile-inputs items 35–37) without timing it. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct env {
	char *dir, *main;
	sesame_ctx *ctx;
	sesame_instance *in;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096], *drop;
	sesame_error err;

	e->dir = tu_tmpdir("password");
	drop = tu_mkdir(e->dir, "providers.d", 0755);
	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
		 " \"app_id\": \"test-app\"}",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), drop, e->dir);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	free(tu_write(drop, "fix.json", "{\"type\": \"fixture-good\"}", 0644));
	free(drop);
	e->ctx = sesame_new();
	if (sesame_configure(e->ctx, e->main, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	e->in = ctx_instance(e->ctx, "fix");
	assert_non_null(e->in);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	sesame_free(e->ctx);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e);
	return 0;
}

static char *hash(struct env *e, const char *pw, size_t len, unsigned ln)
{
	char *phc = NULL;
	sesame_error err;

	if (host_services.password_hash(e->in, pw, len, ln, 8, 1, &phc, &err) != SESAME_OK)
		fail_msg("hash: %s", err.text);
	return phc;
}

static int check(struct env *e, const char *pw, size_t len, const char *phc, unsigned ln, int *weaker)
{
	sesame_error err;
	int match = -1;

	if (host_services.password_verify(e->in, pw, len, phc, ln, 8, 1, &match, weaker, &err) != SESAME_OK)
		fail_msg("verify: %s", err.text);
	return match;
}

static void test_hash_and_verify(void **state)
{
	struct env *e = *state;
	char *a = hash(e, "correct horse", 13, 10), *b = hash(e, "correct horse", 13, 10);
	uint64_t before;
	int weaker = -1;

	assert_int_equal(strncmp(a, "$scrypt$ln=10,r=8,p=1$", 22), 0);
	assert_string_not_equal(a, b); /* a fresh salt each time */
	before = atomic_load(&e->ctx->kdf_runs);
	assert_int_equal(check(e, "correct horse", 13, a, 10, &weaker), 1);
	assert_int_equal(weaker, 0);
	/* A wrong password runs the KDF just the same. */
	assert_int_equal(check(e, "correct horsf", 13, a, 10, NULL), 0);
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before + 2);
	/* Raised parameters: still matches, and says so. */
	assert_int_equal(check(e, "correct horse", 13, a, 11, &weaker), 1);
	assert_int_equal(weaker, 1);
	free(a);
	free(b);
}

/* Hostile item 36: the whole password counts, NUL bytes included. */
static void test_never_truncated(void **state)
{
	struct env *e = *state;
	char long_pw[130];
	char *phc;

	memset(long_pw, 'x', 129);
	long_pw[129] = '\0';
	phc = hash(e, long_pw, 129, 10);
	long_pw[128] = 'y';
	assert_int_equal(check(e, long_pw, 129, phc, 10, NULL), 0);
	assert_int_equal(check(e, long_pw, 128, phc, 10, NULL), 0);
	free(phc);
	phc = hash(e, "ab\0cd", 5, 10);
	assert_int_equal(check(e, "ab", 2, phc, 10, NULL), 0);
	assert_int_equal(check(e, "ab\0cd", 5, phc, 10, NULL), 1);
	free(phc);
}

static void test_bad_input_refused(void **state)
{
	static const char *const bad[] = {
	    "", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "$scrypt$ln=10,r=8,p=1$$aGFzaA",
	    "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$", "$scrypt$ln=99,r=8,p=1$c2FsdHNhbHQ$aGFzaA",
	    "$scrypt$ln=10,r=8,p=1$c2Fs-HNhbHQ$aGFzaA",
	};
	struct env *e = *state;
	char *phc = NULL;
	sesame_error err;
	uint64_t before = atomic_load(&e->ctx->kdf_runs);
	int match = -1;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(host_services.password_verify(e->in, "pw", 2, bad[i], 10, 8, 1, &match, NULL, &err),
				 SESAME_MALFORMED);
		assert_string_equal(err.reason, "hash");
		assert_int_equal(match, 0);
	}
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before);
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 9, 8, 1, &phc, &err), SESAME_USAGE);
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 21, 8, 1, &phc, &err), SESAME_USAGE);
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 10, 0, 1, &phc, &err), SESAME_USAGE);
	assert_null(phc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hash_and_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
