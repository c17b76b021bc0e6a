/* libFuzzer target for the Go-template subset behind every --format: any input must parse to
 * a template or a one-line error, and render against a fixed document (nested objects,
 * arrays, labels, numbers, null) to text or an error — never a crash, a hang or a leak.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Dwerror=false
 *   ninja -C build-fuzz tests/fuzz_template
 *   mkdir -p /tmp/tpl-corpus && build-fuzz/tests/fuzz_template -max_total_time=120 /tmp/tpl-corpus */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *doc;
	char *fmt = strndup((const char *)data, size), *out = NULL;
	struct keel_template *t;
	keel_error_t err;

	if (!doc)
		doc = json_pack("{s:s, s:[s,s], s:{s:s, s:s}, s:i, s:b, s:n, s:{s:{s:[i,i]}}, s:s}",
				"ID", "0123456789abcdef", "Names", "a", "b", "Labels", "k", "v",
				"com.x", "y", "Size", 1234, "Running", 1, "Null", "State",
				"Nested", "List", 1, 2, "Status", "Up 2 seconds");
	if (!fmt)
		return 0;
	t = keel_template_parse(fmt, &err);
	if (t && keel_template_render(t, doc, &out, &err) == 0)
		free(out);
	keel_template_free(t);
	free(fmt);
	return 0;
}
