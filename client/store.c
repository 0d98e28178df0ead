/* SPDX-License-Identifier: MIT */
/*
 * client/store.c — the user store of libsesame-client: one JSON file per
 * application holding the device id, the users (most recently active
 * first), their tokens and which user is active.
 *
 * Readers take no lock: the file is only ever replaced whole, by rename().
 * Writers read, change and write it under an exclusive flock() of
 * FILE.lock, so concurrent processes never lose each other's changes; the
 * new content goes to FILE.tmp (created afresh, 0600), is fsync()ed, then
 * renamed over FILE and the directory fsync()ed, so a process killed at
 * any point leaves either the old or the new store.  A store that is not
 * ours, readable by others, torn or foreign is refused, never repaired:
 * the message names the file so its owner can look at it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"

void store_clear(struct cl_store *s)
{
	size_t i, j;

	for (i = 0; i < s->n; i++) {
		struct cl_user *u = &s->users[i];

		free(u->id);
		cl_free_secret(u->access);
		cl_free_secret(u->refresh);
		for (j = 0; j < u->nproviders; j++)
			free(u->providers[j]);
		free(u->providers);
	}
	free(s->users);
	free(s->active);
	memset(s, 0, sizeof(*s));
}

long store_find(const struct cl_store *s, const char *id)
{
	size_t i;

	for (i = 0; id && i < s->n; i++)
		if (strcmp(s->users[i].id, id) == 0)
			return (long)i;
	return -1;
}

void store_promote(struct cl_store *s, size_t i)
{
	struct cl_user u = s->users[i];

	memmove(&s->users[1], &s->users[0], i * sizeof(u));
	s->users[0] = u;
}

/* When the active user is gone or logged out, the most recently active
 * user still logged in takes over. */
static void pick_active(struct cl_store *s)
{
	long i = store_find(s, s->active);
	size_t j;

	if (i >= 0 && s->users[i].logged_in)
		return;
	free(s->active);
	s->active = NULL;
	for (j = 0; j < s->n; j++)
		if (s->users[j].logged_in) {
			s->active = strdup(s->users[j].id);
			return;
		}
}

void store_log_out(struct cl_store *s, size_t i)
{
	struct cl_user *u = &s->users[i];

	cl_free_secret(u->access);
	cl_free_secret(u->refresh);
	u->access = u->refresh = NULL;
	u->logged_in = false;
	pick_active(s);
}

void store_forget(struct cl_store *s, size_t i)
{
	struct cl_user *u = &s->users[i];
	size_t j;

	free(u->id);
	cl_free_secret(u->access);
	cl_free_secret(u->refresh);
	for (j = 0; j < u->nproviders; j++)
		free(u->providers[j]);
	free(u->providers);
	memmove(&s->users[i], &s->users[i + 1], (s->n - i - 1) * sizeof(*u));
	s->n--;
	pick_active(s);
}

bool store_holds_refresh(const struct cl_user *u, const char *refresh)
{
	size_t n = refresh ? strlen(refresh) : 0;

	return u->logged_in && n > 0 && strlen(u->refresh) == n && CRYPTO_memcmp(u->refresh, refresh, n) == 0;
}

bool store_user_anonymous(const struct cl_user *u)
{
	size_t i;

	for (i = 0; i < u->nproviders; i++)
		if (strcmp(u->providers[i], ANONYMOUS_TYPE) != 0)
			return false;
	return u->nproviders > 0;
}

int store_set_providers(struct cl_user *u, char **types, size_t n)
{
	char **copy;
	size_t i;

	if (n == u->nproviders) {
		for (i = 0; i < n && strcmp(types[i], u->providers[i]) == 0; i++)
			;
		if (i == n)
			return 0;
	}
	copy = calloc(n ? n : 1, sizeof(*copy));
	if (!copy)
		return -1;
	for (i = 0; i < n; i++)
		if (!(copy[i] = strdup(types[i]))) {
			while (i > 0)
				free(copy[--i]);
			free(copy);
			return -1;
		}
	for (i = 0; i < u->nproviders; i++)
		free(u->providers[i]);
	free(u->providers);
	u->providers = copy;
	u->nproviders = n;
	return 1;
}

