# The two commands of the README: `make up` (run GenFleet) and `make test` (run the tests).
.PHONY: setup up test lint typecheck pytest bench fmt

setup:
	bash scripts/setup.sh

up: setup
	uv run --locked genfleet up --fleet examples/fleet

test: setup lint typecheck pytest

lint:
	uv run --locked ruff check .
	uv run --locked ruff format --check .

typecheck:
	uv run --locked mypy libs/common/src services/container-svc/src services/gateway/src services/scan-svc/src services/perf-svc/src services/ai-svc/src services/campaign-svc/src cli/src tools/src

pytest:
	uv run --locked pytest

bench: setup
	uv run --locked python bench/run.py

fmt:
	uv run ruff format .
	uv run ruff check --fix .
