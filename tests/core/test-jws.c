/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-jws.c — core/jws.c and core/keys.c: sign and verify
 * round trips for every algorithm with keys from tests/jws/keys, the raw
 * R || S form of ECDSA, key selection by kid, and signing refusals.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "internal.h"
#include "jose.h"
#include "testutil.h"

#define HMAC_SECRET "sesame-test-hmac-secret-0123456789abcdef"
#define NOW 1700000000

static char *read_key(const char *name)
{
	char *dir = tu_path(tu_env("SESAME_TEST_SRCDIR"), "tests/jws/keys"), *path = tu_path(dir, name);
	char *buf = calloc(1, 16384);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 16383, f) > 0);
	fclose(f);
	free(path);
	free(dir);
	return buf;
}

/* A key set of one key: alg with the PEM file `file` (or the HMAC secret). */
static struct sesame_keys *one_key(const char *alg, const char *file, const char *kid)
{
	char *pem = file ? read_key(file) : strdup(HMAC_SECRET);
	json_t *list = json_pack("[{s:s, s:s}]", "alg", alg, "key", pem);
	struct sesame_keys *keys = NULL;
	sesame_error err;

	if (kid)
		json_object_set_new(json_array_get(list, 0), "kid", json_string(kid));
	if (keys_from_config(list, &keys, &err) != SESAME_OK)
		fail_msg("%s %s: %s", alg, file ? file : "secret", err.text);
	json_decref(list);
	free(pem);
	return keys;
}

static const struct {
	const char *alg, *priv, *pub;
} algs[] = {
    {"HS256", NULL, NULL},
    {"HS384", NULL, NULL},
    {"HS512", NULL, NULL},
    {"RS256", "rsa.pem", "rsa.pub.pem"},
    {"RS384", "rsa.pem", "rsa.pub.pem"},
    {"RS512", "rsa.pem", "rsa.pub.pem"},
    {"PS256", "rsa.pem", "rsa.pub.pem"},
    {"PS384", "rsa.pem", "rsa.pub.pem"},
    {"PS512", "rsa.pem", "rsa.pub.pem"},
    {"ES256", "ec256.pem", "ec256.pub.pem"},
    {"ES384", "ec384.pem", "ec384.pub.pem"},
    {"ES512", "ec521.pem", "ec521.pub.pem"},
    {"EdDSA", "ed25519.pem", "ed25519.pub.pem"},
};

static void sign_verify_every_alg(void **state)
{
	json_t *claims = json_pack("{s:s, s:I, s:s}", "sub", "user-1", "exp", (json_int_t)NOW + 60, "aud", "app");
	const char *const aud[] = {"app", NULL};
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .audiences = aud, .leeway = -1};
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct sesame_keys *priv = one_key(algs[i].alg, algs[i].priv, "k1");
		struct sesame_keys *pub = one_key(algs[i].alg, algs[i].pub, "k1");
		json_t *extra = json_pack("{s:s}", "typ", "at+jwt"), *got = NULL;
		char *token = NULL, *dot;
		unsigned char header[512];
		size_t header_len;
		struct jws_token t;
		sesame_error err;

		if (keys_sign(priv, "k1", extra, claims, &token, &err) != SESAME_OK)
			fail_msg("%s: sign: %s", algs[i].alg, err.text);
		if (keys_verify(pub, token, &rules, NOW, &got, &err) != SESAME_OK)
			fail_msg("%s: verify: %s", algs[i].alg, err.text);
		assert_true(json_equal(got, claims));
		json_decref(got);
		/* The header carries alg, kid and the extra member. */
		assert_int_equal(jws_parse(token, 0, &t, &err), SESAME_OK);
		assert_int_equal(t.alg, jose_alg_from_name(algs[i].alg));
		assert_string_equal(t.kid, "k1");
		dot = strchr(token, '.');
		assert_true(b64url_decode_into(token, (size_t)(dot - token), header, &header_len));
		got = json_loadb((const char *)header, header_len, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(got, "alg")), algs[i].alg);
		assert_string_equal(json_string_value(json_object_get(got, "kid")), "k1");
		assert_string_equal(json_string_value(json_object_get(got, "typ")), "at+jwt");
		json_decref(got);
		/* ECDSA is emitted as raw R || S of exactly twice the coordinate size. */
		if (algs[i].alg[0] == 'E' && algs[i].alg[1] == 'S')
			assert_int_equal(t.sig_len, strcmp(algs[i].alg, "ES256") == 0	? 64
						    : strcmp(algs[i].alg, "ES384") == 0 ? 96
											: 132);
		jws_token_clear(&t);
		/* The private key verifies too; a changed payload does not. */
		assert_int_equal(keys_verify(priv, token, &rules, NOW, &got, &err), SESAME_OK);
		json_decref(got);
		dot = strchr(token, '.');
		dot[1] = dot[1] == 'e' ? 'f' : 'e';
		assert_int_not_equal(keys_verify(pub, token, &rules, NOW, &got, &err), SESAME_OK);
		assert_null(got);
		free(token);
		json_decref(extra);
		keys_free(priv);
		keys_free(pub);
	}
	json_decref(claims);
}

