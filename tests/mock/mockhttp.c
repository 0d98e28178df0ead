/* SPDX-License-Identifier: MIT */
/* tests/mock/mockhttp.c — the scriptable loopback HTTP server of mockhttp.h,
 * on libmicrohttpd with its own polling thread. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "mockhttp.h"

#define MAX_ROUTES 32
#define MAX_BODY   (4 * 1024 * 1024)

struct route {
	char *path;
	int status;
	char *content_type;
	char *body;
	size_t len;
	char *headers;
	unsigned delay_ms;
	unsigned hits;
	char *last_method;
	char *last_body;
	char *last_headers; /* "name: value\n" lines, names lowercased */
	char *last_query;   /* "name: value\n" lines of the decoded query arguments */
};

struct mockhttp {
	struct MHD_Daemon *daemon;
	unsigned port;
	pthread_mutex_t lock;
	pthread_cond_t stopping_cond; /* wakes the answers held back by a delay */
	bool stopping;
	struct route routes[MAX_ROUTES];
	size_t n;
};

/* Per-connection upload buffer. */
struct upload {
	char *data;
	size_t len;
};

static void die(const char *what)
{
	fprintf(stderr, "mockhttp: %s\n", what);
	abort();
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		die("out of memory");
	return p;
}

/* The route of `path`, created when `create`; lock held. */
static struct route *route_of(struct mockhttp *m, const char *path, int create)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->routes[i].path, path) == 0)
			return &m->routes[i];
	if (!create)
		return NULL;
	if (m->n == MAX_ROUTES)
		die("too many routes");
	memset(&m->routes[m->n], 0, sizeof(m->routes[0]));
	m->routes[m->n].path = xstrdup(path);
	m->routes[m->n].status = 404;
	return &m->routes[m->n++];
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	char **acc = cls;
	size_t old = strlen(*acc), n = old + strlen(key) + strlen(value) + 4, i;
	char *p = realloc(*acc, n);

	if (!p)
		die("out of memory");
	snprintf(p + old, n - old, "%s: %s\n", key, value);
	for (i = old; p[i] != ':'; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
	*acc = p;
	return MHD_YES;
}

/* Query arguments keep their case; a value may be NULL ("?flag"). */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	char **acc = cls;
	size_t old = strlen(*acc), n = old + strlen(key) + (value ? strlen(value) : 0) + 4;
	char *p = realloc(*acc, n);

	if (!p)
		die("out of memory");
	snprintf(p + old, n - old, "%s: %s\n", key, value ? value : "");
	*acc = p;
	return MHD_YES;
}

static void add_headers(struct MHD_Response *resp, const char *headers)
{
	char *copy = xstrdup(headers), *line = copy, *next;

	for (; line && *line; line = next) {
		char *colon;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		colon++;
		while (*colon == ' ')
			colon++;
		MHD_add_response_header(resp, line, colon);
	}
	free(copy);
}

/* A slow answer: held back `ms` milliseconds, or until the server stops,
 * whichever comes first, so a test that has seen its client give up does
 * not wait out the rest of the delay when it stops the mock. */
static void hold_back(struct mockhttp *m, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	while (!m->stopping && pthread_cond_timedwait(&m->stopping_cond, &m->lock, &until) == 0)
		;
	pthread_mutex_unlock(&m->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct mockhttp *m = cls;
	struct upload *up = *con_cls;
	struct MHD_Response *resp;
	struct route *r;
	enum MHD_Result ret;
	char *headers, *query;
	unsigned delay;
	int status;

	if (!up) {
		up = calloc(1, sizeof(*up));
		if (!up)
			return MHD_NO;
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_size) {
		if (up->len + *upload_size > MAX_BODY)
			return MHD_NO;
		up->data = realloc(up->data, up->len + *upload_size + 1);
		if (!up->data)
			return MHD_NO;
		memcpy(up->data + up->len, upload_data, *upload_size);
		up->len += *upload_size;
		up->data[up->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	headers = xstrdup("");
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &headers);
	query = xstrdup("");
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &query);
	pthread_mutex_lock(&m->lock);
	r = route_of(m, url, 1);
	r->hits++;
	free(r->last_method);
	free(r->last_body);
	free(r->last_headers);
	r->last_method = xstrdup(method);
	r->last_body = xstrdup(up->data);
	r->last_headers = headers;
	free(r->last_query);
	r->last_query = query;
	status = r->status;
	delay = r->delay_ms;
	resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (resp && r->content_type)
		MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (resp && r->headers)
		add_headers(resp, r->headers);
	pthread_mutex_unlock(&m->lock);
	if (!resp)
		return MHD_NO;
	if (delay)
		hold_back(m, delay);
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	if (up) {
		free(up->data);
		free(up);
		*con_cls = NULL;
	}
}

struct mockhttp *mockhttp_start(void)
{
	struct mockhttp *m = calloc(1, sizeof(*m));
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	pthread_condattr_t attr;

	if (!m)
		die("out of memory");
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->stopping_cond, &attr);
	pthread_condattr_destroy(&attr);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
				     on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (!m->daemon)
		die("cannot start the server");
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || info->port == 0)
		die("cannot read the port");
	m->port = info->port;
	return m;
}

