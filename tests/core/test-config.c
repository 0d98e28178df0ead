/* SPDX-License-Identifier: MIT */
/* tests/core/test-config.c — core/config.c: the main file, the drop-in
 * rules, secrets, and the FILE:LINE:COL of every error. */
#include "config.h"

#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

struct env {
	char *dir;  /* temp root */
	char *main; /* main config path */
	char *vendor, *runtime, *admin;
};

static struct logger quiet = {NULL, NULL, SESAME_LOG_ERR - 1};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char text[4096];

	e->dir = tu_tmpdir("config");
	e->vendor = tu_mkdir(e->dir, "vendor", 0755);
	e->runtime = tu_mkdir(e->dir, "run", 0755);
	e->admin = tu_mkdir(e->dir, "admin", 0755);
	snprintf(text, sizeof(text), "{\"provider_dirs\": [\"%s\", \"%s\", \"%s\"], \"state_dir\": \"%s\"}\n",
		 e->vendor, e->runtime, e->admin, e->dir);
	e->main = tu_write(e->dir, "sesame.json", text, 0644);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tu_rmrf(e->dir);
	free(e->dir);
	free(e->main);
	free(e->vendor);
	free(e->runtime);
	free(e->admin);
	free(e);
	return 0;
}

static void drop(const char *dir, const char *name, const char *content)
{
	free(tu_write(dir, name, content, 0644));
}

static const struct provider_conf *find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_providers; i++)
		if (strcmp(cfg->providers[i].name, name) == 0)
			return &cfg->providers[i];
	return NULL;
}

static void load_ok(const char *path, struct config *cfg)
{
	sesame_error err;

	err_clear(&err);
	if (config_load(cfg, path, 0, &quiet, &err) != SESAME_OK)
		fail_msg("config_load failed: %s", err.text);
}

/* Load and expect a CONFIG error with `reason` at FILE:LINE:COL. */
static void load_fails(const char *path, const char *reason, const char *file, int line, int col)
{
	struct config cfg;
	sesame_error err;
	int rc;

	err_clear(&err);
	rc = config_load(&cfg, path, 0, &quiet, &err);
	if (rc != SESAME_CONFIG || strcmp(err.reason, reason) != 0)
		fail_msg("expected CONFIG/%s, got %d/%s: %s", reason, rc, err.reason, err.text);
	if (file)
		assert_string_equal(err.source, file);
	if (line) {
		char prefix[512];

		assert_int_equal(err.line, line);
		assert_int_equal(err.column, col);
		snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", file, line, col);
		if (strncmp(err.text, prefix, strlen(prefix)) != 0)
			fail_msg("message \"%s\" does not start with \"%s\"", err.text, prefix);
	}
	assert_int_equal(cfg.n_providers, 0);
	assert_null(cfg.providers);
}

static void test_defaults_without_main_file(void **state)
{
	struct env *e = *state;
	char *missing = tu_path(e->dir, "absent.json");
	struct config cfg;
	sesame_error err;

	/* An explicit path that does not exist is an error... */
	assert_int_equal(config_load(&cfg, missing, 0, &quiet, &err), SESAME_CONFIG);
	assert_string_equal(err.reason, "file");
	/* ...a missing default one means built-in defaults. */
	assert_int_equal(config_load(&cfg, missing, CONFIG_MAIN_OPTIONAL, &quiet, &err), SESAME_OK);
	assert_null(cfg.path);
	assert_string_equal(cfg.app_id, "sesame-app");
	assert_int_equal(cfg.access_ttl, 1800);
	assert_int_equal(cfg.refresh_ttl, 5184000);
	assert_string_equal(cfg.listen, "127.0.0.1:9090");
	assert_false(cfg.test_mode);
	assert_int_equal(cfg.n_provider_dirs, 3);
	assert_string_equal(cfg.provider_dirs[0], SESAME_VENDOR_DROPIN_DIR);
	assert_string_equal(cfg.provider_dirs[1], SESAME_RUNTIME_DROPIN_DIR);
	assert_string_equal(cfg.provider_dirs[2], SESAME_ADMIN_DROPIN_DIR);
	assert_string_equal(json_string_value(json_object_get(cfg.store, "type")), "sqlite");
	/* Four scrypt runs with the default parameters fit, a fifth waits. */
	assert_int_equal(cfg.kdf_memory_budget, 520ULL << 20);
	assert_true(cfg.kdf_memory_budget >= 4 * password_scrypt_bytes(17, 8, 1));
	assert_true(cfg.kdf_memory_budget < 5 * password_scrypt_bytes(17, 8, 1));
	assert_int_equal(cfg.kdf_queue, 64);
	assert_int_equal(cfg.kdf_wait_ms, 5000);
	config_free(&cfg);
	free(missing);
}

