# Two commands on a fresh machine with only python3:
#   make replicate   (the main job; DATA=path [MAPPING=file] [MODULE=file MODULE_MAPPING=file]
#                     for your own panel and a module of your own joined to it, WEIGHTS=column
#                     for probability-weighted estimates, OUT=folder)
#   make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-core
BENCH_STAMP := $(VENV)/.installed-bench
SPARK_STAMP := $(VENV)/.installed-spark
DOCS_STAMP := $(VENV)/.installed-docs
DATA ?=
MAPPING ?=
MODULE ?=
MODULE_MAPPING ?=
WEIGHTS ?=
SOURCE ?=
OUT ?=

.PHONY: test test-spark replicate montecarlo bench docs venv clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,plot,tables]"
	touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,plot,tables,docs]"
	touch $(DOCS_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,bench]"
	touch $(BENCH_STAMP)

# PySpark (the transaction definitions on Spark); needs a Java runtime on the PATH
$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,spark]"
	touch $(SPARK_STAMP)

venv: $(STAMP)

# the suite is CPU-bound: one pytest worker per core (JOBS=1 runs it in one process)
JOBS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) -m "not montecarlo and not bench and not spark"

# DuckDB and Spark give identical transaction indicators (tests marked spark)
test-spark: $(SPARK_STAMP)
	$(PY) -m pytest -q -m spark

replicate: $(STAMP)
	$(PY) -m replication.run $(if $(DATA),--data "$(DATA)") $(if $(MAPPING),--mapping "$(MAPPING)") $(if $(MODULE),--module "$(MODULE)") $(if $(MODULE_MAPPING),--module-mapping "$(MODULE_MAPPING)") $(if $(WEIGHTS),--weights "$(WEIGHTS)") $(if $(OUT),--out "$(OUT)") $(if $(SOURCE),--source "$(SOURCE)")

montecarlo: $(STAMP)
	$(PY) -m pytest -q -m montecarlo -s

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py
	$(PY) -m pytest -q -m bench -p no:cacheprovider

# user guide and API reference into site/; -W turns every warning into an error
docs: $(DOCS_STAMP)
	rm -rf site
	$(PY) -m sphinx -W --keep-going -q -b html docs site

clean:
	rm -rf $(VENV) replication/output replication/.output.gvcpanel-* site
