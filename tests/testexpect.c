/* SPDX-License-Identifier: MIT */
/*
 * tests/testexpect.c — assertions on libsesame's results, for the test
 * programs that link libsesame (its own file in libtestutil, so the
 * programs that do not link libsesame never pull it in).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <sesame/sesame.h>

#include "testutil.h"

void tu_expect_error(int rc, const sesame_error *err, int status, const char *reason)
{
	if (rc != status || strcmp(err->reason, reason) != 0)
		fail_msg("expected %s/%s, got %s/%s: %s", sesame_status_name(status), reason, sesame_status_name(rc),
			 err->reason, err->text);
}

const char *tu_member(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v)
		fail_msg("no \"%s\" member", key);
	return v;
}
