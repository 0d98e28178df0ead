/* SPDX-License-Identifier: MIT */
/*
 * core/context.c — what the rest of the core asks of a configured context:
 * its clock, its store, its provider instances, and the verification step
 * of a login.  Creating, configuring and freeing a context is
 * core/setup.c's, which depends on this file and never the other way.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rules.h"

#define MAX_UID_LENGTH 255
#define MAX_IDENTITY_DATA (64 * 1024)

int64_t ctx_now(const struct sesame_ctx *ctx)
{
	return (int64_t)time(NULL) + atomic_load(&ctx->clock_offset);
}

/* The names of the capability flags in sesame_providers_json(). */
static const struct {
	unsigned flag;
	const char *name;
} cap_names[] = {
    {SESAME_PROVIDER_CAP_ANONYMOUS, "anonymous"},	{SESAME_PROVIDER_CAP_NO_LINK, "no-link"},
    {SESAME_PROVIDER_CAP_ONE_PER_USER, "one-per-user"}, {SESAME_PROVIDER_CAP_EMAIL_PASSWORD, "email-password"},
    {SESAME_PROVIDER_CAP_API_KEYS, "api-keys"},		{SESAME_PROVIDER_CAP_WEB_REDIRECT, "web-redirect"},
};

/* "anonymous,no-link" for messages; unknown bits as one hex number. */
static const char *caps_text(unsigned caps, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(cap_names) && used < size; i++)
		if (caps & cap_names[i].flag)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "", cap_names[i].name);
	if ((caps & ~(unsigned)SESAME_PROVIDER_CAP_ALL) && used < size)
		snprintf(buf + used, size - used, "%s0x%x", used ? "," : "", caps & ~(unsigned)SESAME_PROVIDER_CAP_ALL);
	return buf;
}

json_t *ctx_caps_json(unsigned caps)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list && i < ARRAY_SIZE(cap_names); i++)
		if ((caps & cap_names[i].flag) && json_array_append_new(list, json_string(cap_names[i].name)) != 0) {
			json_decref(list);
			return NULL;
		}
	return list;
}

int ctx_store(sesame_ctx *ctx, struct store **st, sesame_error *err)
{
	sesame_error e;
	int rc = SESAME_OK;

	*st = NULL;
	if (!ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "the context is not configured");
	pthread_mutex_lock(&ctx->store_lock);
	if (!ctx->store_open) {
		err_clear(&e);
		rc = store_open(&ctx->store, ctx->cfg.store_dir, ctx->cfg.store, &ctx->log, &e);
		if (rc == SESAME_OK)
			ctx->store_open = true;
		else
			log_msg(&ctx->log, SESAME_LOG_ERR, "the store is unavailable: %s", e.text);
	}
	pthread_mutex_unlock(&ctx->store_lock);
	if (rc != SESAME_OK) {
		if (err)
			*err = e;
		return rc;
	}
	*st = &ctx->store;
	return SESAME_OK;
}

static int instance_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct sesame_instance *)elem)->conf->name);
}

struct sesame_instance *ctx_instance(sesame_ctx *ctx, const char *name)
{
	if (!name)
		return NULL;
	return bsearch(name, ctx->instances, ctx->n_instances, sizeof(*ctx->instances), instance_cmp);
}

unsigned ctx_instance_caps(sesame_ctx *ctx, const char *name)
{
	const struct sesame_instance *in = ctx_instance(ctx, name);

	return in ? in->caps : 0;
}

SESAME_API int sesame_provider_capabilities(sesame_ctx *ctx, const char *provider, unsigned *caps, sesame_error *err)
{
	const struct sesame_instance *in;

	err_clear(err);
	if (!ctx || !ctx->configured || !provider || !caps)
		return seterr(err, SESAME_USAGE, "usage", "sesame_provider_capabilities: bad arguments");
	*caps = 0;
	in = ctx_instance(ctx, provider);
	if (!in || in->st == INSTANCE_DISABLED)
		return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider named \"%.128s\"", provider);
	*caps = in->caps;
	return SESAME_OK;
}

