/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-throttle.c — daemon/throttle.c: failed logins per client
 * address, Retry-After values, refill, a fixed-size table, threads, and
 * take/refund, whose check and charge are one step (no parallel request
 * slips between them). */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

#define T0 1000000

static void test_failures_then_refused(void **state)
{
	struct throttle *t = throttle_new(64, 3);
	int i;

	assert_non_null(t);
	assert_int_equal(throttle_check(t, "192.0.2.1", T0), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(throttle_check(t, "192.0.2.1", T0), 0);
		throttle_fail(t, "192.0.2.1", T0);
	}
	/* Three a minute: one token grows back in 20 seconds. */
	assert_int_equal(throttle_check(t, "192.0.2.1", T0), 20);
	assert_int_equal(throttle_check(t, "192.0.2.1", T0 + 5000), 15);
	assert_int_equal(throttle_check(t, "192.0.2.1", T0 + 19999), 1);
	assert_int_equal(throttle_check(t, "192.0.2.1", T0 + 20000), 0);
	/* Other addresses are not affected. */
	assert_int_equal(throttle_check(t, "192.0.2.2", T0), 0);
	assert_int_equal(throttle_check(t, "2001:db8::1", T0), 0);
	throttle_free(t);
}

static void test_refill_caps_at_capacity(void **state)
{
	struct throttle *t = throttle_new(64, 2);

	throttle_fail(t, "198.51.100.7", T0);
	throttle_fail(t, "198.51.100.7", T0);
	assert_true(throttle_check(t, "198.51.100.7", T0) > 0);
	/* An hour later the bucket is full again, but never fuller than 2. */
	throttle_fail(t, "198.51.100.7", T0 + 3600000);
	assert_int_equal(throttle_check(t, "198.51.100.7", T0 + 3600000), 0);
	throttle_fail(t, "198.51.100.7", T0 + 3600000);
	assert_int_equal(throttle_check(t, "198.51.100.7", T0 + 3600000), 30);
	throttle_free(t);
}

static void test_check_costs_nothing(void **state)
{
	struct throttle *t = throttle_new(64, 1);
	int i;

	for (i = 0; i < 100; i++)
		assert_int_equal(throttle_check(t, "203.0.113.9", T0), 0);
	throttle_fail(t, "203.0.113.9", T0);
	assert_int_equal(throttle_check(t, "203.0.113.9", T0), 60);
	throttle_free(t);
}

/* Many addresses in a small table: it never grows, and a slot whose bucket
 * has refilled is reused without losing a throttled address. */
static void test_fixed_size_table(void **state)
{
	struct throttle *t = throttle_new(64, 5);
	char addr[32];
	int i, j;

	for (i = 0; i < 5; i++)
		throttle_fail(t, "10.0.0.1", T0);
	/* Ten thousand addresses failing once each, two minutes later: their
	 * candidate slots hold full buckets or one attacker. */
	for (i = 0; i < 10000; i++) {
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 256, i % 256);
		throttle_fail(t, addr, T0 + 120000 + i);
	}
	/* Each of them can still fail 4 more times before being refused. */
	snprintf(addr, sizeof(addr), "10.1.%d.%d", 9999 / 256, 9999 % 256);
	for (j = 0; j < 4; j++)
		throttle_fail(t, addr, T0 + 130000);
	assert_true(throttle_check(t, addr, T0 + 130000) > 0);
	throttle_free(t);
}

static void test_bad_arguments(void **state)
{
	char long_addr[128];
	struct throttle *t;

	assert_null(throttle_new(0, 5));
	assert_null(throttle_new(64, 0));
	t = throttle_new(64, 1);
	memset(long_addr, 'a', sizeof(long_addr) - 1);
	long_addr[sizeof(long_addr) - 1] = '\0';
	/* Not an address we could have produced: ignored, never refused. */
	throttle_fail(t, long_addr, T0);
	throttle_fail(t, "", T0);
	assert_int_equal(throttle_check(t, long_addr, T0), 0);
	assert_int_equal(throttle_check(t, "", T0), 0);
	throttle_free(t);
}

struct worker {
	struct throttle *t;
	int n;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	char addr[32];
	int i;

