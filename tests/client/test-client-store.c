/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test-client-store.c — the user store of libsesame-client
 * (client/store.c), through the library's internals: the default path,
 * the modes of what it creates, the refusal of a store that is not ours,
 * accessible by others, a symbolic link, in a directory others can write,
 * torn or foreign (each named in the message, the file left as it was),
 * processes updating one store at once without losing a change, and a
 * process killed with SIGKILL in the middle of an update (the store still
 * loads, with the content before the update).  No server is involved.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/internal.h"
#include "testutil.h"

#define APP "test-app"
#define TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

static char *dir;

static int setup(void **state)
{
	dir = tu_tmpdir("client-store");
	return 0;
}

static int teardown(void **state)
{
	tu_rmrf(dir);
	free(dir);
	return 0;
}

static sesame_client *open_store(const char *path)
{
	sesame_client_error err;
	sesame_client *c;

	if (sesame_client_open(NULL, APP, path, 0, &c, &err) != SESAME_CLIENT_OK)
		fail_msg("open: %s", err.text);
	return c;
}

/* An edit adding the logged-in user `arg` as the active one. */
static int add_user(struct cl_store *s, void *arg, bool *changed, sesame_client_error *err)
{
	struct cl_user *more = realloc(s->users, (s->n + 1) * sizeof(*more));
	struct cl_user *u;

	assert_non_null(more);
	s->users = more;
	u = &s->users[s->n++];
	memset(u, 0, sizeof(*u));
	u->id = strdup(arg);
	u->access = strdup(TOKEN);
	u->refresh = strdup(TOKEN);
	u->logged_in = true;
	free(s->active);
	s->active = strdup(arg);
	*changed = true;
	return SESAME_CLIENT_OK;
}

static void add(sesame_client *c, const char *id)
{
	sesame_client_error err;

	if (store_update(c, add_user, (void *)id, &err) != SESAME_CLIENT_OK)
		fail_msg("update: %s", err.text);
}

