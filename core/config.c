/* SPDX-License-Identifier: MIT */
/*
 * core/config.c — the main configuration file and the provider drop-ins.
 *
 * The main file is optional (built-in defaults).  Provider instances (and
 * rule files, core/rules.c) come from NAME.json files in drop-in
 * directories with systemd's semantics: a
 * file in a later (higher-priority) directory replaces a same-named file of
 * an earlier one whole; a symlink to /dev/null or an empty file masks it;
 * only *.json regular files count, dotfiles and backups~ are skipped; the
 * union is taken in lexical order.  Every error names FILE:LINE:COL.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAX_CONFIG_FILE (1024 * 1024)
#define MAX_SECRET_FILE (1024 * 1024)
#define MAX_NAME 64
#define MASK "********"
/* The store of a configuration that names none. */
#define DEFAULT_STORE "sqlite"

/* "password_hashing" defaults: four concurrent scrypt runs with the
 * default parameters (N = 2^17, r = 8: 128 MiB and 3 KiB each) fit in the
 * budget, a fifth waits; at most 64 requests wait, 5 seconds each. */
#define KDF_BUDGET_DEFAULT (520ULL << 20)
#define KDF_BUDGET_MIN (1ULL << 20)
#define KDF_BUDGET_MAX (1ULL << 40)
#define KDF_QUEUE_DEFAULT 64
#define KDF_QUEUE_MAX 65536
#define KDF_WAIT_DEFAULT 5000
#define KDF_WAIT_MAX 60000

/* ---- locating a JSON path in the text, for error positions ------------ */

/*
 * jansson reports positions for syntax errors only.  To name the line of a
 * semantic error (unknown key, wrong type) we walk the text, which jansson
 * has already accepted as valid JSON, to the member or element in question.
 */
static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < end ? p + 1 : end;
}

static const char *skip_value(const char *p, const char *end)
{
	p = skip_ws(p, end);
	if (p >= end)
		return end;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = skip_ws(p + 1, end);
		while (p < end && *p != close) {
			if (close == '}') {
				p = skip_string(skip_ws(p, end), end);
				p = skip_ws(p, end);
				if (p < end && *p == ':')
					p++;
			}
			p = skip_ws(skip_value(p, end), end);
			if (p < end && *p == ',')
				p = skip_ws(p + 1, end);
		}
		return p < end ? p + 1 : end;
	}
	/* memchr, not strchr: a NUL byte must not end a scalar (strchr
	 * finds the terminator), or the walks above would stall on it. */
	while (p < end && !memchr(",]} \t\r\n", *p, 7))
		p++;
	return p;
}

/* Pointer to the deepest element of `path` found in the text. */
static const char *locate(const char *p, const char *end, const struct seg *path, size_t depth)
{
	p = skip_ws(p, end);
	if (depth == 0 || p >= end)
		return p;
	if (*p == '{' && path->key) {
		size_t klen = strlen(path->key);

		p = skip_ws(p + 1, end);
		while (p < end && *p == '"') {
			const char *key = p, *kend = skip_string(p, end);
			const char *val = skip_ws(kend, end);

			if (val < end && *val == ':')
				val = skip_ws(val + 1, end);
			if ((size_t)(kend - key) == klen + 2 && memcmp(key + 1, path->key, klen) == 0)
				return depth == 1 ? key : locate(val, end, path + 1, depth - 1);
			p = skip_ws(skip_value(val, end), end);
			if (p < end && *p == ',')
				p = skip_ws(p + 1, end);
		}
	} else if (*p == '[' && !path->key) {
		size_t i = 0;

		p = skip_ws(p + 1, end);
		while (p < end && *p != ']') {
			if (i++ == path->index)
				return locate(p, end, path + 1, depth - 1);
			p = skip_ws(skip_value(p, end), end);
			if (p < end && *p == ',')
				p = skip_ws(p + 1, end);
		}
	}
	return p;
}

static void position(const struct doc *d, const struct seg *path, size_t depth, int *line, int *col)
{
	const char *at = locate(d->text, d->text + d->len, path, depth), *p;

	*line = 1;
	*col = 1;
	for (p = d->text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

#define MAX_PATH_SEGS 16
#define MAX_PATH_KEY 255

int config_position(const char *file, const char *path, int *line, int *col)
{
	struct seg segs[MAX_PATH_SEGS];
	char keys[MAX_PATH_SEGS][MAX_PATH_KEY + 1], *text = NULL;
	struct doc d = {file, NULL, 0};
	sesame_error ignored;
	const char *p = path;
	size_t depth = 0;

	*line = *col = 0;
	if (!file || !path)
		return SESAME_USAGE;
	/* "a.b[2].c": members and element indexes. */
	while (*p) {
		if (depth == MAX_PATH_SEGS)
			return SESAME_MALFORMED;
		if (*p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);

			if (end == p + 1 || *end != ']')
				return SESAME_MALFORMED;
			segs[depth].key = NULL;
			segs[depth++].index = i;
			p = end + 1;
		} else {
			size_t n = strcspn(p, ".[");

			if (n == 0 || n > MAX_PATH_KEY)
				return SESAME_MALFORMED;
			memcpy(keys[depth], p, n);
			keys[depth][n] = '\0';
			segs[depth].key = keys[depth];
			segs[depth++].index = 0;
			p += n;
		}
		if (*p == '.' && p[1] != '\0' && p[1] != '.' && p[1] != '[')
			p++;
		else if (*p && *p != '[')
			return SESAME_MALFORMED;
	}
	if (depth == 0)
		return SESAME_MALFORMED;
	err_clear(&ignored);
	if (util_read_file(file, false, MAX_CONFIG_FILE, &text, &d.len, &ignored) != SESAME_OK)
		return SESAME_MALFORMED;
	d.text = text;
	position(&d, segs, depth, line, col);
	free(text);
	return SESAME_OK;
}

int doc_error(sesame_error *err, const struct doc *d, const struct seg *path, size_t depth, const char *reason,
	      const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	position(d, path, depth, &line, &col);
	return seterr_at(err, SESAME_CONFIG, reason, d->file, line, col, "%s", msg);
}

/*
 * What is wrong at a syntax error, without the file's bytes: jansson's
 * messages end in the text around the error ("... near 'root:$6$...'"),
 * and a file may be anything (a drop-in symlinked to /etc/shadow).  Its
 * own words before that are kept, except the few that quote a byte or an
 * escape of the file (a byte's value, "\uXXXX"), which get ours.
 */
static const char *syntax_words(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of the file";
	case json_error_end_of_input_expected:
		return "more after the JSON value";
	case json_error_duplicate_key:
		return "a key given twice";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "a NUL character in a string";
	case json_error_numeric_overflow:
		return "a number out of range";
	case json_error_stack_overflow:
		return "nested too deeply";
	default:
		return "not valid JSON here";
	}
}

