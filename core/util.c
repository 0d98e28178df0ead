/* SPDX-License-Identifier: MIT */
/* core/util.c — small helpers: secrets, random bytes, files, path safety. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fastjson.h"
#include "internal.h"

int util_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void util_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

void util_json_text_free(char *text)
{
	json_free_t release;

	if (!text)
		return;
	json_get_alloc_funcs(NULL, &release);
	release(text);
}

size_t util_json_length(const json_t *v, size_t flags)
{
	/* Without a buffer, json_dumpb() only counts. */
	size_t n = json_dumpb(v, NULL, 0, flags);

	return n ? n : SIZE_MAX;
}

void util_free_secret(char *s)
{
	if (s) {
		util_wipe(s, strlen(s));
		free(s);
	}
}

int util_random(void *buf, size_t len)
{
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;

		if (RAND_bytes(buf, chunk) != 1)
			return SESAME_INTERNAL;
		buf = (unsigned char *)buf + chunk;
		len -= (size_t)chunk;
	}
	return SESAME_OK;
}

int64_t util_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int util_read_file(const char *path, bool secret, size_t max, char **out, size_t *lenp, sesame_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	*out = NULL;
	/* O_NONBLOCK: a FIFO put in place of a file must not hang sesame. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return seterr(err, SESAME_CONFIG, "file", "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		seterr(err, SESAME_CONFIG, "file", "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, SESAME_CONFIG, "file", "%s is not a regular file", path);
		goto fail;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		seterr(err, SESAME_CONFIG, "permissions",
		       "%s holds a secret but is accessible by group or others (mode %04o); run chmod 600 on it", path,
		       (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		seterr(err, SESAME_CONFIG, "size", "%s is larger than %zu bytes", path, max);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		seterr(err, SESAME_INTERNAL, "memory", "out of memory reading %s", path);
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			seterr(err, SESAME_CONFIG, "file", "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	if (lenp)
		*lenp = len;
	return SESAME_OK;
fail:
	if (buf) {
		util_wipe(buf, (size_t)st.st_size + 1);
		free(buf);
	}
	close(fd);
	return err ? err->status : SESAME_CONFIG;
}

/* The owner and mode rules for one component.  `leaf`: the path itself,
 * not a directory above it. */
static int check_one(const char *path, const struct stat *st, uid_t uid, bool leaf, sesame_error *err)
{
	if (st->st_uid != 0 && st->st_uid != uid)
		return seterr(err, SESAME_CONFIG, "permissions",
			      "%s is owned by uid %u, not root or uid %u (sesame's user): chown it", path,
			      (unsigned)st->st_uid, (unsigned)uid);
	/* A symbolic link's own mode means nothing; its target is checked. */
	if (S_ISLNK(st->st_mode))
		return SESAME_OK;
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		/* A root-owned sticky directory (/tmp) cannot have our entries
		 * replaced by others, so it is a safe ancestor, never a leaf. */
		if (!leaf && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)
			return SESAME_OK;
		return seterr(err, SESAME_CONFIG, "permissions",
			      "%s is writable by group or others (mode %04o): chmod go-w it", path,
			      (unsigned)(st->st_mode & 07777));
	}
	return SESAME_OK;
}

/* Links followed by one check, as the kernel's own limit (40) but tighter. */
#define MAX_LINKS 16

