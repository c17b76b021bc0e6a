#!/usr/bin/env bats
# Docker's CLI surface where keel had gaps: ps --size and every --filter key, inspect of
# containers and images (--type, -f, -s), one table printer (docker's tabwriter widths),
# stop/restart --signal/--timeout, exec --env-file/--detach-keys, system df, the --help of
# each command against docker's flags. Private roots; containers removed after each test.

load container_lib

@test "ps --size / -s: SIZE column, {{.Size}} (rw layer and virtual size)" {
	k run --name sz busybox sh -c 'head -c 2000 /dev/zero >/big' >/dev/null
	run k ps -a -s
	assert_status 0
	assert_match "${lines[0]}" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES +SIZE$'
	assert_match "${lines[1]}" ' sz +2kB \(virtual [0-9.]+MB\)$'
	# a template that names .Size gets sizes without -s, as docker's does
	run k ps -a --format '{{.Names}} {{.Size}}'
	assert_match "$output" '^sz 2kB \(virtual [0-9.]+MB\)$'
	# without sizes the field is docker's zero
	run k ps -a --format '{{json .}}'
	assert_jq "$output" '.Size == "0B" and .Names == "sz" and .State == "exited"'
	run k ps -a --format json
	assert_jq "$output" '.Names == "sz" and .Networks == "none"'
}

@test "ps --filter: docker's keys, AND across keys, OR within one, label values AND" {
	a=$(k run -d --name fa -l tier=web -l env=prod -v /tmp:/hosttmp busybox sleep 1000)
	b=$(k create --name fb -l tier=db busybox true)
	k run --name fc --network none busybox sh -c 'exit 3' >/dev/null || true
	run k ps -a --filter before=fc --format '{{.Names}}'
	assert_eq "$output" "$(printf 'fb\nfa')"
	run k ps -a --filter since=fa --format '{{.Names}}'
	assert_eq "$output" "$(printf 'fc\nfb')"
	run k ps -a --filter since=fa --filter before=fc --format '{{.Names}}'
	assert_eq "$output" "fb"
	# id and name are regular expressions, name with or without docker's leading /
	run k ps -a --filter "id=^${a:0:8}" -q
	assert_eq "$output" "${a:0:12}"
	run k ps -a --filter 'name=^/f[ab]$' --format '{{.Names}}'
	assert_eq "$output" "$(printf 'fb\nfa')"
	run k ps -a --filter name=fa --filter name=fb --format '{{.Names}}'
	assert_eq "$output" "$(printf 'fb\nfa')"
	run k ps -a --filter label=tier=web --filter label=env=prod --format '{{.Names}}'
	assert_eq "$output" "fa"
	run k ps -a --filter label=tier=web --filter label=env=dev --format '{{.Names}}'
	assert_eq "$output" ""
	run k ps -a --filter label=tier --format '{{.Names}}'
	assert_eq "$output" "$(printf 'fb\nfa')"
	# docker's {{.Label "key"}}, "" for a label the container lacks; not in the JSON
	run k ps -a --filter label=tier --format '{{.Names}}={{.Label "tier"}},{{.Label "env"}}'
	assert_eq "$output" "$(printf 'fb=db,\nfa=web,prod')"
	run k ps -a --filter name=fa --format json
	assert_jq "$output" 'has("Label") | not'
	run k inspect -f '{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}} {{index .Config.Labels "tier"}} {{join .Config.Cmd ","}} {{if .State.Running}}up{{end}}' fa
	assert_eq "$output" "/tmp:/hosttmp web sleep,1000 up"
	run k ps -a --filter volume=/hosttmp --format '{{.Names}} {{.Mounts}}'
	assert_eq "$output" "fa /tmp"
	run k ps -a --filter volume=/tmp -q
	assert_eq "$output" "${a:0:12}"
	run k ps -a --filter network=none --filter status=exited --format '{{.Names}}'
	assert_eq "$output" "fc"
	run k ps -a --filter network=host -q
	assert_eq "$output" ""
	run k ps -a --filter health=none --filter is-task=false -q
	assert_eq "$(wc -l <<<"$output")" 3
	run k ps -a --filter is-task=true -q
	assert_eq "$output" ""
	run k ps -a --filter exited=3 --format '{{.Names}}'
	assert_eq "$output" "fc"
	# status alone shows stopped containers (dockerd sets All); exited does not
	run k ps --filter status=created --format '{{.Names}}'
	assert_eq "$output" "fb"
	run k ps --filter exited=3 -q
	assert_eq "$output" ""
	# -n counts what the filters keep
	run k ps -n 1 --filter label=tier --format '{{.Names}}'
	assert_eq "$output" "fb"
}

