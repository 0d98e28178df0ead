/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/harness.h — running sesamed and talking HTTP to it, for every
 * program that drives the daemon end to end (tests/daemon, tests/client,
 * tests/providers): a daemon directory with its configuration, plugins
 * and drop-ins (daemon_new, daemon_new_fixtures, daemon_at), started on a
 * free loopback port (--listen 127.0.0.1:0, the port read from its start
 * line), stopped with its exit status checked (daemon_finish), requests
 * sent with libcurl, App Services answers checked, the test clock moved.
 * Every wait is bounded.
 */
#ifndef SESAME_DAEMON_HARNESS_H
#define SESAME_DAEMON_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "testutil.h"

/* Each test program uses part of the harness. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define JSON_TYPE_HEADER  "Content-Type: application/json"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Not only base64url characters: operators choose admin keys freely. */
#define ADMIN_KEY    "admin-key!0123456789$"
#define WAIT_SECONDS 60 /* generous: sanitizer builds on a shared machine */

/* ---- running sesamed ------------------------------------------------------ */

struct daemon {
	char *dir;
	char *config;
	char *log;
	char *plugins;	 /* the plugin_dir write_config() names */
	bool caller_dir; /* dir belongs to the caller (daemon_at): daemon_free() leaves it */
	pid_t pid;
	char url[128];
};

/*
 * Daemons that did not exit 0 when daemon_finish() stopped them.  cmocka
 * (1.1) reports a failed group teardown but does not count it in the
 * group's result, so a program whose group teardown finishes a daemon adds
 * this to what it returns: a leak or a crash at exit fails the test.
 */
static int daemon_exit_failures;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	assert_non_null(buf);
	if (!f) {
		buf[0] = '\0';
		return buf;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Occurrences of `needle` in the daemon's log. */
static int log_count(const struct daemon *d, const char *needle)
{
	char *text = read_all(d->log), *p = text;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(text);
	return n;
}

/* Wait until the log holds `needle` at least `count` times; false when the
 * daemon exited first or the bounded wait ran out. */
static bool log_wait(const struct daemon *d, const char *needle, int count)
{
	int i;

	for (i = 0; i < WAIT_SECONDS * 50; i++) {
		if (log_count(d, needle) >= count)
			return true;
		if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == d->pid)
			return log_count(d, needle) >= count;
		sleep_ms(20);
	}
	return false;
}

static char *sesamed_path(void)
{
	return tu_path(tu_env("SESAME_TEST_BUILDDIR"), "sesamed");
}

/* Start sesamed with `args` (after --config FILE); returns its pid with
 * stdout and stderr going to d->log. */
static pid_t spawn(struct daemon *d, const char *const *args)
{
	const char *argv[16];
	char *prog = sesamed_path();
	size_t n = 0;
	pid_t pid;

	argv[n++] = prog;
	argv[n++] = "--config";
	argv[n++] = d->config;
	while (args && *args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	free(prog);
	return pid;
}


/* Start on a free port; the URL comes from the start line. */
static void daemon_start(struct daemon *d)
{
	static const char *const args[] = {"--listen", "127.0.0.1:0", NULL};
	const char *marker = "listening on ";
	char *text, *at, *end;

	d->pid = spawn(d, args);
	if (!log_wait(d, marker, 1)) {
		text = read_all(d->log);
		fail_msg("sesamed did not start:\n%s", text);
	}
	text = read_all(d->log);
	at = strstr(text, marker) + strlen(marker);
	end = strchr(at, '\n');
	assert_non_null(end);
	assert_true((size_t)(end - at) < sizeof(d->url));
	memcpy(d->url, at, (size_t)(end - at));
	d->url[end - at] = '\0';
	free(text);
}

/* Wait (bounded) for the process to exit; its exit status, or -1. */
static int daemon_wait(struct daemon *d)
{
	int status, i;

	for (i = 0; i < WAIT_SECONDS * 50; i++) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		sleep_ms(20);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
	return -1;
}

/* SIGTERM and the exit status (0 expected: drained, and leak-free under ASan). */
static int daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	return daemon_wait(d);
}

static void daemon_free(struct daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	if (!d->caller_dir)
		tu_rmrf(d->dir);
	free(d->dir);
	free(d->config);
	free(d->log);
	free(d->plugins);
	free(d);
}

/*
 * Stop the daemon if it still runs (a test may have stopped it) and free
 * it; 0 when it exited 0 (drained, and leak-free under AddressSanitizer),
 * else -1 with its log on stderr, counted in daemon_exit_failures.  Also
 * fine after a failed test: nothing is left running.
 */