SESAME_API int sesame_provider_find(sesame_ctx *ctx, unsigned caps, const char **provider, sesame_error *err)
{
	char names[128];
	size_t i;

	err_clear(err);
	if (provider)
		*provider = NULL;
	if (!ctx || !ctx->configured || !provider || caps == 0)
		return seterr(err, SESAME_USAGE, "usage", "sesame_provider_find: bad arguments");
	/* ctx->instances is sorted by name: the first match is the first by name. */
	for (i = 0; i < ctx->n_instances; i++) {
		const struct sesame_instance *in = &ctx->instances[i];

		if (in->st != INSTANCE_DISABLED && (in->caps & caps) == caps) {
			*provider = in->conf->name;
			return SESAME_OK;
		}
	}
	return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider has the capabilities %s",
		      caps_text(caps, names, sizeof(names)));
}

/* The core does not trust what a plugin returns: re-check its shape, once
 * (the typed identity that comes out is not checked again). */
static int check_identity(const struct sesame_instance *in, json_t *id, sesame_error *err)
{
	json_t *uid = json_object_get(id, "id"), *data = json_object_get(id, "data");
	json_t *priv = json_object_get(id, "private");
	const char *key;
	json_t *v;

	if (!json_is_object(id))
		return seterr(err, SESAME_INTERNAL, "identity",
			      "provider %s returned an identity that is not an object", in->conf->name);
	json_object_foreach (id, key, v) {
		if (strcmp(key, "id") != 0 && strcmp(key, "data") != 0 && strcmp(key, "private") != 0)
			return seterr(err, SESAME_INTERNAL, "identity",
				      "provider %s returned an identity with an unknown member \"%s\"", in->conf->name,
				      key);
	}
	if (!json_is_string(uid) || json_string_length(uid) == 0 || json_string_length(uid) > MAX_UID_LENGTH ||
	    strlen(json_string_value(uid)) != json_string_length(uid))
		return seterr(err, SESAME_INTERNAL, "identity",
			      "provider %s returned an identity id that is not a string of 1 to %d bytes without NUL",
			      in->conf->name, MAX_UID_LENGTH);
	if ((data && !json_is_object(data)) || (priv && !json_is_object(priv)))
		return seterr(err, SESAME_INTERNAL, "identity",
			      "provider %s returned identity data or private data that is not an object",
			      in->conf->name);
	return SESAME_OK;
}

/* Bytes of `v` as compact JSON (measured by jansson without building the
 * text), SIZE_MAX when it cannot be encoded. */
