/* SPDX-License-Identifier: MIT */
/*
 * plugins/providers/custom-function/custom-function.c — the custom-function
 * provider: runs a configured program (an argv array, no shell) with the
 * client's credential as JSON on its standard input, and takes the
 * identity from its standard output.  The credential never appears in
 * argv or the environment.  The core runs the program (host->program_run):
 * a clean environment, no other descriptor, an unprivileged user, and no
 * process of it left once it ends.  See sesame-custom-function(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define MAX_ARGS	   64
#define MAX_ARG_LENGTH	   4096
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS	   300000
#define MAX_STDOUT	   (64 * 1024)
#define MAX_MESSAGE	   200
#define MAX_ID_LENGTH	   255
/* The largest credential, as JSON, the program gets: the host's limit on a
 * program's input (program_run() answers SESAME_USAGE beyond it). */
#define MAX_CREDENTIAL (1024 * 1024)

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
	char **argv; /* NULL-terminated */
	long timeout_ms;
	char *user; /* NULL: the core's programs.user */
};

static void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; st->argv && st->argv[i]; i++)
		free(st->argv[i]);
	free(st->argv);
	free(st->user);
	free(st);
}

static int config_command(struct state *st, const json_t *cmd, sesame_error *err)
{
	const struct sesame_host *h = st->host;
	size_t i, n = json_array_size(cmd);
	json_t *v;

	if (!json_is_array(cmd) || n == 0 || n > MAX_ARGS)
		return h->error(err, SESAME_CONFIG, "command",
				"command must be an array of 1 to %d strings, the program's absolute path first", MAX_ARGS);
	st->argv = calloc(n + 1, sizeof(*st->argv));
	if (!st->argv)
		return h->error(err, SESAME_CONFIG, "memory", "out of memory");
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v) || json_string_length(v) > MAX_ARG_LENGTH ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return h->error(err, SESAME_CONFIG, "command",
					"command[%zu] must be a string of at most %d bytes without NUL", i,
					MAX_ARG_LENGTH);
		if (!(st->argv[i] = strdup(json_string_value(v))))
			return h->error(err, SESAME_CONFIG, "memory", "out of memory");
	}
	if (st->argv[0][0] != '/')
		return h->error(err, SESAME_CONFIG, "command",
				"command[0] must be the program's absolute path (no shell, no PATH lookup), not \"%s\"",
				st->argv[0]);
	return SESAME_OK;
}

static int config_timeout(struct state *st, const json_t *v, sesame_error *err)
{
	double seconds;

	st->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!v)
		return SESAME_OK;
	seconds = json_is_number(v) ? json_number_value(v) : -1;
	if (seconds < 0.1 || seconds * 1000 > MAX_TIMEOUT_MS)
		return st->host->error(err, SESAME_CONFIG, "timeout", "timeout must be a number of seconds from 0.1 to %d",
				       MAX_TIMEOUT_MS / 1000);
	st->timeout_ms = (long)(seconds * 1000);
	return SESAME_OK;
}

static int config_user(struct state *st, const json_t *v, sesame_error *err)
{
	if (!v)
		return SESAME_OK;
	if (!json_is_string(v) || json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v))
		return st->host->error(err, SESAME_CONFIG, "user", "user must be a user name");
	st->user = strdup(json_string_value(v));
	return st->user ? SESAME_OK : st->host->error(err, SESAME_CONFIG, "memory", "out of memory");
}

/* The request verify() makes, without its input. */
static struct sesame_program program_of(const struct state *st)
{
	return (struct sesame_program){
		.struct_size = sizeof(struct sesame_program),
		.flags = SESAME_PROGRAM_STDOUT | SESAME_PROGRAM_STDERR,
		.argv = (const char *const *)st->argv,
		.timeout_ms = st->timeout_ms,
		.max_output = MAX_STDOUT,
		.user = st->user,
	};
}

static int cf_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		   sesame_error *err)
{
	static const char *const known[] = {"command", "timeout", "user", NULL};
	struct state *st;
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	if (!SESAME_HAS_FIELD(struct sesame_host, program_result_clear, host->struct_size) || !host->program_check ||
	    !host->program_run || !host->program_result_clear)
		return host->error(err, SESAME_CONFIG, "abi",
				   "custom-function needs a sesame core that runs programs (provider ABI 1.2)");
	json_object_foreach((json_t *)config, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return host->error(err, SESAME_CONFIG, "config",
					   "unknown key \"%s\" (custom-function knows command, timeout, user)", key);
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_CONFIG, "memory", "out of memory");
	st->host = host;
	st->self = self;
	rc = config_command(st, json_object_get(config, "command"), err);
	if (rc == SESAME_OK)
		rc = config_timeout(st, json_object_get(config, "timeout"), err);
	if (rc == SESAME_OK)
		rc = config_user(st, json_object_get(config, "user"), err);
	if (rc == SESAME_OK) {
		struct sesame_program prog = program_of(st);

		/* A missing or untrusted program, or a bad user, stops the
		 * instance now rather than failing every login. */
		rc = host->program_check(self, &prog, err);
	}
	if (rc != SESAME_OK) {
		state_free(st);
		return rc;
	}
	*state = st;
	return SESAME_OK;
}

