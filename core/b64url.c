/* SPDX-License-Identifier: MIT */
/* core/b64url.c — strict base64url (RFC 7515 section 2) for JOSE. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "jose.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of each byte, 64 for a byte outside the alphabet: one
 * table look-up per character (tokens are decoded on every verification). */
static const unsigned char sextets[256] = {
/* clang-format off */
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
	64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
	64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
/* clang-format on */
};

size_t b64url_decoded_length(size_t len)
{
	/* A lone trailing character cannot carry a whole byte. */
	if (len % 4 == 1)
		return SIZE_MAX;
	return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

bool b64url_decode_into(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o = 0, full = len / 4 * 4;
	uint32_t v, bad;

	*outlen = 0;
	if (b64url_decoded_length(len) == SIZE_MAX)
		return false;
	/* Four characters make three bytes; an invalid one sets bit 6. */
	for (i = 0; i < full; i += 4) {
		bad = sextets[p[i]] | sextets[p[i + 1]] | sextets[p[i + 2]] | sextets[p[i + 3]];
		if (bad & 64)
			return false;
		v = (uint32_t)sextets[p[i]] << 18 | (uint32_t)sextets[p[i + 1]] << 12 |
		    (uint32_t)sextets[p[i + 2]] << 6 | sextets[p[i + 3]];
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	/* The unused low bits of the last character must be zero, so that
	 * every byte string has exactly one encoding. */
	if (len - full == 2) {
		bad = sextets[p[i]] | sextets[p[i + 1]];
		if ((bad & 64) || (sextets[p[i + 1]] & 15))
			return false;
		out[o++] = (unsigned char)(sextets[p[i]] << 2 | sextets[p[i + 1]] >> 4);
	} else if (len - full == 3) {
		bad = sextets[p[i]] | sextets[p[i + 1]] | sextets[p[i + 2]];
		if ((bad & 64) || (sextets[p[i + 2]] & 3))
			return false;
		v = (uint32_t)sextets[p[i]] << 12 | (uint32_t)sextets[p[i + 1]] << 6 | sextets[p[i + 2]];
		out[o++] = (unsigned char)(v >> 10);
		out[o++] = (unsigned char)(v >> 2);
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen)
{
	size_t n = b64url_decoded_length(len);
	unsigned char *out;

	*outlen = 0;
	if (n == SIZE_MAX)
		return NULL;
	out = malloc(n + 1);
	if (!out) {
		*outlen = SIZE_MAX;
		return NULL;
	}
	if (!b64url_decode_into(in, len, out, outlen)) {
		free(out);
		return NULL;
	}
	return out;
}

char *b64url_encode(const void *in, size_t len)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	char *out;

	if (len > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	out = malloc(len / 3 * 4 + 4);
	if (!out)
		return NULL;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}
