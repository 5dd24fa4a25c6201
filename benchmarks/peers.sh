#!/usr/bin/env bash
# The per-CPU table of every cell against its peers (issue 18): bptt4j, PyTorch (libtorch 2.7.1 through
# DJL) and oneDNN's RNN primitive in float32, oneDNN in bf16 as a bar, and the ceiling (sgemm 1024³ of
# MKL and of OpenBLAS, the better one counting), all in one JVM, in rounds, so every ratio is taken
# side by side (PeerRatios). First it checks that oneDNN computes what bptt4j computes
# (OneDnnAgreement; the run stops if it does not). Results: benchmarks/results/peers-<UTC time>/,
# and the tables printed at the end (python3 benchmarks/summarize.py DIR prints them again).
#
#   benchmarks/peers.sh                # tanh, LSTM, GRU at the README's four shapes, resident tensors and host
#                                      # arrays: ~15 min on a quiet 2-core AMD EPYC Zen 5 after the build (~3 min)
#   QUICK=1 benchmarks/peers.sh        # 100×64×256×256 and 200×32×128×128 only, 8 rounds, resident: ~3 min after the build
#   TENSORS=resident benchmarks/peers.sh   # skip the host-array rounds (~7 min)
#   NAME=amd-zen5 benchmarks/peers.sh  # the results folder's name
#   CONFIGS="100x64x256x256 20x1024x1024x1024:4" ROUNDS=10 ... benchmarks/peers.sh   # other shapes (":N" caps
#                                      # a shape's rounds) and rounds; THREADS: oneDNN's OpenMP threads (2)
#
# Run it on a machine with nothing else running: the figures are only as good as the quiet they get.
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this command only: some environments set them
# (older OpenBLAS builds crash on some CPUs), which holds OpenBLAS to other kernels (Haswell: no AVX-512),
# and a user's machine has no such override. OMP_NUM_THREADS=2 gives oneDNN's OpenMP runtime the two
# threads every other peer has (libtorch's intra-op count is also set through DJL); KMP_BLOCKTIME=0
# makes MKL's thread team sleep after the ceiling's GEMMs instead of spinning on the cores the next
# step needs.
set -euo pipefail
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS="${THREADS:-2}" KMP_BLOCKTIME=0
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$here/results/${NAME:-peers-$(date -u +%Y%m%d-%H%M)}"
mkdir -p "$out"

( cd "$root" && mvn -B -q -DskipTests install )
cd "$here"
mvn -B -q -P main compile dependency:build-classpath -Dmdep.outputFile=target/main/classpath.txt
cp=(-cp "target/main/classes:$(cat target/main/classpath.txt)")

{ lscpu | grep -E '^Model name|^CPU family|^Model:|^CPU\(s\)|^Thread|^L2|^L3|^Flags' | cut -c1-400
  java -version 2>&1; echo "bptt4j commit: $(git -C "$root" rev-parse --short HEAD)"; date -u; } > "$out/machine.txt"

configs=(100x64x256x256 200x32x128x128 50x256x512x512:8 20x1024x1024x1024:4)
rounds=20 agreement=()
if [[ -n "${QUICK:-}" ]]; then
  configs=(100x64x256x256 200x32x128x128) rounds=8 agreement=(--small)
fi
[[ -z "${CONFIGS:-}" ]] || read -r -a configs <<< "$CONFIGS"
rounds="${ROUNDS:-$rounds}"
tensors="${TENSORS:-resident host}"
[[ -z "${QUICK:-}" || -n "${TENSORS:-}" ]] || tensors=resident

java -Xmx4g "${cp[@]}" dev.bptt4j.bench.OneDnnAgreement "${agreement[@]}" | tee "$out/agreement.txt"
for t in $tensors; do
  java -Xmx8g -Xms8g -XX:+AlwaysPreTouch "${cp[@]}" dev.bptt4j.bench.PeerRatios "$out/peers-$t.json" "$t" "$rounds" \
    RNN_TANH,LSTM,GRU "${configs[@]}" 2>&1 | grep --line-buffered -v '^SLF4J' | tee "$out/peers-$t.md"
done
python3 "$here/summarize.py" "$out" | tee "$out/tables.md"
