/* SPDX-License-Identifier: MIT */
/*
 * core/jwk.c — keys for JOSE: algorithm names, keys parsed once from
 * configuration (PEM, HMAC secret or JWK) or from a JWK, each pinned to one
 * algorithm, and the reference-counted immutable key sets built from them.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "internal.h"
#include "jose.h"

/* ---- algorithms ----------------------------------------------------------- */

static const struct {
	const char *name;
	enum jose_kty kty;
	const char *md;
	const char *curve; /* JWK crv of the EC/OKP algorithms */
} algs[] = {
    [JOSE_HS256] = {"HS256", JOSE_KTY_OCT, "SHA256", NULL},   [JOSE_HS384] = {"HS384", JOSE_KTY_OCT, "SHA384", NULL},
    [JOSE_HS512] = {"HS512", JOSE_KTY_OCT, "SHA512", NULL},   [JOSE_RS256] = {"RS256", JOSE_KTY_RSA, "SHA256", NULL},
    [JOSE_RS384] = {"RS384", JOSE_KTY_RSA, "SHA384", NULL},   [JOSE_RS512] = {"RS512", JOSE_KTY_RSA, "SHA512", NULL},
    [JOSE_PS256] = {"PS256", JOSE_KTY_RSA, "SHA256", NULL},   [JOSE_PS384] = {"PS384", JOSE_KTY_RSA, "SHA384", NULL},
    [JOSE_PS512] = {"PS512", JOSE_KTY_RSA, "SHA512", NULL},   [JOSE_ES256] = {"ES256", JOSE_KTY_EC, "SHA256", "P-256"},
    [JOSE_ES384] = {"ES384", JOSE_KTY_EC, "SHA384", "P-384"}, [JOSE_ES512] = {"ES512", JOSE_KTY_EC, "SHA512", "P-521"},
    [JOSE_EDDSA] = {"EdDSA", JOSE_KTY_OKP, NULL, "Ed25519"},
};

/* The OpenSSL group names and coordinate sizes of the JWK curves. */
static const struct {
	const char *crv, *group;
	int nid;
	size_t size;
	enum jose_alg alg;
} curves[] = {
    {"P-256", "prime256v1", NID_X9_62_prime256v1, 32, JOSE_ES256},
    {"P-384", "secp384r1", NID_secp384r1, 48, JOSE_ES384},
    {"P-521", "secp521r1", NID_secp521r1, 66, JOSE_ES512},
};

enum jose_alg jose_alg_from_name(const char *name)
{
	size_t i;

	for (i = 1; name && i < ARRAY_SIZE(algs); i++)
		if (strcmp(name, algs[i].name) == 0)
			return (enum jose_alg)i;
	return JOSE_ALG_UNKNOWN;
}

const char *jose_alg_name(enum jose_alg alg)
{
	return alg > JOSE_ALG_UNKNOWN && (size_t)alg < ARRAY_SIZE(algs) ? algs[alg].name : "unknown";
}

enum jose_kty jose_alg_kty(enum jose_alg alg)
{
	return algs[alg].kty;
}

