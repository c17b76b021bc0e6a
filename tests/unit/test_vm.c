/* VM monitor units that need no /dev/kvm: sizes, VM names and paths, config round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"
#include "vm/vmdir.h"

static void test_sizes(void **state)
{
	uint64_t v = 0;
	keel_error_t err = {0};
	assert_int_equal(keel_vm_parse_size("256M", &v, &err), 0);
	assert_true(v == 256ULL << 20);
	assert_int_equal(keel_vm_parse_size("1G", &v, &err), 0);
	assert_true(v == 1ULL << 30);
	assert_int_equal(keel_vm_parse_size("512", &v, &err), 0); /* MiB, as Firecracker */
	assert_true(v == 512ULL << 20);
	assert_int_equal(keel_vm_parse_size("4096B", &v, &err), 0);
	assert_true(v == 4096);
	assert_int_equal(keel_vm_parse_size("2GiB", &v, &err), 0);
	assert_true(v == 2ULL << 30);
	assert_int_equal(keel_vm_parse_size("lots", &v, &err), -1);
	assert_int_equal(keel_vm_parse_size("12Q", &v, &err), -1);
	assert_int_equal(keel_vm_parse_size("99999999999999999999G", &v, &err), -1);
}

static void test_names(void **state)
{
	char p[PATH_MAX];
	keel_error_t err = {0};
	assert_int_equal(keel_vm_dir_path("/r", "web-1.a_b", "config.json", p, &err), 0);
	assert_string_equal(p, "/r/vms/web-1.a_b/config.json");
	assert_int_equal(keel_vm_dir_path("/r", "../etc", NULL, p, &err), -1);
	assert_int_equal(keel_vm_dir_path("/r", "a/b", NULL, p, &err), -1);
	assert_int_equal(keel_vm_dir_path("/r", "", NULL, p, &err), -1);
	assert_int_equal(keel_vm_dir_path("/r", ".hidden", NULL, p, &err), -1);
}

static void test_root(void **state)
{
	setenv("KEEL_ROOT", "/tmp/x", 1);
	assert_string_equal(keel_vm_root(NULL), "/tmp/x");
	assert_string_equal(keel_vm_root("/opt"), "/opt");
	unsetenv("KEEL_ROOT");
	assert_string_equal(keel_vm_root(NULL), "/var/lib/keel");
}

static void test_config_roundtrip(void **state)
{
	struct keel_vm_config a = {.kernel = "/k", .cmdline = "x=1", .cpus = 3,
				   .mem_bytes = 64ULL << 20, .disk = "/d.img", .disk_ro = true};
	struct keel_vm_config b = {0};
	keel_error_t err = {0};
	char *text = keel_vm_config_json(&a);
	assert_non_null(text);
	assert_int_equal(keel_vm_config_from_json(text, &b, &err), 0);
	assert_string_equal(b.kernel, "/k");
	assert_string_equal(b.cmdline, "x=1");
	assert_null(b.initrd);
	assert_null(b.tap);
	assert_int_equal(b.cpus, 3);
	assert_true(b.mem_bytes == 64ULL << 20);
	assert_string_equal(b.disk, "/d.img");
	assert_true(b.disk_ro);
	keel_vm_config_clear(&b);
	free(text);
	assert_int_equal(keel_vm_config_from_json("{\"kernel\":\"/k\"}", &b, &err), -1);
	assert_int_equal(keel_vm_config_from_json("[", &b, &err), -1);
}

static void test_snapshot_verify_rejects(void **state)
{
	keel_error_t err = {0};
	assert_int_equal(keel_vm_snapshot_verify("/nonexistent-snapshot", false, &err), -1);
	assert_non_null(strstr(err.msg, "nonexistent-snapshot"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_config_roundtrip),
		cmocka_unit_test(test_snapshot_verify_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
