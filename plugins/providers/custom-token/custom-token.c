/*
 * plugins/providers/custom-token/custom-token.c — the custom-token provider:
 * logs users in with a JWT signed by the application's own issuer, verified
 * with configured keys or a JWKS URI through the host services (no crypto
 * or HTTP of its own).  The identity is the token's `sub`; configured
 * metadata fields are copied from the claims.  See sesame-custom-token(5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/provider.h>

#define MAX_SIGNING_KEYS 3
#define MAX_AUDIENCES	 16
#define MAX_LEEWAY	 300
#define DEFAULT_LEEWAY	 60
#define MAX_TOKEN_LENGTH (1024 * 1024)
#define MAX_SUB_LENGTH	 255
#define MAX_FIELD_CHARS	 4096
#define MAX_FIELDS	 64
#define MAX_PATH_DEPTH	 16

/* One metadata field: a path into the claims and the name it gets. */
struct field {
	char **path; /* unescaped segments */
	size_t depth;
	char *name;  /* field_name, or the last segment */
	char *shown; /* the configured dot path, for messages */
	bool required;
};

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
	sesame_keys *keys;
	char *audiences[MAX_AUDIENCES + 1];
	char *issuer;
	const char *issuers[2];
	struct sesame_jwt_rules rules;
	struct field *fields;
	size_t n_fields;
};

static void field_clear(struct field *f)
{
	size_t i;

	for (i = 0; i < f->depth; i++)
		free(f->path[i]);
	free(f->path);
	free(f->name);
	free(f->shown);
}

static void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	if (st->keys)
		st->host->keys_free(st->keys);
	for (i = 0; i < MAX_AUDIENCES; i++)
		free(st->audiences[i]);
	free(st->issuer);
	for (i = 0; i < st->n_fields; i++)
		field_clear(&st->fields[i]);
	free(st->fields);
	free(st);
}

/* ---- configuration ------------------------------------------------------ */

static int check_known_keys(struct state *st, const json_t *config, sesame_error *err)
{
	static const char *const known[] = {"audience",		"require_any_audience", "issuer",
					    "leeway",		"signing_keys",		"jwk_uri",
					    "max_token_length", "metadata_fields",	NULL};
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)config, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return st->host->error(err, SESAME_CONFIG, "config",
					       "unknown key \"%s\" (custom-token knows audience, require_any_audience, "
					       "issuer, leeway, signing_keys, jwk_uri, max_token_length)",
					       key);
	}
	return SESAME_OK;
}

static int load_audiences(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *aud = json_object_get(config, "audience"), *v;
	size_t i;

	if (!aud) {
		const char *app =
		    SESAME_HAS_FIELD(struct sesame_host, app_id, st->host->struct_size) && st->host->app_id
			? st->host->app_id(st->self)
			: NULL;

		if (!app)
			return st->host->error(err, SESAME_CONFIG, "config", "\"audience\" is required: %s",
					       "this sesame has no app_id to default to");
		st->audiences[0] = strdup(app);
		return st->audiences[0] ? SESAME_OK : st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (json_is_string(aud))
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"audience\" must be an array of strings, e.g. [\"%s\"]",
				       json_string_value(aud));
	if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > MAX_AUDIENCES)
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"audience\" must be an array of 1 to %d non-empty strings", MAX_AUDIENCES);
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"audience\"[%zu] must be a non-empty string", i);
		st->audiences[i] = strdup(json_string_value(v));
		if (!st->audiences[i])
			return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	return SESAME_OK;
}

static int load_rules(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *any = json_object_get(config, "require_any_audience"), *iss = json_object_get(config, "issuer");
	json_t *leeway = json_object_get(config, "leeway"), *max = json_object_get(config, "max_token_length");

	st->rules.struct_size = sizeof(st->rules);
	st->rules.audiences = (const char *const *)st->audiences;
	st->rules.leeway = DEFAULT_LEEWAY;
	if (any && !json_is_boolean(any))
		return st->host->error(err, SESAME_CONFIG, "config", "\"require_any_audience\" must be true or false");
	/* false: the token must carry every configured audience. */
	if (any && json_is_false(any))
		st->rules.flags |= SESAME_JWT_ALL_AUDIENCES;
	if (iss) {
		if (!json_is_string(iss) || json_string_length(iss) == 0)
			return st->host->error(err, SESAME_CONFIG, "config", "\"issuer\" must be a non-empty string");
		st->issuer = strdup(json_string_value(iss));
		if (!st->issuer)
			return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
		st->issuers[0] = st->issuer;
		st->rules.issuers = st->issuers;
	}
	if (leeway) {
		if (!json_is_integer(leeway) || json_integer_value(leeway) < 0 ||
		    json_integer_value(leeway) > MAX_LEEWAY)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"leeway\" must be an integer number of seconds from 0 to %d",
					       MAX_LEEWAY);
		st->rules.leeway = json_integer_value(leeway);
	}
	if (max) {
		if (!json_is_integer(max) || json_integer_value(max) < 256 ||
		    json_integer_value(max) > MAX_TOKEN_LENGTH)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"max_token_length\" must be an integer from 256 to %d",
					       MAX_TOKEN_LENGTH);
		st->rules.max_length = (size_t)json_integer_value(max);
	}
	return SESAME_OK;
}

