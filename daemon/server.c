/* SPDX-License-Identifier: MIT */
/*
 * daemon/server.c — sesamed's HTTP server on libmicrohttpd: listening
 * (optionally TLS), limits, request bodies, dispatch through the route
 * table, the headers every response carries, one log line and the metrics
 * per request, reloads and the draining stop.
 *
 * Threading: by default a thread per connection (daemon.threads = 0).
 * Handlers block: provider plugins call identity providers over HTTP
 * (Facebook's debug_token on every login, JWKS refetches), run external
 * programs, and wait on the store; in an event-loop thread pool one slow
 * upstream call would stall every connection of its thread, with a thread
 * per connection it stalls only its own.  The connection limit bounds the
 * threads.  daemon.threads = N selects a pool of N epoll threads instead,
 * for deployments whose providers never block.
 *
 * Abuse: one address holds at most daemon.max_connections_per_address
 * connections (libmicrohttpd refuses the others), a request must arrive
 * whole within daemon.request_timeout (the reaper thread closes connections
 * that trickle; libmicrohttpd's own timeout only measures idleness, which
 * one byte now and then defeats), and the framing is strict: libmicrohttpd's
 * strict mode plus the checks of framing_error() against request smuggling.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "daemon.h"
#include "secretbuf.h"
#include "utf8.h"

#define MAX_PEM (1024 * 1024)

/* Answered when even building the error failed (out of memory). */
static const char oom_body[] =
    "{\"error\":\"internal server error\",\"error_code\":\"InternalServerError\",\"link\":\"\"}";

double elapsed_seconds(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* The test clock's offset, in milliseconds (test mode only, see
 * server_clock_advance()).  One per process: sesamed runs one server. */
static _Atomic int64_t clock_offset_ms;

int64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + atomic_load(&clock_offset_ms);
}

int server_clock_advance(struct server *srv, sesame_ctx *ctx, int64_t seconds, sesame_error *err)
{
	int rc;

	pthread_mutex_lock(&srv->lock);
	rc = sesame_clock_advance(ctx, seconds, err);
	if (rc == SESAME_OK) {
		atomic_fetch_add(&clock_offset_ms, seconds * 1000);
		srv->clock_offset += seconds;
	}
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

/* ---- per-request state -------------------------------------------------- */

static void client_address(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const char *ok = NULL;

	if (sa && sa->sa_family == AF_INET)
		ok = inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		ok = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			       (socklen_t)len);
	if (!ok)
		snprintf(out, len, "unknown");
}

/*
 * The id of the next request, for the log and X-Request-Id: 16 hex digits,
 * unique within the process (splitmix64's mix is a bijection of the counter
 * offset by a random seed drawn at start, so ids also differ between
 * starts and nodes).  Not a secret: it costs no draw from the DRBG.
 */
static void request_id(struct server *srv, char *out, size_t size)
{
	uint64_t z = srv->request_seed + (uint64_t)atomic_fetch_add(&srv->requests, 1) * 0x9e3779b97f4a7c15u;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	z ^= z >> 31;
	snprintf(out, size, "%016" PRIx64, z);
}

static struct request *request_new(struct server *srv, struct MHD_Connection *conn, const char *url, const char *method)
{
	struct request *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->path = strdup(url);
	if (!req->path) {
		free(req);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	req->srv = srv;
	req->conn = conn;
	req->method = method;
	req->app = slot_acquire(&srv->slot);
	reply_init(&req->reply);
	client_address(conn, req->client, sizeof(req->client));
	request_id(srv, req->id, sizeof(req->id));
	pthread_mutex_lock(&srv->lock);
	srv->in_flight++;
	pthread_mutex_unlock(&srv->lock);
	return req;
}

static void request_free(struct request *req)
{
	struct server *srv = req->srv;

	reply_clear(&req->reply);
	json_decref(req->json);
	secret_free(req->body);
	free(req->path);
	app_unref(req->app);
	free(req);
	pthread_mutex_lock(&srv->lock);
	if (--srv->in_flight == 0)
		pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
}

/* ---- connections and the request deadline -------------------------------- */

/*
 * A connection from its start to its close (MHD_OPTION_NOTIFY_CONNECTION).
 * While it waits for a request or receives one (`receiving`), the request
 * deadline runs from `since`: the connection's start or the end of its
 * previous response.  It stops once the request is in and resumes at the
 * next one, so slow handlers and keep-alive reuse are not penalised.
 */
struct conn {
	struct conn *prev, *next;
	MHD_socket fd;
	int64_t since_ms; /* monotonic_ms() */
	bool receiving;
	bool closed; /* shut down by the reaper */
};

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct server *srv = cls;
	struct conn *c = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = ci ? calloc(1, sizeof(*c)) : NULL;
		if (!c)
			return; /* untracked: only the idle timeout applies */
		c->fd = ci->connect_fd;
		c->since_ms = monotonic_ms();
		c->receiving = true;
		pthread_mutex_lock(&srv->conns_lock);
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		pthread_mutex_unlock(&srv->conns_lock);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	/* libmicrohttpd closes the socket only after this notification: the
	 * reaper, which shuts sockets down under the same lock, never reaches
	 * a closed (or reused) descriptor. */
	pthread_mutex_lock(&srv->conns_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&srv->conns_lock);
	free(c);
	*socket_context = NULL;
}

