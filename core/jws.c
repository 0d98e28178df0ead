/* SPDX-License-Identifier: MIT */
/*
 * core/jws.c — compact JWS (RFC 7515): strict parsing of hostile tokens,
 * signature verification with keys pinned to one algorithm, and signing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "internal.h"
#include "jose.h"
#include "jsontext.h"
#include "utf8.h"

/* Header members registered by RFC 7515/7516/7519: naming one in `crit`
 * is an error (RFC 7515 4.1.11). */
/* clang-format off */
static const char *const standard_headers[] = {
	"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
	"enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c", NULL,
};
/* clang-format on */

void jws_token_clear(struct jws_token *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

static bool is_standard_header(const char *name)
{
	size_t i;

	for (i = 0; standard_headers[i]; i++)
		if (strcmp(name, standard_headers[i]) == 0)
			return true;
	return false;
}

/* `crit` lists extensions the recipient must understand; sesame
 * understands none, so any crit is refused, with the precise reason. */
static int check_crit(const json_t *crit, sesame_error *err)
{
	size_t i;
	json_t *v;

	if (!json_is_array(crit) || json_array_size(crit) == 0)
		return seterr(err, SESAME_MALFORMED, "malformed", "header \"crit\" must be a non-empty array");
	json_array_foreach (crit, i, v) {
		if (!json_is_string(v))
			return seterr(err, SESAME_MALFORMED, "malformed", "header \"crit\" holds a non-string");
		if (is_standard_header(json_string_value(v)))
			return seterr(err, SESAME_MALFORMED, "malformed",
				      "header \"crit\" names the standard header \"%s\"", json_string_value(v));
	}
	return seterr(err, SESAME_MALFORMED, "malformed",
		      "header \"crit\" names extension \"%s\" that is not supported",
		      json_string_value(json_array_get(crit, 0)));
}

/* Check the protected header, decoded into `raw` (`n` bytes, with room for
 * one more); its kid is copied to the start of `raw`. */
static int parse_header(unsigned char *raw, size_t n, struct jws_token *t, sesame_error *err)
{
	json_error_t jerr;
	json_t *header, *alg, *cty, *kid, *crit;
	int rc = SESAME_OK;

	header = util_json_parse(raw, n, &jerr);
	if (!header)
		return json_error_code(&jerr) == json_error_out_of_memory
			   ? seterr(err, SESAME_INTERNAL, "memory", "out of memory")
			   : seterr(err, SESAME_MALFORMED, "malformed", "the header is not JSON: %s", jerr.text);
	alg = json_object_get(header, "alg");
	crit = json_object_get(header, "crit");
	cty = json_object_get(header, "cty");
	kid = json_object_get(header, "kid");
	if (!json_is_object(header))
		rc = seterr(err, SESAME_MALFORMED, "malformed", "the header is not a JSON object");
	else if (!alg)
		rc = seterr(err, SESAME_REJECTED, "alg", "the header has no \"alg\"");
	else if (!json_is_string(alg))
		rc = seterr(err, SESAME_REJECTED, "alg", "header \"alg\" is not a string");
	else if (strcasecmp(json_string_value(alg), "none") == 0)
		rc = seterr(err, SESAME_REJECTED, "alg", "unsigned tokens (alg \"none\") are refused");
	else if ((t->alg = jose_alg_from_name(json_string_value(alg))) == JOSE_ALG_UNKNOWN)
		rc = seterr(err, SESAME_REJECTED, "alg", "unsupported alg \"%.*s\"",
			    (int)utf8_cut(json_string_value(alg), json_string_length(alg), 32), json_string_value(alg));
	else if (crit)
		rc = check_crit(crit, err);
	else if (cty && (!json_is_string(cty) || strcasecmp(json_string_value(cty), "JWT") == 0))
		rc = seterr(err, SESAME_MALFORMED, "malformed", "nested tokens (header \"cty\": \"JWT\") are refused");
	else if (kid && !json_is_string(kid))
		rc = seterr(err, SESAME_MALFORMED, "malformed", "header \"kid\" is not a string");
	else if (kid) {
		/* The kid's text is shorter than the header that quotes it. */
		memcpy(raw, json_string_value(kid), json_string_length(kid) + 1);
		t->kid = (const char *)raw;
	}
	json_decref(header);
	return rc;
}

/*
 * The last header this thread accepted, as its base64url text, with what
 * was read of it.  The tokens of one issuer share a few headers (alg, kid,
 * typ), so most tokens skip parsing theirs.  Only an accepted header is
 * kept, compared byte for byte: strict base64url has one text per byte
 * string, so an equal text is an equal header.
 */
#define HEADER_MEMO_MAX 256
static __thread struct {
	size_t len; /* 0: empty */
	char text[HEADER_MEMO_MAX];
	enum jose_alg alg;
	bool has_kid;
	char kid[HEADER_MEMO_MAX];
} header_memo;

static bool header_remembered(const char *text, size_t len, unsigned char *kid_buf, struct jws_token *t)
{
	if (len == 0 || len != header_memo.len || memcmp(text, header_memo.text, len) != 0)
		return false;
	t->alg = header_memo.alg;
	if (header_memo.has_kid) {
		memcpy(kid_buf, header_memo.kid, strlen(header_memo.kid) + 1);
		t->kid = (const char *)kid_buf;
	}
	return true;
}

static void header_remember(const char *text, size_t len, const struct jws_token *t)
{
	if (len > HEADER_MEMO_MAX || (t->kid && strlen(t->kid) >= HEADER_MEMO_MAX)) {
		header_memo.len = 0;
		return;
	}
	memcpy(header_memo.text, text, len);
	header_memo.len = len;
	header_memo.alg = t->alg;
	header_memo.has_kid = t->kid != NULL;
	if (t->kid)
		memcpy(header_memo.kid, t->kid, strlen(t->kid) + 1);
}

int jws_parse(const char *token, size_t max_length, struct jws_token *t, sesame_error *err)
{
	const char *dot1, *dot2, *sig;
	size_t len, hlen, plen, slen, hn, pn, sn, n;
	unsigned char *header;
	int rc;

	memset(t, 0, sizeof(*t));
	if (max_length == 0)
		max_length = JOSE_DEFAULT_MAX_LENGTH;
	/* Bounded scan: the size is checked before anything is decoded. */
	len = strnlen(token, max_length + 1);
	if (len > max_length)
		return seterr(err, SESAME_MALFORMED, "malformed", "the token is longer than %zu bytes", max_length);
	if (len == 0)
		return seterr(err, SESAME_MALFORMED, "malformed", "the token is empty");
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return seterr(err, SESAME_MALFORMED, "malformed",
			      "a compact JWS has exactly three dot-separated segments");
	sig = dot2 + 1;
	hlen = (size_t)(dot1 - token);
	plen = (size_t)(dot2 - dot1 - 1);
	slen = (size_t)(token + len - sig);
	hn = b64url_decoded_length(hlen);
	if (hn == SIZE_MAX)
		return seterr(err, SESAME_MALFORMED, "malformed", "the header is not strict base64url");
	/* One buffer for the three parts, each NUL-terminated; the header's
	 * bytes are only needed until it is parsed, then its kid is kept there. */
	pn = b64url_decoded_length(plen);
	sn = b64url_decoded_length(slen);
	t->buf = malloc(hn + 1 + (pn == SIZE_MAX ? 0 : pn + 1) + (sn == SIZE_MAX ? 0 : sn + 1));
	if (!t->buf)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	header = t->buf;
	if (!header_remembered(token, hlen, header, t)) {
		if (!b64url_decode_into(token, hlen, header, &n)) {
			rc = seterr(err, SESAME_MALFORMED, "malformed", "the header is not strict base64url");
			goto fail;
		}
		rc = parse_header(header, n, t, err);
		if (rc != SESAME_OK)
			goto fail;
		header_remember(token, hlen, t);
	}
	if (slen == 0) {
		rc = seterr(err, SESAME_REJECTED, "alg", "the signature is empty (an unsecured JWS)");
		goto fail;
	}
	t->payload = header + hn + 1;
	if (pn == SIZE_MAX || !b64url_decode_into(dot1 + 1, plen, t->payload, &t->payload_len)) {
		rc = seterr(err, SESAME_MALFORMED, "malformed", "the payload is not strict base64url");
		goto fail;
	}
	t->sig = t->payload + pn + 1;
	if (sn == SIZE_MAX || !b64url_decode_into(sig, slen, t->sig, &t->sig_len)) {
		rc = seterr(err, SESAME_MALFORMED, "malformed", "the signature is not strict base64url");
		goto fail;
	}
	t->signing_input = token;
	t->signing_input_len = (size_t)(dot2 - token);
	return SESAME_OK;
fail:
	jws_token_clear(t);
	return rc;
}
static bool alg_allowed(const char *const *algorithms, enum jose_alg alg)
{
	size_t i;

	if (!algorithms)
		return true;
	for (i = 0; algorithms[i]; i++)
		if (strcmp(algorithms[i], jose_alg_name(alg)) == 0)
			return true;
	return false;
}

int jws_select_keys(const struct jose_keyset *set, const struct jws_token *t, const char *const *algorithms,
		    size_t *idx, size_t cap, size_t *n, sesame_error *err)
{
	size_t i, other = 0;

	*n = 0;
	if (!alg_allowed(algorithms, t->alg))
		return seterr(err, SESAME_REJECTED, "alg", "alg %s is not accepted", jose_alg_name(t->alg));
	/* A kid is only ever an opaque map key: compared, never interpreted. */
	if (t->kid) {
		for (i = 0; i < set->n; i++) {
			if (!set->keys[i].kid || strcmp(set->keys[i].kid, t->kid) != 0)
				continue;
			if (set->keys[i].alg != t->alg)
				return seterr(err, SESAME_REJECTED, "alg", "the key \"%.*s\" is pinned to %s, not %s",
					      (int)utf8_cut(t->kid, strlen(t->kid), 64), t->kid,
					      jose_alg_name(set->keys[i].alg), jose_alg_name(t->alg));
			idx[(*n)++] = i;
			return SESAME_OK;
		}
	}
	/* A token without a kid may be verified by any key of its alg; a
	 * token with an unknown kid only by keys configured without one. */
	for (i = 0; i < set->n; i++) {
		if (t->kid && set->keys[i].kid)
			continue;
		if (set->keys[i].alg != t->alg)
			other++;
		else if (*n < cap)
			idx[(*n)++] = i;
	}
	if (*n > 0)
		return SESAME_OK;
	if (other > 0)
		return seterr(err, SESAME_REJECTED, "alg", "no key is pinned to alg %s", jose_alg_name(t->alg));
	if (t->kid)
		return seterr(err, SESAME_REJECTED, "nokey", "no key with kid \"%.*s\"",
			      (int)utf8_cut(t->kid, strlen(t->kid), 64), t->kid);
	return seterr(err, SESAME_REJECTED, "nokey", "no key without a kid for alg %s", jose_alg_name(t->alg));
}

static int check_hmac(const struct jose_key *key, const struct jws_token *t, sesame_error *err)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	EVP_MAC_CTX *ctx;
	int ok;

	if (t->sig_len != key->sig_len)
		return seterr(err, SESAME_REJECTED, "sig", "the %s signature has the wrong length",
			      jose_alg_name(key->alg));
	ctx = EVP_MAC_CTX_dup(key->mac);
	if (!ctx)
		return seterr(err, SESAME_INTERNAL, "crypto", "cannot copy the HMAC context");
	ok = EVP_MAC_update(ctx, (const unsigned char *)t->signing_input, t->signing_input_len) == 1 &&
	     EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == key->sig_len;
	EVP_MAC_CTX_free(ctx);
	/* Constant time: a timing difference would reveal the MAC byte by byte. */
	ok = ok && util_ct_equal(mac, t->sig, maclen);
	util_wipe(mac, sizeof(mac));
	return ok ? SESAME_OK : seterr(err, SESAME_REJECTED, "sig", "the signature does not match");
}

