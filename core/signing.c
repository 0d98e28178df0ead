/* SPDX-License-Identifier: MIT */
/*
 * core/signing.c — sesame's own token-signing keys as files: the key
 * file (config "signing_key", by default STATE_DIR/signing-key.pem, 0600)
 * and the retired public keys beside it.  The keys live in the store
 * (core/signing-store.c); the files are read only to import them into a
 * store that has none (an installation from before), and are the keys
 * themselves only with a store plugin of store ABI 1.0.
 *
 * Rotation writes a new key and moves the old public key to
 * SIGNING_KEY.retired/KID.pem; retired keys still verify the access tokens
 * they signed until those expire (their file's mtime is the moment of
 * retirement), then they are pruned.  Refresh tokens never depend on these
 * keys (core/sessions.c), so pruning ends no session.  A key id is the
 * first 16 hex digits of SHA-256 over the public key's DER form: stable,
 * and unrelated to anything secret.  The parsing and generation helpers
 * here serve both places.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"

#define MAX_KEY_FILE (64 * 1024)
#define RETIRE_SLACK SIGNING_RETIRE_SLACK

void signing_keys_free(struct signing_keys *sk)
{
	size_t i;

	if (!sk)
		return;
	for (i = 0; i < sk->n; i++) {
		util_free_secret(sk->keys[i].pem);
		EVP_PKEY_free(sk->keys[i].pkey);
	}
	free(sk->keys);
	memset(sk, 0, sizeof(*sk));
}

static int key_id(EVP_PKEY *pkey, char kid[SIGNING_KID_SIZE])
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len = i2d_PUBKEY(pkey, &der);

	if (len <= 0)
		return SESAME_INTERNAL;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return SESAME_INTERNAL;
	}
	OPENSSL_free(der);
	encode_hex(md, 8, kid);
	return SESAME_OK;
}

static char *pem_of(EVP_PKEY *pkey, bool private)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long len;
	int ok;

	if (!bio)
		return NULL;
	ok = private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(bio, pkey);
	len = BIO_get_mem_data(bio, &data);
	if (ok == 1 && len > 0 && (out = malloc((size_t)len + 1)) != NULL) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	if (private && data && len > 0)
		util_wipe(data, (size_t)len);
	BIO_free(bio);
	return out;
}

/* Parse a PEM (private or public) into a prepared key entry. */
int signing_key_from_pem(const char *file, char *pem, bool private, int64_t retired_at, struct signing_key *k,
			 sesame_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey;

	if (!bio)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey)
		return seterr_at(err, SESAME_CONFIG, "key", file, 0, 0, "not a PEM %s key",
				 private ? "private" : "public");
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC || EVP_PKEY_get_bits(pkey) != 256) {
		EVP_PKEY_free(pkey);
		return seterr_at(err, SESAME_CONFIG, "key", file, 0, 0, "expected an EC P-256 key (ES256)");
	}
	memset(k, 0, sizeof(*k));
	if (key_id(pkey, k->kid) != SESAME_OK) {
		EVP_PKEY_free(pkey);
		return seterr(err, SESAME_INTERNAL, "key", "cannot compute the key id");
	}
	k->pkey = pkey;
	k->pem = pem;
	k->private = private;
	k->retired_at = retired_at;
	return SESAME_OK;
}

static EVP_PKEY *generate_p256(void)
{
	return EVP_EC_gen("P-256");
}

char *signing_key_new_pem(void)
{
	EVP_PKEY *pkey = generate_p256();
	char *pem = pkey ? pem_of(pkey, true) : NULL;

	EVP_PKEY_free(pkey);
	return pem;
}

char *signing_key_public_pem(const struct signing_key *k)
{
	return pem_of(k->pkey, false);
}

