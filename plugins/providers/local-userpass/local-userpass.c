/*
 * plugins/providers/local-userpass/local-userpass.c — the email/password
 * provider.  Accounts live in the host key/value store:
 *
 *   "user:CANON"  {"email" (as registered: where mail goes), "hash" (scrypt
 *                 PHC, host->password_hash), "confirmed", "failures",
 *                 "failures_since"}
 *   "token:ID"    {"email": CANON, "purpose": "confirm"|"reset", "hash":
 *                 SHA-256 of the token}, expiring after token_ttl
 *
 * CANON, the form that decides uniqueness, is the whole address with ASCII
 * letters lower-cased; addresses with other than printable ASCII are
 * refused, so no Unicode variant of an address can exist.  The identity id
 * is CANON.  Tokens are single use (deleted when used), hashed at rest and
 * delivered by a configured program that gets {email, token, tokenId} on
 * its standard input.  A "call" program (confirm_call_command,
 * reset_call_command) gets the same, plus the client's "arguments" for a
 * reset, and decides: {"status": "success"|"pending"|"fail"} on stdout.
 * See sesame-local-userpass(5).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sesame/provider.h>

#define MIN_PASSWORD	     6
#define MAX_PASSWORD	     128
#define MAX_EMAIL	     254
#define KV_KEY_SIZE	     300
#define TOKEN_BYTES	     32
#define TOKEN_ID_BYTES	     12
#define DEFAULT_TOKEN_TTL    1800
#define DEFAULT_MAX_FAILURES 10
#define FAILURE_WINDOW	     900
#define MAX_ARGS	     32
#define PROGRAM_TIMEOUT_MS   10000
#define MAX_CALL_OUTPUT	     4096

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
	bool auto_confirm;
	char **confirm_command; /* NULL-terminated argv, or NULL */
	char **reset_command;
	char **confirm_call_command; /* programs that decide: success, pending or fail */
	char **reset_call_command;
	int64_t token_ttl;
	unsigned log2_n, r, p;
	unsigned max_failures;
	char *dummy; /* a hash of a random password: unknown users cost a KDF run too */
};

static void argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static void state_free(struct state *st)
{
	if (!st)
		return;
	argv_free(st->confirm_command);
	argv_free(st->reset_command);
	argv_free(st->confirm_call_command);
	argv_free(st->reset_call_command);
	free(st->dummy);
	free(st);
}

/* ---- configuration ----------------------------------------------------------- */

static int config_argv(const struct sesame_host *h, const json_t *v, const char *key, char ***out, sesame_error *err)
{
	size_t i, n = json_array_size(v);
	json_t *a;

	*out = NULL;
	if (!v)
		return SESAME_OK;
	if (!json_is_array(v) || n == 0 || n > MAX_ARGS)
		return h->error(err, SESAME_CONFIG, key, "%s must be an array of 1 to %d strings", key, MAX_ARGS);
	if (!(*out = calloc(n + 1, sizeof(**out))))
		return h->error(err, SESAME_CONFIG, "memory", "out of memory");
	json_array_foreach(v, i, a) {
		if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a))
			return h->error(err, SESAME_CONFIG, key, "%s[%zu] must be a string without NUL", key, i);
		if (!((*out)[i] = strdup(json_string_value(a))))
			return h->error(err, SESAME_CONFIG, "memory", "out of memory");
	}
	if ((*out)[0][0] != '/')
		return h->error(err, SESAME_CONFIG, key, "%s[0] must be an absolute path", key);
	return SESAME_OK;
}

static int config_uint(const struct sesame_host *h, const json_t *obj, const char *key, json_int_t min, json_int_t max,
		       json_int_t def, json_int_t *out, sesame_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = def;
	if (!v)
		return SESAME_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return h->error(err, SESAME_CONFIG, key, "%s must be an integer from %lld to %lld", key, (long long)min,
				(long long)max);
	*out = json_integer_value(v);
	return SESAME_OK;
}

