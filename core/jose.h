/* SPDX-License-Identifier: MIT */
/*
 * core/jose.h — the core's private JOSE interface: base64url, keys (JWK and
 * PEM), key sets, compact JWS verification and signing, JWT claim checks,
 * the JWKS cache and outbound HTTP.  Used by core/host.c to serve plugins
 * and by core/sessions.c for sesame's own tokens.  Nothing here is
 * exported.
 */
#ifndef SESAME_JOSE_H
#define SESAME_JOSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Include "internal.h" before this header (its guard does not cover all of it). */

/* Default largest token accepted, checked before decoding anything. */
#define JOSE_DEFAULT_MAX_LENGTH (64 * 1024)
/* Default and largest clock skew allowed on exp, nbf and iat. */
#define JOSE_DEFAULT_LEEWAY 60
#define JOSE_MAX_LEEWAY 600
/* Smallest HMAC secret accepted (RFC 7518 3.2: at least the hash size). */
#define JOSE_MIN_HMAC_BYTES 32
/* Smallest RSA modulus accepted. */
#define JOSE_MIN_RSA_BITS 2048
/* The largest NumericDate accepted: 9999-12-31T23:59:59Z. */
#define JOSE_MAX_NUMERIC_DATE INT64_C(253402300799)

/* ---- b64url.c ---------------------------------------------------------- */

/*
 * Strict base64url (RFC 7515 2): alphabet A-Z a-z 0-9 - _ only, no padding,
 * no whitespace, unused trailing bits zero.  Returns a malloc'd buffer of
 * *outlen bytes (plus a NUL not counted), or NULL when `in` is not strict
 * base64url (or out of memory: *outlen is then SIZE_MAX).
 */
unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen);

/* Encode without padding; a malloc'd NUL-terminated string or NULL. */
char *b64url_encode(const void *in, size_t len);

/* The decoded size of `len` strict base64url characters, or SIZE_MAX when
 * no strict encoding has that length. */
size_t b64url_decoded_length(size_t len);

/* b64url_decode() into `out`, which has room for b64url_decoded_length()
 * bytes plus a NUL; false when `in` is not strict base64url. */
bool b64url_decode_into(const char *in, size_t len, unsigned char *out, size_t *outlen);

/* ---- jwk.c: one key ------------------------------------------------------ */

enum jose_alg {
	JOSE_ALG_UNKNOWN = 0,
	JOSE_HS256,
	JOSE_HS384,
	JOSE_HS512,
	JOSE_RS256,
	JOSE_RS384,
	JOSE_RS512,
	JOSE_PS256,
	JOSE_PS384,
	JOSE_PS512,
	JOSE_ES256,
	JOSE_ES384,
	JOSE_ES512,
	JOSE_EDDSA,
};

enum jose_kty { JOSE_KTY_OCT, JOSE_KTY_RSA, JOSE_KTY_EC, JOSE_KTY_OKP };

/* The algorithm named `name` (exact, case-sensitive), or JOSE_ALG_UNKNOWN. */
enum jose_alg jose_alg_from_name(const char *name);
const char *jose_alg_name(enum jose_alg alg);
enum jose_kty jose_alg_kty(enum jose_alg alg);
/* The digest of an algorithm (NULL for EdDSA). */
const EVP_MD *jose_alg_md(enum jose_alg alg);

/*
 * A key, prepared once and then only read (so any number of threads may
 * verify with it at once).  Every key is pinned to exactly one algorithm.
 */
struct jose_key {
	char *kid; /* NULL when the key has none */
	enum jose_alg alg;
	bool has_private;      /* can sign */
	EVP_PKEY *pkey;	       /* RSA, EC, Ed25519 */
	unsigned char *secret; /* HMAC secret, wiped on free */
	size_t secret_len;
	EVP_MAC_CTX *mac;	 /* HMAC template keyed once; duplicated per use */
	EVP_MD_CTX *verify_tmpl; /* DigestVerify template for RSA/PS/EC, copied per use */
	EVP_MD_CTX *sign_tmpl;	 /* DigestSign template of a private RSA/PS/EC key, copied per use */
	size_t sig_len;		 /* exact signature length: RSA modulus, 2 x EC coordinate */
	BIGNUM *order;		 /* EC group order, for the r, s range check */
};

/*
 * Fill `key` from a configured {"alg", "kid", "key"} object (`key` a PEM
 * public or private key, an HMAC secret, or a JWK object).  SESAME_CONFIG
 * with reason "key" naming `what` (e.g. "signing_keys[1]") on any problem;
 * never shows the secret.
 */
