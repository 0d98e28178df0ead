/* SPDX-License-Identifier: MIT */
/* tests/core/test-jwk.c — core/jwk.c: JWK and configured-key parsing with
 * the specific error of each unusable key, JWKS documents, and the
 * reference counting of key sets. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"
#include "testutil.h"

#define EC_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define EC_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define HS_K "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"

/* Parse a JWK text; on failure the message must contain `word`. */
static int jwk(const char *text, bool allow_oct, const char *word)
{
	json_t *j = json_loads(text, 0, NULL);
	struct jose_key key;
	sesame_error err;
	int rc;

	assert_non_null(j);
	err_clear(&err);
	rc = jose_key_from_jwk(j, allow_oct, &key, &err);
	if (rc == SESAME_OK) {
		assert_int_not_equal(key.alg, JOSE_ALG_UNKNOWN);
		jose_key_clear(&key);
	} else {
		assert_string_equal(err.reason, "key");
		if (word && !strstr(err.text, word))
			fail_msg("\"%s\" does not mention \"%s\"", err.text, word);
	}
	json_decref(j);
	return rc;
}

static void jwk_errors(void **state)
{
	assert_int_equal(jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", false, NULL),
			 SESAME_OK);
	/* The point is not on the curve (last bit of y flipped). */
	assert_int_equal(jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X
			     "\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5aw\"}",
			     false, "curve"),
			 SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", false, "48"),
			 SESAME_MALFORMED);
	assert_int_equal(
	    jwk("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", false, "crv"),
	    SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y
			     "\"}",
			     false, "does not match"),
			 SESAME_MALFORMED);
	assert_int_equal(
	    jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "=\",\"y\":\"" EC_Y "\"}", false, "base64url"),
	    SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}",
			     false, "use"),
			 SESAME_MALFORMED);
	assert_int_equal(
	    jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":5,\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", false, "kid"),
	    SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" EC_X "\"}", false, "crv"),
			 SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}", false, "32"), SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", false, "\"n\""), SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"RSA\",\"n\":\"" EC_X "A\",\"e\":\"AQAB\"}", false, "weaker"),
			 SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"" HS_K "\"}", false, "oct"), SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"" HS_K "\"}", true, NULL), SESAME_OK);
	assert_int_equal(jwk("{\"kty\":\"oct\",\"k\":\"" HS_K "\"}", true, "alg"), SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"c2hvcnQ\"}", true, "32"), SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"" HS_K "\"}", true, "does not match"),
			 SESAME_MALFORMED);
	assert_int_equal(jwk("{\"kty\":\"PQC\"}", false, "kty"), SESAME_MALFORMED);
	assert_int_equal(jwk("{}", false, "kty"), SESAME_MALFORMED);
}

/* Load one configured key; on failure the message must contain `word`. */
static int conf(json_t *obj, const char *word)
{
	struct jose_key key;
	sesame_error err;
	int rc;

	err_clear(&err);
	rc = jose_key_from_config(obj, "signing_keys[0]", &key, &err);
	if (rc == SESAME_OK) {
		jose_key_clear(&key);
	} else {
		assert_int_equal(rc, SESAME_CONFIG);
		assert_string_equal(err.reason, "key");
		assert_non_null(strstr(err.text, "signing_keys[0]"));
		if (word && !strstr(err.text, word))
			fail_msg("\"%s\" does not mention \"%s\"", err.text, word);
		/* The secret never appears in a message. */
		assert_null(strstr(err.text, "sesame-secret-value"));
	}
	json_decref(obj);
	return rc;
}

