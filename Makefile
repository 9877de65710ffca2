# The two entry points of the course. Both create (or reuse) .venv and install what they need.
#   make course   export the package, release the student notebooks, build the book
#   make test     run the whole test suite
BIN := .venv/bin

.PHONY: course test
course: .venv/.installed
	$(BIN)/tinytorch export
	$(BIN)/tinytorch course release
	$(BIN)/tinytorch book

test: .venv/.installed
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=25

.venv/.installed: pyproject.toml requirements/constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $@
