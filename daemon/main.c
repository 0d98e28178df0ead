/* SPDX-License-Identifier: MIT */
/*
 * daemon/main.c — sesamed: options, start, and the main thread's signal
 * loop.  Signals are blocked in every thread and taken synchronously here
 * with sigwait(), so no work ever runs in a signal handler and no global
 * state is needed: SIGHUP reloads, SIGTERM and SIGINT drain and exit 0.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static const char usage_text[] =
    "Usage: sesamed [--config FILE] [--listen ADDR:PORT] [--verbose]\n"
    "\n"
    "Serve the App Services compatible client API, the admin API, /healthz\n"
    "and /metrics over HTTP.  Runs in the foreground and logs to stderr.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        main configuration file\n"
    "                           (default " SESAME_CONFIG_FILE
    ")\n"
    "  -l, --listen ADDR:PORT   listen there instead of the configured \"listen\"\n"
    "                           (port 0: any free port, printed at start)\n"
    "  -v, --verbose            log informational messages of the core\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Signals: SIGHUP reloads the configuration and provider drop-ins;\n"
    "SIGTERM and SIGINT stop accepting, finish the requests in flight and\n"
    "exit 0.  Exit status 2: usage or configuration error; 3: cannot listen.\n"
    "See sesamed(8).\n";

struct options {
	const char *config;
	const char *listen;
	int verbose;
};

/* 0 to run, -1 to exit 0 (help, version), else an exit status. */
static int options_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:l:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case 'V':
			printf("sesamed %s\n", sesame_version());
			return -1;
		default:
			fputs("Try 'sesamed --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sesamed: unexpected argument '%s'\nTry 'sesamed --help'.\n", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {NULL, NULL, 0};
	struct server srv;
	struct app *a;
	sesame_error err;
	sigset_t set;
	int rc, sig;

	daemon_memory_init();
	rc = options_parse(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;

	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (app_load(o.config, o.listen, o.verbose, &a, &err) != SESAME_OK) {
		report_start_error("", &err);
		return exit_status(err.status);
	}
	memset(&srv, 0, sizeof(srv));
	srv.config_path = o.config;
	srv.listen = o.listen;
	srv.verbose = o.verbose;
	if (server_start(&srv, a, &err) != SESAME_OK) {
		report_start_error("", &err);
		return exit_status(err.status);
	}
	fprintf(stderr, "sesamed: sesame %s listening on %s\n", sesame_version(), srv.url);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		server_reload(&srv);
	}
	fprintf(stderr, "sesamed: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	server_stop(&srv);
	fprintf(stderr, "sesamed: stopped\n");
	return 0;
}
