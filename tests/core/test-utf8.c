/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-utf8.c — core/utf8.c against jansson, which decides what
 * a JSON body may hold: validity agrees byte for byte, a cut never splits a
 * character, a sanitized text always loads; and core/error.c's error texts
 * stay valid UTF-8 when they quote raw bytes or are cut at their size.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "utf8.h"

static bool jansson_accepts(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);

	json_decref(v);
	return v != NULL;
}

static void check_agrees(const unsigned char *bytes, size_t n)
{
	bool mine = utf8_valid((const char *)bytes, n), theirs = jansson_accepts((const char *)bytes, n);

	if (mine != theirs)
		fail_msg("%zu bytes %02x %02x %02x %02x: utf8_valid says %d, jansson %d", n, bytes[0],
			 n > 1 ? bytes[1] : 0, n > 2 ? bytes[2] : 0, n > 3 ? bytes[3] : 0, mine, theirs);
}

/* Every 1- and 2-byte sequence, and the edges of the 3- and 4-byte ranges. */
static void test_validity_matches_jansson(void **state)
{
	static const unsigned char tails[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
	unsigned char b[4];
	unsigned a, c, i, j;

	(void)state;
	for (a = 0; a < 256; a++) {
		b[0] = (unsigned char)a;
		check_agrees(b, 1);
		for (c = 0; c < 256; c++) {
			b[1] = (unsigned char)c;
			check_agrees(b, 2);
			for (i = 0; i < sizeof(tails); i++) {
				b[2] = tails[i];
				check_agrees(b, 3);
				for (j = 0; j < sizeof(tails); j++) {
					b[3] = tails[j];
					check_agrees(b, 4);
				}
			}
		}
	}
}

static void test_cut_never_splits(void **state)
{
	/* "aé€😀" is 1 + 2 + 3 + 4 bytes: every cut point lands on or inside one. */
	static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
	static const size_t boundaries[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11};
	size_t n = strlen(text), max;

	(void)state;
	for (max = 0; max <= n; max++) {
		size_t cut = utf8_cut(text, n, max);

		assert_int_equal(cut, boundaries[max]);
		assert_true(utf8_valid(text, cut));
	}
	assert_int_equal(utf8_cut(text, n, 100), n);
	/* Garbage is not a character: a cut through it stays where it was. */
	assert_int_equal(utf8_cut("ab\xff\xff\xff", 5, 3), 3);
	assert_int_equal(utf8_cut("ab\x80\x80\x80\x80", 6, 4), 4);
}

static void test_sanitize(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(utf8_sanitize(out, sizeof(out), "ok \xc3\xa9", 5), 5);
	assert_string_equal(out, "ok \xc3\xa9");
	/* Each stray byte becomes U+FFFD. */
	assert_int_equal(utf8_sanitize(out, sizeof(out), "/\xff/\xc3", 4), 8);
	assert_string_equal(out, "/\xef\xbf\xbd/\xef\xbf\xbd");
	/* A surrogate and an overlong form are not characters either. */
	utf8_sanitize(out, sizeof(out), "\xed\xa0\x80\xc0\xaf", 5);
	assert_true(jansson_accepts(out, strlen(out)));
	/* What does not fit is left out whole. */
	assert_int_equal(utf8_sanitize(out, 5, "abc\xe2\x82\xac", 6), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(utf8_sanitize(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
}

/* Random bytes, sanitized into buffers of every size, always load in jansson. */
static void test_sanitize_random(void **state)
{
	unsigned seed = 12345, round, i;
	char in[64], out[80];

	(void)state;
	for (round = 0; round < 20000; round++) {
		size_t n = round % sizeof(in), size = 1 + round % sizeof(out), len;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(seed >> 16);
		}
		len = utf8_sanitize(out, size, in, n);
		assert_true(len < size);
		assert_int_equal(strlen(out), len);
		assert_true(jansson_accepts(out, len));
	}
}

/* Error texts quote raw bytes (a provider name from a URL) and are cut at
 * SESAME_ERROR_TEXT_LENGTH: both must leave valid UTF-8. */
static void test_error_texts(void **state)
{
	char name[SESAME_ERROR_TEXT_LENGTH * 2];
	sesame_error err;
	size_t i, len;
	json_t *v;

	(void)state;
	seterr(&err, SESAME_NOT_FOUND, "provider", "no enabled provider named \"%s\"", "x\xff\xfey");
	assert_string_equal(err.text, "no enabled provider named \"x\xef\xbf\xbd\xef\xbf\xbdy\"");
	/* "é" repeated past the end, at both parities of the cut. */
	for (i = 0; i < 2; i++) {
		memset(name, 'a', i);
		for (len = i; len + 2 < sizeof(name); len += 2)
			memcpy(name + len, "\xc3\xa9", 2);
		name[len] = '\0';
		seterr(&err, SESAME_REJECTED, "claim", "%s", name);
		len = strlen(err.text);
		assert_true(len >= SESAME_ERROR_TEXT_LENGTH - 2 && len < SESAME_ERROR_TEXT_LENGTH);
		v = json_string(err.text);
		assert_non_null(v);
		json_decref(v);
	}
	seterr_at(&err, SESAME_CONFIG, "syntax", "/etc/\xff.json", 3, 4, "bad %s", "\xc3");
	assert_string_equal(err.text, "/etc/\xef\xbf\xbd.json:3:4: bad \xef\xbf\xbd");
	assert_string_equal(err.source, "/etc/\xef\xbf\xbd.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validity_matches_jansson),
	    cmocka_unit_test(test_cut_never_splits),
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_sanitize_random),
	    cmocka_unit_test(test_error_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
