/* SPDX-License-Identifier: MIT */
/* shared/jsontext.c — see jsontext.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "jsontext.h"
#include "secretbuf.h"

/* Room for a token's payload or a login's answer without growing. */
#define INITIAL_CAP 1024

bool jsontext_plain(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* Make room for `n` more bytes and the final NUL; a grown buffer is a
 * new one, the old one wiped. */
static bool reserve(struct jsontext *t, size_t n)
{
	size_t cap = t->cap ? t->cap : INITIAL_CAP;

	if (t->failed)
		return false;
	if (t->len + n + 1 <= t->cap)
		return true;
	while (cap < t->len + n + 1)
		cap *= 2;
	if (!secretbuf_grow(&t->buf, t->len, &t->cap, cap))
		t->failed = true;
	return !t->failed;
}

static void raw(struct jsontext *t, const char *s, size_t n)
{
	if (!reserve(t, n))
		return;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

/* jansson's text of `v` as it writes it inside an object. */
static void jansson_text(struct jsontext *t, const json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (!text) {
		t->failed = true;
		return;
	}
	raw(t, text, strlen(text));
	OPENSSL_cleanse(text, strlen(text));
	free(text);
}

static void string(struct jsontext *t, const char *s, size_t n)
{
	if (jsontext_plain(s, n)) {
		raw(t, "\"", 1);
		raw(t, s, n);
		raw(t, "\"", 1);
	} else {
		json_t *v = json_stringn(s, n);

		jansson_text(t, v);
		json_decref(v);
	}
}

static void key(struct jsontext *t, const char *k)
{
	if (t->len > 1)
		raw(t, ",", 1);
	string(t, k, strlen(k));
	raw(t, ":", 1);
}

void jsontext_open(struct jsontext *t)
{
	memset(t, 0, sizeof(*t));
	raw(t, "{", 1);
}

void jsontext_string(struct jsontext *t, const char *k, const char *value)
{
	key(t, k);
	if (value)
		string(t, value, strlen(value));
	else
		t->failed = true;
}

void jsontext_integer(struct jsontext *t, const char *k, json_int_t value)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, value);

	key(t, k);
	raw(t, num, (size_t)n);
}

void jsontext_value(struct jsontext *t, const char *k, const json_t *value)
{
	if (json_is_string(value)) {
		key(t, k);
		string(t, json_string_value(value), json_string_length(value));
	} else if (json_is_integer(value)) {
		jsontext_integer(t, k, json_integer_value(value));
	} else {
		key(t, k);
		jansson_text(t, value);
	}
}

char *jsontext_close(struct jsontext *t, size_t *len)
{
	char *text;

	raw(t, "}", 1);
	if (t->failed) {
		if (t->buf) {
			OPENSSL_cleanse(t->buf, t->cap);
			free(t->buf);
		}
		memset(t, 0, sizeof(*t));
		return NULL;
	}
	t->buf[t->len] = '\0';
	text = t->buf;
	*len = t->len;
	memset(t, 0, sizeof(*t));
	return text;
}