static void test_password_hashing(void **state)
{
	struct env *e = *state;
	struct config cfg;
	json_t *shown;
	char *p = tu_write(e->dir, "ph.json",
			   "{\"password_hashing\": {\"memory_budget\": 268435456, \"queue\": 0, \"wait_ms\": 250}}", 0644);

	load_ok(p, &cfg);
	assert_int_equal(cfg.kdf_memory_budget, 268435456);
	assert_int_equal(cfg.kdf_queue, 0);
	assert_int_equal(cfg.kdf_wait_ms, 250);
	shown = config_to_json(&cfg, false);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(shown, "password_hashing"), "memory_budget")),
			 268435456);
	json_decref(shown);
	config_free(&cfg);
	free(p);
	/* Bad values: tests/config/invalid/password-hashing-*. */
}

static void test_main_file_values(void **state)
{
	struct env *e = *state;
	struct config cfg;
	char *p = tu_write(e->dir, "main2.json",
			   "{\"app_id\": \"shop\", \"sessions\": {\"access_ttl\": 600}, \"test_mode\": true,\n"
			   " \"store\": {\"type\": \"sqlite\", \"path\": \"/var/x.db\", \"synchronous\": \"normal\"}}",
			   0644);

	load_ok(p, &cfg);
	assert_string_equal(cfg.app_id, "shop");
	assert_int_equal(cfg.access_ttl, 600);
	assert_true(cfg.test_mode);
	assert_string_equal(json_string_value(json_object_get(cfg.store, "path")), "/var/x.db");
	assert_string_equal(cfg.path, p);
	config_free(&cfg);
	free(p);
}

static void test_dropins_merge_and_order(void **state)
{
	struct env *e = *state;
	struct config cfg;
	const struct provider_conf *pc;

	drop(e->vendor, "zeta.json", "{\"type\": \"fixture-good\"}");
	drop(e->vendor, "alpha.json", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"vendor\"}}");
	drop(e->runtime, "mid.json", "{\"type\": \"fixture-good\", \"disabled\": true}");
	/* The admin file replaces the vendor one whole: no greeting left. */
	drop(e->admin, "alpha.json", "{\"type\": \"fixture-old-struct\"}");
	load_ok(e->main, &cfg);
	assert_int_equal(cfg.n_providers, 3);
	assert_string_equal(cfg.providers[0].name, "alpha");
	assert_string_equal(cfg.providers[1].name, "mid");
	assert_string_equal(cfg.providers[2].name, "zeta");
	pc = find(&cfg, "alpha");
	assert_string_equal(pc->type, "fixture-old-struct");
	assert_null(json_object_get(pc->config, "greeting"));
	assert_true(strstr(pc->source, "/admin/alpha.json") != NULL);
	assert_true(find(&cfg, "mid")->disabled);
	assert_false(find(&cfg, "zeta")->disabled);
	config_free(&cfg);
}

static void test_runtime_overrides_vendor_admin_overrides_runtime(void **state)
{
	struct env *e = *state;
	struct config cfg;

	drop(e->vendor, "p.json", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"vendor\"}}");
	drop(e->runtime, "p.json", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"runtime\"}}");
	load_ok(e->main, &cfg);
	assert_string_equal(json_string_value(json_object_get(find(&cfg, "p")->config, "greeting")), "runtime");
	config_free(&cfg);
	drop(e->admin, "p.json", "{\"type\": \"fixture-good\", \"config\": {\"greeting\": \"admin\"}}");
	load_ok(e->main, &cfg);
	assert_string_equal(json_string_value(json_object_get(find(&cfg, "p")->config, "greeting")), "admin");
	config_free(&cfg);
}