static int config_scrypt(struct state *st, const json_t *v, sesame_error *err)
{
	json_int_t n, r, p;
	const char *key;
	json_t *m;
	int rc;

	if (v && !json_is_object(v))
		return st->host->error(err, SESAME_CONFIG, "scrypt", "scrypt must be {\"log2_n\", \"r\", \"p\"}");
	json_object_foreach((json_t *)v, key, m)
		if (strcmp(key, "log2_n") != 0 && strcmp(key, "r") != 0 && strcmp(key, "p") != 0)
			return st->host->error(err, SESAME_CONFIG, "scrypt", "unknown key \"scrypt.%s\"", key);
	rc = config_uint(st->host, v, "log2_n", 10, 20, 17, &n, err);
	if (rc == SESAME_OK)
		rc = config_uint(st->host, v, "r", 1, 32, 8, &r, err);
	if (rc == SESAME_OK)
		rc = config_uint(st->host, v, "p", 1, 16, 1, &p, err);
	st->log2_n = (unsigned)n;
	st->r = (unsigned)r;
	st->p = (unsigned)p;
	return rc;
}

static int dummy_hash(struct state *st, sesame_error *err)
{
	unsigned char pw[16];
	int rc;

	if (st->host->random(pw, sizeof(pw)) != SESAME_OK)
		return st->host->error(err, SESAME_CONFIG, "random", "no randomness");
	rc = st->host->password_hash(st->self, (const char *)pw, sizeof(pw), st->log2_n, st->r, st->p, &st->dummy, err);
	st->host->wipe(pw, sizeof(pw));
	return rc == SESAME_OK ? SESAME_OK : SESAME_CONFIG;
}

static int lp_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		   sesame_error *err)
{
	static const char *const known[] = {"auto_confirm",	"confirm_command", "reset_command", "confirm_call_command",
					    "reset_call_command", "token_ttl",	     "scrypt",	      "max_failures",
					    NULL};
	struct state *st;
	json_int_t ttl = 0, fails = 0;
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	if (!SESAME_HAS_FIELD(struct sesame_host, end_sessions, host->struct_size) || !host->end_sessions ||
	    !host->password_hash || !host->password_verify || !host->kv_get || !host->sha256)
		return host->error(err, SESAME_CONFIG, "abi", "local-userpass needs a sesame core with password services");
	json_object_foreach((json_t *)config, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return host->error(err, SESAME_CONFIG, "config",
					   "unknown key \"%s\" (local-userpass knows auto_confirm, confirm_command, "
					   "reset_command, confirm_call_command, reset_call_command, token_ttl, "
					   "scrypt, max_failures)",
					   key);
	}
	v = json_object_get(config, "auto_confirm");
	if (v && !json_is_boolean(v))
		return host->error(err, SESAME_CONFIG, "auto_confirm", "auto_confirm must be true or false");
	if (!(st = calloc(1, sizeof(*st))))
		return host->error(err, SESAME_CONFIG, "memory", "out of memory");
	st->host = host;
	st->self = self;
	st->auto_confirm = json_is_true(v);
	rc = config_argv(host, json_object_get(config, "confirm_command"), "confirm_command", &st->confirm_command, err);
	if (rc == SESAME_OK)
		rc = config_argv(host, json_object_get(config, "reset_command"), "reset_command", &st->reset_command, err);
	if (rc == SESAME_OK)
		rc = config_argv(host, json_object_get(config, "confirm_call_command"), "confirm_call_command",
				 &st->confirm_call_command, err);
	if (rc == SESAME_OK)
		rc = config_argv(host, json_object_get(config, "reset_call_command"), "reset_call_command",
				 &st->reset_call_command, err);
	if (rc == SESAME_OK && st->auto_confirm == (st->confirm_command || st->confirm_call_command))
		rc = host->error(err, SESAME_CONFIG, "confirm_command",
				 "set exactly one of auto_confirm: true and confirm_command (or confirm_call_command)");
	if (rc == SESAME_OK)
		rc = config_uint(host, config, "token_ttl", 60, 7 * 86400, DEFAULT_TOKEN_TTL, &ttl, err);
	if (rc == SESAME_OK)
		rc = config_uint(host, config, "max_failures", 1, 1000, DEFAULT_MAX_FAILURES, &fails, err);
	if (rc == SESAME_OK)
		rc = config_scrypt(st, json_object_get(config, "scrypt"), err);
	st->token_ttl = ttl;
	st->max_failures = (unsigned)fails;
	if (rc == SESAME_OK)
		rc = dummy_hash(st, err);
	if (rc != SESAME_OK) {
		state_free(st);
		return rc;
	}
	*state = st;
	return SESAME_OK;
}

