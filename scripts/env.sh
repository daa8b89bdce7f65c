# Environment shared by scripts/setup, scripts/test and the stages (sourced).
: "${SLICK_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export SLICK_ROOT
# Our package is developed and tested in this virtualenv...
export SLICK_VENV="${SLICK_VENV:-$SLICK_ROOT/.venv}"
# ...and the original pure-Python peer (same module name!) lives in its own.
export SLICK_PEER_VENV="${SLICK_PEER_VENV:-$SLICK_ROOT/.peer-venv}"
export SLICK_PEER_PYTHON="$SLICK_PEER_VENV/bin/python"
export SLICK_PEER_VERSION="2.3.0"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# ...and its sdist (for its test suite and README, run by 45-python-compat.sh).
export SLICK_PEER_SDIST="${SLICK_PEER_SDIST:-$SLICK_ROOT/.peer-sdist}"
