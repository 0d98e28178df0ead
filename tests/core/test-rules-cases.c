/* SPDX-License-Identifier: MIT */
/*
 * tests/core/test-rules-cases.c — the data-driven rules suite: every folder
 * of tests/rules/ is one test, made of
 *
 *   rules.json     a rule file (loaded as the namespace of request.json,
 *                  "app.items" by default, or as default.json)
 *   user.json      the %%user object as the store holds it, or
 *                  {"system": true} for the system user
 *   request.json   {"action", "document", "prev"} for a decision,
 *                  {"filter": "read"|"write"} for a query filter;
 *                  optional "namespace" (a rule file's name: "default" or
 *                  "DATABASE.COLLECTION")
 *   expected.json  the decision, or {"filter": F}, or {"error": {"status",
 *                  "reason", "line", "column", "text"}} (each member
 *                  optional; "text" is a substring of the message)
 *
 * Every decision on read or write is also checked against the query
 * filter of the same rules and user: sesame_rules_match() of the filter
 * on the document (for a write, on prev, with prev written unchanged)
 * must say what the decision says.  Adding a case is adding a folder.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"
#include "testutil.h"

struct rules_case {
	char *dir;
	char *name;
};

static json_t *load_json(const char *dir, const char *name, bool required)
{
	char *path = tu_path(dir, name);
	json_error_t jerr;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!v && required)
		fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
	free(path);
	return v;
}

static const char *status_word(int status)
{
	static const char *const words[] = {"ok",     "rejected",  "malformed", "unavailable", "internal",
					    "config", "not found", "conflict",	"usage"};

	return status >= 0 && status < (int)(sizeof(words) / sizeof(words[0])) ? words[status] : "?";
}

/* An error outcome against expected.json's {"error": {...}}. */
static void check_error(const char *name, int rc, const sesame_error *err, const json_t *want)
{
	const json_t *v;

	if (rc == SESAME_OK)
		fail_msg("%s: expected an error, got success", name);
	if ((v = json_object_get(want, "status")) && strcmp(json_string_value(v), status_word(rc)) != 0)
		fail_msg("%s: status %s, expected %s (%s)", name, status_word(rc), json_string_value(v), err->text);
	if ((v = json_object_get(want, "reason")) && strcmp(json_string_value(v), err->reason) != 0)
		fail_msg("%s: reason \"%s\", expected \"%s\" (%s)", name, err->reason, json_string_value(v), err->text);
	if ((v = json_object_get(want, "line")) && json_integer_value(v) != err->line)
		fail_msg("%s: line %d, expected %d (%s)", name, err->line, (int)json_integer_value(v), err->text);
	if ((v = json_object_get(want, "column")) && json_integer_value(v) != err->column)
		fail_msg("%s: column %d, expected %d (%s)", name, err->column, (int)json_integer_value(v), err->text);
	if ((v = json_object_get(want, "text")) && !strstr(err->text, json_string_value(v)))
		fail_msg("%s: message \"%s\" does not say \"%s\"", name, err->text, json_string_value(v));
}

static void check_equal(const char *name, const char *what, const json_t *got, const json_t *want)
{
	if (!json_equal((json_t *)got, (json_t *)want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS),
		     *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);

		fail_msg("%s: %s\n  got      %s\n  expected %s", name, what, g, w);
	}
}