static void lp_fini(void *state)
{
	state_free(state);
}

/* ---- input rules ---------------------------------------------------------------- */

/* The canonical form of an email address into `out`, or MALFORMED. */
static int canonical_email(const struct state *st, const json_t *v, char out[MAX_EMAIL + 1], sesame_error *err)
{
	const char *s = json_string_value(v), *at;
	size_t i, n = json_string_length(v);

	if (!s || n < 3 || n > MAX_EMAIL || strlen(s) != n)
		return st->host->error(err, SESAME_MALFORMED, "email", "an email address of 3 to %d bytes is required",
				       MAX_EMAIL);
	at = strchr(s, '@');
	if (!at || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return st->host->error(err, SESAME_MALFORMED, "email", "the email address must be local@domain");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return st->host->error(err, SESAME_MALFORMED, "email",
					       "the email address must be printable ASCII without spaces");
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = '\0';
	return SESAME_OK;
}

/* A password of 6 to 128 characters (UTF-8 code points), no NUL. */
static int check_password(const struct state *st, const json_t *v, sesame_error *err)
{
	const char *s = json_string_value(v);
	size_t i, chars = 0, n = json_string_length(v);

	if (!s)
		return st->host->error(err, SESAME_MALFORMED, "password", "a password is required");
	if (strlen(s) != n)
		return st->host->error(err, SESAME_MALFORMED, "password", "the password contains a NUL character");
	for (i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	if (chars < MIN_PASSWORD || chars > MAX_PASSWORD)
		return st->host->error(err, SESAME_MALFORMED, "password", "password must be between %d and %d characters",
				       MIN_PASSWORD, MAX_PASSWORD);
	return SESAME_OK;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int token_hash(const struct state *st, const char *token, char out[65], sesame_error *err)
{
	unsigned char d[32];

	if (st->host->sha256(token, strlen(token), d) != SESAME_OK)
		return st->host->error(err, SESAME_INTERNAL, "hash", "cannot hash the token");
	hex(d, sizeof(d), out);
	return SESAME_OK;
}

/* ---- delivering tokens -------------------------------------------------------- */

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is there on non-blocking `fd` into out[*off..size); past
 * that, read and drop it (so the writer never blocks), counting it in *off.
 * True at end of file. */
static bool drain(int fd, char *out, size_t size, size_t *off)
{
	char sink[512];
	ssize_t n;

	for (;;) {
		n = *off < size ? read(fd, out + *off, size - *off) : read(fd, sink, sizeof(sink));
		if (n > 0)
			*off = *off < size ? *off + (size_t)n : size;
		else if (!(n < 0 && errno == EINTR))
			return n == 0;
	}
}

/* Run `argv` with `input` on stdin (an in-memory file), a clean
 * environment and no other descriptor; SESAME_OK when it exits 0.  With
 * `out`, its standard output (a pipe; at most `out_size` - 1 bytes, more is
 * refused) is kept there, NUL-terminated; otherwise it goes to /dev/null.
 * `what` names the program in errors. */
static int run_program(const struct state *st, char *const *argv, const char *input, const char *what, char *out,
		       size_t out_size, sesame_error *err)
{
	static char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	int in = memfd_create("sesame-token", MFD_CLOEXEC), null = open("/dev/null", O_RDWR | O_CLOEXEC), status = 0;
	int pipefd[2] = {-1, -1}, res = null;
	size_t len = strlen(input), off = 0;
	int64_t deadline = monotonic_ms() + PROGRAM_TIMEOUT_MS;
	pid_t pid = -1, w = 0;
	ssize_t n = 0;
	bool eof = false;

	if (out && pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == 0)
		res = pipefd[1];
	else if (out)
		res = -1;
	while (in >= 0 && off < len && ((n = write(in, input + off, len - off)) > 0 || errno == EINTR))
		off += n > 0 ? (size_t)n : 0;
	if (in >= 0 && null >= 0 && res >= 0 && off == len && lseek(in, 0, SEEK_SET) == 0 && (pid = fork()) == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		/* The pipe's end is blocking for the program. */
		if (dup2(in, 0) == 0 && dup2(res, 1) == 1 && dup2(null, 2) == 2 &&
		    (!out || fcntl(1, F_SETFL, 0) == 0)) {
#ifdef SYS_close_range
			syscall(SYS_close_range, 3U, ~0U, 0);
#endif
			execve(argv[0], argv, env);
		}
		_exit(127);
	}
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	off = 0;
	if (pid > 0) {
		setpgid(pid, pid);
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 && monotonic_ms() < deadline) {
			if (out && !eof) {
				poll(&(struct pollfd){.fd = pipefd[0], .events = POLLIN}, 1, 10);
				eof = drain(pipefd[0], out, out_size, &off);
			} else {
				nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
			}
		}
		kill(-pid, SIGKILL);
		if (w == 0)
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
	}
	if (out && pipefd[0] >= 0 && !eof)
		drain(pipefd[0], out, out_size, &off);
	if (in >= 0)
		close(in);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (null >= 0)
		close(null);
	if (pid <= 0 || w <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return st->host->error(err, SESAME_UNAVAILABLE, what, "%s did not %s", argv[0],
				       out ? "answer" : "deliver the token");
	if (out && off >= out_size)
		return st->host->error(err, SESAME_REJECTED, what, "%s answered too much", argv[0]);
	if (out)
		out[off] = '\0';
	return SESAME_OK;
}

/* The decision in a call program's answer: true for "success", false with
 * *pending for "pending"; "fail" and anything else refused. */
static int call_answer(const struct state *st, const char *prog, const char *out, bool *pending, sesame_error *err)
{
	json_t *a = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
	const char *status = json_string_value(json_object_get(a, "status"));
	int rc = SESAME_OK;

	*pending = false;
	if (!json_is_object(a) || !status)
		rc = st->host->error(err, SESAME_REJECTED, "call", "%s gave no {\"status\": ...} answer", prog);
	else if (strcmp(status, "pending") == 0)
		*pending = true;
	else if (strcmp(status, "fail") == 0)
		rc = st->host->error(err, SESAME_REJECTED, "call", "refused");
	else if (strcmp(status, "success") != 0)
		rc = st->host->error(err, SESAME_REJECTED, "call", "%s gave an unknown status", prog);
	json_decref(a);
	return rc;
}

/* Make a token for `canon`, keep its hash, and hand it to `argv`.  With
 * `pending`, `argv` is a call program (given `arguments` too, if any): the
 * token stays only when it answers "pending" (*pending true); after
 * "success" (*pending false) the caller completes the flow at once. */
static int send_token(const struct state *st, char *const *argv, const char *purpose, const char *canon,
		      const char *email, const json_t *arguments, bool *pending, sesame_error *err)
{
	char answer[MAX_CALL_OUTPUT];
	const struct sesame_host *h = st->host;
	unsigned char b[TOKEN_BYTES + TOKEN_ID_BYTES];
	char token[2 * TOKEN_BYTES + 1], id[2 * TOKEN_ID_BYTES + 1], hash[65], kvkey[KV_KEY_SIZE], *text = NULL;
	json_t *rec = NULL, *msg = NULL;
	int rc;

	if (h->random(b, sizeof(b)) != SESAME_OK)
		return h->error(err, SESAME_INTERNAL, "random", "no randomness");
	hex(b, TOKEN_BYTES, token);
	hex(b + TOKEN_BYTES, TOKEN_ID_BYTES, id);
	h->wipe(b, sizeof(b));
	rc = token_hash(st, token, hash, err);
	if (rc == SESAME_OK) {
		rec = json_pack("{s:s, s:s, s:s}", "email", canon, "purpose", purpose, "hash", hash);
		snprintf(kvkey, sizeof(kvkey), "token:%s", id);
		rc = rec ? h->kv_put(st->self, kvkey, rec, NULL, h->now(st->self) + st->token_ttl, SESAME_KV_CREATE, err)
			 : h->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc == SESAME_OK) {
		msg = json_pack("{s:s, s:s, s:s}", "email", email, "token", token, "tokenId", id);
		if (msg && arguments)
			json_object_set_new(msg, "arguments", json_deep_copy(arguments));
		text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
		rc = !text	? h->error(err, SESAME_INTERNAL, "memory", "out of memory")
		     : pending ? run_program(st, argv, text, "call", answer, sizeof(answer), err)
				: run_program(st, argv, text, "sender", NULL, 0, err);
		if (rc == SESAME_OK && pending)
			rc = call_answer(st, argv[0], answer, pending, err);
		/* Only a delivered token, or one a call program left pending, stays. */
		if (rc != SESAME_OK || (pending && !*pending)) {
			sesame_error ignored;

			h->kv_delete(st->self, kvkey, &ignored);
		}
	}
	if (text) {
		json_free_t release;

		h->wipe(text, strlen(text));
		/* jansson's text goes back to jansson's free function: the
		 * application may have replaced its allocator. */
		json_get_alloc_funcs(NULL, &release);
		release(text);
	}
	h->wipe(token, sizeof(token));
	json_decref(msg);
	json_decref(rec);
	return rc;
}

/* Use (and so delete) token `id` of `purpose`; its account's CANON. */
static int use_token(const struct state *st, const json_t *args, const char *purpose, char canon[MAX_EMAIL + 1],
		     sesame_error *err)
{
	const struct sesame_host *h = st->host;
	const char *token = json_string_value(json_object_get(args, "token"));
	const char *id = json_string_value(json_object_get(args, "tokenId"));
	const char *stored, *email;
	char kvkey[KV_KEY_SIZE], hash[65];
	json_t *rec = NULL;
	int rc, ok;

	if (!token || !id || strlen(id) != 2 * TOKEN_ID_BYTES || strlen(token) != 2 * TOKEN_BYTES)
		return h->error(err, SESAME_REJECTED, "token", "invalid token data");
	snprintf(kvkey, sizeof(kvkey), "token:%s", id);
	rc = h->kv_get(st->self, kvkey, &rec, err);
	if (rc == SESAME_NOT_FOUND)
		return h->error(err, SESAME_REJECTED, "token", "invalid token data");
	if (rc == SESAME_OK)
		rc = token_hash(st, token, hash, err);
	stored = json_string_value(json_object_get(rec, "hash"));
	email = json_string_value(json_object_get(rec, "email"));
	ok = rc == SESAME_OK && stored && strlen(stored) == 64 && h->ct_equal(stored, hash, 64) && email &&
	     strlen(email) <= MAX_EMAIL && strcmp(json_string_value(json_object_get(rec, "purpose")) ?: "", purpose) == 0;
	/* Single use: whoever deletes it first used it. */
	if (rc == SESAME_OK && ok && h->kv_delete(st->self, kvkey, err) != SESAME_OK)
		ok = 0;
	if (rc == SESAME_OK && !ok)
		rc = h->error(err, SESAME_REJECTED, "token", "invalid token data");
	if (rc == SESAME_OK)
		memcpy(canon, email, strlen(email) + 1);
	json_decref(rec);
	return rc;
}

/* ---- accounts -------------------------------------------------------------------- */

static int account_get(const struct state *st, const char *canon, json_t **rec, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	int rc;

	snprintf(kvkey, sizeof(kvkey), "user:%s", canon);
	rc = st->host->kv_get(st->self, kvkey, rec, err);
	if (rc == SESAME_NOT_FOUND)
		return st->host->error(err, SESAME_NOT_FOUND, "user", "user not found");
	return rc;
}

static int account_put(const struct state *st, const char *canon, const json_t *rec, unsigned flags,
		       sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];

	snprintf(kvkey, sizeof(kvkey), "user:%s", canon);
	return st->host->kv_put(st->self, kvkey, rec, NULL, 0, flags, err);
}

/* Ask confirm_call_command about account `canon` (record `rec`): confirmed
 * now after "success", still pending after "pending". */
static int confirm_call(const struct state *st, const char *canon, json_t *rec, sesame_error *err)
{
	bool pending = false;
	int rc = send_token(st, st->confirm_call_command, "confirm", canon,
			    json_string_value(json_object_get(rec, "email")), NULL, &pending, err);

	if (rc == SESAME_OK && !pending) {
		json_object_set_new(rec, "confirmed", json_true());
		rc = account_put(st, canon, rec, 0, err);
	}
	return rc;
}

static int do_register(const struct state *st, const json_t *args, sesame_error *err)
{
	const json_t *email = json_object_get(args, "email"), *pw = json_object_get(args, "password");
	char canon[MAX_EMAIL + 1], *phc = NULL;
	json_t *rec = NULL;
	int rc = canonical_email(st, email, canon, err);

	if (rc == SESAME_OK)
		rc = check_password(st, pw, err);
	if (rc == SESAME_OK)
		rc = st->host->password_hash(st->self, json_string_value(pw), json_string_length(pw), st->log2_n, st->r,
					     st->p, &phc, err);
	if (rc == SESAME_OK) {
		rec = json_pack("{s:O, s:s, s:b, s:i, s:i}", "email", email, "hash", phc, "confirmed", st->auto_confirm,
				"failures", 0, "failures_since", 0);
		rc = rec ? account_put(st, canon, rec, SESAME_KV_CREATE, err)
			 : st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
		if (rc == SESAME_CONFLICT)
			rc = st->host->error(err, SESAME_CONFLICT, "name-in-use", "name already in use");
	}
	if (rc == SESAME_OK && !st->auto_confirm) {
		rc = st->confirm_command ? send_token(st, st->confirm_command, "confirm", canon, json_string_value(email), NULL,
					      NULL, err)
					 : confirm_call(st, canon, rec, err);
		/* A call program's refusal leaves no account behind. */
		if (rc != SESAME_OK && !st->confirm_command) {
			char kvkey[KV_KEY_SIZE];
			sesame_error ignored;

			snprintf(kvkey, sizeof(kvkey), "user:%s", canon);
			st->host->kv_delete(st->self, kvkey, &ignored);
		}
	}
	free(phc);
	json_decref(rec);
	return rc;
}

static int do_confirm(const struct state *st, const json_t *args, sesame_error *err)
{
	char canon[MAX_EMAIL + 1];
	json_t *rec = NULL;
	int rc = use_token(st, args, "confirm", canon, err);

	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(rec, "confirmed")))
		rc = st->host->error(err, SESAME_CONFLICT, "already-confirmed", "user already confirmed");
	if (rc == SESAME_OK) {
		json_object_set_new(rec, "confirmed", json_true());
		rc = account_put(st, canon, rec, 0, err);
	}
	json_decref(rec);
	return rc;
}