/* Start (a request is awaited) or stop (it is in) the deadline of `mc`. */
static void conn_receiving(struct server *srv, struct MHD_Connection *mc, bool receiving)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *c = ci ? ci->socket_context : NULL;

	if (!c)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	if (receiving && !c->receiving)
		c->since_ms = monotonic_ms();
	c->receiving = receiving;
	pthread_mutex_unlock(&srv->conns_lock);
}

/* Shut down every connection whose request is overdue; how many. */
static unsigned reap_overdue(struct server *srv, int64_t timeout_ms)
{
	int64_t now = monotonic_ms();
	unsigned n = 0;
	struct conn *c;

	for (c = srv->conns; c; c = c->next) {
		if (!c->receiving || c->closed || now - c->since_ms < timeout_ms)
			continue;
		/* libmicrohttpd's thread sees the end of the stream and closes
		 * the connection itself, with its usual clean-up. */
		shutdown(c->fd, SHUT_RDWR);
		c->closed = true;
		n++;
	}
	return n;
}

/* Once a second, close the connections that trickle their request. */
static void *reaper_main(void *arg)
{
	struct server *srv = arg;
	struct timespec next;
	unsigned timeout, n;
	struct app *a;

	pthread_mutex_lock(&srv->conns_lock);
	while (!srv->reaper_stop) {
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += 1;
		pthread_cond_timedwait(&srv->reaper_wake, &srv->conns_lock, &next);
		if (srv->reaper_stop)
			break;
		/* The deadline follows reloads. */
		a = slot_acquire(&srv->slot);
		timeout = a->set.daemon.request_timeout;
		app_unref(a);
		n = reap_overdue(srv, (int64_t)timeout * 1000);
		if (n > 0)
			fprintf(stderr,
				"sesamed: closed %u connection(s) whose request did not arrive within %u s "
				"(daemon.request_timeout)\n",
				n, timeout);
	}
	pthread_mutex_unlock(&srv->conns_lock);
	return NULL;
}

static void reaper_stop(struct server *srv)
{
	pthread_mutex_lock(&srv->conns_lock);
	srv->reaper_stop = true;
	pthread_cond_signal(&srv->reaper_wake);
	pthread_mutex_unlock(&srv->conns_lock);
	if (srv->reaper_running)
		pthread_join(srv->reaper, NULL);
	srv->reaper_running = false;
}

/* ---- strict framing ------------------------------------------------------- */

struct header_count {
	unsigned content_length, transfer_encoding, host;
	bool chunked_only; /* every Transfer-Encoding is exactly "chunked" */
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct header_count *hc = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		hc->content_length++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
		hc->host++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		hc->transfer_encoding++;
		if (!value || strcasecmp(value, "chunked") != 0)
			hc->chunked_only = false;
	}
	return MHD_YES;
}

/*
 * Why the request's framing is refused, or NULL.  libmicrohttpd takes the
 * first of two Content-Length headers and reads what follows the shorter
 * body as a second request; a proxy in front may take the other one: the
 * classic request smuggling.  Any ambiguity about where the body ends, or
 * which host is meant, is refused (RFC 9112 section 6.3, RFC 9110 7.2).
 */
