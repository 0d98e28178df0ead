/* SPDX-License-Identifier: MIT */
/*
 * core/claims.c — the registered JWT claims (RFC 7519 4.1): exp, nbf, iat
 * as integer NumericDates with leeway, aud and iss compared exactly.
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "jose.h"

/*
 * Read a NumericDate claim.  Only a JSON integer in [0, year 9999] is
 * accepted: strings, floats and huge values are refused, and all the
 * arithmetic stays in int64_t far from overflow (no time_t conversion).
 * Returns 1 when present and valid, 0 when absent, -1 when invalid.
 */
static int numeric_date(const json_t *claims, const char *name, int64_t *out, sesame_error *err)
{
	json_t *v = json_object_get(claims, name);
	json_int_t n;

	if (!v)
		return 0;
	if (!json_is_integer(v)) {
		seterr(err, SESAME_REJECTED, "claim", "claim \"%s\" is not an integer NumericDate", name);
		return -1;
	}
	n = json_integer_value(v);
	if (n < 0 || n > JOSE_MAX_NUMERIC_DATE) {
		seterr(err, SESAME_REJECTED, "claim", "claim \"%s\" is out of range", name);
		return -1;
	}
	*out = (int64_t)n;
	return 1;
}

static int64_t rules_leeway(const struct sesame_jwt_rules *rules)
{
	if (!rules || rules->leeway < 0)
		return JOSE_DEFAULT_LEEWAY;
	return rules->leeway > JOSE_MAX_LEEWAY ? JOSE_MAX_LEEWAY : rules->leeway;
}

static int check_times(const json_t *claims, const struct sesame_jwt_rules *rules, int64_t now, sesame_error *err)
{
	int64_t leeway = rules_leeway(rules), exp = 0, nbf = 0, iat = 0;
	int has;

	has = numeric_date(claims, "exp", &exp, err);
	if (has < 0)
		return SESAME_REJECTED;
	if (has == 0 && !(rules && (rules->flags & SESAME_JWT_EXP_OPTIONAL)))
		return seterr(err, SESAME_REJECTED, "claim", "claim \"exp\" is missing");
	if (has && now >= exp + leeway)
		return seterr(err, SESAME_REJECTED, "claim", "the token expired (claim \"exp\")");
	has = numeric_date(claims, "nbf", &nbf, err);
	if (has < 0)
		return SESAME_REJECTED;
	if (has && now + leeway < nbf)
		return seterr(err, SESAME_REJECTED, "claim", "the token is not valid yet (claim \"nbf\")");
	has = numeric_date(claims, "iat", &iat, err);
	if (has < 0)
		return SESAME_REJECTED;
	if (has && iat > now + leeway)
		return seterr(err, SESAME_REJECTED, "claim", "the token was issued in the future (claim \"iat\")");
	return SESAME_OK;
}

/* Exact, length-aware equality of a JSON string and a C string. */
static bool string_is(const json_t *v, const char *s)
{
	size_t n = strlen(s);

	return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), s, n) == 0;
}

/* True when the token's aud (a string or array of strings) holds `want`. */
static bool aud_holds(const json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return string_is(aud, want);
	json_array_foreach(aud, i, v) {
		if (string_is(v, want))
			return true;
	}
	return false;
}

static int check_audience(const json_t *claims, const struct sesame_jwt_rules *rules, sesame_error *err)
{
	json_t *aud = json_object_get(claims, "aud"), *v;
	bool all = rules->flags & SESAME_JWT_ALL_AUDIENCES;
	size_t i, matched = 0, wanted = 0;

	if (!aud)
		return seterr(err, SESAME_REJECTED, "claim", "claim \"aud\" is missing");
	if (json_is_array(aud)) {
		if (json_array_size(aud) == 0)
			return seterr(err, SESAME_REJECTED, "claim", "claim \"aud\" is an empty array");
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v))
				return seterr(err, SESAME_REJECTED, "claim", "claim \"aud\" holds a non-string");
		}
	} else if (!json_is_string(aud)) {
		return seterr(err, SESAME_REJECTED, "claim", "claim \"aud\" is neither a string nor an array");
	}
	for (i = 0; rules->audiences[i]; i++, wanted++)
		matched += aud_holds(aud, rules->audiences[i]);
	if (matched == 0 || (all && matched != wanted))
		return seterr(err, SESAME_REJECTED, "claim", "claim \"aud\" does not hold %s of the expected audiences",
			      all ? "all" : "any");
	return SESAME_OK;
}

static int check_issuer(const json_t *claims, const struct sesame_jwt_rules *rules, sesame_error *err)
{
	json_t *iss = json_object_get(claims, "iss");
	size_t i;

	if (!iss)
		return seterr(err, SESAME_REJECTED, "claim", "claim \"iss\" is missing");
	for (i = 0; json_is_string(iss) && rules->issuers[i]; i++)
		if (string_is(iss, rules->issuers[i]))
			return SESAME_OK;
	return seterr(err, SESAME_REJECTED, "claim", "claim \"iss\" is not an expected issuer");
}

int claims_check(const json_t *claims, const struct sesame_jwt_rules *rules, int64_t now, sesame_error *err)
{
	int rc = check_times(claims, rules, now, err);

	if (rc == SESAME_OK && rules && rules->audiences)
		rc = check_audience(claims, rules, err);
	if (rc == SESAME_OK && rules && rules->issuers)
		rc = check_issuer(claims, rules, err);
	return rc;
}