void mockhttp_stop(struct mockhttp *m)
{
	size_t i;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_broadcast(&m->stopping_cond);
	pthread_mutex_unlock(&m->lock);
	MHD_stop_daemon(m->daemon);
	for (i = 0; i < m->n; i++) {
		struct route *r = &m->routes[i];

		free(r->path);
		free(r->content_type);
		free(r->body);
		free(r->headers);
		free(r->last_method);
		free(r->last_body);
		free(r->last_headers);
		free(r->last_query);
	}
	pthread_cond_destroy(&m->stopping_cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

unsigned mockhttp_port(const struct mockhttp *m)
{
	return m->port;
}

char *mockhttp_url(const struct mockhttp *m, const char *path)
{
	size_t n = strlen(path) + 64;
	char *url = malloc(n);

	if (!url)
		die("out of memory");
	snprintf(url, n, "http://127.0.0.1:%u%s", m->port, path);
	return url;
}

void mockhttp_set(struct mockhttp *m, const char *path, int status, const char *content_type, const char *body,
		  size_t len, const char *headers)
{
	struct route *r;

	pthread_mutex_lock(&m->lock);
	r = route_of(m, path, 1);
	free(r->content_type);
	free(r->body);
	free(r->headers);
	r->status = status;
	r->content_type = content_type ? xstrdup(content_type) : NULL;
	r->body = malloc(len + 1);
	if (!r->body)
		die("out of memory");
	if (len)
		memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->len = len;
	r->headers = headers ? xstrdup(headers) : NULL;
	pthread_mutex_unlock(&m->lock);
}

void mockhttp_set_str(struct mockhttp *m, const char *path, int status, const char *content_type, const char *body,
		      const char *headers)
{
	mockhttp_set(m, path, status, content_type, body, body ? strlen(body) : 0, headers);
}

void mockhttp_set_delay(struct mockhttp *m, const char *path, unsigned ms)
{
	pthread_mutex_lock(&m->lock);
	route_of(m, path, 1)->delay_ms = ms;
	pthread_mutex_unlock(&m->lock);
}

unsigned mockhttp_hits(struct mockhttp *m, const char *path)
{
	struct route *r;
	unsigned hits;

	pthread_mutex_lock(&m->lock);
	r = route_of(m, path, 0);
	hits = r ? r->hits : 0;
	pthread_mutex_unlock(&m->lock);
	return hits;
}

void mockhttp_reset_hits(struct mockhttp *m)
{
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++)
		m->routes[i].hits = 0;
	pthread_mutex_unlock(&m->lock);
}

static char *last_field(struct mockhttp *m, const char *path, size_t which)
{
	struct route *r;
	char *v;

	pthread_mutex_lock(&m->lock);
	r = route_of(m, path, 0);
	v = xstrdup(!r ? "" : which == 0 ? r->last_method : r->last_body);
	pthread_mutex_unlock(&m->lock);
	return v;
}

char *mockhttp_last_method(struct mockhttp *m, const char *path)
{
	return last_field(m, path, 0);
}

char *mockhttp_last_body(struct mockhttp *m, const char *path)
{
	return last_field(m, path, 1);
}

/* The value of `name` in "name: value\n" lines; malloc'd, NULL when absent. */
static char *line_value(const char *lines, const char *name, int fold_case)
{
	size_t n = strlen(name);
	const char *line = lines;

	while (line && *line) {
		const char *end = strchr(line, '\n');

		if ((fold_case ? strncasecmp(line, name, n) : strncmp(line, name, n)) == 0 && line[n] == ':') {
			const char *val = line + n + 1;

			while (*val == ' ')
				val++;
			return strndup(val, (size_t)(end - val));
		}
		line = end + 1;
	}
	return NULL;
}

char *mockhttp_last_header(struct mockhttp *m, const char *path, const char *name)
{
	struct route *r;
	char *v;

	pthread_mutex_lock(&m->lock);
	r = route_of(m, path, 0);
	v = r ? line_value(r->last_headers, name, 1) : NULL;
	pthread_mutex_unlock(&m->lock);
	return v;
}

char *mockhttp_last_query(struct mockhttp *m, const char *path, const char *name)
{
	struct route *r;
	char *v;

	pthread_mutex_lock(&m->lock);
	r = route_of(m, path, 0);
	v = r ? line_value(r->last_query, name, 0) : NULL;
	pthread_mutex_unlock(&m->lock);
	return v;
}
