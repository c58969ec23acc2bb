#!/usr/bin/env bash
# Every GPU claim of vla_builder in one command, on a bare GPU machine without network; all checks share a budget of
# VLA_GPU_CHECK_BUDGET_S (450 s) so the whole run stays under 8 min:
#   1 kernels      the CUDA kernel library builds (nvcc there) or the one built by `make gpu-wheels` loads
#   2 parity       tests/test_kernels.py: each kernel's code (host twin and CUDA) against its NumPy spec
#   3 gpu-tests    pytest -m gpu: kernels, motion stage (lk on CPU vs CUDA: same trajectory within tolerance),
#                  detector batched path
#   4 motion-1080p scripts/bench_motion.py at 1920x1080: CUDA LK pairs/s and EPE next to OpenCV DIS medium (CPUs)
#   5 nvdec        our NVDEC backend decodes an H.264 test video: frame count and pixels against PyAV, then
#                  scripts/bench_decode.py: 1 stream and N processes, NVDEC next to OpenCV
#   6 detector     scripts/bench_detect.py on cuda: batched YOLO throughput
#   7 e2e          scripts/bench_gpu_build.py: a whole build (NVDEC -> CUDA LK motion -> detector -> lerobot writer)
#                  of a generated 1080p30 H.264 clip set at 8 / 4 / 1 workers, default and source image size, against
#                  real time, beside the same build on the machine's CPUs (dis); validate on the output. Needs the
#                  second bundle (lerobot and its datasets stack: `make gpu-build-wheels`, see below). Own limit
#                  VLA_GPU_E2E_LIMIT_S (420 s); VLA_GPU_E2E_ARGS passes options (e.g. "--clips 4 --seconds 30").
# Each check runs under its own time limit; a failure is reported and the next check runs; a summary ends it.
# VLA_GPU_CHECKS="e2e" (names separated by spaces) runs only those; the rest are reported as not asked for.
#
# usage: scripts/gpu_check.sh [WHEELS_DIR]     (default gpu_wheels/, made by `make gpu-wheels` on a CPU machine)
#        scripts/gpu_check.sh --unpack-only    unpack what has arrived of the second bundle and stop
# The second bundle, gpu_build_wheels/part-N/*.tar.xz (`make gpu-build-wheels`), is bigger than one transfer to a GPU
# machine may be: its parts travel one per call and are unpacked, each as it arrives, into the ignored folder
# gpu_site/ (kept between calls while the machine stays warm); every run puts gpu_site/site on PYTHONPATH after the
# first bundle's packages.
# Python: $PYTHON, else python3 (torch with CUDA, numpy and OpenCV must be importable). Figures and logs go to
# $OUT/gpu_check/ when OUT is set, else /tmp/vla_gpu_check/. Exit: 0 all passed, 1 a check failed, 2 no CUDA here
# (the CPU part of the e2e check — a tiny build on the CPUs and validate, VLA_GPU_CHECK_CPU=0 to leave it out — still
# runs then; 1 if it failed).
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UNPACK_ONLY=0
if [ "${1:-}" = "--unpack-only" ]; then UNPACK_ONLY=1; shift; fi
WHEELS="${1:-$ROOT/gpu_wheels}"
PY="${PYTHON:-python3}"
REPORT_DIR="${OUT:+$OUT/gpu_check}"
REPORT_DIR="${REPORT_DIR:-/tmp/vla_gpu_check}"
mkdir -p "$REPORT_DIR"
FIGURES="$REPORT_DIR/figures.txt"
SUMMARY="$REPORT_DIR/summary.txt"
: >"$FIGURES"
: >"$SUMMARY"
export HF_HUB_OFFLINE=1 YOLO_OFFLINE=1 TQDM_DISABLE=1 PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
T_START=$SECONDS
BUDGET_S="${VLA_GPU_CHECK_BUDGET_S:-560}"  # all checks together stay within this (under 10 min with unpacking)
CHECKS="${VLA_GPU_CHECKS:-kernels parity gpu-tests motion-1080p nvdec detector e2e}"
declare -a RESULTS=()
FAILED=0

log() { echo "$*" | tee -a "$FIGURES"; }

