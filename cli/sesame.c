/* SPDX-License-Identifier: MIT */
/*
 * cli/sesame.c — `sesame`, the operator's command line.
 *
 * JSON on stdout, one-line errors on stderr.  Exit status: 0 ok, 1 the
 * credential or operation was refused, 2 usage or configuration error,
 * 3 a provider or the store is unavailable.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sesame/sesame.h>

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

struct cli {
	const char *config;
	int verbose;
};

static const char usage_text[] =
	"Usage: sesame [--config FILE] [--verbose] COMMAND [ARGS]\n"
	"\n"
	"Operate a sesame installation: check its configuration, run logins,\n"
	"manage users and keys.  Output is JSON on stdout; errors are one line\n"
	"on stderr.  User commands run as the system user.\n"
	"\n"
	"Commands:\n"
	"  config check        validate the configuration and rule files and print\n"
	"                      them merged, with the file each provider came from,\n"
	"                      secrets masked\n"
	"  providers list      list provider instances: type, state, capabilities,\n"
	"                      plugin, source\n"
	"  login NAME [CREDENTIAL_JSON|-]\n"
	"                      log in with provider instance NAME (credential\n"
	"                      default {}); prints user_id, device_id and tokens\n"
	"  link USER_ID NAME [CREDENTIAL_JSON|-]\n"
	"                      attach the credential's identity to a user\n"
	"  action NAME ACTION [JSON|-]\n"
	"                      run an action of provider instance NAME as the\n"
	"                      system user (arguments default {}); prints its answer\n"
	"  token verify [--session] TOKEN\n"
	"                      verify a sesame access token and print its claims;\n"
	"                      --session also checks its session still exists\n"
	"  keys rotate         make a new signing key; no token or session ends\n"
	"  store migrate --to CONFIG\n"
	"                      copy every user, identity, session, provider record\n"
	"                      and key into the (empty) store CONFIG configures\n"
	"  users list [--after ID] [--limit N]\n"
	"  users show|delete|disable|enable|revoke USER_ID\n"
	"  users custom-data USER_ID [JSON|-]\n"
	"                      read, or replace, a user's custom data\n"
	"  apikeys create --server NAME\n"
	"                      make a server API key (shown once) and its server user\n"
	"  apikeys delete KEY_ID\n"
	"                      delete an API key (a server key's user with it)\n"
	"  rules check NAMESPACE ACTION (--user USER_ID | --system)\n"
	"              [--document JSON|-] [--prev JSON|-]\n"
	"                      decide whether the user may ACTION (read, insert,\n"
	"                      write, delete, search) the document; prints the\n"
	"                      decision; exit 0 allowed, 1 denied\n"
	"  rules filter NAMESPACE ACTION (--user USER_ID | --system)\n"
	"                      print the query filter of what the user may read\n"
	"                      or write in NAMESPACE (DATABASE.COLLECTION)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   main configuration file\n"
	"                      (default " SESAME_CONFIG_FILE ")\n"
	"  -v, --verbose       log informational messages to stderr\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n"
	"\n"
	"Run as root, sesame acts as the owner of the state directory.\n"
	"\n"
	"Exit status: 0 ok, 1 refused, 2 usage or configuration error,\n"
	"3 provider or store unavailable.  See sesame(1).\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sesame: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sesame --help'.\n", stderr);
	return EXIT_USAGE;
}

/* Map a status to the documented exit code. */
static int exit_code(int status)
{
	switch (status) {
	case SESAME_OK:
		return 0;
	case SESAME_REJECTED:
	case SESAME_MALFORMED:
	case SESAME_NOT_FOUND:
	case SESAME_CONFLICT:
		return EXIT_REFUSED;
	case SESAME_UNAVAILABLE:
	case SESAME_INTERNAL:
		return EXIT_UNAVAILABLE;
	default:
		return EXIT_USAGE;
	}
}

static int print_json(json_t *v)
{
	int rc;

	if (!v) {
		fprintf(stderr, "sesame: out of memory\n");
		return EXIT_UNAVAILABLE;
	}
	rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(v);
	if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "sesame: cannot write to standard output\n");
		return EXIT_UNAVAILABLE;
	}
	return 0;
}