const EVP_MD *jose_alg_md(enum jose_alg alg)
{
	switch (alg) {
	case JOSE_HS256:
	case JOSE_RS256:
	case JOSE_PS256:
	case JOSE_ES256:
		return EVP_sha256();
	case JOSE_HS384:
	case JOSE_RS384:
	case JOSE_PS384:
	case JOSE_ES384:
		return EVP_sha384();
	case JOSE_HS512:
	case JOSE_RS512:
	case JOSE_PS512:
	case JOSE_ES512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static const char *kty_name(enum jose_kty kty)
{
	static const char *const names[] = {"oct", "RSA", "EC", "OKP"};

	return names[kty];
}

static int curve_of_alg(enum jose_alg alg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(curves); i++)
		if (curves[i].alg == alg)
			return (int)i;
	return -1;
}

/* ---- keys ------------------------------------------------------------------- */

void jose_key_clear(struct jose_key *key)
{
	if (!key)
		return;
	free(key->kid);
	EVP_PKEY_free(key->pkey);
	if (key->secret) {
		util_wipe(key->secret, key->secret_len);
		free(key->secret);
	}
	EVP_MAC_CTX_free(key->mac);
	EVP_MD_CTX_free(key->verify_tmpl);
	EVP_MD_CTX_free(key->sign_tmpl);
	BN_free(key->order);
	memset(key, 0, sizeof(*key));
}

/* HMAC with each digest, fetched once for the process and copied per key:
 * a fetch (of HMAC and of its digest) costs more than an HMAC of a token,
 * and every refresh token is keyed afresh (core/sessions.c). */
static EVP_MAC_CTX *hmac_tmpl[JOSE_HS512 + 1];
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[2];
	int a;

	for (a = JOSE_HS256; mac && a <= JOSE_HS512; a++) {
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)algs[a].md, 0);
		params[1] = OSSL_PARAM_construct_end();
		hmac_tmpl[a] = EVP_MAC_CTX_new(mac);
		if (hmac_tmpl[a] && EVP_MAC_CTX_set_params(hmac_tmpl[a], params) != 1) {
			EVP_MAC_CTX_free(hmac_tmpl[a]);
			hmac_tmpl[a] = NULL;
		}
	}
	EVP_MAC_free(mac);
}

static int prepare_hmac(struct jose_key *key, sesame_error *err)
{
	int ok;

	pthread_once(&hmac_once, hmac_fetch);
	if (!hmac_tmpl[key->alg])
		return seterr(err, SESAME_INTERNAL, "crypto", "HMAC with %s is not available", algs[key->alg].md);
	key->mac = EVP_MAC_CTX_dup(hmac_tmpl[key->alg]);
	if (!key->mac)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	ok = EVP_MAC_init(key->mac, key->secret, key->secret_len, NULL) == 1;
	key->sig_len = (size_t)EVP_MD_get_size(jose_alg_md(key->alg));
	return ok ? SESAME_OK : seterr(err, SESAME_INTERNAL, "crypto", "cannot key HMAC");
}

static int prepare_ec_order(struct jose_key *key, sesame_error *err)
{
	int c = curve_of_alg(key->alg);
	EC_GROUP *group;

	group = EC_GROUP_new_by_curve_name(curves[c].nid);
	if (group)
		key->order = BN_dup(EC_GROUP_get0_order(group));
	EC_GROUP_free(group);
	if (!key->order)
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot get the order of %s", curves[c].crv);
	key->sig_len = 2 * curves[c].size;
	return SESAME_OK;
}

int jose_key_prepare(struct jose_key *key, sesame_error *err)
{
	EVP_PKEY_CTX *pctx = NULL;
	int rc;

	switch (jose_alg_kty(key->alg)) {
	case JOSE_KTY_OCT:
		return prepare_hmac(key, err);
	case JOSE_KTY_OKP:
		key->sig_len = 64;
		return SESAME_OK;
	case JOSE_KTY_EC:
		rc = prepare_ec_order(key, err);
		if (rc != SESAME_OK)
			return rc;
		break;
	case JOSE_KTY_RSA:
		key->sig_len = (size_t)EVP_PKEY_get_size(key->pkey);
		break;
	}
	/* A DigestVerify context initialised once and copied per token costs
	 * a fraction of a fresh EVP_DigestVerifyInit. */
	key->verify_tmpl = EVP_MD_CTX_new();
	if (!key->verify_tmpl ||
	    EVP_DigestVerifyInit(key->verify_tmpl, &pctx, jose_alg_md(key->alg), NULL, key->pkey) != 1)
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot prepare %s verification",
			      jose_alg_name(key->alg));
	if (key->alg >= JOSE_PS256 && key->alg <= JOSE_PS512 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot prepare PSS");
	if (!key->has_private)
		return SESAME_OK;
	/* The same for signing (sesame signs an access token per login). */
	pctx = NULL;
	key->sign_tmpl = EVP_MD_CTX_new();
	if (!key->sign_tmpl ||
	    EVP_DigestSignInit(key->sign_tmpl, &pctx, jose_alg_md(key->alg), NULL, key->pkey) != 1)
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot prepare %s signing", jose_alg_name(key->alg));
	if (key->alg >= JOSE_PS256 && key->alg <= JOSE_PS512 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot prepare PSS");
	return SESAME_OK;
}

/* True when an EVP_PKEY is of the type and curve that `alg` needs. */
static bool pkey_fits_alg(EVP_PKEY *pkey, enum jose_alg alg, char *why, size_t whylen)
{
	char group[64];
	int c;

	switch (jose_alg_kty(alg)) {
	case JOSE_KTY_RSA:
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			snprintf(why, whylen, "%s needs an RSA key", jose_alg_name(alg));
			return false;
		}
		if (EVP_PKEY_get_bits(pkey) < JOSE_MIN_RSA_BITS) {
			snprintf(why, whylen, "the RSA key has %d bits, fewer than %d", EVP_PKEY_get_bits(pkey),
				 JOSE_MIN_RSA_BITS);
			return false;
		}
		return true;
	case JOSE_KTY_EC:
		c = curve_of_alg(alg);
		if (!EVP_PKEY_is_a(pkey, "EC") ||
		    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1 ||
		    strcmp(group, curves[c].group) != 0) {
			snprintf(why, whylen, "%s needs an EC key on %s", jose_alg_name(alg), curves[c].crv);
			return false;
		}
		return true;
	case JOSE_KTY_OKP:
		if (!EVP_PKEY_is_a(pkey, "ED25519")) {
			snprintf(why, whylen, "EdDSA needs an Ed25519 key");
			return false;
		}
		return true;
	default:
		snprintf(why, whylen, "%s takes a secret, not a PEM key", jose_alg_name(alg));
		return false;
	}
}

