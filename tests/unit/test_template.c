#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/template.h"

static void expect(const char *fmt, const char *json, const char *want)
{
	keel_error_t err;
	struct keel_template *t = keel_template_parse(fmt, &err);
	json_t *ctx = json_loads(json, 0, NULL);
	char *out = NULL;
	assert_non_null(t);
	assert_non_null(ctx);
	assert_int_equal(keel_template_render(t, ctx, &out, &err), 0);
	assert_string_equal(out, want);
	free(out);
	json_decref(ctx);
	keel_template_free(t);
}

static void test_fields(void **state)
{
	(void)state;
	expect("{{.A}}-{{.B.C}}", "{\"A\":\"x\",\"B\":{\"C\":3}}", "x-3");
	expect("{{.Missing}}", "{}", "<no value>");
	expect("{{.L}}", "{\"L\":[\"a\",\"b\"]}", "[a b]");
	expect("{{.M}}", "{\"M\":{\"z\":1,\"a\":true}}", "map[a:true z:1]");
	expect("{{json .L}}", "{\"L\":[\"a\"]}", "[\"a\"]");
	expect("{{ .A }}\\t{{.A}}\\n", "{\"A\":\"q\"}", "q\tq\n");
	expect("{{json .}}", "{\"A\":1}", "{\"A\":1}");
}

static void test_errors(void **state)
{
	keel_error_t err;
	(void)state;
	assert_null(keel_template_parse("{{.A", &err));
	assert_null(keel_template_parse("{{range .A}}", &err));
	assert_null(keel_template_parse("{{.A..B}}", &err));
}

static void test_table(void **state)
{
	struct keel_table *t = keel_table_new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	keel_error_t err;
	struct keel_template *tp = keel_template_parse("table {{.A}}\t{{.B}}", &err);
	(void)state;
	assert_true(keel_template_is_table(tp));
	keel_template_free(tp);
	keel_table_add(t, "REPOSITORY\tTAG\tID");
	keel_table_add(t, "busybox\tlatest\tabc");
	keel_table_print(t, f);
	fclose(f);
	assert_string_equal(buf, "REPOSITORY   TAG      ID\nbusybox      latest   abc\n");
	free(buf);
	keel_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