static void syntax_message(const json_error_t *jerr, char *out, size_t size)
{
	const char *near = strstr(jerr->text, " near ");
	size_t n = near ? (size_t)(near - jerr->text) : strlen(jerr->text);

	if (n == 0 || memmem(jerr->text, n, "0x", 2) || memmem(jerr->text, n, "\\u", 2) ||
	    memmem(jerr->text, n, "Unicode", 7))
		snprintf(out, size, "%s", syntax_words(jerr));
	else
		snprintf(out, size, "%.*s", (int)n, jerr->text);
}

/* Parse a JSON file strictly; syntax errors carry jansson's position. */
int config_parse_file(const char *file, char **text, size_t *len, json_t **root, sesame_error *err)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	json_error_t jerr;
	sesame_error ferr;
	int rc;

	*root = NULL;
	err_clear(&ferr);
	rc = util_read_file(file, false, MAX_CONFIG_FILE, text, len, &ferr);
	if (rc != SESAME_OK)
		return seterr_at(err, SESAME_CONFIG, ferr.reason, file, 0, 0, "%s", ferr.text);
	*root = util_json_parse(*text, *len, &jerr);
	if (!*root) {
		syntax_message(&jerr, msg, sizeof(msg));
		seterr_at(err, SESAME_CONFIG, "syntax", file, jerr.line, jerr.column, "%s", msg);
		free(*text);
		*text = NULL;
		return SESAME_CONFIG;
	}
	if (!json_is_object(*root)) {
		seterr_at(err, SESAME_CONFIG, "type", file, 1, 1, "expected a JSON object at the top level");
		json_decref(*root);
		*root = NULL;
		free(*text);
		*text = NULL;
		return SESAME_CONFIG;
	}
	return SESAME_OK;
}

/* ---- typed getters ----------------------------------------------------- */

static int get_string(const struct doc *d, json_t *obj, const char *key, char **out, bool nullable, sesame_error *err)
{
	json_t *v = json_object_get(obj, key);
	struct seg at = {key, 0};

	if (!v || (nullable && json_is_null(v)))
		return SESAME_OK;
	if (!json_is_string(v))
		return doc_error(err, d, &at, 1, "type", "\"%s\": expected a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return doc_error(err, d, &at, 1, "type", "\"%s\": contains a NUL character", key);
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
}

static int get_path(const struct doc *d, json_t *obj, const char *key, char **out, bool nullable, sesame_error *err)
{
	struct seg at = {key, 0};
	int rc = get_string(d, obj, key, out, nullable, err);

	if (rc == SESAME_OK && json_is_string(json_object_get(obj, key)) && (*out)[0] != '/')
		return doc_error(err, d, &at, 1, "path", "\"%s\": expected an absolute path, got \"%s\"", key, *out);
	return rc;
}

static int get_bool(const struct doc *d, json_t *obj, const char *key, bool *out, sesame_error *err)
{
	json_t *v = json_object_get(obj, key);
	struct seg at = {key, 0};

	if (!v)
		return SESAME_OK;
	if (!json_is_boolean(v))
		return doc_error(err, d, &at, 1, "type", "\"%s\": expected true or false", key);
	*out = json_is_true(v);
	return SESAME_OK;
}

static int get_ttl(const struct doc *d, json_t *obj, const char *section, const char *key, int64_t min, int64_t max,
		   int64_t *out, sesame_error *err)
{
	json_t *v = json_object_get(obj, key);
	struct seg at[2] = {{section, 0}, {key, 0}};

	if (!v)
		return SESAME_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return doc_error(err, d, at, 2, "range", "\"%s.%s\": expected an integer from %lld to %lld seconds",
				 section, key, (long long)min, (long long)max);
	*out = json_integer_value(v);
	return SESAME_OK;
}

/* Refuse members of `obj` not in the NULL-terminated `known`. */
static int check_keys(const struct doc *d, json_t *obj, const struct seg *path, size_t depth, const char *const *known,
		      const char *what, sesame_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		const char *const *k;
		struct seg full[8];

		for (k = known; *k; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (*k)
			continue;
		if (depth + 1 > ARRAY_SIZE(full))
			depth = ARRAY_SIZE(full) - 1;
		memcpy(full, path, depth * sizeof(*path));
		full[depth].key = key;
		return doc_error(err, d, full, depth + 1, "unknown-key", "unknown key \"%s\" in %s", key, what);
	}
	return SESAME_OK;
}

/* ---- secrets ------------------------------------------------------------ */

/* Keys whose inline string values are masked for display. */
static bool secret_key(const char *key)
{
	static const char *const words[] = {"secret", "password", "private", "token"};
	size_t i, n = strlen(key);

	if (strcmp(key, "key") == 0 || (n > 4 && strcmp(key + n - 4, "_key") == 0))
		return true;
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (strstr(key, words[i]))
			return true;
	return false;
}

static int read_secret(const struct doc *d, const struct seg *path, size_t depth, const char *ref, char **out,
		       sesame_error *err)
{
	sesame_error ferr;
	size_t len;

	/* Whoever may replace the file chooses the secret. */
	err_clear(&ferr);
	if (util_check_path_chain(ref + 1, geteuid(), &ferr) != SESAME_OK ||
	    util_read_file(ref + 1, true, MAX_SECRET_FILE, out, &len, &ferr) != SESAME_OK)
		return doc_error(err, d, path, depth, ferr.reason, "secret file: %s", ferr.text);
	/* One trailing newline is what editors add, not part of the secret. */
	if (len > 0 && (*out)[len - 1] == '\n')
		(*out)[--len] = '\0';
	if (len > 0 && (*out)[len - 1] == '\r')
		(*out)[--len] = '\0';
	if (strlen(*out) != len) {
		util_wipe(*out, len);
		free(*out);
		*out = NULL;
		return doc_error(err, d, path, depth, "type", "%s contains a NUL byte", ref + 1);
	}
	return SESAME_OK;
}

