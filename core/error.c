/* SPDX-License-Identifier: MIT */
/* core/error.c — filling sesame_error records and naming status codes. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"

/* Reasons are ASCII; sources are file paths and provider names, which may
 * hold any bytes. */
static void copy_field(char *dst, size_t size, const char *src)
{
	if (!src)
		src = "";
	utf8_sanitize(dst, size, src, utf8_cut(src, strlen(src), size - 1));
}

/*
 * Format a message into `dst` (`size` bytes) as valid UTF-8: messages quote
 * paths, names and token fields that may hold any bytes, and callers turn
 * them into JSON, which must be UTF-8.  A message longer than `size` is cut
 * before the character that does not fit, never inside it.
 */
static void text_vformat(char *dst, size_t size, const char *fmt, va_list ap) SESAME_PRINTF(3, 0);

static void text_vformat(char *dst, size_t size, const char *fmt, va_list ap)
{
	/* Room for the 3 bytes a cut character may have past the end. */
	char buf[SESAME_ERROR_TEXT_LENGTH + 4];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t len = n < 0 ? 0 : strlen(buf);

	utf8_sanitize(dst, size, buf, utf8_cut(buf, len, size - 1));
}

static void text_format(char *dst, size_t size, const char *fmt, ...) SESAME_PRINTF(3, 4);

static void text_format(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_vformat(dst, size, fmt, ap);
	va_end(ap);
}

void err_clear(sesame_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int vseterr(sesame_error *err, int status, const char *reason, const char *fmt, va_list ap)
{
	if (!err)
		return status;
	err->status = status;
	copy_field(err->reason, sizeof(err->reason), reason);
	text_vformat(err->text, sizeof(err->text), fmt, ap);
	return status;
}

int seterr(sesame_error *err, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, status, reason, fmt, ap);
	va_end(ap);
	return status;
}

int seterr_at(sesame_error *err, int status, const char *reason, const char *file, int line, int column,
	      const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	if (!err)
		return status;
	va_start(ap, fmt);
	text_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err->status = status;
	err->line = line;
	err->column = column;
	copy_field(err->reason, sizeof(err->reason), reason);
	copy_field(err->source, sizeof(err->source), file);
	if (line > 0)
		text_format(err->text, sizeof(err->text), "%s:%d:%d: %s", file, line, column > 0 ? column : 1, msg);
	else
		text_format(err->text, sizeof(err->text), "%s: %s", file, msg);
	return status;
}

void err_set_source(sesame_error *err, const char *source)
{
	if (err && err->source[0] == '\0')
		copy_field(err->source, sizeof(err->source), source);
}

SESAME_API const char *sesame_status_name(int status)
{
	static const char *const names[] = {
	    [SESAME_OK] = "ok",
	    [SESAME_REJECTED] = "rejected",
	    [SESAME_MALFORMED] = "malformed",
	    [SESAME_UNAVAILABLE] = "unavailable",
	    [SESAME_INTERNAL] = "internal",
	    [SESAME_CONFIG] = "config",
	    [SESAME_NOT_FOUND] = "not found",
	    [SESAME_CONFLICT] = "conflict",
	    [SESAME_USAGE] = "usage",
	};

	if (status < 0 || (size_t)status >= ARRAY_SIZE(names) || !names[status])
		return "unknown";
	return names[status];
}
