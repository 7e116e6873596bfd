# Two commands a newcomer needs (README): `make book` and `make test`.
# Both create .venv on first use and install everything offline-capable.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= offline
# The small CPU wheel; a GPU server installs its own torch build first (README).
TORCH  ?= torch==2.13.0
HF_HUB_OFFLINE ?= 1
export HF_HUB_OFFLINE
TRANSFORMERS_OFFLINE ?= $(HF_HUB_OFFLINE)
export TRANSFORMERS_OFFLINE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install book test lint lab corpus clean gpu-check loso-table

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e '.[book,dev]'
	$(BIN)/python -c "from sernb.utils import compile_librosa_kernels as c; c()"  # numba's cache, written once
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (sernb)" >/dev/null
	touch $@

corpus: install
	$(BIN)/sernb synth --size smoke --cues
	$(BIN)/sernb synth --size default --cues

# make book [PROFILE=smoke|offline|full] [DATA_ROOT=/path/to/iemocap] [DEVICE=cuda] [CELL_TIMEOUT=s]
#           [TEXT_MODEL=/path/to/deberta-v3-base] [AUDIO_MODEL=/path/to/wav2vec2-base]
# runs every chapter into runs/$(PROFILE)/ and builds book/_build/html from those runs.
# On the CPU profiles the chapters' runs are trained first by the study grid (EXECUTOR=local: one
# one-thread worker per core, about 2x faster on 2 cores than one two-thread process); the
# chapters then read them back. EXECUTOR=none: each chapter trains what it needs, one at a time.
EXECUTOR ?= $(if $(filter full,$(PROFILE)),none,local)
book: install
	$(BIN)/sernb reproduce --profile $(PROFILE) $(if $(filter-out none,$(EXECUTOR)),--executor $(EXECUTOR)) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)") --device $(or $(DEVICE),auto) $(if $(CELL_TIMEOUT),--cell-timeout $(CELL_TIMEOUT)) $(if $(TEXT_MODEL),--text-model "$(TEXT_MODEL)") $(if $(AUDIO_MODEL),--audio-model "$(AUDIO_MODEL)") --build

# The six- and four-class leave-one-session-out tables of every system that runs (chapter 8):
# 7 systems x 5 sessions x SEEDS per label set, trained by the grid on WORKERS processes, then
# `sernb table1` writes LOSO_OUT/<k>-classes/{table1.csv,table1_runs.csv,provenance.txt}.
# Offline on 2 cores: about 30 min per label set. LOSO_OUT=book/measured/loso_table refreshes
# the copy the book shows.
LOSO_SYSTEMS ?= blstm_dcnn whisper_audio text_only cogmen baseline ours ours_whisper
LOSO_OUT ?= runs/$(PROFILE)/loso_table
SEEDS ?= 3
WORKERS ?= 2
LOSO_OPTS = --profile $(PROFILE) --protocol loso --seeds $(SEEDS) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)") \
            $(if $(TEXT_MODEL),--text-model "$(TEXT_MODEL)")
loso-table: install
	for k in 6 4; do \
	  $(BIN)/sernb grid $(LOSO_OPTS) --classes $$k --system $(LOSO_SYSTEMS) --executor local --workers $(WORKERS) && \
	  $(BIN)/sernb table1 $(LOSO_OPTS) --classes $$k --out "$(LOSO_OUT)/$$k-classes" || exit 1; \
	done

test: install
	$(BIN)/ruff check sernb tests book
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

# On a machine with CUDA (< 8 min): pytest -m cuda, sernb bench --device cuda, one LOSO fold of
# `full` with a random-weight DeBERTa-v3-base-sized stand-in; one summary (runs/gpu_check.json).
# Without CUDA it says so (exit 3). GPU_CHECK_SIZE=iemocap uses the IEMOCAP-sized synthetic corpus.
gpu-check: install
	$(BIN)/sernb gpu-check --size $(or $(GPU_CHECK_SIZE),default) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)")

# JupyterLab on book/: open NN_*.ipynb (jupytext keeps the paired .py in sync; widgets live).
lab: install
	cd book && ../$(BIN)/jupyter lab

clean:
	rm -rf runs book/_build .pytest_cache
