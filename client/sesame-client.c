/* SPDX-License-Identifier: MIT */
/*
 * client/sesame-client.c — `sesame-client`, the command line on
 * libsesame-client: an end user's logins against a server of the App
 * Services client API (sesamed or another), several users on one device,
 * one active, kept in the user store between runs.
 *
 * JSON on stdout, one-line errors on stderr.  Passwords and other secrets
 * come from stdin's first line or --password-file, never from argv (which
 * every local user can read in /proc).  Exit status: 0 ok, 1 refused by the
 * server (or a switch to a user not logged in), 2 usage or a store that
 * cannot be read, 3 the server unreachable or its answer not the API's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sesame/client.h>

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

#define SECRET_MAX 4096
#define STDIN_JSON_MAX (1024 * 1024)

struct opts {
	const char *url;
	const char *app;
	const char *store;
	const char *password_file;
	const char *provider; /* email/password instance */
	const char *secret;   /* login/link: the credential member the secret goes to */
};

static const char usage_text[] =
	"Usage: sesame-client [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Log users in to an App Services client API server (sesamed or another),\n"
	"several on this device, one of them active; their sessions are kept in\n"
	"the user store and refreshed when they expire.  Output is JSON on stdout;\n"
	"errors are one line on stderr.\n"
	"\n"
	"Users:\n"
	"  login PROVIDER [JSON|-]  log in with provider instance PROVIDER; the\n"
	"                        credential is JSON (default {}), or '-' to read it\n"
	"                        from stdin; the user becomes the active one\n"
	"  users                 the users, most recently active first:\n"
	"                        [{\"id\", \"state\", \"active\", \"providers\"}]\n"
	"  whoami                the active user's entry\n"
	"  switch USER_ID        make a logged-in user the active one\n"
	"  logout [USER_ID]      log a user (default: the active one) out; it stays\n"
	"                        listed as LoggedOut (an anonymous user is removed)\n"
	"  remove USER_ID        log a user out and forget it\n"
	"  link PROVIDER [JSON|-]  link a credential's identity to the active user\n"
	"  delete                delete the active user's account\n"
	"  profile               the active user's profile\n"
	"  custom-data           refresh the session and print the user's custom data\n"
	"  call METHOD PATH [JSON|-]\n"
	"                        an authenticated request of the application's own\n"
	"                        (PATH from the server root, e.g. /api/client/v2.0/...)\n"
	"  apikeys create NAME | list | show ID | enable ID | disable ID | delete ID\n"
	"                        the active user's API keys (a new key is shown once)\n"
	"  location              fetch the server's location\n"
	"\n"
	"Email/password (provider --provider, default local-userpass):\n"
	"  register EMAIL        register; the password is the secret\n"
	"  confirm TOKEN TOKEN_ID   confirm a registration\n"
	"  resend EMAIL          mail the confirmation again\n"
	"  retry-confirm EMAIL   run the confirmation function again\n"
	"  reset send EMAIL      mail a password reset\n"
	"  reset password TOKEN TOKEN_ID   set the new password (the secret)\n"
	"  reset call EMAIL [ARGS_JSON]    run the reset function with the new\n"
	"                        password (the secret) and arguments (an array)\n"
	"\n"
	"Secrets (passwords, API keys, tokens) are read from stdin's first line,\n"
	"or from --password-file, never from the command line: a credential JSON\n"
	"argument holding \"password\", \"key\", \"token\", \"id_token\",\n"
	"\"accessToken\", \"authCode\" or \"code\" is refused.  A credential with\n"
	"\"username\" and no \"password\" gets the secret as its password.\n"
	"\n"
	"Options:\n"
	"  -u, --url URL         the server (https://..., or http:// to loopback);\n"
	"                        default $SESAME_URL\n"
	"  -a, --app APP_ID      the application id; default $SESAME_APP_ID\n"
	"  -s, --store FILE      the user store (default\n"
	"                        $XDG_STATE_HOME/sesame-client/APP_ID.json, or\n"
	"                        ~/.local/state/sesame-client/APP_ID.json)\n"
	"  -p, --password-file FILE   read the secret from FILE's first line (FILE\n"
	"                        must not be readable by group or others)\n"
	"      --secret FIELD    login, link: put the secret into credential member\n"
	"                        FIELD (e.g. --secret key for an API key login)\n"
	"      --provider NAME   the email/password provider instance\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n"
	"\n"
	"Exit status: 0 ok, 1 refused by the server (or a switch to a user not\n"
	"logged in), 2 usage or a store that cannot be read, 3 the server is\n"
	"unreachable or its answer is not the client API's.  See sesame-client(1).\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sesame-client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sesame-client --help'.\n", stderr);
	return EXIT_USAGE;
}

