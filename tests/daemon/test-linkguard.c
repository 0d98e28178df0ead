/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-linkguard.c — daemon/linkguard.c: which refused links
 * count as the same attempt, the window, and the bound on the table.  Time
 * is passed in, so nothing sleeps. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "daemon.h"

#define T0 1000000

static unsigned attempt(struct linkguard *g, const char *sid, const char *provider, const char *credential,
			int64_t now_ms)
{
	json_t *c = json_loads(credential, 0, NULL);
	unsigned n;

	assert_non_null(c);
	n = linkguard_conflict(g, sid, provider, c, now_ms);
	json_decref(c);
	return n;
}

static void test_identical_attempts_are_counted(void **state)
{
	struct linkguard *g = linkguard_new(64, 60);

	(void)state;
	assert_non_null(g);
	assert_int_equal(attempt(g, "s1", "lp", "{\"username\": \"a@x\", \"password\": \"pw\"}", T0), 1);
	assert_int_equal(attempt(g, "s1", "lp", "{\"username\": \"a@x\", \"password\": \"pw\"}", T0 + 1), 2);
	/* The same credential with its members in another order. */
	assert_int_equal(attempt(g, "s1", "lp", "{\"password\": \"pw\", \"username\": \"a@x\"}", T0 + 2), 3);
	/* Another session, instance or credential starts over. */
	assert_int_equal(attempt(g, "s2", "lp", "{\"username\": \"a@x\", \"password\": \"pw\"}", T0 + 3), 1);
	assert_int_equal(attempt(g, "s1", "lp2", "{\"username\": \"a@x\", \"password\": \"pw\"}", T0 + 4), 1);
	assert_int_equal(attempt(g, "s1", "lp", "{\"username\": \"b@x\", \"password\": \"pw\"}", T0 + 5), 1);
	/* A NUL-separated key: "s1"+"lp" is not "s1l"+"p". */
	assert_int_equal(attempt(g, "s1l", "p", "{\"username\": \"a@x\", \"password\": \"pw\"}", T0 + 6), 1);
	assert_int_equal(linkguard_used(g, T0 + 6), 5);
	linkguard_free(g);
}

static void test_window_runs_from_the_latest_attempt(void **state)
{
	struct linkguard *g = linkguard_new(8, 60);

	(void)state;
	assert_int_equal(attempt(g, "s", "p", "{}", T0), 1);
	/* Just inside the window of the first attempt, then of the second. */
	assert_int_equal(attempt(g, "s", "p", "{}", T0 + 59999), 2);
	assert_int_equal(attempt(g, "s", "p", "{}", T0 + 59999 + 59999), 3);
	/* A minute of quiet forgets it. */
	assert_int_equal(linkguard_used(g, T0 + 59999 + 59999 + 60000), 0);
	assert_int_equal(attempt(g, "s", "p", "{}", T0 + 59999 + 59999 + 60000), 1);
	linkguard_free(g);
}

static void test_table_is_bounded(void **state)
{
	struct linkguard *g = linkguard_new(4, 60);
	char sid[16];
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		snprintf(sid, sizeof(sid), "s%d", i);
		assert_int_equal(attempt(g, sid, "p", "{}", T0 + i), 1);
		assert_true(linkguard_used(g, T0 + i) <= 4);
	}
	assert_int_equal(linkguard_used(g, T0 + 100), 4);
	/* The newest entries are kept, the oldest were taken over. */
	assert_int_equal(attempt(g, "s99", "p", "{}", T0 + 100), 2);
	assert_int_equal(attempt(g, "s0", "p", "{}", T0 + 101), 1);
	linkguard_free(g);
}

static void test_bad_arguments(void **state)
{
	json_t *c = json_object();

	(void)state;
	assert_null(linkguard_new(0, 60));
	assert_null(linkguard_new(4, 0));
	/* An attempt that cannot be keyed counts as a first one. */
	assert_int_equal(linkguard_conflict(NULL, "s", "p", c, T0), 1);
	linkguard_free(NULL);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identical_attempts_are_counted),
	    cmocka_unit_test(test_window_runs_from_the_latest_attempt),
	    cmocka_unit_test(test_table_is_bounded),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