static int check_chain(const char *path, uid_t uid, bool leaf, int *links, sesame_error *err)
{
	char buf[PATH_MAX];
	struct stat st;
	char *slash;

	if (path[0] != '/')
		return seterr(err, SESAME_CONFIG, "path", "%s is not an absolute path", path);
	if (strlen(path) >= sizeof(buf))
		return seterr(err, SESAME_CONFIG, "path", "path too long");
	memcpy(buf, path, strlen(path) + 1);
	for (;;) {
		const char *at = buf[0] ? buf : "/";

		if (lstat(at, &st) != 0)
			return seterr(err, SESAME_CONFIG, "file", "cannot stat %s: %s", at, strerror(errno));
		if (check_one(at, &st, uid, leaf, err) != SESAME_OK)
			return SESAME_CONFIG;
		if (S_ISLNK(st.st_mode)) {
			/* The target stands in for the link: check it (and all above
			 * it) with the same role. */
			char target[PATH_MAX], *full;
			ssize_t n = readlink(at, target, sizeof(target) - 1);
			int rc;

			if (++*links > MAX_LINKS)
				return seterr(err, SESAME_CONFIG, "path", "%s: too many symbolic links", path);
			if (n < 0 || n >= (ssize_t)sizeof(target) - 1)
				return seterr(err, SESAME_CONFIG, "file", "cannot read the symbolic link %s", at);
			target[n] = '\0';
			if (target[0] == '/') {
				full = strdup(target);
			} else {
				size_t dl = (size_t)(strrchr(buf, '/') - buf), size = dl + (size_t)n + 2;

				full = malloc(size);
				if (full)
					snprintf(full, size, "%.*s/%s", (int)dl, buf, target);
			}
			if (!full)
				return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
			rc = check_chain(full, uid, leaf, links, err);
			free(full);
			if (rc != SESAME_OK)
				return rc;
		}
		leaf = false;
		if (buf[0] == '\0' || strcmp(buf, "/") == 0)
			break;
		slash = strrchr(buf, '/');
		if (!slash)
			break;
		*slash = '\0'; /* "/a" becomes "", which stands for "/" */
	}
	return SESAME_OK;
}

int util_check_path_chain(const char *path, uid_t uid, sesame_error *err)
{
	int links = 0;

	if (!path)
		return seterr(err, SESAME_CONFIG, "path", "no path");
	return check_chain(path, uid, true, &links, err);
}

int util_check_parent_chain(const char *dir, uid_t uid, sesame_error *err)
{
	int links = 0;

	if (!dir)
		return seterr(err, SESAME_CONFIG, "path", "no path");
	return check_chain(dir, uid, false, &links, err);
}

int util_check_dir_entries(const char *dir, uid_t uid, sesame_error *err)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	int rc = SESAME_OK;

	if (!dh)
		return seterr(err, SESAME_CONFIG, "file", "cannot read %s: %s", dir, strerror(errno));
	while (rc == SESAME_OK && (de = readdir(dh)) != NULL) {
		char path[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			rc = seterr(err, SESAME_CONFIG, "path", "path too long in %s", dir);
		else if (lstat(path, &st) != 0)
			rc = seterr(err, SESAME_CONFIG, "file", "cannot stat %s: %s", path, strerror(errno));
		else if (S_ISLNK(st.st_mode))
			rc = util_check_path_chain(path, uid, err);
		else
			rc = check_one(path, &st, uid, true, err);
	}
	closedir(dh);
	return rc;
}

static bool name_matches(const char *s, size_t max, bool upper_ok)
{
	size_t i;

	if (!s || !s[0] || strlen(s) > max)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper_ok && c >= 'A' && c <= 'Z');

		if (alnum)
			continue;
		if (i > 0 && (c == '-' || c == '_'))
			continue;
		return false;
	}
	return true;
}

bool util_valid_type_name(const char *s, size_t max)
{
	return name_matches(s, max, false);
}

bool util_valid_instance_name(const char *s, size_t max)
{
	return name_matches(s, max, true);
}

int util_make_dirs(const char *path, mode_t mode, sesame_error *err)
{
	char *dir = strdup(path), *p;
	int rc = SESAME_OK;

	if (!dir)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	for (p = strchr(dir + 1, '/'); p && rc == SESAME_OK; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			rc = seterr(err, SESAME_CONFIG, "file", "cannot create directory %s: %s", dir, strerror(errno));
		*p = '/';
	}
	if (rc == SESAME_OK && mkdir(dir, mode) != 0 && errno != EEXIST)
		rc = seterr(err, SESAME_CONFIG, "file", "cannot create directory %s: %s", dir, strerror(errno));
	free(dir);
	return rc;
}

json_t *util_json_parse(const void *buf, size_t len, json_error_t *jerr)
{
	const char *text = buf, *nul = memchr(text, '\0', len), *p;

	if (!nul)
		return fastjson_loadb(text, len, 0, jerr);
	if (jerr) {
		memset(jerr, 0, sizeof(*jerr));
		jerr->line = 1;
		jerr->column = 1;
		for (p = text; p < nul; p++, jerr->column++)
			if (*p == '\n')
				jerr->line++, jerr->column = 0;
		jerr->position = (int)(nul - text);
		snprintf(jerr->text, sizeof(jerr->text), "a NUL byte");
		/* Where json_error_code() reads the code (jansson.h). */
		jerr->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_invalid_syntax;
	}
	return NULL;
}