json_t *store_user_json(const struct cl_store *s, size_t i)
{
	const struct cl_user *u = &s->users[i];
	json_t *types = json_array(), *entry;
	size_t j;

	for (j = 0; types && j < u->nproviders; j++)
		json_array_append_new(types, json_string(u->providers[j]));
	entry = json_pack("{s:s, s:s, s:b, s:o*}", "id", u->id, "state", u->logged_in ? "LoggedIn" : "LoggedOut",
			  "active", s->active && strcmp(s->active, u->id) == 0, "providers", types);
	return entry;
}

/* ---- the file and its directory ------------------------------------------------ */

/* The directory of `path`, malloc'd ("." for a bare name). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* mkdir -p `dir`, each directory created 0700. */
static int make_dirs(const char *dir, sesame_client_error *err)
{
	char *copy = strdup(dir), *p;
	int rc = SESAME_CLIENT_OK;

	if (!copy)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	for (p = strchr(copy + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
			rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot create the store directory %s: %s", copy,
				      strerror(errno));
			break;
		}
		if (!p)
			break;
		*p = '/';
	}
	free(copy);
	return rc;
}

/* The directory holding the store: ours (or root's) and writable by its
 * owner alone, or anyone could replace the store or its lock. */
static int check_dir(const char *dir, sesame_client_error *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return cl_error(err, SESAME_CLIENT_STORE, "io", "cannot read the store directory %s: %s", dir,
				strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cl_error(err, SESAME_CLIENT_STORE, "io", "the store directory %s is not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return cl_error(err, SESAME_CLIENT_STORE, "owner",
				"the store directory %s belongs to uid %lu, not to you (uid %lu)", dir,
				(unsigned long)st.st_uid, (unsigned long)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return cl_error(err, SESAME_CLIENT_STORE, "permissions",
				"the store directory %s is writable by group or others (mode %04o); a store of session "
				"tokens needs a directory only its owner can write",
				dir, (unsigned)(st.st_mode & 07777));
	return SESAME_CLIENT_OK;
}

/* A store or lock file opened as `fd`: a regular file of ours, with no
 * permission for group or others. */
static int check_file(int fd, const char *path, sesame_client_error *err)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return cl_error(err, SESAME_CLIENT_STORE, "io", "cannot read %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cl_error(err, SESAME_CLIENT_STORE, "permissions", "%s is not a regular file", path);
	if (st.st_uid != geteuid())
		return cl_error(err, SESAME_CLIENT_STORE, "owner", "%s belongs to uid %lu, not to you (uid %lu)", path,
				(unsigned long)st.st_uid, (unsigned long)geteuid());
	if (st.st_mode & 077)
		return cl_error(err, SESAME_CLIENT_STORE, "permissions",
				"%s is accessible by group or others (mode %04o); it holds session tokens: end those "
				"sessions, then remove it or chmod 600 it",
				path, (unsigned)(st.st_mode & 07777));
	return SESAME_CLIENT_OK;
}

static int open_error(const char *path, sesame_client_error *err)
{
	if (errno == ELOOP)
		return cl_error(err, SESAME_CLIENT_STORE, "permissions",
				"%s is a symbolic link; the store must be a file", path);
	return cl_error(err, SESAME_CLIENT_STORE, "io", "cannot open %s: %s", path, strerror(errno));
}

/* ---- reading ------------------------------------------------------------------------ */

/* The store text, at most SESAME_CLIENT_STORE_MAX bytes; NULL when the
 * file does not exist (*missing). */
static int read_text(const char *path, char **text, size_t *len, bool *missing, sesame_client_error *err)
{
	size_t cap = 8192, used = 0;
	char *buf = NULL, *bigger;
	ssize_t n;
	int fd, rc;

	*text = NULL;
	*missing = false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = true;
			return SESAME_CLIENT_OK;
		}
		return open_error(path, err);
	}
	rc = check_file(fd, path, err);
	if (rc != SESAME_CLIENT_OK)
		goto out;
	buf = malloc(cap);
	for (;;) {
		if (!buf) {
			rc = cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
			goto out;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > SESAME_CLIENT_STORE_MAX) {
			rc = cl_error(err, SESAME_CLIENT_STORE, "foreign",
				      "%s is larger than %d bytes: not a sesame-client store", path,
				      SESAME_CLIENT_STORE_MAX);
			goto out;
		}
		if (cap - used < 2) {
			/* Copied, not realloc()ed: the old buffer holds tokens. */
			bigger = malloc(cap * 2);
			if (bigger)
				memcpy(bigger, buf, used);
			OPENSSL_cleanse(buf, cap);
			free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	buf = NULL;
	rc = SESAME_CLIENT_OK;
out:
	if (buf) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
	close(fd);
	return rc;
}

static int torn(const char *path, const char *what, sesame_client_error *err)
{
	return cl_error(err, SESAME_CLIENT_STORE, "torn",
			"%s is damaged (%s); move it away to start afresh (its users will have to log in again)", path,
			what);
}

static int torn_user(const char *path, const char *id, const char *what, sesame_client_error *err)
{
	char text[200];

	snprintf(text, sizeof(text), "user %s: %s", id, what);
	return torn(path, text, err);
}

/* One user entry of the file into `u`. */
static int user_from_json(json_t *v, struct cl_user *u, const char *path, sesame_client_error *err)
{
	json_t *state = json_object_get(v, "state"), *types = json_object_get(v, "providers"), *m;
	const char *id = json_string_value(json_object_get(v, "id")), *key;
	const char *access = json_string_value(json_object_get(v, "access_token"));
	const char *refresh = json_string_value(json_object_get(v, "refresh_token"));
	size_t i;

	if (!json_is_object(v) || !cl_id_valid(id))
		return torn(path, "a user without a valid \"id\"", err);
	json_object_foreach(v, key, m) {
		if (strcmp(key, "id") != 0 && strcmp(key, "state") != 0 && strcmp(key, "providers") != 0 &&
		    strcmp(key, "access_token") != 0 && strcmp(key, "refresh_token") != 0)
			return torn_user(path, id, "an unknown member", err);
	}
	if (!json_is_string(state) ||
	    (strcmp(json_string_value(state), "LoggedIn") != 0 && strcmp(json_string_value(state), "LoggedOut") != 0))
		return torn_user(path, id, "\"state\" is not LoggedIn or LoggedOut", err);
	u->logged_in = strcmp(json_string_value(state), "LoggedIn") == 0;
	if (u->logged_in && (!cl_token_valid(access) || !cl_token_valid(refresh)))
		return torn_user(path, id, "a token is missing or invalid", err);
	if (!u->logged_in && (json_object_get(v, "access_token") || json_object_get(v, "refresh_token")))
		return torn_user(path, id, "tokens kept after logout", err);
	if (!json_is_array(types) || json_array_size(types) > PROVIDERS_MAX)
		return torn_user(path, id, "\"providers\" is not an array of types", err);
	json_array_foreach(types, i, m) {
		if (!cl_id_valid(json_string_value(m)))
			return torn_user(path, id, "\"providers\" holds an invalid type", err);
	}
	u->id = strdup(id);
	u->access = cl_strdup(access);
	u->refresh = cl_strdup(refresh);
	u->providers = calloc(json_array_size(types) + 1, sizeof(char *));
	if (!u->id || (u->logged_in && (!u->access || !u->refresh)) || !u->providers)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	json_array_foreach(types, i, m) {
		if (!(u->providers[i] = strdup(json_string_value(m))))
			return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
		u->nproviders = i + 1;
	}
	return SESAME_CLIENT_OK;
}

/* The parsed file into `s`, checking it is a store of this application. */
static int store_from_json(json_t *doc, const char *path, const char *app_id, struct cl_store *s,
			   sesame_client_error *err)
{
	json_t *format = json_object_get(doc, "format"), *version = json_object_get(doc, "version");
	json_t *app = json_object_get(doc, "app_id"), *users = json_object_get(doc, "users"), *active, *v;
	const char *device = json_string_value(json_object_get(doc, "device_id")), *key;
	size_t i;
	long found;
	int rc;

	if (!json_is_object(doc) || !json_is_string(format) || strcmp(json_string_value(format), STORE_FORMAT) != 0)
		return cl_error(err, SESAME_CLIENT_STORE, "foreign",
				"%s is not a sesame-client store (no \"format\": \"%s\")", path, STORE_FORMAT);
	if (!json_is_integer(version) || json_integer_value(version) != STORE_VERSION)
		return cl_error(err, SESAME_CLIENT_STORE, "foreign",
				"%s is a sesame-client store of another format version; this library reads version %d",
				path, STORE_VERSION);
	if (!json_is_string(app) || strcmp(json_string_value(app), app_id) != 0) {
		char other[SESAME_CLIENT_ID_MAX + 1] = "";

		if (json_is_string(app))
			cl_sanitize(other, sizeof(other), json_string_value(app), json_string_length(app),
				    SESAME_CLIENT_ID_MAX);
		return cl_error(err, SESAME_CLIENT_STORE, "foreign", "%s is the store of app \"%s\", not of \"%s\"",
				path, other, app_id);
	}
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "format") != 0 && strcmp(key, "version") != 0 && strcmp(key, "app_id") != 0 &&
		    strcmp(key, "device_id") != 0 && strcmp(key, "active") != 0 && strcmp(key, "users") != 0)
			return torn(path, "an unknown member", err);
	}
	if (!cl_device_id_valid(device))
		return torn(path, "\"device_id\" is not 24 hexadecimal digits", err);
	if (!json_is_array(users))
		return torn(path, "\"users\" is not an array", err);
	memcpy(s->device_id, device, 25);
	s->users = calloc(json_array_size(users) + 1, sizeof(*s->users));
	if (!s->users)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	json_array_foreach(users, i, v) {
		s->n = i + 1;
		rc = user_from_json(v, &s->users[i], path, err);
		if (rc != SESAME_CLIENT_OK)
			return rc;
		if (store_find(s, s->users[i].id) != (long)i)
			return torn(path, "a user listed twice", err);
	}
	active = json_object_get(doc, "active");
	if (json_is_null(active))
		return SESAME_CLIENT_OK;
	found = store_find(s, json_string_value(active));
	if (found < 0 || !s->users[found].logged_in)
		return torn(path, "\"active\" is not a logged-in user", err);
	s->active = strdup(s->users[found].id);
	return s->active ? SESAME_CLIENT_OK : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
}