static const char *framing_error(struct MHD_Connection *mc, const char *version)
{
	struct header_count hc = {0, 0, 0, true};

	MHD_get_connection_values(mc, MHD_HEADER_KIND, count_header, &hc);
	if (hc.content_length > 1)
		return "more than one Content-Length header";
	if (hc.transfer_encoding > 1)
		return "more than one Transfer-Encoding header";
	if (hc.transfer_encoding && hc.content_length)
		return "both Content-Length and Transfer-Encoding";
	if (hc.transfer_encoding && !hc.chunked_only)
		return "Transfer-Encoding other than \"chunked\"";
	if (hc.host > 1)
		return "more than one Host header";
	if (hc.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
		return "an HTTP/1.1 request without a Host header";
	return NULL;
}

/* ---- checks made as soon as the headers are in -------------------------- */

/* The admin key of the request matches the configured one.  Both sides are
 * hashed first, so the constant-time comparison covers equal lengths and
 * the key's length does not leak either. */
static bool admin_key_matches(const struct settings *s, const char *token, size_t len)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	bool ok;

	SHA256((const unsigned char *)token, len, digest);
	ok = CRYPTO_memcmp(digest, s->admin_key_hash, sizeof(digest)) == 0;
	OPENSSL_cleanse(digest, sizeof(digest));
	return ok;
}

/*
 * The credential of "Authorization: Bearer KEY" for the admin API.  Looser
 * than bearer_token(): an operator's admin key may hold any visible ASCII
 * character, not only the base64url ones sesame's own tokens use.
 */
static bool admin_token(const char *authorization, const char **token, size_t *len)
{
	const char *t;
	size_t n;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	for (t = authorization + 7; *t == ' '; t++)
		;
	for (n = 0; t[n] > 0x20 && t[n] < 0x7f; n++)
		;
	*token = t;
	*len = n;
	return n > 0 && t[n] == '\0';
}

static void not_found(struct request *req)
{
	reply_error(&req->reply, 404, "NotFound", "no route for %.*s %.*s",
		    (int)utf8_cut(req->method, strlen(req->method), 16), req->method,
		    (int)utf8_cut(req->path, strlen(req->path), 256), req->path);
}

/* What the route's auth kind asks of the Authorization header. */
static bool auth_passes(struct request *req)
{
	const struct settings *s = &req->app->set;
	const char *token;
	size_t len;

	switch (req->match.route->auth) {
	case AUTH_NONE:
		return true;
	case AUTH_METRICS:
		if (s->daemon.metrics_public)
			return true;
		/* Else the admin key is required. */
		/* fall through */
	case AUTH_ADMIN:
		if (!admin_token(request_header(req, MHD_HTTP_HEADER_AUTHORIZATION), &token, &len) ||
		    !admin_key_matches(s, token, len)) {
			reply_error(
			    &req->reply, 401, "InvalidSession", "%s",
			    "the admin API needs \"Authorization: Bearer <admin key>\" with the configured key");
			reply_header(&req->reply, "WWW-Authenticate", "Bearer");
			return false;
		}
		req->reply.trusted = true;
		return true;
	case AUTH_ACCESS_OR_ADMIN:
		/* The admin key, when one is configured, acts as the system
		 * user; any other bearer must be a user's access token. */
		if (s->admin_enabled && admin_token(request_header(req, MHD_HTTP_HEADER_AUTHORIZATION), &token, &len) &&
		    admin_key_matches(s, token, len)) {
			req->as_admin = true;
			return true;
		}
		return request_bearer(req, &req->reply, &req->bearer);
	case AUTH_ACCESS:
	case AUTH_REFRESH:
		return request_bearer(req, &req->reply, &req->bearer);
	}
	return false;
}

/* The body fits the cap, judged from Content-Length when the client sent one. */
static bool length_acceptable(struct request *req)
{
	const char *cl = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (!cl)
		return true;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return !(errno == 0 && *end == '\0' && n > req->app->set.daemon.max_body_bytes);
}

static void too_large(struct request *req)
{
	reply_error(&req->reply, 413, "BadRequest", "the request body is larger than %zu bytes",
		    req->app->set.daemon.max_body_bytes);
}

/* Whether the route needs the admin key (then it does not exist without one). */
static bool admin_only(const struct route *route, const struct settings *s)
{
	return route->auth == AUTH_ADMIN || (route->auth == AUTH_METRICS && !s->daemon.metrics_public);
}

/* Route and check the request once its headers are in.  Sets the reply when
 * the request is answered without its handler. */
