/* tests/daemon/test-throttle.c — daemon/throttle.c: failed logins per client
 * address, Retry-After values, refill, a fixed-size table, threads. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failures_then_refused), cmocka_unit_test(test_refill_caps_at_capacity),
	    cmocka_unit_test(test_check_costs_nothing),	  cmocka_unit_test(test_fixed_size_table),
	    cmocka_unit_test(test_bad_arguments),	  cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