@test "ps --filter ancestor: the image and the images made from it" {
	k run --name base busybox true >/dev/null
	k commit base gaps/child:1 >/dev/null
	k run --name kid gaps/child:1 true >/dev/null
	run k ps -a --filter ancestor=busybox --format '{{.Names}}'
	assert_eq "$output" "$(printf 'kid\nbase')"
	run k ps -a --filter ancestor=gaps/child:1 --format '{{.Names}}'
	assert_eq "$output" "kid"
	run k ps -a --filter "ancestor=$(k image inspect -f '{{.Id}}' gaps/child:1)" -q
	assert_eq "$output" "$(k inspect -f '{{.Id}}' kid | cut -c1-12)"
	run k ps -a --filter ancestor=no-such-image -q
	assert_eq "$output" ""
	k rm kid >/dev/null
	k rmi gaps/child:1 >/dev/null
}

@test "ps --filter: docker's errors and exit codes" {
	kq ps --filter foo=bar
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: invalid filter 'foo'"
	kq ps --filter status=sleeping
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: invalid filter 'status=sleeping'"
	kq ps --filter exited=x
	assert_status 1
	assert_eq "$stderr" 'Error response from daemon: strconv.Atoi: parsing "x": invalid syntax'
	kq ps --filter is-task=maybe
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: invalid filter 'is-task=[maybe]'"
	kq ps --filter health=sick
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: Unrecognised filter value for health: sick"
	kq ps --filter before=nothing-here
	assert_status 1
	assert_contains "$stderr" "No such container: nothing-here"
	kq ps --filter novalue
	assert_status 125
	assert_contains "$stderr" "bad format of filter (expected name=value)"
	kq ps -n x
	assert_status 125
	kq ps --format '{{.ID'
	assert_status 1
	assert_contains "$stderr" "template parsing error"
}

