/* SPDX-License-Identifier: MIT */
/* tests/core/test-claims.c — core/claims.c at a fixed "now": the exact
 * boundaries of exp, nbf and iat with leeway, NumericDate ranges, and
 * exact audience and issuer matching. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"

#define NOW INT64_C(1700000000)

/* claims_check of {name: value} (+ exp far ahead unless name is exp). */
static int check_date(const char *name, json_int_t value, int64_t leeway)
{
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = leeway};
	json_t *c = json_pack("{s:I}", name, value);
	sesame_error err;
	int rc;

	if (strcmp(name, "exp") != 0)
		json_object_set_new(c, "exp", json_integer(NOW + 3600));
	err_clear(&err);
	rc = claims_check(c, &rules, NOW, &err);
	if (rc != SESAME_OK) {
		assert_string_equal(err.reason, "claim");
		assert_non_null(strstr(err.text, name));
	}
	json_decref(c);
	return rc;
}

static void exp_boundaries(void **state)
{
	assert_int_equal(check_date("exp", NOW - 59, -1), SESAME_OK);
	assert_int_equal(check_date("exp", NOW - 60, -1), SESAME_REJECTED);
	assert_int_equal(check_date("exp", NOW + 1, 0), SESAME_OK);
	assert_int_equal(check_date("exp", NOW, 0), SESAME_REJECTED);
	/* A huge leeway is clamped to JOSE_MAX_LEEWAY. */
	assert_int_equal(check_date("exp", NOW - JOSE_MAX_LEEWAY + 1, INT64_MAX), SESAME_OK);
	assert_int_equal(check_date("exp", NOW - JOSE_MAX_LEEWAY, INT64_MAX), SESAME_REJECTED);
	assert_int_equal(check_date("exp", JOSE_MAX_NUMERIC_DATE, -1), SESAME_OK);
	assert_int_equal(check_date("exp", JOSE_MAX_NUMERIC_DATE + 1, -1), SESAME_REJECTED);
	assert_int_equal(check_date("exp", INT64_MAX, -1), SESAME_REJECTED);
	assert_int_equal(check_date("exp", INT64_MIN, -1), SESAME_REJECTED);
	assert_int_equal(check_date("exp", -1, -1), SESAME_REJECTED);
}

static void nbf_iat_boundaries(void **state)
{
	assert_int_equal(check_date("nbf", NOW + 60, -1), SESAME_OK);
	assert_int_equal(check_date("nbf", NOW + 61, -1), SESAME_REJECTED);
	assert_int_equal(check_date("nbf", 0, -1), SESAME_OK);
	assert_int_equal(check_date("iat", NOW + 60, -1), SESAME_OK);
	assert_int_equal(check_date("iat", NOW + 61, -1), SESAME_REJECTED);
	assert_int_equal(check_date("iat", NOW * 1000, -1), SESAME_REJECTED); /* milliseconds */
	assert_int_equal(check_date("iat", NOW + 5, 0), SESAME_REJECTED);
}

static void exp_required(void **state)
{
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = -1};
	json_t *c = json_pack("{s:s}", "sub", "u");
	sesame_error err;

	assert_int_equal(claims_check(c, NULL, NOW, &err), SESAME_REJECTED);
	assert_non_null(strstr(err.text, "\"exp\" is missing"));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	rules.flags = SESAME_JWT_EXP_OPTIONAL;
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_OK);
	/* Optional does not mean anything goes. */
	json_object_set_new(c, "exp", json_real(1e10));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	json_object_set_new(c, "exp", json_string("1700003600"));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	json_object_set_new(c, "exp", json_true());
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	json_decref(c);
}

static int check_aud(json_t *aud, const char *const *want, unsigned flags)
{
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .leeway = -1, .audiences = want};
	json_t *c = json_pack("{s:I}", "exp", (json_int_t)NOW + 60);
	sesame_error err;
	int rc;

	rules.flags = flags | SESAME_JWT_EXP_OPTIONAL;
	if (aud)
		json_object_set_new(c, "aud", aud);
	rc = claims_check(c, &rules, NOW, &err);
	json_decref(c);
	return rc;
}

static void audiences(void **state)
{
	const char *const one[] = {"Black Mesa", NULL};
	const char *const two[] = {"a", "b", NULL};

	assert_int_equal(check_aud(json_string("Black Mesa"), one, 0), SESAME_OK);
	assert_int_equal(check_aud(json_string("Black"), one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(json_string("Black Mesa "), one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(json_string("black mesa"), one, 0), SESAME_REJECTED);
	/* An embedded NUL must not end the comparison early. */
	assert_int_equal(check_aud(json_stringn("Black Mesa\0x", 12), one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(json_pack("[s, s]", "x", "Black Mesa"), one, 0), SESAME_OK);
	assert_int_equal(check_aud(json_pack("[s, i]", "Black Mesa", 1), one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(json_pack("[]"), one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(json_integer(1), one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(NULL, one, 0), SESAME_REJECTED);
	assert_int_equal(check_aud(json_string("b"), two, 0), SESAME_OK);
	assert_int_equal(check_aud(json_string("b"), two, SESAME_JWT_ALL_AUDIENCES), SESAME_REJECTED);
	assert_int_equal(check_aud(json_pack("[s, s, s]", "b", "c", "a"), two, SESAME_JWT_ALL_AUDIENCES), SESAME_OK);
	/* No audience rule: aud is not looked at. */
	assert_int_equal(check_aud(json_integer(1), NULL, 0), SESAME_OK);
}

static void issuers(void **state)
{
	const char *const iss[] = {"https://a.example", "https://b.example", NULL};
	struct sesame_jwt_rules rules = {
	    .struct_size = sizeof(rules), .leeway = -1, .issuers = iss, .flags = SESAME_JWT_EXP_OPTIONAL};
	json_t *c = json_object();
	sesame_error err;

	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	assert_non_null(strstr(err.text, "\"iss\""));
	json_object_set_new(c, "iss", json_string("https://b.example"));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_OK);
	json_object_set_new(c, "iss", json_string("https://b.example/"));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	json_object_set_new(c, "iss", json_string(""));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	json_object_set_new(c, "iss", json_pack("[s]", "https://a.example"));
	assert_int_equal(claims_check(c, &rules, NOW, &err), SESAME_REJECTED);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exp_boundaries), cmocka_unit_test(nbf_iat_boundaries),
	    cmocka_unit_test(exp_required),   cmocka_unit_test(audiences),
	    cmocka_unit_test(issuers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