/*
 * Walk `v` replacing "@/path" strings by the file's contents (refused when
 * group/world accessible), "@@x" by "@x".  `shown` gets the display form.
 */
static int resolve_secrets(const struct doc *d, struct seg *path, size_t depth, const char *key, json_t *v,
			   json_t **shown, sesame_error *err)
{
	int rc = SESAME_OK;

	*shown = NULL;
	if (depth >= 7)
		return doc_error(err, d, path, depth, "depth", "configuration nested too deeply");
	if (json_is_object(v)) {
		const char *k;
		json_t *m;

		*shown = json_object();
		json_object_foreach (v, k, m) {
			json_t *sm;

			path[depth].key = k;
			rc = resolve_secrets(d, path, depth + 1, k, m, &sm, err);
			if (rc != SESAME_OK)
				break;
			json_object_set_new(*shown, k, sm);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;

		*shown = json_array();
		json_array_foreach (v, i, m) {
			json_t *sm;

			path[depth].key = NULL;
			path[depth].index = i;
			rc = resolve_secrets(d, path, depth + 1, key, m, &sm, err);
			if (rc != SESAME_OK)
				break;
			json_array_append_new(*shown, sm);
		}
	} else if (json_is_string(v) && json_string_value(v)[0] == '@') {
		const char *s = json_string_value(v);
		char *secret = NULL;

		if (s[1] == '@') {
			*shown = json_string(s + 1);
			json_string_set(v, s + 1);
		} else if (s[1] == '/') {
			rc = read_secret(d, path, depth, s, &secret, err);
			if (rc == SESAME_OK) {
				*shown = json_string(s);
				json_string_set(v, secret);
				util_free_secret(secret);
			}
		} else {
			/* The value is not quoted: it may be a secret that starts with @. */
			rc = doc_error(err, d, path, depth, "path",
				       "a string starting with @ must be \"@/absolute/path\" (a secret file) or "
				       "\"@@...\" (a literal @)");
		}
	} else if (json_is_string(v) && key && secret_key(key)) {
		*shown = json_string(MASK);
	} else {
		*shown = json_deep_copy(v);
	}
	if (rc != SESAME_OK) {
		json_decref(*shown);
		*shown = NULL;
	}
	return rc;
}

/* ---- the main file ------------------------------------------------------ */

static int set_defaults(struct config *cfg)
{
	static const char *const dirs[] = {SESAME_VENDOR_DROPIN_DIR, SESAME_RUNTIME_DROPIN_DIR,
					   SESAME_ADMIN_DROPIN_DIR};
	static const char *const rules[] = {SESAME_VENDOR_RULES_DIR, SESAME_RUNTIME_RULES_DIR, SESAME_ADMIN_RULES_DIR};
	size_t i;

	cfg->app_id = strdup("sesame-app");
	cfg->state_dir = strdup(SESAME_STATE_DIR);
	cfg->plugin_dir = strdup(SESAME_PLUGIN_DIR);
	cfg->store_dir = strdup(SESAME_STORE_DIR);
	cfg->listen = strdup("127.0.0.1:9090");
	cfg->public_url = strdup("http://127.0.0.1:9090");
	cfg->provider_dirs = calloc(ARRAY_SIZE(dirs), sizeof(char *));
	cfg->rules_dirs = calloc(ARRAY_SIZE(rules), sizeof(char *));
	cfg->cors_origins = json_array();
	cfg->extra = json_object();
	cfg->program_user = strdup("nobody");
	cfg->access_ttl = 1800;
	cfg->refresh_ttl = 60LL * 24 * 3600;
	cfg->kdf_memory_budget = KDF_BUDGET_DEFAULT;
	cfg->kdf_queue = KDF_QUEUE_DEFAULT;
	cfg->kdf_wait_ms = KDF_WAIT_DEFAULT;
	if (!cfg->app_id || !cfg->state_dir || !cfg->plugin_dir || !cfg->store_dir || !cfg->listen ||
	    !cfg->public_url || !cfg->provider_dirs || !cfg->rules_dirs || !cfg->cors_origins || !cfg->extra ||
	    !cfg->program_user)
		return SESAME_INTERNAL;
	for (i = 0; i < ARRAY_SIZE(dirs); i++)
		if (!(cfg->provider_dirs[cfg->n_provider_dirs++] = strdup(dirs[i])))
			return SESAME_INTERNAL;
	for (i = 0; i < ARRAY_SIZE(rules); i++)
		if (!(cfg->rules_dirs[cfg->n_rules_dirs++] = strdup(rules[i])))
			return SESAME_INTERNAL;
	return SESAME_OK;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", dir, name);
	return s;
}

static void free_dirs(char **dirs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

/* A list of drop-in directories ("provider_dirs", "rules_dirs"): up to 16
 * absolute paths, replacing the defaults. */
static int get_dirs(const struct doc *d, json_t *root, const char *key, char ***dirs, size_t *n, sesame_error *err)
{
	json_t *v = json_object_get(root, key);
	struct seg p[2] = {{key, 0}, {NULL, 0}};
	size_t i;

	if (!v)
		return SESAME_OK;
	if (!json_is_array(v) || json_array_size(v) > 16)
		return doc_error(err, d, p, 1, "type", "\"%s\": expected an array of up to 16 absolute paths", key);
	free_dirs(*dirs, *n);
	*n = 0;
	*dirs = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*dirs)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	for (i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);

		p[1].index = i;
		if (!json_is_string(e) || json_string_value(e)[0] != '/')
			return doc_error(err, d, p, 2, "path", "\"%s\"[%zu]: expected an absolute path", key, i);
		if (!((*dirs)[(*n)++] = strdup(json_string_value(e))))
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	return SESAME_OK;
}

/*
 * The "store" object, handed to the store plugin (which refuses what its
 * type does not know, naming the key).  The keys listed here are those of
 * the built-in stores, so that `sesame config check`, which never opens
 * the store, still finds a misspelt one.  "@/path" strings are secret
 * files, as in provider configurations (a conninfo holds a password); an
 * inline conninfo is masked in the display.
 */
static int load_store(const struct doc *d, json_t *root, struct config *cfg, sesame_error *err)
{
	static const char *const known[] = {"type",	"path",	     "synchronous",	  "busy_timeout",
					    "conninfo", "pool_size", "statement_timeout", NULL};
	static const struct seg at_store = {"store", 0};
	json_t *store = json_object_get(root, "store"), *t, *shown = NULL;
	struct seg path[8] = {at_store};
	const char *type;

	if (store && !json_is_object(store))
		return doc_error(err, d, &at_store, 1, "type", "\"store\": expected an object");
	cfg->store = store ? json_deep_copy(store) : json_object();
	if (!cfg->store)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (store && check_keys(d, store, &at_store, 1, known, "\"store\"", err) != SESAME_OK)
		return SESAME_CONFIG;
	if (resolve_secrets(d, path, 1, "store", cfg->store, &shown, err) != SESAME_OK)
		return SESAME_CONFIG;
	cfg->store_shown = shown;
	t = json_object_get(shown, "conninfo");
	if (json_is_string(t) && json_string_value(t)[0] != '@')
		json_object_set_new(shown, "conninfo", json_string(MASK));
	t = json_object_get(cfg->store, "type");
	if (t && (!json_is_string(t) || !util_valid_type_name(json_string_value(t), MAX_NAME))) {
		struct seg at[2] = {at_store, {"type", 0}};

		return doc_error(err, d, at, 2, "type", "\"store.type\": expected a store name like \"sqlite\"");
	}
	if (!t) {
		json_object_set_new(cfg->store, "type", json_string(DEFAULT_STORE));
		json_object_set_new(cfg->store_shown, "type", json_string(DEFAULT_STORE));
	}
	/* Only the default store keeps its data under the state directory;
	 * another type (a database server) has its own settings. */
	type = json_string_value(json_object_get(cfg->store, "type"));
	if (strcmp(type, DEFAULT_STORE) == 0 && !json_object_get(cfg->store, "path")) {
		char *p = join(cfg->state_dir, "sesame.db");

		if (!p)
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		json_object_set_new(cfg->store, "path", json_string(p));
		json_object_set_new(cfg->store_shown, "path", json_string(p));
		free(p);
	}
	return SESAME_OK;
}

/*
 * "programs": {"user": NAME}: whom the programs that plugins run (mailers,
 * custom-function programs) run as when sesame runs as root.  Resolved
 * here: a user set here that is missing, or root, stops the start; when
 * the default "nobody" is missing, only the instances that run programs
 * fail (closed), saying why.  Without root, sesame cannot switch users and
 * the key changes nothing.
 */
static int load_programs(const struct doc *d, json_t *root, struct config *cfg, sesame_error *err)
{
	static const char *const known[] = {"user", NULL};
	struct seg at[2] = {{"programs", 0}, {"user", 0}};
	json_t *v = json_object_get(root, "programs"), *user = json_object_get(v, "user");
	struct program_user u;
	sesame_error uerr;
	size_t i, n;

	if (v && !json_is_object(v))
		return doc_error(err, d, at, 1, "type", "\"programs\": expected an object");
	if (v && check_keys(d, v, at, 1, known, "\"programs\"", err) != SESAME_OK)
		return SESAME_CONFIG;
	if (user) {
		const char *name = json_string_value(user);

		n = json_string_length(user);
		for (i = 0; name && i < n; i++)
			if (name[i] <= ' ' || name[i] == ':' || name[i] == '/' || name[i] == 0x7f)
				break;
		if (!name || n == 0 || n > 32 || i < n)
			return doc_error(err, d, at, 2, "type", "\"programs.user\": expected a user name");
		free(cfg->program_user);
		if (!(cfg->program_user = strdup(name)))
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	cfg->program_switch = geteuid() == 0;
	if (!cfg->program_switch)
		return SESAME_OK;
	err_clear(&uerr);
	if (program_resolve_user(cfg->program_user, &u, &uerr) != SESAME_OK) {
		if (user)
			return doc_error(err, d, at, 2, "user", "\"programs.user\": %s", uerr.text);
		if (asprintf(&cfg->program_user_error, "programs.user (default): %s; set programs.user in %s",
			     uerr.text, d->file) < 0) {
			cfg->program_user_error = NULL;
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		}
		return SESAME_OK;
	}
	cfg->program_uid = u.uid;
	cfg->program_gid = u.gid;
	return SESAME_OK;
}

/* An integer member `key` of section `section`, from `min` to `max`. */
static int get_range(const struct doc *d, json_t *obj, const char *section, const char *key, uint64_t min, uint64_t max,
		     const char *unit, uint64_t *out, sesame_error *err)
{
	json_t *v = json_object_get(obj, key);
	struct seg at[2] = {{section, 0}, {key, 0}};

	if (!v)
		return SESAME_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
	    (uint64_t)json_integer_value(v) > max)
		return doc_error(err, d, at, 2, "range", "\"%s.%s\": expected an integer from %llu to %llu%s", section,
				 key, (unsigned long long)min, (unsigned long long)max, unit);
	*out = (uint64_t)json_integer_value(v);
	return SESAME_OK;
}

/* "password_hashing": {"memory_budget", "queue", "wait_ms"}. */
static int load_password_hashing(const struct doc *d, json_t *v, struct config *cfg, sesame_error *err)
{
	static const char *const known[] = {"memory_budget", "queue", "wait_ms", NULL};
	static const struct seg at = {"password_hashing", 0};
	uint64_t budget = cfg->kdf_memory_budget, queue = cfg->kdf_queue, wait = cfg->kdf_wait_ms;

	if (!json_is_object(v))
		return doc_error(err, d, &at, 1, "type", "\"password_hashing\": expected an object");
	if (check_keys(d, v, &at, 1, known, "\"password_hashing\"", err) != SESAME_OK ||
	    get_range(d, v, "password_hashing", "memory_budget", KDF_BUDGET_MIN, KDF_BUDGET_MAX, " bytes", &budget,
		      err) != SESAME_OK ||
	    get_range(d, v, "password_hashing", "queue", 0, KDF_QUEUE_MAX, "", &queue, err) != SESAME_OK ||
	    get_range(d, v, "password_hashing", "wait_ms", 0, KDF_WAIT_MAX, " milliseconds", &wait, err) != SESAME_OK)
		return SESAME_CONFIG;
	cfg->kdf_memory_budget = budget;
	cfg->kdf_queue = (unsigned)queue;
	cfg->kdf_wait_ms = (unsigned)wait;
	return SESAME_OK;
}

static int load_main(const struct doc *d, json_t *root, struct config *cfg, sesame_error *err)
{
	static const char *const known[] = {
	    "app_id",	   "state_dir", "plugin_dir",	    "store_dir",    "provider_dirs", "store",	"sessions",
	    "signing_key", "listen",	"public_url",	    "cors_origins", "tls_cert",	     "tls_key", "admin_key",
	    "test_mode",   "daemon",	"password_hashing", "programs",	    "rules_dirs",    NULL};
	static const char *const session_keys[] = {"access_ttl", "refresh_ttl", NULL};
	struct seg at = {NULL, 0};
	json_t *v;
	size_t i;

	if (check_keys(d, root, &at, 0, known, "the main configuration", err) != SESAME_OK)
		return SESAME_CONFIG;
	if (get_string(d, root, "app_id", &cfg->app_id, false, err) ||
	    get_path(d, root, "state_dir", &cfg->state_dir, false, err) ||
	    get_path(d, root, "plugin_dir", &cfg->plugin_dir, false, err) ||
	    get_path(d, root, "store_dir", &cfg->store_dir, false, err) ||
	    get_path(d, root, "signing_key", &cfg->signing_key, true, err) ||
	    get_string(d, root, "listen", &cfg->listen, false, err) ||
	    get_string(d, root, "public_url", &cfg->public_url, false, err) ||
	    get_path(d, root, "tls_cert", &cfg->tls_cert, true, err) ||
	    get_path(d, root, "tls_key", &cfg->tls_key, true, err) ||
	    get_bool(d, root, "test_mode", &cfg->test_mode, err))
		return SESAME_CONFIG;
	if (!util_valid_instance_name(cfg->app_id, 128)) {
		at.key = "app_id";
		return doc_error(err, d, &at, 1, "type", "\"app_id\": expected letters, digits, '-' and '_' only");
	}

	v = json_object_get(root, "admin_key");
	if (v && !json_is_null(v)) {
		json_t *shown;
		struct seg p[1] = {{"admin_key", 0}};

		if (!json_is_string(v))
			return doc_error(err, d, p, 1, "type", "\"admin_key\": expected a string");
		if (resolve_secrets(d, p, 1, "admin_key", v, &shown, err) != SESAME_OK)
			return SESAME_CONFIG;
		cfg->admin_key_from_file = json_string_value(shown)[0] == '@';
		json_decref(shown);
		if (json_string_length(v) < 16)
			return doc_error(err, d, p, 1, "weak", "\"admin_key\": must be at least 16 characters");
		cfg->admin_key = strdup(json_string_value(v));
	}

	if (get_dirs(d, root, "provider_dirs", &cfg->provider_dirs, &cfg->n_provider_dirs, err) ||
	    get_dirs(d, root, "rules_dirs", &cfg->rules_dirs, &cfg->n_rules_dirs, err))
		return SESAME_CONFIG;

	v = json_object_get(root, "sessions");
	if (v) {
		at.key = "sessions";
		if (!json_is_object(v))
			return doc_error(err, d, &at, 1, "type", "\"sessions\": expected an object");
		if (check_keys(d, v, &at, 1, session_keys, "\"sessions\"", err) ||
		    get_ttl(d, v, "sessions", "access_ttl", cfg->test_mode ? 1 : 60, 86400, &cfg->access_ttl, err) ||
		    get_ttl(d, v, "sessions", "refresh_ttl", cfg->test_mode ? 1 : 1800, 5LL * 366 * 86400,
			    &cfg->refresh_ttl, err))
			return SESAME_CONFIG;
	}

	v = json_object_get(root, "cors_origins");
	if (v) {
		at.key = "cors_origins";
		if (!json_is_array(v))
			return doc_error(err, d, &at, 1, "type", "\"cors_origins\": expected an array of origins");
		for (i = 0; i < json_array_size(v); i++) {
			struct seg p[2] = {{"cors_origins", 0}, {NULL, i}};

			if (!json_is_string(json_array_get(v, i)))
				return doc_error(err, d, p, 2, "type", "\"cors_origins\"[%zu]: expected a string", i);
		}
		json_decref(cfg->cors_origins);
		cfg->cors_origins = json_deep_copy(v);
	}

	if (load_programs(d, root, cfg, err) != SESAME_OK)
		return SESAME_CONFIG;
	v = json_object_get(root, "password_hashing");
	if (v && load_password_hashing(d, v, cfg, err) != SESAME_OK)
		return SESAME_CONFIG;

	v = json_object_get(root, "daemon");
	if (v) {
		at.key = "daemon";
		if (!json_is_object(v))
			return doc_error(err, d, &at, 1, "type", "\"daemon\": expected an object");
		json_object_set(cfg->extra, "daemon", v);
	}
	return load_store(d, root, cfg, err);
}

/* ---- provider drop-ins -------------------------------------------------- */

static int dropin_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dropin *)a)->name, ((const struct dropin *)b)->name);
}

