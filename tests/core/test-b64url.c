/* SPDX-License-Identifier: MIT */
/* tests/core/test-b64url.c — strict base64url of core/b64url.c. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "jose.h"

static void round_trip(void **state)
{
	unsigned char buf[64];
	size_t len, n, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof(buf); len++) {
		char *enc = b64url_encode(buf, len);
		unsigned char *dec;

		assert_non_null(enc);
		assert_null(strpbrk(enc, "+/="));
		dec = b64url_decode(enc, strlen(enc), &n);
		assert_non_null(dec);
		assert_int_equal(n, len);
		if (len)
			assert_memory_equal(dec, buf, len);
		free(dec);
		free(enc);
	}
}

static void known_values(void **state)
{
	char *e = b64url_encode("\xfb\xff\xfe", 3);
	size_t n;
	unsigned char *d;

	assert_string_equal(e, "-__-");
	free(e);
	e = b64url_encode("{\"alg\":\"HS256\"}", 15);
	assert_string_equal(e, "eyJhbGciOiJIUzI1NiJ9");
	free(e);
	d = b64url_decode("YQ", 2, &n);
	assert_non_null(d);
	assert_int_equal(n, 1);
	assert_int_equal(d[0], 'a');
	free(d);
	d = b64url_decode("", 0, &n);
	assert_non_null(d);
	assert_int_equal(n, 0);
	free(d);
}

static void refuses(const char *s)
{
	size_t n = 42;
	unsigned char *d = b64url_decode(s, strlen(s), &n);

	if (d)
		fail_msg("\"%s\" was accepted", s);
	assert_int_equal(n, 0);
}

static void strictness(void **state)
{
	refuses("YQ=="); /* padding */
	refuses("YQ=");
	refuses("+/8"); /* base64, not base64url */
	refuses("Y Q"); /* whitespace */
	refuses("YQ\n");
	refuses("Y");	  /* a lone character carries no byte */
	refuses("YQAAA"); /* length % 4 == 1 */
	refuses("YR");	  /* non-zero unused bits: "a" is YQ only */
	refuses("YWF");	  /* 2 unused bits set */
	refuses("Y\x80Q");
	/* An embedded NUL ends nothing: the length decides. */
	{
		size_t n;

		assert_null(b64url_decode("YQ\0A", 4, &n));
	}
	assert_int_equal(b64url_decoded_length(5), SIZE_MAX);
	assert_int_equal(b64url_decoded_length(43), 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(known_values),
	    cmocka_unit_test(strictness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
