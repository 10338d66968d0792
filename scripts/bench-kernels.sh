#!/usr/bin/env bash
# Matrix-vector kernels reading their weights from memory, against plain memory reads on as many
# threads. Builds nothing: expects build/kernels/kernels_bench (or the binary given as the first
# argument). Runs the four BM_MemoryRead variants (1 or 8 streams, with or without software
# prefetch) and each format's gemv of SHAPE (each call reads the next of several copies of the
# matrix, 256 MiB or more in all) REPS times, with Google Benchmark's random interleaving: the
# repetitions of all benchmarks run in a shuffled order, so that a slow spell of the host falls
# on every benchmark alike. Prints a Markdown table: per format the median time, the median
# GiB/s of packed weights and its share of the bandwidth limit, the highest of the four reads'
# medians.
#
# Usage: scripts/bench-kernels.sh [path/to/kernels_bench]
# Environment: FORMATS (space-separated), REPS (default 9), THREADS (1 or 2, default 1; with 2
# each thread runs its own gemv and read), ISA (avx2 or avx512, default avx2), SHAPE (rows x
# cols, 4096x11008 or 4096x4096; default 4096x11008).
set -euo pipefail

BENCH=${1:-build/kernels/kernels_bench}
FORMATS=${FORMATS:-"f32 f16 bf16 q8_channel q8_g32 w8a8 q4_g32 q4_g128 nf4 fp4 fp8_e4m3 q3_g32 q2_g32"}
REPS=${REPS:-9}
THREADS=${THREADS:-1}
ISA=${ISA:-avx2}
SHAPE=${SHAPE:-4096x11008}

if [[ ! -x "$BENCH" ]]; then
  echo "bench-kernels: $BENCH is not an executable (build the kernels_bench target first)" >&2
  exit 2
fi
case "$THREADS" in
  1) suffix="" ;;
  2) suffix="/real_time/threads:2" ;;
  *) echo "bench-kernels: THREADS must be 1 or 2, not '$THREADS'" >&2; exit 2 ;;
esac
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $THREADS" \
  "thread(s), $REPS interleaved repetitions" >&2

alternatives=${FORMATS// /|}
filter="^BM_MemoryRead/1GiB/streams:[18]/prefetch:[01]$suffix\$|^BM_Gemv/($alternatives)/$ISA/$SHAPE$suffix\$"
"$BENCH" --benchmark_filter="$filter" --benchmark_repetitions="$REPS" \
  --benchmark_enable_random_interleaving=true --benchmark_min_time=0.2 \
  --benchmark_report_aggregates_only=true --benchmark_format=console --benchmark_color=false \
  2>/dev/null |
  awk -v formats="$FORMATS" -v isa="$ISA" -v shape="$SHAPE" -v threads="$THREADS" -v reps="$REPS" '
    # Console lines: NAME TIME UNIT CPU UNIT ITERATIONS [FLOP/s=..] bytes/s=VALUE{k,M,G}/s, the
    # rate counters in powers of 1024 (kernels_bench counts bytes with kIs1024). With one
    # repetition Google Benchmark prints no aggregates: the single run stands for the median.
    (reps > 1 && $1 ~ /_median$/) || (reps == 1 && $1 ~ /^BM_/) {
      name = $1
      sub(/_median$/, "", name)
      ms = $2 / ($3 == "us" ? 1000 : ($3 == "ns" ? 1e6 : 1))
      gib = -1
      for (i = 7; i <= NF; ++i) {
        if ($i !~ /^bytes\/s=/) continue
        v = $i
        sub(/^bytes\/s=/, "", v)
        sub(/\/s$/, "", v)
        unit = substr(v, length(v))
        num = substr(v, 1, length(v) - 1) + 0
        gib = unit == "G" ? num : (unit == "M" ? num / 1024 : (unit == "k" ? num / 1048576 : v / 1073741824))
      }
      if (gib < 0) next
      if (name ~ /^BM_MemoryRead/) {
        if (gib > read) { read = gib; best = name }
        next
      }
      split(name, part, "/")
      time[part[2]] = ms
      rate[part[2]] = gib
    }
    END {
      if (read == 0) { print "bench-kernels: no memory-read result" > "/dev/stderr"; exit 1 }
      sub(/^BM_MemoryRead\/1GiB\//, "", best)
      sub(/\/real_time.*/, "", best)
      printf "| gemv %s (%d thread(s), %s) | median | weights read | share of %.1f GiB/s (read, %s) |\n",
             shape, threads, isa, read, best
      print "|---|---:|---:|---:|"
      n = split(formats, list, " ")
      for (i = 1; i <= n; ++i) {
        f = list[i]
        if (!(f in rate)) { printf "| %s | (no result) | | |\n", f; continue }
        printf "| %s | %.2f ms | %.1f GiB/s | %.0f%% |\n", f, time[f], rate[f], 100 * rate[f] / read
      }
    }'