static void sign_refusals(void **state)
{
	struct sesame_keys *pub = one_key("RS256", "rsa.pub.pem", NULL);
	json_t *claims = json_pack("{s:s}", "sub", "u"), *bad = json_pack("{s:s}", "alg", "none");
	struct sesame_keys *priv = one_key("ES256", "ec256.pem", "a");
	char *token = NULL;
	sesame_error err;

	/* A public key cannot sign. */
	assert_int_equal(keys_sign(pub, NULL, NULL, claims, &token, &err), SESAME_USAGE);
	assert_null(token);
	/* The extra header may not override alg. */
	assert_int_equal(keys_sign(priv, "a", bad, claims, &token, &err), SESAME_USAGE);
	assert_null(token);
	/* An unknown kid. */
	assert_int_equal(keys_sign(priv, "zz", NULL, claims, &token, &err), SESAME_USAGE);
	assert_string_equal(err.reason, "nokey");
	keys_free(pub);
	keys_free(priv);
	json_decref(claims);
	json_decref(bad);
}

/*
 * jws_parse() remembers the last header it accepted on the thread: tokens
 * whose headers alternate, or differ in one member, each get their own
 * alg and kid, and a refused header is refused every time.
 */
static void header_memo(void **state)
{
	/* {"alg":"ES256","kid":"b"}, {"alg":"ES256","kid":"a"}, {"alg":"ES256"},
	 * {"alg":"RS256","kid":"b"}, {"alg":"none","kid":"b"} */
	static const char *const toks[] = {
	    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImIifQ.e30.AAAA", "eyJhbGciOiJFUzI1NiIsImtpZCI6ImEifQ.e30.AAAA",
	    "eyJhbGciOiJFUzI1NiJ9.e30.AAAA", "eyJhbGciOiJSUzI1NiIsImtpZCI6ImIifQ.e30.AAAA",
	    "eyJhbGciOiJub25lIiwia2lkIjoiYiJ9.e30.AAAA"};
	static const char *const kids[] = {"b", "a", NULL, "b", NULL};
	struct jws_token t;
	sesame_error err;
	size_t round, i, pass;

	(void)state;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
			size_t k = round == 1 ? sizeof(toks) / sizeof(toks[0]) - 1 - i : i; /* backwards once */

			if (k == 4) {
				assert_int_equal(jws_parse(toks[k], 0, &t, &err), SESAME_REJECTED);
				assert_string_equal(err.reason, "alg");
				continue;
			}
			/* Twice: the second time with the remembered header. */
			for (pass = 0; pass < 2; pass++) {
				assert_int_equal(jws_parse(toks[k], 0, &t, &err), SESAME_OK);
				assert_int_equal(t.alg, k == 3 ? JOSE_RS256 : JOSE_ES256);
				if (kids[k])
					assert_string_equal(t.kid, kids[k]);
				else
					assert_null(t.kid);
				jws_token_clear(&t);
			}
		}
	}
}

static void select_by_kid(void **state)
{
	char *rsa = read_key("rsa.pub.pem"), *ec = read_key("ec256.pub.pem");
	json_t *list = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "alg", "RS256", "kid", "a", "key", rsa, "alg",
				 "ES256", "kid", "b", "key", ec);
	struct sesame_keys *keys = NULL;
	struct jws_token t;
	size_t idx[4], n;
	sesame_error err;
	char *tok;

	assert_int_equal(keys_from_config(list, &keys, &err), SESAME_OK);
	/* header {"alg":"ES256","kid":"b"} */
	tok = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImIifQ.e30.AAAA";
	assert_int_equal(jws_parse(tok, 0, &t, &err), SESAME_OK);
	assert_int_equal(jws_select_keys(keys->fixed, &t, NULL, idx, 4, &n, &err), SESAME_OK);
	assert_int_equal(n, 1);
	assert_int_equal(idx[0], 1);
	jws_token_clear(&t);
	/* header {"alg":"ES256","kid":"a"}: kid a is pinned to RS256 */
	tok = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImEifQ.e30.AAAA";
	assert_int_equal(jws_parse(tok, 0, &t, &err), SESAME_OK);
	assert_int_equal(jws_select_keys(keys->fixed, &t, NULL, idx, 4, &n, &err), SESAME_REJECTED);
	assert_string_equal(err.reason, "alg");
	jws_token_clear(&t);
	/* header {"alg":"ES256"}: no kid, the ES256 key */
	tok = "eyJhbGciOiJFUzI1NiJ9.e30.AAAA";
	assert_int_equal(jws_parse(tok, 0, &t, &err), SESAME_OK);
	assert_int_equal(jws_select_keys(keys->fixed, &t, NULL, idx, 4, &n, &err), SESAME_OK);
	assert_int_equal(n, 1);
	assert_int_equal(idx[0], 1);
	jws_token_clear(&t);
	/* Duplicate kids in a configuration are refused. */
	json_object_set_new(json_array_get(list, 1), "kid", json_string("a"));
	keys_free(keys);
	assert_int_equal(keys_from_config(list, &keys, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "key");
	assert_null(keys);
	json_decref(list);
	free(rsa);
	free(ec);
}

