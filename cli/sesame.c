/*
 * cli/sesame.c — `sesame`, the operator's command line.
 *
 * JSON on stdout, one-line errors on stderr.  Exit status: 0 ok, 1 the
 * credential or operation was refused, 2 usage or configuration error,
 * 3 a provider or the store is unavailable.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sesame/sesame.h>

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

struct cli {
	const char *config;
	int verbose;
};

static const char usage_text[] =
	"Usage: sesame [--config FILE] [--verbose] COMMAND [ARGS]\n"
	"\n"
	"Operate a sesame installation: check its configuration, list its\n"
	"providers.  Output is JSON on stdout; errors are one line on stderr.\n"
	"\n"
	"Commands:\n"
	"  config check        validate the configuration and print it merged,\n"
	"                      with the file each provider came from, secrets masked\n"
	"  providers list      list provider instances: type, state, plugin, source\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   main configuration file\n"
	"                      (default " SESAME_CONFIG_FILE ")\n"
	"  -v, --verbose       log informational messages to stderr\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n"
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
	*rc = 0;
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

static int cmd_config_check(const struct cli *cli, int argc, char **argv)
{
	sesame_ctx *ctx;
	json_t *list;
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
	rc = print_json(sesame_config_json(ctx, 0));
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

struct command {
	const char *group;
	const char *name;
	int (*run)(const struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
	{"config", "check", cmd_config_check},
	{"providers", "list", cmd_providers_list},
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
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(&cli, argc - optind - 1, argv + optind + 1);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].group, group) == 0)
			return usage_error("unknown or missing subcommand for '%s'", group);
	return usage_error("unknown command '%s'", group);
}
