#!/usr/bin/env bash
# Makes the virtual environment of the Python tests (CTest fixture python_venv): a venv at $1
# with numpy, scipy, pytest, tqdm and matplotlib from PyPI, and this repository's package
# installed by the one command docs/python.md gives users: `pip install ./python` (maturin
# builds the extension with cargo, in target/ or in $CARGO_TARGET_DIR when set: CTest sets it).
set -euo pipefail
venv="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${QDSIM_PYTHON:-python3}"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy scipy pytest tqdm matplotlib
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root/python"
# From a directory without the source tree: the installed package, not python/qdsim_mem.
cd /
"$venv/bin/python" -c "import qdsim_mem; print('qdsim_mem', qdsim_mem.__version__, 'from', qdsim_mem.__file__)"
