/* SPDX-License-Identifier: MIT */
/* tests/providers/local-userpass/test-password.c — core/password.c through the host table:
 * scrypt PHC strings, verification, rehash detection, no truncation, the
 * KDF-run counter that lets provider tests check that a path hashed
 * (rehash, unknown user, wrong password alike) without timing it, and the
 * memory budget every derivation runs within. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct env {
	char *dir, *main;
	sesame_ctx *ctx;
	sesame_instance *in;
};

/* A context whose main file also holds `extra` members. */
static struct env *env_new(const char *extra)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096], *drop;
	sesame_error err;

	e->dir = tu_tmpdir("password");
	drop = tu_mkdir(e->dir, "providers.d", 0755);
	snprintf(text, sizeof(text),
		 "{\"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s/state\","
		 " \"app_id\": \"test-app\"%s%s}",
		 tu_env("SESAME_TEST_FIXTURES"), tu_env("SESAME_TEST_STORES"), drop, e->dir, extra ? ", " : "",
		 extra ? extra : "");
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	free(tu_write(drop, "fix.json", "{\"type\": \"fixture-good\"}", 0644));
	free(drop);
	e->ctx = sesame_new();
	if (sesame_configure(e->ctx, e->main, 0, &err) != SESAME_OK)
		fail_msg("configure: %s", err.text);
	e->in = ctx_instance(e->ctx, "fix");
	assert_non_null(e->in);
	return e;
}

static int setup(void **state)
{
	*state = env_new(NULL);
	return 0;
}

/* 8 MiB: seven runs with N = 2^10, r = 8 (1 MiB and 3 KiB each). */
#define SMALL_BUDGET (8u << 20)

static int setup_small(void **state)
{
	*state = env_new("\"password_hashing\": {\"memory_budget\": 8388608, \"queue\": 1, \"wait_ms\": 60000}");
	return 0;
}

static int setup_no_queue(void **state)
{
	*state = env_new("\"password_hashing\": {\"memory_budget\": 8388608, \"queue\": 0, \"wait_ms\": 60000}");
	return 0;
}

static int setup_short_wait(void **state)
{
	*state = env_new("\"password_hashing\": {\"memory_budget\": 8388608, \"queue\": 4, \"wait_ms\": 100}");
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

/* The whole password counts, NUL bytes included. */
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

/* ---- the memory budget ---------------------------------------------------------- */

static void expect_gate(uint64_t used, unsigned waiting)
{
	uint64_t u;
	unsigned w;

	password_gate_state(&u, &w);
	assert_int_equal(u, used);
	assert_int_equal(w, waiting);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Poll (bounded) until `n` requests wait for memory. */
static void wait_for_waiters(unsigned n)
{
	uint64_t u;
	unsigned w = 0;
	int i;

	for (i = 0; i < 60 * 100; i++) {
		password_gate_state(&u, &w);
		if (w >= n)
			return;
		sleep_ms(10);
	}
	fail_msg("%u requests wait for memory, expected %u", w, n);
}

static void test_cost_is_what_openssl_allocates(void **state)
{
	struct env *e = *state;
	char *phc;

	/* 128·r·(N + p + 2): the default parameters take 128 MiB and 3 KiB. */
	assert_int_equal(password_scrypt_bytes(17, 8, 1), 128ULL * 8 * (131072 + 3));
	assert_int_equal(password_scrypt_bytes(10, 1, 16), 128ULL * (1024 + 18));
	/* OpenSSL's own limit is set to exactly that, and the derivation fits. */
	phc = hash(e, "pw", 2, 10);
	assert_int_equal(check(e, "pw", 2, phc, 10, NULL), 1);
	free(phc);
	expect_gate(0, 0);
}

/* A hash bigger than the whole budget is a configuration error, not a
 * wait. */
static void test_run_larger_than_budget(void **state)
{
	struct env *e = *state;
	uint64_t before = atomic_load(&e->ctx->kdf_runs);
	char *phc = NULL;
	sesame_error err;
	int match = -1;

	/* N = 2^14, r = 8: 16 MiB. */
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 14, 8, 1, &phc, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "budget");
	assert_non_null(strstr(err.text, "password_hashing.memory_budget"));
	assert_null(phc);
	assert_int_equal(host_services.password_verify(e->in, "pw", 2, "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaA", 10,
						       8, 1, &match, NULL, &err),
			 SESAME_CONFIG);
	assert_string_equal(err.reason, "budget");
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before);
	expect_gate(0, 0);
}