# check NAME LIMIT_S CMD...: run with a time limit, output to REPORT_DIR/NAME.log and the figures file
check() {
  local name="$1" limit="$2"
  shift 2
  case " $CHECKS " in *" $name "*) ;; *) skip "$name" "not asked for (VLA_GPU_CHECKS)"; return ;; esac
  local left=$((BUDGET_S - (SECONDS - T_START)))
  if [ "$left" -lt 10 ]; then skip "$name" "out of time (budget ${BUDGET_S} s)"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS rc
  log ""
  log "== $name (limit ${limit} s): $*"
  timeout -k 10 "$limit" "$@" >"$REPORT_DIR/$name.log" 2>&1
  rc=$?
  tail -n 40 "$REPORT_DIR/$name.log" >>"$FIGURES"
  local secs=$((SECONDS - t0)) status
  if [ $rc -eq 0 ]; then
    status="PASS"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    status="FAIL (timed out after ${limit} s)"
    FAILED=$((FAILED + 1))
  else
    status="FAIL (exit $rc; last line: $(tail -n 1 "$REPORT_DIR/$name.log" | cut -c1-160))"
    FAILED=$((FAILED + 1))
  fi
  RESULTS+=("$(printf '%-13s %-6s %4d s  %s' "$name" "${status%% *}" "$secs" "$status")")
  echo "   -> $status (${secs} s)"
}

skip() { RESULTS+=("$(printf '%-13s %-6s %4d s  %s' "$1" "SKIP" 0 "$2")"); log "== $1: skipped ($2)"; }

summary() {
  {
    echo "vla_builder GPU check: $(date -u +%Y-%m-%dT%H:%M:%SZ), $((SECONDS - T_START)) s in all"
    echo "machine: $MACHINE"
    printf '%s\n' "${RESULTS[@]}"
    echo "logs and figures: $REPORT_DIR (figures.txt: every check's output tail)"
  } | tee "$SUMMARY"
  cat "$SUMMARY" >>"$FIGURES"
}

# -- environment ---------------------------------------------------------------------------------------------
if [ -f "$WHEELS/site.tar.xz" ]; then
  SITE="${TMPDIR:-/tmp}/vla_gpu_site"
  # unpacked beside and renamed when complete: an interrupted unpack is never taken for a finished one
  if [ ! -f "$SITE/.complete" ] || [ "$WHEELS/site.tar.xz" -nt "$SITE/.complete" ]; then
    rm -rf "$SITE" "$SITE.part" && mkdir -p "$SITE.part" &&
      tar -xJf "$WHEELS/site.tar.xz" -C "$SITE.part" && touch "$SITE.part/.complete" && mv "$SITE.part" "$SITE" ||
      echo "warning: cannot unpack $WHEELS/site.tar.xz"
  fi
  # after the repository, before the machine's own packages (torch, numpy, OpenCV stay the machine's)
  export PYTHONPATH="$ROOT:$SITE/site${PYTHONPATH#"$ROOT"}"
  [ -f "$WHEELS/MANIFEST.txt" ] && head -n 1 "$WHEELS/MANIFEST.txt" | sed 's/^/wheels: /'
else
  echo "note: no $WHEELS/site.tar.xz (make gpu-wheels): using what $PY already has"
