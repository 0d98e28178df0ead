/* SPDX-License-Identifier: MIT */
/*
 * cli/sesame-provider-check.c — `sesame-provider-check`, the conformance
 * checker a provider plugin's author runs before shipping it.
 *
 * It loads the plugin the way sesame does (a temporary sesame.json and one
 * drop-in for an instance named "check", then sesame_configure()), using
 * only the public API, and prints one line per check: the exported
 * symbols, the descriptor, init() with the given configuration and with an
 * unknown key, each case of a cases file, a battery of hostile credentials
 * (each in a forked child, so a crash is a failed check), verify() from
 * several threads at once, and whether freeing the context gives back
 * every JSON value and the heap.  Exit status: 0 every check passed, 1 a
 * check failed, 2 usage error, 3 the checker could not run.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_MALLINFO2
#include <malloc.h>
#endif

#include <sesame/provider.h>
#include <sesame/sesame.h>

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_TROUBLE = 3 };

/* The instance the checker configures, and a config key no plugin knows. */
#define INSTANCE "check"
#define UNKNOWN_KEY "sesame_provider_check_unknown_key"
#define DEFAULT_THREADS 8
#define MAX_THREADS 256
/* Each thread verifies every probe this many times. */
#define THREAD_ROUNDS 16
/* Probes taken from the battery when the cases file has no credential. */
#define THREAD_BATTERY_PROBES 4
/* Seconds a battery child may take before it is killed (SIGALRM). */
#define BATTERY_TIMEOUT 60
#define HUGE_STRING (1024 * 1024)
#define DEEP_NESTING 1000
#define MANY_MEMBERS 10000
/* configure/free cycles of the heap check: warm-up, then windows. */
#define HEAP_WARMUP 8
#define HEAP_WINDOWS 2
#define HEAP_WINDOW 16
/* glibc's per-thread cache holds freed blocks that mallinfo2() counts as
 * in use, and fills up over hundreds of cycles: the checker runs without. */
#define NO_TCACHE "glibc.malloc.tcache_count=0"
/* Heap bytes a cycle may leave behind: less than glibc's smallest block,
 * so that any block left per cycle fails. */
#define HEAP_SLACK 31
#define MAX_CASES 10000

static const char usage_text[] =
    "Usage: sesame-provider-check PLUGIN.so [OPTIONS]\n"
    "\n"
    "Check that a sesame provider plugin conforms to the provider ABI before\n"
    "you ship it.  The plugin is loaded as sesame loads it (its type is the file\n"
    "name without .so), as an instance named \"check\" in a temporary\n"
    "configuration, and every check prints one line: pass, FAIL, warn or skip.\n"
    "\n"
    "Checks: exported symbols (sesame_provider_entry alone), the descriptor and\n"
    "its ABI version, init() with the configuration and its refusal of an\n"
    "unknown key, each case of the cases file, hostile credentials (wrong\n"
    "types, 1 MiB strings, 1000-level nesting, invalid UTF-8, NUL bytes,\n"
    "10000 members) that must be refused without a crash, verify() from\n"
    "several threads at once, and that freeing the context releases every\n"
    "JSON value and the heap it took.\n"
    "\n"
    "Options:\n"
    "  -c, --config INSTANCE.json\n"
    "                      a provider drop-in, {\"type\", \"config\",\n"
    "                      \"metadata_fields\"}: the instance's configuration\n"
    "                      (default: {\"config\": {}})\n"
    "  -C, --cases CASES.jsonl\n"
    "                      one JSON object a line: {\"credential\": {...},\n"
    "                      \"expect\": \"ok\"|\"rejected\"|\"malformed\", \"id\": \"...\"}\n"
    "                      (\"id\" only with ok), or {\"action\": NAME, \"args\": {...}}\n"
    "                      run as the system user before the lines after it\n"
    "  -t, --threads N     threads of the concurrency check, 1 to 256 (default 8)\n"
    "  -s, --store-dir DIR store plugins (default " SESAME_STORE_DIR
    ")\n"
    "  -v, --verbose       also print the log of sesame and the plugin on stderr\n"
    "  -h, --help          show this help and exit\n"
    "  -V, --version       show the version and exit\n"
    "\n"
    "Exit status: 0 every check passed, 1 a check failed, 2 usage error,\n"
    "3 the checker could not run.  See sesame-provider-check(1).\n";

/* ---- counting jansson's allocations ----------------------------------- */

/* Blocks jansson allocated and has not freed, process-wide: every JSON
 * value of sesame, of its store and of the plugin goes through these. */
static atomic_long json_blocks;

static void *counting_malloc(size_t size)
{
	void *p = malloc(size);

	if (p)
		atomic_fetch_add(&json_blocks, 1);
	return p;
}

static void counting_free(void *p)
{
	if (!p)
		return;
	atomic_fetch_sub(&json_blocks, 1);
	free(p);
}

/* ---- inputs ------------------------------------------------------------- */

enum expect { EXPECT_OK, EXPECT_REJECTED, EXPECT_MALFORMED };

/* One line of the cases file: a credential to verify, or an action. */
struct case_line {
	int line;
	char *action; /* an action line when set */
	json_t *args;
	json_t *credential;
	enum expect expect;
	char *id; /* the identity's id an ok case must give, or NULL */
	int got;  /* status of the single-threaded run (-1: not run) */
	char *got_id;
};

/* Lines the core and the plugin logged, kept for the checks to search. */
struct logbook {
	pthread_mutex_t lock;
	bool keep;
	bool verbose;
	char **lines;
	int *levels;
	size_t n, cap;
};

struct run {
	const char *plugin_arg, *config_file, *cases_file;
	char *dir, *type, *path;
	const char *store_dir;
	unsigned threads;
	json_t *config;	   /* the instance's "config" */
	json_t *fields;	   /* its "metadata_fields", or NULL */
	char *config_text; /* INSTANCE.json as written, with "type" added */
	struct case_line *cases;
	size_t n_cases;
	char tmp[PATH_MAX];
	char main_file[PATH_MAX + 32];
	char dropin[PATH_MAX + 64];
	struct logbook log;
	unsigned checks, failed;
	bool init_ok;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sesame-provider-check: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sesame-provider-check --help'.\n", stderr);
	return EXIT_USAGE;
}