static int load_keys(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *keys = json_object_get(config, "signing_keys"), *uri = json_object_get(config, "jwk_uri");

	if ((keys != NULL) == (uri != NULL))
		return st->host->error(err, SESAME_CONFIG, "config",
				       "give exactly one of \"signing_keys\" and \"jwk_uri\"");
	if (uri) {
		if (!json_is_string(uri))
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"jwk_uri\" must be a string (an https:// URL)");
		return st->host->keys_from_jwks_uri(st->self, json_string_value(uri), NULL, &st->keys, err);
	}
	if (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MAX_SIGNING_KEYS)
		return st->host->error(
		    err, SESAME_CONFIG, "config",
		    "\"signing_keys\" must be an array of 1 to %d {\"alg\", \"kid\", \"key\"} objects",
		    MAX_SIGNING_KEYS);
	return st->host->keys_from_config(st->self, keys, &st->keys, err);
}

/* Split a dot path; "\." is a literal dot and "\\" a literal backslash. */
static int parse_path(const char *s, struct field *f)
{
	size_t len = strlen(s), i;
	char *seg = malloc(len + 1);
	size_t n = 0;

	f->path = calloc(MAX_PATH_DEPTH, sizeof(*f->path));
	if (!seg || !f->path) {
		free(seg);
		return -1;
	}
	for (i = 0; i <= len; i++) {
		if (s[i] == '\\' && (s[i + 1] == '.' || s[i + 1] == '\\')) {
			seg[n++] = s[++i];
		} else if (s[i] == '.' || s[i] == '\0') {
			if (n == 0 || f->depth == MAX_PATH_DEPTH) {
				free(seg);
				return -1;
			}
			seg[n] = '\0';
			f->path[f->depth] = strdup(seg);
			if (!f->path[f->depth]) {
				free(seg);
				return -1;
			}
			f->depth++;
			n = 0;
		} else {
			seg[n++] = s[i];
		}
	}
	free(seg);
	return 0;
}

static int load_field(struct state *st, const json_t *spec, size_t i, struct field *f, sesame_error *err)
{
	json_t *name = json_object_get(spec, "name"), *fname = json_object_get(spec, "field_name");
	json_t *req = json_object_get(spec, "required");
	size_t j;

	if (!json_is_object(spec) || !json_is_string(name) || (fname && !json_is_string(fname)) ||
	    (req && !json_is_boolean(req)))
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"metadata_fields\"[%zu] must be {\"name\": string, \"field_name\": string, "
				       "\"required\": boolean}",
				       i);
	f->required = json_is_true(req);
	f->shown = strdup(json_string_value(name));
	if (!f->shown)
		return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	if (parse_path(f->shown, f) != 0)
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"metadata_fields\"[%zu]: \"%s\" is not a dot path of 1 to %d non-empty names",
				       i, f->shown, MAX_PATH_DEPTH);
	f->name = strdup(fname ? json_string_value(fname) : f->path[f->depth - 1]);
	if (!f->name)
		return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	for (j = 0; j < i; j++)
		if (strcmp(st->fields[j].name, f->name) == 0)
			return st->host->error(err, SESAME_CONFIG, "config",
					       "\"metadata_fields\"[%zu]: field_name \"%s\" is used twice", i, f->name);
	return SESAME_OK;
}

static int load_fields(struct state *st, const json_t *config, sesame_error *err)
{
	json_t *list = json_object_get(config, "metadata_fields");
	size_t i;
	int rc;

	if (!list)
		return SESAME_OK;
	if (!json_is_array(list) || json_array_size(list) > MAX_FIELDS)
		return st->host->error(err, SESAME_CONFIG, "config",
				       "\"metadata_fields\" must be an array of at most %d", MAX_FIELDS);
	st->fields = calloc(json_array_size(list) + 1, sizeof(*st->fields));
	if (!st->fields)
		return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	for (i = 0; i < json_array_size(list); i++) {
		rc = load_field(st, json_array_get(list, i), i, &st->fields[i], err);
		st->n_fields++;
		if (rc != SESAME_OK)
			return rc;
	}
	return SESAME_OK;
}

static int ct_init(const struct sesame_host *host, sesame_instance *self, const json_t *config, void **state,
		   sesame_error *err)
{
	struct state *st;
	int rc;

	*state = NULL;
	if (!SESAME_HAS_FIELD(struct sesame_host, jwt_verify, host->struct_size) || !host->jwt_verify ||
	    !host->keys_from_config || !host->keys_from_jwks_uri || !host->keys_free)
		return host->error(err, SESAME_CONFIG, "abi", "the host does not offer JWT verification");
	st = calloc(1, sizeof(*st));
	if (!st)
		return host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	st->host = host;
	st->self = self;
	if (!json_is_object(config)) {
		rc = host->error(err, SESAME_CONFIG, "config", "\"config\" must be an object");
		goto fail;
	}
	rc = check_known_keys(st, config, err);
	if (rc == SESAME_OK)
		rc = load_audiences(st, config, err);
	if (rc == SESAME_OK)
		rc = load_rules(st, config, err);
	if (rc == SESAME_OK)
		rc = load_fields(st, config, err);
	if (rc == SESAME_OK)
		rc = load_keys(st, config, err);
	if (rc != SESAME_OK)
		goto fail;
	*state = st;
	return SESAME_OK;
fail:
	state_free(st);
	return rc;
}

