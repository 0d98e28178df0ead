/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-accounts-concurrency.c — the login merge under
 * concurrency and crashes: 16 threads logging in one new identity, two
 * processes sharing one database file, and a process killed with SIGKILL in
 * the middle of a stream of logins.  Counts are asserted, never timings.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "storeutil.h"
#include "testutil.h"

#define NOW		   1700000000
#define THREADS		   16
#define PROCESS_LOGINS	   30
#define CRASH_MIN_REPORTED 40
#define CRASH_MAX_LOGINS   100000

struct login_thread {
	struct store *st;
	pthread_barrier_t *start;
	int rc;
	bool created;
	char user_id[SESAME_STORE_ID_LENGTH + 1];
	char error[SESAME_ERROR_TEXT_LENGTH];
};

static void *login_thread_main(void *arg)
{
	struct login_thread *t = arg;
	json_t *id = json_pack("{s:s, s:s, s:s, s:{s:s}, s:{}}", "provider", "jwt", "provider_type", "custom-token",
			       "id", "same-new-uid", "data", "name", "N", "private");
	json_t *user = NULL;
	sesame_error err;

	err_clear(&err);
	pthread_barrier_wait(t->start);
	t->rc = id ? accounts_login(t->st, id, NOW, &user, &t->created, &err) : SESAME_INTERNAL;
	if (t->rc == SESAME_OK)
		memcpy(t->user_id, json_string_value(json_object_get(user, "id")), sizeof(t->user_id));
	memcpy(t->error, err.text, sizeof(t->error));
	json_decref(user);
	json_decref(id);
	return NULL;
}

