/* `docker stats` numbers and docker's humanizers (see stats.h). */
#include "engine/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

struct reader {
	const char *root;
	const char *path;
	bool v2;
};

/* Reads <root>[/<controller>]<path>/<file>; NULL when missing (the caller's numbers stay 0). */
static char *cg_read(const struct reader *r, const char *controller, const char *file)
{
	char p[4096];
	char *buf = NULL;
	keel_error_t ignored;
	if (r->v2)
		snprintf(p, sizeof(p), "%s/%s/%s", r->root, r->path, file);
	else
		snprintf(p, sizeof(p), "%s/%s/%s/%s", r->root, controller, r->path, file);
	if (keel_read_file(p, &buf, &ignored) < 0)
		return NULL;
	return buf;
}

static uint64_t cg_u64(const struct reader *r, const char *controller, const char *file)
{
	cleanup_free char *s = cg_read(r, controller, file);
	return s ? strtoull(s, NULL, 10) : 0;
}

/* The value of "key N" in a flat keyed file (memory.stat, cpu.stat); 0 when absent. */
static uint64_t keyed(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
	return 0;
}

/* Sums "<maj:min> Read N" / "Write N" lines (v1 io_service_bytes). Returns the number of
 * device lines seen, so an empty bfq file can fall back to the throttle one. */
static int sum_blkio_v1(const char *text, uint64_t *rd, uint64_t *wr)
{
	int n = 0;
	char op[32];
	unsigned long long v;
	*rd = *wr = 0;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, "%*u:%*u %31s %llu", op, &v) != 2)
			continue;
		n++;
		if (strcasecmp(op, "read") == 0)
			*rd += v;
		else if (strcasecmp(op, "write") == 0)
			*wr += v;
	}
	return n;
}

/* Sums rbytes= / wbytes= over io.stat's device lines (v2). */
static void sum_io_v2(const char *text, uint64_t *rd, uint64_t *wr)
{
	const char *p;
	*rd = *wr = 0;
	for (p = text; p && (p = strstr(p, "rbytes=")); p += 7)
		*rd += strtoull(p + 7, NULL, 10);
	for (p = text; p && (p = strstr(p, "wbytes=")); p += 7)
		*wr += strtoull(p + 7, NULL, 10);
}

static void read_blkio(const struct reader *r, struct keel_stats_sample *s)
{
	static const char *const v1_files[] = { "blkio.io_service_bytes_recursive",
						"blkio.throttle.io_service_bytes_recursive",
						"blkio.throttle.io_service_bytes" };
	if (r->v2) {
		cleanup_free char *t = cg_read(r, NULL, "io.stat");
		sum_io_v2(t, &s->blk_read, &s->blk_write);
		return;
	}
	for (size_t i = 0; i < sizeof(v1_files) / sizeof(v1_files[0]); i++) {
		cleanup_free char *t = cg_read(r, "blkio", v1_files[i]);
		if (t && sum_blkio_v1(t, &s->blk_read, &s->blk_write) > 0)
			return;
	}
}

static void read_memory(const struct reader *r, struct keel_stats_sample *s)
{
	cleanup_free char *stat = NULL;
	cleanup_free char *max = NULL;
	if (r->v2) {
		s->mem_usage = cg_u64(r, NULL, "memory.current");
		max = cg_read(r, NULL, "memory.max");
		s->mem_limit =
		    max && strncmp(max, "max", 3) != 0 ? strtoull(max, NULL, 10) : UINT64_MAX;
		stat = cg_read(r, NULL, "memory.stat");
		s->mem_inactive_file = stat ? keyed(stat, "inactive_file") : 0;
		return;
	}
	s->mem_usage = cg_u64(r, "memory", "memory.usage_in_bytes");
	s->mem_limit = cg_u64(r, "memory", "memory.limit_in_bytes");
	stat = cg_read(r, "memory", "memory.stat");
	s->mem_inactive_file = stat ? keyed(stat, "total_inactive_file") : 0;
}

static void read_cpu_pids(const struct reader *r, struct keel_stats_sample *s)
{
	if (r->v2) {
		cleanup_free char *stat = cg_read(r, NULL, "cpu.stat");
		s->cpu_total_ns = stat ? keyed(stat, "usage_usec") * 1000 : 0;
	} else {
		s->cpu_total_ns = cg_u64(r, "cpuacct", "cpuacct.usage");
	}
	s->pids = cg_u64(r, "pids", "pids.current");
}

/* docker's SystemUsage: user+nice+system+idle+iowait+irq+softirq of /proc/stat's "cpu" line,
 * in ns. */