/* mkdir -p `dir`: parents 0755, `dir` 0700.  -1 with errno. */
static int make_dirs(const char *dir)
{
	char *copy = strdup(dir), *p;
	int rc = 0;

	if (!copy)
		return -1;
	for (p = strchr(copy + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(copy, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

/*
 * Run as root, act as the owner of the state directory, so that no file
 * the command creates (the database, a rotated signing key) is root's
 * alone and unreadable by the daemon.  A missing state directory is made
 * for the service user when that user exists (as a first run before
 * systemd-tmpfiles would); a root-owned one, or no service user, keeps
 * root (a private installation).  Called once the configuration is read
 * (secrets may be root's) and before anything touches the state.
 */
static int become_state_owner(sesame_ctx *ctx)
{
	json_t *cfg = sesame_config_json(ctx, 0);
	const char *dir = json_string_value(json_object_get(cfg, "state_dir"));
	const struct passwd *pw = NULL;
	struct stat st;
	uid_t uid;
	gid_t gid;
	int rc = 0;

	if (geteuid() != 0 || !dir) {
		json_decref(cfg);
		return 0;
	}
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || !(pw = getpwnam(SESAME_SERVICE_USER))) {
			json_decref(cfg);
			return 0;
		}
		if (make_dirs(dir) != 0 || chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
			fprintf(stderr, "sesame: cannot create the state directory %s for user %s: %s\n", dir,
				SESAME_SERVICE_USER, strerror(errno));
			json_decref(cfg);
			return EXIT_UNAVAILABLE;
		}
		st.st_uid = pw->pw_uid;
		st.st_gid = pw->pw_gid;
	} else if (st.st_uid == 0) {
		json_decref(cfg);
		return 0;
	}
	uid = st.st_uid;
	pw = getpwuid(uid);
	gid = pw ? pw->pw_gid : st.st_gid;
	if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) != 0 || setgid(gid) != 0 || setuid(uid) != 0 ||
	    setuid(0) == 0) {
		fprintf(stderr,
			"sesame: the state directory %s belongs to %s (uid %u) and sesame, run as root, cannot act as "
			"that user: %s; run it as that user instead (sudo -u %s sesame ...)\n",
			dir, pw ? pw->pw_name : "another user", (unsigned)uid, strerror(errno),
			pw ? pw->pw_name : "#UID");
		rc = EXIT_USAGE;
	}
	json_decref(cfg);
	return rc;
}

static sesame_ctx *open_ctx(const struct cli *cli, int *rc)
{
	sesame_ctx *ctx = sesame_new();
	sesame_error err;
	int st;

	if (!ctx) {
		fprintf(stderr, "sesame: out of memory\n");
		*rc = EXIT_UNAVAILABLE;
		return NULL;
	}
	sesame_set_logger(ctx, NULL, NULL, cli->verbose ? SESAME_LOG_DEBUG : SESAME_LOG_WARNING);
	st = sesame_configure(ctx, cli->config, 0, &err);
	if (st != SESAME_OK) {
		fprintf(stderr, "sesame: %s\n", err.text);
		sesame_free(ctx);
		*rc = exit_code(st) == EXIT_REFUSED ? EXIT_USAGE : exit_code(st);
		return NULL;
	}
	*rc = become_state_owner(ctx);
	if (*rc != 0) {
		sesame_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Number of enabled providers that failed to start. */
static size_t failed_providers(json_t *list, int report)
{
	size_t i, n = 0;
	json_t *p;

	json_array_foreach(list, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "state")), "failed") != 0)
			continue;
		n++;
		if (report)
			fprintf(stderr, "sesame: provider %s: %s\n", json_string_value(json_object_get(p, "name")),
				json_string_value(json_object_get(p, "error")));
	}
	return n;
}

/* Number of rule files that failed to load, reported on stderr. */
static size_t failed_rules(sesame_ctx *ctx)
{
	json_t *list = sesame_rules_json(ctx), *r;
	size_t i, n = 0;

	json_array_foreach (list, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "state")), "failed") != 0)
			continue;
		n++;
		fprintf(stderr, "sesame: rules %s: %s\n", json_string_value(json_object_get(r, "namespace")) ?: "(all)",
			json_string_value(json_object_get(r, "error")));
	}
	json_decref(list);
	return n;
}

