/* libFuzzer target for the config.json parser: any input must give a spec or an error,
 * never a crash or a leak. The first byte picks the entry point so that the process and
 * resources parsers are fuzzed too; the default spec seeds a realistic corpus.
 *
 * The library must be instrumented too (fuzzer-no-link), or libFuzzer sees no coverage:
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
 *       -Dc_args=-fsanitize=fuzzer-no-link
 *   ninja -C build-fuzz tests/fuzz_spec
 *   mkdir -p /tmp/spec-corpus && build-fuzz/tests/fuzz_spec -max_total_time=120 \
 *       -dict=tests/fixtures/spec/spec.dict /tmp/spec-corpus tests/fixtures/spec
 * (the first directory receives new inputs; the fixtures only seed it) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keel_error_t err;
	const char *text = (const char *)data;

	memset(&err, 0, sizeof(err));
	if (size > 0 && data[0] == 'P') {
		keel_spec_process_free(keel_spec_process_parse(text + 1, size - 1, "p", &err));
	} else if (size > 0 && data[0] == 'R') {
		keel_spec_resources_free(keel_spec_resources_parse(text + 1, size - 1, "r", &err));
	} else {
		struct keel_spec *s = keel_spec_parse(text, size, "config.json", &err);
		/* A refused document always says why. */
		if (!s && err.msg[0] == '\0')
			__builtin_trap();
		keel_spec_free(s);
	}
	return 0;
}