static int exit_code(int status)
{
	switch (status) {
	case SESAME_CLIENT_OK:
		return 0;
	case SESAME_CLIENT_REFUSED:
	case SESAME_CLIENT_NO_USER:
		return EXIT_REFUSED;
	case SESAME_CLIENT_USAGE:
	case SESAME_CLIENT_STORE:
		return EXIT_USAGE;
	default:
		return EXIT_UNAVAILABLE;
	}
}

static int fail(const sesame_client_error *err)
{
	fprintf(stderr, "sesame-client: %s\n", err->text);
	return exit_code(err->status);
}

/* Print `v` (taken) as JSON on stdout; NULL prints null. */
static int print_json(json_t *v)
{
	int rc;

	rc = v ? json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
	       : fputs("null", stdout) < 0;
	json_decref(v);
	if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "sesame-client: cannot write to standard output\n");
		return EXIT_UNAVAILABLE;
	}
	return 0;
}

static void wipe(void *p, size_t n)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
#endif
}

/* Wipe the strings only `v` holds (a credential with a secret). */
static void json_wipe(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (v->refcount != 1)
		return;
	if (json_is_string(v))
		wipe((char *)json_string_value(v), json_string_length(v));
	json_object_foreach(v, key, m)
		json_wipe(m);
	json_array_foreach(v, i, m)
		json_wipe(m);
}

static void json_wipe_decref(json_t *v)
{
	if (v) {
		json_wipe(v);
		json_decref(v);
	}
}

/* ---- secrets ------------------------------------------------------------------ */

/* The first line of `f`, without its newline, into `buf` (SECRET_MAX + 2). */
static int read_line(FILE *f, char *buf, const char *from)
{
	size_t n;

	if (!fgets(buf, SECRET_MAX + 2, f)) {
		buf[0] = '\0';
		return usage_error("no secret on %s (the password or secret is its first line)", from);
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n > SECRET_MAX)
		return usage_error("the secret on %s is longer than %d bytes", from, SECRET_MAX);
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n == 0)
		return usage_error("the secret on %s is empty", from);
	return 0;
}

/* The secret, malloc'd in *out: --password-file's first line, or stdin's
 * (asked for without echo on a terminal). */
static int read_secret(const struct opts *o, char **out)
{
	char buf[SECRET_MAX + 2];
	struct termios old, quiet;
	bool echo_off = false;
	struct stat st;
	FILE *f;
	int fd, rc;

	*out = NULL;
	if (o->password_file) {
		fd = open(o->password_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return usage_error("cannot open %s: %s", o->password_file, strerror(errno));
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
			close(fd);
			return usage_error("%s is readable by group or others (mode %04o); chmod 600 it",
					   o->password_file, (unsigned)(st.st_mode & 07777));
		}
		f = fdopen(fd, "r");
		if (!f) {
			close(fd);
			return usage_error("cannot read %s: %s", o->password_file, strerror(errno));
		}
		rc = read_line(f, buf, o->password_file);
		fclose(f);
	} else {
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
			fputs("Password: ", stderr);
		}
		rc = read_line(stdin, buf, "standard input");
		if (echo_off) {
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			fputc('\n', stderr);
		}
	}
	if (rc == 0 && !(*out = strdup(buf)))
		rc = usage_error("out of memory");
	wipe(buf, sizeof(buf));
	return rc;
}

