/* SPDX-License-Identifier: MIT */
/*
 * client/util.c — libsesame-client's small helpers: error records, what
 * may be printed of a server's text, wiping secrets, the validation of
 * tokens, ids and names, device ids, and reading an access token's payload
 * the way the SDKs do (without verifying it).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"

int cl_error(sesame_client_error *err, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return status;
	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->reason, sizeof(err->reason), "%s", reason ? reason : "");
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return status;
}

void cl_sanitize(char *dst, size_t size, const char *src, size_t len, size_t max)
{
	size_t i, n = 0;

	if (size == 0)
		return;
	if (len > max)
		len = max;
	for (i = 0; i < len && n + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];

		/* Control characters (escape sequences, CR, LF) would let a
		 * server write on the user's terminal or forge log lines. */
		dst[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[n] = '\0';
}

void cl_free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* Wipe the strings only `v` holds (a value shared elsewhere lives on). */
static void json_wipe(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (v->refcount != 1)
		return;
	if (json_is_string(v)) {
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, m)
			json_wipe(m);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			json_wipe(m);
	}
}

void cl_json_wipe_decref(json_t *v)
{
	if (!v)
		return;
	json_wipe(v);
	json_decref(v);
}

char *cl_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

bool cl_token_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	/* RFC 6750 b64token: nothing that could end or add a header line. */
	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
	if (n == 0)
		return false;
	while (s[n] == '=')
		n++;
	return s[n] == '\0' && n <= SESAME_CLIENT_TOKEN_MAX;
}

bool cl_id_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	return n > 0 && s[n] == '\0' && n <= SESAME_CLIENT_ID_MAX;
}

bool cl_name_valid(const char *s)
{
	return cl_id_valid(s) && s[0] != '.';
}

bool cl_device_id_valid(const char *s)
{
	return s && strlen(s) == 24 && strspn(s, "0123456789abcdef") == 24;
}

int cl_device_id_new(char out[25])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[12];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[24] = '\0';
	return 0;
}

json_t *cl_jwt_payload(const char *token)
{
	const char *dot1 = token ? strchr(token, '.') : NULL, *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	size_t len, padded, i;
	unsigned char *raw = NULL;
	char *b64 = NULL;
	json_t *payload = NULL;
	int n;

	if (!dot2 || (len = (size_t)(dot2 - dot1 - 1)) == 0 || len > SESAME_CLIENT_TOKEN_MAX)
		return NULL;
	/* base64url to base64 with padding, for OpenSSL's decoder. */
	padded = (len + 3) / 4 * 4;
	b64 = malloc(padded + 1);
	raw = malloc(padded / 4 * 3 + 1);
	if (!b64 || !raw)
		goto out;
	for (i = 0; i < len; i++) {
		char ch = dot1[1 + i];

		if (ch == '=' || ch == '+' || ch == '/')
			goto out;
		b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	while (i < padded)
		b64[i++] = '=';
	b64[padded] = '\0';
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)padded);
	if (n < 0)
		goto out;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	n -= (int)(padded - len);
	if (n < 0)
		goto out;
	payload = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (payload && !json_is_object(payload)) {
		json_decref(payload);
		payload = NULL;
	}
out:
	if (b64)
		OPENSSL_cleanse(b64, padded);
	if (raw)
		OPENSSL_cleanse(raw, padded / 4 * 3);
	free(b64);
	free(raw);
	return payload;
}