static int cmd_config_check(const struct cli *cli, int argc, char **argv)
{
	sesame_ctx *ctx;
	json_t *list, *config;
	size_t failed;
	int rc;

	if (argc != 0)
		return usage_error("config check takes no arguments, got '%s'", argv[0]);
	ctx = open_ctx(cli, &rc);
	if (!ctx)
		return rc;
	list = sesame_providers_json(ctx);
	failed = failed_providers(list, 1);
	json_decref(list);
	failed += failed_rules(ctx);
	config = sesame_config_json(ctx, 0);
	if (config)
		json_object_set_new(config, "rules", sesame_rules_json(ctx));
	rc = print_json(config);
	sesame_free(ctx);
	if (rc == 0 && failed > 0)
		rc = EXIT_USAGE;
	return rc;
}

static int cmd_providers_list(const struct cli *cli, int argc, char **argv)
{
	sesame_ctx *ctx;
	json_t *list;
	size_t failed;
	int rc;

	if (argc != 0)
		return usage_error("providers list takes no arguments, got '%s'", argv[0]);
	ctx = open_ctx(cli, &rc);
	if (!ctx)
		return rc;
	list = sesame_providers_json(ctx);
	failed = failed_providers(list, 0);
	rc = print_json(list);
	sesame_free(ctx);
	if (rc == 0 && failed > 0)
		rc = EXIT_UNAVAILABLE;
	return rc;
}

/* Print an operation's error and return its exit code. */
static int fail(int status, const sesame_error *err)
{
	fprintf(stderr, "sesame: %s\n", err->text[0] ? err->text : sesame_status_name(status));
	return exit_code(status);
}

/* A JSON argument: inline text, "-" for standard input, or NULL for `dflt`. */
static json_t *json_arg(const char *arg, const char *dflt, const char *what, bool object)
{
	json_error_t jerr;
	json_t *v;

	if (!arg)
		v = json_loads(dflt, 0, &jerr);
	else if (strcmp(arg, "-") == 0)
		v = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	else
		v = json_loads(arg, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		fprintf(stderr, "sesame: %s is not valid JSON: %s (line %d, column %d)\n", what, jerr.text, jerr.line,
			jerr.column);
		return NULL;
	}
	if (object && !json_is_object(v)) {
		fprintf(stderr, "sesame: %s must be a JSON object\n", what);
		json_decref(v);
		return NULL;
	}
	return v;
}

static int cmd_login(const struct cli *cli, int argc, char **argv)
{
	json_t *cred, *session = NULL;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	if (argc < 1 || argc > 2)
		return usage_error("usage: sesame login NAME [CREDENTIAL_JSON|-]");
	cred = json_arg(argc == 2 ? argv[1] : NULL, "{}", "the credential", true);
	if (!cred)
		return EXIT_USAGE;
	ctx = open_ctx(cli, &rc);
	if (ctx) {
		rc = sesame_login(ctx, argv[0], cred, NULL, &session, &err);
		rc = rc == SESAME_OK ? print_json(session) : fail(rc, &err);
		sesame_free(ctx);
	}
	json_decref(cred);
	return rc;
}

/* sesame action NAME ACTION [JSON|-]: any instance's action, as the
 * system user; prints its answer (or {} when it has none). */
static int cmd_action(const struct cli *cli, int argc, char **argv)
{
	json_t *args, *out = NULL;
	sesame_caller *sys;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	if (argc < 2 || argc > 3)
		return usage_error("usage: sesame action NAME ACTION [JSON|-]");
	args = json_arg(argc == 3 ? argv[2] : NULL, "{}", "the action's arguments", true);
	if (!args)
		return EXIT_USAGE;
	ctx = open_ctx(cli, &rc);
	if (ctx) {
		sys = sesame_caller_system(ctx);
		rc = sesame_provider_action_as(ctx, sys, argv[0], argv[1], args, &out, &err);
		rc = rc == SESAME_OK ? print_json(out ? out : json_object()) : fail(rc, &err);
		sesame_caller_free(sys);
		sesame_free(ctx);
	}
	json_decref(args);
	return rc;
}

