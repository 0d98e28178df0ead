/*
 * core/host.c — the host services table handed to provider plugins: thin
 * adapters from the stable ABI to the core's own functions.
 */
#include "config.h"

#include <stdlib.h>

#include "internal.h"

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
};