	for (i = 0; i < w->n; i++) {
		snprintf(addr, sizeof(addr), "172.16.%d.%d", i % 7, i % 13);
		throttle_fail(w->t, addr, T0);
		throttle_check(w->t, "172.31.0.1", T0);
		throttle_fail(w->t, "172.31.0.1", T0);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct throttle *t = throttle_new(4096, 10);
	struct worker w = {t, 2000};
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* 8000 failures against 10 tokens a minute: one grows back in 6 s. */
	assert_int_equal(throttle_check(t, "172.31.0.1", T0), 6);
	throttle_free(t);
}

static void test_take_and_refund(void **state)
{
	struct throttle *t = throttle_new(64, 3);
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(throttle_take(t, "192.0.2.5", T0), 0);
	/* Refused: nothing taken, and the wait says when a token is back. */
	assert_int_equal(throttle_take(t, "192.0.2.5", T0), 20);
	assert_int_equal(throttle_take(t, "192.0.2.5", T0 + 5000), 15);
	/* A refund gives one back, never more than the capacity. */
	throttle_refund(t, "192.0.2.5", T0 + 5000);
	assert_int_equal(throttle_take(t, "192.0.2.5", T0 + 5000), 0);
	for (i = 0; i < 10; i++)
		throttle_refund(t, "192.0.2.5", T0 + 5000);
	for (i = 0; i < 3; i++)
		assert_int_equal(throttle_take(t, "192.0.2.5", T0 + 5000), 0);
	assert_true(throttle_take(t, "192.0.2.5", T0 + 5000) > 0);
	/* A refund for a key never seen changes nothing. */
	throttle_refund(t, "192.0.2.6", T0);
	assert_int_equal(throttle_check(t, "192.0.2.6", T0), 0);
	/* take and fail share the bucket. */
	throttle_fail(t, "192.0.2.7", T0);
	throttle_fail(t, "192.0.2.7", T0);
	assert_int_equal(throttle_take(t, "192.0.2.7", T0), 0);
	assert_int_equal(throttle_take(t, "192.0.2.7", T0), 20);
	/* Not a key we could produce: never refused. */
	assert_int_equal(throttle_take(t, "", T0), 0);
	throttle_free(t);
}

static void test_period(void **state)
{
	struct throttle *t = throttle_new_period(64, 20, 3600);
	int i;

	assert_null(throttle_new_period(64, 20, 0));
	assert_null(throttle_new_period(64, 0, 3600));
	assert_null(throttle_new_period(0, 20, 3600));
	for (i = 0; i < 20; i++)
		assert_int_equal(throttle_take(t, "fedcba9876543210fedcba9876543210", T0), 0);
	/* Twenty an hour: one grows back in three minutes. */
	assert_int_equal(throttle_take(t, "fedcba9876543210fedcba9876543210", T0), 180);
	assert_int_equal(throttle_take(t, "fedcba9876543210fedcba9876543210", T0 + 180000), 0);
	throttle_free(t);
}

struct taker {
	struct throttle *t;
	pthread_barrier_t *start;
	int taken;
};

static void *take_once(void *arg)
{
	struct taker *k = arg;

	pthread_barrier_wait(k->start);
	k->taken = throttle_take(k->t, "203.0.113.50", T0) == 0;
	return NULL;
}

/* 150 attempts at once against a bucket of 20: exactly 20 get a token.
 * (throttle_check then throttle_fail let 47 of 150 through over HTTP.) */
static void test_take_parallel_exact(void **state)
{
	struct throttle *t = throttle_new(64, 20);
	struct taker k[150];
	pthread_t th[150];
	pthread_barrier_t start;
	int i, taken = 0;

	pthread_barrier_init(&start, NULL, 150);
	for (i = 0; i < 150; i++) {
		k[i] = (struct taker){t, &start, 0};
		assert_int_equal(pthread_create(&th[i], NULL, take_once, &k[i]), 0);
	}
	for (i = 0; i < 150; i++) {
		pthread_join(th[i], NULL);
		taken += k[i].taken;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(taken, 20);
	throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failures_then_refused), cmocka_unit_test(test_refill_caps_at_capacity),
	    cmocka_unit_test(test_check_costs_nothing),	  cmocka_unit_test(test_fixed_size_table),
	    cmocka_unit_test(test_bad_arguments),	  cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_take_and_refund),	  cmocka_unit_test(test_period),
	    cmocka_unit_test(test_take_parallel_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