static int do_confirm_send(const struct state *st, const json_t *args, sesame_error *err)
{
	char canon[MAX_EMAIL + 1];
	json_t *rec = NULL;
	int rc = canonical_email(st, json_object_get(args, "email"), canon, err);

	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(rec, "confirmed")))
		rc = st->host->error(err, SESAME_CONFLICT, "already-confirmed", "user already confirmed");
	if (rc == SESAME_OK && !st->confirm_command)
		rc = st->host->error(err, SESAME_NOT_FOUND, "action", "no confirm_command is configured");
	/* Mail goes to the stored address, never to the variant just sent. */
	if (rc == SESAME_OK)
		rc = send_token(st, st->confirm_command, "confirm", canon, json_string_value(json_object_get(rec, "email")),
				NULL, NULL, err);
	json_decref(rec);
	return rc;
}

static int do_confirm_call(const struct state *st, const json_t *args, sesame_error *err)
{
	char canon[MAX_EMAIL + 1];
	json_t *rec = NULL;
	int rc = canonical_email(st, json_object_get(args, "email"), canon, err);

	if (rc == SESAME_OK && !st->confirm_call_command)
		rc = st->host->error(err, SESAME_NOT_FOUND, "action", "no confirm_call_command is configured");
	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(rec, "confirmed")))
		rc = st->host->error(err, SESAME_CONFLICT, "already-confirmed", "user already confirmed");
	if (rc == SESAME_OK)
		rc = confirm_call(st, canon, rec, err);
	json_decref(rec);
	return rc;
}

