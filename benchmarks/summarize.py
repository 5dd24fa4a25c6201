#!/usr/bin/env python3
"""Turns benchmarks/results/*.json (JMH, SampleTime) into the markdown tables of RESULTS.md.

Per configuration: the median ms per training step (robust on a shared machine), GFLOP/s at the
median with FLOP = 6*T*B*H*(I+H), the GEMM ceilings measured in the same run (sgemm 1024^3,
GFLOP/s at its median) for OpenBLAS (the issue's definition) and MKL (the BLAS bptt4j runs on),
a GEMM-only floor per library built from the measured shapes (4 whole-sequence GEMMs of
(T*B)xHxI-type plus 2*T per-step BxHxH GEMMs, all timed as the NT shape), and the ratio of each
peer's median to bptt4j's.
"""
import json
import sys
from pathlib import Path

results = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
rows = []
for f in sorted(results.glob("*.json")):
    if not f.name.startswith("peers"):  # peers*.json: PeerRatios' rounds, read by peer_tables()
        rows += json.loads(f.read_text())


def peer_tables():
    """PeerRatios (peers.sh): every cell's peers in rounds, with the ceiling of both BLAS libraries in each round."""
    machine = results / "machine.txt"
    info = dict(l.split(":", 1) for l in machine.read_text().splitlines() if ":" in l) if machine.exists() else {}
    info = {k.strip(): v.strip() for k, v in info.items()}
    cpu = info.get("Model name", "?") + (f" (family {info['CPU family']}, model {info['Model']}, {info.get('CPU(s)', '?')} CPUs)"
                                          if "CPU family" in info and "Model" in info else "")
    for f in sorted(results.glob("peers*.json")):
        data = json.loads(f.read_text())
        med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else 0.5 * (sorted(v)[len(v) // 2 - 1] + sorted(v)[len(v) // 2])
        quart = lambda v: f"**{med(v):.2f}** ({sorted(v)[len(v) // 4]:.2f}–{sorted(v)[(3 * len(v)) // 4]:.2f})"
        ceiling_flop = 3 * 2.0 * 1024 ** 3
        print()
        print(f"### {cpu}: every cell in rounds ({f.name}; tensors {data['tensors']})")
        print()
        print(f"bptt4j: {data['backend']}. Per round, back to back: one training step of each peer and three sgemm 1024³ "
              "on two threads of each BLAS; ratios within the round, medians (quartiles). The ceiling is the better BLAS's sgemm "
              "1024³ in the same round. Targets: ≥ 1.5× the fastest float32 peer at 100×64×256×256 and 200×32×128×128; "
              "≥ 90 % of the ceiling at 50×256×512×512 and 20×1024³.")
        print()
        print("| cell | T×B×I×H | bptt4j ms | DJL/libtorch ms | oneDNN f32 ms | oneDNN bf16 ms | ceiling GFLOP/s MKL / OpenBLAS "
              "| fastest f32 peer ÷ bptt4j | bptt4j ÷ ceiling | target | oneDNN bf16 ÷ bptt4j | rounds |")
        print("|---|---|---:|---:|---:|---:|---|---|---|---|---|---:|")
        for row in data["rows"]:
            ms = row["ms"]
            n = row["rounds"]
            fastest = [min(ms["djl"][r], ms["onednn_f32"][r]) / ms["bptt4j"][r] for r in range(n)]
            of_ceiling = [(row["flop"] / ms["bptt4j"][r]) / max(ceiling_flop / ms["ceiling_mkl"][r], ceiling_flop / ms["ceiling_openblas"][r])
                          for r in range(n)]
            bar = [ms["onednn_bf16"][r] / ms["bptt4j"][r] for r in range(n)] if "onednn_bf16" in ms else None
            c = row["config"]
            if c in ("100x64x256x256", "200x32x128x128"):
                target = "met" if med(fastest) >= 1.5 else "**not met**"
            elif c in ("50x256x512x512", "20x1024x1024x1024"):
                target = "met" if med(of_ceiling) >= 0.9 else "**not met**"
            else:
                target = "–"
            print(f"| {row['cell']} | {c} | {med(ms['bptt4j']):.2f} | {med(ms['djl']):.2f} | {med(ms['onednn_f32']):.2f} | "
                  + (f"{med(ms['onednn_bf16']):.2f}" if bar else "–")
                  + f" | {ceiling_flop / med(ms['ceiling_mkl']) / 1e6:.0f} / {ceiling_flop / med(ms['ceiling_openblas']) / 1e6:.0f} | "
                  f"{quart(fastest)} | {quart(of_ceiling)} | {target} | " + (quart(bar) if bar else "–") + f" | {n} |")
        kernels = sorted({(r["cell"], r["onednn_f32_kernels"], r["onednn_bf16_kernels"]) for r in data["rows"]})
        print()
        print("oneDNN's kernels: " + "; ".join(f"{c} f32 {k32}, bf16 {k16 or '–'}" for c, k32, k16 in kernels))


def stat(bench, **params):
    # bptt4j's and DJL's rows carry the cell as the `mode` parameter; the main tables are the tanh RNN's.
    # bptt4j's rows also carry `reuse` (reused result tensors); the tables compare fresh ones.
    # Both also carry `resident` (tensors kept on the backend, no host copies); the main tables are the host-array step's.
    defaults = {"mode": "RNN_TANH", "reuse": "false", "resident": "false"}
    if bench.startswith(("Bptt4jTrainingStep", "DjlTrainingStep", "OneDnnTrainingStep")):
        params.setdefault("mode", "RNN_TANH")
        params.setdefault("resident", "false")
    if bench.startswith("OneDnnTrainingStep"):
        params.setdefault("dtype", "f32")
    if bench.startswith("Bptt4jTrainingStep"):
        params.setdefault("reuse", "false")
    for r in rows:
        if r["benchmark"].endswith(bench) and all(r["params"].get(k, defaults.get(k)) == v
                                                  for k, v in params.items()):
            p = r["primaryMetric"]
            return {"median": p["scorePercentiles"]["50.0"], "min": p["scorePercentiles"]["0.0"],
                    "mean": p["score"], "n": sum(len(x) for x in p.get("rawDataHistogram", [[]])) or None}
    return None


def shape(cfg):
    return tuple(int(v) for v in cfg.split("x"))


def gemm_ms(m, n, k, blas, dtype="f32"):
    s = stat("GemmCeiling.gemm", shape=f"{m}x{n}x{k}", blas=blas, dtype=dtype)
    return s["median"] if s else None


def gflops(flop, ms):
    return flop / (ms * 1e6)


if not rows:  # a peers.sh run: the per-CPU tables alone
    peer_tables()
    sys.exit(0)

ceilings = {}
for blas in ("openblas", "mkl"):
    ms = gemm_ms(1024, 1024, 1024, blas)
    ceilings[blas] = gflops(2 * 1024 ** 3, ms) if ms else None
    print(f"GEMM ceiling, {blas} (sgemm 1024x1024x1024, 2 threads, median): "
          + (f"{ceilings[blas]:.0f} GFLOP/s" if ceilings[blas] else "not measured"))
for blas in ("openblas", "mkl"):
    ms32, ms64 = gemm_ms(1024, 1024, 1024, blas), gemm_ms(1024, 1024, 1024, blas, "f64")
    if ms32 and ms64:
        print(f"GEMM ceiling, {blas}, float64 (dgemm 1024x1024x1024): {gflops(2 * 1024 ** 3, ms64):.0f} GFLOP/s,"
              f" {ms32 / ms64:.2f} of the float32 speed")
print()
print("| shape M×N×K | OpenBLAS median ms | GFLOP/s | MKL median ms | GFLOP/s |")
print("|---|---:|---:|---:|---:|")
seen = []
for r in rows:
    if r["benchmark"].endswith("GemmCeiling.gemm") and r["params"].get("dtype", "f32") == "f32" and r["params"]["shape"] not in seen:
        seen.append(r["params"]["shape"])
for sh in seen:
    m, n, k = shape(sh)
    cells = []
    for blas in ("openblas", "mkl"):
        ms = gemm_ms(m, n, k, blas)
        cells.append(f"{ms:.4f} | {gflops(2 * m * n * k, ms):.0f}" if ms else "– | –")
    print(f"| {m}×{n}×{k} | " + " | ".join(cells) + " |")
print()
ceiling = ceilings["openblas"]
pct = lambda g, c: f"{100 * g / c:.0f}%" if c else "–"

configs = ["100x64x256x256", "50x256x512x512", "200x32x128x128", "20x1024x1024x1024"]
print("| T | B | I | H | bptt4j f32 median (min) ms | GFLOP/s | % of OpenBLAS ceiling | % of MKL ceiling | GEMM-only floor ms (OpenBLAS / MKL) | DJL/PyTorch ms | DL4J ms | fastest peer ÷ bptt4j |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in configs:
    t, b, i, h = shape(c)
    flop = 6.0 * t * b * h * (i + h)
    me = stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f32")
    djl = stat("DjlTrainingStep.trainingStep", config=c)
    dl4j = stat("Dl4jTrainingStep.trainingStep", config=c)
    floors = []
    for blas in ("openblas", "mkl"):
        whole, step = gemm_ms(t * b, h, i, blas), gemm_ms(b, h, h, blas)
        floors.append(f"{4 * whole + 2 * t * step:.1f}" if whole and step else "–")
    if me is None:
        continue
    g = gflops(flop, me["median"])
    peers = [p["median"] for p in (djl, dl4j) if p]
    ratio = f"{min(peers) / me['median']:.2f}×" if peers else "–"
    fmt = lambda s: f"{s['median']:.1f}" if s else "–"
    print(f"| {t} | {b} | {i} | {h} | {me['median']:.1f} ({me['min']:.1f}) | {g:.0f} | "
          + pct(g, ceilings["openblas"]) + " | " + pct(g, ceilings["mkl"]) + " | "
          + " / ".join(floors) + f" | {fmt(djl)} | {fmt(dl4j)} | {ratio} |")
print()

print("Resident tensors (x, dy, y and dL/dx stay on the backend: bptt4j's device buffers, DJL's NDArrays):")
print()
print("| T | B | I | H | bptt4j f32 median (min) ms | GFLOP/s | % of OpenBLAS ceiling | % of MKL ceiling | DJL/PyTorch ms | DJL ÷ bptt4j | bptt4j f64 ms | f64 speed ÷ f32 speed |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in configs:
    t, b, i, h = shape(c)
    flop = 6.0 * t * b * h * (i + h)
    me = stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f32", resident="true")
    me64 = stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f64", resident="true")
    djl = stat("DjlTrainingStep.trainingStep", config=c, resident="true")
    if me is None:
        continue
    g = gflops(flop, me["median"])
    print(f"| {t} | {b} | {i} | {h} | {me['median']:.1f} ({me['min']:.1f}) | {g:.0f} | "
          + pct(g, ceilings["openblas"]) + " | " + pct(g, ceilings["mkl"]) + " | "
          + (f"{djl['median']:.1f} | {djl['median'] / me['median']:.2f}×" if djl else "– | –") + " | "
          + (f"{me64['median']:.1f} | {me['median'] / me64['median']:.2f}" if me64 else "– | –") + " |")
print()

print("| T (B=64, I=H=256) | f32 median ms | ms per time step | f64 median ms | f64 speed ÷ f32 speed |")
print("|---:|---:|---:|---:|---:|")
for t in (50, 100, 200, 400):
    c = f"{t}x64x256x256"
    f32, f64 = stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f32"), stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f64")
    if not f32:
        continue
    print(f"| {t} | {f32['median']:.1f} | {f32['median'] / t:.3f} | " + (f"{f64['median']:.1f} | {f32['median'] / f64['median']:.2f} |" if f64 else "– | – |"))
print()
print("| config | f32 ms | f64 ms | f64 speed ÷ f32 speed |")
print("|---|---:|---:|---:|")
for c in configs:
    f32, f64 = stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f32"), stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f64")
    if f32 and f64:
        print(f"| {c} | {f32['median']:.1f} | {f64['median']:.1f} | {f32['median'] / f64['median']:.2f} |")


gates = {"RNN_TANH": 1, "LSTM": 4, "GRU": 3}
best = max((c for c in ceilings.values() if c), default=None)
cell_rows = []
for resident in ("false", "true"):
    for mode in gates:
        for c in configs:
            me = stat("Bptt4jTrainingStep.trainingStep", config=c, dtype="f32", mode=mode, resident=resident)
            peers = {"djl": stat("DjlTrainingStep.trainingStep", config=c, mode=mode, resident=resident),
                     "f32": stat("OneDnnTrainingStep.trainingStep", config=c, mode=mode, dtype="f32", resident=resident),
                     "bf16": stat("OneDnnTrainingStep.trainingStep", config=c, mode=mode, dtype="bf16", resident=resident)}
            if me is None or (mode == "RNN_TANH" and peers["f32"] is None):
                continue  # the tanh rows without oneDNN are the tables above
            cell_rows.append((resident, mode, c, me, peers))
if cell_rows:
    print()
    print("Every cell against DJL/libtorch and oneDNN's RNN primitive (JMH medians, ms per step; FLOP = 6·T·B·G·H·(I+H), "
          "G = 1, 4, 3; the ceiling is the better BLAS's sgemm 1024³ in this run):")
    print()
    print("| tensors | cell | T×B×I×H | bptt4j f32 | DJL/libtorch | oneDNN f32 | oneDNN bf16 | fastest f32 peer ÷ bptt4j | % of ceiling | oneDNN bf16 ÷ bptt4j |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for resident, mode, c, me, peers in cell_rows:
        t, b, i, h = shape(c)
        g = gflops(6.0 * t * b * h * (i + h) * gates[mode], me["median"])
        f32_peers = [p["median"] for k, p in peers.items() if p and k != "bf16"]
        fmt = lambda p: f"{p['median']:.1f}" if p else "–"
        print(f"| {'resident' if resident == 'true' else 'host arrays'} | {mode} | {c} | {me['median']:.1f} | {fmt(peers['djl'])} | "
              f"{fmt(peers['f32'])} | {fmt(peers['bf16'])} | "
              + (f"{min(f32_peers) / me['median']:.2f}×" if f32_peers else "–") + " | " + pct(g, best) + " | "
              + (f"{peers['bf16']['median'] / me['median']:.2f}" if peers["bf16"] else "–") + " |")

ratio = results / "paired.md"
if ratio.exists():
    print()
    print("In rounds (PairedRatios: per round one f32 step, one f64 step and the MKL sgemm 1024³ ceiling back to back; medians, quartiles):")
    print()
    print("\n".join(l for l in ratio.read_text().splitlines() if l.startswith("|")))

peer_tables()