static int daemon_finish(struct daemon *d)
{
	int rc = d->pid > 0 ? daemon_stop(d) : 0;

	if (rc != 0) {
		char *log = read_all(d->log);

		fprintf(stderr, "sesamed (%s) exited %d:\n%s\n", d->dir, rc, log);
		free(log);
		daemon_exit_failures++;
	}
	daemon_free(d);
	return rc == 0 ? 0 : -1;
}

/* ---- a daemon's directory: configuration, plugins, drop-ins, programs -------- */

/* dir/sesame.json: d->plugins, the stores, dir/providers.d, the state in
 * dir, `public_url`, plus the members of `extra` (NULL: none). */
static void write_config_url(struct daemon *d, const char *public_url, const char *extra)
{
	char *drop = tu_mkdir(d->dir, "providers.d", 0755), text[4096];

	snprintf(
	    text, sizeof(text),
	    "{\"app_id\": \"test-app\", \"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"],\n"
	    " \"state_dir\": \"%s\", \"public_url\": \"%s\"%s%s}\n",
	    d->plugins, tu_env("SESAME_TEST_STORES"), drop, d->dir, public_url, extra ? ", " : "", extra ? extra : "");
	free(d->config);
	d->config = tu_write(d->dir, "sesame.json", text, 0600);
	free(drop);
}

static void write_config(struct daemon *d, const char *extra)
{
	write_config_url(d, "https://auth.example.test/", extra);
}

/* Write the drop-in dir/providers.d/NAME.json. */
static void provider(struct daemon *d, const char *name, const char *content)
{
	free(tu_provider(d->dir, name, content));
}

/* Copy plugin `type` from directory `from` into the daemon's own plugin
 * directory, so real plugins and fixtures load side by side. */
static void copy_plugin(const struct daemon *d, const char *from, const char *type)
{
	tu_copy_plugin(from, d->plugins, type);
}

static struct daemon *daemon_alloc(const char *tag)
{
	struct daemon *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->dir = tu_tmpdir(tag);
	d->log = tu_path(d->dir, "sesamed.log");
	return d;
}

/* A daemon directory with its own plugin directory: copies of the real
 * plugins `types` (NULL-terminated, or NULL) and of the fixture-good
 * plugin; no provider configured yet. */
static struct daemon *daemon_new(const char *tag, const char *extra, const char *const *types)
{
	struct daemon *d = daemon_alloc(tag);

	d->plugins = tu_mkdir(d->dir, "plugins", 0755);
	while (types && *types)
		copy_plugin(d, tu_env("SESAME_TEST_PLUGINS"), *types++);
	copy_plugin(d, tu_env("SESAME_TEST_FIXTURES"), "fixture-good");
	write_config(d, extra);
	return d;
}

/* A daemon directory whose plugin directory is the fixture plugins' build
 * directory (tests/fixtures), every fixture loadable by its type; no
 * provider configured yet. */
static struct daemon *daemon_new_fixtures(const char *tag, const char *extra)
{
	struct daemon *d = daemon_alloc(tag);

	d->plugins = strdup(tu_env("SESAME_TEST_FIXTURES"));
	assert_non_null(d->plugins);
	write_config(d, extra);
	return d;
}

/* A daemon for the configuration `config` the caller wrote in `dir`, which
 * stays the caller's to remove. */
static struct daemon *daemon_at(const char *dir, const char *config)
{
	struct daemon *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->dir = strdup(dir);
	d->config = strdup(config);
	assert_non_null(d->dir);
	assert_non_null(d->config);
	d->log = tu_path(d->dir, "sesamed.log");
	d->caller_dir = true;
	return d;
}

/* Copy the test program tests/`rel` (a mailer, a custom-function program)
 * into the daemon's directory, executable; its path there, malloc'd. */
static char *copy_program(const struct daemon *d, const char *rel)
{
	const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	char src[1024], *dst = tu_path(d->dir, name);

	snprintf(src, sizeof(src), "%s/tests/%s", tu_env("SESAME_TEST_SRCDIR"), rel);
	tu_copy_file(src, dst, 0755);
	return dst;
}

/* The local-userpass mailer of the tests (tests/providers/local-userpass/
 * sender.sh), copied into the daemon's directory: its path, malloc'd, and
 * in *box (malloc'd) the directory of its outbox, writable by the user
 * programs run as. */
static char *install_sender(const struct daemon *d, char **box)
{
	*box = tu_program_dir(d->dir, "box");
	return copy_program(d, "providers/local-userpass/sender.sh");
}

/* ---- HTTP with libcurl ------------------------------------------------------ */

