/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/local-userpass/local-userpass.c — the email/password
 * provider.  Accounts live in the host key/value store:
 *
 *   "user:CANON"  {"email" (as registered: where mail goes), "hash" (scrypt
 *                 PHC, host->password_hash), "confirmed"}
 *   "token:ID"    {"email": CANON, "purpose": "confirm"|"reset", "hash":
 *                 SHA-256 of the token}, expiring after token_ttl
 *   "current:PURPOSE:H"  the ID of the one token of PURPOSE of the address
 *                 whose CANON has the SHA-256 H (hex): a token that is not
 *                 the current one is refused, so issuing a new token
 *                 retires every earlier one
 *   "failures:H"  failed logins of the address H (existing or not), a
 *                 host->kv_add counter that restarts after FAILURE_WINDOW
 *                 seconds without a failure; past max_failures logins are
 *                 refused before any password is hashed
 *   "mails:H"     messages (mails and call programs) for the address H,
 *                 a counter that restarts an hour after the last one;
 *                 past max_mails_per_hour requests are refused
 *
 * CANON, the form that decides uniqueness, is the whole address with ASCII
 * letters lower-cased; addresses with other than printable ASCII are
 * refused, so no Unicode variant of an address can exist.  The identity id
 * is CANON.  The counters live in the store, shared by every sesamed node
 * of one database, and are keyed by a hash so that addresses nobody
 * registered are not kept in clear.  Tokens are single use (deleted when
 * used), hashed at rest and delivered by a configured program that gets
 * {email, token, tokenId} on its standard input.  A "call" program (confirm_call_command,
 * reset_call_command) gets the same, plus the client's "arguments" for a
 * reset, and decides: {"status": "success"|"pending"|"fail"} on stdout.
 * See sesame-local-userpass(5).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define MIN_PASSWORD	     6
#define MAX_PASSWORD	     128
/* "user:" + the address must fit the host's 255-byte key limit. */
#define MAX_EMAIL	     250
#define KV_KEY_SIZE	     300
#define TOKEN_BYTES	     32
#define TOKEN_ID_BYTES	     12
#define DEFAULT_TOKEN_TTL    1800
#define DEFAULT_MAX_FAILURES 100
#define FAILURE_WINDOW	     900
#define DEFAULT_MAX_MAILS    10
#define MAIL_WINDOW	     3600
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
	unsigned max_failures; /* failed logins per address across all clients */
	unsigned max_mails;    /* messages per address and hour */
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

/* How a command runs: a mailer's output is not kept, a call program's
 * answer is (at most `out_size` - 1 bytes). */
static struct sesame_program program_of(char *const *argv, size_t out_size)
{
	return (struct sesame_program){
		.struct_size = sizeof(struct sesame_program),
		.flags = out_size ? SESAME_PROGRAM_STDOUT : 0,
		.argv = (const char *const *)argv,
		.timeout_ms = PROGRAM_TIMEOUT_MS,
		.max_output = out_size ? out_size - 1 : 0,
	};
}

