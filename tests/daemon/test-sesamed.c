/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-sesamed.c — sesamed end to end: the test starts the
 * daemon on a free loopback port (--listen 127.0.0.1:0, the port read from
 * its start line) with a temporary configuration using the fixture
 * plugins, and drives it over HTTP with libcurl (raw sockets where a
 * request must stay half-sent).  Every wait is bounded; nothing asserts a
 * duration.
 */
#include "config.h"

#include <stdatomic.h>

#include "harness.h"

/* A daemon on the fixture plugins with the instances alpha and beta
 * (fixture-good) and anon-user (the fixture of that type), plus `extra`
 * members in its configuration. */
static struct daemon *fixture_daemon(const char *tag, const char *extra)
{
	struct daemon *d = daemon_new_fixtures(tag, extra);

	provider(d, "alpha", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"hi\"}}");
	provider(d, "beta", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"yo\"}}");
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	return d;
}


/* ---- the shared daemon -------------------------------------------------------- */

/* Every login holds one of its address's login_failures_per_minute tokens
 * while it runs: test_parallel_first_logins_one_user runs 12 at once,
 * after the failures of test_login_errors. */
static int group_setup(void **state)
{
	struct daemon *d = fixture_daemon(
	    "sesamed", "\"admin_key\": \"" ADMIN_KEY "\", \"cors_origins\": [\"https://app.example.test\"], "
		       "\"daemon\": {\"max_body_bytes\": 4096, \"login_failures_per_minute\": 30}");

	daemon_start(d);
	*state = d;
	return 0;
}

static int group_teardown(void **state)
{
	return daemon_finish(*state);
}

#define AUTH_ADMIN_HEADER "Authorization: Bearer " ADMIN_KEY
#define VERIFY		  "/api/admin/v1/providers/alpha/verify"