/* An encrypted PEM must never make OpenSSL prompt on a terminal. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Parse a PEM private or public key; sets *has_private. */
static EVP_PKEY *pkey_from_pem(const char *pem, size_t len, bool *has_private)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = NULL;

	if (!bio)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	*has_private = pkey != NULL;
	if (!pkey && BIO_reset(bio) == 1)
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return pkey;
}

static int config_secret(struct jose_key *key, const char *what, const json_t *k, sesame_error *err)
{
	const char *s = json_string_value(k);
	size_t len = json_string_length(k);

	/* A PEM given to an HS algorithm is the classic algorithm-confusion
	 * setup (a public key used as an HMAC secret): refuse it outright. */
	if (strstr(s, "-----BEGIN"))
		return seterr(err, SESAME_CONFIG, "key", "%s: %s takes a random secret, not a PEM key", what,
			      jose_alg_name(key->alg));
	if (len < JOSE_MIN_HMAC_BYTES)
		return seterr(err, SESAME_CONFIG, "key", "%s: an %s secret must be at least %d bytes long", what,
			      jose_alg_name(key->alg), JOSE_MIN_HMAC_BYTES);
	key->secret = malloc(len);
	if (!key->secret)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	memcpy(key->secret, s, len);
	key->secret_len = len;
	key->has_private = true;
	return SESAME_OK;
}

static int config_pem(struct jose_key *key, const char *what, const json_t *k, sesame_error *err)
{
	char why[128];

	key->pkey = pkey_from_pem(json_string_value(k), json_string_length(k), &key->has_private);
	if (!key->pkey)
		return seterr(err, SESAME_CONFIG, "key",
			      "%s: \"key\" is not a PEM public or private key (or is encrypted)", what);
	if (!pkey_fits_alg(key->pkey, key->alg, why, sizeof(why)))
		return seterr(err, SESAME_CONFIG, "key", "%s: %s", what, why);
	return SESAME_OK;
}