static int config_argv(const struct sesame_host *h, sesame_instance *self, const json_t *v, const char *key,
		       size_t out_size, char ***out, sesame_error *err)
{
	struct sesame_program prog;
	int rc;

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
	/* A missing or untrusted program stops the instance now rather than
	 * failing every registration. */
	prog = program_of(*out, out_size);
	rc = h->program_check(self, &prog, err);
	if (rc != SESAME_OK) {
		char text[SESAME_ERROR_TEXT_LENGTH];

		snprintf(text, sizeof(text), "%s", err ? err->text : "");
		return h->error(err, rc, err ? err->reason : key, "%s: %s", key, text);
	}
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
	json_int_t n = 0, r = 0, p = 0;
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
	if (rc != SESAME_OK)
		return rc;
	st->log2_n = (unsigned)n;
	st->r = (unsigned)r;
	st->p = (unsigned)p;
	return SESAME_OK;
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
	static const char *const known[] = {
	    "auto_confirm", "confirm_command", "reset_command", "confirm_call_command", "reset_call_command",
	    "token_ttl",    "scrypt",	       "max_failures",	"max_mails_per_hour",	NULL};
	struct state *st;
	json_int_t ttl = 0, fails = 0, mails = 0;
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	if (!SESAME_HAS_FIELD(struct sesame_host, kv_add, host->struct_size) || !host->kv_add || !host->end_sessions ||
	    !host->password_hash || !host->password_verify || !host->kv_get || !host->sha256)
		return host->error(err, SESAME_CONFIG, "abi",
				   "local-userpass needs a sesame core with password and counter services (ABI 1.2)");
	if (!SESAME_HAS_FIELD(struct sesame_host, kv_replace, host->struct_size) || !host->program_check ||
	    !host->program_run || !host->program_result_clear || !host->digest || !host->encode || !host->random_id ||
	    !host->kv_replace)
		return host->error(err, SESAME_CONFIG, "abi",
				   "local-userpass needs a sesame core that runs programs and offers the encoding, "
				   "digest, random id and compare-and-set services (provider ABI 1.2)");
	json_object_foreach((json_t *)config, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return host->error(err, SESAME_CONFIG, "config",
					   "unknown key \"%s\" (local-userpass knows auto_confirm, confirm_command, "
					   "reset_command, confirm_call_command, reset_call_command, token_ttl, "
					   "scrypt, max_failures, max_mails_per_hour)",
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
	rc = config_argv(host, self, json_object_get(config, "confirm_command"), "confirm_command", 0,
			 &st->confirm_command, err);
	if (rc == SESAME_OK)
		rc = config_argv(host, self, json_object_get(config, "reset_command"), "reset_command", 0,
				 &st->reset_command, err);
	if (rc == SESAME_OK)
		rc = config_argv(host, self, json_object_get(config, "confirm_call_command"), "confirm_call_command",
				 MAX_CALL_OUTPUT, &st->confirm_call_command, err);
	if (rc == SESAME_OK)
		rc = config_argv(host, self, json_object_get(config, "reset_call_command"), "reset_call_command",
				 MAX_CALL_OUTPUT, &st->reset_call_command, err);
	if (rc == SESAME_OK && st->auto_confirm == (st->confirm_command || st->confirm_call_command))
		rc = host->error(err, SESAME_CONFIG, "confirm_command",
				 "set exactly one of auto_confirm: true and confirm_command (or confirm_call_command)");
	if (rc == SESAME_OK)
		rc = config_uint(host, config, "token_ttl", 60, 7 * 86400, DEFAULT_TOKEN_TTL, &ttl, err);
	if (rc == SESAME_OK)
		rc = config_uint(host, config, "max_failures", 1, 100000, DEFAULT_MAX_FAILURES, &fails, err);
	if (rc == SESAME_OK)
		rc = config_uint(host, config, "max_mails_per_hour", 1, 1000, DEFAULT_MAX_MAILS, &mails, err);
	if (rc == SESAME_OK)
		rc = config_scrypt(st, json_object_get(config, "scrypt"), err);
	st->token_ttl = ttl;
	st->max_failures = (unsigned)fails;
	st->max_mails = (unsigned)mails;
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

/* The SHA-256 of `token` in hex. */
static int token_hash(const struct state *st, const char *token, char out[65], sesame_error *err)
{
	unsigned char d[SESAME_DIGEST_MAX];
	size_t n = 0;
	char *text = NULL;
	int rc = st->host->digest("SHA-256", token, strlen(token), d, &n, err);

	if (rc == SESAME_OK)
		rc = st->host->encode(SESAME_ENCODING_HEX, d, n, &text, err);
	if (rc == SESAME_OK && strlen(text) != 64)
		rc = st->host->error(err, SESAME_INTERNAL, "hash", "cannot hash the token");
	if (rc == SESAME_OK)
		memcpy(out, text, 65);
	st->host->free(text);
	return rc;
}

/* The store key PREFIX + the SHA-256 (hex) of `canon`: the counters and
 * token pointers of an address, which may be one nobody registered. */
static int address_key(const struct state *st, const char *prefix, const char *canon, char out[KV_KEY_SIZE],
		       sesame_error *err)
{
	char h[65];
	int rc = token_hash(st, canon, h, err);

	if (rc == SESAME_OK)
		snprintf(out, KV_KEY_SIZE, "%s%s", prefix, h);
	return rc;
}

/* Count one more of the counter PREFIX+H of `canon`, refused past `limit`
 * (SESAME_REJECTED "throttled" with `what` as the message); the counter
 * restarts `window` seconds after its last change. */
static int count_up(const struct state *st, const char *prefix, const char *canon, unsigned limit, int64_t window,
		    const char *what, sesame_error *err)
{
	char kvkey[KV_KEY_SIZE];
	int64_t n;
	int rc = address_key(st, prefix, canon, kvkey, err);

	if (rc == SESAME_OK)
		rc = st->host->kv_add(st->self, kvkey, 1, limit, st->host->now(st->self) + window, &n, err);
	if (rc == SESAME_REJECTED)
		return st->host->error(err, SESAME_REJECTED, "throttled", "%s", what);
	return rc;
}

/* Reserve a login attempt of `canon`: refused once max_failures failed
 * logins of the address (by anyone, from anywhere) are counted. */
static int failure_reserve(const struct state *st, const char *canon, sesame_error *err)
{
	return count_up(st, "failures:", canon, st->max_failures, FAILURE_WINDOW,
			"too many failed logins for this user; try again later", err);
}

/* Give back the reservation of an attempt that did not fail (the right
 * password, or no answer at all). */
static void failure_refund(const struct state *st, const char *canon)
{
	char kvkey[KV_KEY_SIZE];
	sesame_error ignored;
	int64_t n;

	if (address_key(st, "failures:", canon, kvkey, &ignored) == SESAME_OK)
		st->host->kv_add(st->self, kvkey, -1, 0, st->host->now(st->self) + FAILURE_WINDOW, &n, &ignored);
}

/* Count a message (a mail, or a call program's run) for `canon`: refused
 * past max_mails_per_hour, whether or not the address has an account. */
static int mail_reserve(const struct state *st, const char *canon, sesame_error *err)
{
	return count_up(st, "mails:", canon, st->max_mails, MAIL_WINDOW,
			"too many messages for this address; try again later", err);
}

/* Make token `id` the one current token of `purpose` for `canon`. */
static int token_make_current(const struct state *st, const char *purpose, const char *canon, const char *id,
			      sesame_error *err)
{
	char kvkey[KV_KEY_SIZE], prefix[32];
	json_t *v = json_string(id);
	int rc;

	snprintf(prefix, sizeof(prefix), "current:%s:", purpose);
	rc = v ? address_key(st, prefix, canon, kvkey, err)
	       : st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK)
		rc = st->host->kv_put(st->self, kvkey, v, NULL, st->host->now(st->self) + st->token_ttl, 0, err);
	json_decref(v);
	return rc;
}

/* Whether token `id` is the current token of `purpose` for `canon`. */
static bool token_is_current(const struct state *st, const char *purpose, const char *canon, const char *id)
{
	char kvkey[KV_KEY_SIZE], prefix[32];
	sesame_error ignored;
	json_t *v = NULL;
	bool current;

	snprintf(prefix, sizeof(prefix), "current:%s:", purpose);
	if (address_key(st, prefix, canon, kvkey, &ignored) != SESAME_OK ||
	    st->host->kv_get(st->self, kvkey, &v, &ignored) != SESAME_OK)
		return false;
	current = json_is_string(v) && strcmp(json_string_value(v), id) == 0;
	json_decref(v);
	return current;
}

/* Retire the tokens of `canon` (its account is gone). */
static void tokens_retire(const struct state *st, const char *canon)
{
	static const char *const prefixes[] = {"current:confirm:", "current:reset:"};
	char kvkey[KV_KEY_SIZE];
	sesame_error ignored;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (address_key(st, prefixes[i], canon, kvkey, &ignored) == SESAME_OK)
			st->host->kv_delete(st->self, kvkey, &ignored);
}

/* ---- delivering tokens -------------------------------------------------------- */

/* Run `argv` (a mailer, or with `out` a call program) with `input` on its
 * standard input through the core, which gives it a clean environment, an
 * unprivileged user and a timeout, and kills whatever it leaves behind.
 * SESAME_OK when it exits 0.  With `out`, its standard output (at most
 * `out_size` - 1 bytes, more is refused) is kept there, NUL-terminated.
 * `what` names the program in errors. */
static int run_program(const struct state *st, char *const *argv, const char *input, const char *what, char *out,
		       size_t out_size, sesame_error *err)
{
	struct sesame_program prog = program_of(argv, out_size);
	struct sesame_program_result r = {.struct_size = sizeof(r)};
	int rc;

	prog.input = input;
	prog.input_length = strlen(input);
	rc = st->host->program_run(st->self, &prog, &r, err);
	if (rc == SESAME_OK && r.outcome == SESAME_PROGRAM_OUTPUT_TOO_LARGE)
		rc = st->host->error(err, SESAME_REJECTED, what, "%s answered too much", argv[0]);
	else if (rc == SESAME_OK && (r.outcome != SESAME_PROGRAM_EXITED || r.code != 0))
		rc = st->host->error(err, SESAME_UNAVAILABLE, what, "%s did not %s", argv[0],
				     out ? "answer" : "deliver the token");
	else if (rc == SESAME_OK && out)
		memcpy(out, r.output, r.output_length + 1);
	st->host->program_result_clear(&r);
	return rc;
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
	char token[2 * TOKEN_BYTES + 1], id[2 * TOKEN_ID_BYTES + 1], hash[65], kvkey[KV_KEY_SIZE], *text = NULL;
	json_t *rec = NULL, *msg = NULL;
	int rc;

	if (h->random_id(token, TOKEN_BYTES) != SESAME_OK || h->random_id(id, TOKEN_ID_BYTES) != SESAME_OK)
		return h->error(err, SESAME_INTERNAL, "random", "no randomness");
	rc = token_hash(st, token, hash, err);
	if (rc == SESAME_OK) {
		rec = json_pack("{s:s, s:s, s:s}", "email", canon, "purpose", purpose, "hash", hash);
		snprintf(kvkey, sizeof(kvkey), "token:%s", id);
		rc = rec ? h->kv_put(st->self, kvkey, rec, NULL, h->now(st->self) + st->token_ttl, SESAME_KV_CREATE, err)
			 : h->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	/* From now on every earlier token of this purpose is refused. */
	if (rc == SESAME_OK)
		rc = token_make_current(st, purpose, canon, id, err);
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
	     strlen(email) <= MAX_EMAIL &&
	     strcmp(json_string_value(json_object_get(rec, "purpose")) ?: "", purpose) == 0 &&
	     token_is_current(st, purpose, email, id);
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
	/* A registration that will mail or call counts as a message to the
	 * address, before any hashing. */
	if (rc == SESAME_OK && !st->auto_confirm)
		rc = mail_reserve(st, canon, err);
	if (rc == SESAME_OK)
		rc = st->host->password_hash(st->self, json_string_value(pw), json_string_length(pw), st->log2_n, st->r,
					     st->p, &phc, err);
	if (rc == SESAME_OK) {
		rec = json_pack("{s:O, s:s, s:b}", "email", email, "hash", phc, "confirmed", st->auto_confirm);
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

	if (rc == SESAME_OK && !st->confirm_command)
		rc = st->host->error(err, SESAME_NOT_FOUND, "action", "no confirm_command is configured");
	if (rc == SESAME_OK)
		rc = mail_reserve(st, canon, err);
	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(rec, "confirmed")))
		rc = st->host->error(err, SESAME_CONFLICT, "already-confirmed", "user already confirmed");
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
		rc = mail_reserve(st, canon, err);
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
		rc = mail_reserve(st, canon, err);
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
		rc = mail_reserve(st, canon, err);
	if (rc == SESAME_OK)
		rc = account_get(st, canon, &rec, err);
	/* An address without an account gets the answer an account gets, and
	 * no mail: reset/send tells nobody which addresses are registered. */
	if (rc == SESAME_NOT_FOUND) {
		if (err)
			memset(err, 0, sizeof(*err));
		return SESAME_OK;
	}
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

/*
 * A login: the attempt is counted against the address before any hashing
 * (known or not: the same answer either way), the password checked
 * against the account's hash or a dummy one (the same work either way),
 * and the count given back unless the attempt failed, so only failed
 * logins add up to max_failures.
 */
static int lp_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	const struct state *st = state;
	const struct sesame_host *h = st->host;
	const json_t *pw = json_object_get(credential, "password");
	char canon[MAX_EMAIL + 1], *phc = NULL;
	json_t *rec = NULL;
	sesame_error ignored;
	int rc, match = 0, weaker = 0;
	bool known;

	rc = canonical_email(st, json_object_get(credential, "username"), canon, err);
	if (rc == SESAME_OK)
		rc = check_password(st, pw, err);
	if (rc == SESAME_OK)
		rc = failure_reserve(st, canon, err);
	if (rc != SESAME_OK)
		return rc;
	rc = account_get(st, canon, &rec, err);
	if (rc != SESAME_OK && rc != SESAME_NOT_FOUND) {
		failure_refund(st, canon);
		return rc;
	}
	known = rc == SESAME_OK;
	/* An unknown user costs the same KDF run as a wrong password. */
	rc = h->password_verify(st->self, json_string_value(pw), json_string_length(pw),
				known ? json_string_value(json_object_get(rec, "hash")) : st->dummy, st->log2_n, st->r,
				st->p, &match, &weaker, err);
	/* Only a wrong password (or an unknown user) keeps its count. */
	if (rc != SESAME_OK || (known && match))
		failure_refund(st, canon);
	if (rc == SESAME_OK && (!known || !match))
		rc = h->error(err, SESAME_REJECTED, "password", "invalid username/password");
	if (rc == SESAME_OK && !json_is_true(json_object_get(rec, "confirmed")))
		rc = h->error(err, SESAME_REJECTED, "pending", "confirmation required: confirm the email address first");
	/* A weaker hash is replaced now; when that fails (no memory free, say)
	 * the login stands and the next one tries again.  Only if the record
	 * is still the one read above: a reset that completed meanwhile must
	 * not get its old password back. */
	if (rc == SESAME_OK && weaker &&
	    h->password_hash(st->self, json_string_value(pw), json_string_length(pw), st->log2_n, st->r, st->p, &phc,
			     &ignored) == SESAME_OK) {
		json_t *stronger = json_deep_copy(rec);
		char kvkey[KV_KEY_SIZE];

		snprintf(kvkey, sizeof(kvkey), "user:%s", canon);
		if (stronger && json_object_set_new(stronger, "hash", json_string(phc)) == 0 &&
		    h->kv_replace(st->self, kvkey, rec, stronger, NULL, 0, &ignored) != SESAME_OK)
			h->log(st->self, SESAME_LOG_INFO, "the stronger hash of an account was not stored: %s",
			       ignored.text);
		json_decref(stronger);
	}
	if (rc == SESAME_OK) {
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
	/* Its tokens die with it: none may reach an account registered later
	 * with the same address. */
	tokens_retire(st, json_string_value(json_object_get(identity, "id")) ?: "");
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
