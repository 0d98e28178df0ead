/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-hardening.c — sesamed's HTTP surface under abuse: one
 * address holding its connection maximum while another is served, requests
 * that trickle past daemon.request_timeout, request smuggling through
 * ambiguous framing, bytes that are not UTF-8 in paths and token fields,
 * the web-login table per address, who may read /metrics, and error texts
 * that keep the server's key layout and user ids to the log.
 *
 * Loopback is the whole of 127/8, so a test speaks as 127.0.0.1 and as
 * 127.0.0.2 to the same daemon.  Raw sockets where the exact bytes matter.
 * Time moves through the daemon's test clock; every wait is bounded and
 * nothing asserts a duration.
 */
#include "config.h"

#include <poll.h>

#include <openssl/evp.h>

#include "harness.h"

#define AUTH_ADMIN_HEADER "Authorization: Bearer " ADMIN_KEY
#define HMAC_SECRET "hardening-test-hmac-secret-0123456789"
#define DONE "https://app.example/done"
#define WEBLOGIN "/api/client/v2.0/app/test-app/auth/providers/google/login?redirect=https%3A%2F%2Fapp.example%2Fdone"
#define CALLBACK "/api/client/v2.0/app/test-app/auth/providers/google/callback"

static const char *const jwt_plugins[] = {"custom-token", "anon-user", NULL};

/* A daemon in test mode with the admin key, `daemon_section` as its
 * "daemon" object (NULL: none) and `more` main members (NULL: none). */
static struct daemon *hardened(const char *tag, const char *daemon_section, const char *more,
			       const char *const *plugins)
{
	char extra[1024];
	struct daemon *d;

	snprintf(extra, sizeof(extra), "\"test_mode\": true, \"admin_key\": \"" ADMIN_KEY "\"%s%s%s%s",
		 daemon_section ? ", \"daemon\": " : "", daemon_section ? daemon_section : "", more ? ", " : "",
		 more ? more : "");
	d = daemon_new(tag, extra, plugins);
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	return d;
}

/* Stop the test's daemon (*state) and expect a clean exit. */
static void stop(void **state)
{
	struct daemon *d = *state;

	*state = NULL;
	assert_int_equal(daemon_finish(d), 0);
}

/* After a failed test: no daemon is left running. */
static int cleanup(void **state)
{
	if (*state)
		daemon_free(*state);
	*state = NULL;
	return 0;
}

/* ---- raw connections ---------------------------------------------------------- */

/* A TCP connection to the daemon from `source` (an address of 127/8). */
static int raw_connect(const struct daemon *d, const char *source)
{
	struct sockaddr_in sa, from;
	struct timeval tv = {WAIT_SECONDS, 0};
	const char *port = strrchr(d->url, ':');
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, source, &from.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)strtol(port + 1, NULL, 10));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);

		assert_true(n > 0);
		off += (size_t)n;
	}
}

/* Everything the daemon sends until it closes the connection (bounded by
 * SO_RCVTIMEO: a connection left open fails the test). */
static size_t raw_read_to_close(int fd, char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + len, size - len - 1, 0);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0)
			fail_msg("the connection stayed open: %s", strerror(errno));
		len += (size_t)n;
		assert_true(len + 1 < size);
	}
	buf[len] = '\0';
	return len;
}