static void test_location(void **state)
{
	struct daemon *d = *state;
	struct req q = {"GET", "/api/client/v2.0/app/test-app/location", {NULL}, NULL, false, NULL};
	struct http r;
	json_t *v;

	http(d, &q, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/json");
	v = json_body(&r);
	assert_int_equal(json_object_size(v), 4);
	assert_string_equal(json_string_value(json_object_get(v, "deployment_model")), "GLOBAL");
	assert_string_equal(json_string_value(json_object_get(v, "location")), "local");
	assert_string_equal(json_string_value(json_object_get(v, "hostname")), "https://auth.example.test");
	assert_string_equal(json_string_value(json_object_get(v, "ws_hostname")), "wss://auth.example.test");
	json_decref(v);
	http_free(&r);

	q.path = "/api/client/v2.0/app/other-app/location";
	http(d, &q, &r);
	assert_error(&r, 404, "AppNotFound", "cannot find app using Client App ID 'other-app'");
	http_free(&r);
}

static void test_healthz(void **state)
{
	struct req q = {"GET", "/healthz", {NULL}, NULL, false, NULL};
	struct http r;
	json_t *v;

	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/json");
	assert_header(&r, "Cache-Control", "no-store");
	v = json_body(&r);
	assert_string_equal(json_string_value(json_object_get(v, "status")), "ok");
	json_decref(v);
	http_free(&r);
}

/* Every line of the exposition is a comment or `name{labels} value`. */
static void assert_exposition(const char *text)
{
	const char *line = text;

	while (*line) {
		const char *eol = strchr(line, '\n'), *p = line;
		char *end;

		assert_non_null(eol);
		if (*p == '#') {
			assert_true(strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0);
		} else {
			assert_true(strspn(p, "abcdefghijklmnopqrstuvwxyz_") > 0);
			p += strspn(p, "abcdefghijklmnopqrstuvwxyz_");
			if (*p == '{') {
				/* Label values may hold braces (route patterns): the
				 * label set ends at the line's last one. */
				const char *close = eol;

				while (close > p && *close != '}')
					close--;
				assert_int_equal(*close, '}');
				p = close + 1;
			}
			assert_int_equal(*p, ' ');
			strtod(p + 1, &end);
			assert_ptr_equal(end, eol);
		}
		line = eol + 1;
	}
}

static void test_metrics(void **state)
{
	static const char healthz_bucket[] =
	    "sesamed_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} ";
	struct req q = {"GET", "/healthz", {NULL}, NULL, false, NULL};
	struct http r;
	char *type;
	int i;

	http(*state, &q, &r);
	http_free(&r);
	q.path = "/metrics";
	q.headers[0] = AUTH_ADMIN_HEADER; /* daemon.metrics is "admin" by default */
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	type = header(&r, "Content-Type");
	assert_non_null(type);
	assert_non_null(strstr(type, "text/plain; version=0.0.4"));
	free(type);
	assert_exposition(r.body);
	assert_non_null(strstr(r.body, "# TYPE sesamed_http_requests_total counter\n"));
	assert_non_null(
	    strstr(r.body, "sesamed_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} "));
	assert_non_null(strstr(r.body, "# TYPE sesamed_http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(r.body, "# TYPE sesamed_logins_total counter\n"));
	assert_non_null(strstr(r.body, "sesamed_active_sessions 0\n"));
	/* The duration is observed once the answer is written, after the
	 * client may hold it (sesamed(8)): the histogram may trail the
	 * counter, so look again for a bounded while. */
	for (i = 0; !strstr(r.body, healthz_bucket) && i < WAIT_SECONDS * 50; i++) {
		http_free(&r);
		sleep_ms(20);
		http(*state, &q, &r);
		assert_int_equal(r.status, 200);
	}
	assert_non_null(strstr(r.body, healthz_bucket));
	http_free(&r);
}

/* Other clients keep the daemon's threads busy until `stop`.  Each client
 * of the test keeps one connection: with a new connection per request the
 * closed ones wait for libmicrohttpd to reap them, still counted against
 * daemon.max_connections_per_address, and on a loaded machine they added
 * up to the limit and got this test's own connections refused. */
struct busy {
	const struct daemon *d;
	atomic_bool stop;
};

static void *busy_client(void *arg)
{
	struct busy *b = arg;
	struct req q = {"GET", "/api/client/v2.0/app/test-app/location", {NULL}, NULL, false, NULL};
	struct http r;
	CURL *c = curl_easy_init();

	while (!atomic_load(&b->stop)) {
		http_on(c, b->d, &q, NULL, &r);
		http_free(&r);
	}
	curl_easy_cleanup(c);
	return NULL;
}

/*
 * A request is counted before its answer leaves: a client holding the
 * answer finds it in /metrics at once (the client library's tests count
 * requests this way).  Counted only once libmicrohttpd reported the
 * request complete, after the last byte was written, a busy machine often
 * let the client read /metrics in between.  Three other clients keep the
 * daemon's threads busy so that this test meets that window.
 */
static void test_metrics_count_before_answer(void **state)
{
	const char *series = "sesamed_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}";
	struct req q = {"GET", "/healthz", {NULL}, NULL, false, NULL};
	struct busy b = {*state, false};
	pthread_t t[3];
	CURL *answers = curl_easy_init(), *metrics = curl_easy_init();
	long base = metric_on(metrics, *state, series), seen = 0;
	struct http r;
	int i, behind = 0;

	for (i = 0; i < (int)ARRAY_SIZE(t); i++)
		assert_int_equal(pthread_create(&t[i], NULL, busy_client, &b), 0);
	/* The answer on one connection, /metrics on another. */
	for (i = 1; i <= 400 && !behind; i++) {
		http_on(answers, *state, &q, NULL, &r);
		assert_int_equal(r.status, 200);
		http_free(&r);
		seen = metric_on(metrics, *state, series);
		if (seen != base + i)
			behind = i;
	}
	atomic_store(&b.stop, true);
	for (i = 0; i < (int)ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	curl_easy_cleanup(answers);
	curl_easy_cleanup(metrics);
	if (behind)
		fail_msg("after answer %d, /metrics counted %ld of them", behind, seen - base);
}

static void test_not_found_and_wrong_method(void **state)
{
	struct req q = {"GET", "/api/client/v2.0/nowhere", {NULL}, NULL, false, NULL};
	struct http r;

	http(*state, &q, &r);
	assert_error(&r, 404, "NotFound", "no route for GET /api/client/v2.0/nowhere");
	http_free(&r);
	q.method = "DELETE";
	q.path = "/healthz";
	http(*state, &q, &r);
	assert_error(&r, 405, "MethodNotAllowed", "DELETE");
	assert_header(&r, "Allow", "GET, OPTIONS");
	http_free(&r);
	q.method = "GET";
	q.path = VERIFY;
	q.headers[0] = AUTH_ADMIN_HEADER;
	http(*state, &q, &r);
	assert_error(&r, 405, "MethodNotAllowed", "allowed: POST, OPTIONS");
	assert_header(&r, "Allow", "POST, OPTIONS");
	http_free(&r);
}

/* Request line and headers beyond daemon.max_header_bytes are refused by
 * libmicrohttpd, and the daemon serves on. */
static void test_header_limits(void **state)
{
	char *big = malloc(40001), path[40100], hdr[40100];
	struct req q = {"GET", "/healthz", {NULL}, NULL, false, NULL};
	struct http r;

	assert_non_null(big);
	memset(big, 'a', 40000);
	big[40000] = '\0';
	snprintf(hdr, sizeof(hdr), "X-Big: %s", big);
	q.headers[0] = hdr;
	http(*state, &q, &r);
	assert_int_equal(r.status, 431);
	http_free(&r);
	snprintf(path, sizeof(path), "/healthz?q=%s", big);
	q.headers[0] = NULL;
	q.path = path;
	http(*state, &q, &r);
	assert_int_equal(r.status, 414);
	http_free(&r);
	free(big);
	q.path = "/healthz";
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
}

static char *big_body(size_t n)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	memset(b, ' ', n);
	memcpy(b, "{\"user\": \"x\"", 12);
	b[n - 1] = '}';
	b[n] = '\0';
	return b;
}

static void test_oversize_body(void **state)
{
	char *body = big_body(5000);
	struct req q = {"POST", VERIFY, {AUTH_ADMIN_HEADER, JSON_TYPE_HEADER}, body, false, NULL};
	struct http r;

	/* Announced by Content-Length: refused before the body is read. */
	http(*state, &q, &r);
	assert_error(&r, 413, "BadRequest", "larger than 4096 bytes");
	http_free(&r);
	/* Chunked: refused once the cap is passed. */
	q.chunked = true;
	http(*state, &q, &r);
	assert_error(&r, 413, "BadRequest", "larger than 4096 bytes");
	http_free(&r);
	free(body);
	/* Just under the cap is fine. */
	body = big_body(4096);
	q.body = body;
	q.chunked = false;
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	q.chunked = true;
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(body);
}

static void test_content_type(void **state)
{
	struct req q = {"POST", VERIFY, {AUTH_ADMIN_HEADER, "Content-Type: text/plain"}, "{\"user\": \"bob\"}",
			false,	NULL};
	struct http r;

	http(*state, &q, &r);
	assert_error(&r, 400, "BadRequest", "Content-Type: application/json");
	http_free(&r);
	q.headers[1] = "Content-Type:";
	http(*state, &q, &r);
	assert_error(&r, 400, "BadRequest", "Content-Type: application/json");
	http_free(&r);
	q.headers[1] = "Content-Type: application/json;charset=utf-8";
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
}

static void test_malformed_json(void **state)
{
	static const struct {
		const char *body;
		const char *text;
	} cases[] = {
	    {"{\"user\": ", "malformed JSON body"},
	    {"{\"user\": \"a\", \"user\": \"b\"}", "duplicate"},
	    {"[\"user\"]", "must be a JSON object"},
	    {"", "empty"},
	    {"{\"user\": \"a\", \"options\": 3}", "\"options\" must be an object"},
	};
	struct req q = {"POST", VERIFY, {AUTH_ADMIN_HEADER, JSON_TYPE_HEADER}, NULL, false, NULL};
	struct http r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		q.body = cases[i].body;
		http(*state, &q, &r);
		assert_error(&r, 400, "BadRequest", cases[i].text);
		http_free(&r);
	}
}

static void test_admin_api(void **state)
{
	struct req q = {"GET", "/api/admin/v1/providers", {NULL}, NULL, false, NULL};
	struct http r;
	json_t *v;

	http(*state, &q, &r);
	assert_error(&r, 401, "InvalidSession", "admin");
	assert_header(&r, "WWW-Authenticate", "Bearer");
	http_free(&r);
	q.headers[0] = "Authorization: Bearer admin-key!012345678";
	http(*state, &q, &r);
	assert_error(&r, 401, "InvalidSession", "admin");
	http_free(&r);
	q.headers[0] = "Authorization: Bearer " ADMIN_KEY "0";
	http(*state, &q, &r);
	assert_error(&r, 401, "InvalidSession", "admin");
	http_free(&r);
	q.headers[0] = "Authorization: Basic " ADMIN_KEY;
	http(*state, &q, &r);
	assert_error(&r, 401, "InvalidSession", "admin");
	http_free(&r);

	q.headers[0] = AUTH_ADMIN_HEADER;
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "name")), "alpha");
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "state")), "ready");
	json_decref(v);
	http_free(&r);

	/* A login-shaped body: options and provider are not the credential's. */
	q.method = "POST";
	q.path = VERIFY;
	q.headers[1] = JSON_TYPE_HEADER;
	q.body =
	    "{\"user\": \"carol\", \"provider\": \"fixture-good\", \"options\": {\"device\": {\"platform\": \"x\", "
	    "\"sdkVersion\": \"1\", \"someNewField\": true}}}";
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	assert_string_equal(json_string_value(json_object_get(v, "id")), "carol");
	assert_string_equal(json_string_value(json_object_get(v, "provider")), "alpha");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "data"), "greeting")), "hi");
	assert_null(json_object_get(v, "private"));
	json_decref(v);
	http_free(&r);

	q.body = "{\"user\": \"\"}";
	http(*state, &q, &r);
	assert_error(&r, 401, "AuthError", "empty user name refused");
	http_free(&r);
	q.body = "{\"name\": \"x\"}";
	http(*state, &q, &r);
	assert_error(&r, 400, "BadRequest", "expected {\"user\": \"NAME\"}");
	http_free(&r);
	q.path = "/api/admin/v1/providers/nobody/verify";
	http(*state, &q, &r);
	assert_error(&r, 404, "AuthProviderNotFound", "nobody");
	http_free(&r);
}