static void test_masking(void **state)
{
	struct env *e = *state;
	struct config cfg;
	char *link = tu_path(e->admin, "masked-by-link.json");

	drop(e->vendor, "masked-by-link.json", "{\"type\": \"fixture-good\"}");
	drop(e->vendor, "masked-by-empty.json", "{\"type\": \"fixture-good\"}");
	drop(e->vendor, "kept.json", "{\"type\": \"fixture-good\"}");
	assert_int_equal(symlink("/dev/null", link), 0);
	drop(e->runtime, "masked-by-empty.json", "");
	load_ok(e->main, &cfg);
	assert_int_equal(cfg.n_providers, 1);
	assert_string_equal(cfg.providers[0].name, "kept");
	config_free(&cfg);
	free(link);
}

static void test_skipped_names(void **state)
{
	struct env *e = *state;
	struct config cfg;
	char *sub;

	drop(e->admin, ".hidden.json", "{\"type\": \"fixture-good\"}");
	drop(e->admin, "backup.json~", "{\"type\": \"fixture-good\"}");
	drop(e->admin, "notes.txt", "not json at all");
	drop(e->admin, "x.json.bak", "not json at all");
	drop(e->admin, ".json", "not json at all");
	sub = tu_mkdir(e->admin, ".dir.json", 0755);
	drop(e->admin, "real.json", "{\"type\": \"fixture-good\"}");
	load_ok(e->main, &cfg);
	assert_int_equal(cfg.n_providers, 1);
	assert_string_equal(cfg.providers[0].name, "real");
	config_free(&cfg);
	free(sub);
}

/* NAME.json that is not a regular file (nor a mask) is refused, never
 * opened: a FIFO would hang the start, a device could hold anything. */
static void test_nonregular_dropin_refused(void **state)
{
	struct env *e = *state;
	char *sub = tu_mkdir(e->admin, "dir.json", 0755), *fifo = tu_path(e->admin, "fifo.json");

	load_fails(e->main, "file", sub, 0, 0);
	rmdir(sub);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	load_fails(e->main, "file", fifo, 0, 0);
	unlink(fifo);
	assert_int_equal(symlink("/dev/zero", fifo), 0);
	load_fails(e->main, "file", fifo, 0, 0);
	free(sub);
	free(fifo);
}

/* Load and expect CONFIG "permissions" naming `path`, with `words` in the
 * message. */
static void untrusted(const char *main, const char *path, const char *words)
{
	struct config cfg;
	sesame_error err;
	int rc;

	err_clear(&err);
	rc = config_load(&cfg, main, 0, &quiet, &err);
	if (rc != SESAME_CONFIG || strcmp(err.reason, "permissions") != 0 || !strstr(err.text, path) ||
	    !strstr(err.text, words))
		fail_msg("expected CONFIG/permissions naming %s with \"%s\", got %d/%s: %s", path, words, rc,
			 err.reason, err.text);
	assert_int_equal(cfg.n_providers, 0);
}

/* Another user could add a drop-in to a drop-in directory that group or
 * others can write (its program then ran as root), or change a drop-in
 * others can write. */