struct http {
	long status;
	char *body;
	size_t len;
	char *headers;
	size_t hlen;
	CURLcode rc;
};

struct upload {
	const char *data;
	size_t len, off;
};

static size_t collect(char *data, size_t size, size_t n, void *arg, bool headers)
{
	struct http *r = arg;
	char **buf = headers ? &r->headers : &r->body;
	size_t *len = headers ? &r->hlen : &r->len;

	*buf = realloc(*buf, *len + size * n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, data, size * n);
	*len += size * n;
	(*buf)[*len] = '\0';
	return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	return collect(data, size, n, arg, false);
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http *r = arg;

	/* Keep the headers of the final response only. */
	if (n * size >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(r->headers);
		r->headers = NULL;
		r->hlen = 0;
	}
	return collect(data, size, n, arg, true);
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t chunk = u->len - u->off < size * n ? u->len - u->off : size * n;

	if (chunk > 100)
		chunk = 100; /* several chunks */
	memcpy(buf, u->data + u->off, chunk);
	u->off += chunk;
	return chunk;
}

struct req {
	const char *method;
	const char *path;
	const char *headers[8];
	const char *body;
	bool chunked;
	const char *cainfo;
};

static void http_free(struct http *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

/* Send `q` on the handle `c`, which keeps its connection open for the next
 * request on it (curl_easy_reset() keeps the connection cache), from the
 * local address `source` (another loopback address such as 127.0.0.2, so
 * the daemon sees another client; NULL: any). */
static void http_on(CURL *c, const struct daemon *d, const struct req *q, const char *source, struct http *r)
{
	struct curl_slist *hl = NULL;
	struct upload up = {q->body, q->body ? strlen(q->body) : 0, 0};
	char *url = tu_path(d->url, q->path[0] == '/' ? q->path + 1 : q->path);
	size_t i;

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WAIT_SECONDS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (q->cainfo)
		curl_easy_setopt(c, CURLOPT_CAINFO, q->cainfo);
	if (source) {
		char iface[64];

		snprintf(iface, sizeof(iface), "host!%s", source);
		curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
	}
	for (i = 0; i < ARRAY_SIZE(q->headers) && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (q->body && q->chunked) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
	} else if (q->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)up.len);
	}
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	free(url);
}

/* Send `q` on a connection of its own, from `source` as for http_on(). */
static void http_from(const struct daemon *d, const struct req *q, const char *source, struct http *r)
{
	CURL *c = curl_easy_init();

	http_on(c, d, q, source, r);
	curl_easy_cleanup(c);
}

static void http(const struct daemon *d, const struct req *q, struct http *r)
{
	http_from(d, q, NULL, r);
}

/* The value of a response header (case-insensitive name), malloc'd, or NULL. */
static char *header(const struct http *r, const char *name)
{
	size_t n = strlen(name);
	const char *p = r->headers;

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");

		if (!eol)
			break;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			return strndup(v, (size_t)(eol - v));
		}
		p = eol + 2;
	}
	return NULL;
}

static void assert_header(const struct http *r, const char *name, const char *expect)
{
	char *v = header(r, name);

	if (!v)
		fail_msg("no %s header in:\n%s", name, r->headers ? r->headers : "");
	if (strcmp(v, expect) != 0)
		fail_msg("%s: \"%s\", expected \"%s\"", name, v, expect);
	free(v);
}

static void assert_no_header(const struct http *r, const char *name)
{
	char *v = header(r, name);

	if (v)
		fail_msg("unexpected %s: %s", name, v);
}

static json_t *json_body(const struct http *r)
{
	json_error_t e;
	json_t *v = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &e);

	if (!v)
		fail_msg("body is not JSON (%s): %s", e.text, r->body ? r->body : "");
	return v;
}

/* The response is the App Services error `code` with `status`, and its
 * message contains `text`. */
static void assert_error(const struct http *r, long status, const char *code, const char *text)
{
	json_t *v;

	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status, r->body ? r->body : "");
	assert_header(r, "Content-Type", "application/json");
	v = json_body(r);
	assert_string_equal(json_string_value(json_object_get(v, "error_code")), code);
	assert_string_equal(json_string_value(json_object_get(v, "link")), "");
	if (!strstr(json_string_value(json_object_get(v, "error")), text))
		fail_msg("error \"%s\" lacks \"%s\"", json_string_value(json_object_get(v, "error")), text);
	json_decref(v);
}

/*
 * Move the daemon's clocks `seconds` forward through the test-clock route
 * (test mode and the admin key ADMIN_KEY must be configured): expiry is
 * tested by moving time, never by sleeping.
 */