static void test_cors(void **state)
{
	struct req q = {"OPTIONS",
			"/api/client/v2.0/app/test-app/location",
			{"Origin: https://app.example.test", "Access-Control-Request-Method: GET",
			 "Access-Control-Request-Headers: authorization, content-type"},
			NULL,
			false,
			NULL};
	struct http r;
	char *v;

	http(*state, &q, &r);
	assert_int_equal(r.status, 204);
	assert_header(&r, "Access-Control-Allow-Origin", "https://app.example.test");
	assert_header(&r, "Access-Control-Allow-Methods", "GET, OPTIONS");
	v = header(&r, "Access-Control-Allow-Headers");
	assert_non_null(v);
	assert_non_null(strstr(v, "Authorization"));
	assert_non_null(strstr(v, "Content-Type"));
	free(v);
	assert_header(&r, "Vary", "Origin");
	http_free(&r);

	/* Refused: another origin, or a method the path does not have. */
	q.headers[0] = "Origin: https://evil.example";
	http(*state, &q, &r);
	assert_no_header(&r, "Access-Control-Allow-Origin");
	assert_no_header(&r, "Access-Control-Allow-Methods");
	http_free(&r);
	q.headers[0] = "Origin: https://app.example.test";
	q.headers[1] = "Access-Control-Request-Method: DELETE";
	http(*state, &q, &r);
	assert_no_header(&r, "Access-Control-Allow-Origin");
	http_free(&r);

	/* The actual request. */
	q.method = "GET";
	q.headers[1] = NULL;
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Access-Control-Allow-Origin", "https://app.example.test");
	assert_header(&r, "Vary", "Origin");
	http_free(&r);
	q.headers[0] = "Origin: https://evil.example";
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	assert_no_header(&r, "Access-Control-Allow-Origin");
	http_free(&r);
	/* Error answers carry the headers too, so browsers can read them. */
	q.headers[0] = "Origin: https://app.example.test";
	q.path = "/api/client/v2.0/app/nope/location";
	http(*state, &q, &r);
	assert_int_equal(r.status, 404);
	assert_header(&r, "Access-Control-Allow-Origin", "https://app.example.test");
	http_free(&r);
}

static void test_request_log(void **state)
{
	struct daemon *d = *state;
	struct req q = {
	    "GET", "/healthz?token=SECRET-IN-QUERY", {"Authorization: Bearer SECRET-IN-HEADER"}, NULL, false, NULL};
	struct http r;
	char *id, line[256];

	http(d, &q, &r);
	assert_int_equal(r.status, 200);
	id = header(&r, "X-Request-Id");
	assert_non_null(id);
	assert_int_equal(strlen(id), 16);
	snprintf(line, sizeof(line), "sesamed: request req_id=%s method=GET path=/healthz route=/healthz status=200 ",
		 id);
	/* The line is written once the response is sent: wait for it. */
	assert_true(log_wait(d, line, 1));
	assert_int_equal(log_count(d, "SECRET-IN-QUERY"), 0);
	assert_int_equal(log_count(d, "SECRET-IN-HEADER"), 0);
	assert_int_equal(log_count(d, ADMIN_KEY), 0);
	assert_true(log_count(d, "client=127.0.0.1") > 0);
	http_free(&r);
	/* Every request has its own id. */
	for (int i = 0; i < 3; i++) {
		char *other;

		http(d, &q, &r);
		other = header(&r, "X-Request-Id");
		assert_non_null(other);
		assert_int_equal(strlen(other), 16);
		assert_string_not_equal(other, id);
		free(other);
		http_free(&r);
	}
	free(id);

	/* Control characters in a path cannot forge a log line. */
	q.path = "/x%0Asesamed:%20request%20forged";
	q.headers[0] = NULL;
	http(d, &q, &r);
	assert_int_equal(r.status, 404);
	http_free(&r);
	assert_true(log_wait(d, "path=/x%0Asesamed:%20request%20forged route=unmatched status=404", 1));
	assert_int_equal(log_count(d, "\nsesamed: request forged"), 0);
}

/* ---- daemons of their own ------------------------------------------------------- */

