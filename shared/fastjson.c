/* SPDX-License-Identifier: MIT */
/* shared/fastjson.c — jansson's strict parse with YAJL as a fast path (see fastjson.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_YAJL
#include <yajl/yajl_parse.h>
#endif

#include "fastjson.h"
#include "utf8.h"

#ifdef HAVE_YAJL

/* The values being built: the root, the open containers (borrowed: their
 * parents hold them), and the key the next value of an object goes under. */
struct builder {
	yajl_handle h;
	size_t len;
	bool finishing; /* in yajl_complete_parse(), which parses a buffer of its own */
	size_t end;	/* the offset just past the root value */
	json_t *root;
	json_t *open[FASTJSON_MAX_DEPTH];
	size_t depth;
	char key[FASTJSON_MAX_KEY];
};

/*
 * True when every byte of the text is one the fast path may hand to YAJL:
 * RFC 3629 UTF-8 without NUL, \f or \v, and no \u escape.
 */
static bool plain_text(const char *text, size_t len)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t i = 0, n;

	while (i < len) {
		if (u[i] >= 0x20 && u[i] < 0x80 && u[i] != '\\') {
			i++;
			continue;
		}
		if (u[i] == '\\') {
			if (i + 1 < len && u[i + 1] == 'u')
				return false;
			/* An escaped backslash: the next byte escapes nothing. */
			i += i + 1 < len && u[i + 1] == '\\' ? 2 : 1;
			continue;
		}
		if (u[i] < 0x20) {
			/* Other control bytes than these are refused by YAJL
			 * as by jansson: they may only be in strings, where
			 * they are invalid. */
			if (u[i] == '\0' || u[i] == '\f' || u[i] == '\v')
				return false;
			i++;
			continue;
		}
		n = utf8_char_length(text + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Only JSON's white space after the root value.  YAJL takes an
 * unterminated string there for the end of the input (it parses streams). */
static bool only_space(const char *s, size_t n)
{
	for (; n > 0; s++, n--)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* Where the value just parsed ends.  A number at the very end of the text
 * (YAJL cannot know it ended before the input did) comes from
 * yajl_complete_parse(), after yajl_parse() took the whole text. */
static size_t value_end(const struct builder *b)
{
	return b->finishing ? b->len : yajl_get_bytes_consumed(b->h);
}

/* Put `v` (a new reference, stolen even on failure) where the parse is:
 * 0 (decline) when out of memory or when it repeats a member's name. */
static int add(struct builder *b, json_t *v)
{
	json_t *top;
	size_t before;

	if (!v)
		return 0;
	if (b->depth == 0) {
		if (b->root) {
			json_decref(v);
			return 0;
		}
		b->root = v;
		b->end = value_end(b);
		return 1;
	}
	top = b->open[b->depth - 1];
	if (json_is_array(top))
		return json_array_append_new(top, v) == 0;
	before = json_object_size(top);
	/* NUL-terminated and without a NUL (plain_text()): the 2.13 API. */
	if (json_object_set_new_nocheck(top, b->key, v) != 0)
		return 0;
	return json_object_size(top) > before; /* else a duplicate, replaced */
}

static int open_container(struct builder *b, json_t *c)
{
	if (!c)
		return 0;
	if (b->depth == FASTJSON_MAX_DEPTH) {
		json_decref(c);
		return 0;
	}
	if (!add(b, c))
		return 0;
	b->open[b->depth++] = c;
	return 1;
}

static int on_null(void *ctx)
{
	return add(ctx, json_null());
}

static int on_boolean(void *ctx, int value)
{
	return add(ctx, json_boolean(value));
}

/* Integers here, exactly as jansson reads them (strtoll; out of range
 * declines, jansson refuses it); reals by jansson itself, which reads them
 * the same in every locale. */
static int on_number(void *ctx, const char *s, size_t n)
{
	char buf[24];
	long long v;

	if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n))
		return add(ctx, json_loadb(s, n, JSON_DECODE_ANY, NULL));
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		return 0;
	return add(ctx, json_integer((json_int_t)v));
}

/* The text is valid UTF-8 without \u escapes (plain_text()), so every
 * decoded string is too, and holds no NUL. */
static int on_string(void *ctx, const unsigned char *s, size_t n)
{
	return add(ctx, json_stringn_nocheck((const char *)s, n));
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
	struct builder *b = ctx;

	if (n >= sizeof(b->key))
		return 0;
	memcpy(b->key, s, n);
	b->key[n] = '\0';
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_container(ctx, json_object());
}

static int on_start_array(void *ctx)
{
	return open_container(ctx, json_array());
}

static int on_end(void *ctx)
{
	struct builder *b = ctx;

	if (--b->depth == 0)
		b->end = value_end(b);
	return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

json_t *fastjson_try(const char *text, size_t len, size_t flags)
{
	struct builder b = {.len = len};
	yajl_handle h;
	yajl_status st;

	if ((flags & ~(size_t)JSON_DECODE_ANY) != 0 || !plain_text(text, len))
		return NULL;
	h = b.h = yajl_alloc(&callbacks, NULL, &b);
	if (!h)
		return NULL;
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok) {
		b.finishing = true;
		st = yajl_complete_parse(h);
	}
	yajl_free(h);
	if (st != yajl_status_ok || b.depth != 0 || !b.root || b.end > len || !only_space(text + b.end, len - b.end) ||
	    (!(flags & JSON_DECODE_ANY) && !json_is_object(b.root) && !json_is_array(b.root))) {
		json_decref(b.root);
		return NULL;
	}
	return b.root;
}

#else /* !HAVE_YAJL */

json_t *fastjson_try(const char *text, size_t len, size_t flags)
{
	(void)text;
	(void)len;
	(void)flags;
	return NULL;
}

#endif

json_t *fastjson_loadb(const char *text, size_t len, size_t flags, json_error_t *jerr)
{
	json_t *v = fastjson_try(text, len, flags);

	if (!v)
		return json_loadb(text, len, JSON_REJECT_DUPLICATES | flags, jerr);
	if (jerr) {
		/* What json_loadb() leaves on success. */
		memset(jerr, 0, sizeof(*jerr));
		jerr->line = jerr->column = -1;
		strcpy(jerr->source, "<buffer>");
	}
	return v;
}
