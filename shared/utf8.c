/* SPDX-License-Identifier: MIT */
/* shared/utf8.c — UTF-8 validation, character-safe truncation and repair of texts (see utf8.h). */
#include "config.h"

#include <string.h>

#include "utf8.h"

static bool continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t utf8_char_length(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
	size_t len, i;

	if (n == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] < 0xC2) /* a continuation byte, or an overlong 2-byte form */
		return 0;
	if (u[0] < 0xE0) {
		len = 2;
	} else if (u[0] < 0xF0) {
		len = 3;
		if (u[0] == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (u[0] == 0xED)
			hi = 0x9F; /* surrogates U+D800..U+DFFF */
	} else if (u[0] < 0xF5) {
		len = 4;
		if (u[0] == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (u[0] == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || u[1] < lo || u[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (!continuation(u[i]))
			return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		len = utf8_char_length(s + i, n - i);
		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

size_t utf8_cut(const char *s, size_t n, size_t max)
{
	size_t start = max, len;

	if (n <= max)
		return n;
	/* A character is at most 4 bytes: its first byte is at most 3 back. */
	while (start > 0 && max - start < 3 && continuation((unsigned char)s[start]))
		start--;
	len = utf8_char_length(s + start, n - start);
	return len > 0 && start + len > max ? start : max;
}

size_t utf8_sanitize(char *dst, size_t size, const char *src, size_t n)
{
	static const char replacement[] = "\xEF\xBF\xBD";
	size_t i = 0, o = 0, len;

	while (i < n) {
		const char *from = src + i;

		/* A NUL would end the C string early: it is replaced too. */
		len = *from ? utf8_char_length(from, n - i) : 0;
		i += len ? len : 1;
		if (!len) {
			from = replacement;
			len = sizeof(replacement) - 1;
		}
		if (o + len >= size)
			break;
		memcpy(dst + o, from, len);
		o += len;
	}
	dst[o] = '\0';
	return o;
}