static void config_key_errors(void **state)
{
	assert_int_equal(
	    conf(json_pack("{s:s, s:s}", "alg", "HS256", "key", "sesame-secret-value-0123456789abcdef"), NULL),
	    SESAME_OK);
	assert_int_equal(
	    conf(json_pack("{s:s, s:s}", "alg", "HS512", "key", "sesame-secret-value-0123456"), "32 bytes"),
	    SESAME_CONFIG);
	assert_int_equal(conf(json_pack("{s:s, s:s}", "alg", "HS256", "key", ""), NULL), SESAME_CONFIG);
	assert_int_equal(
	    conf(json_pack("{s:s, s:s}", "alg", "none", "key", "sesame-secret-value-0123456789abcdef"), "unsupported"),
	    SESAME_CONFIG);
	assert_int_equal(
	    conf(json_pack("{s:s, s:s}", "alg", "hs256", "key", "sesame-secret-value-0123456789abcdef"), "unsupported"),
	    SESAME_CONFIG);
	assert_int_equal(conf(json_pack("{s:s, s:s, s:s}", "alg", "HS256", "key",
					"sesame-secret-value-0123456789abcdef", "use", "sig"),
			      "use"),
			 SESAME_CONFIG);
	assert_int_equal(
	    conf(json_pack("{s:s, s:s}", "alg", "RS256", "key", "-----BEGIN PUBLIC KEY-----\nAAAA\n"), "PEM"),
	    SESAME_CONFIG);
	assert_int_equal(
	    conf(json_pack("{s:s, s:s, s:i}", "alg", "HS256", "key", "sesame-secret-value-0123456789abcdef", "kid", 3),
		 "kid"),
	    SESAME_CONFIG);
	assert_int_equal(conf(json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "alg", "ES256", "key", "kty", "EC", "crv",
					"P-256", "x", EC_X, "y", EC_Y),
			      NULL),
			 SESAME_OK);
	assert_int_equal(conf(json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "alg", "ES384", "key", "kty", "EC", "crv",
					"P-256", "x", EC_X, "y", EC_Y),
			      "does not match"),
			 SESAME_CONFIG);
	assert_int_equal(conf(json_pack("[]"), "object"), SESAME_CONFIG);
}

static void jwks_documents(void **state)
{
	static const char doc[] =
	    "{\"keys\":["
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"b\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"b\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"},"
	    "{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"" HS_K "\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"r\"}"
	    "]}";
	const char *const only_rs[] = {"RS256", NULL};
	struct jose_keyset *set = NULL;
	sesame_error err;

	assert_int_equal(jwks_parse(doc, strlen(doc), false, NULL, NULL, "t", &set, &err), SESAME_OK);
	assert_int_equal(set->n, 1); /* b twice: both dropped; oct and bad RSA skipped */
	assert_string_equal(set->keys[0].kid, "a");
	/* References: the set lives until the last one is dropped. */
	assert_ptr_equal(keyset_ref(set), set);
	keyset_unref(set);
	assert_int_equal(set->n, 1);
	keyset_unref(set);
	assert_int_equal(jwks_parse(doc, strlen(doc), true, NULL, NULL, "t", &set, &err), SESAME_OK);
	assert_int_equal(set->n, 2);
	keyset_unref(set);
	assert_int_equal(jwks_parse(doc, strlen(doc), true, only_rs, NULL, "t", &set, &err), SESAME_OK);
	assert_int_equal(set->n, 0);
	keyset_unref(set);
	assert_int_equal(jwks_parse("{\"keys\":{}}", 11, false, NULL, NULL, "t", &set, &err), SESAME_MALFORMED);
	assert_string_equal(err.reason, "jwks");
	assert_null(set);
	assert_int_equal(jwks_parse("[1]", 3, false, NULL, NULL, "t", &set, &err), SESAME_MALFORMED);
	assert_int_equal(jwks_parse("{\"keys\":[],\"keys\":[]}", 21, false, NULL, NULL, "t", &set, &err),
			 SESAME_MALFORMED);
	assert_int_equal(jwks_parse("{", 1, false, NULL, NULL, "t", &set, &err), SESAME_MALFORMED);
	/* A raw NUL byte between tokens, which jansson alone would skip. */
	assert_int_equal(jwks_parse("{\"keys\":[]\0}", 12, false, NULL, NULL, "t", &set, &err), SESAME_MALFORMED);
	assert_string_equal(err.text, "t: not JSON: a NUL byte (line 1)");
	assert_null(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(jwk_errors),
	    cmocka_unit_test(config_key_errors),
	    cmocka_unit_test(jwks_documents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
