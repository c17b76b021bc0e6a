#!/usr/bin/env bats
# Containers from images: run (exit codes, -d, -i, -t, --rm), ps, logs, stop, kill, rm, names,
# restart policies, exec, inspect, pause, wait, prune, crash reconciliation, bad input.
# Private data and run roots per file; every container removed (by id) after each test, and
# the test fails if a monitor, a cgroup or a mount of it is left.

load container_lib

@test "run: output and the container's exit code" {
	run k run --rm busybox echo hello
	assert_status 0
	assert_eq "$output" "hello"
	run k run --rm busybox sh -c 'exit 3'
	assert_status 3
	# (a signal from inside cannot kill pid 1: the inner shell dies)
	run k run --rm busybox sh -c 'sh -c "kill -9 \$\$"; exit $?'
	assert_status 137
}

@test "run: 125 for keel's errors, 126 cannot invoke, 127 not found; one line each" {
	before=$(ls "$KEEL_ROOT/containers" 2>/dev/null | sort)
	kq run --rm busybox nonexistent-cmd
	assert_status 127
	assert_contains "$stderr" "nonexistent-cmd"
	assert_eq "$(wc -l <<<"$stderr")" 1
	kq run --rm busybox /etc
	assert_status 126
	kq run --rm no-such-image
	assert_status 125
	assert_eq "$stderr" "keel: Error response from daemon: No such image: no-such-image:latest"
	kq run --rm --no-such-flag busybox true
	assert_status 125
	assert_contains "$stderr" "unknown flag: --no-such-flag"
	kq run --rm -m abc busybox true
	assert_status 125
	kq run
	assert_status 125
	# nothing was created by any of them
	assert_eq "$(ls "$KEEL_ROOT/containers" 2>/dev/null | sort)" "$before"
	assert_eq "$(k ps -aq)" ""
}

@test "run --rm leaves nothing: no directory, no cgroup, no mount, no record" {
	run k run --rm --name gone busybox sh -c 'cat /proc/self/cgroup | grep -c keel'
	assert_status 0
	assert_eq "$(k ps -aq)" ""
	assert_eq "$(ls "$KEEL_ROOT/containers")" ""
	run grep -c overlay /proc/self/mountinfo
	# the rootfs never showed up in the host's mount table
	assert_not_contains "$(cat /proc/self/mountinfo)" "$KEEL_ROOT"
}

@test "run -d, ps, logs, stop, rm" {
	kq run -d --name web busybox sh -c 'echo out; echo err >&2; exec sleep 1000'
	assert_status 0
	id=$output
	assert_match "$id" '^[0-9a-f]{64}$'
	run k ps
	assert_status 0
	assert_contains "${lines[0]}" "CONTAINER ID   IMAGE     COMMAND"
	assert_contains "${lines[1]}" "${id:0:12}   busybox   \"sh -c 'echo out; e…"
	assert_contains "${lines[1]}" "Up "
	assert_contains "${lines[1]}" "web"
	poll 5 bash -c "[[ \$('$KEEL' logs web 2>&1) == *err* ]]"
	run k logs web
	assert_contains "$output" "out"
	kq logs web
	assert_eq "$output" "out"
	assert_eq "$stderr" "err"
	run k logs -t --tail 1 web
	assert_match "$output" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z (out|err)$'
	# the image's mount is not in the host's table while it runs
	assert_not_contains "$(cat /proc/self/mountinfo)" "$id"
	run k stop -t 1 web
	assert_status 0
	assert_eq "$output" "web"
	# sleep is pid 1 and has no SIGTERM handler: killed after the timeout, as with docker
	run k ps -a --format '{{.Names}} {{.Status}}'
	assert_match "$output" '^web Exited \(137\) '
	run k rm web
	assert_status 0
	assert_eq "$output" "web"
	assert_eq "$(leftovers "$id")" ""
	run k rm web
	assert_status 1
	assert_eq "$output" "Error response from daemon: No such container: web"
}

@test "stop: STOPSIGNAL, then SIGKILL after -t" {
	id=$(k run -d --stop-signal USR1 busybox sh -c 'trap "echo got usr1; exit 9" USR1; while :; do sleep 0.1; done')
	sleep 0.3
	run k stop "$id"
	assert_status 0
	run k inspect -f '{{.State.ExitCode}}' "$id"
	assert_eq "$output" "9"
	run k logs "$id"
	assert_eq "$output" "got usr1"
	# sh as pid 1 ignores SIGTERM: killed after the timeout
	id=$(k run -d busybox sleep 1000)
	start=$SECONDS
	run k stop -t 1 "$id"
	assert_status 0
	((SECONDS - start < 5))
	assert_eq "$(k inspect -f '{{.State.ExitCode}}' "$id")" "137"
}

