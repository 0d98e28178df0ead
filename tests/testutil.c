/* SPDX-License-Identifier: MIT */
/* tests/testutil.c — helpers shared by the test programs; see testutil.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "testutil: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
	abort();
}

const char *tu_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "testutil: %s is not set; run the tests through 'make check'\n", name);
		abort();
	}
	return v;
}

char *tu_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p)
		die("malloc", NULL);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void mkdirs(char *path, mode_t mode)
{
	char *s;

	for (s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			die("mkdir", path);
		*s = '/';
	}
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		die("mkdir", path);
	chmod(path, mode);
}

char *tu_mkdir(const char *dir, const char *name, mode_t mode)
{
	char *p = tu_path(dir, name);

	mkdirs(p, mode);
	return p;
}

char *tu_tmpdir(const char *tag)
{
	const char *base = tu_env("SESAME_TEST_TMPDIR");
	char *tmpl;
	size_t n;

	n = strlen(base) + strlen(tag) + 16;
	tmpl = malloc(n);
	if (!tmpl)
		die("malloc", NULL);
	{
		char *b = strdup(base);

		if (!b)
			die("strdup", NULL);
		mkdirs(b, 0755);
		free(b);
	}
	snprintf(tmpl, n, "%s/%s.XXXXXX", base, tag);
	if (!mkdtemp(tmpl))
		die("mkdtemp", tmpl);
	return tmpl;
}

char *tu_write(const char *dir, const char *name, const char *content, mode_t mode)
{
	return tu_write_bytes(dir, name, content, strlen(content), mode);
}

char *tu_write_bytes(const char *dir, const char *name, const void *content, size_t len, mode_t mode)
{
	char *p = tu_path(dir, name), *slash = strrchr(p, '/');
	size_t off = 0;
	int fd;

	*slash = '\0';
	mkdirs(p, 0755);
	*slash = '/';
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		die("open", p);
	while (off < len) {
		ssize_t w = write(fd, (const char *)content + off, len - off);

		if (w < 0)
			die("write", p);
		off += (size_t)w;
	}
	fchmod(fd, mode);
	close(fd);
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path);
}

void tu_rmrf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_main_config_at(const char *dir, const char *plugin_dir, const char *extra)
{
	char *state = tu_mkdir(dir, "state", 0700), *drop = tu_path(dir, "providers.d"), *path;
	size_t n = strlen(dir) * 3 + strlen(plugin_dir) + (extra ? strlen(extra) : 0) + 4096;
	char *text = malloc(n);

	if (!text)
		die("malloc", NULL);
	snprintf(text, n,
		 "{\n  \"plugin_dir\": \"%s\",\n  \"store_dir\": \"%s\",\n  \"provider_dirs\": [\"%s\"],\n"
		 "  \"state_dir\": \"%s\"%s%s\n}\n",
		 plugin_dir, tu_env("SESAME_TEST_STORES"), drop, state, extra ? ",\n  " : "", extra ? extra : "");
	path = tu_write(dir, "sesame.json", text, 0644);
	free(text);
	free(state);
	free(drop);
	return path;
}

char *tu_main_config(const char *dir, const char *extra)
{
	size_t n = (extra ? strlen(extra) : 0) + 64;
	char *members = malloc(n), *path;

	if (!members)
		die("malloc", NULL);
	snprintf(members, n, "\"test_mode\": true%s%s", extra ? ",\n  " : "", extra ? extra : "");
	path = tu_main_config_at(dir, tu_env("SESAME_TEST_PLUGINS"), members);
	free(members);
	return path;
}

void tu_tree_init(struct tu_tree *t, const char *tag, const char *plugin_dir)
{
	size_t n = strlen(plugin_dir) + 2048;
	char *text;

	t->dir = tu_tmpdir(tag);
	t->drop = tu_mkdir(t->dir, "providers.d", 0755);
	n += strlen(t->drop) + strlen(t->dir);
	text = malloc(n);
	if (!text)
		die("malloc", NULL);
	snprintf(text, n, "{\"plugin_dir\": \"%s\", \"provider_dirs\": [\"%s\"], \"state_dir\": \"%s\"}", plugin_dir,
		 t->drop, t->dir);
	t->main = tu_write(t->dir, "sesame.json", text, 0644);
	free(text);
}

void tu_tree_clear(struct tu_tree *t)
{
	tu_rmrf(t->dir);
	free(t->dir);
	free(t->main);
	free(t->drop);
	memset(t, 0, sizeof(*t));
}

int tu_tree_setup(void **state)
{
	struct tu_tree *t = calloc(1, sizeof(*t));

	if (!t)
		die("calloc", NULL);
	tu_tree_init(t, "tree", tu_env("SESAME_TEST_FIXTURES"));
	*state = t;
	return 0;
}

int tu_tree_teardown(void **state)
{
	struct tu_tree *t = *state;

	tu_tree_clear(t);
	free(t);
	return 0;
}

void tu_tree_drop(const struct tu_tree *t, const char *name, const char *content)
{
	free(tu_provider(t->dir, name, content));
}

char *tu_provider(const char *dir, const char *name, const char *content)
{
	char *file = malloc(strlen(name) + 32), *p;

	if (!file)
		die("malloc", NULL);
	snprintf(file, strlen(name) + 32, "providers.d/%s.json", name);
	p = tu_write(dir, file, content, 0644);
	free(file);
	return p;
}

static char *slurp(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		die("malloc", NULL);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("realloc", NULL);
		}
	}
	buf[len] = '\0';
	return buf;
}

int tu_run(const char *cmd, char **out, char **err)
{
	char opath[] = "/tmp/sesame-tu-out.XXXXXX", epath[] = "/tmp/sesame-tu-err.XXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath), status;
	pid_t pid;

	if (ofd < 0 || efd < 0)
		die("mkstemp", NULL);
	unlink(opath);
	unlink(epath);
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		dup2(ofd, 1);
		dup2(efd, 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", NULL);
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	if (out)
		*out = slurp(ofd);
	if (err)
		*err = slurp(efd);
	close(ofd);
	close(efd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uid_t tu_program_uid(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return geteuid();
	pw = getpwnam("nobody");
	if (!pw)
		die("getpwnam", "nobody");
	return pw->pw_uid;
}

char *tu_program_dir(const char *dir, const char *name)
{
	char *p = tu_mkdir(dir, name, 0700);
	struct passwd *pw;

	if (chmod(dir, 0755) != 0)
		die("chmod", dir);
	if (geteuid() == 0) {
		pw = getpwnam("nobody");
		if (!pw || chown(p, pw->pw_uid, pw->pw_gid) != 0)
			die("chown", p);
	}
	return p;
}

void tu_copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		die("open", src);
	unlink(dst);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		die("open", dst);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("write", dst);
	if (n < 0)
		die("read", src);
	if (fchmod(out, mode) != 0)
		die("chmod", dst);
	close(in);
	close(out);
}

void tu_copy_plugin(const char *from, const char *to, const char *type)
{
	char src[1024], dst[1024];

	snprintf(src, sizeof(src), "%s/%s.so", from, type);
	snprintf(dst, sizeof(dst), "%s/%s.so", to, type);
	tu_copy_file(src, dst, 0755);
}

void tu_log_quiet(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	(void)msg;
}
