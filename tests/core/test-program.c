/* SPDX-License-Identifier: MIT */
/* tests/core/test-program.c — core/program.c: running a program for a
 * plugin (input, output, cap, timeout, exit, signal, environment, no
 * inherited descriptor, user), and killing every process it started,
 * however it tried to get away. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct env {
	char *dir;
	char *box; /* writable by the program's user */
	struct program_setup ps;
};

static char *const test_env[] = {"PATH=/usr/bin:/bin", "SESAME_TEST=1", NULL};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	sesame_error err;

	e->dir = tu_tmpdir("program");
	e->box = tu_program_dir(e->dir, "box");
	e->ps.root = geteuid() == 0;
	if (e->ps.root && program_resolve_user("nobody", &e->ps.user, &err) != SESAME_OK)
		fail_msg("%s", err.text);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tu_rmrf(e->dir);
	free(e->dir);
	free(e->box);
	free(e);
	return 0;
}

/* Run `script` with /bin/sh, the box as $1, `input` on stdin. */
static int run_sh(struct env *e, const char *script, const char *input, unsigned flags, long timeout_ms,
		  size_t max_output, struct sesame_program_result *r, sesame_error *err)
{
	const char *argv[] = {"/bin/sh", "-c", script, "sh", e->box, NULL};
	struct sesame_program p = {
	    .struct_size = sizeof(p),
	    .flags = flags,
	    .argv = argv,
	    .input = input,
	    .input_length = input ? strlen(input) : 0,
	    .timeout_ms = timeout_ms,
	    .max_output = max_output,
	};

	*r = (struct sesame_program_result){.struct_size = sizeof(*r)};
	err_clear(err);
	return program_run(&e->ps, test_env, &p, r, err);
}

/* The pids, one per line, in box/name (written by the program). */
static size_t read_pids(struct env *e, const char *name, pid_t *pids, size_t max)
{
	char cmd[1024], *text = NULL, *line, *save;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "cat '%s/%s'", e->box, name);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	for (line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save))
		pids[n++] = (pid_t)strtol(line, NULL, 10);
	free(text);
	return n;
}

/* True when none of `pids` exists any more, not even as a zombie (a bounded
 * wait; the call that ran the program should already have reaped them). */
static bool all_gone(const pid_t *pids, size_t n)
{
	for (int round = 0; round < 250; round++) {
		size_t alive = 0;

		for (size_t i = 0; i < n; i++)
			alive += !(kill(pids[i], 0) != 0 && errno == ESRCH);
		if (alive == 0)
			return true;
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
	}
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL); /* leave nothing behind on failure either */
	return false;
}

/* Each way out of the program's process group: setsid() in a background
 * child, a double fork, a double fork with setsid(), a child of a child
 * that stays attached, all sleeping long.  Each writes its pid before the
 * program answers. */
static const char escape_script[] =
    "for i in 1 2 3; do\n"
    "  (setsid sh -c 'echo $$ >> \"$1/pids\"; exec sleep 300' sh \"$1\" &)\n"
    "  (sh -c 'echo $$ >> \"$1/pids\"; exec sleep 300' sh \"$1\" &)\n"
    "  setsid sh -c 'echo $$ >> \"$1/pids\"; exec sleep 300' sh \"$1\" &\n"
    "  sh -c 'sh -c \"echo \\$\\$ >> $1/pids; exec sleep 300\" &' sh \"$1\"\n"
    "done </dev/null >/dev/null 2>&1\n"
    "i=0; while [ \"$(wc -l < \"$1/pids\" 2>/dev/null || echo 0)\" -lt 12 ] && [ $i -lt 1000 ]; do\n"
    "  sleep 0.005; i=$((i + 1)); done\n"
    "echo done\n";

static void expect_escapees_killed(struct env *e)
{
	struct sesame_program_result r;
	sesame_error err;
	pid_t pids[32];
	size_t n;

	assert_int_equal(run_sh(e, escape_script, NULL, SESAME_PROGRAM_STDOUT, 10000, 0, &r, &err), SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.output, "done\n");
	program_result_clear(&r);
	n = read_pids(e, "pids", pids, 32);
	assert_int_equal(n, 12);
	assert_true(all_gone(pids, n));
}

static void test_escaped_descendants_killed(void **state)
{
	expect_escapees_killed(*state);
}

/* The same, finding orphans by scanning /proc (kernels without
 * CONFIG_PROC_CHILDREN). */
static void test_escaped_descendants_killed_by_scan(void **state)
{
	struct env *e = *state;

	e->ps.scan_proc = true;
	expect_escapees_killed(e);
}