/* Write `data` to `path` atomically (temp file + rename) with mode 0600. */
static int write_private_file(const char *path, const char *data, sesame_error *err)
{
	size_t n = strlen(path) + 16, len = strlen(data), off = 0;
	char *tmp = malloc(n);
	int fd, rc = SESAME_OK;

	if (!tmp)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = seterr(err, SESAME_CONFIG, "file", "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	while (off < len && rc == SESAME_OK) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = seterr(err, SESAME_CONFIG, "file", "cannot write %s: %s", tmp, strerror(errno));
		else
			off += (size_t)w;
	}
	if (rc == SESAME_OK && fsync(fd) != 0)
		rc = seterr(err, SESAME_CONFIG, "file", "cannot sync %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == SESAME_OK && rename(tmp, path) != 0)
		rc = seterr(err, SESAME_CONFIG, "file", "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	if (rc != SESAME_OK)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int ensure_dir(const char *dir, sesame_error *err)
{
	return util_make_dirs(dir, 0700, err);
}

char *signing_key_path(const struct config *cfg)
{
	size_t n;
	char *p;

	if (cfg->signing_key)
		return strdup(cfg->signing_key);
	n = strlen(cfg->state_dir) + sizeof("/signing-key.pem");
	p = malloc(n);
	if (p)
		snprintf(p, n, "%s/signing-key.pem", cfg->state_dir);
	return p;
}

static char *retired_dir(const char *key_path)
{
	size_t n = strlen(key_path) + sizeof(".retired");
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s.retired", key_path);
	return p;
}

static int create_key(const char *path, sesame_error *err)
{
	char *pem = signing_key_new_pem();
	int rc;

	if (!pem)
		return seterr(err, SESAME_INTERNAL, "key", "cannot generate an EC P-256 key");
	rc = write_private_file(path, pem, err);
	util_free_secret(pem);
	return rc;
}

int signing_keys_append(struct signing_keys *sk, const struct signing_key *k, sesame_error *err)
{
	struct signing_key *grown = realloc(sk->keys, (sk->n + 1) * sizeof(*grown));

	if (!grown)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	sk->keys = grown;
	sk->keys[sk->n++] = *k;
	return SESAME_OK;
}

/* Load the retired public keys still needed; remove those past their use. */
static int load_retired(const char *dir, const struct config *cfg, int64_t now, struct signing_keys *sk,
			const struct logger *lg, sesame_error *err)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	int rc = SESAME_OK;

	if (!dh)
		return errno == ENOENT ? SESAME_OK
				       : seterr(err, SESAME_CONFIG, "file", "cannot read %s: %s", dir, strerror(errno));
	while (rc == SESAME_OK && (de = readdir(dh)) != NULL) {
		size_t len = strlen(de->d_name);
		struct signing_key k;
		struct stat st;
		char *path, *pem;

		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".pem") != 0)
			continue;
		path = malloc(strlen(dir) + len + 2);
		if (!path) {
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
			break;
		}
		snprintf(path, strlen(dir) + len + 2, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && (int64_t)st.st_mtime + cfg->access_ttl + RETIRE_SLACK < now) {
			log_msg(lg, SESAME_LOG_INFO, "pruning retired signing key %s", path);
			unlink(path);
			free(path);
			continue;
		}
		rc = util_read_file(path, false, MAX_KEY_FILE, &pem, NULL, err);
		if (rc == SESAME_OK &&
		    (rc = signing_key_from_pem(path, pem, false, (int64_t)st.st_mtime, &k, err)) != SESAME_OK)
			free(pem);
		if (rc == SESAME_OK && (rc = signing_keys_append(sk, &k, err)) != SESAME_OK) {
			free(k.pem);
			EVP_PKEY_free(k.pkey);
		}
		free(path);
	}
	closedir(dh);
	return rc;
}

/*
 * Whoever may replace the key file, or a retired public key, can mint
 * tokens for any user: the key, its directory chain, the retired keys'
 * directory and every file in it must be owned by root or sesame's user
 * and not writable by group or others (util_check_path_chain()).
 */
static int trust_key_files(const char *path, sesame_error *err)
{
	char *rdir = retired_dir(path);
	sesame_error e;
	int rc;

	if (!rdir)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	err_clear(&e);
	rc = util_check_path_chain(path, geteuid(), &e);
	if (rc == SESAME_OK && access(rdir, F_OK) == 0) {
		rc = util_check_path_chain(rdir, geteuid(), &e);
		if (rc == SESAME_OK)
			rc = util_check_dir_entries(rdir, geteuid(), &e);
	}
	if (rc != SESAME_OK)
		rc = seterr_at(err, SESAME_CONFIG, e.reason, path, 0, 0, "untrusted signing key: %s", e.text);
	free(rdir);
	return rc;
}

int signing_keys_load(const struct config *cfg, int64_t now, const struct logger *lg, struct signing_keys *sk,
		      sesame_error *err)
{
	char *path = signing_key_path(cfg), *rdir = NULL, *pem = NULL;
	struct signing_key k;
	int rc;

	memset(sk, 0, sizeof(*sk));
	if (!path)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		if (!cfg->signing_key && (rc = ensure_dir(cfg->state_dir, err)) != SESAME_OK)
			goto out;
		log_msg(lg, SESAME_LOG_NOTICE, "generating a new ES256 signing key in %s", path);
		if ((rc = create_key(path, err)) != SESAME_OK)
			goto out;
	}
	if ((rc = trust_key_files(path, err)) != SESAME_OK)
		goto out;
	/* The private key must be ours alone: util_read_file refuses it when
	 * group or others may read it. */
	rc = util_read_file(path, true, MAX_KEY_FILE, &pem, NULL, err);
	if (rc != SESAME_OK) {
		rc = seterr_at(err, SESAME_CONFIG, err ? err->reason : "key", path, 0, 0, "signing key: %s",
			       err ? err->text : "unreadable");
		goto out;
	}
	if (pem[0] == '\0') {
		util_free_secret(pem);
		rc = seterr_at(err, SESAME_CONFIG, "key", path, 0, 0, "signing key file is empty");
		goto out;
	}
	rc = signing_key_from_pem(path, pem, true, 0, &k, err);
	if (rc != SESAME_OK) {
		util_free_secret(pem);
		goto out;
	}
	if ((rc = signing_keys_append(sk, &k, err)) != SESAME_OK) {
		util_free_secret(k.pem);
		EVP_PKEY_free(k.pkey);
		goto out;
	}
	rdir = retired_dir(path);
	rc = rdir ? load_retired(rdir, cfg, now, sk, lg, err) : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