static int cmd_link(const struct cli *cli, int argc, char **argv)
{
	json_t *cred, *user = NULL;
	sesame_caller *sys;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	if (argc < 2 || argc > 3)
		return usage_error("usage: sesame link USER_ID NAME [CREDENTIAL_JSON|-]");
	cred = json_arg(argc == 3 ? argv[2] : NULL, "{}", "the credential", true);
	if (!cred)
		return EXIT_USAGE;
	ctx = open_ctx(cli, &rc);
	if (ctx) {
		sys = sesame_caller_system(ctx);
		rc = sesame_link(sys, argv[0], argv[1], cred, &user, &err);
		rc = rc == SESAME_OK ? print_json(user) : fail(rc, &err);
		sesame_caller_free(sys);
		sesame_free(ctx);
	}
	json_decref(cred);
	return rc;
}

static int cmd_token_verify(const struct cli *cli, int argc, char **argv)
{
	unsigned flags = 0;
	json_t *claims = NULL;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	if (argc == 2 && strcmp(argv[0], "--session") == 0) {
		flags = SESAME_VERIFY_SESSION;
		argc--;
		argv++;
	}
	if (argc != 1)
		return usage_error("usage: sesame token verify [--session] TOKEN");
	ctx = open_ctx(cli, &rc);
	if (!ctx)
		return rc;
	rc = sesame_access_token_verify(ctx, argv[0], flags, &claims, &err);
	rc = rc == SESAME_OK ? print_json(claims) : fail(rc, &err);
	sesame_free(ctx);
	return rc;
}

static int cmd_keys_rotate(const struct cli *cli, int argc, char **argv)
{
	json_t *result = NULL;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	if (argc != 0)
		return usage_error("keys rotate takes no arguments, got '%s'", argv[0]);
	ctx = open_ctx(cli, &rc);
	if (!ctx)
		return rc;
	rc = sesame_keys_rotate(ctx, &result, &err);
	rc = rc == SESAME_OK ? print_json(result) : fail(rc, &err);
	sesame_free(ctx);
	return rc;
}

/* sesame store migrate --to CONFIG: copy the store into CONFIG's store. */
static int cmd_store_migrate(const struct cli *cli, int argc, char **argv)
{
	json_t *result = NULL;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	if (argc != 2 || strcmp(argv[0], "--to") != 0 || !argv[1][0])
		return usage_error("usage: sesame store migrate --to CONFIG");
	ctx = open_ctx(cli, &rc);
	if (!ctx)
		return rc;
	rc = sesame_store_migrate(ctx, argv[1], &result, &err);
	rc = rc == SESAME_OK ? print_json(result) : fail(rc, &err);
	sesame_free(ctx);
	return rc;
}

/* The user subcommands share their set-up: a context and the system user. */
enum user_op { USERS_LIST, USER_SHOW, USER_DELETE, USER_DISABLE, USER_ENABLE, USER_REVOKE, USER_CUSTOM_DATA };

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long v;

	if (!s[0] || s[0] == '-')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v > 1000)
		return -1;
	*out = v;
	return 0;
}

static int run_user_op(const struct cli *cli, enum user_op op, const char *id, const char *after, size_t limit,
		       json_t *data)
{
	sesame_caller *sys;
	json_t *out = NULL;
	sesame_error err;
	sesame_ctx *ctx;
	int rc;

	ctx = open_ctx(cli, &rc);
	if (!ctx)
		return rc;
	sys = sesame_caller_system(ctx);
	switch (op) {
	case USERS_LIST:
		rc = sesame_users_list(sys, after, limit, &out, &err);
		break;
	case USER_SHOW:
		rc = sesame_user_get(sys, id, &out, &err);
		break;
	case USER_DELETE:
		rc = sesame_user_delete(sys, id, &err);
		break;
	case USER_DISABLE:
	case USER_ENABLE:
		rc = sesame_user_set_disabled(sys, id, op == USER_DISABLE, &err);
		break;
	case USER_REVOKE:
		rc = sesame_user_revoke_sessions(sys, id, &err);
		break;
	case USER_CUSTOM_DATA:
		rc = data ? sesame_user_custom_data_set(sys, id, data, &err) : SESAME_OK;
		if (rc == SESAME_OK)
			rc = sesame_user_custom_data_get(sys, id, &out, &err);
		break;
	}
	if (rc == SESAME_OK && !out)
		out = json_pack("{s:s, s:s}", "user_id", id, "result", "ok");
	rc = rc == SESAME_OK ? print_json(out) : fail(rc, &err);
	sesame_caller_free(sys);
	sesame_free(ctx);
	return rc;
}