static bool is_dev_null(const char *path)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat("/dev/null", &b) == 0 && S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev;
}

/* util_check_path_chain() (or with `parent`, util_check_parent_chain()) as
 * a configuration error about `path`. */
static int trusted_as(const char *path, bool parent, const char *what, sesame_error *err)
{
	sesame_error e;
	int rc;

	err_clear(&e);
	rc = parent ? util_check_parent_chain(path, geteuid(), &e) : util_check_path_chain(path, geteuid(), &e);
	if (rc == SESAME_OK)
		return SESAME_OK;
	return seterr_at(err, SESAME_CONFIG, e.reason, path, 0, 0, "untrusted %s: %s", what, e.text);
}

static int trusted(const char *path, const char *what, sesame_error *err)
{
	return trusted_as(path, false, what, err);
}

/*
 * The state directory holds the signing key and the database: nobody but
 * root and sesame's user may be able to replace what is in it.  It need
 * not exist yet (it is created 0700 on first use); then its nearest
 * existing ancestor must be safe.  Run by root, sesame(1) acts as the
 * state directory's owner once configured (the service user of a packaged
 * installation), and reads the state only as that user: the directory may
 * then be that user's.  sesamed run as root does not switch, and its
 * signing key check refuses a state directory another user owns.
 */
