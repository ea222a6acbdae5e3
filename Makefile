# One command each for the common jobs; every target installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	@mkdir -p var
	@echo ""
	@echo "Atende is starting on http://127.0.0.1:8000 (SQLite file var/atende.db)."
	@echo "In another terminal, create a token and open a first ticket:"
	@echo ""
	@echo "  TOKEN=\$$($(BIN)/atende tokens create --role admin --name me | tail -n 1)"
	@echo "  curl -s -X POST http://127.0.0.1:8000/v1/tickets \\"
	@echo "       -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"subject\": \"Sin internet\", \"description\": \"El módem parpadea\", \\"
	@echo "            \"requester\": {\"name\": \"Ana\", \"email\": \"ana@example.com\"}, \"channel\": \"web\"}'"
	@echo ""
	$(BIN)/atende serve --bind 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/pytest tests/bench -s -p no:cacheprovider -o addopts="" -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var *.egg-info .pytest_cache .ruff_cache