@test "names: --name, conflicts, random names, rename, prefixes" {
	kq run -d --name alpha busybox sleep 1000
	assert_status 0
	id=$output
	kq run -d --name alpha busybox sleep 1000
	assert_status 125
	assert_contains "$stderr" 'Conflict. The container name "/alpha" is already in use by container "'"$id"'"'
	kq run -d --name 'bad name' busybox true
	assert_status 125
	assert_contains "$stderr" "Invalid container name"
	id2=$(k create busybox true)
	name=$(k inspect -f '{{.Name}}' "$id2")
	assert_match "$name" '^/[a-z]+_[a-z]+[0-9]?$'
	run k rename alpha beta
	assert_status 0
	assert_eq "$(k inspect -f '{{.Name}}' "${id:0:8}")" "/beta"
	run k rename "${id2:0:12}" beta
	assert_status 1
	assert_contains "$output" "Conflict"
	run k inspect -f '{{.Id}}' /beta
	assert_eq "$output" "$id"
}

@test "restart policies: on-failure:N, always, no restart after stop" {
	id=$(k run -d --restart on-failure:2 busybox sh -c 'echo run; exit 1')
	poll 10 bash -c "[[ \$('$KEEL' inspect -f '{{.State.Status}}' $id) == exited ]]"
	assert_eq "$(k inspect -f '{{.RestartCount}} {{.State.ExitCode}}' "$id")" "2 1"
	assert_eq "$(k logs "$id" | grep -c run)" "3"
	assert_eq "$(k inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$id")" "on-failure 2"
	id=$(k run -d --restart always busybox sh -c 'sleep 0.2; exit 0')
	poll 10 bash -c "(( \$('$KEEL' inspect -f '{{.RestartCount}}' $id) >= 2 ))"
	run k stop -t 1 "$id"
	assert_status 0
	n=$(k inspect -f '{{.RestartCount}}' "$id")
	sleep 0.6
	assert_eq "$(k inspect -f '{{.State.Status}} {{.RestartCount}}' "$id")" "exited $n"
}

@test "exec: -e, -w, -u, exit codes, -d, not running" {
	id=$(k run -d --name ex busybox sleep 1000)
	run k exec -e FOO=bar ex sh -c 'echo $FOO'
	assert_eq "$output" "bar"
	run k exec -w /tmp ex pwd
	assert_eq "$output" "/tmp"
	run k exec -u nobody ex id -u
	assert_eq "$output" "65534"
	run k exec ex sh -c 'exit 4'
	assert_status 4
	kq exec ex nonexistent
	assert_status 127
	run k exec -d ex sh -c 'echo detached > /tmp/d'
	assert_status 0
	poll 5 k exec ex test -f /tmp/d
	echo piped | k exec -i ex cat >"$BATS_TEST_TMPDIR/cat.out"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/cat.out")" "piped"
	k stop -t 0 ex >/dev/null
	kq exec ex true
	assert_status 1
	assert_contains "$stderr" "is not running"
}

@test "inspect: docker's fields" {
	id=$(k run -d --name insp -e A=1 -l tier=web --restart on-failure:3 -w /tmp busybox sleep 1000)
	run k inspect insp
	assert_status 0
	assert_jq "$output" '.[0].Id == "'"$id"'"'
	assert_jq "$output" '.[0].Name == "/insp"'
	assert_jq "$output" '.[0].Path == "sleep" and .[0].Args == ["1000"]'
	assert_jq "$output" '.[0].State.Status == "running" and .[0].State.Running == true'
	assert_jq "$output" '.[0].State.Pid > 0 and .[0].State.Paused == false'
	assert_jq "$output" '.[0].State.StartedAt | test("^20[0-9-]+T")'
	assert_jq "$output" '.[0].State.FinishedAt == "0001-01-01T00:00:00Z"'
	assert_jq "$output" '.[0].Image | startswith("sha256:")'
	assert_jq "$output" '.[0].Config.Image == "busybox" and .[0].Config.Labels.tier == "web"'
	assert_jq "$output" '.[0].Config.Env | index("A=1") != null'
	assert_jq "$output" '.[0].Config.WorkingDir == "/tmp" and .[0].Config.Tty == false'
	assert_jq "$output" '.[0].HostConfig.RestartPolicy == {"Name":"on-failure","MaximumRetryCount":3}'
	assert_jq "$output" '.[0].HostConfig.NetworkMode == "none"'
	assert_jq "$output" '.[0].RestartCount == 0 and .[0].Mounts == []'
	assert_jq "$output" '.[0].NetworkSettings.Networks | has("none")'
	pid=$(k inspect -f '{{.State.Pid}}' insp)
	assert_eq "$(cat /proc/$pid/comm)" "sleep"
	# /etc files bind-mounted as docker does
	run k exec insp cat /etc/hostname
	assert_eq "$output" "${id:0:12}"
	run k exec insp grep -c localhost /etc/hosts
	assert_status 0
	run k inspect nothing-here
	assert_status 1
	assert_contains "$output" "No such object: nothing-here"
}