static void test_untrusted_dropins_refused(void **state)
{
	struct env *e = *state;
	char *p = tu_write(e->admin, "a.json", "{\"type\": \"fixture-good\"}", 0644);
	char *open_dir = tu_mkdir(e->dir, "open", 0755);
	char *target = tu_write(open_dir, "t.json", "{\"type\": \"x\"}", 0644);
	char *link = tu_path(e->admin, "b.json");
	struct config cfg;

	chmod(e->admin, 0777);
	untrusted(e->main, e->admin, "(mode 0777): chmod go-w it");
	chmod(e->admin, 0775);
	untrusted(e->main, e->admin, "(mode 0775)");
	/* Sticky like /tmp is no excuse for the drop-in directory itself. */
	chmod(e->admin, 01777);
	untrusted(e->main, e->admin, "(mode 1777)");
	chmod(e->admin, 0755);
	chmod(p, 0666);
	untrusted(e->main, p, "(mode 0666)");
	chmod(p, 0644);
	/* A link is as trusted as the directory its target is in. */
	chmod(open_dir, 0777);
	assert_int_equal(symlink(target, link), 0);
	untrusted(e->main, open_dir, "(mode 0777)");
	chmod(open_dir, 0755);
	load_ok(e->main, &cfg);
	assert_int_equal(cfg.n_providers, 2);
	config_free(&cfg);
	if (geteuid() == 0) {
		/* Owned by someone else: only root or sesame's user may own it. */
		assert_int_equal(chown(p, 65534, 65534), 0);
		untrusted(e->main, p, "owned by uid 65534");
		assert_int_equal(chown(p, 0, 0), 0);
		assert_int_equal(lchown(link, 65534, 65534), 0);
		untrusted(e->main, link, "owned by uid 65534");
	}
	free(p);
	free(open_dir);
	free(target);
	free(link);
}

/* A drop-in linked to a file that is not JSON (here one like /etc/shadow) is
 * refused without a byte of it in the message. */
static void test_symlinked_secret_never_quoted(void **state)
{
	static const char *const bodies[] = {
	    "root:$6$S3CR3TSALT$H4SHH4SH:19000:0:99999:7:::\n",
	    "{\"type\": \"fixture-good\", \"config\": {\"k\": \"S3CR3T",
	    "{\"type\": \"fixture-good\", \"config\": {\"k\": S3CR3T}}",
	    "{\"type\": \"fixture-good\", \"config\": {\"k\": \"@S3CR3T\"}}",
	    "{\"type\": \"fixture-good\", \"config\": {\"k\": \"\xff S3CR3T\"}}",
	};
	struct env *e = *state;
	char *link = tu_path(e->admin, "shadow.json");
	size_t i;

	assert_int_equal(symlink("/nonexistent", link), 0);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char *target = tu_write(e->dir, "shadow", bodies[i], 0640);
		struct config cfg;
		sesame_error err;

		unlink(link);
		assert_int_equal(symlink(target, link), 0);
		err_clear(&err);
		assert_int_equal(config_load(&cfg, e->main, 0, &quiet, &err), SESAME_CONFIG);
		assert_string_equal(err.source, link);
		if (strstr(err.text, "S3CR3T") || strstr(err.text, "root") || strstr(err.text, "$6$") ||
		    strstr(err.text, "H4SH"))
			fail_msg("case %zu: the error quotes the file: %s", i, err.text);
		free(target);
	}
	free(link);
}

/* The main file names the plugin and drop-in directories: trusted like them. */
static void test_untrusted_main_file(void **state)
{
	struct env *e = *state;
	struct config cfg;

	chmod(e->main, 0666);
	untrusted(e->main, e->main, "(mode 0666)");
	chmod(e->main, 0644);
	load_ok(e->main, &cfg);
	config_free(&cfg);
}

/* "@/path" secret files: trusted like the drop-ins naming them. */
static void test_untrusted_secret(void **state)
{
	struct env *e = *state;
	char *open_dir = tu_mkdir(e->dir, "open", 0755), *secret = tu_write(open_dir, "s", "value", 0600);
	char text[2048], *p;
	struct config cfg;

	/* A secret in a directory others can write is theirs to choose. */
	snprintf(text, sizeof(text), "{\"type\": \"fixture-good\", \"config\": {\"client_secret\": \"@%s\"}}",
		 secret);
	p = tu_write(e->admin, "s.json", text, 0644);
	chmod(open_dir, 0777);
	untrusted(e->main, open_dir, "(mode 0777)");
	chmod(open_dir, 0755);
	load_ok(e->main, &cfg);
	config_free(&cfg);
	if (geteuid() == 0) {
		assert_int_equal(chown(secret, 65534, 65534), 0);
		untrusted(e->main, secret, "owned by uid 65534");
		assert_int_equal(chown(secret, 0, 0), 0);
	}
	unlink(p);
	free(p);
	free(secret);
	free(open_dir);
}

