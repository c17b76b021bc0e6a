#!/usr/bin/env bats
# The per-container monitor (docs/monitor.md): the static keel-monitor executable and its
# memory, the container's exe protection, OOM kills, restarts from the steady-state monitor,
# and the json-file log options (rotation, compression, attrs, --details, --log-driver none).

load container_lib

# mon_kib PID FIELD: a field of /proc/PID/status in KiB
mon_kib() {
	awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

@test "monitor: the static keel-monitor, VmRSS under 1 MiB, its exe read-only" {
	local id pid exe rss
	id=$(k run -d busybox sleep 1000)
	pid=$(monitor_pid "$id")
	[[ -n $pid ]] || fail "no monitor pid"
	assert_eq "$(cat "/proc/$pid/comm")" "keel-monitor"
	# statically linked: no ld.so, no shared libraries in its maps
	run grep -cE '\.so(\.[0-9]+)*$' "/proc/$pid/maps"
	assert_eq "$output" "0"
	rss=$(mon_kib "$pid" VmRSS)
	((rss < 1024)) || fail "monitor VmRSS $rss KiB"
	echo "monitor VmRSS $rss KiB, RssAnon $(mon_kib "$pid" RssAnon) KiB" >&3
	# CVE-2019-5736: the container's init starts as a fork of the monitor, so the monitor
	# runs from a read-only bind of its binary (a reopen for writing once it stopped running
	# gets EROFS) or from a sealed memfd copy
	run python3 -c 'import os, sys
print("ro" if os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY else "rw")' "/proc/$pid/exe"
	[[ $output == ro || $(readlink "/proc/$pid/exe") == /memfd:* ]] ||
		fail "monitor exe: $output ($(readlink "/proc/$pid/exe"))"
	# the container's init is the monitor's child (reparented from the creating child)
	local init
	init=$(jq -r .pid "$KEEL_ROOT/containers/$id/monitor.json")
	assert_eq "$(awk '{print $4}' "/proc/$init/stat")" "$pid"
}

@test "monitor: OOM kill -> exit 137 and State.OOMKilled" {
	local id
	run k run --name oom --memory 8m --memory-swap 8m busybox \
		sh -c 'x=$(head -c 50000000 /dev/zero | tr "\0" a); echo survived'
	assert_status 137
	id=$(k inspect -f '{{.Id}}' oom)
	assert_jq "$(cat "$KEEL_ROOT/containers/$id/monitor.json")" '.oom_killed == true'
	assert_eq "$(k inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom)" "true 137"
	# a normal exit of the same kind of container is no OOM kill
	run k run --name fine --memory 8m --memory-swap 8m busybox sh -c 'exit 3'
	assert_status 3
	assert_eq "$(k inspect -f '{{.State.OOMKilled}}' fine)" "false"
}

@test "monitor: restarts (on-failure:2, always) come from the forked creator" {
	local id pid
	id=$(k run -d --restart on-failure:2 busybox sh -c 'echo run; exit 1')
	poll 20 sh -c "[ \"\$(jq -r .state '$KEEL_ROOT/containers/$id/monitor.json')\" = exited ]"
	assert_eq "$(k inspect -f '{{.RestartCount}} {{.State.ExitCode}}' "$id")" "2 1"
	assert_eq "$(k logs "$id" | grep -c run)" "3"
	id=$(k run -d --restart always busybox sh -c 'sleep 0.2; exit 0')
	pid=$(monitor_pid "$id")
	poll 20 sh -c "[ \"\$(jq -r .restart_count '$KEEL_ROOT/containers/$id/monitor.json')\" -ge 2 ]"
	# still the same monitor, still small after restarting
	assert_eq "$(monitor_pid "$id")" "$pid"
	rss=$(mon_kib "$pid" VmRSS)
	((rss < 1024)) || fail "monitor VmRSS after restarts $rss KiB"
	run k stop -t 1 "$id"
	assert_status 0
}

@test "log-opt: max-size/max-file/compress rotate into .gz files; logs reads them in order" {
	local id dir
	id=$(k run -d --log-opt max-size=2k --log-opt max-file=3 --log-opt compress=true busybox \
		sh -c 'i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done')
	run k wait "$id"
	assert_eq "$output" "0"
	dir=$KEEL_ROOT/containers/$id
	poll 5 test -e "$dir/$id-json.log.2.gz"
	[[ ! -e $dir/$id-json.log.3.gz ]] || fail "more than max-file files"
	gzip -t "$dir/$id-json.log.1.gz"
	run k logs "$id"
	assert_status 0
	# the newest lines, in order, ending with the last one
	assert_eq "$(tail -1 <<<"$output")" "line 199"
	local prev=-1 n
	while read -r _ n; do
		[[ $prev -lt 0 || $n -eq $((prev + 1)) ]] || fail "out of order: $prev then $n"
		prev=$n
	done <<<"$output"
	run k logs --tail 3 "$id"
	assert_eq "$output" "$(printf 'line 197\nline 198\nline 199')"
	assert_eq "$(k inspect -f '{{json .HostConfig.LogConfig}}' "$id")" \
		'{"Type":"json-file","Config":{"compress":"true","max-file":"3","max-size":"2k"}}'
}

@test "log-opt: labels/env become attrs; logs --details prints them" {
	local id
	id=$(k run -d -l app=web -l other=x -e FOO='a b' -e BAR=2 --log-opt labels=app,nope \
		--log-opt env-regex='^FO' busybox sh -c 'echo hi; echo oops >&2')
	k wait "$id" >/dev/null
	run grep -c '"attrs":{"FOO":"a b","app":"web"}' "$KEEL_ROOT/containers/$id/$id-json.log"
	assert_eq "$output" "2"
	run --separate-stderr k logs --details "$id"
	assert_eq "$output" "FOO=a+b,app=web hi"
	assert_eq "$stderr" "FOO=a+b,app=web oops"
	run k logs "$id"
	assert_contains "$output" "hi"
	assert_not_contains "$output" "app=web"
}

@test "log-opt: tag= is a template over the container's fields (docker's ID, Name, ImageName...)" {
	local id
	id=$(k run -d --name tg --log-opt 'tag={{.Name}}/{{.ImageName}}/{{.ID}}/{{.DaemonName}}' \
		busybox echo hi)
	k wait "$id" >/dev/null
	run grep -c "\"attrs\":{\"tag\":\"tg/busybox/${id:0:12}/keel\"}" "$KEEL_ROOT/containers/$id/$id-json.log"
	assert_eq "$output" "1"
	run k logs --details tg
	assert_eq "$output" "tag=tg%2Fbusybox%2F${id:0:12}%2Fkeel hi"
	# a tag that is no template is kept as it is; a broken one fails the start (125)
	run k run --rm --log-opt tag=plain busybox true
	assert_status 0
	run k run --rm --log-opt 'tag={{.Name' busybox true
	assert_status 125
	assert_contains "$output" "log-opt tag"
	assert_eq "$(k ps -aq --filter name=tg)" "$(k inspect -f '{{.Id}}' tg | cut -c1-12)"
}

@test "log-driver: none writes nothing and logs refuses; others are refused" {
	local id
	run k run --name nolog --log-driver none busybox echo hi
	assert_status 0
	assert_eq "$output" "hi"
	id=$(k inspect -f '{{.Id}}' nolog)
	run ls "$KEEL_ROOT/containers/$id"
	assert_not_contains "$output" "json.log"
	assert_eq "$(k inspect -f '{{.HostConfig.LogConfig.Type}}:{{.LogPath}}' nolog)" "none:"
	run k logs nolog
	assert_status 1
	assert_contains "$output" "configured logging driver does not support reading"
	run k run --rm --log-driver syslog busybox true
	assert_status 125
	assert_contains "$output" "logger: no log driver named 'syslog' is registered"
	run k run --rm --log-opt max-file=2 --log-opt bogus=1 busybox true
	assert_status 125
	assert_contains "$output" "unknown log opt 'bogus' for json-file log driver"
}