@test "ps: -a, -q, -l, -n, --no-trunc, --filter, --format" {
	a=$(k run -d --name pa -l role=db busybox sleep 1000)
	b=$(k create --name pb busybox true)
	c=$(k run --name pc busybox sh -c 'exit 2'; true)
	run k ps -q
	assert_eq "$output" "${a:0:12}"
	run k ps -aq --no-trunc
	assert_eq "$(sort <<<"$output")" "$(printf '%s\n' "$a" "$b" "$(k inspect -f '{{.Id}}' pc)" | sort)"
	run k ps -l --format '{{.Names}}'
	assert_eq "$output" "pc"
	run k ps -n 2 --format '{{.Names}}'
	assert_eq "$output" "$(printf 'pc\npb')"
	run k ps -a --filter status=created --format '{{.Names}} {{.Status}}'
	assert_eq "$output" "pb Created"
	run k ps -a --filter status=exited --format '{{.Names}} {{.State}}'
	assert_eq "$output" "pc exited"
	run k ps --filter label=role=db -q
	assert_eq "$output" "${a:0:12}"
	run k ps -a --filter name=pb --format '{{.ID}}'
	assert_eq "$output" "${b:0:12}"
	run k ps -a --filter ancestor=busybox -q
	assert_eq "$(wc -l <<<"$output")" 3
	run k ps -a --filter exited=2 --format '{{.Names}}'
	assert_eq "$output" "pc"
	run k ps --format 'table {{.Image}}\t{{.Names}}'
	assert_eq "${lines[0]}" "IMAGE     NAMES"
	assert_eq "${lines[1]}" "busybox   pa"
	run k ps --format '{{.Command}}|{{.CreatedAt}}'
	assert_match "$output" '^"sleep 1000"\|20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} [-+][0-9]{4} '
}

@test "kill -s, wait, pause/unpause, start -a, create + start, restart" {
	id=$(k run -d busybox sh -c 'trap "exit 12" HUP; while :; do sleep 0.1; done')
	sleep 0.3
	run k kill -s HUP "$id"
	assert_status 0
	run k wait "$id"
	assert_eq "$output" "12"
	run k kill "$id"
	assert_status 1
	assert_contains "$output" "is not running"
	id=$(k run -d busybox sleep 1000)
	run k pause "$id"
	assert_status 0
	assert_eq "$(k inspect -f '{{.State.Status}} {{.State.Paused}}' "$id")" "paused true"
	run k ps --format '{{.Status}}'
	assert_contains "$output" "(Paused)"
	run k unpause "$id"
	assert_status 0
	assert_eq "$(k inspect -f '{{.State.Status}}' "$id")" "running"
	pid1=$(k inspect -f '{{.State.Pid}}' "$id")
	run k restart -t 0 "$id"
	assert_status 0
	pid2=$(k inspect -f '{{.State.Pid}}' "$id")
	[[ $pid1 != "$pid2" && $pid2 -gt 0 ]]
	id=$(k create busybox sh -c 'echo created-then-started; exit 6')
	assert_eq "$(k inspect -f '{{.State.Status}}' "$id")" "created"
	run k start -a "$id"
	assert_status 6
	assert_eq "$output" "created-then-started"
	run k start "$id"
	assert_status 0
	run k wait "$id"
	assert_eq "$output" "6"
}

@test "rm: refuses a running container without -f; prune removes stopped ones" {
	id=$(k run -d busybox sleep 1000)
	kq rm "$id"
	assert_status 1
	assert_contains "$stderr" "You cannot remove a running container $id"
	run k rm -f "$id"
	assert_status 0
	assert_eq "$(leftovers "$id")" ""
	s=$(k run -d busybox true)
	k wait "$s" >/dev/null
	r=$(k run -d busybox sleep 1000)
	run k container prune -f
	assert_status 0
	assert_contains "$output" "$s"
	assert_not_contains "$output" "$r"
	assert_eq "$(k container ls -q)" "${r:0:12}"
}