static size_t count_users(sesame_client *c)
{
	sesame_client_error err;
	struct cl_store s;
	size_t n;

	if (store_load(c, &s, &err) != SESAME_CLIENT_OK)
		fail_msg("load: %s", err.text);
	n = s.n;
	store_clear(&s);
	return n;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Loading `path` fails with STORE `reason`, naming the file, and leaves it
 * byte for byte as it was; so does an update. */
static void refused(const char *path, const char *reason, const char *text)
{
	sesame_client *c = open_store(path);
	char *before = NULL, *after = NULL, *cmd;
	sesame_client_error err;
	json_t *users = NULL;

	assert_true(asprintf(&cmd, "cat '%s' 2>/dev/null", path) > 0);
	tu_run(cmd, &before, NULL);
	assert_int_equal(sesame_client_users(c, &users, &err), SESAME_CLIENT_STORE);
	assert_null(users);
	assert_string_equal(err.reason, reason);
	if (!strstr(err.text, text))
		fail_msg("\"%s\" lacks \"%s\"", err.text, text);
	assert_int_equal(store_update(c, add_user, "someone", &err), SESAME_CLIENT_STORE);
	assert_string_equal(err.reason, reason);
	tu_run(cmd, &after, NULL);
	assert_string_equal(before, after);
	free(cmd);
	free(before);
	free(after);
	sesame_client_close(c);
}

static void test_default_path(void **state)
{
	char *p;

	setenv("XDG_STATE_HOME", "/srv/state", 1);
	p = sesame_client_default_store("my-app");
	assert_string_equal(p, "/srv/state/sesame-client/my-app.json");
	free(p);
	/* A relative XDG_STATE_HOME is invalid: ignored. */
	setenv("XDG_STATE_HOME", "state", 1);
	setenv("HOME", "/home/ann", 1);
	p = sesame_client_default_store("my-app");
	assert_string_equal(p, "/home/ann/.local/state/sesame-client/my-app.json");
	free(p);
	unsetenv("XDG_STATE_HOME");
	p = sesame_client_default_store("my-app");
	assert_string_equal(p, "/home/ann/.local/state/sesame-client/my-app.json");
	free(p);
	assert_null(sesame_client_default_store("../etc/passwd"));
	assert_null(sesame_client_default_store(".hidden"));
	assert_null(sesame_client_default_store(""));
}

static void test_open_arguments(void **state)
{
	sesame_client_error err;
	sesame_client *c = NULL;

	assert_int_equal(sesame_client_open(NULL, "a/b", "/x", 0, &c, &err), SESAME_CLIENT_USAGE);
	assert_string_equal(err.reason, "app-id");
	assert_int_equal(sesame_client_open(NULL, APP, "", 0, &c, &err), SESAME_CLIENT_USAGE);
	assert_int_equal(sesame_client_open(NULL, APP, "/some/dir/", 0, &c, &err), SESAME_CLIENT_USAGE);
	assert_int_equal(sesame_client_open(NULL, APP, "/x", 1, &c, &err), SESAME_CLIENT_USAGE);
	assert_null(c);
}

/* A first update creates the directories 0700 and the store 0600; a store
 * that does not exist yet has no users and is not created by reading. */
static void test_created_private(void **state)
{
	char *path = tu_path(dir, "new/deeper/store.json"), *parent = tu_path(dir, "new"),
	     *lock = tu_path(dir, "new/deeper/store.json.lock");
	sesame_client *c = open_store(path);
	sesame_client_error err;
	json_t *users;

	assert_int_equal(sesame_client_users(c, &users, &err), SESAME_CLIENT_OK);
	assert_int_equal(json_array_size(users), 0);
	json_decref(users);
	assert_int_equal(access(parent, F_OK), -1);
	add(c, "u1");
	assert_int_equal(mode_of(parent), 0700);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(mode_of(lock), 0600);
	assert_int_equal(count_users(c), 1);
	sesame_client_close(c);
	free(lock);
	free(parent);
	free(path);
}

static char *store_with_user(const char *name)
{
	char *path = tu_path(dir, name);
	sesame_client *c = open_store(path);

	add(c, "u1");
	sesame_client_close(c);
	return path;
}

static void test_refuses_others_access(void **state)
{
	char *path = store_with_user("shared.json");

	assert_int_equal(chmod(path, 0640), 0);
	refused(path, "permissions", path);
	refused(path, "permissions", "accessible by group or others (mode 0640)");
	assert_int_equal(chmod(path, 0604), 0);
	refused(path, "permissions", "mode 0604");
	free(path);
}

static void test_refuses_foreign_owner(void **state)
{
	char *path = store_with_user("owned.json");

	if (geteuid() != 0) {
		free(path);
		skip(); /* only root can give a file away */
	}
	assert_int_equal(chown(path, 65534, 65534), 0);
	refused(path, "owner", "belongs to uid 65534");
	free(path);
}

static void test_refuses_symlink(void **state)
{
	char *path = store_with_user("real.json"), *link = tu_path(dir, "link.json");

	assert_int_equal(symlink(path, link), 0);
	refused(link, "permissions", "symbolic link");
	free(link);
	free(path);
}

static void test_refuses_open_directory(void **state)
{
	char *sub = tu_mkdir(dir, "open", 0700), *path;
	sesame_client *c;

	path = tu_path(sub, "store.json");
	c = open_store(path);
	add(c, "u1");
	sesame_client_close(c);
	assert_int_equal(chmod(sub, 0777), 0);
	refused(path, "permissions", "writable by group or others");
	assert_int_equal(chmod(sub, 0700), 0);
	free(path);
	free(sub);
}

static void test_refuses_torn(void **state)
{
	char *path = store_with_user("torn.json"), *text = NULL, *cut, *cmd;

	/* The first half of a good store: what a non-atomic write leaves. */
	assert_true(asprintf(&cmd, "cat '%s'", path) > 0);
	assert_int_equal(tu_run(cmd, &text, NULL), 0);
	free(cmd);
	cut = strndup(text, strlen(text) / 2);
	free(tu_write(dir, "torn.json", cut, 0600));
	refused(path, "torn", path);
	refused(path, "torn", "not JSON");
	free(tu_write(dir, "torn.json", "", 0600));
	refused(path, "torn", "not JSON");
	free(tu_write(dir, "torn.json",
		      "{\"format\": \"sesame-client-store\", \"version\": 1, \"app_id\": \"" APP "\", "
		      "\"device_id\": \"0123456789abcdef01234567\", \"active\": \"u9\", \"users\": []}",
		      0600));
	refused(path, "torn", "\"active\" is not a logged-in user");
	free(
	    tu_write(dir, "torn.json",
		     "{\"format\": \"sesame-client-store\", \"version\": 1, \"app_id\": \"" APP "\", "
		     "\"device_id\": \"0123456789abcdef01234567\", \"active\": null, \"users\": "
		     "[{\"id\": \"u1\", \"state\": \"LoggedIn\", \"providers\": [], \"access_token\": \"a\\r\\nX: y\", "
		     "\"refresh_token\": \"r\"}]}",
		     0600));
	refused(path, "torn", "a token is missing or invalid");
	free(tu_write(dir, "torn.json",
		      "{\"format\": \"sesame-client-store\", \"version\": 1, \"app_id\": \"" APP "\", "
		      "\"device_id\": \"0123456789abcdef01234567\", \"active\": null, \"users\": "
		      "[{\"id\": \"u1\", \"state\": \"LoggedOut\", \"providers\": []}, "
		      "{\"id\": \"u1\", \"state\": \"LoggedOut\", \"providers\": []}]}",
		      0600));
	refused(path, "torn", "listed twice");
	free(cut);
	free(text);
	free(path);
}

static void test_refuses_foreign(void **state)
{
	char *path = tu_path(dir, "foreign.json");
	FILE *f;
	size_t i;

	free(tu_write(dir, "foreign.json",
		      "{\"format\": \"sesame-client-store\", \"version\": 1, \"app_id\": \"other-app\", "
		      "\"device_id\": \"0123456789abcdef01234567\", \"active\": null, \"users\": []}",
		      0600));
	refused(path, "foreign", "the store of app \"other-app\", not of \"" APP "\"");
	free(tu_write(dir, "foreign.json",
		      "{\"format\": \"sesame-client-store\", \"version\": 2, \"app_id\": \"" APP "\", "
		      "\"device_id\": \"0123456789abcdef01234567\", \"active\": null, \"users\": []}",
		      0600));
	refused(path, "foreign", "another format version");
	free(tu_write(dir, "foreign.json", "{\"users\": [], \"active\": null}", 0600));
	refused(path, "foreign", "not a sesame-client store");
	free(tu_write(dir, "foreign.json", "[1, 2, 3]", 0600));
	refused(path, "foreign", path);
	/* Over the size cap: refused before it is parsed. */
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i <= SESAME_CLIENT_STORE_MAX / 64; i++)
		fputs("                                                               \n", f);
	fclose(f);
	refused(path, "foreign", "larger than");
	free(path);
}

