#!/usr/bin/env bash
# Builds bptt4j, then runs the JMH suite: bptt4j (f32, f64), the OpenBLAS GEMM ceiling and
# PyTorch through DJL in one JVM classpath, then Deeplearning4j in its own (ND4J pins an older
# JavaCPP). Results go to benchmarks/results/: JMH JSON and text per part.
#
#   benchmarks/run.sh                 # everything, ~32 min on 2 cores (main part 17 min, resident rows 6, paired ratios 5)
#   QUICK=1 benchmarks/run.sh         # first config only, short iterations (smoke test)
#   PARTS="main" benchmarks/run.sh    # skip DL4J
#   JMH_EXTRA="-prof gc" ...          # extra JMH options (e.g. the GC profiler for B/op)
#   PARTS="cells" benchmarks/run.sh   # every cell's JMH rows (issue 18): bptt4j's and DJL's tanh, LSTM and GRU, oneDNN's
#                                     # RNN primitive (tanh, LSTM, GRU; f32, bf16) at the four configs, host arrays, ~40 min
# The ratios of every cell side by side, in rounds, with the ceiling of the same run: benchmarks/peers.sh.
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this command only (some environments set them,
# which holds OpenBLAS to other kernels; a user's machine has no such override). OMP_NUM_THREADS=2:
# oneDNN's OpenMP threads, the two every other peer has.
set -euo pipefail
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$here/results"
mkdir -p "$out"

( cd "$root" && mvn -B -q -DskipTests install )
cd "$here"
parts="${PARTS:-main dl4j}"
for p in $parts; do
  flavour="$p"
  [[ "$p" != cells ]] || flavour=main  # the cells' rows run on main's classpath
  mvn -B -q -P "$flavour" compile dependency:build-classpath -Dmdep.outputFile="target/$flavour/classpath.txt"
done

# Sane, not exhaustive: one fork, a few warm-up and measured iterations per configuration. The
# benchmarks sample every operation (Mode.SampleTime), so the JSON holds the median and minimum
# per step as well as the mean: on a machine shared with other work the median is the figure to read.
jmh=(-f 1 -wi "${WARMUP:-2}" -i "${ITERATIONS:-4}" -w "${WARMUP_TIME:-3s}" -r "${TIME:-5s}" -tu ms)
filter=()
if [[ -n "${QUICK:-}" ]]; then
  jmh=(-f 1 -wi 1 -i 2 -w 2s -r 2s -tu ms)
  filter=(-p config=100x64x256x256 -p shape=64x256x256,1024x1024x1024)
fi

{ lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Flags' | cut -c1-200; java -version 2>&1; date -u; } > "$out/machine.txt"

run() {  # name, classpath flavour, benchmark regexp, env...
  local name="$1" flavour="$2" regexp="$3"; shift 3
  env "$@" java -cp "target/$flavour/classes:$(cat "target/$flavour/classpath.txt")" org.openjdk.jmh.Main \
    "${jmh[@]}" "${filter[@]}" ${JMH_EXTRA:-} -rf json -rff "$out/$name.json" -o "$out/$name.txt" "$regexp"
  tail -n 40 "$out/$name.txt"
}

for p in $parts; do
  case "$p" in
    main) run main main 'Bptt4jTrainingStep|GemmCeiling|DjlTrainingStep'
          # The LSTM row (issue 5): bptt4j's and PyTorch's LSTM at the first config, f32 (the filter is put back
          # afterwards, so that a DL4J part after this one still runs every config).
          saved=("${filter[@]}")
          [[ -n "${QUICK:-}" ]] || filter=(-p mode=LSTM -p config=100x64x256x256 -p dtype=f32)
          run lstm main 'Bptt4jTrainingStep|DjlTrainingStep'
          # The resident rows: x, dy, y and dL/dx kept on the backend by both (no host copies), main configs.
          filter=("${saved[@]}" -p resident=true)
          [[ -n "${QUICK:-}" ]] || filter=(-p resident=true -p config=100x64x256x256,50x256x512x512,200x32x128x128,20x1024x1024x1024)
          run resident main 'Bptt4jTrainingStep|DjlTrainingStep'
          # The float64 GEMM ceiling, for the float64 ÷ float32 target: what the hardware gives DGEMM against SGEMM.
          filter=(-p dtype=f64 -p shape=1024x1024x1024)
          run gemm-f64 main 'GemmCeiling'
          filter=("${saved[@]}")
          # The ratio targets in rounds (per round one f32 step, one f64 step and the MKL ceiling back
          # to back; MKL's dgemm against its sgemm the same way), immune to the drift between JMH's rows; ~5 min.
          ratio_args=()
          [[ -z "${QUICK:-}" ]] || ratio_args=(5 100x64x256x256)
          # KMP_BLOCKTIME=0: MKL's thread team sleeps after the ceiling GEMMs instead of spinning 200 ms on
          # the cores the next training step needs (it halved the steps that followed a ceiling).
          KMP_BLOCKTIME=0 java -Xmx10g -Xms10g -XX:+AlwaysPreTouch -cp "target/main/classes:$(cat target/main/classpath.txt)" \
            dev.bptt4j.bench.PairedRatios "${ratio_args[@]}" | tee "$out/paired.md" ;;
    cells) saved=("${filter[@]}")
           all=(-p config=100x64x256x256,50x256x512x512,200x32x128x128,20x1024x1024x1024)
           [[ -z "${QUICK:-}" ]] || all=(-p config=100x64x256x256)
           filter=(-p shape=1024x1024x1024 -p dtype=f32)
           run cells-ceiling main 'GemmCeiling'
           # tanh too, so that this part alone gives oneDNN's tanh rows their bptt4j and DJL rows
           filter=("${all[@]}" -p mode=RNN_TANH,LSTM,GRU -p dtype=f32)
           run cells-bptt4j main 'Bptt4jTrainingStep'
           filter=("${all[@]}" -p mode=RNN_TANH,LSTM,GRU)
           run cells-djl main 'DjlTrainingStep'
           filter=("${all[@]}" -p mode=RNN_TANH,LSTM,GRU -p dtype=f32,bf16)
           run cells-onednn main 'OneDnnTrainingStep'
           filter=("${saved[@]}") ;;
    # DL4J is fastest single-threaded on this machine (OpenMP threads fight the JVM's).
    dl4j) run dl4j dl4j 'Dl4jTrainingStep' OMP_NUM_THREADS=1 ;;
  esac
done
