/* The registry client's pure parts: WWW-Authenticate parsing, platforms and index selection,
 * config.json credentials (round trip, mode, other keys kept), login server keys, endpoints
 * from the registries config (loopback insecure, mirrors, CAs), token URLs. The HTTP side
 * is tested against real registries in tests/integration/registry.bats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "registry/regclient.h"
#include "util/fs.h"

static char tmpdir[] = "/tmp/keel-test-registry-XXXXXX";

static void test_challenge(void **state)
{
	struct keel_challenge c = { 0 };
	(void)state;
	assert_int_equal(keel_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
					      "service=\"registry.docker.io\",scope=\"repository:"
					      "library/busybox:pull\"",
					      &c),
			 0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_int_equal(keel_challenge_parse("Basic realm=\"keel-test\"", &c), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "keel-test");
	assert_null(c.service);
	/* unquoted values, odd spacing, escaped quotes */
	assert_int_equal(keel_challenge_parse("bearer  realm=http://h/t , service=\"a\\\"b\"", &c),
			 0);
	assert_string_equal(c.realm, "http://h/t");
	assert_string_equal(c.service, "a\"b");
	/* a Bearer challenge without a realm cannot be followed */
	assert_int_equal(keel_challenge_parse("Bearer service=\"x\"", &c), -1);
	keel_challenge_clear(&c);
}

static void test_platform_parse(void **state)
{
	struct keel_platform p;
	keel_error_t err;
	(void)state;
	assert_int_equal(keel_platform_parse(NULL, &p, &err), 0);
	assert_string_equal(p.os, "linux");
#if defined(__x86_64__)
	assert_string_equal(p.arch, "amd64");
#endif
	assert_int_equal(keel_platform_parse("linux/arm64/v8", &p, &err), 0);
	assert_string_equal(p.arch, "arm64");
	assert_string_equal(p.variant, "v8");
	assert_int_equal(keel_platform_parse("linux/x86_64", &p, &err), 0);
	assert_string_equal(p.arch, "amd64");
	assert_int_equal(keel_platform_parse("linux", &p, &err), -1);
	assert_int_equal(keel_platform_parse("linux/", &p, &err), -1);
	assert_int_equal(keel_platform_parse("/amd64", &p, &err), -1);
	assert_int_equal(keel_platform_parse("linux/arm/", &p, &err), -1);
}

static const char INDEX[] =
    "{\"manifests\":["
    "{\"digest\":\"sha256:1\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":"
    "\"v6\"}},"
    "{\"digest\":\"sha256:2\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":"
    "\"v7\"}},"
    "{\"digest\":\"sha256:3\",\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}},"
    "{\"digest\":\"sha256:4\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"digest\":\"sha256:5\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
    "\"variant\":\"v8\"}}]}";

static int pick(const char *plat)
{
	json_t *ix = json_loads(INDEX, 0, NULL);
	struct keel_platform p;
	keel_error_t err;
	int i;
	assert_non_null(ix);
	assert_int_equal(keel_platform_parse(plat, &p, &err), 0);
	i = keel_platform_select(ix, &p, &err);
	if (i < 0)
		assert_non_null(strstr(err.msg, "linux/arm/v6, linux/arm/v7, windows/amd64"));
	json_decref(ix);
	return i;
}

static void test_platform_select(void **state)
{
	(void)state;
	assert_int_equal(pick("linux/amd64"), 3);
	assert_int_equal(pick("windows/amd64"), 2);
	assert_int_equal(pick("linux/arm"), 1); /* v7 preferred without a variant */
	assert_int_equal(pick("linux/arm/v6"), 0);
	assert_int_equal(pick("linux/arm64"), 4); /* v8 is arm64's default */
	assert_int_equal(pick("linux/arm64/v9"), -1);
	assert_int_equal(pick("linux/s390x"), -1);
}

static void test_server_key(void **state)
{
	char *k;
	(void)state;
	const char *hub[] = { NULL,
			      "",
			      "docker.io",
			      "index.docker.io",
			      "registry-1.docker.io",
			      "https://index.docker.io/v1/" };
	for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++) {
		k = keel_auth_server_key(hub[i]);
		assert_string_equal(k, "https://index.docker.io/v1/");
		free(k);
	}
	k = keel_auth_server_key("https://myreg:5000/v2/");
	assert_string_equal(k, "myreg:5000");
	free(k);
	k = keel_auth_server_key("127.0.0.1:5000");
	assert_string_equal(k, "127.0.0.1:5000");
	free(k);
}