/* Set `phc` as the password of account `canon` and end its sessions. */
static int set_password(const struct state *st, const char *canon, json_t *rec, const char *phc, sesame_error *err)
{
	int rc;

	/* Receiving the reset mail proves the address: confirmed too. */
	json_object_set_new(rec, "hash", json_string(phc));
	json_object_set_new(rec, "confirmed", json_true());
	json_object_set_new(rec, "failures", json_integer(0));
	rc = account_put(st, canon, rec, 0, err);
	/* A new password ends every session opened with the old one. */
	if (rc == SESAME_OK)
		rc = st->host->end_sessions(st->self, canon, err);
	return rc;
}

/* reset/call {email, password, arguments}: the program gets the arguments,
 * never the password; the password is hashed whether or not the account
 * exists, so an unknown address costs the same. */
static int do_reset_call(const struct state *st, const json_t *args, sesame_error *err)
{
	const json_t *pw = json_object_get(args, "password"), *arguments = json_object_get(args, "arguments");
	char canon[MAX_EMAIL + 1], *phc = NULL;
	json_t *rec = NULL, *none = json_array();
	bool pending = false;
	int rc = canonical_email(st, json_object_get(args, "email"), canon, err);

	if (rc == SESAME_OK)
		rc = check_password(st, pw, err);
	if (rc == SESAME_OK && arguments && !json_is_array(arguments))
		rc = st->host->error(err, SESAME_MALFORMED, "arguments", "arguments must be an array");
	if (rc == SESAME_OK && !st->reset_call_command)
		rc = st->host->error(err, SESAME_NOT_FOUND, "action", "no reset_call_command is configured");
	if (rc == SESAME_OK && !none)
		rc = st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK)
		rc = st->host->password_hash(st->self, json_string_value(pw), json_string_length(pw), st->log2_n, st->r,
					     st->p, &phc, err);
	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK)
		rc = send_token(st, st->reset_call_command, "reset", canon,
				json_string_value(json_object_get(rec, "email")), arguments ? arguments : none, &pending,
				err);
	if (rc == SESAME_OK && !pending)
		rc = set_password(st, canon, rec, phc, err);
	free(phc);
	json_decref(none);
	json_decref(rec);
	return rc;
}