int jose_key_from_config(const json_t *obj, const char *what, struct jose_key *key, sesame_error *err)
{
	json_t *alg = json_object_get(obj, "alg"), *kid = json_object_get(obj, "kid"), *k = json_object_get(obj, "key");
	const char *name;
	json_t *v;
	int rc;

	memset(key, 0, sizeof(*key));
	if (!json_is_object(obj))
		return seterr(err, SESAME_CONFIG, "key", "%s: expected an object {\"alg\", \"kid\", \"key\"}", what);
	json_object_foreach((json_t *)obj, name, v) {
		if (strcmp(name, "alg") != 0 && strcmp(name, "kid") != 0 && strcmp(name, "key") != 0)
			return seterr(err, SESAME_CONFIG, "key", "%s: unknown member \"%s\" (expected alg, kid, key)",
				      what, name);
	}
	if (!json_is_string(alg))
		return seterr(err, SESAME_CONFIG, "key", "%s: \"alg\" must be a string", what);
	key->alg = jose_alg_from_name(json_string_value(alg));
	if (key->alg == JOSE_ALG_UNKNOWN)
		return seterr(err, SESAME_CONFIG, "key",
			      "%s: unsupported \"alg\" \"%s\" (HS256/384/512, RS256/384/512, PS256/384/512, "
			      "ES256/384/512, EdDSA)",
			      what, json_string_value(alg));
	if (kid && (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > 255))
		return seterr(err, SESAME_CONFIG, "key", "%s: \"kid\" must be a string of 1 to 255 bytes", what);
	if (json_is_object(k)) {
		enum jose_alg pinned = key->alg;
		json_t *jwk = json_copy((json_t *)k);

		/* The configured alg pins the JWK when it has none of its own. */
		if (jwk && !json_object_get(jwk, "alg"))
			json_object_set_new(jwk, "alg", json_string(jose_alg_name(pinned)));
		rc = jwk ? jose_key_from_jwk(jwk, true, key, err)
			 : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		json_decref(jwk);
		if (rc != SESAME_OK) {
			char text[SESAME_ERROR_TEXT_LENGTH];

			snprintf(text, sizeof(text), "%s", err ? err->text : "bad JWK");
			return seterr(err, SESAME_CONFIG, "key", "%s: %s", what, text);
		}
		if (key->alg != pinned) {
			seterr(err, SESAME_CONFIG, "key", "%s: the JWK is for %s, not %s", what,
			       jose_alg_name(key->alg), jose_alg_name(pinned));
			jose_key_clear(key);
			return SESAME_CONFIG;
		}
		free(key->kid);
		key->kid = NULL;
	} else if (!json_is_string(k) || json_string_length(k) == 0) {
		return seterr(err, SESAME_CONFIG, "key", "%s: \"key\" must be a PEM key, a secret or a JWK object",
			      what);
	} else {
		rc = jose_alg_kty(key->alg) == JOSE_KTY_OCT ? config_secret(key, what, k, err)
							    : config_pem(key, what, k, err);
		if (rc == SESAME_OK)
			rc = jose_key_prepare(key, err);
		if (rc != SESAME_OK) {
			jose_key_clear(key);
			return rc;
		}
	}
	if (kid && !(key->kid = strdup(json_string_value(kid)))) {
		jose_key_clear(key);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	return SESAME_OK;
}

int jose_key_from_pkey(EVP_PKEY *pkey, enum jose_alg alg, const char *kid, bool has_private, struct jose_key *key,
		       sesame_error *err)
{
	char why[128];
	int rc;

	memset(key, 0, sizeof(*key));
	if (!pkey || alg == JOSE_ALG_UNKNOWN || jose_alg_kty(alg) == JOSE_KTY_OCT)
		return seterr(err, SESAME_USAGE, "usage", "jose_key_from_pkey: no key, or an HMAC algorithm");
	if (!pkey_fits_alg(pkey, alg, why, sizeof(why)))
		return seterr(err, SESAME_CONFIG, "key", "%s", why);
	if (EVP_PKEY_up_ref(pkey) != 1)
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot reference the key");
	key->pkey = pkey;
	key->alg = alg;
	key->has_private = has_private;
	rc = jose_key_prepare(key, err);
	if (rc == SESAME_OK && kid && !(key->kid = strdup(kid)))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc != SESAME_OK)
		jose_key_clear(key);
	return rc;
}

/* ---- JWK ---------------------------------------------------------------- */