/* Whether the daemon has closed the connection by now (without waiting). */
static bool raw_closed_now(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Send `request` raw from 127.0.0.1; the whole answer up to the close. */
static void raw_exchange(const struct daemon *d, const char *request, size_t len, char *buf, size_t size)
{
	int fd = raw_connect(d, "127.0.0.1");

	raw_send(fd, request, len);
	raw_read_to_close(fd, buf, size);
	close(fd);
}

static int count_of(const char *haystack, const char *needle)
{
	const char *p = haystack;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* The JSON body of a raw answer (after the blank line). */
static json_t *raw_json_body(const char *answer)
{
	const char *body = strstr(answer, "\r\n\r\n");
	json_error_t e;
	json_t *v;

	assert_non_null(body);
	v = json_loads(body + 4, JSON_REJECT_DUPLICATES, &e);
	if (!v)
		fail_msg("the body is not JSON (%s): %s", e.text, body + 4);
	return v;
}

/* ---- helpers over HTTP ------------------------------------------------------------ */

static void clock_advance_from(const struct daemon *d, long seconds, const char *source)
{
	char body[64];
	struct http r;

	snprintf(body, sizeof(body), "{\"advance\": %ld}", seconds);
	http_from(
	    d,
	    &(struct req){"POST", "/api/admin/v1/test/clock", {JSON_TYPE_HEADER, AUTH_ADMIN_HEADER}, body, false, NULL},
	    source, &r);
	if (r.status != 200)
		fail_msg("moving the clock: HTTP %ld %s", r.status, r.body ? r.body : "");
	http_free(&r);
}

static long get_status(const struct daemon *d, const char *path, const char *source)
{
	struct http r;
	long status;

	http_from(d, &(struct req){"GET", path, {NULL}, NULL, false, NULL}, source, &r);
	status = r.status;
	http_free(&r);
	return status;
}

/* Wait (bounded) until GET `path` from `source` answers `status`: a closed
 * connection leaves the per-address count a moment after its client sees
 * the close. */
static void wait_status(const struct daemon *d, const char *path, const char *source, long status)
{
	int i;

	for (i = 0; i < WAIT_SECONDS * 50; i++) {
		if (get_status(d, path, source) == status)
			return;
		sleep_ms(20);
	}
	fail_msg("GET %s from %s never answered %ld", path, source, status);
}

/* Read from `fd` until `needle` arrived (bounded by SO_RCVTIMEO). */
static void raw_read_until(int fd, char *buf, size_t size, const char *needle)
{
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, needle)) {
		ssize_t n = recv(fd, buf + len, size - len - 1, 0);

		if (n <= 0)
			fail_msg("no \"%s\" before the connection ended: %s", needle, buf);
		len += (size_t)n;
		buf[len] = '\0';
		assert_true(len + 1 < size);
	}
}

/* Wait (bounded) until the daemon has closed `fd`. */
static void wait_closed(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	char buf[4096];

	assert_int_equal(poll(&p, 1, WAIT_SECONDS * 1000), 1);
	/* No answer: the request never arrived whole. */
	assert_int_equal(raw_read_to_close(fd, buf, sizeof(buf)), 0);
}

/* base64url without padding. */
static void b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len), i;

	for (i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
}

/* An HS256 token with `header` and `claims` (JSON texts), malloc'd. */
static char *hs256(const char *header, const char *claims)
{
	char *token = malloc(8192), sig[128];
	unsigned char mac[64];
	size_t maclen = 0;
	int n;

	assert_non_null(token);
	b64url((const unsigned char *)header, strlen(header), token);
	n = (int)strlen(token);
	token[n++] = '.';
	b64url((const unsigned char *)claims, strlen(claims), token + n);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, HMAC_SECRET, strlen(HMAC_SECRET),
				  (const unsigned char *)token, strlen(token), mac, sizeof(mac), &maclen));
	b64url(mac, maclen, sig);
	n = (int)strlen(token);
	snprintf(token + n, 8192 - (size_t)n, ".%s", sig);
	return token;
}

/* The custom-token instance "jwt": one HS256 key with kid "main". */
static void jwt_provider(struct daemon *d)
{
	provider(d, "jwt",
		 "{\"type\": \"custom-token\", \"config\": {\"signing_keys\": [{\"alg\": \"HS256\", \"kid\": \"main\", "
		 "\"key\": \"" HMAC_SECRET "\"}]}}");
}

/* A token of "jwt" for `sub`, valid now. */
static char *jwt_for(const char *kid, const char *sub)
{
	char header[512], claims[512];
	time_t now = time(NULL);

	snprintf(header, sizeof(header), "{\"alg\": \"HS256\", \"kid\": \"%s\"}", kid);
	snprintf(claims, sizeof(claims), "{\"sub\": \"%s\", \"aud\": \"test-app\", \"iat\": %lld, \"exp\": %lld}", sub,
		 (long long)now, (long long)now + 600);
	return hs256(header, claims);
}