static int do_reset_send(const struct state *st, const json_t *args, sesame_error *err)
{
	char canon[MAX_EMAIL + 1];
	json_t *rec = NULL;
	int rc = canonical_email(st, json_object_get(args, "email"), canon, err);

	if (rc == SESAME_OK && !st->reset_command)
		rc = st->host->error(err, SESAME_NOT_FOUND, "action", "no reset_command is configured");
	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK)
		rc = send_token(st, st->reset_command, "reset", canon, json_string_value(json_object_get(rec, "email")),
				NULL, NULL, err);
	json_decref(rec);
	return rc;
}

static int do_reset(const struct state *st, const json_t *args, sesame_error *err)
{
	const json_t *pw = json_object_get(args, "password");
	char canon[MAX_EMAIL + 1], *phc = NULL;
	json_t *rec = NULL;
	int rc = check_password(st, pw, err);

	if (rc == SESAME_OK)
		rc = use_token(st, args, "reset", canon, err);
	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK)
		rc = st->host->password_hash(st->self, json_string_value(pw), json_string_length(pw), st->log2_n, st->r,
					     st->p, &phc, err);
	if (rc == SESAME_OK)
		rc = set_password(st, canon, rec, phc, err);
	free(phc);
	json_decref(rec);
	return rc;
}

