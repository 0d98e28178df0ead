/* SPDX-License-Identifier: MIT */
/*
 * core/metadata.c — which profile fields of a verified identity the core
 * keeps, the one implementation of a drop-in's "metadata_fields" for every
 * provider.
 *
 * A provider returns every profile field it knows in its identity's "data".
 * The core keeps the fields the drop-in configures, by App Services' rules
 * for custom JWT metadata: "name" is a dot path into that data ("\." is a
 * literal dot, "\\" a literal backslash), "field_name" the name the value
 * gets (default: the last path segment), "required" refuses the login when
 * the value is missing or too long.  Without "metadata_fields" the core
 * keeps the provider's default set (struct sesame_provider's
 * metadata_defaults, ABI 1.2), or everything when the provider declares
 * none (plugins built before ABI 1.2).  Either way a value longer than
 * METADATA_MAX_CHARS characters is not kept, the standard profile fields
 * the SDKs read as strings are made strings, and a picture is published as
 * both "picture" and "picture_url" (realm-web reads the one, realm-core the
 * other).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The profile fields realm-core reads as strings (a number there breaks it). */
static const char *const string_fields[] = {"name",   "email",	  "picture", "picture_url", "first_name", "last_name",
					    "gender", "birthday", "min_age", "max_age",	    NULL};

void metadata_field_clear(struct metadata_field *f)
{
	size_t i;

	for (i = 0; f->path && i < f->depth; i++)
		free(f->path[i]);
	free(f->path);
	free(f->name);
	free(f->shown);
	memset(f, 0, sizeof(*f));
}

void metadata_spec_free(struct metadata_spec *spec)
{
	size_t i;

	if (!spec)
		return;
	for (i = 0; i < spec->n; i++)
		metadata_field_clear(&spec->fields[i]);
	free(spec->fields);
	free(spec);
}

/* Split a dot path into f->path; -1 for an empty segment or too many. */
static int split_path(const char *s, struct metadata_field *f)
{
	size_t len = strlen(s), i, n = 0;
	char *seg = malloc(len + 1);

	f->path = calloc(METADATA_MAX_DEPTH, sizeof(*f->path));
	if (!seg || !f->path) {
		free(seg);
		return -2;
	}
	for (i = 0; i <= len; i++) {
		if (s[i] == '\\' && (s[i + 1] == '.' || s[i + 1] == '\\')) {
			seg[n++] = s[++i];
		} else if (s[i] == '.' || s[i] == '\0') {
			if (n == 0 || f->depth == METADATA_MAX_DEPTH) {
				free(seg);
				return -1;
			}
			f->path[f->depth] = strndup(seg, n);
			if (!f->path[f->depth]) {
				free(seg);
				return -2;
			}
			f->depth++;
			n = 0;
		} else {
			seg[n++] = s[i];
		}
	}
	free(seg);
	return 0;
}

int metadata_field_init(struct metadata_field *f, const char *name, const char *field_name, bool required,
			sesame_error *err)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->required = required;
	f->shown = strdup(name);
	rc = f->shown ? split_path(name, f) : -2;
	if (rc == 0)
		f->name = strdup(field_name ? field_name : f->path[f->depth - 1]);
	if (rc == 0 && f->name)
		return SESAME_OK;
	metadata_field_clear(f);
	if (rc == -1)
		return seterr(err, SESAME_CONFIG, "path",
			      "\"%s\" is not a dot path of 1 to %d non-empty names (\"\\.\" is a literal dot)", name,
			      METADATA_MAX_DEPTH);
	return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
}

/* The value at the field's path in `data`, or NULL. */
static const json_t *lookup(const json_t *data, const struct metadata_field *f)
{
	const json_t *v = data;
	size_t i;

	for (i = 0; v && i < f->depth; i++)
		v = json_is_object(v) ? json_object_get(v, f->path[i]) : NULL;
	return v;
}

/* Characters (UTF-8 code points) of a value: a string's own, or its JSON text's. */
static size_t value_chars(const json_t *v)
{
	char *dump = NULL;
	const char *s;
	size_t n = 0, len, i;

	if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
	} else {
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump)
			return SIZE_MAX;
		s = dump;
		len = strlen(dump);
	}
	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	util_json_text_free(dump);
	return n;
}

/*
 * Keep `v` as `name` in `kept` unless it is missing or too long: then a
 * required field refuses the login (nothing is written: the identity never
 * reaches the store) and an optional one is left out.
 */
static int keep(json_t *kept, const char *name, const char *shown, const json_t *v, bool required,
		const struct logger *lg, const char *provider, sesame_error *err)
{
	if (!v || json_is_null(v)) {
		if (required)
			return seterr(err, SESAME_REJECTED, "claim",
				      "the credential lacks the required metadata field \"%s\"", shown);
		return SESAME_OK;
	}
	if (value_chars(v) > METADATA_MAX_CHARS) {
		if (required)
			return seterr(err, SESAME_REJECTED, "claim",
				      "metadata field \"%s\" is longer than %d characters", shown, METADATA_MAX_CHARS);
		log_msg(lg, SESAME_LOG_WARNING,
			"provider %s: metadata field \"%s\" is longer than %d characters: not kept", provider, shown,
			METADATA_MAX_CHARS);
		return SESAME_OK;
	}
	if (json_object_set_new(kept, name, json_deep_copy(v)) != 0)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

/* The standard fields as strings, and the picture under both its names. */
static int normalise(json_t *kept, sesame_error *err)
{
	json_t *pic, *pic_url;
	size_t i;

	for (i = 0; string_fields[i]; i++) {
		json_t *v = json_object_get(kept, string_fields[i]);
		char *text;

		if (!v || json_is_string(v))
			continue;
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text || json_object_set_new(kept, string_fields[i], json_string(text)) != 0) {
			util_json_text_free(text);
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		}
		util_json_text_free(text);
	}
	pic = json_object_get(kept, "picture");
	pic_url = json_object_get(kept, "picture_url");
	if ((pic && !pic_url && json_object_set(kept, "picture_url", pic) != 0) ||
	    (pic_url && !pic && json_object_set(kept, "picture", pic_url) != 0))
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

int metadata_keep(const struct metadata_spec *spec, const char *const *defaults, const json_t *data,
		  const struct logger *lg, const char *provider, json_t **kept, sesame_error *err)
{
	json_t *out = json_object(), *v;
	const char *key;
	size_t i;
	int rc = out ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");

	*kept = NULL;
	if (data && !json_is_object(data))
		data = NULL;
	if (spec) {
		for (i = 0; rc == SESAME_OK && i < spec->n; i++) {
			const struct metadata_field *f = &spec->fields[i];

			rc = keep(out, f->name, f->shown, lookup(data, f), f->required, lg, provider, err);
		}
	} else if (defaults) {
		for (i = 0; rc == SESAME_OK && defaults[i]; i++)
			rc = keep(out, defaults[i], defaults[i], json_object_get(data, defaults[i]), false, lg,
				  provider, err);
	} else if (data) {
		json_object_foreach ((json_t *)data, key, v) {
			rc = keep(out, key, key, v, false, lg, provider, err);
			if (rc != SESAME_OK)
				break;
		}
	}
	if (rc == SESAME_OK)
		rc = normalise(out, err);
	if (rc != SESAME_OK) {
		json_decref(out);
		return rc;
	}
	*kept = out;
	return SESAME_OK;
}
