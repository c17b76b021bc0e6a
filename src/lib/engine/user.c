/* `-u user[:group]` and --group-add against the container's own /etc/passwd and /etc/group,
 * with the rules of runc's libcontainer/user (which dockerd uses):
 *  - a numeric uid or gid need not exist in the files; a name must;
 *  - a user found in passwd brings its primary gid unless a group is given;
 *  - supplementary groups come from /etc/group membership only when no group is given;
 *  - additionalGids starts with the primary gid, then memberships, then --group-add.
 * The files are opened with openat2(RESOLVE_IN_ROOT) below the rootfs fd, so a symlink
 * /etc/passwd -> /host/file in a hostile image resolves inside the rootfs. */
#include "engine/ocispec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Reads rootfs_fd/path (resolved inside the root); *out is NULL when the file is missing. */
static int read_in_root(int rootfs_fd, const char *path, char **out, keel_error_t *err)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	cleanup_close int fd = -1;
	cleanup_fclose FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0;

	*out = NULL;
	if (rootfs_fd < 0)
		return 0;
	fd = (int)syscall(SYS_openat2, rootfs_fd, path, &how, sizeof(how));
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : keel_err_sys(err, "open %s", path);
	if (!(f = fdopen(fd, "r")))
		return keel_err_sys(err, "open %s", path);
	fd = -1;
	/* getdelim reads the whole file: there is no NUL in a text database. */
	if (getdelim(&buf, &len, '\0', f) < 0 && ferror(f)) {
		free(buf);
		return keel_err_sys(err, "reading %s", path);
	}
	*out = buf ? buf : strdup("");
	return *out ? 0 : keel_msg(err, ENOMEM, "out of memory");
}

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && errno == 0 && *out <= UINT32_MAX;
}

/* Splits one "a:b:c:..." database line into up to n fields (in place). Returns the count. */
static size_t split_fields(char *line, char **f, size_t n)
{
	size_t k = 0;

	while (k < n) {
		f[k++] = line;
		if (!(line = strchr(line, ':')))
			break;
		*line++ = '\0';
	}
	return k;
}

/* Finds a passwd entry by name or (numeric) uid. Returns true and fills the fields. */
static bool passwd_find(char *text, const char *name, unsigned long uid, bool by_uid,
			char **pw_name, unsigned long *pw_uid, unsigned long *pw_gid)
{
	char *save = NULL;

	for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		unsigned long u, g;

		if (split_fields(l, f, 7) < 4 || !parse_id(f[2], &u) || !parse_id(f[3], &g))
			continue;
		if (by_uid ? u != uid : strcmp(f[0], name) != 0)
			continue;
		*pw_name = f[0], *pw_uid = u, *pw_gid = g;
		return true;
	}
	return false;
}

static int push_gid(struct keel_user *u, unsigned long gid, keel_error_t *err)
{
	gid_t *g = realloc(u->gids, (u->n_gids + 1) * sizeof(*g));

	if (!g)
		return keel_msg(err, ENOMEM, "out of memory");
	u->gids = g;
	u->gids[u->n_gids++] = (gid_t)gid;
	return 0;
}

/* Walks /etc/group: resolves `group` by name (when not NULL) into *gid, and, when member is
 * not NULL, appends the gid of every group listing `member`. Works on a private copy.
 * Returns 1 when `group` was found, 0 when not, -1 with *err on ENOMEM. */
static int group_scan(const char *text, const char *group, unsigned long *gid, const char *member,
		       struct keel_user *u, keel_error_t *err)
{
	cleanup_free char *copy = text ? strdup(text) : NULL;
	char *save = NULL;
	int found = 0;

	if (text && !copy)
		return keel_msg(err, ENOMEM, "out of memory");
	for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char *f[4], *msave = NULL;
		unsigned long g;

		if (split_fields(l, f, 4) < 3 || !parse_id(f[2], &g))
			continue;
		if (group && !found && strcmp(f[0], group) == 0) {
			*gid = g;
			found = 1;
		}
		for (char *m = member && f[3] ? strtok_r(f[3], ",", &msave) : NULL; m;
		     m = strtok_r(NULL, ",", &msave))
			if (strcmp(m, member) == 0 && push_gid(u, g, err) < 0)
				return -1;
	}
	return found;
}

static int resolve_group(const char *grtext, const char *g, unsigned long *gid, const char *what,
			 keel_error_t *err)
{
	int r;

	if (parse_id(g, gid))
		return 0;
	if ((r = group_scan(grtext, g, gid, NULL, NULL, err)) != 0)
		return r > 0 ? 0 : -1;
	return keel_msg(err, ENOENT, "%s %s: no matching entries in group file", what, g);
}

int keel_user_resolve(int rootfs_fd, const char *user, char *const *group_add,
		      struct keel_user *out, keel_error_t *err)
{
	cleanup_free char *pwtext = NULL, *grtext = NULL, *spec = strdup(user ? user : "");
	char *group = spec ? strchr(spec, ':') : NULL, *pw_name = NULL;
	unsigned long uid = 0, gid = 0, pw_uid, pw_gid;
	bool numeric, matched;

	memset(out, 0, sizeof(*out));
	if (!spec)
		return keel_msg(err, ENOMEM, "out of memory");
	if (group)
		*group++ = '\0';
	if (read_in_root(rootfs_fd, "/etc/passwd", &pwtext, err) < 0 ||
	    read_in_root(rootfs_fd, "/etc/group", &grtext, err) < 0)
		return -1;
	/* "" is root; a numeric user is looked up for its gid but need not exist. */
	numeric = !*spec || parse_id(spec, &uid);
	matched = passwd_find(pwtext, spec, uid, numeric, &pw_name, &pw_uid, &pw_gid);
	if (!numeric && !matched)
		return keel_msg(err, ENOENT, "unable to find user %s: no matching entries in passwd file",
				spec);
	if (matched)
		uid = pw_uid, gid = pw_gid;
	if (group && *group && resolve_group(grtext, group, &gid, "unable to find group", err) < 0)
		return -1;
	out->uid = (uid_t)uid, out->gid = (gid_t)gid;
	if (push_gid(out, gid, err) < 0)
		goto fail;
	if (matched && !(group && *group) && group_scan(grtext, NULL, NULL, pw_name, out, err) < 0)
		goto fail;
	for (size_t k = 0; group_add && group_add[k]; k++) {
		unsigned long g;

		if (resolve_group(grtext, group_add[k], &g, "Unable to find group", err) < 0 ||
		    push_gid(out, g, err) < 0)
			goto fail;
	}
	return 0;
fail:
	keel_user_clear(out);
	return -1;
}

void keel_user_clear(struct keel_user *u)
{
	if (!u)
		return;
	free(u->gids);
	memset(u, 0, sizeof(*u));
}