/* A scalar of an ECDSA signature must be in [1, n-1]. */
static bool scalar_in_range(const BIGNUM *v, const BIGNUM *order)
{
	return !BN_is_zero(v) && !BN_is_negative(v) && BN_cmp(v, order) < 0;
}

/* JOSE carries ECDSA as raw R || S; OpenSSL wants DER. */
static unsigned char *ecdsa_der(const struct jose_key *key, const struct jws_token *t, int *derlen, sesame_error *err)
{
	size_t half = key->sig_len / 2;
	BIGNUM *r = BN_bin2bn(t->sig, (int)half, NULL), *s = BN_bin2bn(t->sig + half, (int)half, NULL);
	ECDSA_SIG *es = NULL;
	unsigned char *der = NULL;

	*derlen = 0;
	if (!r || !s) {
		seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	if (!scalar_in_range(r, key->order) || !scalar_in_range(s, key->order)) {
		seterr(err, SESAME_REJECTED, "sig", "the ECDSA signature values are out of range");
		goto out;
	}
	es = ECDSA_SIG_new();
	if (!es || ECDSA_SIG_set0(es, r, s) != 1) {
		seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	r = s = NULL;
	*derlen = i2d_ECDSA_SIG(es, &der);
	if (*derlen <= 0) {
		der = NULL;
		seterr(err, SESAME_INTERNAL, "crypto", "cannot encode the ECDSA signature");
	}
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return der;
}

static int check_pkey(const struct jose_key *key, const struct jws_token *t, sesame_error *err)
{
	const unsigned char *sig = t->sig;
	unsigned char *der = NULL;
	size_t siglen = t->sig_len;
	EVP_MD_CTX *ctx;
	int ok, derlen;

	/* Exact lengths: an RSA signature of another size than the modulus,
	 * or an ECDSA one in DER or of the wrong size, is refused here. */
	if (t->sig_len != key->sig_len)
		return seterr(err, SESAME_REJECTED, "sig", "the %s signature is %zu bytes, expected %zu",
			      jose_alg_name(key->alg), t->sig_len, key->sig_len);
	if (jose_alg_kty(key->alg) == JOSE_KTY_EC) {
		der = ecdsa_der(key, t, &derlen, err);
		if (!der)
			return err ? err->status : SESAME_REJECTED;
		sig = der;
		siglen = (size_t)derlen;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		OPENSSL_free(der);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (key->verify_tmpl)
		ok = EVP_MD_CTX_copy_ex(ctx, key->verify_tmpl) == 1;
	else
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1;
	/* Only exactly 1 is success: OpenSSL returns -1 (or 0) otherwise. */
	ok = ok &&
	     EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)t->signing_input, t->signing_input_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok ? SESAME_OK : seterr(err, SESAME_REJECTED, "sig", "the signature does not match");
}

int jws_check_signature(const struct jose_key *key, const struct jws_token *t, sesame_error *err)
{
	if (key->alg != t->alg)
		return seterr(err, SESAME_REJECTED, "alg", "the key is pinned to %s, not %s", jose_alg_name(key->alg),
			      jose_alg_name(t->alg));
	if (jose_alg_kty(key->alg) == JOSE_KTY_OCT)
		return check_hmac(key, t, err);
	return check_pkey(key, t, err);
}

int jws_claims(const struct jws_token *t, const struct sesame_jwt_rules *rules, int64_t now, json_t **claims,
	       sesame_error *err)
{
	json_error_t jerr;
	json_t *c;
	int rc;

	*claims = NULL;
	c = util_json_parse(t->payload, t->payload_len, &jerr);
	if (!c) {
		/* jansson refuses numbers it cannot represent and NUL in strings:
		 * both are claims sesame refuses, so say so precisely. */
		if (json_error_code(&jerr) == json_error_numeric_overflow)
			return seterr(err, SESAME_REJECTED, "claim", "a numeric claim is out of range: %s", jerr.text);
		if (json_error_code(&jerr) == json_error_null_character)
			return seterr(err, SESAME_REJECTED, "claim", "a claim contains a NUL character");
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		return seterr(err, SESAME_MALFORMED, "malformed", "the payload is not JSON: %s at byte %d", jerr.text,
			      jerr.position);
	}
	if (!json_is_object(c)) {
		json_decref(c);
		return seterr(err, SESAME_MALFORMED, "malformed", "the payload is not a JSON object");
	}
	rc = claims_check(c, rules, now, err);
	if (rc != SESAME_OK) {
		json_decref(c);
		return rc;
	}
	*claims = c;
	return SESAME_OK;
}

int jws_verify(const struct jose_keyset *set, const char *token, const struct sesame_jwt_rules *rules, int64_t now,
	       json_t **claims, sesame_error *err)
{
	struct jws_token t;
	size_t idx[8], n, i;
	int rc;

	*claims = NULL;
	rc = jws_parse(token, rules ? rules->max_length : 0, &t, err);
	if (rc != SESAME_OK)
		return rc;
	rc = jws_select_keys(set, &t, rules ? rules->algorithms : NULL, idx, ARRAY_SIZE(idx), &n, err);
	/* Without a kid, every key pinned to the alg is tried (rotation). */
	for (i = 0; rc == SESAME_OK && i < n; i++) {
		rc = jws_check_signature(&set->keys[idx[i]], &t, err);
		if (rc == SESAME_OK || rc != SESAME_REJECTED || i + 1 == n)
			break;
		rc = SESAME_OK;
	}
	if (rc == SESAME_OK)
		rc = jws_claims(&t, rules, now, claims, err);
	jws_token_clear(&t);
	return rc;
}

/* ---- signing ------------------------------------------------------------- */

static char *header_b64(const struct jose_key *key, const json_t *extra, sesame_error *err)
{
	json_t *h;
	char *dump = NULL, *b64 = NULL;
	const char *name;
	json_t *v;

	/* The usual header is written as the JSON path below would write it,
	 * without building and serializing an object per token. */
	if (!extra && (!key->kid || (strlen(key->kid) < 256 && jsontext_plain(key->kid, strlen(key->kid))))) {
		char text[320];
		const char *alg = jose_alg_name(key->alg);
		int n = key->kid ? snprintf(text, sizeof(text), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg,
					    key->kid)
				 : snprintf(text, sizeof(text), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);

		b64 = b64url_encode(text, (size_t)n);
		if (!b64)
			seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		return b64;
	}
	h = json_pack("{s:s, s:s}", "alg", jose_alg_name(key->alg), "typ", "JWT");
	if (!h) {
		seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		return NULL;
	}
	if (key->kid)
		json_object_set_new(h, "kid", json_string(key->kid));
	json_object_foreach ((json_t *)extra, name, v) {
		if (strcmp(name, "alg") == 0 || strcmp(name, "crit") == 0) {
			seterr(err, SESAME_USAGE, "usage", "the extra header may not set \"%s\"", name);
			json_decref(h);
			return NULL;
		}
		json_object_set(h, name, v);
	}
	dump = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	if (dump)
		b64 = b64url_encode(dump, strlen(dump));
	util_json_text_free(dump);
	if (!b64)
		seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return b64;
}

static int sign_hmac(const struct jose_key *key, const char *in, size_t len, unsigned char *sig, size_t *siglen)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(key->mac);
	int ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)in, len) == 1 &&
		 EVP_MAC_final(ctx, sig, siglen, *siglen) == 1;

	EVP_MAC_CTX_free(ctx);
	return ok;
}