@test "inspect: containers and images, --type, -f, -s, docker's errors" {
	id=$(k run -d --name ia busybox sleep 1000)
	run k inspect -f '{{.Name}} {{.State.Status}}' ia
	assert_eq "$output" "/ia running"
	run k inspect -f '{{.Id}}' busybox
	assert_match "$output" '^sha256:[0-9a-f]{64}$'
	img=$output
	# a container and an image in one call, in order
	run k inspect -f '{{.Id}}' ia busybox
	assert_eq "$output" "$(printf '%s\n%s' "$id" "$img")"
	run k inspect ia busybox
	assert_jq "$output" 'length == 2 and .[0].Name == "/ia" and .[1].RepoTags == ["busybox:latest"]'
	run k inspect -f json ia
	assert_jq "$output" '.[0].Id == "'"$id"'"'
	kq inspect --type image ia
	assert_status 1
	assert_eq "$stderr" "Error: No such image: ia"
	assert_eq "$output" "[]"
	kq inspect --type container busybox
	assert_status 1
	assert_eq "$stderr" "Error: No such container: busybox"
	run k inspect --type image -f '{{.Os}}' busybox
	assert_eq "$output" "linux"
	kq inspect nothing-here
	assert_status 1
	assert_eq "$stderr" "Error: No such object: nothing-here"
	kq inspect --type volume ia
	assert_status 1
	assert_eq "$stderr" '"volume" is not a valid value for --type'
	kq inspect -f '{{.Name' ia
	assert_status 64
	assert_contains "$stderr" "template parsing error"
	# -s: the writable layer and the whole rootfs
	k exec ia sh -c 'head -c 1500 /dev/zero >/f'
	run k inspect -s ia
	assert_jq "$output" '.[0].SizeRw == 1500 and .[0].SizeRootFs > 1500'
	assert_jq "$output" '.[0] | keys_unsorted | index("SizeRw") == index("GraphDriver") + 1'
	run k inspect ia
	assert_jq "$output" '.[0] | has("SizeRw") | not'
	# the management forms keep their own type
	kq container inspect busybox
	assert_status 1
	assert_eq "$stderr" "Error: No such container: busybox"
	run k container inspect -s -f '{{.SizeRw}}' ia
	assert_eq "$output" "1500"
	kq image inspect ia
	assert_status 1
	run k image inspect -f '{{.Id}}' busybox
	assert_eq "$output" "$img"
	# Go's encoding/json escapes <, > and & (docker's output), in inspect and in {{json}}
	k create --name iesc busybox sh -c 'echo a > b && true' >/dev/null
	run k inspect iesc
	assert_contains "$output" '"echo a \u003e b \u0026\u0026 true"'
	run k inspect -f '{{json .Args}}' iesc
	assert_eq "$output" '["-c","echo a \u003e b \u0026\u0026 true"]'
	run k inspect -f '{{index .Args 1}}' iesc
	assert_eq "$output" 'echo a > b && true'
}

@test "tables: docker's tabwriter (widest + 3, at least 10, characters not bytes)" {
	run k images
	assert_eq "${lines[0]}" "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE"
	assert_match "${lines[1]}" '^busybox      latest    [0-9a-f]{12}   '
	k run --name tw busybox sh -c 'echo a long command line here' >/dev/null
	run k ps -a
	# "…" is one column: COMMAND is 20 characters + 3 wide (bytes would make it 25)
	assert_match "${lines[0]}" '^CONTAINER ID   IMAGE     COMMAND                CREATED  '
	assert_match "${lines[1]}" '^[0-9a-f]{12}   busybox   "sh -c .echo a long…   [A-Z0-9]'
	run k history --format 'table {{.ID}}\t{{.Size}}' busybox
	assert_match "${lines[0]}" '^IMAGE          SIZE$'
	run k images --format 'table {{.Tag}}'
	assert_eq "${lines[0]}" "TAG"
	run k images --format json
	assert_jq "$output" '.Repository == "busybox" and .Tag == "latest"'
}

@test "images --filter: label, before, since, dangling; docker's errors" {
	k run --name ic busybox touch /x >/dev/null
	sleep 1.1 # image times are whole seconds
	k commit -c 'LABEL team=a' ic gaps/labelled:1 >/dev/null
	run k images --filter label=team=a --format '{{.Repository}}:{{.Tag}}'
	assert_eq "$output" "gaps/labelled:1"
	run k images --filter label=team --filter label=team=b -q
	assert_eq "$output" ""
	run k images --filter since=busybox --format '{{.Repository}}'
	assert_eq "$output" "gaps/labelled"
	run k images --filter before=gaps/labelled:1 --format '{{.Repository}}'
	assert_eq "$output" "busybox"
	run k images --filter dangling=false --filter reference='gaps/*' --format '{{.Tag}}'
	assert_eq "$output" "1"
	run k images --filter until=1h --format '{{.Repository}}'
	assert_eq "$output" "busybox"
	run k images --filter until=2100-01-01T00:00:00Z --format '{{.Repository}}'
	assert_eq "$output" "$(printf 'gaps/labelled\nbusybox')"
	kq images --filter until=someday
	assert_status 1
	run k images --format '{{.CreatedAt}}' busybox
	assert_match "$output" '^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} [-+][0-9]{4} [A-Z]+$'
	kq images --filter color=red
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: invalid filter 'color'"
	kq images --filter dangling=maybe
	assert_status 1
	kq images --filter before=nothing-here
	assert_status 1
	assert_contains "$stderr" "No such image: nothing-here"
	k rmi gaps/labelled:1 >/dev/null
}

