# The set-up contract: `make demo` and `make test` work as the first command on a fresh machine.
# Both create .venv with Python 3.12 when it is missing and install the project (a no-op when the
# install stamp matches pyproject.toml + constraints.txt).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# python3.12 may be a pyenv shim that refuses to run when 3.12 is not the global version: try real binaries.
PY312 := $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt Makefile | md5sum | cut -c1-12)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export YOLO_OFFLINE := 1

.PHONY: install demo test clean kernels bench gpu-wheels gpu-build-wheels gpu-check system-deps

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	@test -n "$(PY312)" || { echo "error: Python 3.12 not found (need python3.12 on PATH or under ~/.pyenv/versions)"; exit 1; }
	@test -x $(PY) || $(PY312) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@# MediaPipe's hand models (tracks.hands): its metadata pins opencv-contrib-python (a second cv2/) and jax, which
	@# the Hands solution does not use, so it goes in without dependencies; protobuf<5 comes from constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps mediapipe==0.10.14
	@# exactly one OpenCV distribution may own cv2/ (see pyproject.toml)
	@n=$$($(PY) -m pip list --disable-pip-version-check 2>/dev/null | grep -ciE '^opencv-(contrib-)?python(-headless)? '); \
	  test "$$n" = 1 || { echo "error: $$n OpenCV distributions installed, expected 1"; exit 1; }
	@rm -f $(VENV)/.installed-*; touch $@

DEMO_SCENE := recipes/data/synthetic_pick_place/scene.mp4

$(DEMO_SCENE): scripts/make_synthetic_scene.py vla_builder/synthetic.py | $(STAMP)
	$(PY) scripts/make_synthetic_scene.py recipes/data/synthetic_pick_place --scenario pick_place

demo: $(STAMP) system-deps $(DEMO_SCENE)
	$(PY) -m vla_builder build recipes/demo.yaml

# two workers (the suite is sized for CI's 2 cores: -n 2 took 406 s where one took ~535 s); a file's tests stay on
# one worker so its module fixtures are built once; session fixtures are built once per worker
test: $(STAMP) system-deps
	$(PY) -m pytest -q -n 2 --dist loadfile

# System packages, from Debian's archive when missing and run as root (CI's .ci/run is): FFmpeg's shared libraries
# (torchcodec, lerobot's default decoder, loads them; without them every LeRobotDataset(...) prints torchcodec's
# load traceback before falling back to PyAV) and Chromium (the HTML report's browser test). Not root: a note.
system-deps:
	@missing=""; \
	{ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -qE 'libavutil\.so\.(56|57|58|59|60) ' || missing="$$missing ffmpeg"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$missing (apt-get)"; \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note: missing$$missing: install FFmpeg's shared libraries and chromium (sudo make system-deps)"; fi; \
	fi

bench: $(STAMP)
	$(PY) scripts/bench_e2e.py

kernels: $(STAMP)
	$(PY) -m vla_builder.kernels.build

# What scripts/gpu_check.sh needs on a bare GPU machine without network (<= 64 MiB; see the script's doc).
# GPU_PYTHON: that machine's Python version (binary wheels are per version).
GPU_PYTHON ?= 3.12
gpu-wheels: $(STAMP)
	$(PY) scripts/make_gpu_wheels.py --python $(GPU_PYTHON) --out gpu_wheels

# What a whole build needs there beyond gpu-wheels (lerobot and its datasets stack, measured), in parts of <= 56 MiB
gpu-build-wheels: $(STAMP)
	$(PY) scripts/make_gpu_wheels.py --bundle build --python $(GPU_PYTHON) --out gpu_build_wheels

# Every GPU claim in one command (on the GPU machine: scripts/gpu_check.sh gpu_wheels, figures under $$OUT)
gpu-check:
	scripts/gpu_check.sh gpu_wheels

clean:
	rm -rf out build *.egg-info
