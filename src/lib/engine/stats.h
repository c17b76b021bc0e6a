/* `docker stats`: one sample of a container's raw counters from its cgroup (v1 or v2) and
 * its init's network namespace, the row docker computes from two samples, and docker's
 * text for it. Also docker's go-units humanizers (sizes and "time ago"), used by ps,
 * images and system df as well.
 *
 * The numbers are docker's:
 *   CPU %      (container CPU ns delta) / (host CPU ns delta from /proc/stat, the first 7
 *              fields of the "cpu" line) x online CPUs x 100; 0 when either delta is 0.
 *   MEM USAGE  usage minus inactive file pages (v1: memory.stat total_inactive_file, v2:
 *              inactive_file), when that is smaller than usage.
 *   LIMIT      the cgroup limit, capped at the host's MemTotal (what dockerd shows for an
 *              unlimited container).
 *   MEM %      usage / limit x 100.
 *   NET I/O    rx / tx bytes of every interface but lo in /proc/<pid>/net/dev.
 *   BLOCK I/O  sum of the Read / Write entries of blkio io_service_bytes (v1: the bfq file
 *              when it has entries, else the throttle one) or rbytes / wbytes of io.stat.
 *   PIDS       pids.current.
 * Memory sizes print in binary units ("1.5MiB / 7.6GiB", go-units BytesSize), I/O in decimal
 * ones with 3 significant digits ("1.23kB / 0B", HumanSizeWithPrecision). */
#ifndef KEEL_STATS_H
#define KEEL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "runtime/cgroup.h"
#include "util/error.h"

/* Where one container's counters are. Zero fields mean the defaults. */
struct keel_stats_source {
	const char *cgroup_root;    /* NULL: /sys/fs/cgroup */
	enum keel_cgroup_mode mode; /* AUTO: v2 when cgroup_root is a cgroup2 mount, else v1 */
	const char *cgroup_path;    /* the container's path inside each hierarchy, "/keel/<id>" */
	pid_t pid;		    /* container init for net/dev; 0: no network numbers */
	const char *proc_root;	    /* NULL: /proc (for stat, meminfo, <pid>/net/dev) */
};

/* Raw counters at one instant. */
struct keel_stats_sample {
	struct timespec read;  /* CLOCK_MONOTONIC when taken */
	uint64_t cpu_total_ns; /* container CPU time */
	uint64_t system_ns;    /* host CPU time (docker's SystemUsage) */
	uint32_t online_cpus;
	uint64_t mem_usage; /* raw usage, cache included */
	uint64_t mem_limit; /* already capped at host memory */
	uint64_t mem_inactive_file;
	uint64_t net_rx, net_tx;
	uint64_t blk_read, blk_write;
	uint64_t pids;
};

/* The numbers one row of `docker stats` shows. */
struct keel_stats_row {
	double cpu_percent;
	double mem_usage; /* without inactive file pages */
	double mem_limit;
	double mem_percent;
	uint64_t net_rx, net_tx;
	uint64_t blk_read, blk_write;
	uint64_t pids;
};

/* The row as text, docker's way. */
struct keel_stats_text {
	char cpu_perc[32];  /* "12.34%" */
	char mem_usage[64]; /* "1.5MiB / 7.6GiB" */
	char mem_perc[32];  /* "0.02%" */
	char net_io[64];    /* "1.23kB / 0B" */
	char block_io[64];  /* "0B / 4.1kB" */
	char pids[24];	    /* "3" */
};

/* docker stats' default --format; render the header line with keel_stats_header_json(). */
#define KEEL_STATS_DEFAULT_FORMAT                                                                  \
	"table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t"        \
	"{{.BlockIO}}\t{{.PIDs}}"

/* Reads one sample. A missing controller file leaves its numbers 0 (as docker shows a
 * controller that is not mounted); only an unreadable /proc/stat or a missing cgroup is an
 * error. */
int keel_stats_read(const struct keel_stats_source *src, struct keel_stats_sample *out,
		    keel_error_t *err);

/* The row from a previous sample (NULL: CPU % is 0, as docker's first streamed row) and the
 * current one. */
void keel_stats_compute(const struct keel_stats_sample *prev, const struct keel_stats_sample *cur,
			struct keel_stats_row *row);

void keel_stats_format(const struct keel_stats_row *row, struct keel_stats_text *out);

/* The --format context: {"Container","ID","Name","CPUPerc","MemUsage","MemPerc","NetIO",
 * "BlockIO","PIDs"} (new reference). container is what the user typed (name or id). */
json_t *keel_stats_row_json(const struct keel_stats_row *row, const char *container, const char *id,
			    const char *name);

/* The same keys holding docker's column headers ("CONTAINER ID", "CPU %", ...). */
json_t *keel_stats_header_json(void);

/* --- go-units humanizers (each writes a NUL-terminated string into buf, returns buf) --- */

/* Decimal units, precision significant digits ("%.*g"): HumanSizeWithPrecision. docker
 * images / ps -s use precision 3 ("5.6MB"), go-units' HumanSize uses 4. */
char *keel_units_human_size(double size, int precision, char *buf, size_t len);

/* Binary units, 4 significant digits ("1.5MiB"): BytesSize. */
char *keel_units_bytes_size(double size, char *buf, size_t len);

/* HumanDuration: "Less than a second", "1 second", "5 seconds", "About a minute",
 * "3 minutes", "About an hour", "5 hours", "3 days", "2 weeks", "4 months", "2 years". */
char *keel_units_human_duration(double seconds, char *buf, size_t len);

/* "<HumanDuration(now - then)> ago", as docker ps' CREATED column. */
char *keel_units_time_ago(time_t then, time_t now, char *buf, size_t len);

#endif
