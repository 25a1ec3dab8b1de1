# The two commands of the README:
#   make run    set up .venv, install, train the model if missing, start the bot on embedded defaults
#   make test   set up .venv, install, train the model if missing, run the whole test suite
#   make bench  the README's measured numbers (bench/classifier.py, bench/mail.py; needs Dovecot)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
MODEL  := classifiers/model/meta.json

.PHONY: run test setup model bench clean

run: setup model
	$(PY) -m bot run

test: setup model
	$(PY) -m pytest -q $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

model: setup
	@if [ -d classifiers ] && [ -f classifiers/train.py ] && [ ! -f $(MODEL) ]; then $(PY) -m bot train; fi

bench: setup model
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/classifier.py --cv 5
	$(PY) bench/mail.py --messages 5000 --latency 200 --smtp 1000

clean:
	rm -rf $(VENV) data .pytest_cache
