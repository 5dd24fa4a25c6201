#!/usr/bin/env bash
# Activation checkpointing against the plain pass: `bptt4j bench` (a training step on the host API,
# dL/dx formed) at B = 32, I = H = 256, f32, one layer, T = 1 000, 10 000 and 100 000, with and
# without --checkpoint-activations (k = ⌈√T⌉), back to back. Prints per run the median ms per step
# and the workspace the model holds after the steps (its peak device/off-heap memory beyond
# parameters, gradients and the caller's tensors).
#
#   benchmarks/checkpoint-activations.sh target/bptt4j.jar
#   MODES="rnn_tanh lstm" LENGTHS="1000 10000" benchmarks/checkpoint-activations.sh target/bptt4j.jar
#
# A plain pass whose workspace would not fit beside the host tensors in this machine's memory
# (about 131 KB per step for tanh, measured at T = 1 000 and 10 000) is skipped and said so.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this command only.
set -euo pipefail
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
jar="$1"
B="${B:-32}"; I="${I:-256}"; H="${H:-256}"
memory_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
for mode in ${MODES:-rnn_tanh}; do
  for T in ${LENGTHS:-1000 10000 100000}; do
    # The host tensors x, dy, y and dL/dx: 4·T·B·256·4 bytes on the Java heap.
    heap_gb=$(( (4 * T * B * H * 4) / 1000000000 + 2 ))
    steps=5; warmup=1
    if [[ "$T" -ge 100000 ]]; then steps=2; warmup=1; elif [[ "$T" -ge 10000 ]]; then steps=3; warmup=1; fi
    for variant in plain checkpointed; do
      extra=(); [[ "$variant" == checkpointed ]] && extra=(--checkpoint-activations)
      gates=1; [[ "$mode" == lstm ]] && gates=4; [[ "$mode" == gru ]] && gates=3
      # The plain pass's workspace: per step and sequence the input, the gates and three H-wide
      # tensors (states, dL/dh, y), in float32.
      need_kb=$(( heap_gb * 1000000 ))
      [[ "$variant" == plain ]] && need_kb=$(( need_kb + T * B * (I + (gates + 3) * H) * 4 / 1000 ))
      if (( need_kb > memory_kb * 9 / 10 )); then
        echo "mode=$mode T=$T variant=$variant skipped: needs about $((need_kb / 1000000)) GB, the machine has $((memory_kb / 1000000)) GB"
        continue
      fi
      out=$(java "-Xmx${heap_gb}g" -jar "$jar" bench --mode "$mode" --T "$T" --B "$B" --I "$I" --H "$H" \
            --steps "$steps" --warmup "$warmup" --warmup-seconds 0 --device cpu "${extra[@]}" 2>&1)
      ms=$(sed -n 's/^ms_per_step=//p' <<< "$out")
      ws=$(sed -n 's/^workspace held: \([0-9]*\) bytes.*/\1/p' <<< "$out")
      echo "mode=$mode T=$T variant=$variant ms_per_step=$ms workspace_bytes=$ws"
    done
  done
done
