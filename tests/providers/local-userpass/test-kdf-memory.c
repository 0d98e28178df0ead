/* SPDX-License-Identifier: MIT */
/*
 * tests/providers/local-userpass/test-kdf-memory.c — sesamed's memory under a burst of
 * password logins (unauthenticated, so bounded by the password-hashing
 * memory budget, not by a throttle): 64 parallel email/password logins
 * with the default scrypt parameters (128 MiB per derivation) must keep
 * the daemon's peak resident memory under its baseline plus the default
 * password_hashing.memory_budget plus a margin, and every request must get
 * an answer.  Without the budget the same burst peaks at several GiB.
 * Nothing here measures time.
 */
#include "config.h"

#include "daemon/harness.h"

#define BURST	  64
#define MIB	  (1024LL * 1024)
/* sesame.json's default password_hashing.memory_budget. */
#define BUDGET	  (520 * MIB)
/* The daemon's own growth beyond the derivations: threads, buffers, heap. */
#define MARGIN	  (64 * MIB)

/* A "Vm...:" line of /proc/PID/status, in bytes. */
static long long proc_status_bytes(pid_t pid, const char *field)
{
	char path[64], line[256];
	long long kb = -1;
	size_t n = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtoll(line + n + 1, NULL, 10);
	fclose(f);
	if (kb < 0)
		fail_msg("no %s in %s", field, path);
	return kb * 1024;
}

struct client {
	const struct daemon *d;
	int n;
	long status;
	CURLcode rc;
};

static void *log_in(void *arg)
{
	struct client *c = arg;
	char body[256];
	struct http r;
	json_t *s;

	/* Addresses nobody registered: each runs the KDF on the dummy hash. */
	snprintf(body, sizeof(body), "{\"username\": \"visitor%d@example.org\", \"password\": \"guess-%d\"}", c->n, c->n);
	s = client_login(c->d, LOGIN("local-userpass"), body, NULL, &r);
	c->status = r.status;
	c->rc = r.rc;
	json_decref(s);
	http_free(&r);
	return NULL;
}

static int setup(void **state)
{
	static const char *const plugins[] = {"local-userpass", NULL};
	/* Only the memory bound is under test: the per-address throttles are
	 * opened wide so that every request reaches the KDF. */
	struct daemon *d = daemon_new("kdf-memory",
				     "\"daemon\": {\"login_failures_per_minute\": 100000, \"max_connections_per_address\": 0}",
				     plugins);

	/* The default scrypt parameters: 128 MiB per derivation. */
	provider(d, "local-userpass", "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true}}");
	daemon_start(d);
	*state = d;
	return 0;
}

/* Also after a failure: the daemon must not outlive the test. */
static int teardown(void **state)
{
	daemon_free(*state);
	return 0;
}

static void test_burst_stays_within_budget(void **state)
{
	struct daemon *d = *state;
	struct client c[BURST];
	pthread_t t[BURST];
	long long baseline, peak, margin = MARGIN;
	int i, evaluated = 0, busy = 0;

	baseline = proc_status_bytes(d->pid, "VmRSS");
	for (i = 0; i < BURST; i++) {
		c[i] = (struct client){d, i, 0, CURLE_OK};
		assert_int_equal(pthread_create(&t[i], NULL, log_in, &c[i]), 0);
	}
	for (i = 0; i < BURST; i++)
		pthread_join(t[i], NULL);
	peak = proc_status_bytes(d->pid, "VmHWM");
	for (i = 0; i < BURST; i++) {
		evaluated += c[i].status == 401;
		busy += c[i].status == 503;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer keeps freed blocks in its quarantine (256 MiB by
	 * default) and shadows every byte in use with an eighth of one. */
	margin += 256 * MIB + (BUDGET + 256 * MIB) / 8;
#endif
	fprintf(stderr, "# baseline %lld MiB, peak %lld MiB, bound %lld MiB; %d evaluated, %d busy\n", baseline / MIB,
		peak / MIB, (baseline + BUDGET + margin) / MIB, evaluated, busy);
	if (peak > baseline + BUDGET + margin)
		fail_msg("peak resident memory %lld MiB exceeds baseline %lld MiB + budget %lld MiB + margin %lld MiB",
			 peak / MIB, baseline / MIB, BUDGET / MIB, margin / MIB);
	/* Every request got an answer: a login, a refusal, or "busy". */
	for (i = 0; i < BURST; i++) {
		if (c[i].rc != CURLE_OK)
			fail_msg("request %d: no answer (%s)", i, curl_easy_strerror(c[i].rc));
		if (c[i].status != 401 && c[i].status != 429 && c[i].status != 503 && c[i].status != 200)
			fail_msg("request %d: status %ld", i, c[i].status);
	}
	assert_true(evaluated > 0);
	assert_int_equal(daemon_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_burst_stays_within_budget, setup, teardown),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}