static void test_admin_api_off(void **state)
{
	struct daemon *d = fixture_daemon("sesamed-noadmin", NULL);
	struct req q = {"GET", "/api/admin/v1/providers", {AUTH_ADMIN_HEADER}, NULL, false, NULL};
	struct http r;

	daemon_start(d);
	http(d, &q, &r);
	assert_error(&r, 404, "NotFound", "/api/admin/v1/providers");
	http_free(&r);
	q.headers[0] = NULL;
	http(d, &q, &r);
	assert_error(&r, 404, "NotFound", "/api/admin/v1/providers");
	http_free(&r);
	/* Not even OPTIONS or a wrong method tells its paths apart. */
	q.method = "OPTIONS";
	http(d, &q, &r);
	assert_error(&r, 404, "NotFound", "/api/admin/v1/providers");
	assert_no_header(&r, "Allow");
	http_free(&r);
	q.method = "DELETE";
	http(d, &q, &r);
	assert_error(&r, 404, "NotFound", "/api/admin/v1/providers");
	http_free(&r);
	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
}

static void test_tls(void **state)
{
	struct daemon *d = fixture_daemon("sesamed-tls", NULL);
	char cmd[2048], *cert = tu_path(d->dir, "cert.pem"), *key = tu_path(d->dir, "key.pem"), extra[1024];
	struct req q = {"GET", "/healthz", {NULL}, NULL, false, NULL};
	struct http r;
	char *log;

	snprintf(
	    cmd, sizeof(cmd),
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 "
	    "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s'",
	    key, cert);
	assert_int_equal(tu_run(cmd, NULL, NULL), 0);
	/* A key file others can read is refused, naming it. */
	chmod(key, 0644);
	snprintf(extra, sizeof(extra), "\"tls_cert\": \"%s\", \"tls_key\": \"%s\", \"daemon\": {\"threads\": 2}", cert,
		 key);
	write_config(d, extra);
	d->pid = spawn(d, (const char *const[]){"--listen", "127.0.0.1:0", NULL});
	assert_int_equal(daemon_wait(d), 2);
	log = read_all(d->log);
	assert_non_null(strstr(log, key));
	assert_non_null(strstr(log, "chmod 600"));
	free(log);

	chmod(key, 0600);
	daemon_start(d);
	assert_true(strncmp(d->url, "https://127.0.0.1:", 18) == 0);
	q.cainfo = cert;
	http(d, &q, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	http_free(&r);
	/* Plain HTTP to the TLS port gets no HTTP answer. */
	memcpy(d->url, "http", 4);
	memmove(d->url + 4, d->url + 5, strlen(d->url + 5) + 1);
	http(d, &q, &r);
	assert_int_not_equal(r.status, 200);
	http_free(&r);
	assert_int_equal(daemon_stop(d), 0);
	free(cert);
	free(key);
	daemon_free(d);
}

/* The provider names GET /api/admin/v1/providers lists, comma-separated. */
static void provider_names(struct daemon *d, char *out, size_t len)
{
	struct req q = {"GET", "/api/admin/v1/providers", {AUTH_ADMIN_HEADER}, NULL, false, NULL};
	struct http r;
	json_t *v, *p;
	size_t i;

	http(d, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	out[0] = '\0';
	json_array_foreach(v, i, p)
	{
		size_t used = strlen(out);

		snprintf(out + used, len - used, "%s%s", i ? "," : "", json_string_value(json_object_get(p, "name")));
	}
	json_decref(v);
	http_free(&r);
}

static void test_reload(void **state)
{
	struct daemon *d = fixture_daemon("sesamed-reload", "\"admin_key\": \"" ADMIN_KEY "\"");
	struct req q = {"GET", "/metrics", {"Authorization: Bearer " ADMIN_KEY}, NULL, false, NULL};
	struct http r;
	char names[256];

	daemon_start(d);
	provider_names(d, names, sizeof(names));
	assert_string_equal(names, "alpha,anon-user,beta");

	/* A good new configuration takes effect. */
	provider(d, "delta", "{\"type\": \"fixture-good\"}");
	kill(d->pid, SIGHUP);
	assert_true(log_wait(d, "sesamed: reloaded the configuration", 1));
	provider_names(d, names, sizeof(names));
	assert_string_equal(names, "alpha,anon-user,beta,delta");

	/* A bad one is refused, the running one stays, the log says why. */
	provider(d, "gamma", "{\"type\": \"fixture-good\",");
	kill(d->pid, SIGHUP);
	assert_true(log_wait(d, "sesamed: reload failed, keeping the running configuration: ", 1));
	assert_true(log_count(d, "gamma.json") > 0);
	provider_names(d, names, sizeof(names));
	assert_string_equal(names, "alpha,anon-user,beta,delta");

	http(d, &q, &r);
	assert_non_null(strstr(r.body, "sesamed_config_reloads_total{outcome=\"success\"} 1\n"));
	assert_non_null(strstr(r.body, "sesamed_config_reloads_total{outcome=\"failure\"} 1\n"));
	http_free(&r);
	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
}

static int connect_to(const struct daemon *d)
{
	struct sockaddr_in sa;
	struct timeval tv = {WAIT_SECONDS, 0};
	const char *port = strrchr(d->url, ':');
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)strtol(port + 1, NULL, 10));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);

		assert_true(n > 0);
		off += (size_t)n;
	}
}