out:
	if (rc != SESAME_OK)
		signing_keys_free(sk);
	free(rdir);
	free(path);
	return rc;
}

static int64_t stat_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void signing_keys_stamp(const struct config *cfg, struct signing_stamp *stamp)
{
	char *path = signing_key_path(cfg), *rdir = path ? retired_dir(path) : NULL;
	struct stat st;

	memset(stamp, 0, sizeof(*stamp));
	if (path && stat(path, &st) == 0) {
		stamp->key_exists = true;
		stamp->key_dev = st.st_dev;
		stamp->key_ino = st.st_ino;
		stamp->key_mtime_ns = stat_ns(&st.st_mtim);
		stamp->key_ctime_ns = stat_ns(&st.st_ctim);
		stamp->key_size = st.st_size;
	}
	/* A rotation adds a file to the retired directory: its mtime moves. */
	if (rdir && stat(rdir, &st) == 0) {
		stamp->retired_exists = true;
		stamp->retired_dev = st.st_dev;
		stamp->retired_ino = st.st_ino;
		stamp->retired_mtime_ns = stat_ns(&st.st_mtim);
	}
	free(rdir);
	free(path);
}

bool signing_stamp_equal(const struct signing_stamp *a, const struct signing_stamp *b)
{
	return a->in_store == b->in_store && a->generation == b->generation && a->key_exists == b->key_exists && a->retired_exists == b->retired_exists && a->key_dev == b->key_dev &&
	       a->key_ino == b->key_ino && a->key_mtime_ns == b->key_mtime_ns && a->key_ctime_ns == b->key_ctime_ns &&
	       a->key_size == b->key_size && a->retired_dev == b->retired_dev && a->retired_ino == b->retired_ino &&
	       a->retired_mtime_ns == b->retired_mtime_ns;
}

int signing_keys_rotate(const struct config *cfg, const struct logger *lg, char new_kid[SIGNING_KID_SIZE],
			sesame_error *err)
{
	struct signing_keys old;
	char *path = NULL, *rdir = NULL, *pub = NULL, *file = NULL, *next = NULL;
	int rc;

	rc = signing_keys_load(cfg, (int64_t)time(NULL), lg, &old, err);
	if (rc != SESAME_OK)
		return rc;
	path = signing_key_path(cfg);
	rdir = path ? retired_dir(path) : NULL;
	pub = pem_of(old.keys[0].pkey, false);
	if (!path || !rdir || !pub) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	if ((rc = ensure_dir(rdir, err)) != SESAME_OK)
		goto out;
	file = malloc(strlen(rdir) + SIGNING_KID_SIZE + 8);
	next = malloc(strlen(path) + 8);
	if (!file || !next) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		goto out;
	}
	snprintf(file, strlen(rdir) + SIGNING_KID_SIZE + 8, "%s/%s.pem", rdir, old.keys[0].kid);
	snprintf(next, strlen(path) + 8, "%s.next", path);
	/* Order matters for a crash in between: first the old public key is
	 * kept, then the new key replaces the old one in a single rename. */
	if ((rc = write_private_file(file, pub, err)) != SESAME_OK)
		goto out;
	if ((rc = create_key(next, err)) != SESAME_OK)
		goto out;
	if (rename(next, path) != 0) {
		rc = seterr(err, SESAME_CONFIG, "file", "cannot rename %s to %s: %s", next, path, strerror(errno));
		unlink(next);
		goto out;
	}
	signing_keys_free(&old);
	rc = signing_keys_load(cfg, (int64_t)time(NULL), lg, &old, err);
	if (rc == SESAME_OK) {
		memcpy(new_kid, old.keys[0].kid, SIGNING_KID_SIZE);
		log_msg(lg, SESAME_LOG_NOTICE, "signing key rotated: new kid %s", new_kid);
	}
out:
	signing_keys_free(&old);
	free(pub);
	free(file);
	free(next);
	free(rdir);
	free(path);
	return rc;
}