/* Decode a base64url JWK member; NULL (with `err` set) when absent or bad. */
static unsigned char *jwk_bytes(const json_t *jwk, const char *name, size_t *len, sesame_error *err)
{
	json_t *v = json_object_get(jwk, name);
	unsigned char *b;

	if (!json_is_string(v)) {
		seterr(err, SESAME_MALFORMED, "key", "member \"%s\" is missing or not a string", name);
		return NULL;
	}
	b = b64url_decode(json_string_value(v), json_string_length(v), len);
	if (!b || *len == 0) {
		free(b);
		seterr(err, SESAME_MALFORMED, "key", "member \"%s\" is not strict base64url", name);
		return NULL;
	}
	return b;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
			pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static int jwk_rsa(const json_t *jwk, struct jose_key *key, sesame_error *err)
{
	size_t nlen = 0, elen = 0;
	unsigned char *n = jwk_bytes(jwk, "n", &nlen, err), *e = n ? jwk_bytes(jwk, "e", &elen, err) : NULL;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int rc = SESAME_MALFORMED;

	if (!n || !e)
		goto out;
	bn = BN_bin2bn(n, (int)nlen, NULL);
	be = BN_bin2bn(e, (int)elen, NULL);
	if (!bn || !be) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	if (BN_num_bits(bn) < JOSE_MIN_RSA_BITS) {
		rc = seterr(err, SESAME_MALFORMED, "key", "RSA modulus of %d bits is weaker than %d", BN_num_bits(bn),
			    JOSE_MIN_RSA_BITS);
		goto out;
	}
	if (!BN_is_odd(be) || BN_is_one(be) || BN_num_bits(be) > 64) {
		rc = seterr(err, SESAME_MALFORMED, "key", "RSA exponent is not a sane public exponent");
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
		key->pkey = pkey_from_params("RSA", bld);
	rc = key->pkey ? SESAME_OK : seterr(err, SESAME_MALFORMED, "key", "OpenSSL refuses the RSA key");
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	ERR_clear_error();
	return rc;
}

/* The index in curves[] of a JWK crv, or -1. */
static int curve_index(const char *crv)
{
	size_t i;

	for (i = 0; crv && i < ARRAY_SIZE(curves); i++)
		if (strcmp(crv, curves[i].crv) == 0)
			return (int)i;
	return -1;
}

/* OpenSSL does not check that an imported point is on the curve. */
static bool pkey_public_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static int jwk_ec(const json_t *jwk, int c, struct jose_key *key, sesame_error *err)
{
	size_t xlen = 0, ylen = 0, size = curves[c].size;
	unsigned char *x = jwk_bytes(jwk, "x", &xlen, err), *y = x ? jwk_bytes(jwk, "y", &ylen, err) : NULL;
	unsigned char point[1 + 2 * 66];
	OSSL_PARAM_BLD *bld = NULL;
	int rc = SESAME_MALFORMED;

	if (!x || !y)
		goto out;
	if (xlen != size || ylen != size) {
		rc = seterr(err, SESAME_MALFORMED, "key", "%s coordinates must be %zu bytes each", curves[c].crv, size);
		goto out;
	}
	point[0] = 0x04;
	memcpy(point + 1, x, size);
	memcpy(point + 1 + size, y, size);
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, (char *)curves[c].group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) == 1)
		key->pkey = pkey_from_params("EC", bld);
	if (!key->pkey || !pkey_public_ok(key->pkey))
		rc = seterr(err, SESAME_MALFORMED, "key", "the %s point is not on the curve", curves[c].crv);
	else
		rc = SESAME_OK;
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	ERR_clear_error();
	return rc;
}

static int jwk_okp(const json_t *jwk, struct jose_key *key, sesame_error *err)
{
	size_t xlen = 0;
	unsigned char *x = jwk_bytes(jwk, "x", &xlen, err);

	if (!x)
		return SESAME_MALFORMED;
	if (xlen == 32)
		key->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
	free(x);
	ERR_clear_error();
	if (!key->pkey)
		return seterr(err, SESAME_MALFORMED, "key", "an Ed25519 \"x\" must be 32 valid bytes");
	return SESAME_OK;
}

static int jwk_oct(const json_t *jwk, struct jose_key *key, sesame_error *err)
{
	key->secret = jwk_bytes(jwk, "k", &key->secret_len, err);
	if (!key->secret)
		return SESAME_MALFORMED;
	if (key->secret_len < JOSE_MIN_HMAC_BYTES)
		return seterr(err, SESAME_MALFORMED, "key", "an HMAC key must be at least %d bytes long",
			      JOSE_MIN_HMAC_BYTES);
	key->has_private = true;
	return SESAME_OK;
}