static void clock_advance(const struct daemon *d, long seconds)
{
	char body[64];
	struct http r = {0};

	snprintf(body, sizeof(body), "{\"advance\": %ld}", seconds);
	http(d,
	     &(struct req){"POST", "/api/admin/v1/test/clock",
			   {JSON_TYPE_HEADER, "Authorization: Bearer " ADMIN_KEY}, body, false, NULL},
	     &r);
	if (r.status != 200)
		fail_msg("moving the clock: HTTP %ld %s", r.status, r.body ? r.body : "");
	http_free(&r);
}

/* The value of counter `series` in /metrics (e.g.
 * "sesamed_session_refreshes_total{outcome=\"success\"}"), 0 when absent,
 * read on the handle `c` (see http_on()). */
static long metric_on(CURL *c, const struct daemon *d, const char *series)
{
	struct http r;
	const char *at;
	size_t n = strlen(series);
	long v = 0;

	/* /metrics needs the admin key (daemon.metrics is "admin" by default). */
	http_on(c, d, &(struct req){"GET", "/metrics", {"Authorization: Bearer " ADMIN_KEY}, NULL, false, NULL}, NULL,
		&r);
	assert_int_equal(r.status, 200);
	for (at = r.body; at && (at = strstr(at, series)) != NULL; at += n)
		if ((at == r.body || at[-1] == '\n') && at[n] == ' ') {
			v = strtol(at + n + 1, NULL, 10);
			break;
		}
	http_free(&r);
	return v;
}

/* metric_on() on a connection of its own. */
static long metric(const struct daemon *d, const char *series)
{
	CURL *c = curl_easy_init();
	long v = metric_on(c, d, series);

	curl_easy_cleanup(c);
	return v;
}

/* ---- the client API ---------------------------------------------------------- */

#define LOGIN(name) "/api/client/v2.0/app/test-app/auth/providers/" name "/login"

/* POST a JSON `body` to `path`. */
static void post(const struct daemon *d, const char *path, const char *body, struct http *r)
{
	struct req q = {"POST", path, {JSON_TYPE_HEADER, NULL}, body, false, NULL};

	http(d, &q, r);
}

/* POST a login body to `path` (with a bearer token when not NULL); the
 * parsed answer on 200, else NULL. */
static json_t *client_login(const struct daemon *d, const char *path, const char *body, const char *bearer,
			    struct http *r)
{
	char auth[4096];
	struct req q = {"POST", path, {JSON_TYPE_HEADER, NULL}, body, false, NULL};

	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		q.headers[1] = auth;
	}
	http(d, &q, r);
	return r->status == 200 ? json_body(r) : NULL;
}

/* A request with a bearer token. */
static void bearer_call(const struct daemon *d, const char *method, const char *path, const char *token, struct http *r)
{
	char auth[32 * 1024];
	struct req q = {method, path, {auth, NULL}, NULL, false, NULL};

	if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >= sizeof(auth))
		fail_msg("a bearer token of %zu bytes does not fit the test's buffer", strlen(token));
	http(d, &q, r);
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v)
		fail_msg("no string \"%s\"", key);
	return v;
}

/* The payload of a JWT, decoded without verification (as SDKs read it). */
static json_t *jwt_payload(const char *token)
{
	const char *a = strchr(token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	char cmd[8192], *out = NULL;
	json_t *v;

	assert_non_null(b);
	snprintf(cmd, sizeof(cmd),
		 "printf '%%s' '%.*s' | tr '_-' '/+' | awk '{ n = length($0) %% 4; if (n) $0 = $0 substr(\"===\", 1, 4 - n); print }' | base64 -d",
		 (int)(b - a - 1), a + 1);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	v = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(v);
	return v;
}

/* The last mail install_sender()'s mailer sent: {"email", "token", "tokenId"}. */
static json_t *last_mail(const struct daemon *d)
{
	char cmd[1100], *out = NULL;
	json_t *m;

	snprintf(cmd, sizeof(cmd), "tail -n 1 '%s/box/outbox'", d->dir);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	m = json_loads(out, 0, NULL);
	if (!m)
		fail_msg("no mail in the outbox: %s", out);
	free(out);
	return m;
}

/* The last mail's {token, tokenId} as a confirm/reset body (with `password`
 * when not NULL). */
static char *mailed(const struct daemon *d, const char *password)
{
	json_t *m = last_mail(d);
	char *body;

	json_object_del(m, "email");
	if (password)
		json_object_set_new(m, "password", json_string(password));
	body = json_dumps(m, 0);
	json_decref(m);
	return body;
}

#endif /* SESAME_DAEMON_HARNESS_H */