static int check_state_dir(const struct config *cfg, sesame_error *err)
{
	char *dir = strdup(cfg->state_dir), *slash;
	struct stat st;
	sesame_error e;
	int rc = SESAME_OK;

	if (!dir)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	while (access(dir, F_OK) != 0 && errno == ENOENT && (slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if (access(dir, F_OK) != 0 && errno == ENOENT)
		dir[1] = '\0'; /* only "/" is left */
	if (strcmp(dir, cfg->state_dir) != 0) {
		rc = trusted_as(dir, true, "parent of the state directory", err);
	} else if (geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid != 0) {
		err_clear(&e);
		if (util_check_path_chain(dir, st.st_uid, &e) != SESAME_OK)
			rc =
			    seterr_at(err, SESAME_CONFIG, e.reason, dir, 0, 0, "untrusted state directory: %s", e.text);
	} else {
		rc = trusted(dir, "state directory", err);
	}
	free(dir);
	return rc;
}

/* Add or replace the entries of one directory in the set. */
static int scan_dir(const char *dir, struct dropin **set, size_t *n, sesame_error *err)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	int rc = SESAME_OK;

	if (!dh) {
		if (errno == ENOENT)
			return SESAME_OK;
		return seterr_at(err, SESAME_CONFIG, "file", dir, 0, 0, "cannot read drop-in directory: %s",
				 strerror(errno));
	}
	/* Whoever may add a file here configures sesame (and the programs it
	 * runs): the directory must be as trusted as the plugins. */
	if (trusted(dir, "drop-in directory", err) != SESAME_OK) {
		closedir(dh);
		return SESAME_CONFIG;
	}
	while ((de = readdir(dh)) != NULL) {
		const char *f = de->d_name;
		size_t len = strlen(f), i;
		struct dropin e = {0};
		struct stat st;

		if (f[0] == '.' || f[len - 1] == '~' || len <= 5 || strcmp(f + len - 5, ".json") != 0)
			continue;
		e.path = join(dir, f);
		e.name = strndup(f, len - 5);
		if (!e.path || !e.name) {
			free(e.path);
			free(e.name);
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
			break;
		}
		if (stat(e.path, &st) != 0) {
			/* A dangling symlink is a mistake worth hearing about. */
			rc = seterr_at(err, SESAME_CONFIG, "file", e.path, 0, 0, "cannot stat: %s", strerror(errno));
			free(e.path);
			free(e.name);
			break;
		}
		if (is_dev_null(e.path) || (S_ISREG(st.st_mode) && st.st_size == 0)) {
			e.masked = true;
		} else if (!S_ISREG(st.st_mode)) {
			/* Never read: a device or FIFO could block, or hold anything. */
			rc = seterr_at(err, SESAME_CONFIG, "file", e.path, 0, 0,
				       "not a regular file (nor a symbolic link to /dev/null, which masks)");
			free(e.path);
			free(e.name);
			break;
		}
		/* A mask only removes; what is read must be trusted, link and
		 * target alike. */
		if (!e.masked && trusted(e.path, "drop-in", err) != SESAME_OK) {
			rc = SESAME_CONFIG;
			free(e.path);
			free(e.name);
			break;
		}
		for (i = 0; i < *n; i++)
			if (strcmp((*set)[i].name, e.name) == 0)
				break;
		if (i < *n) {
			free((*set)[i].name);
			free((*set)[i].path);
			(*set)[i] = e;
		} else {
			struct dropin *grown = realloc(*set, (*n + 1) * sizeof(**set));

			if (!grown) {
				free(e.path);
				free(e.name);
				rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
				break;
			}
			*set = grown;
			(*set)[(*n)++] = e;
		}
	}
	closedir(dh);
	return rc;
}

int config_dropins(char *const *dirs, size_t n_dirs, struct dropin **set, size_t *n, sesame_error *err)
{
	size_t i;
	int rc = SESAME_OK;

	*set = NULL;
	*n = 0;
	for (i = 0; i < n_dirs && rc == SESAME_OK; i++)
		rc = scan_dir(dirs[i], set, n, err);
	if (rc != SESAME_OK) {
		config_dropins_free(*set, *n);
		*set = NULL;
		*n = 0;
		return rc;
	}
	if (*n > 0)
		qsort(*set, *n, sizeof(**set), dropin_cmp);
	return SESAME_OK;
}

void config_dropins_free(struct dropin *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(set[i].name);
		free(set[i].path);
	}
	free(set);
}

