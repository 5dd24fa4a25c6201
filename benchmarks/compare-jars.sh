#!/usr/bin/env bash
# Two builds of bptt4j side by side: `bptt4j bench` on the CPU at the README's four configurations,
# the two jars alternating config by config, ROUNDS times (a 2-core VM drifts, so only pairs taken
# back to back compare). Prints one line per run and, per configuration, the medians and the
# median of the per-round ratios B/A.
#
#   benchmarks/compare-jars.sh OLD.jar NEW.jar            # ROUNDS=3, STEPS=30 (config 4: 12)
#   ROUNDS=6 CONFIGS="100 64 256 256;200 32 128 128" STEPS=100 WARMUP=40 benchmarks/compare-jars.sh a.jar b.jar
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this command only (this environment may set
# them; a user's machine does not).
set -euo pipefail
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
a="$1"; b="$2"
rounds="${ROUNDS:-3}"
IFS=';' read -r -a configs <<< "${CONFIGS:-100 64 256 256;50 256 512 512;200 32 128 128;20 1024 1024 1024}"
log="$(mktemp)"
for round in $(seq 1 "$rounds"); do
  for cfg in "${configs[@]}"; do
    read -r T B I H <<< "$cfg"
    steps="${STEPS:-30}"; warmup="${WARMUP:-10}"
    if [[ -z "${STEPS:-}" && "$H" -ge 1024 ]]; then steps=12; warmup=4; fi
    for jar in "$a" "$b"; do
      ms=$(java -jar "$jar" bench --T "$T" --B "$B" --I "$I" --H "$H" --steps "$steps" --warmup "$warmup" --device cpu 2>/dev/null \
           | sed -n 's/^ms_per_step=//p')
      echo "round=$round config=${T}x${B}x${I}x${H} jar=$jar ms=$ms" | tee -a "$log"
    done
  done
done
python3 - "$log" "$a" "$b" <<'PY'
import sys, statistics, collections
log, a, b = sys.argv[1:]
runs = collections.defaultdict(dict)
for line in open(log):
    f = dict(kv.split("=", 1) for kv in line.split())
    runs[(f["config"], f["round"])][f["jar"]] = float(f["ms"])
for config in dict.fromkeys(c for c, _ in runs):
    pairs = [v for (c, _), v in runs.items() if c == config and a in v and b in v]
    ta, tb = [p[a] for p in pairs], [p[b] for p in pairs]
    ratios = [p[b] / p[a] for p in pairs]
    print(f"{config}: A median {statistics.median(ta):.2f} ms ({min(ta):.2f}-{max(ta):.2f}), "
          f"B median {statistics.median(tb):.2f} ms ({min(tb):.2f}-{max(tb):.2f}), "
          f"B/A per round {', '.join(f'{r:.3f}' for r in ratios)}: median {statistics.median(ratios):.3f}")
PY
