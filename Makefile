# make test : virtual environment (if missing) from the lock, the project installed into it (editable)
#             + data + the full pytest suite (CI runs this)
# make check: the fast tier, never importing TensorFlow: every test not marked `tf` or `slow` (about 30 s)
# make run  : data (if missing) + every notebook executed top to bottom, outputs written back
#             QUICK=1 make run executes them in smoke mode into runs/quick/ instead
# make data : data/tweets.csv from TweetEval emoji (download, or copy from $TWEETS_SOURCE);
#             make data DATASET=sentiment140 builds data/sentiment140.csv from Sentiment140's 1.6M tweets;
#             BASE_URL=... downloads from a mirror instead of the published address
# make bench: the encoding benchmark grid, one JSON line per measurement
# make lock : recompile requirements.txt (every package, pinned) from requirements.in

PYTHON  ?= python3.11
VENV    := .venv
PY      := $(VENV)/bin/python
DATASET ?= tweeteval
DATA    := $(if $(filter sentiment140,$(DATASET)),data/sentiment140.csv,data/tweets.csv)
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: test check run data venv bench lock clean

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	@touch $@

venv: $(VENV)/.installed

$(DATA): | $(VENV)/.installed
	$(PY) data_load_utils.py make-data --dataset $(DATASET) --out $@ $(if $(BASE_URL),--base-url $(BASE_URL))

data: $(DATA)

test: venv data
	REQUIRE_DATA=1 $(PY) -m pytest

check: venv
	FAST_TIER=1 $(PY) -m pytest -m "not slow and not tf" -q

run: venv data
	$(PY) scripts/run_notebooks.py $(if $(QUICK),--smoke --out runs/quick)

bench: venv data
	$(PY) benchmarks/profile_encoding.py --grid standard --out benchmarks/results/profile_encoding.jsonl

lock:
	@test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools)
	.venv-lock/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in

clean:
	rm -rf $(VENV) .venv-lock runs .pytest_cache
