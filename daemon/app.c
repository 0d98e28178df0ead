/* SPDX-License-Identifier: MIT */
/*
 * daemon/app.c — configuration snapshots: a configured libsesame context
 * plus the settings sesamed read from it, reference-counted, and the slot
 * that holds the current one.  SIGHUP builds a whole new snapshot and
 * swaps it in; requests keep the snapshot they started with until they
 * complete, so nothing is freed under them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "daemon.h"

/* The merged configuration with the admin key in clear, which sesamed
 * needs to compare against; the copy is wiped right after use. */
static void config_release(json_t *config)
{
	json_t *admin = json_object_get(config, "admin_key");

	/* The admin key string is this object's own copy (not shared with the
	 * context): wipe it before jansson frees it. */
	if (json_is_string(admin))
		OPENSSL_cleanse((char *)json_string_value(admin), json_string_length(admin));
	json_decref(config);
}

int app_load(const char *config_path, const char *listen, int verbose, struct app **out, sesame_error *err)
{
	struct app *a = calloc(1, sizeof(*a));
	json_t *config;
	int rc;

	*out = NULL;
	if (!a || !(a->ctx = sesame_new())) {
		free(a);
		return derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	}
	sesame_set_logger(a->ctx, NULL, NULL, verbose ? SESAME_LOG_DEBUG : SESAME_LOG_NOTICE);
	rc = sesame_configure(a->ctx, config_path, 0, err);
	if (rc == SESAME_OK) {
		config = sesame_config_json(a->ctx, SESAME_CONFIG_SHOW_SECRETS);
		rc =
		    config ? settings_load(&a->set, config, err) : derr(err, SESAME_INTERNAL, "nomem", "out of memory");
		config_release(config);
	}
	if (rc == SESAME_OK && listen) {
		free(a->set.listen);
		a->set.listen = strdup(listen);
		if (!a->set.listen)
			rc = derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	}
	if (rc == SESAME_OK) {
		struct sockaddr_storage ss;
		socklen_t sslen;

		/* A bad address is a configuration error, found before the
		 * server starts (or before a reload is accepted). */
		rc = listen_parse(a->set.listen, &ss, &sslen, err);
	}
	if (rc != SESAME_OK) {
		settings_free(&a->set);
		sesame_free(a->ctx);
		free(a);
		return rc;
	}
	atomic_init(&a->refs, 1);
	*out = a;
	return SESAME_OK;
}

void report_start_error(const char *prefix, const sesame_error *err)
{
	char known[1024];

	fprintf(stderr, "sesamed: %s%s\n", prefix, err->text);
	if (strcmp(err->reason, "unknown-key") == 0) {
		settings_known_keys(known, sizeof(known));
		fprintf(stderr, "sesamed: the keys of \"daemon\" are: %s\n", known);
	}
}

struct app *app_ref(struct app *a)
{
	atomic_fetch_add(&a->refs, 1);
	return a;
}

void app_unref(struct app *a)
{
	if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	settings_free(&a->set);
	sesame_free(a->ctx);
	free(a);
}

void slot_init(struct app_slot *slot, struct app *a)
{
	pthread_mutex_init(&slot->lock, NULL);
	slot->current = a;
}

/* The reference is taken under the lock: between reading the pointer and
 * counting the reference, a reload must not drop the last one. */
struct app *slot_acquire(struct app_slot *slot)
{
	struct app *a;

	pthread_mutex_lock(&slot->lock);
	a = app_ref(slot->current);
	pthread_mutex_unlock(&slot->lock);
	return a;
}

void slot_replace(struct app_slot *slot, struct app *a)
{
	struct app *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->current;
	slot->current = a;
	pthread_mutex_unlock(&slot->lock);
	app_unref(old);
}

void slot_destroy(struct app_slot *slot)
{
	app_unref(slot->current);
	slot->current = NULL;
	pthread_mutex_destroy(&slot->lock);
}
