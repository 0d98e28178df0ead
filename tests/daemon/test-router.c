/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-router.c — daemon/router.c: matching methods and paths
 * against a route table, parameters, 404 and 405 with Allow. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

static void h_a(struct request *req, struct reply *rep)
{
}

static void h_b(struct request *req, struct reply *rep)
{
}

static const struct route table[] = {
    {"GET", "/app/{app}/location", h_a, AUTH_NONE, 0},
    {"POST", "/app/{app}/auth/providers/{name}/login", h_a, AUTH_NONE, ROUTE_JSON_BODY},
    {"GET", "/auth/session", h_a, AUTH_REFRESH, 0},
    {"POST", "/auth/session", h_b, AUTH_REFRESH, 0},
    {"DELETE", "/auth/session", h_b, AUTH_REFRESH, 0},
    {"GET", "/keys/special", h_b, AUTH_NONE, 0},
    {"GET", "/keys/{id}", h_a, AUTH_NONE, 0},
    {"POST", "/providers/{name}/actions/{action*}", h_b, AUTH_ACCESS_OR_ADMIN, ROUTE_JSON_BODY},
};

static enum route_result match(const char *method, const char *path, struct route_match *m)
{
	return router_match(table, ARRAY_SIZE(table), method, path, m);
}

static void test_literal_and_params(void **state)
{
	struct route_match m;

	assert_int_equal(match("GET", "/app/my-app/location", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[0]);
	assert_string_equal(route_param(&m, "app"), "my-app");
	assert_null(route_param(&m, "name"));
	assert_null(route_param(&m, "ap"));

	assert_int_equal(match("POST", "/app/x/auth/providers/anon-user/login", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[1]);
	assert_int_equal(m.n_params, 2);
	assert_string_equal(route_param(&m, "app"), "x");
	assert_string_equal(route_param(&m, "name"), "anon-user");
}

/* A last {param*} takes the rest of the path: non-empty segments. */
static void test_tail_param(void **state)
{
	struct route_match m;
	char long_path[600];

	assert_int_equal(match("POST", "/providers/mail/actions/confirm/send", &m), ROUTE_FOUND);
	assert_string_equal(route_param(&m, "name"), "mail");
	assert_string_equal(route_param(&m, "action"), "confirm/send");
	assert_int_equal(match("POST", "/providers/mail/actions/reset", &m), ROUTE_FOUND);
	assert_string_equal(route_param(&m, "action"), "reset");
	assert_int_equal(match("POST", "/providers/mail/actions/", &m), ROUTE_NOT_FOUND);
	assert_int_equal(match("POST", "/providers/mail/actions", &m), ROUTE_NOT_FOUND);
	assert_int_equal(match("POST", "/providers/mail/actions/a//b", &m), ROUTE_NOT_FOUND);
	assert_int_equal(match("POST", "/providers/mail/actions/a/", &m), ROUTE_NOT_FOUND);
	snprintf(long_path, sizeof(long_path), "/providers/mail/actions/%0300d", 0);
	assert_int_equal(match("POST", long_path, &m), ROUTE_NOT_FOUND);
}

static void test_not_found(void **state)
{
	static const char *const paths[] = {
	    "/",
	    "",
	    "/app",
	    "/app/x/location/",
	    "/app//location",
	    "/app/x/locations",
	    "/APP/x/location",
	    "app/x/location",
	    "/app/x/auth/providers//login",
	    "/auth/session/extra",
	    "//auth/session",
	};
	struct route_match m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		assert_int_equal(match("GET", paths[i], &m), ROUTE_NOT_FOUND);
		assert_null(m.route);
	}
}

static void test_bad_method_lists_allow(void **state)
{
	struct route_match m;

	assert_int_equal(match("PUT", "/auth/session", &m), ROUTE_BAD_METHOD);
	assert_string_equal(m.allow, "GET, POST, DELETE, OPTIONS");
	/* The first row of the path labels the metrics. */
	assert_ptr_equal(m.route, &table[2]);

	assert_int_equal(match("DELETE", "/app/a/location", &m), ROUTE_BAD_METHOD);
	assert_string_equal(m.allow, "GET, OPTIONS");
	assert_int_equal(match("get", "/app/a/location", &m), ROUTE_BAD_METHOD);
}

static void test_method_picks_row(void **state)
{
	struct route_match m;

	assert_int_equal(match("DELETE", "/auth/session", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[4]);
	assert_string_equal(m.allow, "GET, POST, DELETE, OPTIONS");
	assert_int_equal(match("POST", "/auth/session", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[3]);
}

static void test_first_row_wins(void **state)
{
	struct route_match m;

	assert_int_equal(match("GET", "/keys/special", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[5]);
	assert_int_equal(m.n_params, 0);
	assert_int_equal(match("GET", "/keys/other", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[6]);
	assert_string_equal(route_param(&m, "id"), "other");
}

static void test_param_length_bound(void **state)
{
	char path[ROUTE_PARAM_MAX + 32], value[ROUTE_PARAM_MAX + 2];
	struct route_match m;

	memset(value, 'a', ROUTE_PARAM_MAX);
	value[ROUTE_PARAM_MAX] = '\0';
	snprintf(path, sizeof(path), "/keys/%s", value);
	assert_int_equal(match("GET", path, &m), ROUTE_FOUND);
	assert_int_equal(strlen(route_param(&m, "id")), ROUTE_PARAM_MAX);
	value[ROUTE_PARAM_MAX] = 'a';
	value[ROUTE_PARAM_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/keys/%s", value);
	assert_int_equal(match("GET", path, &m), ROUTE_NOT_FOUND);
}

/* The table sesamed serves is well formed and reaches its handlers. */
static void test_served_table(void **state)
{
	struct route_match m;
	const struct route *routes;
	size_t n, i;

	routes = routes_table(&n);
	assert_true(n >= 5);
	for (i = 0; i < n; i++) {
		assert_int_equal(routes[i].pattern[0], '/');
		assert_non_null(routes[i].handler);
		assert_true(strspn(routes[i].method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(routes[i].method));
		/* Each row is reachable: no earlier row shadows it. */
		assert_int_equal(router_match(routes, n, routes[i].method, routes[i].pattern, &m), ROUTE_FOUND);
		assert_ptr_equal(m.route, &routes[i]);
	}
	assert_int_equal(router_match(routes, n, "GET", "/api/client/v2.0/app/sesame-app/location", &m), ROUTE_FOUND);
	assert_int_equal(m.route->auth, AUTH_NONE);
	assert_int_equal(router_match(routes, n, "GET", "/api/admin/v1/providers", &m), ROUTE_FOUND);
	assert_int_equal(m.route->auth, AUTH_ADMIN);
	assert_int_equal(router_match(routes, n, "POST", "/api/admin/v1/providers/p/verify", &m), ROUTE_FOUND);
	assert_true(m.route->flags & ROUTE_JSON_BODY);
	assert_int_equal(router_match(routes, n, "GET", "/healthz", &m), ROUTE_FOUND);
	assert_int_equal(router_match(routes, n, "GET", "/metrics", &m), ROUTE_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_literal_and_params),
	    cmocka_unit_test(test_tail_param),	   cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_bad_method_lists_allow), cmocka_unit_test(test_method_picks_row),
	    cmocka_unit_test(test_first_row_wins),	   cmocka_unit_test(test_param_length_bound),
	    cmocka_unit_test(test_served_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