/* The state directory holds the signing key and the database; when missing,
 * its nearest existing parent is checked. */
static void test_untrusted_state_dir(void **state)
{
	struct env *e = *state;
	char *open_dir = tu_mkdir(e->dir, "open", 0755), *sticky = tu_mkdir(e->dir, "sticky", 0755), text[2048], *m;
	struct config cfg;

	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"provider_dirs\": []}", open_dir);
	m = tu_write(e->dir, "m.json", text, 0644);
	chmod(open_dir, 0777);
	untrusted(m, open_dir, "(mode 0777)");
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s/not/yet\", \"provider_dirs\": []}", open_dir);
	free(m);
	m = tu_write(e->dir, "m.json", text, 0644);
	untrusted(m, open_dir, "(mode 0777)");
	chmod(open_dir, 0755);
	load_ok(m, &cfg);
	config_free(&cfg);
	/* A root-owned sticky directory above it is fine, as /tmp is. */
	if (geteuid() == 0) {
		chmod(sticky, 01777);
		snprintf(text, sizeof(text), "{\"state_dir\": \"%s/state\", \"provider_dirs\": []}", sticky);
		free(m);
		m = tu_write(e->dir, "m.json", text, 0644);
		load_ok(m, &cfg);
		config_free(&cfg);
		free(tu_mkdir(sticky, "state", 0700));
		load_ok(m, &cfg);
		config_free(&cfg);
	}
	/* Run by root, sesame(1) acts as the state directory's owner (the
	 * service user): it may be that user's, but never writable by others,
	 * and the directories above it stay root's. */
	if (geteuid() == 0) {
		char *owned = tu_mkdir(open_dir, "owned", 0700);

		assert_int_equal(chown(owned, 65534, 65534), 0);
		snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"provider_dirs\": []}", owned);
		free(m);
		m = tu_write(e->dir, "m.json", text, 0644);
		load_ok(m, &cfg);
		config_free(&cfg);
		chmod(owned, 0770);
		untrusted(m, owned, "(mode 0770)");
		chmod(owned, 0700);
		chmod(open_dir, 0777);
		untrusted(m, open_dir, "(mode 0777)");
		chmod(open_dir, 0755);
		free(owned);
	}
	free(m);
	free(sticky);
	free(open_dir);
}

/* "programs": {"user"}, resolved at start as root. */
static void test_programs_user(void **state)
{
	struct env *e = *state;
	struct config cfg;
	char *p;

	/* Bad shapes: tests/config/invalid/programs-*. */
	load_ok(e->main, &cfg);
	assert_string_equal(cfg.program_user, "nobody");
	assert_int_equal(cfg.program_switch, geteuid() == 0);
	config_free(&cfg);
	if (geteuid() != 0) {
		print_message("not root: programs.user is not resolved, root and unknown users not checked\n");
		skip();
	}
	assert_int_equal(cfg.program_uid, 0);
	load_ok(e->main, &cfg);
	assert_int_equal(cfg.program_uid, getpwnam("nobody")->pw_uid);
	config_free(&cfg);
	p = tu_write(e->dir, "m.json", "{\"programs\": {\"user\": \"root\"}}", 0644);
	load_fails(p, "user", p, 1, 15);
	free(p);
	p = tu_write(e->dir, "m.json", "{\"programs\": {\"user\": \"no-such-user-here\"}}", 0644);
	load_fails(p, "user", p, 1, 15);
	free(p);
}

static void test_symlink_to_regular_file_counts(void **state)
{
	struct env *e = *state;
	struct config cfg;
	char *target = tu_write(e->dir, "elsewhere.json", "{\"type\": \"fixture-good\"}", 0644);
	char *link = tu_path(e->admin, "linked.json");

	assert_int_equal(symlink(target, link), 0);
	load_ok(e->main, &cfg);
	assert_int_equal(cfg.n_providers, 1);
	assert_string_equal(cfg.providers[0].name, "linked");
	config_free(&cfg);
	free(target);
	free(link);
}

