/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-metrics.c — daemon/metrics.c: the Prometheus text
 * exposition, label escaping, histogram buckets, the series cap. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

static void assert_contains(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("exposition lacks \"%s\":\n%s", line, text);
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, prefix, len) == 0)
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

static void test_empty(void **state)
{
	struct metrics *m = metrics_new();
	size_t len;
	char *text = metrics_render(m, &len);

	assert_int_equal(strlen(text), len);
	assert_contains(text, "# TYPE sesamed_http_requests_total counter\n");
	assert_contains(text, "# TYPE sesamed_http_request_duration_seconds histogram\n");
	assert_contains(text, "# TYPE sesamed_logins_total counter\n");
	assert_contains(text, "# TYPE sesamed_session_refreshes_total counter\n");
	assert_contains(text, "# TYPE sesamed_active_sessions gauge\nsesamed_active_sessions 0\n");
	assert_int_equal(text[len - 1], '\n');
	free(text);
	metrics_free(m);
}

static void test_counters_and_histogram(void **state)
{
	struct metrics *m = metrics_new();
	size_t len;
	char *text;

	metrics_count_request(m, "GET", "/healthz", 200);
	metrics_observe_duration(m, "GET", "/healthz", 0.0004);
	metrics_count_request(m, "GET", "/healthz", 200);
	metrics_observe_duration(m, "GET", "/healthz", 0.03);
	metrics_count_request(m, "GET", "/healthz", 404);
	metrics_observe_duration(m, "GET", "/healthz", 20.0);
	metrics_count_login(m, "google", "success");
	metrics_count_login(m, "google", "success");
	metrics_count_login(m, "google", "rejected");
	metrics_count_refresh(m, "success");
	metrics_count_reload(m, "failure");
	metrics_set_active_sessions(m, 42);
	text = metrics_render(m, &len);
	assert_contains(text, "sesamed_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2\n");
	assert_contains(text, "sesamed_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"404\"} 1\n");
	/* Buckets are cumulative; 20 s lands only in +Inf. */
	assert_contains(
	    text, "sesamed_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.001\"} 1\n");
	assert_contains(
	    text, "sesamed_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.025\"} 1\n");
	assert_contains(
	    text, "sesamed_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.05\"} 2\n");
	assert_contains(
	    text, "sesamed_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"10\"} 2\n");
	assert_contains(
	    text, "sesamed_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 3\n");
	assert_contains(text, "sesamed_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 3\n");
	assert_contains(text, "sesamed_http_request_duration_seconds_sum{method=\"GET\",route=\"/healthz\"} 20.0304\n");
	assert_contains(text, "sesamed_logins_total{provider=\"google\",outcome=\"success\"} 2\n");
	assert_contains(text, "sesamed_logins_total{provider=\"google\",outcome=\"rejected\"} 1\n");
	assert_contains(text, "sesamed_session_refreshes_total{outcome=\"success\"} 1\n");
	assert_contains(text, "sesamed_config_reloads_total{outcome=\"failure\"} 1\n");
	assert_contains(text, "sesamed_active_sessions 42\n");
	free(text);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	struct metrics *m = metrics_new();
	size_t len;
	char *text;

	metrics_count_login(m, "a\"b\\c\nd", "success");
	text = metrics_render(m, &len);
	assert_contains(text, "sesamed_logins_total{provider=\"a\\\"b\\\\c\\nd\",outcome=\"success\"} 1\n");
	free(text);
	metrics_free(m);
}

static void test_series_cap(void **state)
{
	struct metrics *m = metrics_new();
	char name[32];
	size_t len;
	char *text;
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		metrics_count_login(m, name, "success");
	}
	text = metrics_render(m, &len);
	assert_int_equal(count_lines_starting(text, "sesamed_logins_total{"), 256);
	/* Everything past the cap is counted, in one series. */
	assert_contains(text, "sesamed_logins_total{overflow=\"other\"} 745\n");
	free(text);
	metrics_free(m);
}

/* A label set too long to render (a provider name of 600 bytes) is
 * counted in the overflow series, which stays one series when the cap
 * is reached later. */
static void test_long_labels(void **state)
{
	struct metrics *m = metrics_new();
	char name[601], small[32];
	size_t len;
	char *text;
	int i;

	memset(name, 'p', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	metrics_count_login(m, name, "success");
	metrics_count_login(m, "short", "success");
	text = metrics_render(m, &len);
	assert_contains(text, "sesamed_logins_total{overflow=\"other\"} 1\n");
	assert_contains(text, "sesamed_logins_total{provider=\"short\",outcome=\"success\"} 1\n");
	assert_null(strstr(text, "ppppp"));
	free(text);
	for (i = 0; i < 1000; i++) {
		snprintf(small, sizeof(small), "p%d", i);
		metrics_count_login(m, small, "success");
	}
	text = metrics_render(m, &len);
	assert_int_equal(count_lines_starting(text, "sesamed_logins_total{"), 256);
	assert_int_equal(count_lines_starting(text, "sesamed_logins_total{overflow="), 1);
	assert_contains(text, "sesamed_logins_total{overflow=\"other\"} 747\n");
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_counters_and_histogram),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test(test_series_cap),
	    cmocka_unit_test(test_long_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