@test "system df: docker's rows, containers counted, --format" {
	k run --name df1 busybox sh -c 'head -c 3000 /dev/zero >/x' >/dev/null
	run k system df
	assert_status 0
	assert_eq "${lines[0]}" "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
	# an image a container uses, running or not, is active (docker's Containers > 0)
	assert_match "${lines[1]}" '^Images          1         1         [0-9.]+MB +0B \(0%\)$'
	assert_eq "${lines[2]}" "Containers      1         0         3kB       3kB (100%)"
	assert_eq "${lines[3]}" "Local Volumes   0         0         0B        0B"
	run k system df --format '{{.Type}}: {{.TotalCount}} {{.Active}}'
	assert_eq "${lines[1]}" "Containers: 1 0"
	run k system df --format json
	assert_jq "$(sed -n 2p <<<"$output")" '.Type == "Containers" and .Reclaimable == "3kB (100%)"'
	# -v: docker's four sections; a committed image shares busybox's layer
	k commit df1 gaps/df:1 >/dev/null
	run k system df -v
	assert_status 0
	assert_eq "${lines[0]}" "Images space usage:"
	assert_match "$output" $'\nREPOSITORY   TAG       IMAGE ID       CREATED +SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n'
	assert_match "$output" $'\ngaps/df      1 +[0-9a-f]{12}   [^\n]+   [0-9.]+MB +[0-9.]+MB +3kB +0\n'
	assert_match "$output" $'\nbusybox      latest +[0-9a-f]{12}   [^\n]+ +0B +1\n'
	assert_match "$output" $'\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND +LOCAL VOLUMES   SIZE      CREATED +STATUS +NAMES\n'
	assert_match "$output" $' 0 +3kB +[^\n]+ df1\n'
	assert_contains "$output" $'Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n\nBuild cache usage: 0B\n'
	kq system df -v --format '{{.Type}}'
	assert_status 1
	assert_eq "$stderr" "the verbose and the format options conflict"
	k rmi gaps/df:1 >/dev/null
}

@test "stop/restart: -s/--signal, -t/--timeout (and docker's old --time)" {
	k run -d --name sg busybox sh -c 'trap "exit 7" USR1; while :; do sleep 0.1; done' >/dev/null
	sleep 0.3
	run k stop -s USR1 -t 5 sg
	assert_status 0
	assert_eq "$output" "sg"
	assert_eq "$(k inspect -f '{{.State.ExitCode}}' sg)" "7"
	run k restart --time 0 sg
	assert_status 0
	assert_eq "$(k inspect -f '{{.State.Status}}' sg)" "running"
	run k stop --timeout=0 sg
	assert_status 0
	assert_eq "$(k inspect -f '{{.State.Status}}' sg)" "exited"
	kq stop -t soon sg
	assert_status 125
	assert_contains "$stderr" 'invalid argument "soon" for "-t, --timeout" flag'
	kq stop -s NOPE sg
	assert_status 1
	assert_contains "$stderr" "Invalid signal: NOPE"
	run k stop --help
	assert_contains "$output" "-s, --signal"
	assert_contains "$output" "-t, --timeout"
	assert_not_contains "$output" "--time "
}

@test "exec: --env-file before -e, docker's argument errors" {
	k run -d --name ex busybox sleep 1000 >/dev/null
	printf '# comment\nA=from-file\n  B=2\n\nC\n' >"$BATS_TEST_TMPDIR/env"
	C=host-c run k exec --env-file "$BATS_TEST_TMPDIR/env" -e A=from-flag ex \
		sh -c 'echo "$A $B $C"'
	assert_status 0
	assert_eq "$output" "from-flag 2 host-c"
	kq exec --env-file "$BATS_TEST_TMPDIR/none" ex true
	assert_status 1
	assert_contains "$stderr" "no such file or directory"
	kq exec ex
	assert_status 125
	assert_contains "$stderr" '"keel exec" requires at least 2 arguments.'
	kq exec --detach-keys ctrl-! ex true
	assert_status 1
	assert_contains "$stderr" "Invalid detach keys"
}

