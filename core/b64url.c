/* core/b64url.c — strict base64url (RFC 7515 section 2) for JOSE. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "jose.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of a base64url character, or -1. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t b64url_decoded_length(size_t len)
{
	/* A lone trailing character cannot carry a whole byte. */
	if (len % 4 == 1)
		return SIZE_MAX;
	return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen)
{
	size_t n = b64url_decoded_length(len), i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	unsigned char *out;

	*outlen = 0;
	if (n == SIZE_MAX)
		return NULL;
	out = malloc(n + 1);
	if (!out) {
		*outlen = SIZE_MAX;
		return NULL;
	}
	for (i = 0; i < len; i++) {
		int v = sextet((unsigned char)in[i]);

		if (v < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The unused low bits of the last character must be zero, so that
	 * every byte string has exactly one encoding. */
	if (acc != 0)
		goto bad;
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
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