static void test_auth_roundtrip(void **state)
{
	char path[256], *u = NULL, *p = NULL;
	struct stat st;
	keel_error_t err;
	json_t *j;
	(void)state;
	snprintf(path, sizeof(path), "%s/cfg/config.json", tmpdir);
	setenv("KEEL_AUTH_CONFIG", path, 1);
	/* nothing stored yet */
	assert_int_equal(keel_auth_lookup("myreg:5000", &u, &p, &err), 0);
	assert_null(u);
	assert_int_equal(keel_auth_store("myreg:5000", "ann", "pa:ss", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	j = json_load_file(path, 0, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(j, "auths"), "myreg:5000"), "auth")),
	    "YW5uOnBhOnNz"); /* base64("ann:pa:ss") */
	json_object_set_new(j, "credsStore", json_string("none"));
	json_dump_file(j, path, 0);
	json_decref(j);
	/* found by the domain a reference uses; the password keeps its colon */
	assert_int_equal(keel_auth_lookup("myreg:5000", &u, &p, &err), 1);
	assert_string_equal(u, "ann");
	assert_string_equal(p, "pa:ss");
	free(u);
	free(p);
	/* Docker Hub under its historical key */
	assert_int_equal(keel_auth_store("https://index.docker.io/v1/", "hub", "x", &err), 0);
	assert_int_equal(keel_auth_lookup("docker.io", &u, &p, &err), 1);
	assert_string_equal(u, "hub");
	free(u);
	free(p);
	/* removal: 1 when it was there, 0 when not; other keys kept */
	assert_int_equal(keel_auth_store("myreg:5000", NULL, NULL, &err), 1);
	assert_int_equal(keel_auth_store("myreg:5000", NULL, NULL, &err), 0);
	assert_int_equal(keel_auth_lookup("myreg:5000", &u, &p, &err), 0);
	j = json_load_file(path, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "credsStore")), "none");
	json_decref(j);
	/* a broken file is an error, not an empty one */
	assert_int_equal(keel_write_file(path, "{", 1, 0600, &err), 0);
	assert_int_equal(keel_auth_lookup("myreg:5000", &u, &p, &err), -1);
	unsetenv("KEEL_AUTH_CONFIG");
}

static void test_loopback(void **state)
{
	(void)state;
	assert_true(keel_reg_is_loopback("localhost:5000"));
	assert_true(keel_reg_is_loopback("127.0.0.1"));
	assert_true(keel_reg_is_loopback("127.3.2.1:443"));
	assert_true(keel_reg_is_loopback("[::1]:5000"));
	assert_false(keel_reg_is_loopback("128.0.0.1:5000"));
	assert_false(keel_reg_is_loopback("localhost.example.com"));
	assert_false(keel_reg_is_loopback("docker.io"));
}

static void test_endpoints(void **state)
{
	char conf[256], ca[256], text[1024];
	struct keel_reg_endpoint *e;
	keel_error_t err;
	size_t n;
	(void)state;
	snprintf(conf, sizeof(conf), "%s/registries.json", tmpdir);
	snprintf(ca, sizeof(ca), "%s/certs/myreg:5000", tmpdir);
	setenv("KEEL_REGISTRIES_CONFIG", conf, 1);
	setenv("KEEL_CERTS_DIR", strcat(strcpy(text, tmpdir), "/certs"), 1);
	/* no file: Docker Hub over verified TLS; loopback insecure with plain HTTP fallback */
	e = keel_reg_endpoints("docker.io", &n, &err);
	assert_non_null(e);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].url, "https://registry-1.docker.io");
	assert_true(e[0].verify);
	keel_reg_endpoints_free(e, n);
	e = keel_reg_endpoints("127.0.0.1:5000", &n, &err);
	assert_false(e[0].verify);
	assert_true(e[0].fallback_http);
	keel_reg_endpoints_free(e, n);
	/* mirrors first, insecure and CA settings per registry, certs.d */
	snprintf(text, sizeof(text),
		 "{\"registries\":{\"docker.io\":{\"mirrors\":[\"http://127.0.0.1:1/\","
		 "\"https://m.example\"]},\"127.0.0.1:5000\":{\"insecure\":false},"
		 "\"myreg:5000\":{\"insecure\":true}}}");
	assert_int_equal(keel_write_file(conf, text, strlen(text), 0644, &err), 0);
	assert_int_equal(keel_mkdir_p(ca, 0755, &err), 0);
	strcat(ca, "/ca.crt");
	assert_int_equal(keel_write_file(ca, "x", 1, 0644, &err), 0);
	e = keel_reg_endpoints("docker.io", &n, &err);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].url, "http://127.0.0.1:1");
	assert_true(e[0].mirror);
	assert_string_equal(e[1].url, "https://m.example");
	assert_false(e[2].mirror);
	keel_reg_endpoints_free(e, n);
	e = keel_reg_endpoints("127.0.0.1:5000", &n, &err);
	assert_true(e[0].verify);
	assert_false(e[0].fallback_http);
	keel_reg_endpoints_free(e, n);
	e = keel_reg_endpoints("myreg:5000", &n, &err);
	assert_string_equal(e[0].url, "https://myreg:5000");
	assert_false(e[0].verify);
	assert_string_equal(e[0].ca_file, ca);
	keel_reg_endpoints_free(e, n);
	/* a bad mirror URL or a broken file is an error */
	snprintf(text, sizeof(text),
		 "{\"registries\":{\"docker.io\":{\"mirrors\":[\"ftp://x\"]}}}");
	assert_int_equal(keel_write_file(conf, text, strlen(text), 0644, &err), 0);
	assert_null(keel_reg_endpoints("docker.io", &n, &err));
	assert_int_equal(keel_write_file(conf, "[", 1, 0644, &err), 0);
	assert_null(keel_reg_endpoints("docker.io", &n, &err));
	unsetenv("KEEL_REGISTRIES_CONFIG");
	unsetenv("KEEL_CERTS_DIR");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	keel_error_t err;
	(void)state;
	return keel_rm_rf(tmpdir, &err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenge),	cmocka_unit_test(test_platform_parse),
		cmocka_unit_test(test_platform_select), cmocka_unit_test(test_server_key),
		cmocka_unit_test(test_auth_roundtrip),	cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_endpoints),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
