/* SPDX-License-Identifier: MIT */
/*
 * daemon/router.c — matching a request's method and path against the route
 * table of routes.c.  Patterns are literal segments and {param} segments,
 * and may end with a {param*} segment that takes the rest of the path (one
 * or more segments: action names such as "confirm/send");
 * the table is small, so a linear scan in table order is all it needs and
 * keeps the precedence obvious: the first row whose path and method match
 * wins; when no row has the method, the first row with the path decides
 * the 405 (its pattern labels the metrics).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "daemon.h"

/* Length of the segment starting at `s` (up to '/' or the end). */
static size_t segment_length(const char *s)
{
	return strcspn(s, "/");
}

/* Whether `path` matches `pattern`; fills the parameters of `m` when it does. */
static bool pattern_matches(const char *pattern, const char *path, struct route_match *m)
{
	const char *p = pattern, *s = path;

	m->n_params = 0;
	while (*p && *s) {
		size_t plen, slen;

		if (*p != '/' || *s != '/')
			return false;
		p++;
		s++;
		plen = segment_length(p);
		slen = segment_length(s);
		if (plen >= 3 && p[0] == '{' && p[plen - 2] == '*' && p[plen - 1] == '}' && p[plen] == '\0') {
			/* The rest of the path, without empty segments. */
			slen = strlen(s);
			if (slen == 0 || slen > ROUTE_PARAM_MAX || m->n_params == ROUTE_MAX_PARAMS || s[slen - 1] == '/' ||
			    strstr(s, "//"))
				return false;
			m->params[m->n_params].name = p + 1;
			m->params[m->n_params].name_len = plen - 3;
			memcpy(m->params[m->n_params].value, s, slen + 1);
			m->n_params++;
		} else if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (slen == 0 || slen > ROUTE_PARAM_MAX || m->n_params == ROUTE_MAX_PARAMS)
				return false;
			m->params[m->n_params].name = p + 1;
			m->params[m->n_params].name_len = plen - 2;
			memcpy(m->params[m->n_params].value, s, slen);
			m->params[m->n_params].value[slen] = '\0';
			m->n_params++;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p += plen;
		s += slen;
	}
	return *p == '\0' && *s == '\0';
}

/* Append `method` to the Allow list unless it is there already. */
static void allow_add(char *allow, size_t size, const char *method)
{
	size_t used = strlen(allow), n = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return;
		p += n;
	}
	snprintf(allow + used, size - used, "%s%s", used ? ", " : "", method);
}

enum route_result router_match(const struct route *routes, size_t n, const char *method, const char *path,
			       struct route_match *m)
{
	struct route_match probe;
	const struct route *found = NULL;
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		if (!pattern_matches(routes[i].pattern, path, &probe))
			continue;
		allow_add(m->allow, sizeof(m->allow), routes[i].method);
		if (!found || (strcmp(found->method, method) != 0 && strcmp(routes[i].method, method) == 0)) {
			found = &routes[i];
			memcpy(m->params, probe.params, sizeof(probe.params));
			m->n_params = probe.n_params;
		}
	}
	if (!found)
		return ROUTE_NOT_FOUND;
	/* sesamed answers OPTIONS (CORS preflight) on every path it serves. */
	allow_add(m->allow, sizeof(m->allow), "OPTIONS");
	m->route = found;
	return strcmp(found->method, method) == 0 ? ROUTE_FOUND : ROUTE_BAD_METHOD;
}

const char *route_param(const struct route_match *m, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < m->n_params; i++)
		if (m->params[i].name_len == n && memcmp(m->params[i].name, name, n) == 0)
			return m->params[i].value;
	return NULL;
}