static void test_threads_logging_in_one_new_identity_make_one_user(void **state)
{
	char *dir, *path = su_db_path("threads", &dir);
	struct login_thread t[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t start;
	struct store st;
	int i, created = 0;

	su_open(&st, path);
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	memset(t, 0, sizeof(t));
	for (i = 0; i < THREADS; i++) {
		t[i].st = &st;
		t[i].start = &start;
		assert_int_equal(pthread_create(&tid[i], NULL, login_thread_main, &t[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start);
	for (i = 0; i < THREADS; i++) {
		if (t[i].rc != SESAME_OK)
			fail_msg("thread %d: %s", i, t[i].error);
		assert_string_equal(t[i].user_id, t[0].user_id);
		created += t[i].created;
	}
	assert_int_equal(created, 1);
	store_close(&st);
	assert_int_equal(su_count(path, "users"), 1);
	assert_int_equal(su_count(path, "identities"), 1);
	tu_rmrf(dir);
	free(dir);
	free(path);
	(void)state;
}

/* ---- processes -------------------------------------------------------- */

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read up to `len` bytes; fewer only at end of file. */
static size_t read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Open the store in a child: no cmocka assertion may run there. */
static bool child_open(struct store *st, const char *path)
{
	json_t *conf = json_pack("{s:s, s:s}", "type", "sqlite", "path", path);
	sesame_error err;
	int rc;

	rc = conf ? store_open(st, tu_env("SESAME_TEST_STORES"), conf, &su_logger, &err) : SESAME_INTERNAL;
	json_decref(conf);
	if (rc != SESAME_OK)
		fprintf(stderr, "child: store_open: %s\n", err.text);
	return rc == SESAME_OK;
}

static bool child_login(struct store *st, const char *uid, char user_id[SESAME_STORE_ID_LENGTH + 1])
{
	json_t *id = json_pack("{s:s, s:s, s:s, s:{}, s:{}}", "provider", "jwt", "provider_type", "custom-token", "id",
			       uid, "data", "private");
	json_t *user = NULL;
	sesame_error err;
	int rc;

	rc = id ? accounts_login(st, id, NOW, &user, NULL, &err) : SESAME_INTERNAL;
	if (rc == SESAME_OK && user_id)
		memcpy(user_id, json_string_value(json_object_get(user, "id")), SESAME_STORE_ID_LENGTH + 1);
	else if (rc != SESAME_OK)
		fprintf(stderr, "child: login %s: %s\n", uid, err.text);
	json_decref(user);
	json_decref(id);
	return rc == SESAME_OK;
}

/* Wait for the go signal, log in p-0 .. p-N and write each user id to `out`. */
static void process_child(const char *path, int go, int out)
{
	char byte, uid[32], user_id[SESAME_STORE_ID_LENGTH + 1];
	struct store st;
	int i;

	if (!child_open(&st, path))
		_exit(2);
	if (read(go, &byte, 1) < 0)
		_exit(2);
	for (i = 0; i < PROCESS_LOGINS; i++) {
		snprintf(uid, sizeof(uid), "p-%d", i);
		if (!child_login(&st, uid, user_id) || !write_all(out, user_id, SESAME_STORE_ID_LENGTH))
			_exit(3);
	}
	store_close(&st);
	_exit(0);
}

static void test_two_processes_sharing_the_file_make_one_user_per_identity(void **state)
{
	char *dir, *path = su_db_path("processes", &dir);
	char ids[2][PROCESS_LOGINS * SESAME_STORE_ID_LENGTH];
	int go[2], out[2][2], i, status;
	pid_t pid[2];
	struct store st;

	/* Create the database first so both children only open it. */
	su_open(&st, path);
	store_close(&st);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pipe(out[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			close(go[1]);
			close(out[i][0]);
			process_child(path, go[0], out[i][1]);
		}
		close(out[i][1]);
	}
	close(go[0]);
	close(go[1]); /* both children start now */
	for (i = 0; i < 2; i++) {
		assert_int_equal(read_all(out[i][0], ids[i], sizeof(ids[i])), sizeof(ids[i]));
		close(out[i][0]);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Both processes saw the same user for every identity. */
	assert_memory_equal(ids[0], ids[1], sizeof(ids[0]));
	assert_int_equal(su_count(path, "users"), PROCESS_LOGINS);
	assert_int_equal(su_count(path, "identities"), PROCESS_LOGINS);
	tu_rmrf(dir);
	free(dir);
	free(path);
	(void)state;
}

/* ---- crash ------------------------------------------------------------ */

/* Log in c-0, c-1, ... and report each completed login's number. */
static void crash_child(const char *path, int out)
{
	char uid[32];
	struct store st;
	int32_t i;

	if (!child_open(&st, path))
		_exit(2);
	for (i = 0; i < CRASH_MAX_LOGINS; i++) {
		snprintf(uid, sizeof(uid), "c-%d", (int)i);
		if (!child_login(&st, uid, NULL) || !write_all(out, &i, sizeof(i)))
			_exit(3);
	}
	_exit(4); /* the parent should have killed us long before */
}

static void test_sigkill_mid_stream_keeps_every_reported_login(void **state)
{
	char *dir, *path = su_db_path("crash", &dir), *check;
	int fds[2], status;
	int32_t n, reported = 0;
	struct store st;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(path, fds[1]);
	}
	close(fds[1]);
	while (reported < CRASH_MIN_REPORTED && read_all(fds[0], &n, sizeof(n)) == sizeof(n)) {
		assert_int_equal(n, reported);
		reported++;
	}
	assert_int_equal(reported, CRASH_MIN_REPORTED);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Reports written before the kill are still in the pipe. */
	while (read_all(fds[0], &n, sizeof(n)) == sizeof(n)) {
		assert_int_equal(n, reported);
		reported++;
	}
	close(fds[0]);

	check = su_query_text(path, "PRAGMA integrity_check");
	assert_string_equal(check, "ok");
	free(check);
	su_open(&st, path);
	for (n = 0; n < reported; n++) {
		char uid[32];
		json_t *identity = NULL;
		sesame_error err;

		snprintf(uid, sizeof(uid), "c-%d", (int)n);
		if (st.desc->identity_get(st.h, NULL, "jwt", uid, &identity, &err) != SESAME_OK)
			fail_msg("login %s was reported done but is missing: %s", uid, err.text);
		json_decref(identity);
	}
	store_close(&st);
	/* The login in flight at the kill may or may not have committed. */
	assert_true(su_count(path, "users") >= reported);
	assert_true(su_count(path, "users") <= reported + 1);
	assert_int_equal(su_count(path, "users"), su_count(path, "identities"));
	tu_rmrf(dir);
	free(dir);
	free(path);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threads_logging_in_one_new_identity_make_one_user),
	    cmocka_unit_test(test_two_processes_sharing_the_file_make_one_user_per_identity),
	    cmocka_unit_test(test_sigkill_mid_stream_keeps_every_reported_login),
	};

	/* A child killed while we write to its pipe must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
