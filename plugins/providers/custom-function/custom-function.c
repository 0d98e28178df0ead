/*
 * plugins/providers/custom-function/custom-function.c — the custom-function
 * provider: runs a configured program (an argv array, no shell) with the
 * client's credential as JSON on its standard input, and takes the
 * identity from its standard output.  The credential never appears in
 * argv or the environment; the program gets a clean environment, no other
 * file descriptor, its own process group (killed whole at the timeout) and
 * optionally another user.  See sesame-custom-function(5).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sesame/provider.h>

#define MAX_ARGS	   64
#define MAX_ARG_LENGTH	   4096
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS	   300000
#define MAX_STDOUT	   (64 * 1024)
#define MAX_STDERR_KEPT	   4096
#define MAX_MESSAGE	   200
#define MAX_ID_LENGTH	   255
#define N_ENV		   4

struct state {
	const struct sesame_host *host;
	sesame_instance *self;
	char **argv; /* NULL-terminated */
	char *env[N_ENV + 1];
	long timeout_ms;
	bool switch_user;
	uid_t uid;
	gid_t gid;
};

/* What one run of the program produced. */
struct run {
	pid_t pid;
	char out[MAX_STDOUT + 1];
	size_t out_len;
	bool out_overflow;
	char errbuf[MAX_STDERR_KEPT + 1];
	size_t err_len;
	int status;	/* waitpid() status, when `exited` */
	bool exited;
	bool timed_out;
	int exec_errno; /* the child's errno when it could not start the program */
};

static void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; st->argv && st->argv[i]; i++)
		free(st->argv[i]);
	free(st->argv);
	for (i = 0; i < N_ENV; i++)
		free(st->env[i]);
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
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (!v)
		return SESAME_OK;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return st->host->error(err, SESAME_CONFIG, "user", "user must be a user name");
	if (geteuid() != 0)
		return st->host->error(err, SESAME_CONFIG, "user",
				       "user \"%s\" is set but sesame does not run as root, so it cannot switch users",
				       json_string_value(v));
	if (getpwnam_r(json_string_value(v), &pw, buf, sizeof(buf), &found) != 0 || !found)
		return st->host->error(err, SESAME_CONFIG, "user", "no user named \"%s\"", json_string_value(v));
	if (found->pw_uid == 0)
		return st->host->error(err, SESAME_CONFIG, "user", "user \"%s\" is root: name an unprivileged user",
				       json_string_value(v));
	st->switch_user = true;
	st->uid = found->pw_uid;
	st->gid = found->pw_gid;
	return SESAME_OK;
}

/* The program's whole environment: a fixed PATH and the SESAME_* variables. */
static int config_environment(struct state *st, sesame_error *err)
{
	const struct sesame_host *h = st->host;
	const char *app = SESAME_HAS_FIELD(struct sesame_host, app_id, h->struct_size) && h->app_id
				  ? h->app_id(st->self)
				  : "";
	const char *values[N_ENV][2] = {
	    {"PATH", "/usr/local/bin:/usr/bin:/bin"},
	    {"SESAME_PROVIDER", h->instance_name(st->self)},
	    {"SESAME_PROVIDER_TYPE", "custom-function"},
	    {"SESAME_APP_ID", app ? app : ""},
	};
	size_t i;

	for (i = 0; i < N_ENV; i++)
		if (asprintf(&st->env[i], "%s=%s", values[i][0], values[i][1]) < 0) {
			st->env[i] = NULL;
			return h->error(err, SESAME_CONFIG, "memory", "out of memory");
		}
	return SESAME_OK;
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
	if (rc == SESAME_OK)
		rc = config_environment(st, err);
	if (rc != SESAME_OK) {
		state_free(st);
		return rc;
	}
	*state = st;
	return SESAME_OK;
}

/* ---- running the program --------------------------------------------------- */

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The credential as a sealed in-memory file for the program's stdin: no
 * pipe to block on or to raise SIGPIPE when the program does not read. */