static void jwt_login(const struct daemon *d, const char *token, struct http *r)
{
	char body[8300];

	snprintf(body, sizeof(body), "{\"token\": \"%s\"}", token);
	http(d, &(struct req){"POST", LOGIN("jwt"), {JSON_TYPE_HEADER}, body, false, NULL}, r);
}

/* ---- slowloris ---------------------------------------------------------------- */

/*
 * One address holds its maximum of connections, each trickling headers that
 * never end: its next connection is refused, another address is served, and
 * once the request deadline passes (on the test clock) the trickling
 * connections are closed and the address is served again.  The idle timeout
 * is an hour: only the deadline can close them within the test's bounds.
 */
static void test_connections_per_address(void **state)
{
	struct daemon *d = hardened("hard-conns",
				    "{\"max_connections_per_address\": 4, \"request_timeout\": 30, "
				    "\"connection_timeout\": 3600}",
				    NULL, NULL);
	const char *partial = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a";
	const char *whole = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	char buf[4096];
	int held[4], extra;
	size_t i;

	*state = d;
	daemon_start(d);
	for (i = 0; i < ARRAY_SIZE(held); i++) {
		held[i] = raw_connect(d, "127.0.0.1");
		raw_send(held[i], partial, strlen(partial));
	}
	/* The fifth is accepted after the four and closed unanswered. */
	extra = raw_connect(d, "127.0.0.1");
	send(extra, whole, strlen(whole), MSG_NOSIGNAL);
	assert_int_equal(raw_read_to_close(extra, buf, sizeof(buf)), 0);
	close(extra);
	/* Another address is served meanwhile. */
	assert_int_equal(get_status(d, "/healthz", "127.0.0.2"), 200);

	/* One more byte: trickling does not keep a connection alive. */
	for (i = 0; i < ARRAY_SIZE(held); i++) {
		raw_send(held[i], "b", 1);
		assert_false(raw_closed_now(held[i]));
	}
	clock_advance_from(d, 31, "127.0.0.2");
	for (i = 0; i < ARRAY_SIZE(held); i++) {
		wait_closed(held[i]);
		close(held[i]);
	}
	assert_true(log_wait(d, "whose request did not arrive within 30 s (daemon.request_timeout)", 1));
	wait_status(d, "/healthz", "127.0.0.1", 200);
	stop(state);
}

/*
 * A body that trickles is cut off at the deadline too.  A keep-alive
 * connection's deadline starts again with each answer: it is counted from
 * the end of the previous response, not from the connection's start.
 */
static void test_request_deadline_covers_body(void **state)
{
	struct daemon *d = hardened("hard-body", "{\"request_timeout\": 30, \"connection_timeout\": 3600}", NULL, NULL);
	const char *head = "POST /api/admin/v1/providers/alpha/verify HTTP/1.1\r\nHost: x\r\n" AUTH_ADMIN_HEADER
			   "\r\n" JSON_TYPE_HEADER "\r\nContent-Length: 100\r\n\r\n{\"user\": ";
	const char *ok = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	int slow, kept;

	*state = d;
	daemon_start(d);
	slow = raw_connect(d, "127.0.0.3");
	raw_send(slow, head, strlen(head));
	kept = raw_connect(d, "127.0.0.4");
	raw_send(kept, ok, strlen(ok));
	raw_read_until(kept, buf, sizeof(buf), "{\"status\":\"ok\"}");

	clock_advance_from(d, 20, "127.0.0.2");
	raw_send(slow, "\"x", 2);
	raw_send(kept, ok, strlen(ok));
	raw_read_until(kept, buf, sizeof(buf), "{\"status\":\"ok\"}");
	clock_advance_from(d, 11, "127.0.0.2");
	/* 31 s since `slow` connected: closed, without an answer. */
	wait_closed(slow);
	close(slow);
	/* 11 s since `kept` was last answered: still served. */
	raw_send(kept, ok, strlen(ok));
	raw_read_until(kept, buf, sizeof(buf), "{\"status\":\"ok\"}");
	assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
	close(kept);
	stop(state);
}

/* ---- framing ------------------------------------------------------------------ */

/* Each request is refused with 400 and the connection closed: one answer,
 * never a second one for what follows.  The JSON answer is sesamed's and
 * says `why`; newer libmicrohttpd refuses some of these itself (HTML). */