static int cmd_users(const struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum user_op op;
	} ops[] = {
		{"show", USER_SHOW},       {"delete", USER_DELETE}, {"disable", USER_DISABLE},
		{"enable", USER_ENABLE},   {"revoke", USER_REVOKE}, {"custom-data", USER_CUSTOM_DATA},
	};
	const char *after = NULL;
	size_t limit = 0, i;
	json_t *data = NULL;
	int rc;

	if (argc < 1)
		return usage_error("usage: sesame users list|show|delete|disable|enable|revoke|custom-data ...");
	if (strcmp(argv[0], "list") == 0) {
		for (i = 1; i < (size_t)argc; i += 2) {
			if (i + 1 >= (size_t)argc)
				return usage_error("users list: %s needs a value", argv[i]);
			if (strcmp(argv[i], "--after") == 0)
				after = argv[i + 1];
			else if (strcmp(argv[i], "--limit") == 0 && parse_size(argv[i + 1], &limit) == 0)
				continue;
			else
				return usage_error("usage: sesame users list [--after ID] [--limit 1..1000]");
		}
		return run_user_op(cli, USERS_LIST, NULL, after, limit, NULL);
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return usage_error("unknown users subcommand '%s'", argv[0]);
	if (argc < 2 || argc > (ops[i].op == USER_CUSTOM_DATA ? 3 : 2))
		return usage_error("usage: sesame users %s USER_ID%s", ops[i].name,
				   ops[i].op == USER_CUSTOM_DATA ? " [JSON|-]" : "");
	if (argc == 3 && !(data = json_arg(argv[2], NULL, "the custom data", true)))
		return EXIT_USAGE;
	rc = run_user_op(cli, ops[i].op, argv[1], NULL, 0, data);
	json_decref(data);
	return rc;
}

/* sesame apikeys create --server NAME | apikeys delete KEY_ID */
static int cmd_apikeys(const struct cli *cli, int argc, char **argv)
{
	json_t *args, *out = NULL;
	sesame_caller *sys;
	sesame_error err;
	sesame_ctx *ctx;
	const char *name = NULL;
	int rc;

	if (argc == 3 && strcmp(argv[0], "create") == 0 && strcmp(argv[1], "--server") == 0)
		args = json_pack("{s:s, s:b}", "name", argv[2], "server", 1);
	else if (argc == 2 && strcmp(argv[0], "delete") == 0)
		args = json_pack("{s:s}", "id", argv[1]);
	else
		return usage_error("usage: sesame apikeys create --server NAME | sesame apikeys delete KEY_ID");
	ctx = args ? open_ctx(cli, &rc) : NULL;
	if (!ctx) {
		json_decref(args);
		return args ? rc : EXIT_UNAVAILABLE;
	}
	/* The instance serving the API key routes, as sesamed picks it. */
	sys = sesame_caller_system(ctx);
	if (sesame_provider_find(ctx, SESAME_PROVIDER_CAP_API_KEYS, &name, &err) != SESAME_OK) {
		fprintf(stderr, "sesame: no API key provider is configured\n");
		rc = exit_code(SESAME_NOT_FOUND);
	} else {
		rc = sesame_provider_action_as(ctx, sys, name, argv[0], args, &out, &err);
		rc = rc != SESAME_OK ? fail(rc, &err) : out ? print_json(out) : 0;
	}
	sesame_caller_free(sys);
	json_decref(args);
	sesame_free(ctx);
	return rc;
}

/*
 * sesame rules check|filter NAMESPACE ACTION (--user ID | --system)
 * [--document JSON|-] [--prev JSON|-]: a decision or a filter, as the
 * system user evaluating for the user named (or for itself).  Exit 0
 * allowed, 1 denied; any error is 2 (usage, configuration, a bad document
 * or user) or 3 (the store).
 */