static void request_route(struct request *req)
{
	struct server *srv = req->srv;
	const struct route *route;

	/* Every name sesamed serves (app id, provider names, ids) is UTF-8, so
	 * a path that is not matches no route; refused here, no handler ever
	 * sees a parameter jansson would refuse. */
	req->routed = utf8_valid(req->path, strlen(req->path))
			  ? router_match(srv->routes, srv->n_routes, req->method, req->path, &req->match)
			  : ROUTE_NOT_FOUND;
	/* Without an admin key the admin API does not exist: not even its
	 * OPTIONS and 405 answers may tell its paths apart. */
	if (req->routed == ROUTE_NOT_FOUND ||
	    (admin_only(req->match.route, &req->app->set) && !req->app->set.admin_enabled)) {
		not_found(req);
		return;
	}
	if (strcmp(req->method, MHD_HTTP_METHOD_OPTIONS) == 0) {
		cors_preflight(&req->app->set.cors, request_header(req, "Origin"),
			       request_header(req, "Access-Control-Request-Method"), req->match.allow, &req->reply);
		return;
	}
	if (req->routed == ROUTE_BAD_METHOD) {
		reply_error(&req->reply, 405, "MethodNotAllowed", "%.*s is not allowed here; allowed: %s",
			    (int)utf8_cut(req->method, strlen(req->method), 16), req->method, req->match.allow);
		reply_header(&req->reply, MHD_HTTP_HEADER_ALLOW, req->match.allow);
		return;
	}
	route = req->match.route;
	if (!auth_passes(req))
		return;
	if ((route->flags & ROUTE_JSON_BODY) &&
	    !content_type_is_json(request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		reply_error(&req->reply, 400, "BadRequest", "%s", "expected \"Content-Type: application/json\"");
		return;
	}
	if (!length_acceptable(req))
		too_large(req);
}

/* Whether the client announced a body (libmicrohttpd has not read it yet). */
static bool request_has_body(const struct request *req)
{
	const char *cl = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0") != 0) || request_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* Keep up to max_body_bytes of the body; past that only remember it was too large. */
static void body_append(struct request *req, const char *data, size_t n)
{
	size_t max = req->app->set.daemon.max_body_bytes;

	if (req->too_large)
		return;
	if (n > max - req->body_len) {
		req->too_large = true;
		secret_free(req->body);
		req->body = NULL;
		req->body_len = req->body_cap = 0;
		return;
	}
	if (req->body_len + n + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap * 2 : 1024;

		while (cap < req->body_len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		/* What the body held so far (a password) is wiped. */
		if (!secretbuf_grow(&req->body, req->body_len, &req->body_cap, cap)) {
			req->too_large = true;
			return;
		}
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
}

/* The whole body is in: run the handler. */
static void request_run(struct request *req)
{
	const struct route *route = req->match.route;
	sesame_error err;

	if (req->too_large) {
		too_large(req);
		return;
	}
	if (route->flags & ROUTE_JSON_BODY) {
		if (body_parse_json(req->body, req->body_len, &req->json, &err) != SESAME_OK ||
		    ((route->flags & ROUTE_EJSON) && ejson_decode(req->json, &err) != SESAME_OK)) {
			reply_sesame_error(&req->reply, &err);
			return;
		}
	}
	route->handler(req, &req->reply);
	if (req->reply.status == 0)
		reply_error(&req->reply, 500, "InternalServerError", "%s", "the handler gave no answer");
}

/* ---- responses ------------------------------------------------------------ */

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
	if (MHD_add_response_header(resp, name, value) != MHD_YES)
		fprintf(stderr, "sesamed: warning: cannot add header %s\n", name);
}

/* The method as a metrics label: a known one, else "other". */
static const char *method_label(const char *method)
{
	static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "other";
}

/* The route as a metrics label: its pattern, or "unmatched". */
static const char *route_label(const struct request *req)
{
	return req->routed == ROUTE_NOT_FOUND ? "unmatched" : req->match.route->pattern;
}

static enum MHD_Result send_reply(struct request *req)
{
	struct reply *rep = &req->reply;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t i;

	if (strcmp(req->method, MHD_HTTP_METHOD_OPTIONS) != 0)
		cors_apply(&req->app->set.cors, request_header(req, "Origin"), rep);
	if (rep->body) {
		/* The body may hold tokens: libmicrohttpd wipes it as it frees it. */
		resp = MHD_create_response_from_buffer_with_free_callback(rep->body_len, rep->body, secret_free);
		if (resp)
			rep->body = NULL;
	} else {
		rep->status = 500;
		rep->content_type = "application/json";
		resp = MHD_create_response_from_buffer(sizeof(oom_body) - 1, (void *)oom_body, MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	if (rep->content_type)
		add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
	/* Tokens and user data must not end up in shared caches. */
	add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	add_header(resp, "X-Request-Id", req->id);
	for (i = 0; i < rep->n_headers; i++)
		add_header(resp, rep->headers[i].name, rep->headers[i].value);
	/* Draining: clients reconnect (elsewhere) rather than reuse this
	 * connection.  (A request answered before its body was read gets
	 * Connection: close from libmicrohttpd itself.) */
	if (atomic_load(&req->srv->draining))
		add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	/* Counted before it can leave: a client holding the answer finds it
	 * in /metrics (the completion callback runs after the last byte). */
	metrics_count_request(req->srv->metrics, method_label(req->method), route_label(req), rep->status);
	ret = MHD_queue_response(req->conn, rep->status, resp);
	MHD_destroy_response(resp);
	req->queued = true;
	/* The request is in (or refused): its deadline stops. */
	conn_receiving(req->srv, req->conn, false);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct request *req = *req_cls;

	if (!req) {
		const char *framing = framing_error(conn, version);

		req = request_new(cls, conn, url, method);
		if (!req)
			return MHD_NO;
		*req_cls = req;
		if (framing) {
			/* Nothing after these headers can be trusted to be where
			 * it seems: answer, and close the connection. */
			req->routed = ROUTE_NOT_FOUND;
			reply_error(&req->reply, 400, "BadRequest", "malformed request: %s", framing);
			reply_header(&req->reply, MHD_HTTP_HEADER_CONNECTION, "close");
			return send_reply(req);
		}
		request_route(req);
		/* A refused request with a body is answered at once and its
		 * connection closed: the body is not worth reading.  Without a
		 * body, answering at the last call keeps the connection alive. */
		return req->reply.status && request_has_body(req) ? send_reply(req) : MHD_YES;
	}
	if (req->queued) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!req->reply.status)
			body_append(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* The whole request is in; the handler may take its time. */
	conn_receiving(req->srv, conn, false);
	if (!req->reply.status)
		request_run(req);
	return send_reply(req);
}

/* ---- the log line and the metrics ------------------------------------------ */

/* `in` made safe for a log line: bytes outside printable ASCII, spaces and
 * quotes percent-encoded, and cut at `max` characters. */
static void log_safe(const char *in, char *out, size_t size, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i;

	for (i = 0; in[i] && o + 4 < size; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i == max) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '\\') {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct request *req = *req_cls;
	const char *route;
	char path[1024], method[64], detail[1024];
	unsigned status;
	double secs;

	/* The connection now waits for its next request: a new deadline. */
	conn_receiving(srv, conn, true);
	if (!req)
		return;
	*req_cls = NULL;
	secs = elapsed_seconds(&req->start);
	status = req->queued ? req->reply.status : 0;
	route = route_label(req);
	if (!req->queued)
		metrics_count_request(srv->metrics, method_label(req->method), route, 0);
	metrics_observe_duration(srv->metrics, method_label(req->method), route, secs);
	log_safe(req->path, path, sizeof(path), 256);
	log_safe(req->method, method, sizeof(method), 16);
	/* Never the query string, headers or body: they carry tokens. */
	if (req->reply.detail)
		log_safe(req->reply.detail, detail, sizeof(detail), 256);
	fprintf(stderr, "sesamed: request req_id=%s method=%s path=%s route=%s status=%u dur_ms=%.3f client=%s%s%s%s\n",
		req->id, method, path, route, status, secs * 1000.0, req->client,
		toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1", req->reply.detail ? " detail=" : "",
		req->reply.detail ? detail : "");
	request_free(req);
}

/* libmicrohttpd's own messages, from its format strings. */
SESAME_PRINTF(2, 0) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	fprintf(stderr, "sesamed: libmicrohttpd: %s\n", line);
}

/* ---- starting, reloading, stopping ------------------------------------------- */

/* Read a PEM file for TLS; the key must be readable by its owner only. */
static char *pem_read(const char *path, bool secret, size_t *lenp, sesame_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		derr(err, SESAME_CONFIG, "config", "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_PEM) {
		derr(err, SESAME_CONFIG, "config", "%s is not a regular file of at most %d bytes", path, MAX_PEM);
		goto fail;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		derr(err, SESAME_CONFIG, "config",
		     "%s holds the TLS private key but is accessible by group or others (mode %04o); "
		     "run chmod 600 on it",
		     path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		derr(err, SESAME_INTERNAL, "nomem", "out of memory reading %s", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*lenp = got;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

static int tls_load(struct server *srv, const struct settings *s, sesame_error *err)
{
	size_t cert_len;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return derr(err, SESAME_CONFIG, "config",
			    "tls_cert and tls_key are set but this libmicrohttpd was built without TLS support");
	srv->tls_cert_pem = pem_read(s->tls_cert, false, &cert_len, err);
	if (!srv->tls_cert_pem)
		return err->status;
	srv->tls_key_pem = pem_read(s->tls_key, true, &srv->tls_key_len, err);
	return srv->tls_key_pem ? SESAME_OK : err->status;
}

static void tls_free(struct server *srv)
{
	free(srv->tls_cert_pem);
	if (srv->tls_key_pem) {
		OPENSSL_cleanse(srv->tls_key_pem, srv->tls_key_len);
		free(srv->tls_key_pem);
	}
	srv->tls_cert_pem = srv->tls_key_pem = NULL;
}

/* "http://127.0.0.1:9090" or "https://[::1]:9090" into `url` (160 bytes). */
static void url_format(char url[160], const struct sockaddr_storage *ss, unsigned port, bool tls)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, host, sizeof(host));
		snprintf(url, 160, "%s://[%s]:%u", tls ? "https" : "http", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, host, sizeof(host));
		snprintf(url, 160, "%s://%s:%u", tls ? "https" : "http", host, port);
	}
}

/* The port a libmicrohttpd daemon listens on (0 when unknown). */
static unsigned bound_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

/*
 * libmicrohttpd's own strictness: the most it offers within the RFCs.
 * Since 0.9.77 the client discipline level 1 also refuses bare LF line
 * ends and obsolete line folding; older versions know only "strict for
 * client" (a Host header for HTTP/1.1, no spaces in the URL) and accept
 * bare LF whatever the setting.
 */
static struct MHD_OptionItem strictness_option(void)
{
#if MHD_VERSION >= 0x00097701
	return (struct MHD_OptionItem){MHD_OPTION_CLIENT_DISCIPLINE_LVL, 1, NULL};
#else
	return (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
#endif
}

/* ---- the metrics listener --------------------------------------------------- */

static const char metrics_not_found[] =
    "{\"error\":\"this address serves GET /metrics only\","
    "\"error_code\":\"NotFound\",\"link\":\"\"}";

/*
 * daemon.metrics_listen: GET /metrics and nothing else, without credentials,
 * for a scraper on an address of its own (loopback, an internal network).
 * Every request is answered as soon as its headers are in; a body is never
 * read (libmicrohttpd closes the connection instead).
 */
static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
					  const char *version, const char *upload_data, size_t *upload_data_size,
					  void **req_cls)
{
	struct server *srv = cls;
	struct MHD_Response *resp = NULL;
	unsigned status = 200;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	if (*req_cls) { /* answered already: a body is dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*req_cls = srv;
	if (strcmp(url, "/metrics") == 0 && strcmp(method, MHD_HTTP_METHOD_GET) == 0)
		text = metrics_render(srv->metrics, &len);
	if (text) {
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(text);
	} else {
		status = 404;
		resp = MHD_create_response_from_buffer(sizeof(metrics_not_found) - 1, (void *)metrics_not_found,
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		   status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "application/json");
	add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int metrics_listener_start(struct server *srv, const struct settings *s, sesame_error *err)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (listen_parse(s->daemon.metrics_listen, &ss, &sslen, err) != SESAME_OK)
		return err->status;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* A scraper needs few connections; the limits keep it cheap. */
	errno = 0;
	srv->metrics_mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_metrics_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 4u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192, MHD_OPTION_ARRAY,
	    (struct MHD_OptionItem[]){strictness_option(), {MHD_OPTION_END, 0, NULL}}, MHD_OPTION_END);
	if (!srv->metrics_mhd)
		return derr(err, SESAME_UNAVAILABLE, "listen", "cannot listen on %s (daemon.metrics_listen)%s%s",
			    s->daemon.metrics_listen, errno ? ": " : "", errno ? strerror(errno) : "");
	url_format(srv->metrics_url, &ss, bound_port(srv->metrics_mhd), false);
	return SESAME_OK;
}

static void server_free(struct server *srv)
{
	reaper_stop(srv);
	pthread_cond_destroy(&srv->reaper_wake);
	pthread_mutex_destroy(&srv->conns_lock);
	slot_destroy(&srv->slot);
	metrics_free(srv->metrics);
	throttle_free(srv->throttle);
	weblogin_free(srv->weblogin);
	throttle_free(srv->anon_throttle);
	linkguard_free(srv->linkguard);
	throttle_free(srv->ident_throttle);
	throttle_free(srv->account_throttle);
	OPENSSL_cleanse(srv->ident_key, sizeof(srv->ident_key));
	tls_free(srv);
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
}

int server_start(struct server *srv, struct app *a, sesame_error *err)
{
	const struct settings *s = &a->set;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[16];
	struct sockaddr_storage ss;
	pthread_condattr_t ca;
	socklen_t sslen;
	size_t n = 0;

	/* libmicrohttpd wants its logger before any option that may log. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
	srv->routes = routes_table(&srv->n_routes);
	atomic_init(&srv->draining, false);
	srv->in_flight = 0;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->idle, &ca);
	pthread_cond_init(&srv->reaper_wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&srv->conns_lock, NULL);
	srv->conns = NULL;
	srv->reaper_running = srv->reaper_stop = false;
	srv->metrics_mhd = NULL;
	srv->metrics_url[0] = '\0';
	slot_init(&srv->slot, a);
	srv->metrics = metrics_new();
	srv->throttle = throttle_new(s->daemon.throttle_slots, s->daemon.login_failures_per_minute);
	srv->weblogin = weblogin_new();
	srv->anon_throttle = throttle_new(s->daemon.throttle_slots, s->daemon.anon_logins_per_minute);
	srv->linkguard = linkguard_new(LINKGUARD_SLOTS, LINKGUARD_WINDOW);
	srv->ident_throttle =
	    throttle_new_period(s->daemon.throttle_slots, s->daemon.identifier_failures_per_hour, 3600);
	srv->account_throttle =
	    throttle_new_period(s->daemon.throttle_slots, s->daemon.account_requests_per_hour, 3600);
	if (!srv->metrics || !srv->throttle || !srv->weblogin || !srv->anon_throttle || !srv->linkguard ||
	    !srv->ident_throttle || !srv->account_throttle || RAND_bytes(srv->ident_key, sizeof(srv->ident_key)) != 1 ||
	    RAND_bytes((unsigned char *)&srv->request_seed, sizeof(srv->request_seed)) != 1) {
		derr(err, SESAME_INTERNAL, "nomem", "out of memory");
		goto fail;
	}
	if (listen_parse(s->listen, &ss, &sslen, err) != SESAME_OK)
		goto fail;
	if (s->tls_cert && tls_load(srv, s, err) != SESAME_OK)
		goto fail;

	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (s->daemon.threads == 0)
		flags |= MHD_USE_THREAD_PER_CONNECTION;
	else
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->daemon.threads, NULL};
	if (srv->tls_cert_pem) {
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key_pem};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->daemon.max_connections, NULL};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->daemon.connection_timeout, NULL};
	/* Request line and headers must fit in this per-connection pool:
	 * longer URLs get 414, larger headers 431, from libmicrohttpd itself. */
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)s->daemon.max_header_bytes, NULL};
	/* One address cannot hold every connection (0: no limit). */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
					    (intptr_t)s->daemon.max_connections_per_address, NULL};
	opts[n++] = strictness_option();
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
		derr(err, SESAME_UNAVAILABLE, "thread", "cannot start a thread: %s", strerror(errno));
		goto fail;
	}
	srv->reaper_running = true;
	errno = 0;
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->mhd) {
		derr(err, SESAME_UNAVAILABLE, "listen", "cannot listen on %s%s%s", s->listen, errno ? ": " : "",
		     errno ? strerror(errno) : "");
		goto fail;
	}
	url_format(srv->url, &ss, bound_port(srv->mhd), srv->tls_cert_pem != NULL);
	if (s->daemon.metrics_listen) {
		if (metrics_listener_start(srv, s, err) != SESAME_OK) {
			MHD_stop_daemon(srv->mhd);
			srv->mhd = NULL;
			goto fail;
		}
		fprintf(stderr, "sesamed: serving /metrics alone on %s\n", srv->metrics_url);
	}
#if MHD_VERSION < 0x00097701
	fprintf(stderr, "sesamed: notice: libmicrohttpd %s accepts bare LF line ends; 0.9.77 or later refuses them\n",
		MHD_get_version());
#endif
	return SESAME_OK;
fail:
	server_free(srv);
	return err->status;
}