static void assert_refused(const struct daemon *d, const char *request, const char *why)
{
	char buf[16384];

	raw_exchange(d, request, strlen(request), buf, sizeof(buf));
	if (strncmp(buf, "HTTP/1.1 400 ", 13) != 0)
		fail_msg("%s: not refused with 400:\n%s", why, buf);
	if (count_of(buf, "HTTP/1.") != 1 || strstr(buf, "\"id\""))
		fail_msg("%s: more than one answer:\n%s", why, buf);
	if (!strcasestr(buf, "\r\nConnection: close\r\n"))
		fail_msg("%s: no Connection: close:\n%s", why, buf);
	if (strcasestr(buf, "\r\nContent-Type: application/json\r\n") && !strstr(buf, why))
		fail_msg("the answer does not say \"%s\":\n%s", why, buf);
}

static void test_framing(void **state)
{
	struct daemon *d = hardened("hard-framing", NULL, NULL, jwt_plugins);
	/* The smuggled request: an admin call hidden after the short body. */
	const char *smuggled = "GET /api/admin/v1/users HTTP/1.1\r\nHost: x\r\n" AUTH_ADMIN_HEADER "\r\n\r\n";
	char req[4096], buf[16384];
	int n;

	*state = d;
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	daemon_start(d);

	/* First a well-formed pipeline: two requests, two answers, so the
	 * counting below would see a smuggled one. */
	n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n%.*sConnection: close\r\n\r\n",
		     (int)strlen(smuggled) - 2, smuggled);
	raw_exchange(d, req, (size_t)n, buf, sizeof(buf));
	assert_int_equal(count_of(buf, "HTTP/1.1 200 "), 2);

	snprintf(req, sizeof(req),
		 "POST " LOGIN("anon-user") " HTTP/1.1\r\nHost: x\r\n" JSON_TYPE_HEADER
					    "\r\nContent-Length: 2\r\nContent-Length: %zu\r\n\r\n{}%s",
		 2 + strlen(smuggled), smuggled);
	assert_refused(d, req, "more than one Content-Length header");
	snprintf(req, sizeof(req),
		 "POST " LOGIN("anon-user") " HTTP/1.1\r\nHost: x\r\n" JSON_TYPE_HEADER
					    "\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}%s",
		 smuggled);
	assert_refused(d, req, "more than one Content-Length header");
	snprintf(req, sizeof(req),
		 "POST " LOGIN(
		     "anon-user") " HTTP/1.1\r\nHost: x\r\n" JSON_TYPE_HEADER
				  "\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n%s",
		 smuggled);
	assert_refused(d, req, "both Content-Length and Transfer-Encoding");
	snprintf(req, sizeof(req),
		 "POST " LOGIN("anon-user") " HTTP/1.1\r\nHost: x\r\n" JSON_TYPE_HEADER
					    "\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
					    "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n%s",
		 smuggled);
	assert_refused(d, req, "more than one Transfer-Encoding header");
	snprintf(req, sizeof(req),
		 "POST " LOGIN("anon-user") " HTTP/1.1\r\nHost: x\r\n" JSON_TYPE_HEADER
					    "\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n%s",
		 smuggled);
	assert_refused(d, req, "Transfer-Encoding other than");
	snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n%s", smuggled);
	assert_refused(d, req, "more than one Host header");

	/* No Host: libmicrohttpd's strict mode refuses it before sesamed sees
	 * it (with an HTML body). */
	snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\n\r\n%s", smuggled);
	raw_exchange(d, req, strlen(req), buf, sizeof(buf));
	assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
	assert_null(strstr(buf, " 200 "));
	assert_null(strstr(buf, "\"id\""));
	/* Only the well-formed pipeline was served. */
	assert_true(log_wait(d, "status=200", 2));
	assert_int_equal(log_count(d, "route=/api/admin/v1/users status=200"), 1);
	assert_int_equal(log_count(d, "status=200"), 2);
	stop(state);
}

/* Bare LF line ends: refused when libmicrohttpd can (0.9.77 and later; the
 * daemon says at start when it cannot). */