/*
 * Validate and parse a drop-in's metadata_fields into `*out` (the rules of
 * core/metadata.c): every error names the entry's position.
 */
static int load_metadata_fields(const struct doc *d, json_t *v, struct metadata_spec **out, sesame_error *err)
{
	static const char *const known[] = {"name", "field_name", "required", NULL};
	struct seg at[3] = {{"metadata_fields", 0}, {NULL, 0}, {NULL, 0}};
	struct metadata_spec *spec;
	sesame_error e;
	size_t i, j;
	json_t *f;
	int rc = SESAME_OK;

	*out = NULL;
	if (!json_is_array(v) || json_array_size(v) > METADATA_MAX_FIELDS)
		return doc_error(err, d, at, 1, "type", "\"metadata_fields\": expected an array of at most %d fields",
				 METADATA_MAX_FIELDS);
	spec = calloc(1, sizeof(*spec));
	if (spec)
		spec->fields = calloc(json_array_size(v) + 1, sizeof(*spec->fields));
	if (!spec || !spec->fields) {
		metadata_spec_free(spec);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_array_foreach (v, i, f) {
		json_t *name = json_object_get(f, "name"), *fn = json_object_get(f, "field_name");
		json_t *req = json_object_get(f, "required");

		at[1].index = i;
		at[2].key = NULL;
		if (!json_is_object(f)) {
			rc = doc_error(err, d, at, 2, "type", "\"metadata_fields\"[%zu]: expected an object", i);
			break;
		}
		if ((rc = check_keys(d, f, at, 2, known, "a metadata field", err)) != SESAME_OK)
			break;
		at[2].key = "name";
		if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 255 ||
		    strlen(json_string_value(name)) != json_string_length(name)) {
			rc = doc_error(err, d, at, name ? 3 : 2, "type",
				       "\"metadata_fields\"[%zu]: \"name\" must be a non-empty string (a dot path)", i);
			break;
		}
		at[2].key = "field_name";
		if (fn &&
		    (!json_is_string(fn) || json_string_length(fn) == 0 || json_string_length(fn) > METADATA_NAME_MAX ||
		     strlen(json_string_value(fn)) != json_string_length(fn))) {
			rc = doc_error(err, d, at, 3, "type", "\"field_name\": expected a string of 1 to %d characters",
				       METADATA_NAME_MAX);
			break;
		}
		at[2].key = "required";
		if (req && !json_is_boolean(req)) {
			rc = doc_error(err, d, at, 3, "type", "\"required\": expected true or false");
			break;
		}
		at[2].key = "name";
		err_clear(&e);
		rc = metadata_field_init(&spec->fields[i], json_string_value(name), fn ? json_string_value(fn) : NULL,
					 json_is_true(req), &e);
		if (rc != SESAME_OK) {
			if (rc == SESAME_CONFIG)
				rc = doc_error(err, d, at, 3, e.reason, "\"metadata_fields\"[%zu]: %s", i, e.text);
			else
				rc = seterr(err, rc, e.reason, "%s", e.text);
			break;
		}
		spec->n++;
		for (j = 0; j < i; j++) {
			if (strcmp(spec->fields[j].name, spec->fields[i].name) == 0) {
				at[2].key = fn ? "field_name" : "name";
				rc = doc_error(err, d, at, 3, "duplicate",
					       "\"metadata_fields\"[%zu]: field_name \"%s\" is used by [%zu] too", i,
					       spec->fields[i].name, j);
				break;
			}
		}
		if (rc != SESAME_OK)
			break;
	}
	if (rc != SESAME_OK) {
		metadata_spec_free(spec);
		return rc;
	}
	*out = spec;
	return SESAME_OK;
}

