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
	/* Go's encoding/json escapes HTML's specials, as docker prints them */
	expect("{{json .C}}", "{\"C\":[\"a > b && <c>\"]}",
	       "[\"a \\u003e b \\u0026\\u0026 \\u003cc\\u003e\"]");
	expect("{{.C}}", "{\"C\":\"a > b\"}", "a > b");
}

/* docker's template functions and Go's builtins that --format users reach for. */
static void test_functions(void **state)
{
	const char *ctx =
	    "{\"N\":\"/web-1\",\"L\":{\"a\":\"x\",\"b.c\":\"y\"},\"A\":[\"sh\",\"-c\",\"id\"],"
	    "\"I\":3,\"S\":\"running\",\"E\":\"\"}";
	(void)state;
	expect("{{index .L \"b.c\"}}", ctx, "y");
	expect("{{index .A 1}}", ctx, "-c");
	expect("{{index .L \"zz\"}}", ctx, "<no value>");
	expect("{{join .A \" \"}}", ctx, "sh -c id");
	expect("{{range split \"a:b\" \":\"}}{{.}};{{end}}", "{}", "a;b;");
	expect("{{upper .S}} {{lower \"AbC\"}} {{title \"web app\"}}", ctx, "RUNNING abc Web App");
	expect("{{len .A}} {{len .L}} {{len .S}}", ctx, "3 2 7");
	expect("{{truncate .S 3}}", ctx, "run");
	expect("{{.S | upper}}", ctx, "RUNNING");
	expect("{{json .L}}", ctx, "{\"a\":\"x\",\"b.c\":\"y\"}");
	expect("{{println .I .S}}", ctx, "3 running\n");
	expect("{{eq .S \"running\"}} {{ne .I 3}} {{not .E}} {{eq .I 1 2 3}}", ctx,
	       "true false true true");
	expect("{{and .I .E}}|{{or .E .S}}", ctx, "|running");
	expect("{{.L \"a\"}}|{{.L \"nope\"}}|{{.Nope \"a\"}}", ctx, "x||");
}

static void test_blocks(void **state)
{
	const char *ctx = "{\"M\":[{\"S\":\"/a\",\"D\":\"/x\"},{\"S\":\"/b\",\"D\":\"/y\"}],"
			  "\"L\":{\"z\":\"1\",\"a\":\"2\"},\"E\":[],\"R\":true,\"C\":{\"H\":\"h\"},"
			  "\"N\":\"n\"}";
	(void)state;
	expect("{{range .M}}{{.S}}:{{.D}} {{end}}", ctx, "/a:/x /b:/y ");
	/* maps range in key order; $ is the whole value inside */
	expect("{{range .L}}{{.}}{{$.N}}{{end}}", ctx, "2n1n");
	expect("{{range .E}}x{{else}}none{{end}}", ctx, "none");
	expect("{{range .Missing}}x{{end}}", ctx, "");
	expect("{{if .R}}yes{{else}}no{{end}}", ctx, "yes");
	expect("{{if .E}}a{{else if .R}}b{{else}}c{{end}}", ctx, "b");
	expect("{{if eq .N \"m\"}}a{{else if .E}}b{{else}}c{{end}}", ctx, "c");
	expect("{{with .C}}{{.H}}{{end}}|{{with .Nope}}x{{else}}empty {{.N}}{{end}}", ctx,
	       "h|empty n");
	expect("{{range .M}}{{if eq .S \"/b\"}}{{.D}}{{end}}{{end}}", ctx, "/y");
	/* {{- and -}} eat the blanks next to them; comments print nothing */
	expect("a  {{- .N -}}  b{{/* hi */}}", ctx, "anb");
}