@test "exec -it: the detach keys leave the process running" {
	command -v script >/dev/null || skip "needs script(1) for a pty"
	k run -d --name dk busybox sleep 1000 >/dev/null
	# ctrl-p ctrl-p ctrl-q: the first ctrl-p goes through, the pair detaches
	run timeout 10 script -qec "$KEEL exec -it dk sh -c 'sleep 100'" /dev/null \
		< <(sleep 1; printf '\020\020\021'; sleep 3)
	assert_status 0
	assert_contains "$output" "read escape sequence"
	run k top dk
	assert_contains "$output" "sleep 100"
}

@test "--help: docker's flags for every command keel has" {
	local cmd want
	while IFS='|' read -r cmd want; do
		run k $cmd --help
		assert_status 0
		for f in $want; do
			assert_contains "$output" "$f" "$cmd --help lacks $f"
		done
	done <<'EOF'
ps|--all --filter --format --last --latest --no-trunc --quiet --size
inspect|--format --size --type
container inspect|--format --size
image inspect|--format
images|--all --digests --filter --format --no-trunc --quiet
history|--format --human --no-trunc --quiet
stop|--signal --timeout
restart|--signal --timeout
kill|--signal
rm|--force --link --volumes
exec|--detach --detach-keys --env --env-file --interactive --privileged --tty --user --workdir
start|--attach --detach-keys --interactive
attach|--detach-keys --no-stdin --sig-proxy
logs|--follow --since --tail --timestamps --until --details
stats|--all --format --no-stream --no-trunc
cp|--archive --follow-link --quiet
commit|--author --change --message --pause
container prune|--filter --force
image prune|--all --filter --force
system df|--format --verbose
EOF
}

@test "container prune: --filter label/label!/until, reclaimed space, docker's output" {
	run k container prune -f
	assert_eq "$output" "Total reclaimed space: 0B"
	keep=$(k create --name pk -l keep=yes busybox true)
	k run --name pz busybox sh -c 'head -c 5000 /dev/zero >/z' >/dev/null
	z=$(k inspect -f '{{.Id}}' pz)
	run k container prune -f --filter until=1h
	assert_eq "$output" "Total reclaimed space: 0B"
	run k container prune -f --filter 'label!=keep'
	assert_status 0
	assert_eq "$output" "$(printf 'Deleted Containers:\n%s\n\nTotal reclaimed space: 5kB' "$z")"
	run k container prune -f --filter label=keep=no
	assert_eq "$output" "Total reclaimed space: 0B"
	run k container prune -f --filter label=keep=yes
	assert_contains "$output" "$keep"
	kq container prune -f --filter color=red
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: invalid filter 'color'"
	kq container prune -f --filter until=soon
	assert_status 1
}

@test "argument errors are docker's 125, help shows docker's value types" {
	for cmd in top stop kill rm wait pause unpause rename port diff commit inspect history tag rmi; do
		kq $cmd
		assert_status 125
		assert_contains "$stderr" "\"keel $cmd\" requires"
	done
	run k ps --help
	assert_match "$output" '-n, --last int '
	run k stop --help
	assert_match "$output" '-t, --timeout int '
}

@test "start: docker's summary of what failed; start -a of nothing" {
	k create --name st2 busybox true >/dev/null
	kq start nothing-here st2 nor-this
	assert_status 1
	assert_eq "$output" "st2"
	assert_eq "$stderr" "$(printf '%s\n' \
		'Error response from daemon: No such container: nothing-here' \
		'Error response from daemon: No such container: nor-this' \
		'Error: failed to start containers: nothing-here, nor-this')"
	kq start -a nothing-here
	assert_status 1
	assert_eq "$stderr" "Error: No such container: nothing-here"
	kq run -it busybox true
	assert_status 1
	assert_eq "$stderr" "the input device is not a TTY"
}

