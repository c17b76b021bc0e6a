#include "runtime/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int keel_caps_drop_bounding(const struct keel_spec_caps *c, keel_error_t *err)
{
	int last = keel_cap_last();
	for (int cap = 0; cap <= last; cap++) {
		if (c->bounding & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return keel_err_sys(err, "dropping %s from the bounding set",
					    keel_cap_name(cap));
	}
	return 0;
}

int keel_caps_apply(const struct keel_spec_caps *c, keel_error_t *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	int last = keel_cap_last();

	for (int i = 0; i < 2; i++) {
		data[i].effective = (__u32)(c->effective >> (32 * i));
		data[i].permitted = (__u32)(c->permitted >> (32 * i));
		data[i].inheritable = (__u32)(c->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return keel_err_sys(err, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return keel_err_sys(err, "clearing ambient capabilities");
	for (int cap = 0; cap <= last; cap++) {
		if (!(c->ambient & (1ULL << cap)))
			continue;
		/* The kernel refuses ambient caps that are not both permitted and inheritable;
		 * runc ignores those, so do we. */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
			return keel_err_sys(err, "raising ambient %s", keel_cap_name(cap));
	}
	return 0;
}