/* At the timeout, the program and what it left are killed. */
static void test_timeout(void **state)
{
	struct env *e = *state;
	struct sesame_program_result r;
	sesame_error err;
	pid_t pids[4];

	assert_int_equal(run_sh(e,
				"(setsid sh -c 'echo $$ >> \"$1/pids\"; exec sleep 300' sh \"$1\" &)\n"
				"echo $$ >> \"$1/pids\"; exec sleep 300",
				NULL, 0, 300, 0, &r, &err),
			 SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_TIMED_OUT);
	assert_null(r.output);
	program_result_clear(&r);
	assert_true(all_gone(pids, read_pids(e, "pids", pids, 4)));
}

/* Output beyond the cap stops the program at once (`yes` never ends). */
static void test_output_cap(void **state)
{
	struct env *e = *state;
	struct sesame_program_result r;
	sesame_error err;

	assert_int_equal(run_sh(e, "exec yes", NULL, SESAME_PROGRAM_STDOUT, 60000, 1000, &r, &err), SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_OUTPUT_TOO_LARGE);
	program_result_clear(&r);
	/* Exactly the cap is fine. */
	assert_int_equal(
	    run_sh(e, "head -c 1000 /dev/zero | tr '\\0' x", NULL, SESAME_PROGRAM_STDOUT, 0, 1000, &r, &err),
	    SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
	assert_int_equal(r.output_length, 1000);
	assert_int_equal(strspn(r.output, "x"), 1000);
	program_result_clear(&r);
}

static void test_exit_signal_and_streams(void **state)
{
	struct env *e = *state;
	struct sesame_program_result r;
	sesame_error err;

	/* stdin is the input; stdout and stderr kept apart. */
	assert_int_equal(run_sh(e, "cat; echo err >&2; exit 3", "in\001put",
				SESAME_PROGRAM_STDOUT | SESAME_PROGRAM_STDERR, 0, 0, &r, &err),
			 SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
	assert_int_equal(r.code, 3);
	assert_string_equal(r.output, "in\001put");
	assert_string_equal(r.errors, "err\n");
	program_result_clear(&r);
	program_result_clear(&r);
	/* Not captured: NULL, and nothing blocks on them. */
	assert_int_equal(run_sh(e, "head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2", NULL, 0, 0, 0, &r, &err),
			 SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
	assert_null(r.output);
	assert_null(r.errors);
	program_result_clear(&r);
	/* stderr is kept up to 4096 bytes, the rest dropped. */
	assert_int_equal(
	    run_sh(e, "head -c 100000 /dev/zero | tr '\\0' e >&2", NULL, SESAME_PROGRAM_STDERR, 0, 0, &r, &err),
	    SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
	assert_int_equal(r.errors_length, 4096);
	program_result_clear(&r);
	assert_int_equal(run_sh(e, "kill -TERM $$", NULL, 0, 0, 0, &r, &err), SESAME_OK);
	assert_int_equal(r.outcome, SESAME_PROGRAM_SIGNALED);
	assert_int_equal(r.code, SIGTERM);
	program_result_clear(&r);
	/* The input is sealed: the program cannot write (or grow) it. */
	assert_int_equal(run_sh(e, "if printf x >&0 2>/dev/null; then echo wrote; else echo sealed; fi", "in",
				SESAME_PROGRAM_STDOUT, 0, 0, &r, &err),
			 SESAME_OK);
	assert_string_equal(r.output, "sealed\n");
	program_result_clear(&r);
	/* Input it never reads does not block anyone. */
	{
		char *big = malloc(1024 * 1024 + 1);

		memset(big, 'i', 1024 * 1024);
		big[1024 * 1024] = '\0';
		assert_int_equal(run_sh(e, "exit 0", big, 0, 0, 0, &r, &err), SESAME_OK);
		assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
		program_result_clear(&r);
		free(big);
	}
}

/* Exactly the environment given, no other descriptor, "/" as working
 * directory, and as root the unprivileged user without extra groups. */
static void test_environment_descriptors_user(void **state)
{
	struct env *e = *state;
	struct sesame_program_result r;
	int leaked = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
	char script[512], expected[256];
	sesame_error err;

	assert_true(leaked > 2);
	snprintf(
	    script, sizeof(script),
	    "env | grep -v '^PWD=\\|^SHLVL=\\|^_=' | sort | tr '\\n' ' '; ls /proc/self/fd | sort -n | tr '\\n' ' '; "
	    "echo \"$(pwd) $(id -u) $(id -G)\"");
	assert_int_equal(run_sh(e, script, NULL, SESAME_PROGRAM_STDOUT, 0, 0, &r, &err), SESAME_OK);
	close(leaked);
	assert_int_equal(r.outcome, SESAME_PROGRAM_EXITED);
	/* ls's own directory descriptor is the 3. */
	snprintf(expected, sizeof(expected), "PATH=/usr/bin:/bin SESAME_TEST=1 0 1 2 3 / %u %u\n",
		 (unsigned)tu_program_uid(), (unsigned)getpwuid(tu_program_uid())->pw_gid);
	if (geteuid() != 0) {
		/* Without root the groups are the tests' own: compare the rest. */
		assert_non_null(strstr(r.output, "PATH=/usr/bin:/bin SESAME_TEST=1 0 1 2 3 / "));
		program_result_clear(&r);
		print_message("not root: sesame cannot switch users, the program's uid is not checked\n");
		skip();
	}
	assert_string_equal(r.output, expected);
	program_result_clear(&r);
}

static void test_refusals(void **state)
{
	struct env *e = *state;
	char *bad_interp = tu_write(e->dir, "bad-interp", "#!/nonexistent/interpreter\n", 0755);
	char *open_dir = tu_mkdir(e->dir, "open", 0755), *prog = tu_write(open_dir, "p", "#!/bin/sh\n", 0755);
	const char *argv[] = {bad_interp, NULL}, *rel[] = {"bin/sh", NULL}, *none[] = {NULL};
	struct sesame_program p = {.struct_size = sizeof(p), .argv = argv};
	struct sesame_program_result r = {.struct_size = sizeof(r)};
	sesame_error err;

	/* Checked, then fails at execve(): fail closed, with the reason. */
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_OK);
	assert_int_equal(program_run(&e->ps, test_env, &p, &r, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "program");
	assert_non_null(strstr(err.text, "No such file"));
	program_result_clear(&r);
	/* A program others could replace. */
	argv[0] = prog;
	chmod(open_dir, 0777);
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "permissions");
	assert_non_null(strstr(err.text, open_dir));
	assert_int_equal(program_run(&e->ps, test_env, &p, &r, &err), SESAME_UNAVAILABLE);
	assert_string_equal(err.reason, "permissions");
	chmod(open_dir, 0755);
	chmod(prog, 0644);
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "file");
	chmod(prog, 0755);
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_OK);
	/* Bad requests. */
	p.argv = rel;
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "command");
	p.argv = none;
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	p.argv = argv;
	p.timeout_ms = 50;
	assert_int_equal(program_run(&e->ps, test_env, &p, &r, &err), SESAME_USAGE);
	p.timeout_ms = 0;
	p.flags = 0x80;
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	p.flags = 0;
	/* Users: never root; only as root another one. */
	p.user = "root";
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "user");
	p.user = "no-such-user-here";
	assert_int_equal(program_check(&e->ps, &p, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "user");
	p.user = getpwuid(geteuid())->pw_name;
	assert_int_equal(program_check(&e->ps, &p, &err), geteuid() == 0 ? SESAME_CONFIG : SESAME_OK);
	/* A default user that could not be resolved at start fails the
	 * programs that need it, with the reason. */
	p.user = NULL;
	e->ps.user_error = "programs.user (default): no user named \"nobody\"";
	assert_int_equal(program_check(&e->ps, &p, &err), geteuid() == 0 ? SESAME_CONFIG : SESAME_OK);
	assert_int_equal(program_run(&e->ps, test_env, &p, &r, &err), geteuid() == 0 ? SESAME_UNAVAILABLE : SESAME_OK);
	if (geteuid() == 0)
		assert_non_null(strstr(err.text, "no user named"));
	program_result_clear(&r);
	e->ps.user_error = NULL;
	free(bad_interp);
	free(prog);
	free(open_dir);
}