static int credential_fd(const char *text, size_t len)
{
	int fd = memfd_create("sesame-credential", MFD_CLOEXEC);
	size_t off = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Close every descriptor from `low` up; async-signal-safe. */
static void close_from(int low)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)low, ~0U, 0) == 0)
		return;
#endif
	for (int fd = low; fd < 65536; fd++)
		close(fd);
}

/* In the child, between fork and execve: async-signal-safe calls only.
 * Reports errno on `report` (close-on-exec) when the program cannot start. */
__attribute__((noreturn)) static void child(const struct state *st, int in, int out, int errfd, int report)
{
	sigset_t none;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		goto fail;
	if (report != 3 && (dup2(report, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0))
		goto fail;
	close_from(4);
	if (st->switch_user && (setgroups(1, &st->gid) != 0 || setgid(st->gid) != 0 || setuid(st->uid) != 0))
		goto fail;
	execve(st->argv[0], st->argv, (char *const *)st->env);
fail:
	e = errno;
	if (write(3, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* Append what `fd` has to buf (at most cap bytes kept); false at EOF. */
static bool drain(int fd, char *buf, size_t cap, size_t *len, bool *overflow)
{
	char scratch[4096];
	ssize_t n;

	for (;;) {
		size_t room = cap - *len;
		n = read(fd, room ? buf + *len : scratch, room ? room : sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		if (room)
			*len += (size_t)n;
		else if (overflow)
			*overflow = true;
	}
}

/* Read stdout and stderr until both close or the deadline passes. */
static void collect(struct run *r, int out, int errfd, int64_t deadline)
{
	struct pollfd p[2] = {{.fd = out, .events = POLLIN}, {.fd = errfd, .events = POLLIN}};
	bool out_open = true, err_open = true;

	while ((out_open || err_open) && !r->out_overflow) {
		int64_t left = deadline - monotonic_ms();
		int n;

		if (left <= 0) {
			r->timed_out = true;
			return;
		}
		p[0].fd = out_open ? out : -1;
		p[1].fd = err_open ? errfd : -1;
		n = poll(p, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return;
		if (n <= 0)
			continue;
		if (out_open && p[0].revents)
			out_open = drain(out, r->out, MAX_STDOUT + 1, &r->out_len, NULL) &&
				   !(r->out_overflow = r->out_len > MAX_STDOUT);
		if (err_open && p[1].revents)
			err_open = drain(errfd, r->errbuf, MAX_STDERR_KEPT, &r->err_len, NULL);
	}
}

/* Wait for the program until the deadline; then (or anyway, for stray
 * children it left behind) kill its process group, and reap it. */
static void reap(struct run *r, int64_t deadline)
{
	siginfo_t si;

	while (!r->timed_out && !r->out_overflow) {
		int w;

		memset(&si, 0, sizeof(si));
		w = waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT);
		if ((w == 0 && si.si_pid == r->pid) || (w < 0 && errno != EINTR))
			break;
		if (monotonic_ms() >= deadline) {
			r->timed_out = true;
			break;
		}
		nanosleep(&(struct timespec){.tv_nsec = 5 * 1000000L}, NULL);
	}
	kill(-r->pid, SIGKILL);
	while (waitpid(r->pid, &r->status, 0) < 0) {
		if (errno != EINTR)
			return;
	}
	r->exited = true;
}

/* Run the program with `input` on stdin; fills r.  SESAME_OK when it ran
 * (whatever its outcome), else SESAME_UNAVAILABLE with err filled. */
static int run_program(const struct state *st, const char *input, size_t len, struct run *r, sesame_error *err)
{
	int in = credential_fd(input, len), out[2] = {-1, -1}, errp[2] = {-1, -1}, rep[2] = {-1, -1};
	int64_t deadline = monotonic_ms() + st->timeout_ms;
	ssize_t n;
	int rc = SESAME_UNAVAILABLE;

	r->pid = -1;
	if (in < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
		st->host->error(err, SESAME_UNAVAILABLE, "program", "cannot set up the program's input and output");
		goto done;
	}
	r->pid = fork();
	if (r->pid == 0)
		child(st, in, out[1], errp[1], rep[1]);
	if (r->pid < 0) {
		st->host->error(err, SESAME_UNAVAILABLE, "program", "cannot start %s: fork failed", st->argv[0]);
		goto done;
	}
	setpgid(r->pid, r->pid); /* also in the child: whichever runs first */
	close(out[1]);
	close(errp[1]);
	close(rep[1]);
	out[1] = errp[1] = rep[1] = -1;
	do
		n = read(rep[0], &r->exec_errno, sizeof(r->exec_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r->exec_errno)) {
		reap(r, deadline);
		st->host->error(err, SESAME_UNAVAILABLE, "program", "cannot run %s: %s", st->argv[0],
				strerror(r->exec_errno));
		goto done;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	collect(r, out[0], errp[0], deadline);
	reap(r, deadline);
	rc = SESAME_OK;
done:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	if (in >= 0)
		close(in);
	return rc;
}

/* The first line of the program's stderr, printable ASCII only, capped. */
static void first_line(const struct run *r, char *msg, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < r->err_len && r->errbuf[i] != '\n' && n + 1 < size && n < MAX_MESSAGE; i++) {
		unsigned char c = (unsigned char)r->errbuf[i];

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
static int parse_identity(const struct state *st, const struct run *r, json_t **identity, sesame_error *err)
{
	const struct sesame_host *h = st->host;
	json_t *v = json_loadb(r->out, r->out_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
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

static int outcome(const struct state *st, const struct run *r, json_t **identity, sesame_error *err)
{
	char msg[MAX_MESSAGE + 1];

	if (r->timed_out)
		return st->host->error(err, SESAME_UNAVAILABLE, "timeout", "the program did not answer within %ld ms",
				       st->timeout_ms);
	if (r->out_overflow)
		return st->host->error(err, SESAME_REJECTED, "output", "the program wrote more than %d bytes",
				       MAX_STDOUT);
	if (!r->exited || WIFSIGNALED(r->status))
		return st->host->error(err, SESAME_UNAVAILABLE, "program", "the program was killed by signal %d",
				       r->exited ? WTERMSIG(r->status) : 0);
	if (WEXITSTATUS(r->status) != 0) {
		first_line(r, msg, sizeof(msg));
		return st->host->error(err, SESAME_REJECTED, "rejected", "%s",
				       msg[0] ? msg : "the program refused the credential");
	}
	return parse_identity(st, r, identity, err);
}

static int cf_verify(void *state, const json_t *credential, json_t **identity, sesame_error *err)
{
	const struct state *st = state;
	struct run *r;
	char *input;
	json_free_t release;
	int rc;

	/* Counted first: a string that is not UTF-8 (possible through the C
	 * API, never from a client's JSON) cannot be written for the program. */
	if (json_dumpb(credential, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) == 0)
		return st->host->error(err, SESAME_MALFORMED, "credential",
				       "the credential cannot be written as JSON (a string is not valid UTF-8)");
	r = calloc(1, sizeof(*r));
	input = json_dumps(credential, JSON_COMPACT | JSON_ENCODE_ANY);
	/* jansson's text goes back to jansson's free function: the
	 * application may have replaced its allocator. */
	json_get_alloc_funcs(NULL, &release);
	if (!r || !input) {
		free(r);
		if (input)
			release(input);
		return st->host->error(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	rc = run_program(st, input, strlen(input), r, err);
	st->host->wipe(input, strlen(input));
	release(input);
	if (rc == SESAME_OK)
		rc = outcome(st, r, identity, err);
	st->host->wipe(r, sizeof(*r));
	free(r);
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