static void free_secret(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

/* A JSON value from an argument, or from all of stdin for "-". */
static int json_arg(const char *arg, const char *what, json_t **out)
{
	json_error_t jerr;

	if (strcmp(arg, "-") == 0)
		*out = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	else
		*out = json_loads(arg, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out)
		return usage_error("%s is not JSON: %s (line %d, column %d)", what, jerr.text, jerr.line, jerr.column);
	return 0;
}

/*
 * The credential of login and link: `arg` (NULL: {}), or stdin for "-";
 * with the secret in member o->secret, or in "password" when it has a
 * "username" and no password.  A secret on the command line is refused.
 */
static int credential(const struct opts *o, const char *arg, json_t **out)
{
	static const char *const secret_members[] = {"password",    "key",	"token", "id_token",
						     "accessToken", "authCode", "code"};
	const char *field = o->secret;
	char *secret = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (!arg) {
		*out = json_object();
	} else {
		if (strcmp(arg, "-") == 0 && field && !o->password_file)
			return usage_error(
			    "the credential comes from stdin ('-'): give the secret with --password-file");
		rc = json_arg(arg, "the credential", out);
		if (rc != 0)
			return rc;
		if (!json_is_object(*out)) {
			json_wipe_decref(*out);
			*out = NULL;
			return usage_error("the credential must be a JSON object");
		}
		for (i = 0; strcmp(arg, "-") != 0 && i < sizeof(secret_members) / sizeof(secret_members[0]); i++)
			if (json_object_get(*out, secret_members[i])) {
				json_decref(*out);
				*out = NULL;
				return usage_error(
				    "the credential on the command line holds \"%s\", which every user of "
				    "this machine can read; give the secret on stdin (see --secret) or the "
				    "whole credential with '-'",
				    secret_members[i]);
			}
		if (!field && strcmp(arg, "-") != 0 && json_object_get(*out, "username"))
			field = "password";
	}
	if (!*out)
		return usage_error("out of memory");
	if (!field)
		return 0;
	rc = read_secret(o, &secret);
	if (rc == 0 && json_object_set_new(*out, field, json_string(secret)) != 0)
		rc = usage_error("the secret must be UTF-8");
	free_secret(secret);
	if (rc != 0) {
		json_wipe_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- commands ----------------------------------------------------------------- */

/* The entry of user `id` in the store, or {"id", "state": "Removed"}. */
static int print_user(sesame_client *c, const char *id)
{
	sesame_client_error err;
	json_t *users, *u;
	size_t i;

	if (sesame_client_users(c, &users, &err) != SESAME_CLIENT_OK)
		return fail(&err);
	json_array_foreach(users, i, u) {
		if (strcmp(json_string_value(json_object_get(u, "id")), id) == 0) {
			json_incref(u);
			json_decref(users);
			return print_json(u);
		}
	}
	json_decref(users);
	return print_json(json_pack("{s:s, s:s}", "id", id, "state", "Removed"));
}

/* The active user's id, malloc'd, or NULL after printing why not. */
static char *active_id(sesame_client *c, int *code)
{
	sesame_client_error err;
	json_t *u;
	char *id;

	if (sesame_client_current_user(c, &u, &err) != SESAME_CLIENT_OK) {
		*code = fail(&err);
		return NULL;
	}
	id = strdup(json_string_value(json_object_get(u, "id")));
	json_decref(u);
	if (!id)
		*code = usage_error("out of memory");
	return id;
}

static int cmd_login(sesame_client *c, const struct opts *o, int argc, char **argv, bool link)
{
	sesame_client_error err;
	json_t *cred;
	char *id = NULL;
	int rc = credential(o, argc > 1 ? argv[1] : NULL, &cred);

	if (rc != 0)
		return rc;
	rc = link ? sesame_client_link(c, argv[0], cred, &err) : sesame_client_login(c, argv[0], cred, &id, &err);
	json_wipe_decref(cred);
	if (rc != SESAME_CLIENT_OK)
		return fail(&err);
	if (link && !(id = active_id(c, &rc)))
		return rc;
	rc = print_user(c, id);
	free(id);
	return rc;
}

static int cmd_users(sesame_client *c, bool active_only)
{
	sesame_client_error err;
	json_t *v;
	int rc = active_only ? sesame_client_current_user(c, &v, &err) : sesame_client_users(c, &v, &err);

	return rc == SESAME_CLIENT_OK ? print_json(v) : fail(&err);
}

static int cmd_switch(sesame_client *c, const char *id)
{
	sesame_client_error err;

	if (sesame_client_switch(c, id, &err) != SESAME_CLIENT_OK)
		return fail(&err);
	return print_user(c, id);
}

/* logout, remove and delete, then the user's entry (or "Removed"). */
static int cmd_end(sesame_client *c, const char *what, const char *arg)
{
	sesame_client_error err;
	char *id = arg ? strdup(arg) : NULL;
	int rc = 0;

	if (!arg && !(id = active_id(c, &rc)))
		return rc;
	if (strcmp(what, "logout") == 0)
		rc = sesame_client_logout(c, id, &err);
	else if (strcmp(what, "remove") == 0)
		rc = sesame_client_remove(c, id, &err);
	else
		rc = sesame_client_delete(c, &err);
	rc = rc == SESAME_CLIENT_OK ? print_user(c, id) : fail(&err);
	free(id);
	return rc;
}

/* After a call that filled `v` (or not): print it, {} when empty. */
static int cmd_result(int rc, json_t *v, const sesame_client_error *err)
{
	return rc == SESAME_CLIENT_OK ? print_json(v ? v : json_object()) : fail(err);
}

static int cmd_call(sesame_client *c, int argc, char **argv)
{
	sesame_client_error err;
	json_t *body = NULL, *answer = NULL;
	int rc = argc > 2 ? json_arg(argv[2], "the request body", &body) : 0;

	if (rc != 0)
		return rc;
	rc = sesame_client_call(c, argv[0], argv[1], body, NULL, &answer, &err);
	json_decref(body);
	return rc == SESAME_CLIENT_OK ? print_json(answer) : fail(&err);
}

static int cmd_apikeys(sesame_client *c, int argc, char **argv)
{
	const char *op = argv[0];
	sesame_client_error err;
	json_t *v = NULL;
	int rc;

	if (strcmp(op, "list") == 0 && argc == 1)
		rc = sesame_client_api_keys(c, &v, &err);
	else if (argc != 2)
		return usage_error("apikeys takes create NAME, list, show ID, enable ID, disable ID or delete ID");
	else if (strcmp(op, "create") == 0)
		rc = sesame_client_api_key_create(c, argv[1], &v, &err);
	else if (strcmp(op, "show") == 0)
		rc = sesame_client_api_key_get(c, argv[1], &v, &err);
	else if (strcmp(op, "enable") == 0)
		rc = sesame_client_api_key_enable(c, argv[1], &err);
	else if (strcmp(op, "disable") == 0)
		rc = sesame_client_api_key_disable(c, argv[1], &err);
	else if (strcmp(op, "delete") == 0)
		rc = sesame_client_api_key_delete(c, argv[1], &err);
	else
		return usage_error("unknown apikeys operation '%s'", op);
	return cmd_result(rc, v, &err);
}

/* register, reset password and reset call: with the secret as password. */
static int cmd_with_password(sesame_client *c, const struct opts *o, const char *what, int argc, char **argv)
{
	sesame_client_error err;
	json_t *args = NULL;
	char *password = NULL;
	int rc = 0;

	if (strcmp(what, "reset call") == 0 && argc > 1) {
		rc = json_arg(argv[1], "the reset function's arguments", &args);
		if (rc == 0 && !json_is_array(args))
			rc = usage_error("the reset function's arguments must be a JSON array");
	}
	if (rc == 0)
		rc = read_secret(o, &password);
	if (rc != 0) {
		json_decref(args);
		return rc;
	}
	if (strcmp(what, "register") == 0)
		rc = sesame_client_register(c, o->provider, argv[0], password, &err);
	else if (strcmp(what, "reset password") == 0)
		rc = sesame_client_reset_password(c, o->provider, argv[0], argv[1], password, &err);
	else
		rc = sesame_client_call_reset_function(c, o->provider, argv[0], password, args, &err);
	free_secret(password);
	json_decref(args);
	return cmd_result(rc, NULL, &err);
}

static int cmd_reset(sesame_client *c, const struct opts *o, int argc, char **argv)
{
	sesame_client_error err;

	if (strcmp(argv[0], "send") == 0 && argc == 2)
		return cmd_result(sesame_client_send_reset_email(c, o->provider, argv[1], &err), NULL, &err);
	if (strcmp(argv[0], "password") == 0 && argc == 3)
		return cmd_with_password(c, o, "reset password", argc - 1, argv + 1);
	if (strcmp(argv[0], "call") == 0 && (argc == 2 || argc == 3))
		return cmd_with_password(c, o, "reset call", argc - 1, argv + 1);
	return usage_error("reset takes send EMAIL, password TOKEN TOKEN_ID or call EMAIL [ARGS_JSON]");
}

/* A command and how many arguments it takes. */
struct command {
	const char *name;
	int min, max;
};

static const struct command commands[] = {
    {"login", 1, 2},	     {"users", 0, 0},	{"whoami", 0, 0},   {"switch", 1, 1},  {"logout", 0, 1},
    {"remove", 1, 1},	     {"link", 1, 2},	{"delete", 0, 0},   {"profile", 0, 0}, {"custom-data", 0, 0},
    {"call", 2, 3},	     {"apikeys", 1, 2}, {"register", 1, 1}, {"confirm", 2, 2}, {"resend", 1, 1},
    {"retry-confirm", 1, 1}, {"reset", 2, 3},	{"location", 0, 0},
};

static int run(sesame_client *c, const struct opts *o, const char *cmd, int argc, char **argv)
{
	sesame_client_error err;
	json_t *v = NULL;
	int rc;

	if (strcmp(cmd, "login") == 0 || strcmp(cmd, "link") == 0)
		return cmd_login(c, o, argc, argv, cmd[1] == 'i');
	if (strcmp(cmd, "users") == 0 || strcmp(cmd, "whoami") == 0)
		return cmd_users(c, cmd[0] == 'w');
	if (strcmp(cmd, "switch") == 0)
		return cmd_switch(c, argv[0]);
	if (strcmp(cmd, "logout") == 0 || strcmp(cmd, "remove") == 0 || strcmp(cmd, "delete") == 0)
		return cmd_end(c, cmd, argc > 0 ? argv[0] : NULL);
	/* Each call runs before cmd_result() reads `v`. */
	if (strcmp(cmd, "profile") == 0) {
		rc = sesame_client_profile(c, &v, &err);
		return cmd_result(rc, v, &err);
	}
	if (strcmp(cmd, "custom-data") == 0) {
		rc = sesame_client_refresh_custom_data(c, &v, &err);
		return cmd_result(rc, v, &err);
	}
	if (strcmp(cmd, "location") == 0) {
		rc = sesame_client_location(c, &v, &err);
		return cmd_result(rc, v, &err);
	}
	if (strcmp(cmd, "call") == 0)
		return cmd_call(c, argc, argv);
	if (strcmp(cmd, "apikeys") == 0)
		return cmd_apikeys(c, argc, argv);
	if (strcmp(cmd, "register") == 0)
		return cmd_with_password(c, o, "register", argc, argv);
	if (strcmp(cmd, "confirm") == 0)
		return cmd_result(sesame_client_confirm(c, o->provider, argv[0], argv[1], &err), NULL, &err);
	if (strcmp(cmd, "resend") == 0)
		return cmd_result(sesame_client_resend_confirmation(c, o->provider, argv[0], &err), NULL, &err);
	if (strcmp(cmd, "retry-confirm") == 0)
		return cmd_result(sesame_client_retry_custom_confirmation(c, o->provider, argv[0], &err), NULL, &err);
	return cmd_reset(c, o, argc, argv);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"app", required_argument, NULL, 'a'},
	    {"store", required_argument, NULL, 's'},
	    {"password-file", required_argument, NULL, 'p'},
	    {"secret", required_argument, NULL, 'S'},
	    {"provider", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	const struct command *found = NULL;
	sesame_client_error err;
	sesame_client *c;
	const char *cmd;
	size_t i;
	int opt, n, rc;

	while ((opt = getopt_long(argc, argv, "u:a:s:p:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			o.url = optarg;
			break;
		case 'a':
			o.app = optarg;
			break;
		case 's':
			o.store = optarg;
			break;
		case 'p':
			o.password_file = optarg;
			break;
		case 'S':
			o.secret = optarg;
			break;
		case 'P':
			o.provider = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("sesame-client %s\n", sesame_client_version());
			return 0;
		default:
			return usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("no command given");
	cmd = argv[optind++];
	n = argc - optind;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			found = &commands[i];
	if (!found)
		return usage_error("unknown command '%s'", cmd);
	if (n < found->min || n > found->max)
		return usage_error("%s takes %d to %d arguments, not %d", cmd, found->min, found->max, n);
	if (o.secret && strcmp(cmd, "login") != 0 && strcmp(cmd, "link") != 0)
		return usage_error("--secret is for login and link");
	if (!o.url)
		o.url = getenv("SESAME_URL");
	if (!o.app)
		o.app = getenv("SESAME_APP_ID");
	if (!o.app || !*o.app)
		return usage_error("no application id: give --app or set SESAME_APP_ID");
	if (o.url && !*o.url)
		o.url = NULL;
	if (sesame_client_open(o.url, o.app, o.store, 0, &c, &err) != SESAME_CLIENT_OK)
		return fail(&err);
	rc = run(c, &o, cmd, n, argv + optind);
	sesame_client_close(c);
	return rc;
}