/* The algorithm a JWK is pinned to: its `alg`, or the only one its kty/crv
 * allows.  JOSE_ALG_UNKNOWN with `err` set when they disagree. */
static enum jose_alg jwk_alg(const json_t *jwk, enum jose_kty kty, int c, sesame_error *err)
{
	json_t *alg = json_object_get(jwk, "alg");
	enum jose_alg a;

	if (!alg) {
		if (kty == JOSE_KTY_RSA)
			return JOSE_RS256;
		if (kty == JOSE_KTY_EC)
			return curves[c].alg;
		if (kty == JOSE_KTY_OKP)
			return JOSE_EDDSA;
		seterr(err, SESAME_MALFORMED, "key", "an oct key needs an \"alg\"");
		return JOSE_ALG_UNKNOWN;
	}
	a = jose_alg_from_name(json_string_value(alg));
	if (a == JOSE_ALG_UNKNOWN) {
		seterr(err, SESAME_MALFORMED, "key", "unsupported \"alg\"");
		return a;
	}
	if (jose_alg_kty(a) != kty || (kty == JOSE_KTY_EC && curves[c].alg != a)) {
		seterr(err, SESAME_MALFORMED, "key", "\"alg\" %s does not match the key type %s", jose_alg_name(a),
		       kty_name(kty));
		return JOSE_ALG_UNKNOWN;
	}
	return a;
}

int jose_key_from_jwk(const json_t *jwk, bool allow_oct, struct jose_key *key, sesame_error *err)
{
	json_t *kty = json_object_get(jwk, "kty"), *use = json_object_get(jwk, "use"),
	       *kid = json_object_get(jwk, "kid");
	const char *t = json_string_value(kty);
	enum jose_kty k;
	int c = -1, rc;

	memset(key, 0, sizeof(*key));
	if (!json_is_object(jwk))
		return seterr(err, SESAME_MALFORMED, "key", "a JWK must be an object");
	if (!t)
		return seterr(err, SESAME_MALFORMED, "key", "\"kty\" is missing or not a string");
	if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
		return seterr(err, SESAME_MALFORMED, "key", "\"use\" is not \"sig\"");
	if (kid && (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > 255))
		return seterr(err, SESAME_MALFORMED, "key", "\"kid\" must be a string of 1 to 255 bytes");
	if (strcmp(t, "RSA") == 0) {
		k = JOSE_KTY_RSA;
	} else if (strcmp(t, "EC") == 0) {
		k = JOSE_KTY_EC;
		c = curve_index(json_string_value(json_object_get(jwk, "crv")));
		if (c < 0)
			return seterr(err, SESAME_MALFORMED, "key", "unsupported EC \"crv\" (P-256, P-384, P-521)");
	} else if (strcmp(t, "OKP") == 0) {
		k = JOSE_KTY_OKP;
		if (!json_is_string(json_object_get(jwk, "crv")) ||
		    strcmp(json_string_value(json_object_get(jwk, "crv")), "Ed25519") != 0)
			return seterr(err, SESAME_MALFORMED, "key", "unsupported OKP \"crv\" (Ed25519)");
	} else if (strcmp(t, "oct") == 0) {
		if (!allow_oct)
			return seterr(err, SESAME_MALFORMED, "key", "symmetric (oct) keys are not accepted here");
		k = JOSE_KTY_OCT;
	} else {
		return seterr(err, SESAME_MALFORMED, "key", "unsupported \"kty\"");
	}
	key->alg = jwk_alg(jwk, k, c, err);
	if (key->alg == JOSE_ALG_UNKNOWN)
		return SESAME_MALFORMED;
	rc = k == JOSE_KTY_RSA	 ? jwk_rsa(jwk, key, err)
	     : k == JOSE_KTY_EC	 ? jwk_ec(jwk, c, key, err)
	     : k == JOSE_KTY_OKP ? jwk_okp(jwk, key, err)
				 : jwk_oct(jwk, key, err);
	if (rc == SESAME_OK)
		rc = jose_key_prepare(key, err);
	if (rc == SESAME_OK && kid && !(key->kid = strdup(json_string_value(kid))))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc != SESAME_OK)
		jose_key_clear(key);
	return rc;
}

