/* .dockerignore matching against moby/patternmatcher's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "build/dockerignore.h"

static void check(const char *patterns, const char *path, bool want)
{
	keel_error_t err;
	struct keel_ignore *ig = keel_ignore_parse(patterns, strlen(patterns), &err);
	if (!ig)
		fail_msg("%s: %s", patterns, err.msg);
	if (keel_ignore_match(ig, path) != want)
		fail_msg("patterns [%s] path %s: want %s", patterns, path,
			 want ? "excluded" : "included");
	keel_ignore_free(ig);
}

static void test_basic(void **state)
{
	(void)state;
	check("*.log\n", "a.log", true);
	check("*.log\n", "dir/a.log", false); /* '*' does not cross '/' */
	check("**/*.log\n", "dir/sub/a.log", true);
	check("**/*.log\n", "a.log", true);
	check("dir\n", "dir/file", true); /* a matching parent excludes its contents */
	check("dir/\n", "dir/sub/file", true);
	check("/dir\n", "dir", true);
	check("./dir/../other\n", "other/x", true);
	check("a?c\n", "abc", true);
	check("a?c\n", "a/c", false);
	check("[a-c]x\n", "bx", true);
	check("[^a-c]x\n", "dx", true);
	check("[^a-c]x\n", "ax", false);
	check("dir/**\n", "dir/a/b", true);
	check("dir/**\n", "dirx", false);
	check("**\n", "anything/at/all", true);
	check("a/**/b\n", "a/b", true);
	check("a/**/b\n", "a/x/y/b", true);
	check("file.txt\n", "file_txt", false); /* '.' is literal */
	check("a+b(c)\n", "a+b(c)", true);
	check("\\*star\n", "*star", true);
	check("\\*star\n", "xstar", false);
	check("  spaced  \n", "spaced", true);
	check("#comment\n", "#comment", false);
	check(" #notcomment\n", "#notcomment", true);
	check("x\r\n", "x", true);
}

static void test_exceptions(void **state)
{
	keel_error_t err;
	struct keel_ignore *ig;
	(void)state;
	check("*.md\n!README.md\n", "README.md", false);
	check("*.md\n!README.md\n", "CHANGES.md", true);
	check("!README.md\n*.md\n", "README.md", true); /* later lines win */
	check("docs\n!docs/keep\n", "docs/keep", false);
	check("docs\n!docs/keep\n", "docs/other", true);
	check("*\n!src\n", "src/main.c", false);
	check("*\n!src\n", "README", true);
	check("*\n!src\nsrc/*.o\n", "src/a.o", true);
	ig = keel_ignore_parse("a\n!b\n", 5, &err);
	assert_non_null(ig);
	assert_true(keel_ignore_has_exceptions(ig));
	assert_string_equal(keel_ignore_patterns(ig)[1], "!b");
	keel_ignore_free(ig);
	assert_null(keel_ignore_parse("ok\n!\n", 5, &err));
	assert_non_null(strstr(err.msg, ".dockerignore:2: illegal exclusion pattern"));
}

static void test_clean(void **state)
{
	static const char *const cases[][2] = {
		{ "a/b/../c", "a/c" }, { "/a/./b/", "/a/b" }, { "../x", "../x" },
		{ "a/../..", ".." },   { "/..", "/" },	      { "", "." },
		{ "a//b", "a/b" },     { "./", "." },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = keel_path_clean(cases[i][0]);
		if (strcmp(c, cases[i][1]) != 0)
			fail_msg("clean(%s) = %s, want %s", cases[i][0], c, cases[i][1]);
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_exceptions),
		cmocka_unit_test(test_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