static int read_system(const char *proc, struct keel_stats_sample *s, keel_error_t *err)
{
	char p[4096];
	cleanup_free char *text = NULL;
	unsigned long long f[7];
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t ticks = 0;
	snprintf(p, sizeof(p), "%s/stat", proc);
	if (keel_read_file(p, &text, err) < 0)
		return keel_err_wrap(err, "stats");
	if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3],
		   &f[4], &f[5], &f[6]) != 7)
		return keel_err(err, EINVAL, "stats: %s: no cpu line", p);
	for (int i = 0; i < 7; i++)
		ticks += f[i];
	s->system_ns = ticks * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
	s->online_cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	return 0;
}

static uint64_t host_memory(const char *proc)
{
	char p[4096];
	cleanup_free char *text = NULL;
	keel_error_t ignored;
	const char *m;
	snprintf(p, sizeof(p), "%s/meminfo", proc);
	if (keel_read_file(p, &text, &ignored) < 0 || !(m = strstr(text, "MemTotal:")))
		return 0;
	return strtoull(m + 9, NULL, 10) * 1024;
}

/* rx/tx bytes of every interface but lo in <proc>/<pid>/net/dev. */
static void read_net(const char *proc, pid_t pid, struct keel_stats_sample *s)
{
	char p[4096];
	cleanup_free char *text = NULL;
	keel_error_t ignored;
	snprintf(p, sizeof(p), "%s/%d/net/dev", proc, (int)pid);
	if (keel_read_file(p, &text, &ignored) < 0)
		return;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');
		char *name = line;
		unsigned long long rx, tx;
		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		while (*name == ' ')
			name++;
		if (strcmp(name, "lo") == 0)
			continue;
		/* rx: bytes packets errs drop fifo frame compressed multicast; then tx bytes */
		if (sscanf(colon + 1, "%llu %*u %*u %*u %*u %*u %*u %*u %llu", &rx, &tx) == 2) {
			s->net_rx += rx;
			s->net_tx += tx;
		}
	}
}

static bool is_cgroup2(const char *root)
{
	struct statfs fs;
	return statfs(root, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

int keel_stats_read(const struct keel_stats_source *src, struct keel_stats_sample *s,
		    keel_error_t *err)
{
	const char *proc = src->proc_root ? src->proc_root : "/proc";
	struct reader r = { .root = src->cgroup_root ? src->cgroup_root : "/sys/fs/cgroup",
			    .path = src->cgroup_path ? src->cgroup_path : "" };
	char probe[4096];
	uint64_t host;
	*s = (struct keel_stats_sample){ 0 };
	r.v2 = src->mode == KEEL_CGROUP_V2 || (src->mode == KEEL_CGROUP_AUTO && is_cgroup2(r.root));
	/* The pids hierarchy is in every container's set; v1 without it falls back to memory. */
	if (r.v2)
		snprintf(probe, sizeof(probe), "%s/%s", r.root, r.path);
	else
		snprintf(probe, sizeof(probe), "%s/memory/%s", r.root, r.path);
	if (access(probe, F_OK) < 0)
		return keel_err_sys(err, "stats: cgroup %s", probe);
	clock_gettime(CLOCK_MONOTONIC, &s->read);
	if (read_system(proc, s, err) < 0)
		return -1;
	read_cpu_pids(&r, s);
	read_memory(&r, s);
	read_blkio(&r, s);
	if (src->pid > 0)
		read_net(proc, src->pid, s);
	/* dockerd shows the machine's memory as the limit of an unlimited container. */
	host = host_memory(proc);
	if (host && s->mem_limit > host)
		s->mem_limit = host;
	return 0;
}

void keel_stats_compute(const struct keel_stats_sample *prev, const struct keel_stats_sample *cur,
			struct keel_stats_row *row)
{
	*row = (struct keel_stats_row){ 0 };
	if (prev && cur->cpu_total_ns > prev->cpu_total_ns && cur->system_ns > prev->system_ns) {
		double cpu = (double)(cur->cpu_total_ns - prev->cpu_total_ns);
		double sys = (double)(cur->system_ns - prev->system_ns);
		row->cpu_percent = cpu / sys * (double)cur->online_cpus * 100.0;
	}
	row->mem_usage = (double)cur->mem_usage;
	if (cur->mem_inactive_file < cur->mem_usage)
		row->mem_usage = (double)(cur->mem_usage - cur->mem_inactive_file);
	row->mem_limit = (double)cur->mem_limit;
	if (cur->mem_limit)
		row->mem_percent = row->mem_usage / row->mem_limit * 100.0;
	row->net_rx = cur->net_rx;
	row->net_tx = cur->net_tx;
	row->blk_read = cur->blk_read;
	row->blk_write = cur->blk_write;
	row->pids = cur->pids;
}

void keel_stats_format(const struct keel_stats_row *row, struct keel_stats_text *t)
{
	char a[32], b[32];
	snprintf(t->cpu_perc, sizeof(t->cpu_perc), "%.2f%%", row->cpu_percent);
	snprintf(t->mem_usage, sizeof(t->mem_usage), "%s / %s",
		 keel_units_bytes_size(row->mem_usage, a, sizeof(a)),
		 keel_units_bytes_size(row->mem_limit, b, sizeof(b)));
	snprintf(t->mem_perc, sizeof(t->mem_perc), "%.2f%%", row->mem_percent);
	snprintf(t->net_io, sizeof(t->net_io), "%s / %s",
		 keel_units_human_size((double)row->net_rx, 3, a, sizeof(a)),
		 keel_units_human_size((double)row->net_tx, 3, b, sizeof(b)));
	snprintf(t->block_io, sizeof(t->block_io), "%s / %s",
		 keel_units_human_size((double)row->blk_read, 3, a, sizeof(a)),
		 keel_units_human_size((double)row->blk_write, 3, b, sizeof(b)));
	snprintf(t->pids, sizeof(t->pids), "%" PRIu64, row->pids);
}

json_t *keel_stats_row_json(const struct keel_stats_row *row, const char *container, const char *id,
			    const char *name)
{
	struct keel_stats_text t;
	keel_stats_format(row, &t);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Container", container, "ID", id,
			 "Name", name, "CPUPerc", t.cpu_perc, "MemUsage", t.mem_usage, "MemPerc",
			 t.mem_perc, "NetIO", t.net_io, "BlockIO", t.block_io, "PIDs", t.pids);
}

json_t *keel_stats_header_json(void)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Container", "CONTAINER", "ID",
			 "CONTAINER ID", "Name", "NAME", "CPUPerc", "CPU %", "MemUsage",
			 "MEM USAGE / LIMIT", "MemPerc", "MEM %", "NetIO", "NET I/O", "BlockIO",
			 "BLOCK I/O", "PIDs", "PIDS");
}