static int load_provider(const struct dropin *e, struct provider_conf *pc, sesame_error *err)
{
	static const char *const known[] = {"type", "disabled", "config", "metadata_fields", NULL};
	struct seg path[8] = {{NULL, 0}};
	char *text = NULL;
	json_t *root = NULL, *v;
	struct doc d;
	size_t len;
	int rc;

	memset(pc, 0, sizeof(*pc));
	pc->name = strdup(e->name);
	pc->source = strdup(e->path);
	if (!pc->name || !pc->source)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (!util_valid_instance_name(e->name, MAX_NAME))
		return seterr_at(
		    err, SESAME_CONFIG, "name", e->path, 0, 0,
		    "provider instance name \"%s\" must match [A-Za-z0-9][A-Za-z0-9_-]* (at most %d characters)",
		    e->name, MAX_NAME);
	rc = config_parse_file(e->path, &text, &len, &root, err);
	if (rc != SESAME_OK)
		return rc;
	d.file = e->path;
	d.text = text;
	d.len = len;

	rc = check_keys(&d, root, path, 0, known, "a provider file", err);
	if (rc != SESAME_OK)
		goto out;
	path[0].key = "type";
	v = json_object_get(root, "type");
	if (!v) {
		rc =
		    seterr_at(err, SESAME_CONFIG, "missing", e->path, 1, 1, "missing \"type\" (e.g. \"custom-token\")");
		goto out;
	}
	if (!json_is_string(v) || !util_valid_type_name(json_string_value(v), MAX_NAME)) {
		rc = doc_error(err, &d, path, 1, "name",
			       "\"type\": a provider type must match [a-z0-9][a-z0-9_-]* (at most %d characters)",
			       MAX_NAME);
		goto out;
	}
	pc->type = strdup(json_string_value(v));
	rc = get_bool(&d, root, "disabled", &pc->disabled, err);
	if (rc != SESAME_OK)
		goto out;

	v = json_object_get(root, "config");
	path[0].key = "config";
	if (v && !json_is_object(v)) {
		rc = doc_error(err, &d, path, 1, "type", "\"config\": expected an object");
		goto out;
	}
	pc->config = v ? json_deep_copy(v) : json_object();
	rc = resolve_secrets(&d, path, 1, NULL, pc->config, &pc->shown, err);
	if (rc != SESAME_OK)
		goto out;

	v = json_object_get(root, "metadata_fields");
	if (v) {
		rc = load_metadata_fields(&d, v, &pc->metadata, err);
		if (rc != SESAME_OK)
			goto out;
		pc->metadata_fields = json_incref(v);
	}
out:
	json_decref(root);
	if (text) {
		util_wipe(text, len);
		free(text);
	}
	return rc;
}

static void provider_conf_free(struct provider_conf *pc)
{
	free(pc->name);
	free(pc->type);
	free(pc->source);
	json_decref(pc->config);
	json_decref(pc->shown);
	json_decref(pc->metadata_fields);
	metadata_spec_free(pc->metadata);
}