/* Settings bound when the server started: a reload cannot change them,
 * so say which ones changed in the file and wait for a restart. */
static void warn_restart_needed(const struct settings *old, const struct settings *new)
{
	const struct daemon_settings *a = &old->daemon, *b = &new->daemon;
	char names[512] = "";
	size_t used;

#define CHANGED(cond, name)                                                                                            \
	do {                                                                                                           \
		used = strlen(names);                                                                                  \
		if (cond)                                                                                              \
			snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "", name);                  \
	} while (0)
	CHANGED(strcmp(old->listen, new->listen) != 0, "listen");
	CHANGED(!old->tls_cert != !new->tls_cert || (old->tls_cert && strcmp(old->tls_cert, new->tls_cert) != 0) ||
		    (old->tls_key && strcmp(old->tls_key, new->tls_key) != 0),
		"tls_cert/tls_key");
	CHANGED(a->threads != b->threads, "daemon.threads");
	CHANGED(a->max_connections != b->max_connections, "daemon.max_connections");
	CHANGED(a->connection_timeout != b->connection_timeout, "daemon.connection_timeout");
	CHANGED(a->max_header_bytes != b->max_header_bytes, "daemon.max_header_bytes");
	CHANGED(a->login_failures_per_minute != b->login_failures_per_minute, "daemon.login_failures_per_minute");
	CHANGED(a->throttle_slots != b->throttle_slots, "daemon.throttle_slots");
	CHANGED(a->anon_logins_per_minute != b->anon_logins_per_minute, "daemon.anon_logins_per_minute");
	CHANGED(a->identifier_failures_per_hour != b->identifier_failures_per_hour,
		"daemon.identifier_failures_per_hour");
	CHANGED(a->account_requests_per_hour != b->account_requests_per_hour, "daemon.account_requests_per_hour");
	CHANGED(a->max_connections_per_address != b->max_connections_per_address, "daemon.max_connections_per_address");
	CHANGED(!a->metrics_listen != !b->metrics_listen ||
		    (a->metrics_listen && strcmp(a->metrics_listen, b->metrics_listen) != 0),
		"daemon.metrics_listen");
