/*
 * core/host.c — the host services table handed to provider plugins: thin
 * adapters from the stable ABI to the core's own functions.
 */
#include "config.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "internal.h"
#include "jose.h"

static void host_log(sesame_instance *self, int level, const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(&self->ctx->log, level, "provider %s: %s", self->conf->name, msg);
}

static int host_error(sesame_error *err, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, status, reason, fmt, ap);
	va_end(ap);
	return status;
}

static const char *host_instance_name(const sesame_instance *self)
{
	return self->conf->name;
}

static int host_test_mode(const sesame_instance *self)
{
	return self->ctx->cfg.test_mode;
}

static int64_t host_now(const sesame_instance *self)
{
	return ctx_now(self->ctx);
}

static int host_random(void *buf, size_t len)
{
	return util_random(buf, len);
}

static const char *host_app_id(const sesame_instance *self)
{
	return self->ctx->cfg.app_id;
}

static int host_http(sesame_instance *self, const struct sesame_http_request *request,
		     struct sesame_http_response *response, sesame_error *err)
{
	if (!request || !response || !request->url)
		return seterr(err, SESAME_USAGE, "usage", "http: NULL request, response or URL");
	return http_perform(self->ctx->cfg.test_mode, request, response, NULL, err);
}

static int host_keys_from_config(sesame_instance *self, const json_t *keys, sesame_keys **out, sesame_error *err)
{
	return keys_from_config(keys, out, err);
}

static int host_keys_from_jwks_uri(sesame_instance *self, const char *uri, const char *const *algorithms,
				   sesame_keys **out, sesame_error *err)
{
	struct jwks_options opt = {
		.url = uri,
		.test_mode = self->ctx->cfg.test_mode,
		.log = &self->ctx->log,
		.name = self->conf->name,
		.algorithms = algorithms,
	};

	return keys_from_jwks_uri(&opt, out, err);
}

static int host_jwt_verify(sesame_instance *self, sesame_keys *keys, const char *token,
			   const struct sesame_jwt_rules *rules, json_t **claims, sesame_error *err)
{
	if (!claims)
		return seterr(err, SESAME_USAGE, "usage", "jwt_verify: NULL claims");
	*claims = NULL;
	/* Every field of the rules is ABI 1.0; fields appended later must be
	 * read only when struct_size covers them. */
	if (rules && !SESAME_HAS_FIELD(struct sesame_jwt_rules, max_length, rules->struct_size))
		return seterr(err, SESAME_USAGE, "usage", "jwt_verify: rules.struct_size is too small");
	return keys_verify(keys, token, rules, ctx_now(self->ctx), claims, err);
}

static int host_jwt_sign(sesame_instance *self, sesame_keys *keys, const char *kid, const json_t *extra_header,
			 const json_t *claims, char **token, sesame_error *err)
{
	if (!token)
		return seterr(err, SESAME_USAGE, "usage", "jwt_sign: NULL token");
	return keys_sign(keys, kid, extra_header, claims, token, err);
}

static int host_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	if (!out || (!data && len))
		return SESAME_USAGE;
	return EVP_Digest(data ? data : "", len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? SESAME_OK
											      : SESAME_INTERNAL;
}

static int host_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx = NULL;
	size_t n = 0;
	int ok = 0;

	if (!out || (!key && key_len) || (!data && len))
		return SESAME_USAGE;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac)
		mctx = EVP_MAC_CTX_new(mac);
	/* A zero-length key is legal HMAC, but OpenSSL wants a pointer. */
	ok = mctx && EVP_MAC_init(mctx, key_len ? key : (const void *)"", key_len, params) == 1 &&
	     EVP_MAC_update(mctx, data ? data : (const void *)"", len) == 1 && EVP_MAC_final(mctx, out, &n, 32) == 1 &&
	     n == 32;
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return ok ? SESAME_OK : SESAME_INTERNAL;
}

const struct sesame_host host_services = {
	.abi_version = SESAME_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(struct sesame_host),
	.log = host_log,
	.error = host_error,
	.instance_name = host_instance_name,
	.test_mode = host_test_mode,
	.now = host_now,
	.random = host_random,
	.ct_equal = util_ct_equal,
	.wipe = util_wipe,
	.free = free,
	.http = host_http,
	.http_response_clear = http_response_clear,
	.keys_from_config = host_keys_from_config,
	.keys_from_jwks_uri = host_keys_from_jwks_uri,
	.keys_free = keys_free,
	.jwt_verify = host_jwt_verify,
	.jwt_sign = host_jwt_sign,
	.app_id = host_app_id,
	.sha256 = host_sha256,
	.hmac_sha256 = host_hmac_sha256,
};