/* ---- key sets --------------------------------------------------------------- */

struct jose_keyset *keyset_new(size_t capacity)
{
	struct jose_keyset *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	set->keys = calloc(capacity ? capacity : 1, sizeof(*set->keys));
	if (!set->keys) {
		free(set);
		return NULL;
	}
	atomic_init(&set->refs, 1);
	return set;
}

struct jose_keyset *keyset_ref(struct jose_keyset *set)
{
	if (set)
		atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
	return set;
}

void keyset_unref(struct jose_keyset *set)
{
	size_t i;

	if (!set || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < set->n; i++)
		jose_key_clear(&set->keys[i]);
	free(set->keys);
	free(set);
}

static bool alg_listed(const char *const *algorithms, bool allow_oct, enum jose_alg alg)
{
	size_t i;

	if (jose_alg_kty(alg) == JOSE_KTY_OCT && !allow_oct)
		return false;
	if (!algorithms)
		return true;
	for (i = 0; algorithms[i]; i++)
		if (strcmp(algorithms[i], jose_alg_name(alg)) == 0)
			return true;
	return false;
}

/* Drop every key whose kid appears more than once: which one is genuine
 * cannot be known, so neither is trusted. */
static void drop_duplicate_kids(struct jose_keyset *set, const struct logger *lg, const char *source)
{
	bool *dup = calloc(set->n ? set->n : 1, sizeof(*dup));
	size_t i, j, o = 0;

	if (!dup)
		return;
	for (i = 0; i < set->n; i++)
		for (j = i + 1; set->keys[i].kid && j < set->n; j++)
			if (set->keys[j].kid && strcmp(set->keys[i].kid, set->keys[j].kid) == 0)
				dup[i] = dup[j] = true;
	for (i = 0; i < set->n; i++) {
		if (dup[i]) {
			log_msg(lg, SESAME_LOG_WARNING, "%s: skipping key \"%s\": its kid is not unique in the set",
				source, set->keys[i].kid);
			jose_key_clear(&set->keys[i]);
		} else {
			set->keys[o++] = set->keys[i];
		}
	}
	set->n = o;
	free(dup);
}

int jwks_parse(const char *text, size_t len, bool allow_oct, const char *const *algorithms, const struct logger *lg,
	       const char *source, struct jose_keyset **out, sesame_error *err)
{
	json_error_t jerr;
	json_t *root = util_json_parse(text, len, &jerr), *list = json_object_get(root, "keys");
	struct jose_keyset *set;
	size_t i;
	json_t *jwk;

	*out = NULL;
	if (!root) {
		return seterr(err, SESAME_MALFORMED, "jwks", "%s: not JSON: %s (line %d)", source, jerr.text,
			      jerr.line);
	}
	if (!json_is_object(root) || !json_is_array(list)) {
		json_decref(root);
		return seterr(err, SESAME_MALFORMED, "jwks", "%s: not a JWKS: expected {\"keys\": [...]}", source);
	}
	set = keyset_new(json_array_size(list));
	if (!set) {
		json_decref(root);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_array_foreach(list, i, jwk) {
		struct jose_key *key = &set->keys[set->n];
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		sesame_error kerr;

		err_clear(&kerr);
		if (jose_key_from_jwk(jwk, allow_oct, key, &kerr) != SESAME_OK) {
			log_msg(lg, SESAME_LOG_WARNING, "%s: skipping key %zu (kid \"%s\"): %s", source, i,
				kid ? kid : "", kerr.text);
			continue;
		}
		if (!alg_listed(algorithms, allow_oct, key->alg)) {
			log_msg(lg, SESAME_LOG_WARNING, "%s: skipping key %zu (kid \"%s\"): %s is not accepted here",
				source, i, kid ? kid : "", jose_alg_name(key->alg));
			jose_key_clear(key);
			continue;
		}
		set->n++;
	}
	json_decref(root);
	drop_duplicate_kids(set, lg, source);
	*out = set;
	return SESAME_OK;
}
