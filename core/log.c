/* SPDX-License-Identifier: MIT */
/* core/log.c — the context's logger: a callback or, by default, stderr. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *level_name(int level)
{
	switch (level) {
	case SESAME_LOG_ERR:
		return "error";
	case SESAME_LOG_WARNING:
		return "warning";
	case SESAME_LOG_NOTICE:
		return "notice";
	case SESAME_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_init(struct logger *lg)
{
	lg->fn = NULL;
	lg->data = NULL;
	lg->max_level = SESAME_LOG_NOTICE;
}

void log_vmsg(const struct logger *lg, int level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t i;

	if (!lg || level > lg->max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One event, one line: a newline or control character in a message
	 * (e.g. from a plugin) must not forge a second log line. */
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	if (lg->fn)
		lg->fn(lg->data, level, line);
	else
		fprintf(stderr, "sesame: %s: %s\n", level_name(level), line);
}

void log_msg(const struct logger *lg, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lg, level, fmt, ap);
	va_end(ap);
}