static void test_bare_lf(void **state)
{
	struct daemon *d = hardened("hard-lf", NULL, NULL, NULL);
	const char *req = "GET /healthz HTTP/1.1\nHost: x\n\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[16384];

	*state = d;
	daemon_start(d);
	if (log_count(d, "accepts bare LF line ends") > 0) {
		stop(state);
		skip();
	}
	raw_exchange(d, req, strlen(req), buf, sizeof(buf));
	assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
	assert_null(strstr(buf, " 200 "));
	stop(state);
}

/* ---- UTF-8 ---------------------------------------------------------------------- */

static void test_invalid_utf8(void **state)
{
	struct daemon *d = hardened("hard-utf8", NULL, NULL, jwt_plugins);
	static const char *const raw[] = {
	    "GET /api/client/v2.0/app/\xff/location HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "GET /api/client/v2.0/app/test-app/location\xc3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "POST /api/client/v2.0/app/test-app/auth/providers/\xfe\xff/login HTTP/1.1\r\nHost: x\r\n" JSON_TYPE_HEADER
	    "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
	};
	char buf[16384], kid[80];
	struct http r;
	json_t *v;
	char *token;
	size_t i;

	*state = d;
	jwt_provider(d);
	daemon_start(d);
	for (i = 0; i < ARRAY_SIZE(raw); i++) {
		raw_exchange(d, raw[i], strlen(raw[i]), buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 404 ", 13) != 0)
			fail_msg("request %zu: %s", i, buf);
		v = raw_json_body(buf);
		assert_string_equal(json_string_value(json_object_get(v, "error_code")), "NotFound");
		json_decref(v);
	}
	/* Percent-encoded: the same after decoding, in {app} and in {name}. */
	http(d, &(struct req){"GET", "/api/client/v2.0/app/%FF%FE/location", {NULL}, NULL, false, NULL}, &r);
	assert_error(&r, 404, "NotFound", "no route for GET /api/client/v2.0/app/\xef\xbf\xbd\xef\xbf\xbd/location");
	http_free(&r);
	http(d,
	     &(struct req){"POST",
			   "/api/client/v2.0/app/test-app/auth/providers/a%E9b/login",
			   {JSON_TYPE_HEADER},
			   "{}",
			   false,
			   NULL},
	     &r);
	assert_error(&r, 404, "NotFound",
		     "providers/a\xef\xbf\xbd"
		     "b/login");
	http_free(&r);

	/* A kid of 63 ASCII characters and an "é" across the 64-byte cut. */
	memset(kid, 'k', 63);
	snprintf(kid + 63, sizeof(kid) - 63, "\xc3\xa9");
	token = jwt_for(kid, "utf8-user");
	jwt_login(d, token, &r);
	assert_error(&r, 401, "AuthError", "the token's signature cannot be verified");
	http_free(&r);
	/* The admin sees the detail: the kid, cut before the "é". */
	{
		char body[8300], expect[128];

		snprintf(body, sizeof(body), "{\"token\": \"%s\"}", token);
		http(d,
		     &(struct req){"POST",
				   "/api/admin/v1/providers/jwt/verify",
				   {JSON_TYPE_HEADER, AUTH_ADMIN_HEADER},
				   body,
				   false,
				   NULL},
		     &r);
		snprintf(expect, sizeof(expect), "no key with kid \"%.63s\"", kid);
		assert_error(&r, 401, "AuthError", expect);
		http_free(&r);
	}
	free(token);
	stop(state);
}

/* ---- error texts ------------------------------------------------------------------ */

/* An unauthenticated caller learns neither the kids and algorithms a
 * provider trusts nor a user's id; the log line keeps the detail. */
static void test_error_texts(void **state)
{
	struct daemon *d = hardened("hard-texts", NULL, NULL, jwt_plugins);
	char *token, path[256], *text;
	struct http r;
	json_t *v;

	*state = d;
	jwt_provider(d);
	daemon_start(d);

	token = jwt_for("secret-kid-name", "alice");
	jwt_login(d, token, &r);
	assert_error(&r, 401, "AuthError", "the token's signature cannot be verified");
	assert_null(strstr(r.body, "secret-kid-name"));
	http_free(&r);
	free(token);
	assert_true(log_wait(d, "detail=no%20key%20with%20kid%20%22secret-kid-name%22", 1));

	/* alice's user, disabled: the answer does not name it. */
	token = jwt_for("main", "alice");
	jwt_login(d, token, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/disable", str(v, "user_id"));
	http(d, &(struct req){"PUT", path, {AUTH_ADMIN_HEADER}, NULL, false, NULL}, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	jwt_login(d, token, &r);
	assert_error(&r, 401, "UserDisabled", "user disabled");
	assert_null(strstr(r.body, str(v, "user_id")));
	http_free(&r);
	text = malloc(strlen(str(v, "user_id")) + 64);
	assert_non_null(text);
	snprintf(text, strlen(str(v, "user_id")) + 64, "detail=user%%20%s%%20is%%20disabled", str(v, "user_id"));
	assert_true(log_wait(d, text, 1));
	free(text);
	json_decref(v);
	free(token);
	stop(state);
}

/* ---- /metrics ---------------------------------------------------------------------- */

static void test_metrics_access(void **state)
{
	struct daemon *d = hardened("hard-metrics", NULL, NULL, NULL);
	struct http r;
	char *text, *at, *end, url[160];

	*state = d;
	daemon_start(d);
	/* Default "admin": the admin key is needed. */
	http(d, &(struct req){"GET", "/metrics", {NULL}, NULL, false, NULL}, &r);
	assert_error(&r, 401, "InvalidSession", "admin");
	http_free(&r);
	http(d, &(struct req){"GET", "/metrics", {AUTH_ADMIN_HEADER}, NULL, false, NULL}, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "sesamed_http_requests_total"));
	http_free(&r);
	stop(state);

	/* "public": anyone. */
	d = hardened("hard-metrics-public", "{\"metrics\": \"public\"}", NULL, NULL);
	*state = d;
	daemon_start(d);
	assert_int_equal(get_status(d, "/metrics", NULL), 200);
	stop(state);

	/* A listener of its own, without credentials, serving /metrics alone;
	 * without an admin key the main listener has no /metrics. */
	d = daemon_new("hard-metrics-listen", "\"daemon\": {\"metrics_listen\": \"127.0.0.1:0\"}", NULL);
	*state = d;
	provider(d, "alpha", "{\"type\": \"fixture-good\"}");
	daemon_start(d);
	assert_int_equal(get_status(d, "/metrics", NULL), 404);
	text = read_all(d->log);
	at = strstr(text, "serving /metrics alone on ");
	assert_non_null(at);
	at += strlen("serving /metrics alone on ");
	end = strchr(at, '\n');
	assert_non_null(end);
	snprintf(url, sizeof(url), "%.*s", (int)(end - at), at);
	free(text);
	{
		struct daemon m = {.pid = 0};

		snprintf(m.url, sizeof(m.url), "%s", url);
		http(&m, &(struct req){"GET", "/metrics", {NULL}, NULL, false, NULL}, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "# TYPE sesamed_http_requests_total counter"));
		http_free(&r);
		http(&m, &(struct req){"GET", "/healthz", {NULL}, NULL, false, NULL}, &r);
		assert_error(&r, 404, "NotFound", "GET /metrics only");
		http_free(&r);
	}
	stop(state);
}

/* ---- web logins -------------------------------------------------------------------- */

static const char *const google_plugins[] = {"oauth2-google", NULL};

/* Start a web login from `source`: 302 to the authorization URL; returns
 * the server-side state it carries, malloc'd. */
static char *start_weblogin(const struct daemon *d, const char *source)
{
	struct http r;
	char *loc, *st, *end, *out;

	http_from(d, &(struct req){"GET", WEBLOGIN "&state=client-state", {NULL}, NULL, false, NULL}, source, &r);
	if (r.status != 302)
		fail_msg("web login from %s: HTTP %ld: %s", source, r.status, r.body ? r.body : "");
	loc = header(&r, "Location");
	assert_non_null(loc);
	st = strstr(loc, "&state=");
	assert_non_null(st);
	st += strlen("&state=");
	end = strchr(st, '&');
	out = end ? strndup(st, (size_t)(end - st)) : strdup(st);
	free(loc);
	http_free(&r);
	return out;
}

/* A web login from `source` refused with 429 saying `text`, and a
 * Retry-After within the minute. */
static void weblogin_refused(const struct daemon *d, const char *source, const char *text)
{
	struct http r;
	char *retry;

	http_from(d, &(struct req){"GET", WEBLOGIN, {NULL}, NULL, false, NULL}, source, &r);
	assert_error(&r, 429, "TooManyRequests", text);
	retry = header(&r, "Retry-After");
	assert_non_null(retry);
	assert_true(strtol(retry, NULL, 10) >= 1 && strtol(retry, NULL, 10) <= 60);
	free(retry);
	http_free(&r);
}

/* The browser comes back with an error: the pending login is used up. */
static void cancel_weblogin(const struct daemon *d, char *state)
{
	char path[512];
	struct http r;
	char *loc;

	snprintf(path, sizeof(path), CALLBACK "?state=%s&error=access_denied", state);
	http_from(d, &(struct req){"GET", path, {NULL}, NULL, false, NULL}, "127.0.0.1", &r);
	assert_int_equal(r.status, 302);
	loc = header(&r, "Location");
	assert_non_null(loc);
	assert_true(strncmp(loc, DONE "#_baas_error=access_denied", strlen(DONE "#_baas_error=access_denied")) == 0);
	free(loc);
	http_free(&r);
	free(state);
}

static void test_weblogin_per_address(void **state)
{
	struct daemon *d = hardened(
	    "hard-weblogin", "{\"weblogin_per_address\": 3, \"weblogin_starts_per_minute\": 5, \"weblogin_ttl\": 60}",
	    NULL, google_plugins);
	char *pending[3];
	struct http r;
	size_t i;

	*state = d;
	provider(d, "google",
		 "{\"type\": \"oauth2-google\", \"config\": {\"client_ids\": [\"web-client\"], \"client_secret\": "
		 "\"google-secret\", \"redirect_uris\": [\"" DONE
		 "\"], \"authorize_uri\": "
		 "\"https://accounts.example.test/authorize\", \"jwks_uri\": \"http://127.0.0.1:9/jwks\", "
		 "\"token_uri\": \"http://127.0.0.1:9/token\"}}");
	daemon_start(d);

	/* 127.0.0.1 fills its share; 127.0.0.2 still starts one. */
	for (i = 0; i < 3; i++)
		pending[i] = start_weblogin(d, "127.0.0.1");
	weblogin_refused(d, "127.0.0.1", "too many web logins in progress from this address");
	free(start_weblogin(d, "127.0.0.2"));

	/* Ending logins frees their places, but the starts of the minute
	 * still count: the sixth start within it is refused. */
	for (i = 0; i < 3; i++) {
		cancel_weblogin(d, pending[i]);
		pending[i] = i < 2 ? start_weblogin(d, "127.0.0.1") : NULL;
	}
	weblogin_refused(d, "127.0.0.1", "too many web logins started from this address");

	/* Past daemon.weblogin_ttl the pending logins are gone: their states
	 * no longer work, and the address starts anew. */
	clock_advance_from(d, 61, "127.0.0.2");
	{
		char path[512];

		snprintf(path, sizeof(path), CALLBACK "?state=%s&code=abc", pending[0]);
		http(d, &(struct req){"GET", path, {NULL}, NULL, false, NULL}, &r);
		assert_error(&r, 400, "BadRequest", "unknown, used or expired login state");
		http_free(&r);
	}
	for (i = 0; i < 3; i++)
		free(start_weblogin(d, "127.0.0.1"));
	free(pending[0]);
	free(pending[1]);
	stop(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_connections_per_address, cleanup),
	    cmocka_unit_test_teardown(test_request_deadline_covers_body, cleanup),
	    cmocka_unit_test_teardown(test_framing, cleanup),
	    cmocka_unit_test_teardown(test_bare_lf, cleanup),
	    cmocka_unit_test_teardown(test_invalid_utf8, cleanup),
	    cmocka_unit_test_teardown(test_error_texts, cleanup),
	    cmocka_unit_test_teardown(test_metrics_access, cleanup),
	    cmocka_unit_test_teardown(test_weblogin_per_address, cleanup),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