static size_t json_size(const json_t *v)
{
	return util_json_length(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The provider's default metadata (ABI 1.2), or NULL: keep everything. */
static const char *const *metadata_defaults(const struct sesame_instance *in)
{
	if (!SESAME_HAS_FIELD(struct sesame_provider, metadata_defaults, in->desc->struct_size))
		return NULL;
	return in->desc->metadata_defaults;
}

int ctx_identity_metadata(const struct sesame_instance *in, const json_t *data, json_t **kept, sesame_error *err)
{
	int rc =
	    metadata_keep(in->conf->metadata, metadata_defaults(in), data, &in->ctx->log, in->conf->name, kept, err);

	/* What is kept is stored: bounded, whatever a credential carried. */
	if (rc == SESAME_OK && json_size(*kept) > MAX_IDENTITY_DATA) {
		json_decref(*kept);
		*kept = NULL;
		rc = seterr(err, SESAME_REJECTED, "claim", "the profile data of this login is larger than %d bytes",
			    MAX_IDENTITY_DATA);
	}
	return rc;
}

void identity_clear(struct identity *id)
{
	json_decref(id->data);
	json_decref(id->priv);
	json_decref(id->hold);
	memset(id, 0, sizeof(*id));
}

int ctx_verify(sesame_ctx *ctx, const char *provider, const json_t *credential, struct identity *out, sesame_error *err)
{
	struct sesame_instance *in;
	json_t *id = NULL, *data = NULL, *priv;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ctx || !ctx->configured || !provider || !credential)
		return seterr(err, SESAME_USAGE, "usage", "sesame_verify_credential: bad arguments");
	in = ctx_instance(ctx, provider);
	if (!in || in->st == INSTANCE_DISABLED)
		return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider named \"%s\"", provider);
	err_set_source(err, provider);
	if (in->st == INSTANCE_FAILED)
		return seterr(err, SESAME_UNAVAILABLE, "provider", "provider \"%s\" is unavailable: %s", provider,
			      in->cause);
	if (!json_is_object(credential))
		return seterr(err, SESAME_MALFORMED, "credential", "the credential must be a JSON object");

	rc = in->desc->verify(in->state, credential, &id, err);
	if (rc == SESAME_OK)
		rc = id ? check_identity(in, id, err)
			: seterr(err, SESAME_INTERNAL, "identity", "provider %s returned no identity", provider);
	else if (rc < SESAME_REJECTED || rc > SESAME_INTERNAL)
		rc =
		    seterr(err, SESAME_INTERNAL, "provider", "provider %s returned an invalid status %d", provider, rc);
	else if (err && err->text[0] == '\0')
		seterr(err, rc, NULL, "provider %s: %s", provider, sesame_status_name(rc));
	/* Decided here, once per login: which profile fields are kept. */
	if (rc == SESAME_OK)
		rc = ctx_identity_metadata(in, json_object_get(id, "data"), &data, err);
	priv = json_object_get(id, "private");
	if (rc == SESAME_OK && priv && json_size(priv) > MAX_IDENTITY_DATA)
		rc = seterr(err, SESAME_INTERNAL, "identity", "provider %s returned private data larger than %d bytes",
			    provider, MAX_IDENTITY_DATA);
	/* A reference of our own either way: the provider's, or an empty object. */
	priv = priv ? json_incref(priv) : rc == SESAME_OK ? json_object() : NULL;
	if (rc == SESAME_OK && !priv)
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (err && rc != SESAME_OK)
		err->status = rc;
	if (rc != SESAME_OK) {
		json_decref(priv);
		json_decref(data);
		json_decref(id);
		return rc;
	}
	out->provider = in->conf->name;
	out->type = in->conf->type;
	out->uid = json_string_value(json_object_get(id, "id"));
	out->data = data;
	out->priv = priv;
	out->hold = id;
	return SESAME_OK;
}

SESAME_API int sesame_verify_credential(sesame_ctx *ctx, const char *provider, const json_t *credential,
					json_t **identity, sesame_error *err)
{
	struct identity id;
	json_t *out;
	int rc;

	err_clear(err);
	if (identity)
		*identity = NULL;
	if (!identity)
		return seterr(err, SESAME_USAGE, "usage", "sesame_verify_credential: bad arguments");
	rc = ctx_verify(ctx, provider, credential, &id, err);
	if (rc != SESAME_OK)
		return rc;
	out = json_pack("{s:s, s:s, s:s, s:O, s:O}", "provider", id.provider, "provider_type", id.type, "id", id.uid,
			"data", id.data, "private", id.priv);
	identity_clear(&id);
	if (!out)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	*identity = out;
	return SESAME_OK;
}

int ctx_user_deleted(void *data, const json_t *identity, sesame_error *err)
{
	sesame_ctx *ctx = data;
	const char *name = json_string_value(json_object_get(identity, "provider"));
	struct sesame_instance *in = ctx_instance(ctx, name);
	int rc;

	if (!in || in->st != INSTANCE_READY)
		return SESAME_OK; /* no provider to tell: the identity was all there was */
	if (!SESAME_HAS_FIELD(struct sesame_provider, user_deleted, in->desc->struct_size) || !in->desc->user_deleted)
		return SESAME_OK;
	rc = in->desc->user_deleted(in->state, identity, err);
	if (rc != SESAME_OK)
		log_msg(&ctx->log, SESAME_LOG_WARNING, "provider %s: user_deleted hook failed: %s", name,
			err && err->text[0] ? err->text : sesame_status_name(rc));
	return rc;
}
