# make test : virtual environment (if missing) from the lock, the project installed into it (editable)
#             + data + the full pytest suite (CI runs this)
# make check: the fast tier, never importing TensorFlow: every test not marked `tf` or `slow` (about 30 s)
# make run  : data (if missing) + every notebook executed top to bottom, outputs written back
#             QUICK=1 make run executes them in smoke mode into runs/quick/ instead
# make data : data/tweets.csv from TweetEval emoji (download, or copy from $TWEETS_SOURCE);
#             make data DATASET=sentiment140 builds data/sentiment140.csv from Sentiment140's 1.6M tweets;
#             BASE_URL=... downloads from a mirror instead of the published address
# make bench: the encoding benchmark grid, one JSON line per measurement
# make site : the series as a static website in build/site (SITE_OUT=...), built offline from README.md
#             and the committed notebooks, with mkdocs from its own lock (requirements-site.txt, .venv-site)
# make lock : recompile requirements.txt (every package, pinned) from requirements.in
#             (make site-lock: requirements-site.txt from requirements-site.in)

PYTHON  ?= python3.11
VENV    := .venv
PY      := $(VENV)/bin/python
DATASET ?= tweeteval
SITE_VENV := .venv-site
SITE_OUT  ?= build/site
DATA    := $(if $(filter sentiment140,$(DATASET)),data/sentiment140.csv,data/tweets.csv)
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: test check run data venv bench lock clean site site-venv site-lock

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	@touch $@

venv: $(VENV)/.installed

$(DATA): | $(VENV)/.installed
	$(PY) -m tweet_lstm data --dataset $(DATASET) --out $@ $(if $(BASE_URL),--base-url $(BASE_URL))

data: $(DATA)

test: venv data
	REQUIRE_DATA=1 $(PY) -m pytest

check: venv
	FAST_TIER=1 $(PY) -m pytest -m "not slow and not tf" -q

run: venv data
	$(PY) scripts/run_notebooks.py $(if $(QUICK),--smoke --out runs/quick)

bench: venv data
	$(PY) benchmarks/profile_encoding.py --grid standard --out benchmarks/results/profile_encoding.jsonl

$(SITE_VENV)/.installed: requirements-site.txt
	@test -x $(SITE_VENV)/bin/python || $(PYTHON) -m venv $(SITE_VENV)
	$(SITE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-site.txt
	@touch $@

site-venv: $(SITE_VENV)/.installed

site: site-venv
	$(SITE_VENV)/bin/python scripts/build_site.py --out $(SITE_OUT)

site-lock:
	@test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools)
	.venv-lock/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements-site.txt requirements-site.in

lock:
	@test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools)
	.venv-lock/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in

clean:
	rm -rf $(VENV) .venv-lock $(SITE_VENV) build runs .pytest_cache