static void test_dangling_symlink_is_an_error(void **state)
{
	struct env *e = *state;
	char *link = tu_path(e->admin, "dangling.json");

	assert_int_equal(symlink("/nonexistent/target.json", link), 0);
	load_fails(e->main, "file", link, 0, 0);
	free(link);
}

static void test_secrets_from_files(void **state)
{
	struct env *e = *state;
	char *secret = tu_write(e->dir, "secret.txt", "s3cr3t-value\n", 0600);
	char text[1024];
	struct config cfg;
	const struct provider_conf *pc;
	json_t *shown;
	char *dump;

	snprintf(text, sizeof(text),
		 "{\"type\": \"fixture-good\", \"config\": {\"client_secret\": \"@%s\", \"inline_secret\": \"abc\","
		 " \"greeting\": \"@@home\", \"list\": [\"@%s\"]}}",
		 secret, secret);
	drop(e->admin, "s.json", text);
	load_ok(e->main, &cfg);
	pc = find(&cfg, "s");
	/* The provider gets the contents, without the trailing newline. */
	assert_string_equal(json_string_value(json_object_get(pc->config, "client_secret")), "s3cr3t-value");
	assert_string_equal(json_string_value(json_array_get(json_object_get(pc->config, "list"), 0)), "s3cr3t-value");
	assert_string_equal(json_string_value(json_object_get(pc->config, "greeting")), "@home");
	/* What is shown never holds the secret. */
	shown = config_to_json(&cfg, false);
	dump = json_dumps(shown, 0);
	assert_null(strstr(dump, "s3cr3t"));
	assert_null(strstr(dump, "\"abc\""));
	assert_non_null(strstr(dump, "********"));
	assert_non_null(strstr(dump, secret));
	assert_non_null(strstr(dump, "s.json"));
	free(dump);
	json_decref(shown);
	config_free(&cfg);
	free(secret);
}

/* The "store" object: a conninfo from a secret file for the store, shown
 * as its "@/path"; an inline one masked; no default "path" for another
 * store than the default; a key no built-in store knows refused. */
static void test_store_settings(void **state)
{
	struct env *e = *state;
	char *secret = tu_write(e->dir, "conninfo", "host=db password=pg-s3cr3t\n", 0600);
	char text[1024], *p, *dump;
	struct config cfg;
	sesame_error err;
	json_t *shown;

	snprintf(text, sizeof(text),
		 "{\"store\": {\"type\": \"postgres\", \"conninfo\": \"@%s\", \"pool_size\": 4}}", secret);
	p = tu_write(e->dir, "pg.json", text, 0644);
	load_ok(p, &cfg);
	assert_string_equal(json_string_value(json_object_get(cfg.store, "conninfo")), "host=db password=pg-s3cr3t");
	assert_null(json_object_get(cfg.store, "path"));
	shown = config_to_json(&cfg, false);
	assert_string_equal(json_string_value(json_object_get(json_object_get(shown, "store"), "conninfo")) + 1, secret);
	json_decref(shown);
	config_free(&cfg);
	free(p);

	p = tu_write(e->dir, "pg2.json",
		     "{\"store\": {\"type\": \"postgres\", \"conninfo\": \"host=db password=pg-s3cr3t\"}}", 0644);
	load_ok(p, &cfg);
	shown = config_to_json(&cfg, false);
	dump = json_dumps(shown, 0);
	assert_null(strstr(dump, "pg-s3cr3t"));
	free(dump);
	json_decref(shown);
	config_free(&cfg);
	free(p);

	/* The default store still gets its file under the state directory. */
	p = tu_write(e->dir, "sq.json", "{\"store\": {\"type\": \"sqlite\"}}", 0644);
	load_ok(p, &cfg);
	assert_non_null(strstr(json_string_value(json_object_get(cfg.store, "path")), "/sesame.db"));
	config_free(&cfg);
	free(p);

	p = tu_write(e->dir, "bad.json", "{\"store\": {\"type\": \"postgres\", \"conn_info\": \"x\"}}", 0644);
	assert_int_equal(config_load(&cfg, p, 0, &quiet, &err), SESAME_CONFIG);
	assert_non_null(strstr(err.text, "conn_info"));
	free(p);
	chmod(secret, 0644);
	p = tu_write(e->dir, "pg3.json", text, 0644);
	assert_int_equal(config_load(&cfg, p, 0, &quiet, &err), SESAME_CONFIG);
	assert_non_null(strstr(err.text, secret));
	assert_null(strstr(err.text, "pg-s3cr3t"));
	free(p);
	free(secret);
}