/* DER ECDSA (OpenSSL) to raw R || S of fixed width (JOSE). */
static int ecdsa_raw(const unsigned char *der, size_t derlen, size_t width, unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	const BIGNUM *r, *s;
	int ok;

	if (!es)
		return 0;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, out, (int)width) == (int)width && BN_bn2binpad(s, out + width, (int)width) == (int)width;
	ECDSA_SIG_free(es);
	return ok;
}

static int sign_pkey(const struct jose_key *key, const char *in, size_t len, unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char der[256];
	size_t derlen = sizeof(der);
	int ok;

	if (ctx && key->sign_tmpl) {
		ok = EVP_MD_CTX_copy_ex(ctx, key->sign_tmpl) == 1;
	} else {
		ok = ctx && EVP_DigestSignInit(ctx, &pctx, jose_alg_md(key->alg), NULL, key->pkey) == 1;
		if (ok && key->alg >= JOSE_PS256 && key->alg <= JOSE_PS512)
			ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	}
	if (ok && jose_alg_kty(key->alg) == JOSE_KTY_EC) {
		ok = EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)in, len) == 1 &&
		     ecdsa_raw(der, derlen, key->sig_len / 2, sig);
		*siglen = key->sig_len;
	} else if (ok) {
		ok = EVP_DigestSign(ctx, sig, siglen, (const unsigned char *)in, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int jws_sign_text(const struct jose_key *key, const json_t *extra_header, const char *text, size_t len, char **out,
		  sesame_error *err)
{
	char *head = NULL, *payload = NULL, *sigb64 = NULL, *input = NULL;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), hl, pl;
	int rc = SESAME_INTERNAL, ok;

	*out = NULL;
	if (!key->has_private)
		return seterr(err, SESAME_USAGE, "key", "the key %s cannot sign: it has no private part",
			      key->kid ? key->kid : "");
	head = header_b64(key, extra_header, err);
	if (!head)
		return err ? err->status : SESAME_INTERNAL;
	payload = b64url_encode(text, len);
	if (!payload)
		goto oom;
	hl = strlen(head);
	pl = strlen(payload);
	input = malloc(hl + pl + 2);
	if (!input)
		goto oom;
	memcpy(input, head, hl);
	input[hl] = '.';
	memcpy(input + hl + 1, payload, pl + 1);
	ok = jose_alg_kty(key->alg) == JOSE_KTY_OCT ? sign_hmac(key, input, hl + 1 + pl, sig, &siglen)
						    : sign_pkey(key, input, hl + 1 + pl, sig, &siglen);
	if (!ok) {
		rc = seterr(err, SESAME_INTERNAL, "crypto", "signing with %s failed", jose_alg_name(key->alg));
		goto out;
	}
	sigb64 = b64url_encode(sig, siglen);
	if (!sigb64)
		goto oom;
	*out = malloc(hl + pl + strlen(sigb64) + 3);
	if (!*out)
		goto oom;
	memcpy(*out, input, hl + 1 + pl);
	(*out)[hl + 1 + pl] = '.';
	memcpy(*out + hl + 2 + pl, sigb64, strlen(sigb64) + 1);
	rc = SESAME_OK;
	goto out;
oom:
	rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
out:
	util_wipe(sig, sizeof(sig));
	free(head);
	free(payload);
	free(sigb64);
	free(input);
	return rc;
}

int jws_sign(const struct jose_key *key, const json_t *extra_header, const json_t *claims, char **out,
	     sesame_error *err)
{
	char *body;
	int rc;

	*out = NULL;
	if (!key->has_private)
		return seterr(err, SESAME_USAGE, "key", "the key %s cannot sign: it has no private part",
			      key->kid ? key->kid : "");
	if (!json_is_object(claims))
		return seterr(err, SESAME_USAGE, "usage", "the claims must be a JSON object");
	body = json_dumps(claims, JSON_COMPACT);
	if (!body)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = jws_sign_text(key, extra_header, body, strlen(body), out, err);
	util_json_text_free(body);
	return rc;
}
