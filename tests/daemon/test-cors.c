/* SPDX-License-Identifier: MIT */
/* tests/daemon/test-cors.c — daemon/cors.c: which origins get CORS headers,
 * preflight answers, configuration errors. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

static void cors_from(struct cors *c, const char *json)
{
	json_t *v = json_loads(json, 0, NULL);
	sesame_error err;

	assert_non_null(v);
	assert_int_equal(cors_init(c, v, &err), 0);
	json_decref(v);
}

static void test_config_errors(void **state)
{
	static const char *const bad[] = {
	    "[\"https://app.example.com/\"]",
	    "[\"https://app.example.com/path\"]",
	    "[\"app.example.com\"]",
	    "[\"ftp://app.example.com\"]",
	    "[\"https://\"]",
	    "[\"https://a b\"]",
	    "[\"https://u@app.example.com\"]",
	    "[\"https://ok.example.com\", 42]",
	};
	sesame_error err;
	struct cors c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *v = json_loads(bad[i], 0, NULL);

		assert_non_null(v);
		memset(&err, 0, sizeof(err));
		assert_int_equal(cors_init(&c, v, &err), SESAME_CONFIG);
		assert_non_null(strstr(err.text, "\"cors_origins\"["));
		assert_null(c.origins);
		json_decref(v);
	}
	/* The index names the bad element. */
	{
		json_t *v = json_loads("[\"https://ok.example.com\", \"nope\"]", 0, NULL);

		assert_int_equal(cors_init(&c, v, &err), SESAME_CONFIG);
		assert_non_null(strstr(err.text, "\"cors_origins\"[1]"));
		json_decref(v);
	}
}

static void test_allowed_origins(void **state)
{
	struct cors c;

	cors_from(&c, "[\"https://app.example.com\", \"http://localhost:3000\"]");
	assert_true(cors_origin_allowed(&c, "https://app.example.com"));
	assert_true(cors_origin_allowed(&c, "HTTPS://APP.example.com"));
	assert_true(cors_origin_allowed(&c, "http://localhost:3000"));
	assert_false(cors_origin_allowed(&c, "http://app.example.com"));
	assert_false(cors_origin_allowed(&c, "https://app.example.com:443"));
	assert_false(cors_origin_allowed(&c, "https://app.example.com.evil.net"));
	assert_false(cors_origin_allowed(&c, "https://evil.net"));
	assert_false(cors_origin_allowed(&c, "null"));
	assert_false(cors_origin_allowed(&c, ""));
	assert_false(cors_origin_allowed(&c, NULL));
	cors_free(&c);

	cors_from(&c, "[\"*\"]");
	assert_true(cors_origin_allowed(&c, "https://anything.example"));
	assert_false(cors_origin_allowed(&c, "null"));
	cors_free(&c);

	cors_from(&c, "[]");
	assert_false(cors_origin_allowed(&c, "https://app.example.com"));
	cors_free(&c);
}

static void test_actual_response_headers(void **state)
{
	struct reply rep;
	struct cors c;

	cors_from(&c, "[\"https://app.example.com\"]");
	reply_init(&rep);
	cors_apply(&c, "https://app.example.com", &rep);
	assert_string_equal(reply_header_value(&rep, "Access-Control-Allow-Origin"), "https://app.example.com");
	assert_string_equal(reply_header_value(&rep, "Vary"), "Origin");
	/* realm-web's linking fetch (credentials: "include") reads X-Baas-Location. */
	assert_string_equal(reply_header_value(&rep, "Access-Control-Allow-Credentials"), "true");
	assert_non_null(strstr(reply_header_value(&rep, "Access-Control-Expose-Headers"), "X-Baas-Location"));
	reply_clear(&rep);

	cors_apply(&c, "https://evil.net", &rep);
	assert_null(reply_header_value(&rep, "Access-Control-Allow-Origin"));
	assert_null(reply_header_value(&rep, "Access-Control-Expose-Headers"));
	assert_null(reply_header_value(&rep, "Access-Control-Allow-Credentials"));
	assert_string_equal(reply_header_value(&rep, "Vary"), "Origin");
	reply_clear(&rep);

	cors_apply(&c, NULL, &rep);
	assert_int_equal(rep.n_headers, 1);
	reply_clear(&rep);
	cors_free(&c);

	/* CORS off (the default): no header at all. */
	cors_from(&c, "[]");
	cors_apply(&c, "https://app.example.com", &rep);
	assert_int_equal(rep.n_headers, 0);
	reply_clear(&rep);
	cors_free(&c);
}

static void test_preflight(void **state)
{
	struct reply rep;
	struct cors c;

	cors_from(&c, "[\"https://app.example.com\"]");
	reply_init(&rep);
	assert_true(cors_preflight(&c, "https://app.example.com", "POST", "GET, POST, OPTIONS", &rep));
	assert_int_equal(rep.status, 204);
	assert_string_equal(reply_header_value(&rep, "Access-Control-Allow-Origin"), "https://app.example.com");
	assert_string_equal(reply_header_value(&rep, "Access-Control-Allow-Methods"), "GET, POST, OPTIONS");
	assert_non_null(strstr(reply_header_value(&rep, "Access-Control-Allow-Headers"), "Authorization"));
	assert_non_null(strstr(reply_header_value(&rep, "Access-Control-Allow-Headers"), "Content-Type"));
	assert_non_null(reply_header_value(&rep, "Access-Control-Max-Age"));
	assert_string_equal(reply_header_value(&rep, "Allow"), "GET, POST, OPTIONS");
	assert_string_equal(reply_header_value(&rep, "Access-Control-Allow-Credentials"), "true");
	reply_clear(&rep);

	/* Refused: another origin, a method the path lacks, no method asked. */
	assert_false(cors_preflight(&c, "https://evil.net", "POST", "GET, POST, OPTIONS", &rep));
	assert_int_equal(rep.status, 204);
	assert_null(reply_header_value(&rep, "Access-Control-Allow-Origin"));
	assert_null(reply_header_value(&rep, "Access-Control-Allow-Methods"));
	assert_string_equal(reply_header_value(&rep, "Allow"), "GET, POST, OPTIONS");
	reply_clear(&rep);
	assert_false(cors_preflight(&c, "https://app.example.com", "DELETE", "GET, POST, OPTIONS", &rep));
	assert_null(reply_header_value(&rep, "Access-Control-Allow-Origin"));
	reply_clear(&rep);
	assert_false(cors_preflight(&c, "https://app.example.com", "POS", "GET, POST, OPTIONS", &rep));
	reply_clear(&rep);
	assert_false(cors_preflight(&c, "https://app.example.com", NULL, "GET, POST, OPTIONS", &rep));
	assert_null(reply_header_value(&rep, "Access-Control-Allow-Origin"));
	reply_clear(&rep);
	cors_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_allowed_origins),
	    cmocka_unit_test(test_actual_response_headers),
	    cmocka_unit_test(test_preflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