/* The filter of the same rules must select what the decision allows. */
static void check_consistency(const char *name, const struct ruleset *rs, const json_t *user, const char *action,
			      const json_t *doc, const json_t *prev)
{
	json_t *filter = NULL, *decision = NULL;
	sesame_error err;
	int match = -1, rc;

	if (strcmp(action, "read") != 0 && strcmp(action, "write") != 0)
		return;
	rc = rules_filter_request(rs, user, action, &filter, &err);
	if (rc == SESAME_REJECTED && strcmp(err.reason, "filter") == 0)
		return; /* a role the filter cannot express: the case says so itself */
	if (rc != SESAME_OK)
		fail_msg("%s: filter: %s", name, err.text);
	/* A write is judged on the stored document, written unchanged. */
	if (strcmp(action, "write") == 0)
		doc = prev;
	rc = rules_request(rs, user, action, doc, strcmp(action, "write") == 0 ? doc : NULL, &decision, &err);
	if (rc != SESAME_OK)
		fail_msg("%s: decision for the filter check: %s", name, err.text);
	rc = sesame_rules_match(json_object_get(filter, "filter"), doc, &match, &err);
	if (rc != SESAME_OK)
		fail_msg("%s: sesame_rules_match: %s", name, err.text);
	if (match != json_is_true(json_object_get(decision, "allowed"))) {
		char *f = json_dumps(filter, JSON_COMPACT | JSON_SORT_KEYS);

		fail_msg("%s: the %s filter %s %s the document, the decision says %s", name, action, f,
			 match ? "selects" : "does not select",
			 json_is_true(json_object_get(decision, "allowed")) ? "allowed" : "denied");
	}
	json_decref(filter);
	json_decref(decision);
}

static void run_case(void **state)
{
	const struct rules_case *c = *state;
	json_t *request = load_json(c->dir, "request.json", true), *expected = load_json(c->dir, "expected.json", true);
	json_t *user = load_json(c->dir, "user.json", true), *out = NULL;
	const char *ns = json_string_value(json_object_get(request, "namespace"));
	const json_t *who = json_is_true(json_object_get(user, "system")) ? NULL : user;
	const json_t *want_error = json_object_get(expected, "error");
	char *path = tu_path(c->dir, "rules.json");
	struct ruleset rs;
	sesame_error err;
	int rc;

	rc = ruleset_load(&rs, ns ? ns : "app.items", path, &err);
	if (rc != SESAME_OK) {
		if (!want_error)
			fail_msg("%s: rules.json: %s", c->name, err.text);
		check_error(c->name, rc, &err, want_error);
		/* A failed rule file denies every user, and still lets the system user do anything. */
		assert_true(rs.failed);
		goto out;
	}
	if (json_object_get(request, "filter")) {
		rc = rules_filter_request(&rs, who, json_string_value(json_object_get(request, "filter")), &out, &err);
	} else {
		rc = rules_request(&rs, who, json_string_value(json_object_get(request, "action")),
				   json_object_get(request, "document"), json_object_get(request, "prev"), &out, &err);
	}
	if (want_error) {
		check_error(c->name, rc, &err, want_error);
		goto out;
	}
	if (rc != SESAME_OK)
		fail_msg("%s: %s (%s)", c->name, err.text, err.reason);
	check_equal(c->name, json_object_get(request, "filter") ? "filter" : "decision", out, expected);
	if (!json_object_get(request, "filter") && who)
		check_consistency(c->name, &rs, who, json_string_value(json_object_get(request, "action")),
				  json_object_get(request, "document"), json_object_get(request, "prev"));
out:
	ruleset_free(&rs);
	free(path);
	json_decref(out);
	json_decref(request);
	json_decref(expected);
	json_decref(user);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rules_case *)a)->name, ((const struct rules_case *)b)->name);
}

int main(void)
{
	char *root = tu_path(tu_env("SESAME_TEST_SRCDIR"), "tests/rules");
	struct rules_case *cases = NULL;
	struct CMUnitTest *tests;
	struct dirent *de;
	size_t n = 0, i;
	DIR *dh = opendir(root);
	int rc;

	if (!dh) {
		fprintf(stderr, "cannot open %s\n", root);
		return 1;
	}
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		cases = realloc(cases, (n + 1) * sizeof(*cases));
		cases[n].dir = tu_path(root, de->d_name);
		cases[n].name = strdup(de->d_name);
		n++;
	}
	closedir(dh);
	if (n < 100) {
		fprintf(stderr, "%s holds %zu cases: the rules case folders are missing or incomplete\n", root, n);
		return 1;
	}
	qsort(cases, n, sizeof(*cases), name_cmp);
	tests = calloc(n, sizeof(*tests));
	for (i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
	}
	rc = _cmocka_run_group_tests("rules cases", tests, n, NULL, NULL);
	for (i = 0; i < n; i++) {
		free(cases[i].dir);
		free(cases[i].name);
	}
	free(cases);
	free(tests);
	free(root);
	return rc;
}
