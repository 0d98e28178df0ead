/* SPDX-License-Identifier: MIT */
/*
 * tests/testsesame.c — helpers for the test programs that link libsesame
 * (its own file in libtestutil, so the programs that do not link libsesame
 * never pull it in): a configured context, assertions on results.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <sesame/sesame.h>

#include "testutil.h"

sesame_ctx *tu_context(const char *main_file)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;

	if (!ctx)
		fail_msg("sesame_new: out of memory");
	sesame_set_logger(ctx, tu_log_quiet, NULL, SESAME_LOG_DEBUG);
	if (sesame_configure(ctx, main_file, 0, &err) != SESAME_OK)
		fail_msg("configure %s: %s", main_file, err.text);
	return ctx;
}

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