int jose_key_from_config(const json_t *obj, const char *what, struct jose_key *key, sesame_error *err);

/*
 * Fill `key` from a public JWK (RFC 7517/7518/8037).  `allow_oct` admits
 * symmetric keys (never from a fetched JWKS).  `pinned` (may be
 * JOSE_ALG_UNKNOWN) is the algorithm the caller wants; the JWK's own `alg`
 * must agree.  SESAME_MALFORMED with reason "key" and a message saying what
 * is wrong when the key is unusable.
 */
int jose_key_from_jwk(const json_t *jwk, bool allow_oct, struct jose_key *key, sesame_error *err);

/*
 * Fill `key` from an EVP_PKEY the core already holds (e.g. sesame's own
 * signing key of core/signing.c), pinned to `alg`; the key takes its own
 * reference.  `has_private` says whether it may sign.  SESAME_CONFIG
 * ("key") when the key does not fit the algorithm.
 */
int jose_key_from_pkey(EVP_PKEY *pkey, enum jose_alg alg, const char *kid, bool has_private, struct jose_key *key,
		       sesame_error *err);

/* Build the per-use templates once the key is filled (called by the two
 * functions above). */
int jose_key_prepare(struct jose_key *key, sesame_error *err);

/* Release what a key holds, wiping secrets.  The struct itself is not freed. */
void jose_key_clear(struct jose_key *key);

/* ---- key sets ------------------------------------------------------------ */

/*
 * An immutable set of keys, reference-counted so that a JWKS refresh never
 * frees keys a verification on another thread still uses.
 */
struct jose_keyset {
	atomic_uint refs;
	size_t n;
	struct jose_key *keys;
};

/* An empty set with one reference, room for `capacity` keys; NULL on OOM. */
struct jose_keyset *keyset_new(size_t capacity);
struct jose_keyset *keyset_ref(struct jose_keyset *set);
void keyset_unref(struct jose_keyset *set);

/*
 * Parse a JWKS document {"keys": [...]}: unusable keys (bad parameters,
 * unsupported type or curve, `use` other than "sig", RSA under 2048 bits,
 * `alg` not matching `kty`, `kty: oct` unless `allow_oct`, algorithms not
 * in `algorithms` when it is not NULL) are skipped with a log line; all
 * keys sharing a duplicated `kid` are dropped.  SESAME_MALFORMED (reason
 * "jwks") when the document is not a JWKS; an empty result is not an error
 * here (the caller decides).
 */
int jwks_parse(const char *text, size_t len, bool allow_oct, const char *const *algorithms, const struct logger *lg,
	       const char *source, struct jose_keyset **out, sesame_error *err);

/* ---- jws.c ---------------------------------------------------------------- */

/* A compact JWS split and decoded: what sesame reads of the header (alg,
 * kid), the payload and the signature in the owned `buf`; `signing_input`
 * points into the caller's token. */
struct jws_token {
	unsigned char *buf;
	enum jose_alg alg;
	const char *kid;	   /* into buf, or NULL */
	const char *signing_input; /* the original token, first two segments */
	size_t signing_input_len;
	unsigned char *payload; /* decoded, NUL-terminated (not counted) */
	size_t payload_len;
	unsigned char *sig;
	size_t sig_len;
};

/*
 * Split and check a compact JWS: length (before any decoding), exactly
 * three segments, strict base64url, the header a JSON object without
 * duplicate members, `alg` present, known and not "none", a non-empty
 * signature, no `crit`, no nested JWT.  `jku`, `x5u`, `jwk` and `x5c` are
 * ignored.  SESAME_MALFORMED ("malformed") or SESAME_REJECTED ("alg").
 */
int jws_parse(const char *token, size_t max_length, struct jws_token *t, sesame_error *err);
void jws_token_clear(struct jws_token *t);

/*
 * Pick the keys of `set` that may verify `t`: by `kid` when the token has
 * one (unknown kid: SESAME_REJECTED "nokey"), else those pinned to the
 * token's alg.  A key pinned to another algorithm is SESAME_REJECTED "alg".
 * `algorithms` (NULL-terminated, or NULL) further restricts the alg.
 * Fills idx[] (capacity `cap`) and *n.
 */
int jws_select_keys(const struct jose_keyset *set, const struct jws_token *t, const char *const *algorithms,
		    size_t *idx, size_t cap, size_t *n, sesame_error *err);

/* Check the signature of `t` with `key` (pinned to t->alg).  SESAME_OK or
 * SESAME_REJECTED "sig" (SESAME_INTERNAL on allocation failure). */
