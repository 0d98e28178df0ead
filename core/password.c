/*
 * core/password.c — password hashing for provider plugins (the host's
 * password_hash and password_verify): scrypt through OpenSSL's EVP_KDF,
 * stored as a PHC string
 *
 *   $scrypt$ln=LOG2N,r=R,p=P$SALT$HASH
 *
 * with SALT (16 random bytes) and HASH (32 bytes) in base64 without
 * padding (the PHC "B64" alphabet), so a plugin needs no OpenSSL of its own
 * and the parameters travel with each hash (a weaker hash is rehashed at
 * the next successful login).  Every derivation counts in ctx->kdf_runs,
 * which lets tests check that a path ran the KDF without timing it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "internal.h"
#include "jose.h"

#define SALT_BYTES	 16
#define HASH_BYTES	 32
#define MAX_PASSWORD	 4096
#define MAX_PHC		 256

static bool params_valid(unsigned log2_n, unsigned r, unsigned p)
{
	return log2_n >= PASSWORD_LOG2N_MIN && log2_n <= PASSWORD_LOG2N_MAX && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

static int scrypt(const char *password, size_t length, const unsigned char *salt, size_t salt_len, unsigned log2_n,
		  unsigned r, unsigned p, unsigned char out[HASH_BYTES])
{
	uint64_t n = (uint64_t)1 << log2_n, maxmem = 129 * (uint64_t)r * n * p + (1u << 20);
	uint32_t r32 = r, p32 = p;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password, length),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
	    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32),
	    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
	    OSSL_PARAM_construct_end(),
	};
	int ok = kctx && EVP_KDF_derive(kctx, out, HASH_BYTES, params) == 1;

	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? SESAME_OK : SESAME_INTERNAL;
}

/* Base64 (PHC B64: standard alphabet, no padding). */
static char *b64(const unsigned char *in, size_t len)
{
	char *s = b64url_encode(in, len), *c;

	for (c = s; c && *c; c++)
		*c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
	return s;
}

static unsigned char *unb64(const char *in, size_t len, size_t *out_len)
{
	char *copy = strndup(in, len), *c;
	unsigned char *out;

	if (!copy)
		return NULL;
	for (c = copy; *c; c++) {
		if (*c == '-' || *c == '_') { /* not of the B64 alphabet */
			free(copy);
			return NULL;
		}
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	}
	out = b64url_decode(copy, len, out_len);
	free(copy);
	return out;
}

static void count_run(sesame_ctx *ctx)
{
	atomic_fetch_add(&ctx->kdf_runs, 1);
}

int password_hash(sesame_ctx *ctx, const char *password, size_t length, unsigned log2_n, unsigned r, unsigned p,
		  char **phc, sesame_error *err)
{
	unsigned char salt[SALT_BYTES], hash[HASH_BYTES];
	char *s = NULL, *h = NULL;
	int rc;

	*phc = NULL;
	if (!password || length > MAX_PASSWORD || !params_valid(log2_n, r, p))
		return seterr(err, SESAME_USAGE, "usage",
			      "password_hash: no password, one over %d bytes, or scrypt parameters out of range",
			      MAX_PASSWORD);
	if (util_random(salt, sizeof(salt)) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "random", "no randomness");
	count_run(ctx);
	rc = scrypt(password, length, salt, sizeof(salt), log2_n, r, p, hash);
	if (rc == SESAME_OK && (!(s = b64(salt, sizeof(salt))) || !(h = b64(hash, sizeof(hash))) ||
				!(*phc = malloc(MAX_PHC))))
		rc = SESAME_INTERNAL;
	if (rc == SESAME_OK)
		snprintf(*phc, MAX_PHC, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", log2_n, r, p, s, h);
	util_wipe(hash, sizeof(hash));
	free(s);
	util_free_secret(h);
	return rc == SESAME_OK ? SESAME_OK : seterr(err, SESAME_INTERNAL, "kdf", "scrypt failed");
}

/* The parts of a PHC string; false when it is not one of ours. */
static bool phc_parse(const char *phc, unsigned *log2_n, unsigned *r, unsigned *p, const char **salt,
		      size_t *salt_len, const char **hash)
{
	int used = 0;
	const char *dollar;

	if (!phc || strlen(phc) >= MAX_PHC ||
	    sscanf(phc, "$scrypt$ln=%2u,r=%2u,p=%2u$%n", log2_n, r, p, &used) != 3 || used == 0 ||
	    !params_valid(*log2_n, *r, *p))
		return false;
	*salt = phc + used;
	dollar = strchr(*salt, '$');
	if (!dollar || dollar == *salt)
		return false;
	*salt_len = (size_t)(dollar - *salt);
	*hash = dollar + 1;
	return **hash != '\0';
}

int password_verify(sesame_ctx *ctx, const char *password, size_t length, const char *phc, unsigned log2_n,
		    unsigned r, unsigned p, int *match, int *weaker, sesame_error *err)
{
	unsigned stored_n, stored_r, stored_p;
	const char *salt_text = NULL, *hash_text = "";
	unsigned char *salt = NULL, hash[HASH_BYTES];
	size_t salt_len = 0, text_len;
	char *computed = NULL;
	int rc;

	*match = 0;
	if (weaker)
		*weaker = 0;
	if (!password || length > MAX_PASSWORD)
		return seterr(err, SESAME_USAGE, "usage", "password_verify: no password or one over %d bytes",
			      MAX_PASSWORD);
	if (!phc_parse(phc, &stored_n, &stored_r, &stored_p, &salt_text, &text_len, &hash_text) ||
	    !(salt = unb64(salt_text, text_len, &salt_len)) || salt_len < 8)
		rc = seterr(err, SESAME_MALFORMED, "hash", "the stored password hash is not a $scrypt$ PHC string");
	else {
		count_run(ctx);
		rc = scrypt(password, length, salt, salt_len, stored_n, stored_r, stored_p, hash);
		if (rc == SESAME_OK && !(computed = b64(hash, sizeof(hash))))
			rc = SESAME_INTERNAL;
		if (rc != SESAME_OK)
			seterr(err, SESAME_INTERNAL, "kdf", "scrypt failed");
	}
	if (rc == SESAME_OK) {
		*match = strlen(computed) == strlen(hash_text) && util_ct_equal(computed, hash_text, strlen(computed));
		/* Any parameter below the configured ones: rehash. */
		if (weaker)
			*weaker = stored_n < log2_n || stored_r < r || stored_p < p;
	}
	util_wipe(hash, sizeof(hash));
	util_free_secret(computed);
	free(salt);
	return rc;
}
