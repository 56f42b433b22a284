#!/usr/bin/env bash
# Installs Alembic from PyPI into a virtual environment for kiln-bench (issue 6, scenarios 2 and 5).
# Usage: setup.sh VENV_DIR. Idempotent; the harness calls it on first use.
set -euo pipefail
venv="${1:?usage: setup.sh VENV_DIR}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/alembic" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    # The current releases, as the issue asks; SQLite needs no driver beyond Python's own.
    "$venv/bin/pip" install --quiet --disable-pip-version-check alembic sqlalchemy
fi
"$venv/bin/alembic" --version
