#!/bin/sh
# Makes bench/vs_rampboard/.venv-rampboard: ramp-board 0.10.1 + ramp-workflow 0.7.0 on Python 3.11, from PyPI,
# with the pins of requirements-rampboard.txt (their reasons are in README.md). Run from anywhere:
#
#     bench/vs_rampboard/setup.sh            # PYTHON=python3.11 by default; VENV=... to put it elsewhere
#
# It replaces an existing virtualenv at that place. The versions it got are written to
# .venv-rampboard/installed.txt (pip freeze).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-$HERE/.venv-rampboard}

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
    echo "setup.sh: $PYTHON is not Python 3.11 (set PYTHON=...)" >&2; exit 1; }
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$HERE/requirements-rampboard.txt"
"$VENV/bin/python" -m pip check
"$VENV/bin/python" -m pip freeze > "$VENV/installed.txt"
# Imports what the benchmark uses, as a check; in the virtualenv's folder, because ramp_engine creates its
# log files (dispatcher.log, worker.log, aws_worker.log) in the current folder when it is imported.
(cd "$VENV" && bin/python -c 'import ramp_database.utils, ramp_engine, ramp_frontend, ramp_utils, rampwf; print("ramp-board venv ready:", rampwf.__version__)')
test -x "$VENV/bin/ramp-launch" && test -x "$VENV/bin/ramp-test"
echo "$VENV"