static void ct_fini(void *state)
{
	state_free(state);
}

/* ---- verification ------------------------------------------------------- */

static const json_t *lookup(const json_t *claims, const struct field *f)
{
	const json_t *v = claims;
	size_t i;

	for (i = 0; v && i < f->depth; i++)
		v = json_is_object(v) ? json_object_get(v, f->path[i]) : NULL;
	return v;
}

/* Characters (UTF-8 code points) of a value: a string's own, or its JSON text's. */
static size_t value_chars(const json_t *v)
{
	const char *s;
	char *dump = NULL;
	size_t n = 0, len, i;

	if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
	} else {
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump)
			return SIZE_MAX;
		s = dump;
		len = strlen(dump);
	}
	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	free(dump);
	return n;
}

static int map_fields(struct state *st, const json_t *claims, json_t *data, sesame_error *err)
{
	size_t i;

	for (i = 0; i < st->n_fields; i++) {
		const struct field *f = &st->fields[i];
		const json_t *v = lookup(claims, f);

		if (!v || json_is_null(v)) {
			if (f->required)
				return st->host->error(err, SESAME_REJECTED, "claim",
						       "the token lacks the required metadata field \"%s\"", f->shown);
			continue;
		}
		if (value_chars(v) > MAX_FIELD_CHARS) {
			if (f->required)
				return st->host->error(err, SESAME_REJECTED, "claim",
						       "metadata field \"%s\" is longer than %d characters", f->shown,
						       MAX_FIELD_CHARS);
			st->host->log(st->self, SESAME_LOG_WARNING,
				      "metadata field \"%s\" is longer than %d characters: not copied", f->shown,
				      MAX_FIELD_CHARS);
			continue;
		}
		if (json_object_set_new(data, f->name, json_deep_copy(v)) != 0)
			return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	return SESAME_OK;
}

static int check_credential(struct state *st, const json_t *credential, const char **token, sesame_error *err)
{
	json_t *tok = json_object_get(credential, "token"), *v;
	const char *key;

	json_object_foreach((json_t *)credential, key, v) {
		/* Clients send "provider" and "options" (device info) with every login. */
		if (strcmp(key, "token") != 0 && strcmp(key, "provider") != 0 && strcmp(key, "options") != 0)
			return st->host->error(err, SESAME_MALFORMED, "credential",
					       "unknown credential member \"%.64s\" (expected \"token\")", key);
	}
	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return st->host->error(err, SESAME_MALFORMED, "credential",
				       "the credential needs \"token\": a non-empty string");
	if (strlen(json_string_value(tok)) != json_string_length(tok))
		return st->host->error(err, SESAME_MALFORMED, "malformed", "the token contains a NUL byte");
	*token = json_string_value(tok);
	return SESAME_OK;
}

static int ct_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	struct state *st = state;
	json_t *claims = NULL, *sub, *data = NULL;
	const char *token = NULL;
	int rc;

	*identity = NULL;
	rc = check_credential(st, credential, &token, err);
	if (rc != SESAME_OK)
		return rc;
	rc = st->host->jwt_verify(st->self, st->keys, token, &st->rules, &claims, err);
	if (rc != SESAME_OK)
		return rc;
	sub = json_object_get(claims, "sub");
	if (!json_is_string(sub) || json_string_length(sub) == 0 || json_string_length(sub) > MAX_SUB_LENGTH ||
	    strlen(json_string_value(sub)) != json_string_length(sub)) {
		rc = st->host->error(err, SESAME_REJECTED, "claim",
				     "claim \"sub\" must be a string of 1 to %d bytes without NUL", MAX_SUB_LENGTH);
		goto out;
	}
	data = json_object();
	if (!data) {
		rc = st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	rc = map_fields(st, claims, data, err);
	if (rc != SESAME_OK)
		goto out;
	*identity = json_pack("{s:O, s:O}", "id", sub, "data", data);
	if (!*identity)
		rc = st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
out:
	json_decref(data);
	json_decref(claims);
	return rc;
}

const struct sesame_provider sesame_provider_entry = {
    .abi_version = SESAME_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct sesame_provider),
    .type = "custom-token",
    .version = "0.1.0",
    .description = "JWTs signed by the application's own issuer (HS/RS/PS/ES/EdDSA keys or a JWKS URI)",
    .init = ct_init,
    .verify = ct_verify,
    .fini = ct_fini,
};