@test "run -i: stdin reaches the container and its end closes it" {
	run bash -c "printf 'one\ntwo\n' | '$KEEL' run --rm -i busybox wc -l"
	assert_status 0
	assert_eq "$output" "2"
	# without -i the container's stdin is empty
	run bash -c "echo x | '$KEEL' run --rm busybox cat"
	assert_eq "$output" ""
}

@test "run -it through a pty: tty, window size, Ctrl-C, exit code, detach keys" {
	command -v script >/dev/null || skip "script(1) not installed"
	run bash -c "(sleep 4) | script -qec \"stty rows 33 cols 91; '$KEEL' run --rm -it busybox sh -c 'tty; stty size; exit 5'\" /dev/null"
	assert_status 5
	assert_contains "$output" "/dev/pts/0"
	assert_contains "$output" "33 91"
	# Ctrl-C is a byte for the container's terminal: it interrupts the foreground sleep
	run bash -c "(sleep 1; printf '\003'; sleep 1) | script -qec \"'$KEEL' run --rm -it busybox sh -c 'sleep 30; echo after'\" /dev/null"
	assert_status 130
	# exec -it gets a pty of its own, sized like ours
	k run -d --name xt busybox sleep 1000 >/dev/null
	run bash -c "(sleep 4) | script -qec \"stty rows 21 cols 77; '$KEEL' exec -it xt sh -c 'tty; stty size; exit 4'\" /dev/null"
	assert_status 4
	assert_contains "$output" "/dev/pts/"
	assert_contains "$output" "21 77"
	# ctrl-p ctrl-q detaches: the container runs on
	run bash -c "(sleep 1; printf '\020\021'; sleep 0.5) | script -qec \"'$KEEL' run -it --name det busybox sh\" /dev/null"
	assert_status 0
	assert_eq "$(k inspect -f '{{.State.Status}}' det)" "running"
	k rm -f det >/dev/null
}

@test "run -it in tmux: window resize reaches the container" {
	command -v tmux >/dev/null || skip "tmux not installed"
	local sock=keel-ctr-$$
	tmux -L "$sock" new-session -d -x 100 -y 30 "'$KEEL' run -it --name rz busybox sh"
	poll 10 bash -c "[[ \$('$KEEL' inspect -f '{{.State.Status}}' rz 2>/dev/null) == running ]]"
	sleep 0.3
	tmux -L "$sock" send-keys 'stty size' Enter
	poll 5 bash -c "tmux -L $sock capture-pane -p | grep -q '30 100'"
	tmux -L "$sock" resize-window -x 120 -y 40
	sleep 0.3
	tmux -L "$sock" send-keys 'stty size' Enter
	poll 5 bash -c "tmux -L $sock capture-pane -p | grep -q '40 120'" || {
		tmux -L "$sock" kill-server
		return 1
	}
	tmux -L "$sock" send-keys 'exit 3' Enter
	poll 5 bash -c "[[ \$('$KEEL' inspect -f '{{.State.Status}}' rz) == exited ]]"
	tmux -L "$sock" kill-server 2>/dev/null || true
	assert_eq "$(k inspect -f '{{.State.ExitCode}}' rz)" "3"
}

@test "a killed monitor: ps reconciles, the container is reported exited (137)" {
	id=$(k run -d --name orphan busybox sleep 1000)
	mpid=$(monitor_pid "$id")
	[[ -n $mpid ]]
	cpid=$(k inspect -f '{{.State.Pid}}' "$id")
	kill -9 "$mpid"
	sleep 0.2
	run k ps -a --format '{{.Names}} {{.Status}}'
	assert_match "$output" '^orphan Exited \(137\)'
	# the orphaned init was killed, not left behind
	poll 5 bash -c "! kill -0 $cpid 2>/dev/null || [[ \$(awk '{print \$3}' /proc/$cpid/stat) == Z ]]"
	run k inspect -f '{{.State.Status}} {{.State.ExitCode}}' orphan
	assert_eq "$output" "exited 137"
	run k rm orphan
	assert_status 0
	assert_eq "$(leftovers "$id")" ""
}

@test "container group aliases and --root/--run-root options" {
	other=$BATS_TEST_TMPDIR/other
	run "$KEEL" --root "$other/root" --run-root "$other/run" run --rm busybox echo private
	assert_status 0
	assert_eq "$output" "private"
	run k container run -d --name grp busybox sleep 1000
	assert_status 0
	run k container ls --format '{{.Names}}'
	assert_eq "$output" "grp"
	run k container rm -f grp
	assert_status 0
	run "$KEEL" ps --root "$other/root" --run-root "$other/run" -aq
	assert_eq "$output" ""
	rm -rf "$other"
}