static void test_errors(void **state)
{
	keel_error_t err;
	(void)state;
	assert_null(keel_template_parse("{{.A", &err));
	assert_null(keel_template_parse("{{range .A}}", &err));
	assert_null(keel_template_parse("{{.A..B}}", &err));
	assert_null(keel_template_parse("{{nosuchfunc .A}}", &err));
	assert_string_equal(err.msg, "template: :1: function \"nosuchfunc\" not defined");
	assert_null(keel_template_parse("{{end}}", &err));
	assert_null(keel_template_parse("{{if .A}}x{{else}}y{{else}}z{{end}}", &err));
	assert_null(keel_template_parse("{{\"s\" .B}}", &err));
	assert_null(keel_template_parse("{{.A | .B \"x\"}}", &err));
	assert_null(keel_template_parse("{{index .A}}", &err));
	assert_null(keel_template_parse("{{\"abc}}", &err));
	assert_null(keel_template_parse("{{}}", &err));
	assert_null(keel_template_parse("{{join upper \",\"}}", &err));
	assert_null(keel_template_parse("{{.A |}}", &err));
	{
		/* a function misused at run time fails the render */
		struct keel_template *t = keel_template_parse("{{index .A 5}}", &err);
		json_t *ctx = json_loads("{\"A\":[1]}", 0, NULL);
		char *out = NULL;
		assert_non_null(t);
		assert_int_equal(keel_template_render(t, ctx, &out, &err), -1);
		assert_null(out);
		json_decref(ctx);
		keel_template_free(t);
	}
	{
		/* more words than a command may take: an error, not a stack overflow (fuzzer) */
		struct keel_template *t = keel_template_parse(
		    "{{.A 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 | join \",\"}}", &err);
		json_t *ctx = json_loads("{\"A\":[1]}", 0, NULL);
		char *out = NULL;
		assert_non_null(t);
		assert_int_equal(keel_template_render(t, ctx, &out, &err), -1);
		assert_null(out);
		assert_non_null(strstr(err.msg, "too many arguments"));
		json_decref(ctx);
		keel_template_free(t);
	}
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
	/* docker's tabwriter: widest + 3, at least 10 ("TAG" and "latest" get 10) */
	assert_string_equal(buf, "REPOSITORY   TAG       ID\nbusybox      latest    abc\n");
	free(buf);
	keel_table_free(t);
}

/* Widths count characters: docker's "…" (3 bytes) is one column. */
static void test_table_utf8(void **state)
{
	struct keel_table *t = keel_table_new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	(void)state;
	keel_table_add(t, "COMMAND\tNAMES");
	keel_table_add(t, "\"sh -c 'echo hi > /\xe2\x80\xa6\tx");
	keel_table_add(t, "\"true\"\ty");
	keel_table_print(t, f);
	fclose(f);
	assert_string_equal(buf, "COMMAND                NAMES\n"
				 "\"sh -c 'echo hi > /\xe2\x80\xa6   x\n"
				 "\"true\"                 y\n");
	free(buf);
	keel_table_free(t);
}

static char *print_rows(const char *format, const char *rows, const char *titles, int *ret)
{
	keel_error_t err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *r = json_loads(rows, 0, NULL), *ti = titles ? json_loads(titles, 0, NULL) : NULL;
	assert_non_null(f);
	assert_non_null(r);
	*ret = keel_template_print_rows(format, "table {{.A}}\t{{.B}}", r, ti, f, &err);
	fclose(f);
	json_decref(r);
	json_decref(ti);
	return buf;
}

static void test_print_rows(void **state)
{
	const char *rows = "[{\"A\":\"a1\",\"B\":\"b1\"},{\"A\":\"a2\",\"B\":2}]";
	const char *titles = "{\"A\":\"COL A\",\"B\":\"COL B\"}";
	char *out;
	int r;
	(void)state;
	/* NULL, "" and "table" are the default table */
	out = print_rows(NULL, rows, titles, &r);
	assert_int_equal(r, 0);
	assert_string_equal(out, "COL A     COL B\na1        b1\na2        2\n");
	free(out);
	out = print_rows("table", rows, titles, &r);
	assert_string_equal(out, "COL A     COL B\na1        b1\na2        2\n");
	free(out);
	/* a plain template: a line per row, no header */
	out = print_rows("{{.A}}={{.B}}", rows, titles, &r);
	assert_string_equal(out, "a1=b1\na2=2\n");
	free(out);
	/* json: one object a line */
	out = print_rows("json", rows, titles, &r);
	assert_string_equal(out, "{\"A\":\"a1\",\"B\":\"b1\"}\n{\"A\":\"a2\",\"B\":2}\n");
	free(out);
	/* a table of the user's, no rows: the header alone */
	out = print_rows("table {{.B}}", "[]", titles, &r);
	assert_string_equal(out, "COL B\n");
	free(out);
	/* a bad template fails before printing anything */
	out = print_rows("table {{.A", rows, titles, &r);
	assert_int_equal(r, -1);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),	   cmocka_unit_test(test_functions),
		cmocka_unit_test(test_blocks),	   cmocka_unit_test(test_errors),
		cmocka_unit_test(test_table),	   cmocka_unit_test(test_table_utf8),
		cmocka_unit_test(test_print_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