fi
# the second bundle: each part unpacked once, as it arrives, into gpu_site/ (ignored; kept while the machine is warm)
BUILD_SITE="$ROOT/gpu_site"
for archive in "$ROOT"/gpu_build_wheels/part-*/*.tar.xz; do
  [ -f "$archive" ] || continue
  done_mark="$BUILD_SITE/.$(basename "$archive").$(stat -c %s "$archive").done"
  [ -f "$done_mark" ] && continue
  mkdir -p "$BUILD_SITE" && tar -xJf "$archive" -C "$BUILD_SITE" && touch "$done_mark" ||
    echo "warning: cannot unpack $archive"
done
if [ -d "$BUILD_SITE/site" ]; then
  export PYTHONPATH="${PYTHONPATH}:$BUILD_SITE/site"  # after the first bundle: its pins win where both have one
  echo "build bundle: $(ls -A "$BUILD_SITE" | grep -c '\.done$') archive(s) unpacked in gpu_site/"
fi
if [ "$UNPACK_ONLY" -eq 1 ]; then exit 0; fi
if [ -d "$WHEELS/kernels" ] && ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  export VLA_KERNEL_CACHE="$WHEELS/kernels"  # no nvcc here: the library built by make gpu-wheels
fi

ENV_INFO="$("$PY" - <<'EOF' 2>&1
import platform
try:
    import torch
    cuda = torch.cuda.is_available()
    dev = torch.cuda.get_device_name(0) if cuda else "no CUDA"
    print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), {dev}")
    print("CUDA" if cuda else "NOCUDA")
except Exception as e:  # torch missing or broken
    print(f"python {platform.python_version()}, torch not importable: {type(e).__name__}: {e}")
    print("NOCUDA")
EOF
)"
MACHINE="$(echo "$ENV_INFO" | head -n 1); $(nproc) CPUs"
if command -v nvidia-smi >/dev/null 2>&1; then
  MACHINE="$MACHINE; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
fi
log "machine: $MACHINE"

# VLA_GPU_CHECK_FORCE=1 runs the checks anyway (to see each one fail cleanly on a CPU machine)
E2E_ARGS="${VLA_GPU_E2E_ARGS:-}"
if [ "$(echo "$ENV_INFO" | tail -n 1)" != "CUDA" ] && [ -z "${VLA_GPU_CHECK_FORCE:-}" ]; then
  for name in kernels parity gpu-tests motion-1080p nvdec detector e2e; do skip "$name" "no CUDA"; done
  # what runs without a GPU: the e2e script end to end on a tiny clip set (its GPU builds say "no CUDA"), a build on
  # the CPUs and validate — the device run's CPU half, so that a mistake in it shows here, not on the GPU's time
  if [ "${VLA_GPU_CHECK_CPU:-1}" != "0" ]; then
    CHECKS="e2e-cpu"
    # shellcheck disable=SC2086
    check e2e-cpu 300 "$PY" scripts/bench_gpu_build.py --out "$REPORT_DIR" --dry-run $E2E_ARGS
  fi
  summary
  echo "no CUDA on this machine: nothing GPU-specific could be checked"
  [ "$FAILED" -eq 0 ] && exit 2 || exit 1
fi

# -- checks --------------------------------------------------------------------------------------------------
check kernels 45 "$PY" - <<'EOF'
from vla_builder.kernels import cuda as kc
lib = kc.get_library()
print(f"kernel library {lib.path} (ABI {lib.vla_abi_version()}); nvcc: {kc.find_nvcc() or 'none (prebuilt)'}")
EOF

check parity 90 "$PY" -m pytest -q -p no:cacheprovider tests/test_kernels.py -rs

# a GPU test skipped for lack of CUDA here is a failure, not a pass
check gpu-tests 120 bash -c "
'$PY' -m pytest -q -p no:cacheprovider -m gpu -rs tests/test_kernels.py tests/test_motion_stage.py \
  tests/test_detect_track.py 2>&1 | tee '$REPORT_DIR/gpu-tests.pytest.log'
rc=\${PIPESTATUS[0]}
if grep -qiE 'SKIPPED.*(no CUDA|needs CUDA)' '$REPORT_DIR/gpu-tests.pytest.log'; then
  echo 'error: GPU tests were skipped for lack of CUDA'; exit 1
fi
exit \$rc"

check motion-1080p 60 "$PY" scripts/bench_motion.py --sizes 1920x1080 --methods dis-medium --seconds 2

VIDEO="${TMPDIR:-/tmp}/vla_gpu_check_1080p.mp4"
check nvdec 90 bash -c "
set -e
'$PY' - '$VIDEO' <<'EOF'
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, 'scripts')
from bench_decode import make_test_video
from vla_builder.sources.gpu_decode import NvdecDecoder
from vla_builder.sources.video import choose_decoder, probe
path = Path(sys.argv[1])
if not path.is_file():
    make_test_video(path, 1920, 1080, 300)
info = probe(path)
decoder, how = choose_decoder(info, 'nvdec')
gpu = [rgb for _i, _t, rgb in decoder.frames(info)]
cpu_dec, _ = choose_decoder(info, 'pyav')
cpu = [rgb for _i, _t, rgb in cpu_dec.frames(info)]
assert len(gpu) == len(cpu) == 300, (len(gpu), len(cpu))
diff = max(float(np.abs(g.astype(np.int16) - c.astype(np.int16)).mean()) for g, c in zip(gpu[::50], cpu[::50]))
print(f'nvdec ({how}): {len(gpu)} frames, mean |NVDEC - PyAV| <= {diff:.2f} grey levels (colour conversion)')
# BT.601 vs BT.709 / range conversions differ by a few levels; a wrong frame, order or orientation by ~50 or more
assert diff < 10.0, diff
EOF
'$PY' scripts/bench_decode.py '$VIDEO' --procs 4 --backends pynvvideocodec,opencv
"

check detector 45 "$PY" scripts/bench_detect.py --device cuda --frames 256 --skip-single

# a whole build against real time; its JSON (gpu_build.json) beside the logs
# shellcheck disable=SC2086
check e2e "${VLA_GPU_E2E_LIMIT_S:-420}" "$PY" scripts/bench_gpu_build.py --out "$REPORT_DIR" $E2E_ARGS

summary
[ "$FAILED" -eq 0 ] && exit 0 || exit 1