static int lp_action(void *state, const char *name, const json_t *args, json_t **result, sesame_error *err)
{
	const struct state *st = state;

	(void)result;
	if (strcmp(name, "register") == 0)
		return do_register(st, args, err);
	if (strcmp(name, "confirm") == 0)
		return do_confirm(st, args, err);
	if (strcmp(name, "confirm/send") == 0)
		return do_confirm_send(st, args, err);
	if (strcmp(name, "confirm/call") == 0)
		return do_confirm_call(st, args, err);
	if (strcmp(name, "reset/call") == 0)
		return do_reset_call(st, args, err);
	if (strcmp(name, "reset/send") == 0)
		return do_reset_send(st, args, err);
	if (strcmp(name, "reset") == 0)
		return do_reset(st, args, err);
	return st->host->error(err, SESAME_NOT_FOUND, "action",
			       "local-userpass has no action \"%s\" (register, confirm, confirm/send, "
			       "confirm/call, reset/send, reset/call, reset)",
			       name);
}

/* ---- login ----------------------------------------------------------------------- */

/* Count a failure, or clear them after a success. */
static void note_attempt(const struct state *st, const char *canon, json_t *rec, bool failed)
{
	int64_t now = st->host->now(st->self), since = json_integer_value(json_object_get(rec, "failures_since"));
	json_int_t n = json_integer_value(json_object_get(rec, "failures"));
	sesame_error ignored;

	if (!failed && n == 0)
		return;
	if (failed && now - since >= FAILURE_WINDOW) {
		n = 0;
		json_object_set_new(rec, "failures_since", json_integer(now));
	}
	json_object_set_new(rec, "failures", json_integer(failed ? n + 1 : 0));
	account_put(st, canon, rec, 0, &ignored);
}

