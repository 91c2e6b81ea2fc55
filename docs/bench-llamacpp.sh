#!/usr/bin/env bash
# Side-by-side speed of Corral and llama.cpp on the same GGUF files:
# interleaved rounds of `llama-bench` and `corral bench`, then the table of
# `corral bench --results --compare` (medians of the per-round ratios).
#
# usage: docs/bench-llamacpp.sh [-r ROUNDS] [-t THREADS] [-o DIR] [-x 'LLAMA-BENCH FLAGS'] [-c CORRAL] LLAMA_BENCH MODEL.gguf...
#
#   LLAMA_BENCH  the llama-bench binary of a llama.cpp build (built outside
#                this repository)
#   -r ROUNDS    interleaved rounds (default 5); each round runs every file
#                once in each program, the program that goes first
#                alternating from round to round
#   -t THREADS   threads of both programs (default 2)
#   -o DIR       where the JSON lines and the log go (default bench-llamacpp)
#   -x FLAGS     more llama-bench flags, such as '--poll 0'
#   -c CORRAL    a corral binary to measure (default: built from this tree)
#
# Run from the repository root. Every round appends to DIR/llama.jsonl and
# DIR/corral.jsonl, and DIR/rounds.log records the load average before each
# run: on a shared machine, say what it was when you quote the figures.
set -euo pipefail

rounds=5 threads=2 out=bench-llamacpp extra="" corral=""
while getopts "r:t:o:x:c:" opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	t) threads=$OPTARG ;;
	o) out=$OPTARG ;;
	x) extra=$OPTARG ;;
	c) corral=$OPTARG ;;
	*) sed -n '5,6p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ]; then
	sed -n '5,6p' "$0" >&2
	exit 2
fi
llama=$1
shift

mkdir -p "$out"
if [ -z "$corral" ]; then
	corral=$out/corral
	go build -o "$corral" ./services/corral
fi
: >"$out/llama.jsonl"
: >"$out/corral.jsonl"
: >"$out/rounds.log"

run_llama() {
	# shellcheck disable=SC2086 # extra holds several flags
	"$llama" -m "$1" -t "$threads" -p 512 -n 128 -r 3 $extra -o jsonl >>"$out/llama.jsonl" 2>>"$out/llama.log"
}
run_corral() {
	"$corral" bench --model "$1" --threads "$threads" >>"$out/corral.jsonl"
}
log() {
	echo "$(date -u +%H:%M:%S) round $1 $2 $3 load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/rounds.log" >&2
}

for r in $(seq "$rounds"); do
	for m in "$@"; do
		if [ $((r % 2)) -eq 1 ]; then
			log "$r" llama.cpp "$m"; run_llama "$m"
			log "$r" corral "$m"; run_corral "$m"
		else
			log "$r" corral "$m"; run_corral "$m"
			log "$r" llama.cpp "$m"; run_llama "$m"
		fi
	done
done
log end - -
"$corral" bench --results "$out/corral.jsonl" --compare "$out/llama.jsonl" | tee "$out/compare.txt"
