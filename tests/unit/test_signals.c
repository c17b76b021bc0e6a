/* keel_signal_parse / keel_signal_name: the spellings runc and docker accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "runtime/signals.h"

static void test_numbers(void **state)
{
	assert_int_equal(keel_signal_parse("9"), 9);
	assert_int_equal(keel_signal_parse("1"), 1);
	assert_int_equal(keel_signal_parse("15"), SIGTERM);
	assert_int_equal(keel_signal_parse("64"), 64);
	assert_int_equal(keel_signal_parse("32"), 32);
}

static void test_names_any_case(void **state)
{
	assert_int_equal(keel_signal_parse("KILL"), SIGKILL);
	assert_int_equal(keel_signal_parse("SIGKILL"), SIGKILL);
	assert_int_equal(keel_signal_parse("sigkill"), SIGKILL);
	assert_int_equal(keel_signal_parse("Term"), SIGTERM);
	assert_int_equal(keel_signal_parse("SigHup"), SIGHUP);
	assert_int_equal(keel_signal_parse("WINCH"), SIGWINCH);
	assert_int_equal(keel_signal_parse("SIGSYS"), SIGSYS);
	assert_int_equal(keel_signal_parse("STKFLT"), 16);
	/* aliases */
	assert_int_equal(keel_signal_parse("CLD"), SIGCHLD);
	assert_int_equal(keel_signal_parse("SIGIOT"), SIGABRT);
	assert_int_equal(keel_signal_parse("POLL"), SIGIO);
}

static void test_realtime(void **state)
{
	assert_int_equal(keel_signal_parse("SIGRTMIN"), 34);
	assert_int_equal(keel_signal_parse("RTMIN"), 34);
	assert_int_equal(keel_signal_parse("RTMIN+3"), 37);
	assert_int_equal(keel_signal_parse("rtmin+30"), 64);
	assert_int_equal(keel_signal_parse("SIGRTMAX"), 64);
	assert_int_equal(keel_signal_parse("SIGRTMAX-2"), 62);
	assert_int_equal(keel_signal_parse("RTMAX-30"), 34);
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
	    "SIGFOO",
	    "",
	    "0",
	    "00",
	    "999",
	    "65",
	    "9x",
	    "x9",
	    "-1",
	    "+9",
	    " 9",
	    "9 ",
	    "SIG",
	    "SIGSIGKILL",
	    "KILLX",
	    "RTMIN+31",
	    "RTMAX-31",
	    "RTMIN-1",
	    "RTMAX+1",
	    "RTMIN+",
	    "RTMIN+x",
	    "SIG9",
	    "99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (keel_signal_parse(bad[i]) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(keel_signal_parse(NULL), -1);
}

static void test_names(void **state)
{
	assert_string_equal(keel_signal_name(15), "SIGTERM");
	assert_string_equal(keel_signal_name(SIGKILL), "SIGKILL");
	/* canonical name wins over aliases */
	assert_string_equal(keel_signal_name(SIGCHLD), "SIGCHLD");
	assert_string_equal(keel_signal_name(SIGABRT), "SIGABRT");
	assert_string_equal(keel_signal_name(SIGIO), "SIGIO");
	assert_string_equal(keel_signal_name(SIGSYS), "SIGSYS");
	assert_string_equal(keel_signal_name(34), "SIGRTMIN");
	assert_string_equal(keel_signal_name(37), "SIGRTMIN+3");
	assert_string_equal(keel_signal_name(62), "SIGRTMAX-2");
	assert_string_equal(keel_signal_name(64), "SIGRTMAX");
	assert_null(keel_signal_name(0));
	assert_null(keel_signal_name(-1));
	assert_null(keel_signal_name(32));
	assert_null(keel_signal_name(65));
}

/* Every name keel prints parses back to its number. */
static void test_round_trip(void **state)
{
	for (int sig = 1; sig <= 64; sig++) {
		const char *name = keel_signal_name(sig);
		if (!name)
			continue;
		if (keel_signal_parse(name) != sig)
			fail_msg("%s does not parse back to %d", name, sig);
		if (keel_signal_parse(name + 3) != sig)
			fail_msg("%s without SIG does not parse back to %d", name, sig);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numbers),  cmocka_unit_test(test_names_any_case),
	    cmocka_unit_test(test_realtime), cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_names),    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