/* sesame's own keys arrive as EVP_PKEYs (core/signing.c). */
static void key_from_pkey(void **state)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048);
	json_t *claims = json_pack("{s:s, s:I}", "sub", "u", "exp", (json_int_t)NOW + 60), *got = NULL;
	struct jose_keyset *set = keyset_new(1);
	char *token = NULL;
	sesame_error err;

	assert_non_null(pkey);
	assert_non_null(rsa);
	assert_int_equal(jose_key_from_pkey(pkey, JOSE_ES256, "k", true, &set->keys[0], &err), SESAME_OK);
	set->n = 1;
	EVP_PKEY_free(pkey); /* the key holds its own reference */
	assert_int_equal(jws_sign(&set->keys[0], NULL, claims, &token, &err), SESAME_OK);
	assert_int_equal(jws_verify(set, token, NULL, NOW, &got, &err), SESAME_OK);
	assert_true(json_equal(got, claims));
	json_decref(got);
	free(token);
	keyset_unref(set);
	{
		struct jose_key k;

		assert_int_equal(jose_key_from_pkey(rsa, JOSE_ES256, NULL, true, &k, &err), SESAME_CONFIG);
		assert_int_equal(jose_key_from_pkey(rsa, JOSE_HS256, NULL, true, &k, &err), SESAME_USAGE);
		assert_int_equal(jose_key_from_pkey(rsa, JOSE_PS256, NULL, false, &k, &err), SESAME_OK);
		assert_int_equal(jws_sign(&k, NULL, claims, &token, &err), SESAME_USAGE);
		jose_key_clear(&k);
	}
	EVP_PKEY_free(rsa);
	json_decref(claims);
}

/* A raw NUL byte between JSON tokens, which jansson alone would skip. */
static void raw_nul_refused(void **state)
{
	static const char header[] = "{\"alg\":\"HS256\"\0}", payload[] = "{\"sub\":\"u\"\0}";
	char *h = b64url_encode(header, sizeof(header) - 1), *p = b64url_encode(payload, sizeof(payload) - 1);
	char *good = b64url_encode("{\"alg\":\"HS256\"}", 15), token[256];
	struct jws_token t;
	sesame_error err;
	json_t *claims = (json_t *)1;

	(void)state;
	snprintf(token, sizeof(token), "%s.e30.AAAA", h);
	assert_int_equal(jws_parse(token, 0, &t, &err), SESAME_MALFORMED);
	assert_string_equal(err.text, "the header is not JSON: a NUL byte");
	snprintf(token, sizeof(token), "%s.%s.AAAA", good, p);
	assert_int_equal(jws_parse(token, 0, &t, &err), SESAME_OK);
	assert_int_equal(jws_claims(&t, NULL, NOW, &claims, &err), SESAME_MALFORMED);
	assert_string_equal(err.text, "the payload is not JSON: a NUL byte at byte 10");
	assert_null(claims);
	jws_token_clear(&t);
	free(h);
	free(p);
	free(good);
}

static void parse_cap_before_decoding(void **state)
{
	size_t len = 70000;
	char *big = malloc(len + 1);
	struct jws_token t;
	sesame_error err;

	assert_non_null(big);
	memset(big, '!', len); /* not even base64url: the length is checked first */
	big[len] = '\0';
	assert_int_equal(jws_parse(big, 0, &t, &err), SESAME_MALFORMED);
	assert_non_null(strstr(err.text, "longer than 65536"));
	assert_int_equal(jws_parse(big, 80000, &t, &err), SESAME_MALFORMED);
	assert_non_null(strstr(err.text, "three"));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sign_verify_every_alg), cmocka_unit_test(sign_refusals),
	    cmocka_unit_test(key_from_pkey),	     cmocka_unit_test(select_by_kid),
	    cmocka_unit_test(header_memo),	     cmocka_unit_test(parse_cap_before_decoding),
	    cmocka_unit_test(raw_nul_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
