# The two commands a new user needs: `make run` plays the default world offline, `make test` runs the tests.
.PHONY: run test test-local-llm lint bench

run:
	@scripts/bootstrap
	.venv/bin/parley run --seed 1

test:
	@scripts/bootstrap
	.venv/bin/python -m pytest

# Against a real llama-server and a small model (built once per machine into ~/.cache/parley/local-llm).
test-local-llm:
	scripts/test-local-llm

# ruff (style, and complexity at most 15 per function) over the code, tests and benchmarks; mypy over parley/.
lint:
	@scripts/bootstrap
	.venv/bin/ruff check parley tests benchmarks
	.venv/bin/ruff format --check parley tests benchmarks
	.venv/bin/mypy parley

bench:
	@scripts/bootstrap
	.venv/bin/python benchmarks/offline_run.py
