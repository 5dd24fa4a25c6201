#!/usr/bin/env bash
# Compiles every cuda/*.cu to PTX for compute_75 and keeps the committed PTX honest.
#
#   cuda/build.sh [--out DIR]            compile into DIR (default target/cuda)
#   cuda/build.sh --check [--out DIR]    compile, then fail if the committed PTX under
#                                        src/main/resources/dev/bptt4j/cuda differs, or if a .cu
#                                        has no committed .ptx or a .ptx no .cu
#   cuda/build.sh --update [--out DIR]   compile, then copy the PTX into the resources
#
# The .cu/.cuh sources are not copied anywhere: Maven puts cuda/*.cu and cuda/*.cuh on the
# classpath beside the PTX (a <resource> in pom.xml). Without nvcc, --check still checks that
# every .cu has its committed .ptx and skips the rebuild with a note. With an nvcc other than the
# one that wrote the committed PTX (its header names the release), --check compiles (so warnings
# still fail) but cannot expect identical bytes, and says so. `mvn verify` runs --check
# (exec-maven-plugin, see pom.xml); -Dexec.skip skips it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CUDA_DIR="$ROOT/cuda"
RESOURCES="$ROOT/src/main/resources/dev/bptt4j/cuda"
OUT="$ROOT/target/cuda"
MODE=build
NVCC="${NVCC:-nvcc}"
# The one place the flags live. No -lineinfo / -G: they add .file directives with absolute paths.
NVCC_FLAGS=(-ptx -arch=compute_75 -O3 -Werror all-warnings)

while [ $# -gt 0 ]; do
    case "$1" in
        --check) MODE=check ;;
        --update) MODE=update ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "cuda/build.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "[cuda/build.sh] $*"; }
failures=0
fail() { echo "[cuda/build.sh] FAIL: $*" >&2; failures=$((failures + 1)); }

cd "$CUDA_DIR"
shopt -s nullglob
KERNEL_FILES=(*.cu)
[ ${#KERNEL_FILES[@]} -gt 0 ] || { echo "cuda/build.sh: no .cu files in $CUDA_DIR" >&2; exit 2; }

# Every .cu has a committed .ptx, and the resources hold nothing else: no .ptx without its .cu,
# and no copy of a source (Maven bundles cuda/ itself).
check_pairs() {
    local f base before=$failures
    for f in "${KERNEL_FILES[@]}"; do
        [ -f "$RESOURCES/${f%.cu}.ptx" ] || fail "${f%.cu}.ptx is not committed in ${RESOURCES#$ROOT/} (run cuda/build.sh --update)"
    done
    for f in "$RESOURCES"/*; do
        base="$(basename "$f")"
        case "$base" in
            *.ptx) [ -f "${base%.ptx}.cu" ] || fail "committed $base has no cuda/${base%.ptx}.cu" ;;
            *) fail "${RESOURCES#$ROOT/}/$base should not be there: only generated PTX is committed beside the classes (sources come from cuda/)" ;;
        esac
    done
    [ "$failures" -ne "$before" ] || say "every cuda/*.cu has its committed .ptx and nothing else is there"
}

nvcc_release() { "$NVCC" --version | grep -m1 'Cuda compilation tools' || true; }

if ! command -v "$NVCC" >/dev/null 2>&1; then
    case "$MODE" in
        update) echo "cuda/build.sh: --update needs nvcc (set NVCC=/path/to/nvcc)" >&2; exit 1 ;;
        build) say "note: nvcc not found; nothing compiled"; exit 0 ;;
        check)
            say "note: nvcc not found; skipping the PTX rebuild, checking only that every .cu has its .ptx"
            check_pairs
            [ "$failures" -eq 0 ] || exit 1
            say "ok (pairs only)"
            exit 0 ;;
    esac
fi

mkdir -p "$OUT"
RELEASE="$(nvcc_release)"
say "nvcc: $(command -v "$NVCC") (${RELEASE:-unknown release}); flags: ${NVCC_FLAGS[*]}"
for cu in "${KERNEL_FILES[@]}"; do
    ptx="$OUT/${cu%.cu}.ptx"
    # Compiled from inside cuda/ by relative name, so nothing in the output depends on where the
    # checkout lives; the check below makes sure of it.
    "$NVCC" "${NVCC_FLAGS[@]}" -o "$ptx" "$cu"
    if grep -nE '^[[:space:]]*\.file|/(home|tmp|work|root|usr)/' "$ptx" >&2; then
        fail "$ptx names a file path (above); the PTX would not be reproducible"
    fi
    # Assemble for the oldest target too, so PTX that the driver's JIT would reject fails here.
    if command -v ptxas >/dev/null 2>&1; then
        ptxas -arch=sm_75 --warning-as-error -o /dev/null "$ptx"
    fi
    say "compiled $cu -> ${ptx#$ROOT/} ($(wc -c < "$ptx") bytes, $(grep -c '^\.visible \.entry' "$ptx") entries)"
done

case "$MODE" in
    build) ;;
    update)
        mkdir -p "$RESOURCES"
        rm -f "$RESOURCES"/*
        for cu in "${KERNEL_FILES[@]}"; do cp "$OUT/${cu%.cu}.ptx" "$RESOURCES/"; done
        say "updated ${RESOURCES#$ROOT/}: $(cd "$RESOURCES" && ls | tr '\n' ' ')"
        ;;
    check)
        check_pairs
        for cu in "${KERNEL_FILES[@]}"; do
            name="${cu%.cu}.ptx"
            committed="$RESOURCES/$name"
            if [ ! -f "$committed" ]; then fail "$name is not committed (run cuda/build.sh --update)"; continue; fi
            committed_release="$(grep -m1 'Cuda compilation tools' "$committed" | sed 's|^// *||' || true)"
            if [ "$committed_release" != "$RELEASE" ]; then
                say "note: committed $name was written by '$committed_release', this nvcc is '$RELEASE';" \
                    "bytes cannot match, so only the compile was checked"
            elif cmp -s "$OUT/$name" "$committed"; then
                say "ptx $name: rebuilt bytes identical to the committed file"
            else
                diff -u "$committed" "$OUT/$name" | head -40 >&2 || true
                fail "committed $name differs from a fresh build (stale; run cuda/build.sh --update)"
            fi
        done
        ;;
esac

[ "$failures" -eq 0 ] || { echo "[cuda/build.sh] $failures check(s) failed" >&2; exit 1; }
say "ok ($MODE)"