/* The first line of the program's stderr, printable ASCII only, capped. */
static void first_line(const struct sesame_program_result *r, char *msg, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < r->errors_length && r->errors[i] != '\n' && n + 1 < size && n < MAX_MESSAGE; i++) {
		unsigned char c = (unsigned char)r->errors[i];

		if (c >= 0x20 && c < 0x7f)
			msg[n++] = (char)c;
	}
	msg[n] = '\0';
}

/*
 * The identity in the program's output: "id", {"id"}, {"id", "name"}, each
 * object form optionally with "data", an object of further profile fields
 * (the drop-in's metadata_fields pick among them and "name").
 */
static int parse_identity(const struct state *st, const struct sesame_program_result *r, json_t **identity,
			  sesame_error *err)
{
	const struct sesame_host *h = st->host;
	json_t *v = json_loadb(r->output, r->output_length, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	json_t *id = json_is_string(v) ? v : json_object_get(v, "id"), *name = json_object_get(v, "name");
	json_t *data = json_object_get(v, "data"), *profile = NULL;
	const char *key;
	json_t *m;
	int rc = SESAME_OK;

	*identity = NULL;
	if (!v)
		return h->error(err, SESAME_REJECTED, "output",
				"the program's output is not one JSON value (or has more after it)");
	if (json_is_object(v))
		json_object_foreach(v, key, m)
			if (strcmp(key, "id") != 0 && strcmp(key, "name") != 0 && strcmp(key, "data") != 0)
				rc = h->error(err, SESAME_REJECTED, "output", "the program's output has an unknown member");
	if (rc == SESAME_OK && (!json_is_string(id) || json_string_length(id) == 0 ||
				json_string_length(id) > MAX_ID_LENGTH ||
				strlen(json_string_value(id)) != json_string_length(id)))
		rc = h->error(err, SESAME_REJECTED, "output",
			      "the program's id must be a string of 1 to %d bytes without NUL", MAX_ID_LENGTH);
	if (rc == SESAME_OK && name && !json_is_string(name))
		rc = h->error(err, SESAME_REJECTED, "output", "the program's name must be a string");
	if (rc == SESAME_OK && data && !json_is_object(data))
		rc = h->error(err, SESAME_REJECTED, "output", "the program's data must be an object");
	if (rc == SESAME_OK) {
		profile = data ? json_deep_copy(data) : json_object();
		if (profile && (!name || json_object_set(profile, "name", name) == 0))
			*identity = json_pack("{s:O, s:O}", "id", id, "data", profile);
		if (!*identity)
			rc = h->error(err, SESAME_INTERNAL, "memory", "out of memory");
		json_decref(profile);
	}
	json_decref(v);
	return rc;
}

static int outcome(const struct state *st, const struct sesame_program_result *r, json_t **identity,
		   sesame_error *err)
{
	char msg[MAX_MESSAGE + 1];

	switch (r->outcome) {
	case SESAME_PROGRAM_TIMED_OUT:
		return st->host->error(err, SESAME_UNAVAILABLE, "timeout", "the program did not answer within %ld ms",
				       st->timeout_ms);
	case SESAME_PROGRAM_OUTPUT_TOO_LARGE:
		return st->host->error(err, SESAME_REJECTED, "output", "the program wrote more than %d bytes",
				       MAX_STDOUT);
	case SESAME_PROGRAM_EXITED:
		break;
	default:
		return st->host->error(err, SESAME_UNAVAILABLE, "program", "the program was killed by signal %d",
				       r->code);
	}
	if (r->code != 0) {
		first_line(r, msg, sizeof(msg));
		return st->host->error(err, SESAME_REJECTED, "rejected", "%s",
				       msg[0] ? msg : "the program refused the credential");
	}
	return parse_identity(st, r, identity, err);
}

static int cf_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	const struct state *st = state;
	struct sesame_program prog = program_of(st);
	struct sesame_program_result r = {.struct_size = sizeof(r)};
	size_t length = json_dumpb(credential, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	json_free_t release;
	char *input;
	int rc;

	/* Counted first: a string that is not UTF-8 (possible through the C
	 * API, never from a client's JSON) cannot be written for the program. */
	if (length == 0)
		return st->host->error(err, SESAME_MALFORMED, "credential",
				       "the credential cannot be written as JSON (a string is not valid UTF-8)");
	if (length > MAX_CREDENTIAL)
		return st->host->error(err, SESAME_MALFORMED, "credential",
				       "the credential is larger than %d bytes as JSON", MAX_CREDENTIAL);
	input = json_dumps(credential, JSON_COMPACT | JSON_ENCODE_ANY);
	/* jansson's text goes back to jansson's free function: the
	 * application may have replaced its allocator. */
	json_get_alloc_funcs(NULL, &release);
	if (!input)
		return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	prog.input = input;
	prog.input_length = strlen(input);
	rc = st->host->program_run(st->self, &prog, &r, err);
	st->host->wipe(input, strlen(input));
	release(input);
	if (rc == SESAME_OK)
		rc = outcome(st, &r, identity, err);
	st->host->program_result_clear(&r);
	return rc;
}

static void cf_fini(void *state)
{
	state_free(state);
}

const struct sesame_provider sesame_provider_entry = {
	.abi_version = SESAME_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(struct sesame_provider),
	.type = "custom-function",
	.version = "1.0.0",
	.description = "identities decided by a configured program, credential on its stdin",
	.init = cf_init,
	.verify = cf_verify,
	.fini = cf_fini,
};
