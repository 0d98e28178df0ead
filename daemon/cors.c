/* SPDX-License-Identifier: MIT */
/*
 * daemon/cors.c — Cross-Origin Resource Sharing for browser clients
 * (realm-web).  Only origins listed in `cors_origins` get CORS headers;
 * none are listed by default, so browsers on other sites cannot call
 * sesamed unless the operator says so.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"

/* Headers App Services clients send; a preflight asking for others is
 * answered with this list and the browser refuses the rest. */
#define ALLOWED_HEADERS "Authorization, Content-Type, Accept, X-Requested-With"
#define MAX_AGE "600"

/* "scheme://host[:port]" with no path, query, user info or trailing slash:
 * browsers send exactly this form in the Origin header. */
static bool origin_well_formed(const char *s)
{
	const char *host;
	size_t i;

	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return false;
	if (!*host)
		return false;
	for (i = 0; host[i]; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= 0x20 || c >= 0x7f || strchr("/?#@\\", c))
			return false;
	}
	return true;
}

int cors_init(struct cors *c, const json_t *origins, sesame_error *err)
{
	size_t i, n = json_array_size(origins);
	json_t *v;

	memset(c, 0, sizeof(*c));
	if (n == 0)
		return 0;
	c->origins = calloc(n, sizeof(*c->origins));
	if (!c->origins) {
		return derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	}
	json_array_foreach (origins, i, v) {
		const char *s = json_string_value(v);

		if (s && strcmp(s, "*") == 0) {
			c->any = true;
			continue;
		}
		if (!s || !origin_well_formed(s)) {
			derr(err, SESAME_CONFIG, "config",
			     "\"cors_origins\"[%zu]: expected \"*\" or an origin like \"https://app.example.com\" "
			     "(scheme, host and optional port, no path)",
			     i);
			cors_free(c);
			return SESAME_CONFIG;
		}
		c->origins[c->n] = strdup(s);
		if (!c->origins[c->n]) {
			derr(err, SESAME_INTERNAL, "nomem", "out of memory");
			cors_free(c);
			return SESAME_INTERNAL;
		}
		c->n++;
	}
	return 0;
}

void cors_free(struct cors *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->origins[i]);
	free(c->origins);
	memset(c, 0, sizeof(*c));
}

bool cors_origin_allowed(const struct cors *c, const char *origin)
{
	size_t i;

	if (!origin || !origin_well_formed(origin))
		return false;
	if (c->any)
		return true;
	/* Scheme and host are case-insensitive; browsers send them lowercase. */
	for (i = 0; i < c->n; i++)
		if (strcasecmp(c->origins[i], origin) == 0)
			return true;
	return false;
}

/* Whether any origin may ever be allowed: then responses vary by Origin. */
static bool cors_enabled(const struct cors *c)
{
	return c->any || c->n > 0;
}

void cors_apply(const struct cors *c, const char *origin, struct reply *rep)
{
	if (!cors_enabled(c))
		return;
	/* Caches must not serve one origin's answer to another. */
	reply_header(rep, "Vary", "Origin");
	if (!cors_origin_allowed(c, origin))
		return;
	reply_header(rep, "Access-Control-Allow-Origin", origin);
	/* realm-web reads X-Baas-Location from a fetch() made with
	 * credentials: "include", which the browser blocks without
	 * Allow-Credentials.  sesamed sets and reads no cookie, so the
	 * credentials such a request may carry grant nothing here. */
	reply_header(rep, "Access-Control-Allow-Credentials", "true");
	reply_header(rep, "Access-Control-Expose-Headers", "Retry-After, X-Request-Id, X-Baas-Location");
}

/* Whether `method` is one of the comma-separated `allow` list. */
static bool method_listed(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, method, n) == 0)
			return true;
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return false;
}

bool cors_preflight(const struct cors *c, const char *origin, const char *request_method, const char *allow,
		    struct reply *rep)
{
	bool ok = cors_origin_allowed(c, origin) && request_method && method_listed(allow, request_method);

	reply_text(rep, 204, NULL, strdup(""), 0);
	reply_header(rep, "Allow", allow);
	if (cors_enabled(c))
		reply_header(rep, "Vary", "Origin");
	if (!ok)
		return false;
	reply_header(rep, "Access-Control-Allow-Origin", origin);
	reply_header(rep, "Access-Control-Allow-Credentials", "true");
	reply_header(rep, "Access-Control-Allow-Methods", allow);
	reply_header(rep, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
	reply_header(rep, "Access-Control-Max-Age", MAX_AGE);
	return true;
}