static void test_readable_secret_refused(void **state)
{
	struct env *e = *state;
	char *secret = tu_write(e->dir, "open-secret.txt", "value", 0644);
	char text[1024], *p;

	snprintf(text, sizeof(text), "{\"type\": \"fixture-good\",\n \"config\": {\"client_secret\": \"@%s\"}}",
		 secret);
	p = tu_write(e->admin, "s.json", text, 0644);
	load_fails(e->main, "permissions", p, 2, 13);
	chmod(secret, 0640);
	load_fails(e->main, "permissions", p, 2, 13);
	chmod(secret, 0600);
	{
		struct config cfg;

		load_ok(e->main, &cfg);
		config_free(&cfg);
	}
	free(p);
	p = tu_write(e->admin, "s.json", "{\"type\": \"fixture-good\", \"config\": {\"k\": \"@relative/file\"}}", 0644);
	load_fails(e->main, "path", p, 1, 37);
	free(p);
	p = tu_write(e->admin, "s.json", "{\"type\": \"fixture-good\", \"config\": {\"k\": \"@/no/such/file\"}}", 0644);
	load_fails(e->main, "file", p, 1, 37);
	free(p);
	free(secret);
}

static void test_admin_key(void **state)
{
	struct env *e = *state;
	char *p = tu_write(e->dir, "m.json", "{\"admin_key\": \"short\"}", 0644);
	struct config cfg;
	json_t *shown;

	load_fails(p, "weak", p, 1, 2);
	free(p);
	p = tu_write(e->dir, "m.json", "{\"admin_key\": \"0123456789abcdef0123\"}", 0644);
	load_ok(p, &cfg);
	assert_string_equal(cfg.admin_key, "0123456789abcdef0123");
	shown = config_to_json(&cfg, false);
	assert_string_equal(json_string_value(json_object_get(shown, "admin_key")), "********");
	json_decref(shown);
	config_free(&cfg);
	free(p);
}

static void test_dropin_dir_not_a_directory(void **state)
{
	struct env *e = *state;
	char text[1024], *file = tu_write(e->dir, "plain-file", "x", 0644), *p;

	/* A missing drop-in directory is normal (packages create them); a
	 * path that is not a directory is a mistake worth stopping for. */
	snprintf(text, sizeof(text), "{\"provider_dirs\": [\"%s/missing\", \"%s\"]}", e->dir, file);
	p = tu_write(e->dir, "m.json", text, 0644);
	load_fails(p, "file", file, 0, 0);
	free(p);
	free(file);
}

static void test_locate_positions_nested(void **state)
{
	struct env *e = *state;
	char *p = tu_write(e->dir, "m.json",
			   "{\"provider_dirs\": [\"/a\",\n                  \"rel\"],\n \"state_dir\": \"/s\"}", 0644);

	load_fails(p, "path", p, 2, 19);
	free(p);
	p = tu_write(e->dir, "m.json", "{\"cors_origins\": [\"https://a\", 3]}", 0644);
	load_fails(p, "type", p, 1, 32);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults_without_main_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_main_file_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password_hashing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dropins_merge_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runtime_overrides_vendor_admin_overrides_runtime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skipped_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nonregular_dropin_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_dropins_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlinked_secret_never_quoted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_main_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_state_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_programs_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_to_regular_file_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dangling_symlink_is_an_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secrets_from_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_secret_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dropin_dir_not_a_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locate_positions_nested, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
