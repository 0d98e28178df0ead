/* SPDX-License-Identifier: MIT */
/*
 * core/encode.c — encodings, digests and crypt(3) checks, for the core and,
 * through the host table (encode, decode, digest, crypt_verify), for
 * plugins: one hex encoder instead of a copy per file, and nothing a
 * plugin would otherwise take from libcrypto, libcurl or libcrypt itself.
 */
#include "config.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "internal.h"
#include "jose.h"

void encode_hex(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *base64_encode(const void *in, size_t len)
{
	char *out;

	if (len > (size_t)INT32_MAX / 2)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Strict standard base64: whole quanta, padding only at the end, and
 * canonical (it encodes back to the same text). */
static unsigned char *base64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	char *again;
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > (size_t)INT32_MAX / 2)
		return NULL;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	if (strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != len - pad)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n - pad;
	out[*outlen] = '\0';
	again = base64_encode(out, *outlen);
	if (!again || strlen(again) != len || memcmp(again, in, len) != 0) {
		free(again);
		free(out);
		return NULL;
	}
	free(again);
	return out;
}

static char *url_encode(const void *in, size_t len)
{
	char *esc, *out = NULL;

	if (len > (size_t)INT32_MAX)
		return NULL;
	/* Everything but RFC 3986's unreserved characters, %XX. */
	esc = curl_easy_escape(NULL, in, (int)len);
	if (esc) {
		out = strdup(esc);
		curl_free(esc);
	}
	return out;
}

int encode_text(int encoding, const void *in, size_t len, char **text, sesame_error *err)
{
	char *out = NULL;

	if (!text || (!in && len))
		return seterr(err, SESAME_USAGE, "usage", "encode: NULL text or data");
	*text = NULL;
	switch (encoding) {
	case SESAME_ENCODING_HEX:
		if (len > SIZE_MAX / 2 - 1)
			return seterr(err, SESAME_USAGE, "usage", "encode: too much data");
		out = malloc(2 * len + 1);
		if (out)
			encode_hex(in, len, out);
		break;
	case SESAME_ENCODING_BASE64:
		out = base64_encode(in ? in : "", len);
		break;
	case SESAME_ENCODING_BASE64URL:
		out = b64url_encode(in ? in : "", len);
		break;
	case SESAME_ENCODING_URL:
		out = url_encode(in ? in : "", len);
		break;
	default:
		return seterr(err, SESAME_USAGE, "usage", "encode: unknown encoding %d", encoding);
	}
	if (!out)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	*text = out;
	return SESAME_OK;
}

int decode_text(int encoding, const char *text, size_t len, unsigned char **data, size_t *data_len,
		sesame_error *err)
{
	unsigned char *out = NULL;
	size_t n = 0, i;
	const char *name = "";

	if (!data || !data_len || (!text && len))
		return seterr(err, SESAME_USAGE, "usage", "decode: NULL text or output");
	*data = NULL;
	*data_len = 0;
	if (text && memchr(text, '\0', len))
		return seterr(err, SESAME_MALFORMED, "encoding", "decode: the text holds a NUL byte");
	switch (encoding) {
	case SESAME_ENCODING_HEX:
		name = "hexadecimal";
		if (len % 2 != 0)
			break;
		out = malloc(len / 2 + 1);
		if (!out)
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		for (i = 0; i < len; i += 2) {
			int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);

			if (hi < 0 || lo < 0) {
				free(out);
				out = NULL;
				break;
			}
			out[i / 2] = (unsigned char)(hi << 4 | lo);
		}
		if (out) {
			n = len / 2;
			out[n] = '\0';
		}
		break;
	case SESAME_ENCODING_BASE64:
		name = "base64";
		out = base64_decode(text ? text : "", len, &n);
		break;
	case SESAME_ENCODING_BASE64URL:
		name = "base64url";
		out = b64url_decode(text ? text : "", len, &n);
		if (!out && n == SIZE_MAX)
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		break;
	default:
		return seterr(err, SESAME_USAGE, "usage", "decode: encoding %d cannot be decoded", encoding);
	}
	if (!out)
		return seterr(err, SESAME_MALFORMED, "encoding", "decode: not %s text", name);
	*data = out;
	*data_len = n;
	return SESAME_OK;
}

int digest_by_name(const char *name, const void *data, size_t len, unsigned char out[SESAME_DIGEST_MAX],
		   size_t *out_len, sesame_error *err)
{
	EVP_MD *md;
	unsigned int n = 0;
	int ok;

	if (!name || !out || !out_len || (!data && len))
		return seterr(err, SESAME_USAGE, "usage", "digest: NULL name, data or output");
	*out_len = 0;
	md = EVP_MD_fetch(NULL, name, NULL);
	if (!md || EVP_MD_get_size(md) > SESAME_DIGEST_MAX) {
		EVP_MD_free(md);
		return seterr(err, SESAME_USAGE, "digest", "digest: unknown digest \"%.32s\"", name);
	}
	ok = EVP_Digest(data ? data : "", len, out, &n, md, NULL) == 1;
	EVP_MD_free(md);
	if (!ok)
		return seterr(err, SESAME_INTERNAL, "crypto", "digest: %s failed", name);
	*out_len = n;
	return SESAME_OK;
}

int crypt_check(const char *password, size_t len, const char *hash, int *match, sesame_error *err)
{
	struct crypt_data *cd;
	const char *got;
	char *copy;
	int rc = SESAME_OK;

	if (!match || !hash || (!password && len))
		return seterr(err, SESAME_USAGE, "usage", "crypt_verify: NULL password, hash or match");
	*match = 0;
	if (password && memchr(password, '\0', len))
		return seterr(err, SESAME_MALFORMED, "password", "crypt_verify: the password holds a NUL byte");
	copy = strndup(password ? password : "", len);
	cd = calloc(1, sizeof(*cd));
	if (!copy || !cd) {
		free(copy);
		free(cd);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	/* crypt_rn() answers NULL, never a "*0" failure token, for a setting
	 * it does not support. */
	got = crypt_rn(copy, hash, cd, (int)sizeof(*cd));
	if (!got)
		rc = seterr(err, SESAME_MALFORMED, "hash", "crypt_verify: not a crypt(3) hash this system supports");
	else
		*match = strlen(got) == strlen(hash) && util_ct_equal(got, hash, strlen(hash));
	util_wipe(copy, len);
	util_wipe(cd, sizeof(*cd));
	free(copy);
	free(cd);
	return rc;
}