/* With the budget in use and no queue: "busy" at once, nothing derived. */
static void test_busy_without_queue(void **state)
{
	struct env *e = *state;
	uint64_t before = atomic_load(&e->ctx->kdf_runs);
	char *phc = NULL;
	sesame_error err;
	int match = -1;

	assert_int_equal(password_reserve(e->ctx, SMALL_BUDGET, &err), SESAME_OK);
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 10, 8, 1, &phc, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "busy");
	assert_null(phc);
	assert_int_equal(host_services.password_verify(e->in, "pw", 2, "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$aGFzaA", 10, 8,
						       1, &match, NULL, &err),
			 SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "busy");
	assert_int_equal(match, 0);
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before);
	/* Once memory is given back, a run that fits in what is free goes
	 * ahead while the rest is still held. */
	password_release(SMALL_BUDGET - (1u << 20));
	phc = hash(e, "pw", 2, 10);
	free(phc);
	password_release(1u << 20);
	expect_gate(0, 0);
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before + 1);
}

struct hasher {
	struct env *e;
	int rc;
	char reason[SESAME_ERROR_REASON_LENGTH];
};

static void *hash_in_thread(void *arg)
{
	struct hasher *h = arg;
	char *phc = NULL;
	sesame_error err;

	err_clear(&err);
	h->rc = host_services.password_hash(h->e->in, "pw", 2, 10, 8, 1, &phc, &err);
	snprintf(h->reason, sizeof(h->reason), "%s", err.reason);
	free(phc);
	return NULL;
}

/* A request waits in the queue and runs when memory comes back; a
 * request that finds the queue full is busy at once. */
static void test_waits_in_a_bounded_queue(void **state)
{
	struct env *e = *state;
	struct hasher h = {e, -1, ""};
	pthread_t t;
	char *phc = NULL;
	sesame_error err;

	assert_int_equal(password_reserve(e->ctx, SMALL_BUDGET, &err), SESAME_OK);
	assert_int_equal(pthread_create(&t, NULL, hash_in_thread, &h), 0);
	wait_for_waiters(1);
	/* The queue holds one: the next is turned away. */
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 10, 8, 1, &phc, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "busy");
	password_release(SMALL_BUDGET);
	pthread_join(t, NULL);
	assert_int_equal(h.rc, SESAME_OK);
	expect_gate(0, 0);
}

/* A waiting request gives up after wait_ms. */
static void test_wait_is_bounded(void **state)
{
	struct env *e = *state;
	char *phc = NULL;
	sesame_error err;

	assert_int_equal(password_reserve(e->ctx, SMALL_BUDGET, &err), SESAME_OK);
	assert_int_equal(host_services.password_hash(e->in, "pw", 2, 10, 8, 1, &phc, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "busy");
	expect_gate(SMALL_BUDGET, 0);
	password_release(SMALL_BUDGET);
	expect_gate(0, 0);
}

/* Many threads at once never hold more than the budget. */
struct racer {
	struct env *e;
	int ok;
};

static void *race_hash(void *arg)
{
	struct racer *r = arg;
	char *phc = NULL;
	sesame_error err;
	uint64_t used;
	unsigned waiting;
	int i;

	for (i = 0; i < 4; i++) {
		if (host_services.password_hash(r->e->in, "pw", 2, 10, 8, 1, &phc, &err) == SESAME_OK)
			r->ok++;
		free(phc);
		phc = NULL;
		password_gate_state(&used, &waiting);
		assert_true(used <= SMALL_BUDGET);
	}
	return NULL;
}

static void test_parallel_runs_stay_within_budget(void **state)
{
	struct env *e = *state;
	struct racer r[16];
	pthread_t t[16];
	uint64_t before = atomic_load(&e->ctx->kdf_runs);
	int i, ok = 0;

	for (i = 0; i < 16; i++) {
		r[i] = (struct racer){e, 0};
		assert_int_equal(pthread_create(&t[i], NULL, race_hash, &r[i]), 0);
	}
	for (i = 0; i < 16; i++) {
		pthread_join(t[i], NULL);
		ok += r[i].ok;
	}
	/* queue 4, wait 100 ms: some may be busy; every run that happened counted. */
	assert_true(ok > 0);
	assert_int_equal(atomic_load(&e->ctx->kdf_runs), before + (uint64_t)ok);
	expect_gate(0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hash_and_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cost_is_what_openssl_allocates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_larger_than_budget, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_busy_without_queue, setup_no_queue, teardown),
	    cmocka_unit_test_setup_teardown(test_waits_in_a_bounded_queue, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_is_bounded, setup_short_wait, teardown),
	    cmocka_unit_test_setup_teardown(test_parallel_runs_stay_within_budget, setup_short_wait, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
