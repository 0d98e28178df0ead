/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz-jwks.c — libFuzzer target: JWKS documents as a fetched JWKS
 * endpoint could serve them, parsed into key sets; every key kept must be
 * usable.  The first byte chooses whether oct keys are admitted.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jose_keyset *set = NULL;
	sesame_error err;
	size_t i;

	if (size == 0)
		return 0;
	if (jwks_parse((const char *)data + 1, size - 1, data[0] & 1, NULL, NULL, "fuzz", &set, &err) != SESAME_OK)
		return 0;
	for (i = 0; i < set->n; i++) {
		const struct jose_key *k = &set->keys[i];

		/* A key that was kept has its algorithm and its material. */
		if (k->alg == JOSE_ALG_UNKNOWN || (!k->pkey && !k->secret) || k->sig_len == 0)
			abort();
	}
	keyset_unref(set);
	return 0;
}
