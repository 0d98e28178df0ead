/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz-http.c — libFuzzer target: sesamed's whole request path, from
 * the bytes on the socket to every route handler.
 *
 * LLVMFuzzerInitialize writes a test configuration into a private temporary
 * directory — test mode, an admin key, the fixture-good, anon-user,
 * custom-token (HS256), local-userpass (cheap scrypt), api-key and
 * oauth2-google (loopback endpoints) providers, copied from the build tree
 * — and starts the real server (daemon/server.c on libmicrohttpd) in this
 * process on 127.0.0.1:0.  Each input is written raw to a new connection:
 * it is one HTTP request, several pipelined ones, or garbage; the write side
 * is then closed and the answer read until the server closes, and the next
 * input waits until the server has no connection left (so that the leak
 * check never runs while a connection's thread is still exiting).  An answer
 * that does not come, or a connection the server keeps, is a finding
 * (abort), like a crash or a leak.
 *
 * So that the fuzzer reaches the routes behind tokens, an input may hold
 * placeholders, replaced before it is sent: @ACCESS@ and @REFRESH@ by the
 * tokens of an anonymous login made for that input (a logout or a delete
 * in one input cannot starve the next), @USER@ by its user id, @ADMIN@ by
 * the admin key.  The seed corpus (fuzz/corpus/http) has a request of every
 * route.
 *
 * The plugins come from the build tree: $SESAME_TEST_PLUGINS,
 * $SESAME_TEST_FIXTURES and $SESAME_TEST_STORES when set (as make check sets
 * them), else found from this program's own path (BUILDDIR/fuzz/fuzz-http).
 * Run with -close_fd_mask=2: the server logs every request on stderr.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"

#define ADMIN_KEY "fuzz-admin-key-0123456789"
#define HMAC_SECRET "fuzz-hmac-secret-0123456789abcdef"
#define ANSWER_WAIT 10 /* seconds: far more than any request of this configuration takes */
#define LARGEST_INPUT (256 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];
/* The real stderr: -close_fd_mask=2 sends fd 2 to /dev/null after
 * LLVMFuzzerInitialize, and the server's request log with it. */
static int diag = 2;
static struct server srv;
static struct sockaddr_in server_addr;
static unsigned connections;

static void die(const char *what)
{
	dprintf(diag, "fuzz-http: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
	abort();
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		die(path);
	close(fd);
}

/* Copy FROM/NAME.so into the private plugin directory. */
static void copy_plugin(const char *from, const char *name)
{
	char src[PATH_MAX], dst[PATH_MAX], buf[65536];
	int in, out;
	ssize_t n;

	snprintf(src, sizeof(src), "%s/%s.so", from, name);
	snprintf(dst, sizeof(dst), "%s/plugins/%s.so", dir, name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		die(src);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die(dst);
	close(in);
	close(out);
}

/* $NAME, or BUILDDIR/RELATIVE with BUILDDIR the parent of this program's directory. */
static void build_dir(const char *name, const char *relative, char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (getenv(name)) {
		snprintf(out, size, "%s", getenv(name));
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		die("cannot find the build tree (set SESAME_TEST_PLUGINS, SESAME_TEST_FIXTURES, SESAME_TEST_STORES)");
	exe[n] = '\0';
	snprintf(out, size, "%s/../%s", dirname(exe), relative);
}

static void configure(void)
{
	char plugins[PATH_MAX], fixtures[PATH_MAX], stores[PATH_MAX], path[PATH_MAX], text[4096];
	static const char *const real[] = {"anon-user", "custom-token", "local-userpass", "api-key", "oauth2-google"};
	size_t i;

	build_dir("SESAME_TEST_PLUGINS", "plugins/providers/.libs", plugins, sizeof(plugins));
	build_dir("SESAME_TEST_FIXTURES", "tests/fixtures/.libs", fixtures, sizeof(fixtures));
	build_dir("SESAME_TEST_STORES", "plugins/stores/.libs", stores, sizeof(stores));
	snprintf(dir, sizeof(dir), "%s/sesame-fuzz-http-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/plugins", dir);
	if (mkdir(path, 0755) != 0)
		die(path);
	snprintf(path, sizeof(path), "%s/providers.d", dir);
	if (mkdir(path, 0755) != 0)
		die(path);
	for (i = 0; i < ARRAY_SIZE(real); i++)
		copy_plugin(plugins, real[i]);
	copy_plugin(fixtures, "fixture-good");

	/* Limits generous enough that throttles do not hide the handlers, no
	 * per-address cap (inputs come from rotating loopback addresses
	 * anyway).  A thread per connection, as sesamed runs by default (with
	 * libmicrohttpd 0.9.75's epoll pool a client's half-close after a
	 * keep-alive answer goes unnoticed until the idle timeout). */
	snprintf(
	    text, sizeof(text),
	    "{\"app_id\": \"fuzz-app\", \"plugin_dir\": \"%s/plugins\", \"store_dir\": \"%s\",\n"
	    " \"provider_dirs\": [\"%s/providers.d\"], \"state_dir\": \"%s\",\n"
	    " \"public_url\": \"https://auth.example.test\", \"test_mode\": true, \"admin_key\": \"" ADMIN_KEY
	    "\",\n"
	    " \"cors_origins\": [\"https://app.example.test\"],\n"
	    " \"daemon\": {\"max_body_bytes\": 65536, \"login_failures_per_minute\": 100000,\n"
	    "   \"anon_logins_per_minute\": 100000, \"max_connections_per_address\": 0,\n"
	    "   \"weblogin_starts_per_minute\": 100000, \"weblogin_per_address\": 1024, \"request_timeout\": 60}}\n",
	    dir, stores, dir, dir);
	snprintf(path, sizeof(path), "%s/sesame.json", dir);
	write_file(path, text);
	snprintf(path, sizeof(path), "%s/providers.d/alpha.json", dir);
	write_file(path, "{\"type\": \"fixture-good\"}");
	snprintf(path, sizeof(path), "%s/providers.d/anon-user.json", dir);
	write_file(path, "{\"type\": \"anon-user\"}");
	snprintf(path, sizeof(path), "%s/providers.d/jwt.json", dir);
	write_file(path,
		   "{\"type\": \"custom-token\", \"config\": {\"signing_keys\": [{\"alg\": \"HS256\", \"kid\": "
		   "\"k1\", \"key\": \"" HMAC_SECRET "\"}], \"leeway\": 60}}");
	snprintf(path, sizeof(path), "%s/providers.d/local-userpass.json", dir);
	write_file(path,
		   "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, "
		   "\"scrypt\": {\"log2_n\": 10, \"r\": 1, \"p\": 1}}}");
	snprintf(path, sizeof(path), "%s/providers.d/api-key.json", dir);
	write_file(path, "{\"type\": \"api-key\"}");
	/* Loopback endpoints where nothing listens: refused at once. */
	snprintf(path, sizeof(path), "%s/providers.d/google.json", dir);
	write_file(path,
		   "{\"type\": \"oauth2-google\", \"config\": {\"client_ids\": [\"web-client\"], "
		   "\"client_secret\": \"google-secret\", \"redirect_uris\": [\"https://app.example.test/done\"], "
		   "\"jwks_uri\": \"http://127.0.0.1:9/jwks\", \"token_uri\": \"http://127.0.0.1:9/token\"}}");
}

/* Remove the private directory (files, then the folders). */
static void remove_dir(void)
{
	char cmd[PATH_MAX + 32];

	if (!dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		dprintf(diag, "fuzz-http: could not remove %s\n", dir);
}

static void shutdown_server(void)
{
	if (srv.mhd)
		server_stop(&srv);
	remove_dir();
}

/* ---- one exchange ------------------------------------------------------------ */

/* Send `len` bytes on a new connection, close the write side, and read the
 * answer until the server closes (into `out`, at most `size` - 1 bytes,
 * NUL-terminated; the rest is read and dropped). */
static size_t exchange(const char *req, size_t len, char *out, size_t size)
{
	struct sockaddr_in from = {.sin_family = AF_INET};
	struct timeval tv = {ANSWER_WAIT, 0};
	size_t got = 0, off = 0;
	char sink[4096];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	/* 127.0.0.1 to 127.0.0.64 in turn: fewer ports in TIME_WAIT per address. */
	from.sin_addr.s_addr = htonl(0x7f000001u + connections++ % 64);
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0)
		die("bind");
	if (connect(fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) != 0) {
		struct pollfd p = {fd, POLLOUT, 0};
		socklen_t sl = sizeof(int);
		int soerr = 0, ready = -1;

		/* Interrupted (libFuzzer's timer), the connection completes
		 * on its own: wait for it. */
		while (errno == EINTR && (ready = poll(&p, 1, ANSWER_WAIT * 1000)) < 0)
			;
		if (ready != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
			die("connect to the server");
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR) /* libFuzzer's timer: -timeout */
			continue;
		if (n <= 0)
			break; /* the server closed early (a refused request): fine */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		char *at = got + 1 < size ? out + got : sink;
		size_t room = got + 1 < size ? size - 1 - got : sizeof(sink);
		ssize_t n = recv(fd, at, room, 0);

		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			dprintf(diag, "fuzz-http: no answer within %d s: %s\n", ANSWER_WAIT, strerror(errno));
			abort();
		}
		if (at != sink)
			got += (size_t)n;
	}
	if (size)
		out[got] = '\0';
	close(fd);
	return got;
}

/*
 * Wait until the server has closed every connection and joined their
 * threads.  A connection's thread frees its thread-local state (OpenSSL's
 * random generators, error queue) as it exits; a leak check made while it
 * is still exiting would report that memory as lost.
 */
static void wait_server_idle(void)
{
	struct timespec pause = {0, 100000}; /* 0.1 ms */
	long i;

	for (i = 0; i < ANSWER_WAIT * 10000L; i++) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (!info || info->num_connections == 0)
			return;
		nanosleep(&pause, NULL);
	}
	dprintf(diag, "fuzz-http: a connection stayed open %d s after its client closed\n", ANSWER_WAIT);
	abort();
}

/* ---- placeholders ------------------------------------------------------------ */

struct session {
	char access[2048], refresh[2048], user[32];
};

/* The string value of "key" in a flat JSON text, copied into `out`. */
static bool json_member(const char *text, const char *key, char *out, size_t size)
{
	json_t *v = json_loads(text, 0, NULL);
	const char *s = json_string_value(json_object_get(v, key));
	bool ok = s && strlen(s) < size;

	if (ok)
		memcpy(out, s, strlen(s) + 1);
	json_decref(v);
	return ok;
}

/* A new anonymous session; false when the server refused it (an input may
 * have moved the test clock or filled something up). */
static bool anonymous_login(struct session *s)
{
	static const char req[] =
	    "POST /api/client/v2.0/app/fuzz-app/auth/providers/anon-user/login HTTP/1.1\r\n"
	    "Host: fuzz\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}";
	char answer[16384], *body;

	exchange(req, sizeof(req) - 1, answer, sizeof(answer));
	body = strstr(answer, "\r\n\r\n");
	return body && strncmp(answer, "HTTP/1.1 200 ", 13) == 0 &&
	       json_member(body + 4, "access_token", s->access, sizeof(s->access)) &&
	       json_member(body + 4, "refresh_token", s->refresh, sizeof(s->refresh)) &&
	       json_member(body + 4, "user_id", s->user, sizeof(s->user));
}

/* `in` with every placeholder replaced, malloc'd (length in *len). */
static char *substitute(const uint8_t *in, size_t n, const struct session *s, size_t *len)
{
	const struct {
		const char *name, *value;
	} marks[] = {{"@ACCESS@", s->access}, {"@REFRESH@", s->refresh}, {"@USER@", s->user}, {"@ADMIN@", ADMIN_KEY}};
	size_t cap = n + 1, o = 0, i = 0, k;
	char *out = malloc(cap);

	if (!out)
		die("malloc");
	while (i < n) {
		for (k = 0; k < ARRAY_SIZE(marks); k++)
			if (n - i >= strlen(marks[k].name) && memcmp(in + i, marks[k].name, strlen(marks[k].name)) == 0)
				break;
		if (k == ARRAY_SIZE(marks)) {
			out[o++] = (char)in[i++];
		} else {
			size_t vlen = strlen(marks[k].value);

			if (o + vlen + (n - i) + 1 > cap) {
				cap = o + vlen + (n - i) + 1;
				out = realloc(out, cap);
				if (!out)
					die("realloc");
			}
			memcpy(out + o, marks[k].value, vlen);
			o += vlen;
			i += strlen(marks[k].name);
		}
		if (o + 1 > cap)
			die("substitute");
	}
	*len = o;
	return out;
}

static bool has_placeholder(const uint8_t *data, size_t size)
{
	return memmem(data, size, "@ACCESS@", 8) || memmem(data, size, "@REFRESH@", 9) ||
	       memmem(data, size, "@USER@", 6);
}

/* ---- libFuzzer ------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct app *a;
	sesame_error err;
	char path[PATH_MAX];
	const char *port;
	int rc;

	(void)argc;
	(void)argv;
	diag = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (diag < 0)
		diag = 2;
	signal(SIGPIPE, SIG_IGN);
	configure();
	snprintf(path, sizeof(path), "%s/sesame.json", dir);
	rc = app_load(path, "127.0.0.1:0", 0, &a, &err);
	if (rc == 0)
		rc = server_start(&srv, a, &err);
	if (rc != 0) {
		dprintf(diag, "fuzz-http: sesamed does not start: %s\n", err.text);
		remove_dir();
		abort();
	}
	atexit(shutdown_server);
	port = strrchr(srv.url, ':');
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t)strtoul(port + 1, NULL, 10));
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session s = {"none", "none", "000000000000000000000000"};
	char answer[4096];
	size_t len;
	char *req;

	if (size > LARGEST_INPUT)
		return 0;
	if (has_placeholder(data, size))
		anonymous_login(&s);
	req = substitute(data, size, &s, &len);
	exchange(req, len, answer, sizeof(answer));
	free(req);
	wait_server_idle();
	return 0;
}