@test "exec --privileged: every capability the caller holds, for that process only" {
	k run -d --name pv busybox sleep 1000 >/dev/null
	local host
	host=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
	run k exec pv awk '/^CapEff/ {print $2}' /proc/self/status
	assert_eq "$output" "00000000a80425fb" # docker's default set
	run k exec --privileged pv awk '/^CapEff/ {print $2}' /proc/self/status
	assert_eq "$output" "$host"
	# a non-root user gets them in the bounding set only, as with run --privileged
	run k exec --privileged -u 1000 pv awk '/^Cap(Eff|Bnd)/ {print $2}' /proc/self/status
	assert_eq "$output" "$(printf '0000000000000000\n%s' "$host")"
	# the container's own processes keep the container's set
	run k exec pv awk '/^CapEff/ {print $2}' /proc/1/status
	assert_eq "$output" "00000000a80425fb"
}

# running NAME: waits (bounded) until the container runs
running() {
	local i
	for i in $(seq 100); do
		[[ $(k ps --filter "name=^$1\$" --format '{{.State}}') == running ]] && return 0
		sleep 0.1
	done
	fail "$1 never ran"
}

@test "run --detach-keys, --sig-proxy=false" {
	run k run --rm --detach-keys=bogus busybox true
	assert_status 125
	assert_contains "$output" "Invalid detach keys (bogus) provided"
	(sleep 1; printf '\001'; sleep 1) |
		timeout 20 script -qec "'$KEEL' run -it --name dk --detach-keys=ctrl-a busybox sh" /dev/null >/dev/null || true
	assert_eq "$(k ps --filter name=dk --format '{{.Names}} {{.State}}')" "dk running"
	# by default a TERM to keel reaches the container's process
	"$KEEL" run --name sp1 busybox sh -c 'trap "echo got" TERM; sleep 2; echo done' >/dev/null 2>&1 &
	local p1=$!
	running sp1
	kill -TERM "$p1"
	wait "$p1" || true
	k wait sp1 >/dev/null
	assert_eq "$(k logs sp1)" "$(printf 'got\ndone')"
	# with --sig-proxy=false it does not: keel ends, the container goes on
	"$KEEL" run --name sp2 --sig-proxy=false busybox sh -c 'trap "echo got" TERM; sleep 2; echo done' >/dev/null 2>&1 &
	local p2=$!
	running sp2
	kill -TERM "$p2"
	wait "$p2" || true
	k wait sp2 >/dev/null
	assert_eq "$(k logs sp2)" "done"
}

@test "image prune --filter: until, label, label!; unknown keys refused" {
	local d=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$d"
	printf 'FROM busybox\nLABEL keep=yes\nRUN echo a > /a\n' >"$d/Dockerfile.k"
	printf 'FROM busybox\nLABEL keep=no\nRUN echo b > /b\n' >"$d/Dockerfile.n"
	local kid nid
	kid=$(k build -q -f "$d/Dockerfile.k" "$d")
	nid=$(k build -q -f "$d/Dockerfile.n" "$d")
	run k image prune -f --filter bogus=1
	assert_status 1
	assert_eq "$output" "Error response from daemon: invalid filter 'bogus'"
	# images made a moment ago are not older than an hour
	run k image prune -f --filter until=1h
	assert_status 0
	assert_not_contains "$output" "deleted:"
	run k image prune -f --filter label!=keep=yes
	assert_contains "$output" "deleted: $nid"
	assert_not_contains "$output" "deleted: $kid"
	run k image inspect "$kid"
	assert_status 0
	run k image prune -f --filter label=keep
	assert_contains "$output" "deleted: $kid"
	# the embedded image is tagged: never dangling
	run k image inspect busybox
	assert_status 0
}