static int run_rules(const struct cli *cli, bool filter, int argc, char **argv)
{
	const char *usage = filter ? "usage: sesame rules filter NAMESPACE ACTION (--user USER_ID | --system)"
				   : "usage: sesame rules check NAMESPACE ACTION (--user USER_ID | --system) "
				     "[--document JSON|-] [--prev JSON|-]";
	const char *user = NULL, *doc_arg = NULL, *prev_arg = NULL;
	json_t *doc = NULL, *prev = NULL, *out = NULL;
	bool system = false;
	sesame_caller *sys;
	sesame_error err;
	sesame_ctx *ctx;
	int i, rc;

	if (argc < 2)
		return usage_error("%s", usage);
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i];

		if (strcmp(opt, "--system") == 0) {
			system = true;
			continue;
		}
		if (i + 1 >= argc || (strcmp(opt, "--user") != 0 &&
				      (filter || (strcmp(opt, "--document") != 0 && strcmp(opt, "--prev") != 0))))
			return usage_error("%s", usage);
		if (strcmp(opt, "--user") == 0)
			user = argv[++i];
		else if (strcmp(opt, "--document") == 0)
			doc_arg = argv[++i];
		else
			prev_arg = argv[++i];
	}
	if (system == (user != NULL))
		return usage_error("rules %s: give exactly one of --user USER_ID and --system",
				   filter ? "filter" : "check");
	if (doc_arg && prev_arg && strcmp(doc_arg, "-") == 0 && strcmp(prev_arg, "-") == 0)
		return usage_error("rules check: only one of --document and --prev can read standard input");
	if (!filter) {
		if (!(doc = json_arg(doc_arg, "{}", "the document", true)))
			return EXIT_USAGE;
		if (prev_arg && !(prev = json_arg(prev_arg, NULL, "the previous document", true))) {
			json_decref(doc);
			return EXIT_USAGE;
		}
	}
	ctx = open_ctx(cli, &rc);
	if (!ctx) {
		json_decref(doc);
		json_decref(prev);
		return rc;
	}
	sys = sesame_caller_system(ctx);
	rc = filter ? sesame_rules_filter(sys, user, argv[0], argv[1], &out, &err)
		    : sesame_rules_evaluate(sys, user, argv[0], argv[1], doc, prev, &out, &err);
	if (rc != SESAME_OK) {
		fprintf(stderr, "sesame: %s\n", err.text[0] ? err.text : sesame_status_name(rc));
		rc = rc == SESAME_UNAVAILABLE || rc == SESAME_INTERNAL ? EXIT_UNAVAILABLE : EXIT_USAGE;
	} else {
		bool allowed = filter || json_is_true(json_object_get(out, "allowed"));

		if (json_is_string(json_object_get(out, "error")))
			fprintf(stderr, "sesame: the rules of %s are unavailable: %s\n", argv[0],
				json_string_value(json_object_get(out, "error")));
		rc = print_json(out);
		if (rc == 0 && !allowed)
			rc = EXIT_REFUSED;
	}
	sesame_caller_free(sys);
	sesame_free(ctx);
	json_decref(doc);
	json_decref(prev);
	return rc;
}

static int cmd_rules_check(const struct cli *cli, int argc, char **argv)
{
	return run_rules(cli, false, argc, argv);
}

static int cmd_rules_filter(const struct cli *cli, int argc, char **argv)
{
	return run_rules(cli, true, argc, argv);
}

struct command {
	const char *group;
	const char *name; /* NULL: a one-word command */
	int (*run)(const struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
	{"config", "check", cmd_config_check},
	{"providers", "list", cmd_providers_list},
	{"login", NULL, cmd_login},
	{"link", NULL, cmd_link},
	{"action", NULL, cmd_action},
	{"token", "verify", cmd_token_verify},
	{"keys", "rotate", cmd_keys_rotate},
	{"store", "migrate", cmd_store_migrate},
	{"users", NULL, cmd_users},
	{"apikeys", NULL, cmd_apikeys},
	{"rules", "check", cmd_rules_check},
	{"rules", "filter", cmd_rules_filter},
};

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cli cli = {NULL, 0};
	const char *group, *name;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "+c:vhV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config = optarg;
			break;
		case 'v':
			cli.verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("sesame %s\n", sesame_version());
			return 0;
		default:
			fprintf(stderr, "Try 'sesame --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "missing command");
	group = argv[optind++];
	name = optind < argc ? argv[optind] : "";
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].group, group) != 0)
			continue;
		if (!commands[i].name)
			return commands[i].run(&cli, argc - optind, argv + optind);
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(&cli, argc - optind - 1, argv + optind + 1);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].group, group) == 0)
			return usage_error("unknown or missing subcommand for '%s'", group);
	return usage_error("unknown command '%s'", group);
}
