# make test : virtual environment (if missing) + pinned requirements + pytest
# make run  : data (if missing) + every notebook executed top to bottom, outputs written back
#             QUICK=1 make run executes them in smoke mode into runs/quick/ instead
# make data : data/tweets.csv from TweetEval emoji (download, or copy from $TWEETS_SOURCE)
# make bench: the encoding benchmark grid, one JSON line per measurement

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
DATA   := data/tweets.csv
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: test run data venv bench clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

$(DATA): | $(VENV)/.installed
	$(PY) data_load_utils.py make-data --out $@

data: $(DATA)

test: venv data
	REQUIRE_DATA=1 $(PY) -m pytest

run: venv data
	$(PY) scripts/run_notebooks.py $(if $(QUICK),--smoke --out runs/quick)

bench: venv data
	$(PY) benchmarks/profile_encoding.py --grid standard --out benchmarks/results/profile_encoding.jsonl

clean:
	rm -rf $(VENV) runs .pytest_cache
