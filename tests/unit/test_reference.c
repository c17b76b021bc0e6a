#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/reference.h"

static void expect_full(const char *in, const char *want)
{
	struct keel_ref r;
	keel_error_t err;
	char *s;
	assert_int_equal(keel_ref_parse(in, &r, &err), 0);
	assert_int_equal(keel_ref_default_tag(&r, &err), 0);
	s = keel_ref_string(&r);
	assert_string_equal(s, want);
	free(s);
	keel_ref_free(&r);
}

static void expect_bad(const char *in)
{
	struct keel_ref r;
	keel_error_t err;
	assert_int_equal(keel_ref_parse(in, &r, &err), -1);
}

static void test_normalise(void **state)
{
	(void)state;
	expect_full("busybox", "docker.io/library/busybox:latest");
	expect_full("busybox:1.36", "docker.io/library/busybox:1.36");
	expect_full("me/app", "docker.io/me/app:latest");
	expect_full("index.docker.io/library/x:y", "docker.io/library/x:y");
	expect_full("localhost/a", "localhost/a:latest");
	expect_full("host:5000/ns/repo:tag", "host:5000/ns/repo:tag");
	expect_full("a.b/c__d/e-f.g:T_1", "a.b/c__d/e-f.g:T_1");
	expect_full("x@sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		    "docker.io/library/x@sha256:"
		    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
}

static void test_invalid(void **state)
{
	(void)state;
	expect_bad("");
	expect_bad("UPPER");
	expect_bad("a//b");
	expect_bad("a/");
	expect_bad("-a");
	expect_bad("a:");
	expect_bad("a:-tag");
	expect_bad("a@sha256:abc");
	expect_bad("a_/b");
	expect_bad("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
}

static void test_familiar(void **state)
{
	char *f;
	(void)state;
	f = keel_ref_familiarize("docker.io/library/busybox:latest");
	assert_string_equal(f, "busybox:latest");
	free(f);
	f = keel_ref_familiarize("docker.io/me/app:1");
	assert_string_equal(f, "me/app:1");
	free(f);
	f = keel_ref_familiarize("quay.io/x/y:1");
	assert_string_equal(f, "quay.io/x/y:1");
	free(f);
	assert_true(keel_is_id_prefix("sha256:abc"));
	assert_true(keel_is_id_prefix("abc123"));
	assert_false(keel_is_id_prefix("busybox"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_familiar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