/* Read until `needle` is in the buffer or the peer closes (bounded by SO_RCVTIMEO). */
static void recv_until(int fd, char *buf, size_t size, const char *needle)
{
	size_t len = strlen(buf);

	while (len + 1 < size && (!needle || !strstr(buf, needle))) {
		ssize_t n = recv(fd, buf + len, size - len - 1, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

/* SIGTERM while a request is half-sent: the daemon stops accepting, lets it
 * finish, answers it, and exits 0. */
static void test_sigterm_drains(void **state)
{
	struct daemon *d = fixture_daemon("sesamed-drain", "\"admin_key\": \"" ADMIN_KEY "\"");
	const char *body = "{\"user\": \"slow\"}";
	char head[512], buf[8192] = "";
	int fd;

	daemon_start(d);
	fd = connect_to(d);
	snprintf(head, sizeof(head),
		 "POST " VERIFY " HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH_ADMIN_HEADER "\r\n" JSON_TYPE_HEADER
		 "\r\nContent-Length: %zu\r\nExpect: 100-continue\r\n\r\n",
		 strlen(body));
	send_all(fd, head);
	/* 100 Continue: the daemon has the request in hand. */
	recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	assert_non_null(strstr(buf, "HTTP/1.1 100 Continue"));
	send_all(fd, "{\"user\": ");

	kill(d->pid, SIGTERM);
	assert_true(log_wait(d, "sesamed: draining: 1 requests in flight", 1));
	/* Still running, waiting for the request. */
	assert_int_equal(waitpid(d->pid, NULL, WNOHANG), 0);

	send_all(fd, body + strlen("{\"user\": "));
	buf[0] = '\0';
	recv_until(fd, buf, sizeof(buf), NULL);
	close(fd);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strcasestr(buf, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(buf, "\"id\":\"slow\""));
	assert_int_equal(daemon_wait(d), 0);
	assert_true(log_count(d, "status=200") >= 1);
	assert_int_equal(log_count(d, "sesamed: stopped"), 1);
	daemon_free(d);
}

static void test_command_line(void **state)
{
	struct daemon *d = fixture_daemon("sesamed-cli", "\"daemon\": {\"bogus\": 1}");
	char *prog = sesamed_path(), cmd[1024], *out = NULL, *err = NULL;

	snprintf(cmd, sizeof(cmd), "'%s' --help", prog);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	assert_non_null(strstr(out, "Usage: sesamed"));
	free(out);
	snprintf(cmd, sizeof(cmd), "'%s' --version", prog);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	assert_true(strncmp(out, "sesamed ", 8) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "'%s' --no-such-option", prog);
	assert_int_equal(tu_run(cmd, NULL, NULL), 2);
	/* The daemon section is the daemon's: an unknown key names itself. */
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s'", prog, d->config);
	assert_int_equal(tu_run(cmd, NULL, &err), 2);
	assert_non_null(strstr(err, "unknown key \"daemon.bogus\""));
	assert_non_null(strstr(err, d->config));
	free(err);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --listen 127.0.0.1", prog, d->config);
	write_config(d, NULL);
	assert_int_equal(tu_run(cmd, NULL, &err), 2);
	assert_non_null(strstr(err, "expected ADDRESS:PORT"));
	free(err);
	free(prog);
	daemon_free(d);
}


/* ---- the client API: logins and sessions ----------------------------------- */

static void test_login_profile_refresh_logout(void **state)
{
	struct http r;
	json_t *s, *p, *ids, *a;

	s = client_login(*state, LOGIN("alpha"),
			 "{\"user\": \"u1\", \"provider\": \"fixture-good\", \"options\": {\"device\": "
			 "{\"deviceId\": \"0123456789abcdef01234567\", \"platform\": \"x\", \"brandNewField\": 1}}}",
			 NULL, &r);
	if (!s)
		fail_msg("login: %ld %s", r.status, r.body);
	assert_header(&r, "Content-Type", "application/json");
	http_free(&r);
	assert_int_equal(strlen(str(s, "user_id")), 24);
	assert_string_equal(str(s, "device_id"), "0123456789abcdef01234567");
	/* SDKs decode both tokens: they are JWTs with exp and iat. */
	p = jwt_payload(str(s, "access_token"));
	assert_string_equal(str(p, "sub"), str(s, "user_id"));
	assert_string_equal(str(p, "baas_device_id"), "0123456789abcdef01234567");
	assert_int_equal(json_integer_value(json_object_get(p, "exp")) - json_integer_value(json_object_get(p, "iat")),
			 1800);
	json_decref(p);
	p = jwt_payload(str(s, "refresh_token"));
	assert_true(json_integer_value(json_object_get(p, "exp")) > 0);
	json_decref(p);

	bearer_call(*state, "GET", "/api/client/v2.0/auth/profile", str(s, "access_token"), &r);
	assert_int_equal(r.status, 200);
	p = json_body(&r);
	http_free(&r);
	assert_string_equal(str(p, "user_id"), str(s, "user_id"));
	assert_string_equal(str(p, "type"), "normal");
	ids = json_object_get(p, "identities");
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(str(json_array_get(ids, 0), "id"), "u1");
	assert_string_equal(str(json_array_get(ids, 0), "provider_type"), "fixture-good");
	assert_string_equal(str(json_array_get(ids, 0), "provider_id"), "alpha");
	assert_string_equal(str(json_object_get(p, "data"), "greeting"), "hi");
	json_decref(p);

	bearer_call(*state, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_int_equal(r.status, 201);
	a = json_body(&r);
	http_free(&r);
	assert_non_null(json_object_get(a, "access_token"));
	json_decref(a);

	bearer_call(*state, "DELETE", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(*state, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "session");
	http_free(&r);
	json_decref(s);
}

static void test_same_identity_same_user(void **state)
{
	struct http r;
	json_t *a = client_login(*state, LOGIN("alpha"), "{\"user\": \"same\"}", NULL, &r);

	http_free(&r);
	{
		json_t *b = client_login(*state, LOGIN("alpha"), "{\"user\": \"same\"}", NULL, &r);

		http_free(&r);
		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(str(a, "user_id"), str(b, "user_id"));
		/* No device given: each login gets its own random device id. */
		assert_string_not_equal(str(a, "device_id"), str(b, "device_id"));
		json_decref(b);
	}
	json_decref(a);
}

/* realm-web sends the device id back as canonical EJSON {"$oid": ...}:
 * kept like the plain form, in the answer and the access token. */
static void test_device_id_ejson(void **state)
{
	struct http r;
	json_t *s, *p;

	s = client_login(*state, LOGIN("alpha"),
			 "{\"user\": \"dev\", \"options\": {\"device\": {\"deviceId\": {\"$oid\": "
			 "\"65f0c0ffee0123456789abcd\"}, \"platform\": \"Chrome\"}}}",
			 NULL, &r);
	if (!s)
		fail_msg("login: %ld %s", r.status, r.body);
	http_free(&r);
	assert_string_equal(str(s, "device_id"), "65f0c0ffee0123456789abcd");
	p = jwt_payload(str(s, "access_token"));
	assert_string_equal(str(p, "baas_device_id"), "65f0c0ffee0123456789abcd");
	json_decref(p);
	json_decref(s);
	/* Upper-case hex is the same ObjectId. */
	s = client_login(*state, LOGIN("alpha"),
			 "{\"user\": \"dev\", \"options\": {\"device\": {\"deviceId\": {\"$oid\": "
			 "\"65F0C0FFEE0123456789ABCD\"}}}}",
			 NULL, &r);
	assert_non_null(s);
	http_free(&r);
	assert_string_equal(str(s, "device_id"), "65f0c0ffee0123456789abcd");
	json_decref(s);
	/* The all-zero id means none: a new one. */
	s = client_login(*state, LOGIN("alpha"),
			 "{\"user\": \"dev\", \"options\": {\"device\": {\"deviceId\": {\"$oid\": "
			 "\"000000000000000000000000\"}}}}",
			 NULL, &r);
	assert_non_null(s);
	http_free(&r);
	assert_int_equal(strlen(str(s, "device_id")), 24);
	assert_string_not_equal(str(s, "device_id"), "000000000000000000000000");
	json_decref(s);
	/* A malformed wrapper is refused, naming the member; nobody logs in. */
	assert_null(client_login(*state, LOGIN("alpha"),
				 "{\"user\": \"dev2\", \"options\": {\"device\": {\"deviceId\": {\"$oid\": "
				 "\"65f0c0ffee\"}}}}",
				 NULL, &r));
	assert_error(&r, 400, "BadRequest", "options.device.deviceId");
	http_free(&r);
	assert_null(client_login(*state, LOGIN("alpha"), "{\"user\": \"dev2\", \"n\": {\"$numberDouble\": \"NaN\"}}",
				 NULL, &r));
	assert_error(&r, 400, "BadRequest", "\"n\": $numberDouble \"NaN\"");
	http_free(&r);
}

static void test_wrong_bearer_kinds(void **state)
{
	struct http r;
	json_t *s = client_login(*state, LOGIN("alpha"), "{\"user\": \"u2\"}", NULL, &r);
	char *tampered;

	http_free(&r);
	assert_non_null(s);
	/* A refresh token on an access route, and the reverse. */
	bearer_call(*state, "GET", "/api/client/v2.0/auth/profile", str(s, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "access");
	http_free(&r);
	bearer_call(*state, "POST", "/api/client/v2.0/auth/session", str(s, "access_token"), &r);
	assert_error(&r, 401, "InvalidSession", "refresh");
	http_free(&r);
	/* A tampered signature. */
	tampered = strdup(str(s, "access_token"));
	tampered[strlen(tampered) - 3] = tampered[strlen(tampered) - 3] == 'A' ? 'B' : 'A';
	bearer_call(*state, "GET", "/api/client/v2.0/auth/profile", tampered, &r);
	assert_error(&r, 401, "InvalidSession", "signature");
	http_free(&r);
	free(tampered);
	/* No token at all. */
	{
		struct req q = {"GET", "/api/client/v2.0/auth/profile", {NULL}, NULL, false, NULL};

		http(*state, &q, &r);
		assert_error(&r, 401, "InvalidSession", "");
		http_free(&r);
	}
	json_decref(s);
}

static void test_login_errors(void **state)
{
	struct http r;

	assert_null(client_login(*state, LOGIN("nobody"), "{\"user\": \"x\"}", NULL, &r));
	assert_error(&r, 404, "AuthProviderNotFound", "nobody");
	http_free(&r);
	assert_null(client_login(*state, LOGIN("alpha"), "{\"user\": \"\"}", NULL, &r));
	assert_error(&r, 401, "AuthError", "empty user name refused");
	http_free(&r);
	assert_null(client_login(*state, LOGIN("alpha"), "{\"usr\": \"x\"}", NULL, &r));
	assert_error(&r, 400, "BadRequest", "expected");
	http_free(&r);
	assert_null(client_login(*state, LOGIN("alpha"), "{\"user\": \"x\", \"options\": 3}", NULL, &r));
	assert_error(&r, 400, "BadRequest", "options");
	http_free(&r);
	assert_null(client_login(*state, "/api/client/v2.0/app/other-app/auth/providers/alpha/login", "{\"user\": \"x\"}",
				 NULL, &r));
	assert_error(&r, 404, "AppNotFound", "other-app");
	http_free(&r);
}

static void test_link_and_self_delete(void **state)
{
	struct http r;
	json_t *s = client_login(*state, LOGIN("alpha"), "{\"user\": \"linker\"}", NULL, &r), *l, *p, *o;

	http_free(&r);
	o = client_login(*state, LOGIN("beta"), "{\"user\": \"taken\"}", NULL, &r);
	http_free(&r);
	assert_non_null(s);
	assert_non_null(o);
	/* Linking needs the caller's access token. */
	assert_null(client_login(*state, LOGIN("beta") "?link=true", "{\"user\": \"linker-b\"}", NULL, &r));
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	l = client_login(*state, LOGIN("beta") "?link=true", "{\"user\": \"linker-b\"}", str(s, "access_token"), &r);
	if (!l)
		fail_msg("link: %ld %s", r.status, r.body);
	http_free(&r);
	assert_string_equal(str(l, "user_id"), str(s, "user_id"));
	bearer_call(*state, "GET", "/api/client/v2.0/auth/profile", str(l, "access_token"), &r);
	p = json_body(&r);
	http_free(&r);
	assert_int_equal(json_array_size(json_object_get(p, "identities")), 2);
	json_decref(p);
	/* Another user's identity cannot be linked. */
	assert_null(client_login(*state, LOGIN("beta") "?link=true", "{\"user\": \"taken\"}", str(s, "access_token"), &r));
	assert_error(&r, 401, "InvalidSession", "a user already exists with the specified provider");
	http_free(&r);
	/* An anonymous identity is never linked into an existing user. */
	assert_null(client_login(*state, LOGIN("anon-user") "?link=true", "{}", str(s, "access_token"), &r));
	assert_error(&r, 400, "BadRequest", "linking an anonymous identity is not allowed");
	http_free(&r);
	/* The web redirect flow is for providers that declare it. */
	{
		struct req q = {"GET", LOGIN("anon-user") "?redirect=https%3A%2F%2Fapp.example.test%2F&state=s",
				{NULL}, NULL, false, NULL};

		http(*state, &q, &r);
		assert_error(&r, 400, "BadRequest", "provider \"anon-user\" has no web redirect flow");
		assert_no_header(&r, "Location");
		http_free(&r);
	}

	bearer_call(*state, "DELETE", "/api/client/v2.0/auth/delete", str(l, "access_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(*state, "GET", "/api/client/v2.0/auth/profile", str(l, "access_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	/* The deleted user's identities are free: a new login is a new user. */
	p = client_login(*state, LOGIN("alpha"), "{\"user\": \"linker\"}", NULL, &r);
	http_free(&r);
	assert_string_not_equal(str(p, "user_id"), str(s, "user_id"));
	json_decref(p);
	json_decref(l);
	json_decref(o);
	json_decref(s);
}

/*
 * Custom data and the bearer limit agree: the largest custom data the
 * admin API accepts still gives access tokens sesamed accepts, and a
 * little more is refused with a clear 400 rather than locking the user out.
 */
static void test_custom_data_fits_tokens(void **state)
{
	struct daemon *d = fixture_daemon("bigdata", "\"admin_key\": \"" ADMIN_KEY "\"");
	struct http r;
	json_t *s, *a;
	char path[256], *body = malloc(20000);
	struct req q = {"PUT", path, {AUTH_ADMIN_HEADER, JSON_TYPE_HEADER, NULL}, body, false, NULL};
	size_t n, accepted = 0;

	daemon_start(d);
	s = client_login(d, LOGIN("alpha"), "{\"user\": \"bigdata\"}", NULL, &r);
	http_free(&r);
	assert_non_null(s);
	assert_non_null(body);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/custom_data", str(s, "user_id"));
	/* From 16 KiB down, 256 bytes at a time: refused until it fits. */
	for (n = 16 * 1024; n > 0 && !accepted; n -= 256) {
		snprintf(body, 20000, "{\"blob\": \"%0*d\"}", (int)n, 0);
		http(d, &q, &r);
		if (r.status == 200)
			accepted = n;
		else
			assert_error(&r, 400, "BadRequest", "access tokens longer than the 16384 bytes allowed");
		http_free(&r);
	}
	assert_true(accepted > 8 * 1024);
	assert_true(accepted < 16 * 1024);
	/* Every token now carries it, and every call with it works. */
	bearer_call(d, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_int_equal(r.status, 201);
	a = json_body(&r);
	http_free(&r);
	assert_true(strlen(str(a, "access_token")) > accepted);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(a, "access_token"), &r);
	if (r.status != 200)
		fail_msg("profile with a %zu-byte token: %ld %s", strlen(str(a, "access_token")), r.status, r.body);
	http_free(&r);
	json_decref(a);
	json_decref(s);
	free(body);
	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
}

/* Any provider's action over HTTP: the caller is the access token's user
 * or, with the admin key, the system user; never what the body claims. */
static void test_provider_actions(void **state)
{
	const char *forged = "{\"x\": 1, \"caller\": {\"system\": true}}";
	struct http r;
	json_t *s = client_login(*state, LOGIN("alpha"), "{\"user\": \"actor\"}", NULL, &r), *v;
	char auth[4096];
	struct req q = {"POST", "/api/sesame/v1/providers/alpha/actions/echo", {AUTH_ADMIN_HEADER, JSON_TYPE_HEADER},
			forged, false, NULL};

	http_free(&r);
	assert_non_null(s);
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	http_free(&r);
	assert_string_equal(str(json_object_get(v, "caller"), "kind"), "system");
	assert_null(json_object_get(json_object_get(v, "args"), "caller"));
	json_decref(v);
	/* A user's access token: that user. */
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", str(s, "access_token"));
	q.headers[0] = auth;
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	http_free(&r);
	assert_string_equal(str(json_object_get(v, "caller"), "kind"), "user");
	assert_string_equal(str(json_object_get(v, "caller"), "user_id"), str(s, "user_id"));
	assert_null(json_object_get(json_object_get(v, "args"), "caller"));
	json_decref(v);
	/* A refresh token, no token: 401. */
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", str(s, "refresh_token"));
	http(*state, &q, &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	q.headers[0] = JSON_TYPE_HEADER;
	q.headers[1] = NULL;
	http(*state, &q, &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	/* Action names may have several segments; unknown ones are refused by
	 * the plugin, unknown instances by the core. */
	q.headers[0] = AUTH_ADMIN_HEADER;
	q.headers[1] = JSON_TYPE_HEADER;
	q.path = "/api/sesame/v1/providers/alpha/actions/confirm/send";
	http(*state, &q, &r);
	assert_error(&r, 400, "BadRequest", "confirm/send");
	http_free(&r);
	q.path = "/api/sesame/v1/providers/nosuch/actions/echo";
	http(*state, &q, &r);
	assert_error(&r, 404, "AuthProviderNotFound", "nosuch");
	http_free(&r);
	json_decref(s);
}

static void test_admin_users_and_custom_data(void **state)
{
	struct http r;
	json_t *s = client_login(*state, LOGIN("alpha"), "{\"user\": \"managed\"}", NULL, &r), *v, *a, *p;
	char path[256];
	struct req q = {"PUT", path, {AUTH_ADMIN_HEADER, JSON_TYPE_HEADER, NULL}, "{\"plan\": \"gold\"}", false, NULL};

	http_free(&r);
	assert_non_null(s);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/custom_data", str(s, "user_id"));
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	/* The next refresh carries the custom data in the access token. */
	bearer_call(*state, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	a = json_body(&r);
	http_free(&r);
	p = jwt_payload(str(a, "access_token"));
	assert_string_equal(str(json_object_get(p, "user_data"), "plan"), "gold");
	json_decref(p);
	json_decref(a);

	q.method = "GET";
	q.body = NULL;
	q.headers[1] = NULL;
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s", str(s, "user_id"));
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	http_free(&r);
	assert_string_equal(str(v, "id"), str(s, "user_id"));
	assert_null(json_object_get(json_array_get(json_object_get(v, "identities"), 0), "private"));
	json_decref(v);

	q.path = "/api/admin/v1/users?limit=1000";
	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	http_free(&r);
	assert_true(json_array_size(v) >= 1);
	json_decref(v);
	q.path = "/api/admin/v1/users?limit=x";
	http(*state, &q, &r);
	assert_error(&r, 400, "BadRequest", "limit");
	http_free(&r);

	/* Disabled: no login, no refresh; enabled again: login works. */
	q.method = "PUT";
	q.path = path;
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/disable", str(s, "user_id"));
	http(*state, &q, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	assert_null(client_login(*state, LOGIN("alpha"), "{\"user\": \"managed\"}", NULL, &r));
	assert_error(&r, 401, "UserDisabled", "disabled");
	http_free(&r);
	bearer_call(*state, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/enable", str(s, "user_id"));
	http(*state, &q, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	v = client_login(*state, LOGIN("alpha"), "{\"user\": \"managed\"}", NULL, &r);
	http_free(&r);
	assert_non_null(v);
	/* Revoking every session ends this new one too. */
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/logout", str(s, "user_id"));
	http(*state, &q, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(*state, "POST", "/api/client/v2.0/auth/session", str(v, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	/* Admin deletion, then the user is gone. */
	q.method = "DELETE";
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s", str(s, "user_id"));
	http(*state, &q, &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	q.method = "GET";
	http(*state, &q, &r);
	assert_error(&r, 404, "UserNotFound", "");
	http_free(&r);
	json_decref(v);
	json_decref(s);
}

static void test_jwks_published(void **state)
{
	struct req q = {"GET", "/.well-known/jwks.json", {NULL}, NULL, false, NULL};
	struct http r;
	json_t *v, *k;

	http(*state, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	http_free(&r);
	k = json_array_get(json_object_get(v, "keys"), 0);
	assert_string_equal(str(k, "kty"), "EC");
	assert_string_equal(str(k, "alg"), "ES256");
	assert_null(json_object_get(k, "d"));
	json_decref(v);
}

struct racer {
	const struct daemon *d;
	char user_id[32];
};

static void *race_login(void *arg)
{
	struct racer *rc = arg;
	struct http r;
	json_t *s = client_login(rc->d, LOGIN("alpha"), "{\"user\": \"racer\"}", NULL, &r);

	if (s)
		snprintf(rc->user_id, sizeof(rc->user_id), "%s", json_string_value(json_object_get(s, "user_id")));
	json_decref(s);
	http_free(&r);
	return NULL;
}

static void test_parallel_first_logins_one_user(void **state)
{
	struct racer racers[12];
	pthread_t t[12];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		racers[i].d = *state;
		racers[i].user_id[0] = '\0';
		assert_int_equal(pthread_create(&t[i], NULL, race_login, &racers[i]), 0);
	}
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(strlen(racers[i].user_id), 24);
		assert_string_equal(racers[i].user_id, racers[0].user_id);
	}
}

static void test_failed_logins_throttled(void **state)
{
	struct daemon *d = fixture_daemon("throttle", "\"daemon\": {\"login_failures_per_minute\": 3}");
	struct http r;
	char *retry;
	int i;

	daemon_start(d);
	for (i = 0; i < 3; i++) {
		assert_null(client_login(d, LOGIN("alpha"), "{\"user\": \"\"}", NULL, &r));
		assert_int_equal(r.status, 401);
		http_free(&r);
	}
	/* Even a good credential waits now: the address is throttled. */
	assert_null(client_login(d, LOGIN("alpha"), "{\"user\": \"fine\"}", NULL, &r));
	assert_error(&r, 429, "TooManyRequests", "");
	retry = header(&r, "Retry-After");
	assert_non_null(retry);
	assert_true(atoi(retry) >= 1);
	free(retry);
	http_free(&r);
	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
}

/* Expiry by the test clock: an expired access token is an InvalidSession
 * that a refresh cures; an expired session is not. */
static void test_expired_tokens(void **state)
{
	struct daemon *d = fixture_daemon("expiry", "\"test_mode\": true, \"admin_key\": \"" ADMIN_KEY "\", "
						    "\"sessions\": {\"access_ttl\": 600, \"refresh_ttl\": 3600}");
	struct http r;
	json_t *s, *a;

	daemon_start(d);
	s = client_login(d, LOGIN("alpha"), "{\"user\": \"short\"}", NULL, &r);
	http_free(&r);
	assert_non_null(s);
	/* Within the lifetime plus the 5 s of leeway own tokens get, it works. */
	clock_advance(d, 600);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(s, "access_token"), &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	clock_advance(d, 6);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(s, "access_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	bearer_call(d, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_int_equal(r.status, 201);
	a = json_body(&r);
	http_free(&r);
	bearer_call(d, "GET", "/api/client/v2.0/auth/profile", str(a, "access_token"), &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	/* The session itself ends after refresh_ttl (plus the leeway). */
	clock_advance(d, 3600 - 606 + 6);
	bearer_call(d, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "");
	http_free(&r);
	json_decref(a);
	json_decref(s);
	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
}

/* The test clock is test mode's alone: elsewhere its route does not exist
 * and the library refuses to move time. */
static void test_clock_needs_test_mode(void **state)
{
	struct daemon *d = fixture_daemon("noclock", "\"admin_key\": \"" ADMIN_KEY "\"");
	struct http r;

	daemon_start(d);
	http(d,
	     &(struct req){"POST", "/api/admin/v1/test/clock", {JSON_TYPE_HEADER, AUTH_ADMIN_HEADER},
			   "{\"advance\": 3600}", false, NULL},
	     &r);
	assert_error(&r, 404, "NotFound", "");
	http_free(&r);
	assert_int_equal(daemon_stop(d), 0);
	daemon_free(d);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
	    cmocka_unit_test(test_location),	  cmocka_unit_test(test_healthz),
	    cmocka_unit_test(test_metrics),	  cmocka_unit_test(test_metrics_count_before_answer),
	    cmocka_unit_test(test_not_found_and_wrong_method),
	    cmocka_unit_test(test_oversize_body), cmocka_unit_test(test_header_limits),
	    cmocka_unit_test(test_content_type),  cmocka_unit_test(test_malformed_json),
	    cmocka_unit_test(test_admin_api),	  cmocka_unit_test(test_cors),
	    cmocka_unit_test(test_request_log),
	    cmocka_unit_test(test_login_profile_refresh_logout),
	    cmocka_unit_test(test_same_identity_same_user),
	    cmocka_unit_test(test_device_id_ejson),
	    cmocka_unit_test(test_wrong_bearer_kinds),
	    cmocka_unit_test(test_login_errors),
	    cmocka_unit_test(test_link_and_self_delete),
	    cmocka_unit_test(test_admin_users_and_custom_data),
	    cmocka_unit_test(test_provider_actions),
	    cmocka_unit_test(test_jwks_published),
	    cmocka_unit_test(test_parallel_first_logins_one_user),
	};
	const struct CMUnitTest own[] = {
	    cmocka_unit_test(test_admin_api_off),  cmocka_unit_test(test_tls),		cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_sigterm_drains), cmocka_unit_test(test_command_line),
	    cmocka_unit_test(test_failed_logins_throttled),
	    cmocka_unit_test(test_expired_tokens),
	    cmocka_unit_test(test_clock_needs_test_mode),
	    cmocka_unit_test(test_custom_data_fits_tokens),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("shared daemon", shared, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("own daemons", own, NULL, NULL);
	curl_global_cleanup();
	return failed || daemon_exit_failures ? 1 : 0;
}
