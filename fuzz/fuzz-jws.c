/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz-jws.c — libFuzzer target: compact JWS verification of hostile
 * tokens against a fixed key set (HS256, RS256, ES256, EdDSA, with and
 * without kid).  Inputs whose first byte is odd also go through the claim
 * checks without the signature, so the payload parser is reached too.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jose.h"

/* Public keys of tests/jws/keys and the RFC 7515 A.1 HMAC key. */
static const char jwks[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"kid\":\"hs\",\"alg\":\"HS256\","
    "\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
    "{\"kty\":\"oct\",\"alg\":\"HS512\","
    "\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPdd"
    "xHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-b"
    "Sf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGh"
    "yxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"}"
    "]}";

static struct sesame_keys keys;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct logger lg;

	log_init(&lg);
	lg.max_level = SESAME_LOG_WARNING;
	if (jwks_parse(jwks, sizeof(jwks) - 1, true, NULL, &lg, "fuzz", &keys.fixed, NULL) != SESAME_OK ||
	    keys.fixed->n != 5) {
		fprintf(stderr, "fuzz-jws: the fixed key set does not load\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const aud[] = {"sesame-app", "joe", NULL};
	static const char *const iss[] = {"joe", NULL};
	struct sesame_jwt_rules rules = {.struct_size = sizeof(rules), .audiences = aud, .issuers = iss, .leeway = -1};
	char *token = malloc(size + 1);
	json_t *claims = NULL;
	sesame_error err;

	if (!token)
		return 0;
	memcpy(token, data, size);
	token[size] = '\0';
	if (size > 0 && (data[0] & 1))
		rules.flags = SESAME_JWT_EXP_OPTIONAL | SESAME_JWT_ALL_AUDIENCES;
	if (keys_verify(&keys, token, &rules, 1300819300, &claims, &err) == SESAME_OK && !claims)
		abort();
	json_decref(claims);
	if (size > 0 && (data[0] & 1)) {
		struct jws_token t;

		if (jws_parse(token, 0, &t, &err) == SESAME_OK) {
			claims = NULL;
			jws_claims(&t, &rules, 1300819300, &claims, &err);
			json_decref(claims);
			jws_token_clear(&t);
		}
	}
	free(token);
	return 0;
}