static bool throttled(const struct state *st, const json_t *rec)
{
	int64_t since = json_integer_value(json_object_get(rec, "failures_since"));

	return json_integer_value(json_object_get(rec, "failures")) >= st->max_failures &&
	       st->host->now(st->self) - since < FAILURE_WINDOW;
}

static int lp_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	const struct state *st = state;
	const struct sesame_host *h = st->host;
	const json_t *pw = json_object_get(credential, "password");
	char canon[MAX_EMAIL + 1], *phc = NULL;
	json_t *rec = NULL;
	int rc, match = 0, weaker = 0;
	bool known;

	rc = canonical_email(st, json_object_get(credential, "username"), canon, err);
	if (rc == SESAME_OK)
		rc = check_password(st, pw, err);
	if (rc != SESAME_OK)
		return rc;
	rc = account_get(st, canon, &rec, err);
	if (rc != SESAME_OK && rc != SESAME_NOT_FOUND)
		return rc;
	known = rc == SESAME_OK;
	if (known && throttled(st, rec)) {
		json_decref(rec);
		return h->error(err, SESAME_REJECTED, "throttled", "too many failed logins for this account; try later");
	}
	/* An unknown user costs the same KDF run as a wrong password. */
	rc = h->password_verify(st->self, json_string_value(pw), json_string_length(pw),
				known ? json_string_value(json_object_get(rec, "hash")) : st->dummy, st->log2_n, st->r,
				st->p, &match, &weaker, err);
	if (rc == SESAME_OK && (!known || !match)) {
		if (known)
			note_attempt(st, canon, rec, true);
		rc = h->error(err, SESAME_REJECTED, "password", "invalid username/password");
	}
	if (rc == SESAME_OK && !json_is_true(json_object_get(rec, "confirmed")))
		rc = h->error(err, SESAME_REJECTED, "pending", "confirmation required: confirm the email address first");
	if (rc == SESAME_OK && weaker &&
	    h->password_hash(st->self, json_string_value(pw), json_string_length(pw), st->log2_n, st->r, st->p, &phc,
			     err) == SESAME_OK)
		json_object_set_new(rec, "hash", json_string(phc));
	if (rc == SESAME_OK) {
		note_attempt(st, canon, rec, false);
		if (phc) {
			sesame_error ignored;

			account_put(st, canon, rec, 0, &ignored);
		}
		*identity = json_pack("{s:s, s:{s:O}}", "id", canon, "data", "email", json_object_get(rec, "email"));
		if (!*identity)
			rc = h->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	free(phc);
	json_decref(rec);
	return rc;
}

/* The user is gone: so is the account, and its address is free again. */
static int lp_user_deleted(void *state, const json_t *identity, sesame_error *err)
{
	const struct state *st = state;
	char kvkey[KV_KEY_SIZE];
	int rc;

	snprintf(kvkey, sizeof(kvkey), "user:%s", json_string_value(json_object_get(identity, "id")) ?: "");
	rc = st->host->kv_delete(st->self, kvkey, err);
	return rc == SESAME_NOT_FOUND ? SESAME_OK : rc;
}

/* The account's address is its profile. */
static const char *const default_metadata[] = {"email", NULL};

const struct sesame_provider sesame_provider_entry = {
	.abi_version = SESAME_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(struct sesame_provider),
	.type = "local-userpass",
	.version = "1.0.0",
	.description = "email/password accounts, scrypt hashes, confirmation and reset tokens",
	.init = lp_init,
	.verify = lp_verify,
	.fini = lp_fini,
	.action = lp_action,
	.user_deleted = lp_user_deleted,
	.capabilities = SESAME_PROVIDER_CAP_ONE_PER_USER | SESAME_PROVIDER_CAP_EMAIL_PASSWORD,
	.metadata_defaults = default_metadata,
};
