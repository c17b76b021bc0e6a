/* Platform selection from an image index, as containerd's platforms matcher does it for the
 * common cases: os and architecture must match, a variant given must match, and without one
 * the arm64 "v8" / arm "v7" defaults are preferred over other variants. */
#include "registry/regclient.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "store/digest.h"

static const char *host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__)
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv)
	return "riscv64";
#else
	return "unknown";
#endif
}

int keel_platform_parse(const char *s, struct keel_platform *p, keel_error_t *err)
{
	char buf[100];
	char *arch, *variant;
	memset(p, 0, sizeof(*p));
	if (!s || !*s) {
		snprintf(p->os, sizeof(p->os), "linux");
		snprintf(p->arch, sizeof(p->arch), "%s", host_arch());
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return keel_err_user(err, EINVAL, "invalid platform \"%s\"", s);
	snprintf(buf, sizeof(buf), "%s", s);
	arch = strchr(buf, '/');
	if (!arch || arch == buf || !arch[1])
		return keel_err_user(err, EINVAL,
				     "invalid platform \"%s\": expected os/arch[/variant]", s);
	*arch++ = '\0';
	variant = strchr(arch, '/');
	if (variant)
		*variant++ = '\0';
	if (strlen(buf) >= sizeof(p->os) || strlen(arch) >= sizeof(p->arch) ||
	    (variant && (strlen(variant) >= sizeof(p->variant) || !*variant)))
		return keel_err_user(err, EINVAL, "invalid platform \"%s\"", s);
	snprintf(p->os, sizeof(p->os), "%s", buf);
	/* Docker accepts the common aliases */
	if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64"))
		arch = "amd64";
	else if (!strcmp(arch, "aarch64"))
		arch = "arm64";
	snprintf(p->arch, sizeof(p->arch), "%s", arch);
	snprintf(p->variant, sizeof(p->variant), "%s", variant ? variant : "");
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* Higher is better; -1 no match. */
static int score(json_t *m, const struct keel_platform *p)
{
	json_t *pl = json_object_get(m, "platform");
	const char *v = str(pl, "variant");
	if (strcmp(str(pl, "os"), p->os) != 0 || strcmp(str(pl, "architecture"), p->arch) != 0)
		return -1;
	if (p->variant[0])
		return strcmp(v, p->variant) == 0 ? 3 : -1;
	if (!v[0])
		return 2;
	if ((!strcmp(p->arch, "arm64") && !strcmp(v, "v8")) ||
	    (!strcmp(p->arch, "arm") && !strcmp(v, "v7")))
		return 2;
	return 1;
}

int keel_platform_select(json_t *index, const struct keel_platform *p, keel_error_t *err)
{
	json_t *ms = json_object_get(index, "manifests"), *m;
	char have[512] = "";
	int best = -1, best_score = -1;
	size_t i, used = 0;
	json_array_foreach (ms, i, m) {
		int sc = score(m, p);
		json_t *pl = json_object_get(m, "platform");
		if (sc > best_score) {
			best = (int)i;
			best_score = sc;
		}
		if (used < sizeof(have) - 1)
			used += (size_t)snprintf(
			    have + used, sizeof(have) - used, "%s%s/%s%s%s", used ? ", " : "",
			    str(pl, "os"), str(pl, "architecture"),
			    str(pl, "variant")[0] ? "/" : "", str(pl, "variant"));
		if (used >= sizeof(have))
			used = sizeof(have) - 1;
	}
	if (best < 0)
		return keel_err_user(
		    err, ENOENT,
		    "no matching manifest for %s/%s%s%s in the manifest list entries "
		    "(the index has: %s)",
		    p->os, p->arch, p->variant[0] ? "/" : "", p->variant,
		    have[0] ? have : "nothing");
	return best;
}
