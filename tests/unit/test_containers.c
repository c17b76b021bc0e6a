/* Container records without running anything: the engine handle on a temp store, insert,
 * lookup by id / name / prefix, ambiguity, name rules and conflicts, rename, list order,
 * random names and ids, the status of a never-started container. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/containers.h"
#include "engine/ctr_internal.h"
#include "util/fs.h"

static char base[] = "/tmp/keel-test-ctr-XXXXXX";
static char root[300], run_root[300];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(base))
		return -1;
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(run_root, sizeof(run_root), "%s/run", base);
	return 0;
}

static int teardown(void **state)
{
	keel_error_t err;
	(void)state;
	return keel_rm_rf(base, &err);
}

static struct keel_ctr *record(const char *id, const char *name, const char *created)
{
	struct keel_ctr *c = calloc(1, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->name = strdup(name);
	c->image_id =
	    strdup("sha256:0000000000000000000000000000000000000000000000000000000000000000");
	c->image_ref = strdup("busybox");
	c->created = strdup(created);
	c->doc = json_pack("{s:s, s:[s], s:{s:b}, s:{}}", "Path", "sleep", "Args", "1000", "Config",
			   "Tty", 0, "HostConfig");
	return c;
}

#define ID_A "aaaa111111111111111111111111111111111111111111111111111111111111"
#define ID_B "aaaa222222222222222222222222222222222222222222222222222222222222"
#define ID_C "bbbb333333333333333333333333333333333333333333333333333333333333"

static void test_records(void **state)
{
	keel_error_t err;
	struct keel_engine *e = keel_engine_open(root, run_root, &err);
	struct keel_ctr *a = record(ID_A, "alpha", "2024-05-01T10:00:00Z");
	struct keel_ctr *b = record(ID_B, "beta", "2024-05-01T10:00:01Z");
	struct keel_ctr *c = record(ID_C, "gamma", "2024-05-01T10:00:02Z");
	struct keel_ctr *dup = record(ID_C "x", "alpha", "2024-05-01T10:00:03Z");
	struct keel_ctr *got, **v = NULL;
	size_t n = 0;
	(void)state;

	assert_non_null(e);
	assert_int_equal(keel_ctr_db_insert(e, a, &err), 0);
	assert_int_equal(keel_ctr_db_insert(e, b, &err), 0);
	assert_int_equal(keel_ctr_db_insert(e, c, &err), 0);
	/* a taken name: docker's conflict sentence, naming the holder */
	assert_int_equal(keel_ctr_db_insert(e, dup, &err), -1);
	assert_int_equal(err.errnum, EEXIST);
	assert_non_null(strstr(err.msg, "The container name \"/alpha\" is already in use by "
					"container \"" ID_A "\""));

	got = keel_ctr_get(e, ID_B, &err); /* full id */
	assert_non_null(got);
	assert_string_equal(got->name, "beta");
	assert_string_equal(json_string_value(json_object_get(got->doc, "Path")), "sleep");
	keel_ctr_free(got);
	got = keel_ctr_get(e, "/gamma", &err); /* name with docker's slash */
	assert_non_null(got);
	assert_string_equal(got->id, ID_C);
	keel_ctr_free(got);
	got = keel_ctr_get(e, "bbbb", &err); /* unique prefix */
	assert_non_null(got);
	assert_string_equal(got->id, ID_C);
	keel_ctr_free(got);
	assert_null(keel_ctr_get(e, "aaaa", &err)); /* ambiguous */
	assert_int_equal(err.errnum, EBUSY);
	assert_null(keel_ctr_get(e, "nothing", &err));
	assert_int_equal(err.errnum, ENOENT);
	assert_string_equal(err.msg, "No such container: nothing");

	/* newest first */
	assert_int_equal(keel_ctr_list(e, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0]->name, "gamma");
	assert_string_equal(v[2]->name, "alpha");
	keel_ctr_list_free(v, n);

	assert_int_equal(keel_ctr_rename(e, a, "beta", &err), -1);
	assert_int_equal(err.errnum, EEXIST);
	assert_int_equal(keel_ctr_rename(e, a, "bad name", &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(keel_ctr_rename(e, a, "/delta", &err), 0);
	assert_string_equal(a->name, "delta");
	got = keel_ctr_get(e, "delta", &err);
	assert_non_null(got);
	keel_ctr_free(got);
	assert_null(keel_ctr_get(e, "alpha", &err));

	assert_int_equal(keel_ctr_db_delete(e, ID_B, &err), 0);
	assert_null(keel_ctr_get(e, ID_B, &err));

	keel_ctr_free(a);
	keel_ctr_free(b);
	keel_ctr_free(c);
	keel_ctr_free(dup);
	keel_engine_close(e);
}

static void test_names_ids(void **state)
{
	keel_error_t err;
	struct keel_engine *e = keel_engine_open(root, run_root, &err);
	char id[KEEL_CTR_ID_LEN + 1], id2[KEEL_CTR_ID_LEN + 1];
	char *name;
	(void)state;

	assert_non_null(e);
	assert_true(keel_ctr_name_valid("web"));
	assert_true(keel_ctr_name_valid("a.b-c_1"));
	assert_false(keel_ctr_name_valid("a"));
	assert_false(keel_ctr_name_valid("_web"));
	assert_false(keel_ctr_name_valid("we b"));
	assert_false(keel_ctr_name_valid("web/1"));

	assert_int_equal(keel_ctr_new_id(id, &err), 0);
	assert_int_equal(keel_ctr_new_id(id2, &err), 0);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strspn(id, "0123456789abcdef"), 64);
	assert_string_not_equal(id, id2);

	name = keel_ctr_random_name(e, &err);
	assert_non_null(name);
	assert_non_null(strchr(name, '_'));
	assert_true(keel_ctr_name_valid(name));
	free(name);
	keel_engine_close(e);
}

static void test_status_created(void **state)
{
	keel_error_t err;
	struct keel_engine *e = keel_engine_open(root, run_root, &err);
	struct keel_ctr *c = record(ID_C, "fresh", "2024-05-01T10:00:00Z");
	struct keel_ctr_status st;
	char *dir;
	(void)state;

	assert_non_null(e);
	dir = keel_ctr_dir(e, c->id);
	assert_int_equal(keel_mkdir_p(dir, 0700, &err), 0);
	/* never started: no monitor.json */
	assert_int_equal(keel_ctr_status(e, c, &st, &err), 0);
	assert_int_equal(st.state, KEEL_CTR_CREATED);
	assert_string_equal(keel_ctr_state_name(st.state), "created");
	assert_int_equal(st.pid, 0);
	/* kill / pause of a created container: not running */
	assert_int_equal(keel_ctr_kill(e, c, 9, &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	assert_non_null(strstr(err.msg, "is not running"));
	free(dir);
	keel_ctr_free(c);
	keel_engine_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_names_ids),
		cmocka_unit_test(test_status_created),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
