#!/usr/bin/env bash
# Interleaved A/B of BenchmarkWebhook (services/gateway): the gateway built
# from this tree against the one built from BASE, on two private
# nats-servers (the nats-server on PATH, Debian's 2.9 here, and the
# version go.mod names, built from its module), beside the bare HMAC
# handler. Each run reports webhooks/s and latency, and CPU per webhook:
# the benchmark process's user+system time (which includes the load
# generator) plus nats-server's, read from /proc/PID/stat. Private servers
# keep other users' traffic out of nats-server's CPU.
#
# usage: docs/bench-gateway.sh [-r ROUNDS] [-n WEBHOOKS] [-f FLOOR] [-p PORT] [-o DIR] BASE
#
#   BASE         the git revision to compare with, such as main
#   -r ROUNDS    interleaved rounds (default 6)
#   -n WEBHOOKS  webhooks per run (default 20000)
#   -f FLOOR     CORRAL_GC_HEAP_FLOOR for the runs of this tree, both
#                handlers alike (default 8MiB, corral serve's default; 0
#                for Go's pacing). BASE ignores it if it predates it.
#   -p PORT      the first server's port, the second's is the next
#                (default 14222)
#   -o DIR       where the binaries, stores and runs.log go (default: a new
#                temporary folder)
#
# Run from the repository root. The
# last lines are medians per configuration; runs.log has every run and the
# load average before each round: on a shared machine, say what it was.
set -euo pipefail

rounds=6 n=20000 floor=8MiB out="" p1=14222
while getopts "r:n:f:p:o:" opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	n) n=$OPTARG ;;
	f) floor=$OPTARG ;;
	p) p1=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n '12,24p' "$0"; exit 2; }
base=$1 p2=$((p1 + 1))
out=${out:-$(mktemp -d /tmp/bench-gateway.XXXXXX)}
mkdir -p "$out"
log=$out/runs.log

echo "building into $out"
go test -c -o "$out/new.test" ./services/gateway/
git worktree add --detach "$out/base-src" "$base" >/dev/null
(cd "$out/base-src" && go test -c -o "$out/base.test" ./services/gateway/)
git worktree remove --force "$out/base-src"
go build -o "$out/nats-server-mod" github.com/nats-io/nats-server/v2

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
start_nats() { # binary port
	mkdir -p "$out/js-$2"
	"$1" -a 127.0.0.1 -p "$2" -js -sd "$out/js-$2" -l "$out/nats-$2.log" &
	pids+=($!)
	eval "npid_$2=$!"
}
start_nats "$(command -v nats-server)" "$p1"
start_nats "$out/nats-server-mod" "$p2"
sleep 1
echo "nats-server on $p1: $(nats-server --version); on $p2: $("$out/nats-server-mod" --version)" | tee -a "$log"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # label binary bench port floor
	local npid t0 t1 res cpu
	npid=$(eval echo "\$npid_$4")
	t0=$(ticks "$npid")
	res=$(NATS_URL=nats://127.0.0.1:$4 CORRAL_GC_HEAP_FLOOR=$5 /usr/bin/time -f 'CPU %U %S' \
		"$out/$2" -test.run '^$' -test.bench "Webhook/$3\$" -test.benchtime "${n}x" 2>&1)
	t1=$(ticks "$npid")
	cpu=$(grep '^CPU' <<<"$res" | awk '{print $2 + $3}')
	grep -E "^BenchmarkWebhook/$3" <<<"$res" | tail -n 1 | awk -v l="$1" -v c="$cpu" -v t=$((t1 - t0)) -v n="$n" '{
		for (i = 1; i <= NF; i++) { if ($i == "webhooks/s") r = $(i-1); if ($i == "p50-ms") p50 = $(i-1); if ($i == "p99-ms") p99 = $(i-1) }
		printf "%-24s %8.0f webhooks/s  p50 %5.2f ms  p99 %6.2f ms  cpu/webhook process %6.1f us  nats-server %5.1f us  total %6.1f us\n", l, r, p50, p99, c*1e6/n, t*1e4/n, c*1e6/n + t*1e4/n }' | tee -a "$log"
}

for r in $(seq 1 "$rounds"); do
	echo "# round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
	run bare new.test bare "$p1" "$floor"
	for port in "$p1" "$p2"; do
		run "gateway-base@$port" base.test gateway $port "$floor"
		run "gateway-new@$port" new.test gateway $port "$floor"
	done
done

echo "# medians over $rounds rounds (webhooks/s, cpu/webhook total us)" | tee -a "$log"
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for l in bare "gateway-base@$p1" "gateway-new@$p1" "gateway-base@$p2" "gateway-new@$p2"; do
	printf "%-24s %8s webhooks/s  %6s us/webhook\n" "$l" \
		"$(grep "^$l " "$log" | awk '{print $2}' | median)" "$(grep "^$l " "$log" | awk '{print $(NF-1)}' | median)"
done | tee -a "$log"