/* The store into `s`; `*exists` false (and `s` empty) when there is none. */
static int read_store(struct sesame_client *c, struct cl_store *s, bool *exists, sesame_client_error *err)
{
	char *text = NULL, *dir, what[200];
	json_error_t jerr;
	json_t *doc;
	size_t len = 0;
	bool missing;
	int rc;

	memset(s, 0, sizeof(*s));
	*exists = false;
	rc = read_text(c->store_path, &text, &len, &missing, err);
	if (rc != SESAME_CLIENT_OK || missing)
		return rc;
	*exists = true;
	dir = dir_of(c->store_path);
	rc = dir ? check_dir(dir, err) : cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	free(dir);
	if (rc != SESAME_CLIENT_OK) {
		cl_free_secret(text);
		return rc;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	OPENSSL_cleanse(text, len);
	free(text);
	if (!doc) {
		snprintf(what, sizeof(what), "not JSON: %s at line %d, column %d", jerr.text, jerr.line, jerr.column);
		return torn(c->store_path, what, err);
	}
	rc = store_from_json(doc, c->store_path, c->app_id, s, err);
	cl_json_wipe_decref(doc);
	if (rc != SESAME_CLIENT_OK)
		store_clear(s);
	return rc;
}

int store_load(struct sesame_client *c, struct cl_store *s, sesame_client_error *err)
{
	bool exists;

	return read_store(c, s, &exists, err);
}

/* ---- writing ------------------------------------------------------------------------ */

static json_t *store_to_json(const struct cl_store *s, const char *app_id)
{
	json_t *users = json_array(), *doc, *types, *u;
	size_t i, j;

	for (i = 0; users && i < s->n; i++) {
		types = json_array();
		for (j = 0; types && j < s->users[i].nproviders; j++)
			json_array_append_new(types, json_string(s->users[i].providers[j]));
		u = json_pack("{s:s, s:s, s:o*}", "id", s->users[i].id, "state",
			      s->users[i].logged_in ? "LoggedIn" : "LoggedOut", "providers", types);
		if (u && s->users[i].logged_in) {
			json_object_set_new(u, "access_token", json_string(s->users[i].access));
			json_object_set_new(u, "refresh_token", json_string(s->users[i].refresh));
		}
		if (!u || json_array_append_new(users, u) != 0) {
			cl_json_wipe_decref(users);
			return NULL;
		}
	}
	doc = json_pack("{s:s, s:i, s:s, s:s, s:s*, s:o*}", "format", STORE_FORMAT, "version", STORE_VERSION, "app_id",
			app_id, "device_id", s->device_id, "active", s->active, "users", users);
	if (doc && !json_object_get(doc, "active"))
		json_object_set_new(doc, "active", json_null());
	return doc;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void hook(struct sesame_client *c, const char *stage)
{
	if (c->store_hook)
		c->store_hook(c->store_hook_arg, stage);
}

static int write_store(struct sesame_client *c, const struct cl_store *s, const char *dir, sesame_client_error *err)
{
	json_t *doc = store_to_json(s, c->app_id);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	size_t len = text ? strlen(text) : 0;
	int fd = -1, dfd, rc = SESAME_CLIENT_OK;

	cl_json_wipe_decref(doc);
	if (!text)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	if (len + 1 > SESAME_CLIENT_STORE_MAX) {
		rc = cl_error(err, SESAME_CLIENT_STORE, "full",
			      "%s would grow past %d bytes; remove users (sesame-client remove) to make room",
			      c->store_path, SESAME_CLIENT_STORE_MAX);
		goto out;
	}
	/* A previous writer killed mid-update may have left it: we hold the
	 * lock, so it is nobody's now. */
	if (unlink(c->tmp_path) != 0 && errno != ENOENT) {
		rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot remove %s: %s", c->tmp_path, strerror(errno));
		goto out;
	}
	fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* In two writes, so a test can stop a writer between them. */
	if (fd < 0 || fchmod(fd, 0600) != 0 || write_all(fd, text, len / 2) != 0) {
		rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot write %s: %s", c->tmp_path, strerror(errno));
		goto out;
	}
	hook(c, STORE_STAGE_HALF);
	if (write_all(fd, text + len / 2, len - len / 2) != 0 || write_all(fd, "\n", 1) != 0) {
		rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot write %s: %s", c->tmp_path, strerror(errno));
		goto out;
	}
	hook(c, STORE_STAGE_WRITTEN);
	if (fsync(fd) != 0) {
		rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot write %s: %s", c->tmp_path, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(c->tmp_path, c->store_path) != 0) {
		rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot replace %s: %s", c->store_path, strerror(errno));
		goto out;
	}
	/* The rename itself is durable once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (fd >= 0) {
		close(fd);
		unlink(c->tmp_path);
	}
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

/* The exclusive lock of the store, held until `*fd` is closed. */
static int lock_store(struct sesame_client *c, const char *dir, int *fd, sesame_client_error *err)
{
	int rc = make_dirs(dir, err);

	*fd = -1;
	if (rc == SESAME_CLIENT_OK)
		rc = check_dir(dir, err);
	if (rc != SESAME_CLIENT_OK)
		return rc;
	*fd = open(c->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (*fd < 0)
		return open_error(c->lock_path, err);
	rc = check_file(*fd, c->lock_path, err);
	while (rc == SESAME_CLIENT_OK && flock(*fd, LOCK_EX) != 0)
		if (errno != EINTR)
			rc = cl_error(err, SESAME_CLIENT_STORE, "io", "cannot lock %s: %s", c->lock_path,
				      strerror(errno));
	if (rc != SESAME_CLIENT_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int store_update(struct sesame_client *c, store_edit_fn edit, void *arg, sesame_client_error *err)
{
	struct cl_store s;
	char *dir = dir_of(c->store_path);
	bool exists, changed = false;
	int fd = -1, rc;

	if (!dir)
		return cl_error(err, SESAME_CLIENT_INTERNAL, "memory", "out of memory");
	rc = lock_store(c, dir, &fd, err);
	if (rc == SESAME_CLIENT_OK)
		rc = read_store(c, &s, &exists, err);
	if (rc != SESAME_CLIENT_OK)
		goto out;
	rc = edit(&s, arg, &changed, err);
	if (rc == SESAME_CLIENT_OK && changed && !s.device_id[0] && cl_device_id_new(s.device_id) != 0)
		rc = cl_error(err, SESAME_CLIENT_INTERNAL, "random", "the random generator failed");
	if (rc == SESAME_CLIENT_OK && changed)
		rc = write_store(c, &s, dir, err);
	store_clear(&s);
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}