#undef CHANGED
	if (names[0])
		fprintf(stderr, "sesamed: warning: %s changed: this takes effect at the next restart only\n", names);
}

void server_reload(struct server *srv)
{
	struct app *a, *cur;
	sesame_error err;

	if (app_load(srv->config_path, srv->listen, srv->verbose, &a, &err) != SESAME_OK) {
		report_start_error("reload failed, keeping the running configuration: ", &err);
		metrics_count_reload(srv->metrics, "failure");
		return;
	}
	/* A moved test clock stays moved across reloads. */
	pthread_mutex_lock(&srv->lock);
	if (srv->clock_offset != 0) {
		if (sesame_clock_advance(a->ctx, srv->clock_offset, &err) != SESAME_OK)
			fprintf(stderr, "sesamed: warning: the test clock is back to real time: %s\n", err.text);
	}
	pthread_mutex_unlock(&srv->lock);
	cur = slot_acquire(&srv->slot);
	warn_restart_needed(&cur->set, &a->set);
	app_unref(cur);
	slot_replace(&srv->slot, a);
	metrics_count_reload(srv->metrics, "success");
	fprintf(stderr, "sesamed: reloaded the configuration\n");
}

void server_stop(struct server *srv)
{
	struct app *a = slot_acquire(&srv->slot);
	unsigned timeout = a->set.daemon.shutdown_timeout, left;
	struct timespec deadline;
	MHD_socket ls;

	app_unref(a);
	atomic_store(&srv->draining, true);
	ls = MHD_quiesce_daemon(srv->mhd);
	pthread_mutex_lock(&srv->lock);
	fprintf(stderr, "sesamed: draining: %u requests in flight, waiting up to %u s\n", srv->in_flight, timeout);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;
	while (srv->in_flight > 0)
		if (pthread_cond_timedwait(&srv->idle, &srv->lock, &deadline) == ETIMEDOUT)
			break;
	left = srv->in_flight;
	pthread_mutex_unlock(&srv->lock);
	if (left > 0)
		fprintf(stderr, "sesamed: warning: stopping with %u requests still in flight\n", left);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	if (srv->metrics_mhd)
		MHD_stop_daemon(srv->metrics_mhd);
	srv->metrics_mhd = NULL;
	/* Closed only now: libmicrohttpd's threads may use it until they stop. */
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	server_free(srv);
}