static int load_providers(struct config *cfg, const struct logger *lg, sesame_error *err)
{
	struct dropin *set = NULL;
	size_t n = 0, i, live = 0;
	int rc = config_dropins(cfg->provider_dirs, cfg->n_provider_dirs, &set, &n, err);

	if (rc == SESAME_OK && n > 0) {
		cfg->providers = calloc(n, sizeof(*cfg->providers));
		if (!cfg->providers)
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	for (i = 0; i < n && rc == SESAME_OK; i++) {
		if (set[i].masked) {
			log_msg(lg, SESAME_LOG_INFO, "provider \"%s\" masked by %s", set[i].name, set[i].path);
			continue;
		}
		rc = load_provider(&set[i], &cfg->providers[live], err);
		live++;
	}
	cfg->n_providers = live;
	config_dropins_free(set, n);
	return rc;
}

/* ---- entry points ------------------------------------------------------- */

int config_load(struct config *cfg, const char *path, unsigned flags, const struct logger *lg, sesame_error *err)
{
	const char *file = path ? path : SESAME_CONFIG_FILE;
	char *text = NULL;
	json_t *root = NULL;
	size_t len = 0;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	err_clear(err);
	if (set_defaults(cfg) != SESAME_OK) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto fail;
	}
	if ((flags & CONFIG_MAIN_OPTIONAL) && access(file, F_OK) != 0 && errno == ENOENT) {
		log_msg(lg, SESAME_LOG_INFO, "%s not found, using built-in defaults", file);
		root = json_object();
	} else {
		/* It names the plugin and drop-in directories: trusted like them. */
		rc = access(file, F_OK) == 0 ? trusted(file, "configuration file", err) : SESAME_OK;
		if (rc == SESAME_OK)
			rc = config_parse_file(file, &text, &len, &root, err);
		if (rc != SESAME_OK)
			goto fail;
		cfg->path = strdup(file);
	}
	{
		struct doc d = {file, text ? text : "{}", text ? len : 2};

		rc = load_main(&d, root, cfg, err);
	}
	if (text) {
		util_wipe(text, len);
		free(text);
	}
	json_decref(root);
	if (rc == SESAME_OK)
		rc = check_state_dir(cfg, err);
	if (rc != SESAME_OK)
		goto fail;
	rc = (flags & CONFIG_STORE_ONLY) ? SESAME_OK : load_providers(cfg, lg, err);
	if (rc != SESAME_OK)
		goto fail;
	return SESAME_OK;
fail:
	config_free(cfg);
	return rc;
}

void config_free(struct config *cfg)
{
	size_t i;

	free(cfg->path);
	free(cfg->app_id);
	free(cfg->state_dir);
	free(cfg->plugin_dir);
	free(cfg->store_dir);
	free_dirs(cfg->provider_dirs, cfg->n_provider_dirs);
	free_dirs(cfg->rules_dirs, cfg->n_rules_dirs);
	json_decref(cfg->store);
	json_decref(cfg->store_shown);
	free(cfg->signing_key);
	free(cfg->listen);
	free(cfg->public_url);
	json_decref(cfg->cors_origins);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	util_free_secret(cfg->admin_key);
	json_decref(cfg->extra);
	free(cfg->program_user);
	free(cfg->program_user_error);
	for (i = 0; i < cfg->n_providers; i++)
		provider_conf_free(&cfg->providers[i]);
	free(cfg->providers);
	memset(cfg, 0, sizeof(*cfg));
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *config_to_json(const struct config *cfg, bool show_secrets)
{
	json_t *o = json_object(), *dirs = json_array(), *prov = json_object(), *rdirs = json_array();
	size_t i;

	if (!o || !dirs || !prov || !rdirs) {
		json_decref(o);
		json_decref(dirs);
		json_decref(prov);
		json_decref(rdirs);
		return NULL;
	}
	for (i = 0; i < cfg->n_provider_dirs; i++)
		json_array_append_new(dirs, json_string(cfg->provider_dirs[i]));
	for (i = 0; i < cfg->n_rules_dirs; i++)
		json_array_append_new(rdirs, json_string(cfg->rules_dirs[i]));
	json_object_set_new(o, "config_file", str_or_null(cfg->path));
	json_object_set_new(o, "app_id", json_string(cfg->app_id));
	json_object_set_new(o, "state_dir", json_string(cfg->state_dir));
	json_object_set_new(o, "plugin_dir", json_string(cfg->plugin_dir));
	json_object_set_new(o, "store_dir", json_string(cfg->store_dir));
	json_object_set_new(o, "provider_dirs", dirs);
	json_object_set_new(o, "rules_dirs", rdirs);
	json_object_set(o, "store", show_secrets || !cfg->store_shown ? cfg->store : cfg->store_shown);
	json_object_set_new(o, "sessions",
			    json_pack("{s:I, s:I}", "access_ttl", (json_int_t)cfg->access_ttl, "refresh_ttl",
				      (json_int_t)cfg->refresh_ttl));
	json_object_set_new(o, "signing_key", str_or_null(cfg->signing_key));
	json_object_set_new(o, "listen", json_string(cfg->listen));
	json_object_set_new(o, "public_url", json_string(cfg->public_url));
	json_object_set(o, "cors_origins", cfg->cors_origins);
	json_object_set_new(o, "tls_cert", str_or_null(cfg->tls_cert));
	json_object_set_new(o, "tls_key", str_or_null(cfg->tls_key));
	json_object_set_new(o, "admin_key",
			    !cfg->admin_key ? json_null() : json_string(show_secrets ? cfg->admin_key : MASK));
	json_object_set_new(o, "test_mode", json_boolean(cfg->test_mode));
	json_object_set_new(o, "programs", json_pack("{s:s}", "user", cfg->program_user));
	json_object_set_new(o, "password_hashing",
			    json_pack("{s:I, s:I, s:I}", "memory_budget", (json_int_t)cfg->kdf_memory_budget, "queue",
				      (json_int_t)cfg->kdf_queue, "wait_ms", (json_int_t)cfg->kdf_wait_ms));
	json_object_update(o, cfg->extra);
	for (i = 0; i < cfg->n_providers; i++) {
		const struct provider_conf *pc = &cfg->providers[i];
		json_t *p = json_pack("{s:s, s:b, s:s, s:O}", "type", pc->type, "disabled", pc->disabled, "source",
				      pc->source, "config", show_secrets ? pc->config : pc->shown);

		if (p && pc->metadata_fields)
			json_object_set(p, "metadata_fields", pc->metadata_fields);
		json_object_set_new(prov, pc->name, p);
	}
	json_object_set_new(o, "providers", prov);
	return o;
}