int jws_check_signature(const struct jose_key *key, const struct jws_token *t, sesame_error *err);

/*
 * Decode the payload of a verified token and check its claims against
 * `rules` at time `now`.  On SESAME_OK *claims is a new reference.
 */
int jws_claims(const struct jws_token *t, const struct sesame_jwt_rules *rules, int64_t now, json_t **claims,
	       sesame_error *err);

/* Verify against a fixed set: parse, select, signature, claims. */
int jws_verify(const struct jose_keyset *set, const char *token, const struct sesame_jwt_rules *rules, int64_t now,
	       json_t **claims, sesame_error *err);

/*
 * Sign: header {"alg", "kid" (when the key has one), "typ": "JWT"} plus the
 * members of `extra_header` (which may not set alg or crit), payload the
 * compact JSON of `claims`.  *out is malloc'd.  SESAME_USAGE when the key
 * has no private part, SESAME_INTERNAL on failure.
 */
int jws_sign(const struct jose_key *key, const json_t *extra_header, const json_t *claims, char **out,
	     sesame_error *err);

/* The same with the payload given as its JSON text (`len` bytes), which
 * the caller made compact and valid. */
int jws_sign_text(const struct jose_key *key, const json_t *extra_header, const char *text, size_t len, char **out,
		  sesame_error *err);

/* ---- claims.c ------------------------------------------------------------- */

/* Check exp, nbf, iat, aud and iss of a claims object.  SESAME_REJECTED
 * "claim" naming the claim. */
int claims_check(const json_t *claims, const struct sesame_jwt_rules *rules, int64_t now, sesame_error *err);

/* ---- http.c --------------------------------------------------------------- */

/*
 * Perform an HTTP request with every rule of sesame_host.http.  When
 * `max_age` is not NULL it receives the Cache-Control max-age of the
 * answer, or -1 when none (0 for no-store / no-cache).
 */
int http_perform(bool test_mode, const struct sesame_http_request *req, struct sesame_http_response *resp,
		 long *max_age, sesame_error *err);
void http_response_clear(struct sesame_http_response *resp);
/* SESAME_OK when `url` may be fetched (https, or loopback http in test
 * mode), else SESAME_MALFORMED naming why. */
int http_check_url(const char *url, bool test_mode, sesame_error *err);

/* ---- jwks.c: the cache ------------------------------------------------------ */

struct jwks_options {
	const char *url;
	bool test_mode;
	const struct logger *log;      /* must outlive the source */
	const char *name;	       /* for log lines: the provider instance */
	const char *const *algorithms; /* accepted algs, NULL = all asymmetric */
	int64_t min_ttl, max_ttl;      /* clamp of max-age; 0 = 60 s .. 24 h */
	int64_t default_ttl;	       /* without max-age; 0 = 1 h */
	int64_t cooldown;	       /* between fetches; 0 = 60 s */
	long timeout_ms;	       /* 0 = 10 s */
};

struct jwks_source;

int jwks_source_new(const struct jwks_options *opt, struct jwks_source **out, sesame_error *err);
void jwks_source_free(struct jwks_source *src);

/*
 * The current key set (a new reference: keyset_unref it), fetching when
 * there is none or it expired, or — with `refresh` — when the caller
 * found no key for a token's kid (at most once per cooldown).  The last
 * good set is kept when a fetch fails; SESAME_UNAVAILABLE when there is
 * none.
 */
int jwks_source_get(struct jwks_source *src, int64_t now, bool refresh, struct jose_keyset **set, sesame_error *err);

/* ---- keys.c: sesame_keys, the ABI's key set ---------------------------------- */

struct sesame_keys {
	struct jose_keyset *fixed;  /* configured keys, or NULL */
	struct jwks_source *remote; /* JWKS URI, or NULL */
};

int keys_from_config(const json_t *list, struct sesame_keys **out, sesame_error *err);
int keys_from_jwks_uri(const struct jwks_options *opt, struct sesame_keys **out, sesame_error *err);
void keys_free(struct sesame_keys *keys);
int keys_verify(struct sesame_keys *keys, const char *token, const struct sesame_jwt_rules *rules, int64_t now,
		json_t **claims, sesame_error *err);
int keys_sign(struct sesame_keys *keys, const char *kid, const json_t *extra_header, const json_t *claims, char **token,
	      sesame_error *err);
/* keys_sign() of a payload given as its compact JSON text (jws_sign_text()). */
int keys_sign_text(struct sesame_keys *keys, const char *kid, const char *text, size_t len, char **token,
		   sesame_error *err);

#endif /* SESAME_JOSE_H */