/* go-units' CustomSize: divide by base while size >= base, then format with the unit. C's
 * %g prints as Go's %g does for these magnitudes (shortest, no trailing zeros). */
static char *custom_size(double size, double base, const char *const *units, size_t nunits,
			 int precision, char *buf, size_t len)
{
	size_t i = 0;
	while (size >= base && i + 1 < nunits) {
		size /= base;
		i++;
	}
	snprintf(buf, len, "%.*g%s", precision, size, units[i]);
	return buf;
}

char *keel_units_human_size(double size, int precision, char *buf, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
	return custom_size(size, 1000.0, units, 9, precision, buf, len);
}

char *keel_units_bytes_size(double size, char *buf, size_t len)
{
	static const char *const units[] = { "B",   "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB", "ZiB", "YiB" };
	return custom_size(size, 1024.0, units, 9, 4, buf, len);
}

char *keel_units_human_duration(double seconds, char *buf, size_t len)
{
	long s = (long)seconds, m = (long)(seconds / 60), h = (long)(seconds / 3600 + 0.5);
	if (s < 1)
		snprintf(buf, len, "Less than a second");
	else if (s == 1)
		snprintf(buf, len, "1 second");
	else if (s < 60)
		snprintf(buf, len, "%ld seconds", s);
	else if (m == 1)
		snprintf(buf, len, "About a minute");
	else if (m < 60)
		snprintf(buf, len, "%ld minutes", m);
	else if (h == 1)
		snprintf(buf, len, "About an hour");
	else if (h < 48)
		snprintf(buf, len, "%ld hours", h);
	else if (h < 24 * 7 * 2)
		snprintf(buf, len, "%ld days", h / 24);
	else if (h < 24 * 30 * 2)
		snprintf(buf, len, "%ld weeks", h / 24 / 7);
	else if (h < 24 * 365 * 2)
		snprintf(buf, len, "%ld months", h / 24 / 30);
	else
		snprintf(buf, len, "%ld years", (long)(seconds / 3600) / 24 / 365);
	return buf;
}

char *keel_units_time_ago(time_t then, time_t now, char *buf, size_t len)
{
	char d[64];
	snprintf(buf, len, "%s ago", keel_units_human_duration(difftime(now, then), d, sizeof(d)));
	return buf;
}