static int trouble(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int trouble(const char *fmt, ...)
{
	va_list ap;

	fputs("sesame-provider-check: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_TROUBLE;
}

/* ---- reporting ---------------------------------------------------------- */

enum verdict { PASS, FAIL, WARN, SKIP };

/* One result line.  Text from the plugin may hold anything: control
 * characters become '?', so one check stays one line. */
static void report(struct run *r, enum verdict v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void report(struct run *r, enum verdict v, const char *fmt, ...)
{
	static const char *const tags[] = {"pass", "FAIL", "warn", "skip"};
	char line[1024];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	printf("%s  %s\n", tags[v], line);
	fflush(stdout);
	if (v == PASS || v == FAIL)
		r->checks++;
	if (v == FAIL)
		r->failed++;
}

static const char *nonnull(const char *s)
{
	return s ? s : "";
}

static const char *status_word(int status)
{
	return sesame_status_name(status);
}

/* ---- the log ------------------------------------------------------------ */

static void log_line(void *data, int level, const char *message)
{
	struct logbook *lb = data;

	if (lb->verbose)
		fprintf(stderr, "log: %d: %s\n", level, message);
	if (!lb->keep)
		return;
	pthread_mutex_lock(&lb->lock);
	if (lb->n == lb->cap) {
		size_t cap = lb->cap ? 2 * lb->cap : 64;
		char **lines = realloc(lb->lines, cap * sizeof(*lines));
		int *levels = lines ? realloc(lb->levels, cap * sizeof(*levels)) : NULL;

		if (lines)
			lb->lines = lines;
		if (levels) {
			lb->levels = levels;
			lb->cap = cap;
		}
	}
	if (lb->n < lb->cap && (lb->lines[lb->n] = strdup(message)) != NULL)
		lb->levels[lb->n++] = level;
	pthread_mutex_unlock(&lb->lock);
}

static void logbook_clear(struct logbook *lb)
{
	size_t i;

	for (i = 0; i < lb->n; i++)
		free(lb->lines[i]);
	lb->n = 0;
}

/* The last kept line of at most `level` that contains every one of the
 * NULL-terminated needles, or NULL. */
static const char *logbook_find(struct logbook *lb, int level, const char *const *needles)
{
	size_t i, j;

	for (i = lb->n; i-- > 0;) {
		if (lb->levels[i] > level)
			continue;
		for (j = 0; needles[j] && strstr(lb->lines[i], needles[j]); j++)
			;
		if (!needles[j])
			return lb->lines[i];
	}
	return NULL;
}

/* ---- reading the inputs ------------------------------------------------- */

/*
 * INSTANCE.json as the user wrote it, to be the drop-in itself: the
 * positions sesame and the plugin report (config_error()) are then the
 * user's lines and columns.  A missing "type" is added before the last
 * "}", where it moves nothing.
 */
static int instance_text(struct run *r, bool add_type)
{
	FILE *f = fopen(r->config_file, "r");
	char *text = NULL, *end;
	size_t size = 0, n;
	int rc = 0;

	if (!f)
		return usage_error("%s: %s", r->config_file, strerror(errno));
	if (getdelim(&text, &size, '\0', f) < 0 || ferror(f))
		rc = usage_error("%s: %s", r->config_file, strerror(errno));
	fclose(f);
	if (rc || !add_type) {
		r->config_text = text;
		return rc;
	}
	end = strrchr(text, '}');
	n = strlen(text) + strlen(r->type) + 16;
	r->config_text = end ? malloc(n) : NULL;
	if (r->config_text) {
		const char *p = end;

		/* An object with members gets a comma first. */
		while (p > text && strchr(" \t\r\n", p[-1]))
			p--;
		snprintf(r->config_text, n, "%.*s%s\"type\": \"%s\"%s", (int)(end - text), text,
			 p[-1] == '{' ? "" : ", ", r->type, end);
	}
	free(text);
	return r->config_text ? 0 : trouble("out of memory");
}

static int load_instance(struct run *r)
{
	json_error_t e;
	json_t *root, *v;
	const char *key;
	int rc = 0;

	if (!r->config_file) {
		r->config = json_object();
		return r->config ? 0 : trouble("out of memory");
	}
	root = json_load_file(r->config_file, JSON_REJECT_DUPLICATES, &e);
	if (!root)
		return usage_error("%s:%d:%d: %s", r->config_file, e.line, e.column, e.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return usage_error("%s: expected a provider drop-in, {\"type\", \"config\", \"metadata_fields\"}",
				   r->config_file);
	}
	json_object_foreach (root, key, v) {
		if (strcmp(key, "type") != 0 && strcmp(key, "config") != 0 && strcmp(key, "metadata_fields") != 0) {
			rc = usage_error(
			    "%s: unknown member \"%s\" (expected \"type\", \"config\", \"metadata_fields\")",
			    r->config_file, key);
			break;
		}
	}
	v = json_object_get(root, "type");
	if (!rc && v && (!json_is_string(v) || strcmp(json_string_value(v), r->type) != 0))
		rc = usage_error("%s: \"type\" is %s%s%s, but the plugin's file name makes its type \"%s\"",
				 r->config_file, json_is_string(v) ? "\"" : "not a string",
				 json_is_string(v) ? json_string_value(v) : "", json_is_string(v) ? "\"" : "", r->type);
	v = json_object_get(root, "config");
	if (!rc && v && !json_is_object(v))
		rc = usage_error("%s: \"config\" must be an object", r->config_file);
	if (!rc) {
		r->config = v ? json_incref(v) : json_object();
		r->fields = json_incref(json_object_get(root, "metadata_fields"));
		if (!r->config)
			rc = trouble("out of memory");
	}
	if (!rc)
		rc = instance_text(r, !json_object_get(root, "type"));
	json_decref(root);
	return rc;
}

static int case_error(const struct run *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int case_error(const struct run *r, int line, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return usage_error("%s:%d: %s", r->cases_file, line, what);
}

static int parse_case(struct run *r, json_t *v, int line, struct case_line *k)
{
	json_t *m;
	const char *key, *expect;

	memset(k, 0, sizeof(*k));
	k->line = line;
	k->got = -1;
	if (!json_is_object(v))
		return case_error(r, line,
				  "expected an object, {\"credential\": ..., \"expect\": ...} or {\"action\": ...}");
	if (json_object_get(v, "action")) {
		json_object_foreach (v, key, m)
			if (strcmp(key, "action") != 0 && strcmp(key, "args") != 0)
				return case_error(
				    r, line,
				    "unknown member \"%.64s\": an action line has only \"action\" and \"args\"", key);
		m = json_object_get(v, "args");
		if (!json_is_string(json_object_get(v, "action")) || (m && !json_is_object(m)))
			return case_error(r, line, "\"action\" must be a string and \"args\" an object");
		k->action = strdup(json_string_value(json_object_get(v, "action")));
		k->args = m ? json_incref(m) : json_object();
		return k->action && k->args ? 0 : trouble("out of memory");
	}
	json_object_foreach (v, key, m)
		if (strcmp(key, "credential") != 0 && strcmp(key, "expect") != 0 && strcmp(key, "id") != 0)
			return case_error(r, line,
					  "unknown member \"%.64s\" (expected \"credential\", \"expect\", \"id\"; "
					  "or \"action\", \"args\")",
					  key);
	if (!json_is_object(json_object_get(v, "credential")))
		return case_error(r, line, "\"credential\" must be an object");
	expect = json_string_value(json_object_get(v, "expect"));
	if (!expect ||
	    (strcmp(expect, "ok") != 0 && strcmp(expect, "rejected") != 0 && strcmp(expect, "malformed") != 0))
		return case_error(r, line, "\"expect\" must be \"ok\", \"rejected\" or \"malformed\"");
	k->expect = expect[0] == 'o' ? EXPECT_OK : expect[0] == 'r' ? EXPECT_REJECTED : EXPECT_MALFORMED;
	m = json_object_get(v, "id");
	if (m && (!json_is_string(m) || k->expect != EXPECT_OK))
		return case_error(r, line, "\"id\" must be a string, and only an \"ok\" case has one");
	if (m && !(k->id = strdup(json_string_value(m))))
		return trouble("out of memory");
	k->credential = json_incref(json_object_get(v, "credential"));
	return 0;
}

static int load_cases(struct run *r)
{
	FILE *f;
	char *buf = NULL;
	size_t size = 0;
	ssize_t len;
	int line = 0, rc = 0;

	if (!r->cases_file)
		return 0;
	f = fopen(r->cases_file, "r");
	if (!f)
		return usage_error("%s: %s", r->cases_file, strerror(errno));
	while (rc == 0 && (len = getline(&buf, &size, f)) >= 0) {
		json_error_t e;
		json_t *v;
		size_t i;

		line++;
		for (i = 0; i < (size_t)len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n');
		     i++)
			;
		if (i == (size_t)len)
			continue;
		if (r->n_cases == MAX_CASES) {
			rc = case_error(r, line, "too many lines (at most 10000 cases)");
			break;
		}
		v = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &e);
		if (!v) {
			rc = usage_error("%s:%d:%d: %s", r->cases_file, line, e.column, e.text);
			break;
		}
		if (r->n_cases % 64 == 0) {
			struct case_line *more = realloc(r->cases, (r->n_cases + 64) * sizeof(*more));

			if (!more) {
				json_decref(v);
				rc = trouble("out of memory");
				break;
			}
			r->cases = more;
		}
		rc = parse_case(r, v, line, &r->cases[r->n_cases]);
		r->n_cases++;
		json_decref(v);
	}
	if (rc == 0 && ferror(f))
		rc = usage_error("%s: %s", r->cases_file, strerror(errno));
	free(buf);
	fclose(f);
	return rc;
}

static void free_cases(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n_cases; i++) {
		free(r->cases[i].action);
		json_decref(r->cases[i].args);
		json_decref(r->cases[i].credential);
		free(r->cases[i].id);
		free(r->cases[i].got_id);
	}
	free(r->cases);
	r->cases = NULL;
	r->n_cases = 0;
}

/* The plugin's directory and type from PLUGIN.so: the core loads
 * DIR/TYPE.so, so the checker names the plugin the same way. */
static int locate_plugin(struct run *r)
{
	const char *arg = r->plugin_arg, *slash = strrchr(arg, '/'), *base = slash ? slash + 1 : arg;
	size_t n = strlen(base);
	char *dir;

	if (n <= 3 || strcmp(base + n - 3, ".so") != 0)
		return usage_error("%s: a plugin's file is named TYPE.so", arg);
	if (access(arg, F_OK) != 0)
		return usage_error("%s: %s", arg, strerror(errno));
	dir = slash ? strndup(arg, (size_t)(slash - arg) + (slash == arg)) : strdup(".");
	r->type = strndup(base, n - 3);
	if (!dir || !r->type) {
		free(dir);
		return trouble("out of memory");
	}
	r->dir = realpath(dir, NULL);
	free(dir);
	if (!r->dir)
		return usage_error("%s: %s", arg, strerror(errno));
	n = strlen(r->dir) + strlen(r->type) + 5;
	if (!(r->path = malloc(n)))
		return trouble("out of memory");
	snprintf(r->path, n, "%s/%s.so", r->dir, r->type);
	return 0;
}

/* ---- the temporary configuration ---------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tmp(struct run *r)
{
	if (r->tmp[0])
		nftw(r->tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	r->tmp[0] = '\0';
}

static int make_tmp(struct run *r)
{
	const char *base = getenv("TMPDIR");
	char sub[PATH_MAX + 32];
	json_t *main_conf;
	int rc;

	if (!base || base[0] != '/')
		base = "/tmp";
	if ((size_t)snprintf(r->tmp, sizeof(r->tmp), "%s/sesame-provider-check.XXXXXX", base) >= sizeof(r->tmp))
		return trouble("TMPDIR is too long");
	/* mkdtemp() makes it 0700: nobody else reads the configuration. */
	if (!mkdtemp(r->tmp)) {
		rc = trouble("cannot make a temporary directory in %s: %s", base, strerror(errno));
		r->tmp[0] = '\0';
		return rc;
	}
	snprintf(sub, sizeof(sub), "%s/state", r->tmp);
	if (mkdir(sub, 0700) != 0)
		return trouble("%s: %s", sub, strerror(errno));
	snprintf(sub, sizeof(sub), "%s/providers.d", r->tmp);
	if (mkdir(sub, 0700) != 0)
		return trouble("%s: %s", sub, strerror(errno));
	snprintf(r->main_file, sizeof(r->main_file), "%s/sesame.json", r->tmp);
	snprintf(r->dropin, sizeof(r->dropin), "%s/providers.d/" INSTANCE ".json", r->tmp);
	main_conf = json_pack("{s:s, s:s+, s:s, s:s, s:[s+], s:b}", "app_id", "sesame-provider-check", "state_dir",
			      r->tmp, "/state", "plugin_dir", r->dir, "store_dir", r->store_dir, "provider_dirs",
			      r->tmp, "/providers.d", "test_mode", 1);
	if (!main_conf)
		return trouble("out of memory");
	rc = json_dump_file(main_conf, r->main_file, JSON_INDENT(2));
	json_decref(main_conf);
	return rc == 0 ? 0 : trouble("cannot write %s", r->main_file);
}

/*
 * The drop-in of the instance: INSTANCE.json itself for `config` NULL, else
 * one with `config` as its "config".  `*key_line` (NULL allowed) gets the
 * line of the drop-in that names UNKNOWN_KEY, or 0.
 */
static int write_dropin(struct run *r, const json_t *config, int *key_line)
{
	json_t *d;
	char *text = NULL;
	size_t n;
	FILE *f;
	int rc = -1;

	if (key_line)
		*key_line = 0;
	if (!config && r->config_text) {
		text = strdup(r->config_text);
	} else {
		d = json_pack("{s:s, s:O}", "type", r->type, "config", config ? config : r->config);
		if (d && r->fields)
			json_object_set(d, "metadata_fields", r->fields);
		/* Counted, then written: no jansson buffer to give back. */
		n = d ? json_dumpb(d, NULL, 0, JSON_INDENT(2)) : 0;
		text = n ? malloc(n + 1) : NULL;
		if (text && json_dumpb(d, text, n, JSON_INDENT(2)) == n)
			text[n] = '\0';
		json_decref(d);
	}
	if (text && key_line && strstr(text, "\"" UNKNOWN_KEY "\"")) {
		const char *p;

		*key_line = 1;
		for (p = text; p < strstr(text, "\"" UNKNOWN_KEY "\""); p++)
			*key_line += *p == '\n';
	}
	f = text ? fopen(r->dropin, "w") : NULL;
	if (f) {
		rc = fputs(text, f) < 0 ? -1 : 0;
		if (fclose(f) != 0)
			rc = -1;
	}
	free(text);
	return rc;
}

/* A context with the instance configured by `config` (NULL: as
 * INSTANCE.json says); NULL when sesame_configure() failed (`err` says
 * why).  `*key_line` as write_dropin(). */
static sesame_ctx *context_open(struct run *r, const json_t *config, int *key_line, sesame_error *err)
{
	sesame_ctx *ctx;

	memset(err, 0, sizeof(*err));
	if (write_dropin(r, config, key_line) != 0) {
		err->status = SESAME_INTERNAL;
		snprintf(err->text, sizeof(err->text), "cannot write %s", r->dropin);
		return NULL;
	}
	ctx = sesame_new();
	if (!ctx) {
		err->status = SESAME_INTERNAL;
		snprintf(err->text, sizeof(err->text), "out of memory");
		return NULL;
	}
	sesame_set_logger(ctx, log_line, &r->log, SESAME_LOG_INFO);
	if (sesame_configure(ctx, r->main_file, 0, err) != SESAME_OK) {
		sesame_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * A message of sesame about the instance, for the user: the drop-in's name
 * becomes INSTANCE.json's when the drop-in is that file (`as_written`),
 * else goes with its position; the plugin file's path and the "(plugin
 * PATH)" after a position go; "TYPE init: " becomes "init: ".
 */
static void shown_error(const struct run *r, const char *text, bool as_written, char *out, size_t size)
{
	size_t n = strlen(r->dropin), t = strlen(r->type), p = strlen(r->path), len;
	const char *file = "";
	char suffix[PATH_MAX + 16];

	if (strncmp(text, r->dropin, n) == 0 && text[n] == ':') {
		text += n;
		if (as_written && r->config_file && text[1] >= '0' && text[1] <= '9') {
			file = r->config_file;
		} else {
			while (*text == ':' || (*text >= '0' && *text <= '9'))
				text++;
			text += *text == ' ';
		}
	}
	if (strncmp(text, r->path, p) == 0 && strncmp(text + p, ": ", 2) == 0)
		text += p + 2;
	if (strncmp(text, r->type, t) == 0 && strncmp(text + t, " init: ", 7) == 0)
		text += t + 1;
	snprintf(out, size, "%s%s", file, text);
	/* After a position, sesame names the plugin. */
	snprintf(suffix, sizeof(suffix), " (plugin %s)", r->path);
	len = strlen(out);
	if (len >= strlen(suffix) && strcmp(out + len - strlen(suffix), suffix) == 0)
		out[len - strlen(suffix)] = '\0';
}

/*
 * Why the instance failed, as the plugin said it: from the context when it
 * was configured, else from the log; raw in `raw` (NULL allowed), and as
 * shown_error() makes it in `out`.
 */
static void instance_error(struct run *r, sesame_ctx *ctx, bool as_written, char *raw, char *out, size_t size)
{
	static const char *const needles[] = {"provider \"" INSTANCE "\"", "is unavailable: ", NULL};
	const char *text = NULL, *line;
	json_t *list = ctx ? sesame_providers_json(ctx) : NULL, *e;
	size_t i;

	json_array_foreach (list, i, e)
		if (strcmp(nonnull(json_string_value(json_object_get(e, "name"))), INSTANCE) == 0)
			text = json_string_value(json_object_get(e, "error"));
	if (!text && (line = logbook_find(&r->log, SESAME_LOG_ERR, needles)) != NULL)
		text = strstr(line, "is unavailable: ") + strlen("is unavailable: ");
	if (!text)
		text = "(no message)";
	if (raw)
		snprintf(raw, size, "%s", text);
	shown_error(r, text, as_written, out, size);
	json_decref(list);
}

/* Whether the instance of a configured context is ready. */
static bool instance_ready(sesame_ctx *ctx)
{
	json_t *list = ctx ? sesame_providers_json(ctx) : NULL, *e;
	bool ready = false;
	size_t i;

	json_array_foreach (list, i, e)
		if (strcmp(nonnull(json_string_value(json_object_get(e, "name"))), INSTANCE) == 0)
			ready = strcmp(nonnull(json_string_value(json_object_get(e, "state"))), "ready") == 0;
	json_decref(list);
	return ready;
}

/* ---- exports and descriptor --------------------------------------------- */

static void check_exports(struct run *r, bool loaded)
{
	const char *needles[] = {r->path, "plugin exports ", NULL};
	const char *line = logbook_find(&r->log, SESAME_LOG_WARNING, needles);

	if (!loaded)
		report(r, FAIL, "exports: not checked: sesame did not load the plugin");
	else if (line)
		report(r, FAIL, "exports: %s", strstr(line, "plugin exports ") + strlen("plugin exports "));
	else
		report(r, PASS, "exports: only " SESAME_PROVIDER_ENTRY_SYMBOL);
}

/* The optional fields of the descriptor, in ABI order. */
static void describe_fields(const struct sesame_provider *d, char *covered, char *set, size_t size)
{
	struct field {
		const char *name;
		size_t end;
		bool set;
	} fields[] = {
#define FIELD(f, is_set) {#f, offsetof(struct sesame_provider, f) + sizeof(d->f), is_set}
	    FIELD(action, d->action != NULL),	       FIELD(user_deleted, d->user_deleted != NULL),
	    FIELD(capabilities, d->capabilities != 0), FIELD(metadata_defaults, d->metadata_defaults != NULL),
	    FIELD(action_as, d->action_as != NULL),
#undef FIELD
	};
	size_t i, c = 0, s = 0;

	covered[0] = set[0] = '\0';
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (d->struct_size < fields[i].end)
			continue;
		c += (size_t)snprintf(covered + c, size - c, "%s%s", c ? ", " : "", fields[i].name);
		if (fields[i].set)
			s += (size_t)snprintf(set + s, size - s, "%s%s", s ? ", " : "", fields[i].name);
		if (c >= size || s >= size)
			break;
	}
	if (!covered[0])
		snprintf(covered, size, "none");
	if (!set[0])
		snprintf(set, size, "none");
}

/*
 * Read the descriptor the way the core does, from the object the core
 * loaded (RTLD_NOLOAD: nothing the core refused to load is opened here),
 * copying only struct_size bytes, and never more than the symbol's size.
 */
static bool check_descriptor(struct run *r)
{
	struct sesame_provider d;
	const ElfW(Sym) *sym = NULL;
	const uint32_t *head;
	Dl_info info;
	size_t object = 0, n;
	char covered[256], set[256];
	void *h = dlopen(r->path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	bool ok = true;

	if (!h) {
		report(r, FAIL, "descriptor: not checked: sesame did not load the plugin");
		return false;
	}
	head = dlsym(h, SESAME_PROVIDER_ENTRY_SYMBOL);
	if (!head) {
		report(r, FAIL, "descriptor: no symbol " SESAME_PROVIDER_ENTRY_SYMBOL);
		dlclose(h);
		return false;
	}
	if (dladdr1(head, &info, (void **)&sym, RTLD_DL_SYMENT) && sym)
		object = sym->st_size;
	if (object && object < 2 * sizeof(uint32_t)) {
		report(r, FAIL, "descriptor: " SESAME_PROVIDER_ENTRY_SYMBOL " is %zu bytes, too small for a descriptor",
		       object);
		dlclose(h);
		return false;
	}
	memset(&d, 0, sizeof(d));
	d.abi_version = head[0];
	d.struct_size = head[1];

	if (SESAME_ABI_MAJOR_OF(d.abi_version) != SESAME_PROVIDER_ABI_MAJOR) {
		/* Another major is another layout: nothing more to read. */
		report(r, FAIL, "descriptor: ABI %u.%u: this sesame speaks major %u",
		       SESAME_ABI_MAJOR_OF(d.abi_version), SESAME_ABI_MINOR_OF(d.abi_version),
		       (unsigned)SESAME_PROVIDER_ABI_MAJOR);
		dlclose(h);
		return false;
	}
	report(r, PASS, "descriptor: ABI %u.%u (major %u, as this sesame's)", SESAME_ABI_MAJOR_OF(d.abi_version),
	       SESAME_ABI_MINOR_OF(d.abi_version), (unsigned)SESAME_PROVIDER_ABI_MAJOR);
	if (SESAME_ABI_MINOR_OF(d.abi_version) > SESAME_PROVIDER_ABI_MINOR)
		report(
		    r, WARN,
		    "descriptor: ABI minor %u is newer than this checker's %u: fields after ABI %u.%u are not checked",
		    SESAME_ABI_MINOR_OF(d.abi_version), (unsigned)SESAME_PROVIDER_ABI_MINOR,
		    (unsigned)SESAME_PROVIDER_ABI_MAJOR, (unsigned)SESAME_PROVIDER_ABI_MINOR);
	if (d.struct_size < SESAME_PROVIDER_MIN_SIZE) {
		report(r, FAIL, "descriptor: struct_size %u is below the ABI 1.0 minimum %zu", (unsigned)d.struct_size,
		       (size_t)SESAME_PROVIDER_MIN_SIZE);
		dlclose(h);
		return false;
	}
	if (object && d.struct_size > object) {
		report(r, FAIL, "descriptor: struct_size %u is larger than the descriptor object (%zu bytes)",
		       (unsigned)d.struct_size, object);
		dlclose(h);
		return false;
	}
	/* Only what the plugin's struct_size covers is read. */
	n = d.struct_size < sizeof(d) ? d.struct_size : sizeof(d);
	memcpy(&d, head, n);
	describe_fields(&d, covered, set, sizeof(covered));
	report(r, PASS, "descriptor: struct_size %u (ABI 1.0 minimum %zu%s); optional fields covered: %s; set: %s",
	       (unsigned)d.struct_size, (size_t)SESAME_PROVIDER_MIN_SIZE,
	       d.struct_size > sizeof(d) ? ", and more than this checker knows" : "", covered, set);
	if (SESAME_HAS_FIELD(struct sesame_provider, capabilities, d.struct_size) &&
	    (d.capabilities & ~SESAME_PROVIDER_CAP_ALL))
		report(r, WARN, "descriptor: capabilities 0x%x has bits this sesame does not know (ignored)",
		       (unsigned)d.capabilities);

	if (!d.type || strcmp(d.type, r->type) != 0) {
		report(r, FAIL, "descriptor: type \"%s\" differs from the file name's \"%s\"",
		       d.type ? d.type : "(null)", r->type);
		ok = false;
	} else {
		report(r, PASS, "descriptor: type \"%s\" matches the file name", d.type);
	}
	if (!d.version || !d.version[0] || !d.description || !d.description[0]) {
		report(r, FAIL, "descriptor: version and description must be non-empty strings");
		ok = false;
	} else {
		report(r, PASS, "descriptor: version \"%s\", description \"%s\"", d.version, d.description);
	}
	if (!d.init || !d.verify || !d.fini) {
		report(r, FAIL, "descriptor: required functions missing:%s%s%s", d.init ? "" : " init",
		       d.verify ? "" : " verify", d.fini ? "" : " fini");
		ok = false;
	} else {
		report(r, PASS, "descriptor: init, verify and fini set");
	}
	/* The core keeps its own reference: this one goes, the plugin stays. */
	dlclose(h);
	return ok;
}

/* ---- init ------------------------------------------------------------- */

static bool check_init(struct run *r, sesame_ctx *ctx)
{
	char text[SESAME_ERROR_TEXT_LENGTH + 64];

	if (ctx && instance_ready(ctx)) {
		report(r, PASS, "init: instance " INSTANCE " ready with the given config");
		return true;
	}
	instance_error(r, ctx, true, NULL, text, sizeof(text));
	report(r, FAIL, "init: provider " INSTANCE ": %s", text);
	return false;
}

/* Whether sesame's message `raw` about the probe drop-in points at line
 * `key_line` of it: a plugin that reports the unknown key with
 * config_error() names it by its position. */
static bool points_at(const struct run *r, const char *raw, int key_line)
{
	size_t n = strlen(r->dropin);
	char *end;

	if (key_line <= 0 || strncmp(raw, r->dropin, n) != 0 || raw[n] != ':')
		return false;
	return strtol(raw + n + 1, &end, 10) == key_line && *end == ':';
}

static void check_unknown_key(struct run *r)
{
	json_t *config = json_deep_copy(r->config);
	char raw[SESAME_ERROR_TEXT_LENGTH + 64], text[SESAME_ERROR_TEXT_LENGTH + 64];
	sesame_ctx *ctx;
	sesame_error err;
	int key_line;

	if (!config || json_object_set_new(config, UNKNOWN_KEY, json_true()) != 0) {
		json_decref(config);
		report(r, FAIL, "init: unknown config key: out of memory");
		return;
	}
	logbook_clear(&r->log);
	ctx = context_open(r, config, &key_line, &err);
	json_decref(config);
	if (ctx && instance_ready(ctx)) {
		report(r, FAIL,
		       "init: accepted the unknown config key \"" UNKNOWN_KEY "\" (a typo would go unnoticed)");
	} else {
		instance_error(r, ctx, false, raw, text, sizeof(text));
		if (strstr(raw, UNKNOWN_KEY))
			report(r, PASS, "init: refuses the unknown config key: %s", text);
		else if (points_at(r, raw, key_line))
			report(r, PASS, "init: refuses the unknown config key, at its position: %s", text);
		else
			report(r, FAIL, "init: refuses an unknown config key without naming it: %s", text);
	}
	sesame_free(ctx);
}

/* ---- cases ---------------------------------------------------------- */

static const char *const expect_words[] = {"ok", "rejected", "malformed"};
static const int expect_status[] = {SESAME_OK, SESAME_REJECTED, SESAME_MALFORMED};

static void run_action(struct run *r, sesame_ctx *ctx, struct case_line *k)
{
	sesame_caller *system = sesame_caller_system(ctx);
	json_t *result = NULL;
	sesame_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = system ? sesame_provider_action_as(ctx, system, INSTANCE, k->action, k->args, &result, &err)
		    : SESAME_INTERNAL;
	if (rc == SESAME_OK)
		report(r, PASS, "case line %d: action \"%s\" as the system user: ok", k->line, k->action);
	else
		report(r, FAIL, "case line %d: action \"%s\" as the system user: %s: %s", k->line, k->action,
		       status_word(rc), err.text);
	json_decref(result);
	sesame_caller_free(system);
}

static void check_cases(struct run *r, sesame_ctx *ctx)
{
	size_t i;

	for (i = 0; i < r->n_cases; i++) {
		struct case_line *k = &r->cases[i];
		json_t *identity = NULL;
		const char *id;
		sesame_error err;
		int rc;

		if (k->action) {
			run_action(r, ctx, k);
			continue;
		}
		memset(&err, 0, sizeof(err));
		rc = sesame_verify_credential(ctx, INSTANCE, k->credential, &identity, &err);
		id = json_string_value(json_object_get(identity, "id"));
		k->got = rc;
		k->got_id = id ? strdup(id) : NULL;
		if (rc != expect_status[k->expect])
			report(r, FAIL, "case line %d: expected %s, got %s: %s", k->line, expect_words[k->expect],
			       status_word(rc), rc == SESAME_OK ? (id ? id : "") : err.text);
		else if (rc == SESAME_OK && k->id && (!id || strcmp(id, k->id) != 0))
			report(r, FAIL, "case line %d: ok, but the id is \"%s\", not \"%s\"", k->line, id ? id : "",
			       k->id);
		else if (rc == SESAME_OK)
			report(r, PASS, "case line %d: ok, id \"%s\"", k->line, id ? id : "");
		else
			report(r, PASS, "case line %d: %s: %s", k->line, expect_words[k->expect], err.text);
		json_decref(identity);
	}
}

/* ---- hostile credentials ------------------------------------------------ */

/* One hostile credential and what became of it. */
struct hostile {
	char label[160];
	json_t *credential;
	bool passed;
};

struct battery {
	struct hostile *list;
	size_t n, cap;
};

static void battery_add(struct battery *b, json_t *credential, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void battery_add(struct battery *b, json_t *credential, const char *fmt, ...)
{
	va_list ap;

	if (!credential)
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 32;
		struct hostile *more = realloc(b->list, cap * sizeof(*more));

		if (!more) {
			json_decref(credential);
			return;
		}
		b->list = more;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->list[b->n].label, sizeof(b->list[b->n].label), fmt, ap);
	va_end(ap);
	b->list[b->n].credential = credential;
	b->list[b->n].passed = false;
	b->n++;
}

/* `base` (borrowed) with `name` set to `value` (taken). */
static json_t *with_member(const json_t *base, const char *name, json_t *value)
{
	json_t *c = json_deep_copy(base);

	if (!value || !c) {
		json_decref(value);
		json_decref(c);
		return NULL;
	}
	if (json_object_set_new(c, name, value) != 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* `prefix` and `suffix` as one string, taken verbatim: jansson checks
 * neither the encoding nor for NUL. */
static json_t *raw_string(const char *prefix, size_t p, const char *suffix, size_t suffix_length)
{
	char *s = malloc(p + suffix_length + 1);
	json_t *v;

	if (!s)
		return NULL;
	memcpy(s, prefix, p);
	memcpy(s + p, suffix, suffix_length);
	s[p + suffix_length] = '\0';
	v = json_stringn_nocheck(s, p + suffix_length);
	free(s);
	return v;
}

static json_t *huge_string(void)
{
	char *s = malloc(HUGE_STRING);
	json_t *v;

	if (!s)
		return NULL;
	memset(s, 'a', HUGE_STRING);
	v = json_stringn_nocheck(s, HUGE_STRING);
	free(s);
	return v;
}

static json_t *deep_array(void)
{
	json_t *v = json_string("deep");
	int i;

	for (i = 0; v && i < DEEP_NESTING; i++) {
		json_t *a = json_array();

		/* json_array_append_new() releases `v` when it fails. */
		if (!a || json_array_append_new(a, v) != 0) {
			if (!a)
				json_decref(v);
			json_decref(a);
			return NULL;
		}
		v = a;
	}
	return v;
}

static json_t *many_members(void)
{
	json_t *c = json_object();
	char key[16];
	int i;

	for (i = 0; c && i < MANY_MEMBERS; i++) {
		snprintf(key, sizeof(key), "m%05d", i);
		if (json_object_set_new(c, key, json_string("x")) != 0) {
			json_decref(c);
			return NULL;
		}
	}
	return c;
}

/* The credential a member's hostile values are put into: an ok case's
 * when one has the member, else the smallest case that has it, else {}. */
static const json_t *base_for(const struct run *r, const char *name)
{
	const json_t *best = NULL;
	size_t i;

	for (i = 0; i < r->n_cases; i++) {
		const json_t *c = r->cases[i].credential;

		if (!c || !json_object_get(c, name))
			continue;
		if (r->cases[i].expect == EXPECT_OK)
			return c;
		if (!best || json_object_size(c) < json_object_size(best))
			best = c;
	}
	return best;
}

/* The hostile values of one member, each in a copy of its base. */
static void battery_member(struct battery *b, const json_t *base, const char *name)
{
	static const char bad_utf8[] = "\xff\xfe\xc3\x28";
	static const char nul[] = "\0sesame-provider-check";
	json_t *empty = json_object();
	const json_t *orig;
	json_type t;
	const char *s;
	size_t n;

	if (!base)
		base = empty;
	orig = json_object_get(base, name);
	t = orig ? json_typeof(orig) : JSON_NULL;
	s = json_is_string(orig) ? json_string_value(orig) : "sesame";
	n = json_is_string(orig) ? json_string_length(orig) : strlen(s);
	/* Values of another type than the member's own. */
	if (!json_is_number(orig))
		battery_add(b, with_member(base, name, json_integer(12345)), "\"%s\" as a number", name);
	if (t != JSON_ARRAY)
		battery_add(b, with_member(base, name, json_pack("[s]", s)), "\"%s\" as an array", name);
	if (t != JSON_OBJECT)
		battery_add(b, with_member(base, name, json_pack("{s:s}", name, s)), "\"%s\" as an object", name);
	if (!orig || t != JSON_NULL)
		battery_add(b, with_member(base, name, json_null()), "\"%s\" as null", name);
	if (!json_is_boolean(orig))
		battery_add(b, with_member(base, name, json_true()), "\"%s\" as true", name);
	battery_add(b, with_member(base, name, huge_string()), "\"%s\" as a 1 MiB string", name);
	battery_add(b, with_member(base, name, deep_array()), "\"%s\" nested %d levels deep", name, DEEP_NESTING);
	/* The member's own value with bytes appended: a plugin that stops
	 * at a NUL or ignores encoding errors would take it for the real one. */
	battery_add(b, with_member(base, name, raw_string(s, n, bad_utf8, sizeof(bad_utf8) - 1)),
		    "\"%s\" with invalid UTF-8", name);
	battery_add(b, with_member(base, name, raw_string(s, n, nul, sizeof(nul) - 1)), "\"%s\" with a NUL byte", name);
	json_decref(empty);
}

static void build_battery(const struct run *r, struct battery *b)
{
	static const char *const defaults[] = {"id_token", "token",	  "username", "password",
					       "key",	   "accessToken", "authCode", "email"};
	json_t *names = json_array();
	const char *key;
	json_t *v;
	size_t i;

	for (i = 0; names && i < r->n_cases; i++)
		json_object_foreach (r->cases[i].credential, key, v) {
			size_t j;
			json_t *n;

			json_array_foreach (names, j, n)
				if (strcmp(json_string_value(n), key) == 0)
					break;
			if (j == json_array_size(names))
				json_array_append_new(names, json_string(key));
		}
	if (names && json_array_size(names) == 0)
		for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			json_array_append_new(names, json_string(defaults[i]));
	json_array_foreach (names, i, v)
		battery_member(b, base_for(r, json_string_value(v)), json_string_value(v));
	json_decref(names);
	battery_add(b, json_object(), "{}");
	battery_add(b, many_members(), "%d members", MANY_MEMBERS);
}

/* What a battery child tells its parent. */
struct outcome {
	int status;
	char text[SESAME_ERROR_TEXT_LENGTH];
};

/* Verify in a child process: a crash or a hang ends the child, not the
 * checker.  False (with `why`) when the child did not answer. */
static bool verify_in_child(sesame_ctx *ctx, const json_t *credential, struct outcome *o, char *why, size_t size)
{
	int fds[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) != 0) {
		snprintf(why, size, "cannot make a pipe: %s", strerror(errno));
		return false;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(why, size, "cannot fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0) {
		json_t *identity = NULL;
		sesame_error err;

		close(fds[0]);
		alarm(BATTERY_TIMEOUT);
		memset(&err, 0, sizeof(err));
		memset(o, 0, sizeof(*o));
		o->status = sesame_verify_credential(ctx, INSTANCE, credential, &identity, &err);
		if (o->status == SESAME_OK)
			snprintf(o->text, sizeof(o->text), "id \"%s\"",
				 nonnull(json_string_value(json_object_get(identity, "id"))));
		else
			memcpy(o->text, err.text, sizeof(o->text));
		n = write(fds[1], o, sizeof(*o));
		/* No exit handlers: they belong to the parent's libraries. */
		_exit(n == (ssize_t)sizeof(*o) ? 0 : 1);
	}
	close(fds[1]);
	while (got < sizeof(*o) &&
	       ((n = read(fds[0], (char *)o + got, sizeof(*o) - got)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		snprintf(why, size, "the plugin crashed: signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), WTERMSIG(status) == SIGALRM ? ": no answer within 60 s" : "");
		return false;
	}
	if (got != sizeof(*o)) {
		snprintf(why, size, "the verifying process ended without an answer (exit status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return false;
	}
	o->text[sizeof(o->text) - 1] = '\0';
	return true;
}

/* Whether the cases file lists `credential` as valid. */
static bool listed_ok(const struct run *r, const json_t *credential)
{
	size_t i;

	for (i = 0; i < r->n_cases; i++)
		if (r->cases[i].credential && r->cases[i].expect == EXPECT_OK &&
		    json_equal(r->cases[i].credential, credential))
			return true;
	return false;
}

static void check_battery(struct run *r, struct battery *b)
{
	sesame_error err;
	char why[256];
	sesame_ctx *ctx;
	size_t i;

	/* A context of its own, which the parent never verifies with: each
	 * child opens the store afresh instead of sharing the parent's. */
	ctx = context_open(r, NULL, NULL, &err);
	if (!ctx) {
		report(r, FAIL, "battery: not run: %s", err.text);
		return;
	}
	for (i = 0; i < b->n; i++) {
		struct hostile *h = &b->list[i];
		struct outcome o;

		if (listed_ok(r, h->credential)) {
			report(r, SKIP, "battery: %s: the cases file lists it as valid", h->label);
			continue;
		}
		if (!verify_in_child(ctx, h->credential, &o, why, sizeof(why)))
			report(r, FAIL, "battery: %s: %s", h->label, why);
		else if (o.status == SESAME_REJECTED || o.status == SESAME_MALFORMED) {
			report(r, PASS, "battery: %s: %s: %s", h->label, status_word(o.status), o.text);
			h->passed = true;
		} else if (o.status == SESAME_OK)
			report(r, FAIL, "battery: %s: accepted (%s)", h->label, o.text);
		else
			report(r, FAIL, "battery: %s: %s instead of rejected or malformed: %s", h->label,
			       status_word(o.status), o.text);
	}
	sesame_free(ctx);
}

static void free_battery(struct battery *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		json_decref(b->list[i].credential);
	free(b->list);
	memset(b, 0, sizeof(*b));
}

/* ---- threads ------------------------------------------------------------ */

/* A credential and what one thread got for it. */
struct probe {
	const json_t *credential;
	int status;
	const char *id; /* compared when not NULL */
	char label[64];
};

struct crowd {
	sesame_ctx *ctx;
	const struct probe *probes;
	size_t n_probes;
	pthread_barrier_t start;
	pthread_mutex_t lock;
	unsigned long runs, mismatches;
	char first[512];
};

static void *crowd_member(void *arg)
{
	struct crowd *c = arg;
	unsigned long runs = 0, mismatches = 0;
	char first[512] = "";
	int round;
	size_t i;

	pthread_barrier_wait(&c->start);
	for (round = 0; round < THREAD_ROUNDS; round++)
		for (i = 0; i < c->n_probes; i++) {
			const struct probe *p = &c->probes[i];
			json_t *identity = NULL;
			sesame_error err;
			const char *id;
			int rc;

			memset(&err, 0, sizeof(err));
			rc = sesame_verify_credential(c->ctx, INSTANCE, p->credential, &identity, &err);
			id = json_string_value(json_object_get(identity, "id"));
			runs++;
			if (rc != p->status || (rc == SESAME_OK && p->id && (!id || strcmp(id, p->id) != 0))) {
				if (mismatches++ == 0)
					snprintf(first, sizeof(first), "%s: %s%s%s%s%s, one thread got %s%s%s",
						 p->label, status_word(rc), id ? " with id " : "", id ? id : "",
						 rc == SESAME_OK ? "" : ": ", rc == SESAME_OK ? "" : err.text,
						 status_word(p->status), p->id ? " with id " : "", p->id ? p->id : "");
			}
			json_decref(identity);
		}
	pthread_mutex_lock(&c->lock);
	c->runs += runs;
	if (mismatches && c->mismatches == 0)
		memcpy(c->first, first, sizeof(first));
	c->mismatches += mismatches;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void check_threads(struct run *r, sesame_ctx *ctx, const struct battery *b)
{
	struct probe *probes = calloc(r->n_cases + THREAD_BATTERY_PROBES, sizeof(*probes));
	struct crowd c;
	pthread_t *tids = calloc(r->threads, sizeof(*tids));
	size_t n = 0, i;
	unsigned started = 0;
	const char *from = "cases";

	if (!probes || !tids) {
		report(r, FAIL, "threads: out of memory");
		free(probes);
		free(tids);
		return;
	}
	for (i = 0; i < r->n_cases; i++)
		if (r->cases[i].credential && r->cases[i].got >= 0) {
			probes[n].credential = r->cases[i].credential;
			probes[n].status = r->cases[i].got;
			probes[n].id = r->cases[i].id ? r->cases[i].got_id : NULL;
			snprintf(probes[n].label, sizeof(probes[n].label), "case line %d", r->cases[i].line);
			n++;
		}
	/* No case: the first hostile credentials that were refused without a
	 * crash, with what one thread gets for them now. */
	for (i = 0; r->n_cases == 0 && i < b->n && n < THREAD_BATTERY_PROBES; i++) {
		json_t *identity = NULL;
		sesame_error err;

		if (!b->list[i].passed)
			continue;
		from = "hostile credentials";
		probes[n].credential = b->list[i].credential;
		probes[n].status = sesame_verify_credential(ctx, INSTANCE, b->list[i].credential, &identity, &err);
		json_decref(identity);
		snprintf(probes[n].label, sizeof(probes[n].label), "battery %s", b->list[i].label);
		n++;
	}
	if (n == 0) {
		report(r, SKIP, "threads: no credential to verify");
		free(probes);
		free(tids);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.probes = probes;
	c.n_probes = n;
	pthread_mutex_init(&c.lock, NULL);
	pthread_barrier_init(&c.start, NULL, r->threads);
	for (i = 0; i < r->threads; i++) {
		if (pthread_create(&tids[i], NULL, crowd_member, &c) != 0)
			break;
		started++;
	}
	if (started < r->threads) {
		/* The barrier waits for every thread: without all of them,
		 * none may start, so the checker cannot go on. */
		fprintf(stderr, "sesame-provider-check: cannot start %u threads\n", r->threads);
		remove_tmp(r);
		exit(EXIT_TROUBLE);
	}
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (c.mismatches == 0)
		report(r, PASS,
		       "threads: %u threads verified %zu %s %d times each at once (%lu verifications), "
		       "as one thread did",
		       r->threads, n, from, THREAD_ROUNDS, c.runs);
	else
		report(r, FAIL, "threads: %lu of %lu verifications from %u threads differ from one thread's, first %s",
		       c.mismatches, c.runs, r->threads, c.first);
	pthread_barrier_destroy(&c.start);
	pthread_mutex_destroy(&c.lock);
	free(probes);
	free(tids);
}

/* ---- fini --------------------------------------------------------------- */

/* One context's whole life: configure, verify each case once, free. */
static bool cycle(struct run *r)
{
	sesame_error err;
	sesame_ctx *ctx = context_open(r, NULL, NULL, &err);
	size_t i;

	if (!ctx)
		return false;
	for (i = 0; i < r->n_cases; i++) {
		json_t *identity = NULL;

		if (r->cases[i].credential)
			sesame_verify_credential(ctx, INSTANCE, r->cases[i].credential, &identity, &err);
		json_decref(identity);
	}
	sesame_free(ctx);
	return true;
}

#ifdef HAVE_MALLINFO2
static size_t heap_in_use(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/* Whether mallinfo2() sees this process's allocations: under
 * AddressSanitizer (its own allocator) it reports nothing. */
static bool heap_visible(void)
{
	size_t before = heap_in_use(), after;
	void *volatile block = malloc(64 * 1024);

	after = heap_in_use();
	free(block);
	return block && after >= before + 64 * 1024;
}

/* The heap growth of one window of cycles, per cycle; false when a cycle
 * failed. */
static bool heap_window(struct run *r, long *per_cycle)
{
	size_t before = heap_in_use();
	int i;

	for (i = 0; i < HEAP_WINDOW; i++)
		if (!cycle(r))
			return false;
	*per_cycle = ((long)heap_in_use() - (long)before) / HEAP_WINDOW;
	return true;
}

static void check_heap(struct run *r)
{
	long per_cycle = LONG_MAX, window;
	bool ok = true;
	int i;

	if (!heap_visible()) {
		report(r, SKIP,
		       "fini: heap left per configure/free cycle not measured: mallinfo2() does not see "
		       "this process's allocations (AddressSanitizer?)");
		return;
	}
	r->log.keep = false;
	for (i = 0; ok && i < HEAP_WARMUP; i++)
		ok = cycle(r);
	/* Caches fill up once (OpenSSL's, SQLite's) and the heap settles: a
	 * window of cycles that leaves nothing behind shows that a cycle
	 * leaks nothing, while a leak grows in every window. */
	for (i = 0; ok && i < HEAP_WINDOWS; i++)
		if ((ok = heap_window(r, &window)) && window < per_cycle)
			per_cycle = window;
	r->log.keep = true;
	if (!ok) {
		report(r, FAIL, "fini: a configure/verify/free cycle failed");
		return;
	}
	if (per_cycle < 0)
		per_cycle = 0;
	if (per_cycle > HEAP_SLACK)
		report(r, FAIL,
		       "fini: %ld heap bytes left behind per configure/verify/free cycle (the least of %d windows "
		       "of %d cycles after %d; at most %d allowed)",
		       per_cycle, HEAP_WINDOWS, HEAP_WINDOW, HEAP_WARMUP, HEAP_SLACK);
	else
		report(r, PASS,
		       "fini: %ld heap bytes left behind per configure/verify/free cycle (the least of %d windows "
		       "of %d cycles after %d)",
		       per_cycle, HEAP_WINDOWS, HEAP_WINDOW, HEAP_WARMUP);
}
#else
static void check_heap(struct run *r)
{
	report(r, SKIP, "fini: heap left per configure/free cycle not measured: no mallinfo2() here");
}
#endif

static void check_json_left(struct run *r, long baseline)
{
	long left = atomic_load(&json_blocks) - baseline;

	if (left == 0)
		report(r, PASS, "fini: no JSON value left after the contexts were freed");
	else
		report(r, FAIL,
		       "fini: %ld JSON allocation(s) %s after the contexts were freed (a value never "
		       "released, or json_dumps() output released with free() instead of jansson's free function)",
		       left < 0 ? -left : left, left < 0 ? "released twice or foreign" : "left");
}

/* ---- main ----------------------------------------------------------- */

static int run_checks(struct run *r)
{
	struct battery b = {NULL, 0, 0};
	long baseline = atomic_load(&json_blocks);
	sesame_error err;
	sesame_ctx *ctx;
	bool descriptor_ok;
	void *h;

	ctx = context_open(r, NULL, NULL, &err);
	/* The core refuses a bad drop-in (metadata_fields) before any plugin
	 * runs: that is the input's fault, not the plugin's. */
	if (!ctx && err.status == SESAME_CONFIG && strcmp(err.reason, "no-provider") != 0) {
		char text[SESAME_ERROR_TEXT_LENGTH + PATH_MAX];

		shown_error(r, err.text, true, text, sizeof(text));
		if (r->config_file && strncmp(text, r->config_file, strlen(r->config_file)) == 0)
			return usage_error("%s", text);
		return usage_error("%s: %s", r->config_file ? r->config_file : "the instance", text);
	}
	/* Loaded by the core (never unloaded): RTLD_NOLOAD opens nothing new. */
	h = dlopen(r->path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	check_exports(r, h != NULL);
	if (h)
		dlclose(h);
	descriptor_ok = check_descriptor(r);
	r->init_ok = check_init(r, ctx) && descriptor_ok;
	if (r->init_ok) {
		check_unknown_key(r);
		check_cases(r, ctx);
		build_battery(r, &b);
		check_battery(r, &b);
		check_threads(r, ctx, &b);
	} else {
		report(r, SKIP, "unknown config key, cases, hostile credentials, threads and fini: not checked");
	}
	free_battery(&b);
	sesame_free(ctx);
	if (r->init_ok) {
		check_heap(r);
		check_json_left(r, baseline);
	}
	return 0;
}

#ifdef HAVE_MALLINFO2
/* Run again with glibc's per-thread cache off (see NO_TCACHE), unless it
 * is off already; when that fails, go on with it on. */
static void reexec_without_tcache(char **argv)
{
	const char *old = getenv("GLIBC_TUNABLES");
	char *value;
	size_t n;

	if (old && strstr(old, NO_TCACHE))
		return;
	n = (old ? strlen(old) + 1 : 0) + sizeof(NO_TCACHE);
	value = malloc(n);
	if (!value)
		return;
	snprintf(value, n, "%s%s" NO_TCACHE, old ? old : "", old ? ":" : "");
	if (setenv("GLIBC_TUNABLES", value, 1) == 0)
		execv("/proc/self/exe", argv);
	free(value);
}
#endif

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},  {"cases", required_argument, NULL, 'C'},
	    {"threads", required_argument, NULL, 't'}, {"store-dir", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	struct run r;
	char *end;
	long n;
	int c, rc;

#ifdef HAVE_MALLINFO2
	reexec_without_tcache(argv);
#endif
	/* First: every jansson allocation from here on is counted. */
	json_set_alloc_funcs(counting_malloc, counting_free);
	memset(&r, 0, sizeof(r));
	r.threads = DEFAULT_THREADS;
	r.store_dir = SESAME_STORE_DIR;
	pthread_mutex_init(&r.log.lock, NULL);
	r.log.keep = true;
	while ((c = getopt_long(argc, argv, "c:C:t:s:vhV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			r.config_file = optarg;
			break;
		case 'C':
			r.cases_file = optarg;
			break;
		case 't':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > MAX_THREADS)
				return usage_error("--threads: expected a number from 1 to %d, not \"%s\"", MAX_THREADS,
						   optarg);
			r.threads = (unsigned)n;
			break;
		case 's':
			r.store_dir = optarg;
			break;
		case 'v':
			r.log.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("sesame-provider-check %s (provider ABI %d.%d)\n", sesame_version(),
			       SESAME_PROVIDER_ABI_MAJOR, SESAME_PROVIDER_ABI_MINOR);
			return 0;
		default:
			fprintf(stderr, "Try 'sesame-provider-check --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("missing PLUGIN.so");
	if (optind + 1 < argc)
		return usage_error("one plugin at a time (unexpected \"%s\")", argv[optind + 1]);
	r.plugin_arg = argv[optind];
	if (r.store_dir[0] != '/')
		return usage_error("--store-dir: \"%s\" is not an absolute path", r.store_dir);
	rc = locate_plugin(&r);
	if (!rc)
		rc = load_instance(&r);
	if (!rc)
		rc = load_cases(&r);
	if (!rc)
		rc = make_tmp(&r);
	if (!rc)
		rc = run_checks(&r);
	remove_tmp(&r);
	free_cases(&r);
	json_decref(r.config);
	json_decref(r.fields);
	free(r.config_text);
	logbook_clear(&r.log);
	free(r.log.lines);
	free(r.log.levels);
	free(r.dir);
	free(r.type);
	free(r.path);
	if (rc)
		return rc;
	printf("%s: %u checks, %u failed\n", r.plugin_arg, r.checks, r.failed);
	return r.failed ? EXIT_FAILED : 0;
}