/* Runs on many threads at once: each gets its own output and status, and
 * leaves nothing behind. */
struct par {
	struct env *e;
	int index;
	int ok;
};

static void *parallel_run(void *arg)
{
	struct par *p = arg;
	struct sesame_program_result r;
	sesame_error err;
	char script[512], expected[64];

	snprintf(script, sizeof(script),
		 "(setsid sh -c 'echo $$ >> \"$1/par-pids\"; exec sleep 300' sh \"$1\" </dev/null >/dev/null 2>&1 &)\n"
		 "echo run-%d; exit %d",
		 p->index, p->index);
	snprintf(expected, sizeof(expected), "run-%d\n", p->index);
	p->ok = run_sh(p->e, script, NULL, SESAME_PROGRAM_STDOUT, 20000, 0, &r, &err) == SESAME_OK &&
		r.outcome == SESAME_PROGRAM_EXITED && r.code == p->index && strcmp(r.output, expected) == 0;
	program_result_clear(&r);
	return NULL;
}

static void test_parallel_runs(void **state)
{
	struct env *e = *state;
	struct par par[8];
	pthread_t t[8];
	pid_t pids[16];
	size_t n;
	int i;

	free(tu_write(e->box, "par-pids", "", 0666));
	for (i = 0; i < 8; i++) {
		par[i] = (struct par){.e = e, .index = i + 1};
		assert_int_equal(pthread_create(&t[i], NULL, parallel_run, &par[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_true(par[i].ok);
	}
	/* A grandchild may not have written its pid before it was killed;
	 * those that did are gone. */
	n = read_pids(e, "par-pids", pids, 16);
	assert_true(all_gone(pids, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_escaped_descendants_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaped_descendants_killed_by_scan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exit_signal_and_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_environment_descriptors_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parallel_runs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