/* Processes updating one store at once: every change survives. */
static void test_concurrent_updates(void **state)
{
	char *path = tu_path(dir, "busy.json");
	pid_t pids[4];
	int i, status;

	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			sesame_client *c = open_store(path);
			char id[32];
			int j;

			for (j = 0; j < 25; j++) {
				snprintf(id, sizeof(id), "p%d-u%d", i, j);
				if (store_update(c, add_user, id, NULL) != SESAME_CLIENT_OK)
					_exit(1);
			}
			sesame_client_close(c);
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	{
		sesame_client *c = open_store(path);

		assert_int_equal(count_users(c), 100);
		sesame_client_close(c);
	}
	free(path);
}

struct stop {
	int fd;
	const char *stage;
};

/* The child's hook: at its stage, tell the parent, then wait to be killed. */
static void stop_here(void *arg, const char *stage)
{
	const struct stop *s = arg;

	if (strcmp(stage, s->stage) == 0) {
		(void)!write(s->fd, "w", 1);
		for (;;)
			pause();
	}
}

/* SIGKILL in the middle of an update at `stage` (the lock held, the new
 * store half or wholly written, not yet in place): the store loads with its
 * old content, and the next update takes the lock and succeeds. */
static void killed_at(const char *stage)
{
	char *path = store_with_user("killed.json"), got;
	int pipefd[2], status;
	sesame_client *c;
	struct cl_store s;
	sesame_client_error err;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stop at = {pipefd[1], stage};

		close(pipefd[0]);
		c = open_store(path);
		c->store_hook = stop_here;
		c->store_hook_arg = &at;
		add(c, "u2");
		_exit(3); /* not reached: the hook never returns */
	}
	close(pipefd[1]);
	/* Bounded: the read ends when the child writes or dies. */
	assert_int_equal(read(pipefd[0], &got, 1), 1);
	close(pipefd[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	c = open_store(path);
	if (store_load(c, &s, &err) != SESAME_CLIENT_OK)
		fail_msg("load after the kill: %s", err.text);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.users[0].id, "u1");
	store_clear(&s);
	add(c, "u3");
	assert_int_equal(store_load(c, &s, &err), SESAME_CLIENT_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.active, "u3");
	store_clear(&s);
	sesame_client_close(c);
	free(path);
}

static void test_killed_mid_write(void **state)
{
	killed_at(STORE_STAGE_HALF);
}

static void test_killed_before_rename(void **state)
{
	killed_at(STORE_STAGE_WRITTEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_path),
	    cmocka_unit_test(test_open_arguments),
	    cmocka_unit_test_setup_teardown(test_created_private, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_others_access, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_foreign_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_symlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_open_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_torn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_foreign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_updates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_mid_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_before_rename, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
