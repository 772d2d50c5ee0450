#!/usr/bin/env bash
# The test command: installs the outside tools some tests drive, then runs the
# whole suite. Tools: Node.js (checks the ledger's formatting against
# JSON.stringify), tmux (the y/n checkpoint in a real terminal), Chromium (renders
# the HTML report), the official Python MCP SDK (a real MCP client), PostgreSQL
# (tests/sync.rs starts a throwaway cluster with its initdb / pg_ctl).
set -euo pipefail
cd "$(dirname "$0")"

# Each system package, and why a test needs it; said before anything is installed.
apt_missing=()
why=()
if ! command -v tmux >/dev/null 2>&1; then
  apt_missing+=(tmux); why+=("tmux: drives the y/n checkpoint in a real terminal (tests/checkpoint.rs)")
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt_missing+=(chromium)
  why+=("chromium: renders the HTML report headless and checks the drawn DOM (tests/report_html.rs); pulls in its GTK/X libraries, ~25 packages, ~300 MB")
fi
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  apt_missing+=(postgresql)
  why+=("postgresql: the sync tests start a throwaway PostgreSQL cluster on 127.0.0.1 (tests/sync.rs)")
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "test.sh: these Debian packages are missing and will be installed with apt-get:"
  for w in "${why[@]}"; do echo "  - $w"; done
  echo "test.sh: (install them yourself first, or interrupt now with Ctrl-C, to avoid this)"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y --no-install-recommends "${apt_missing[@]}"
  echo "test.sh: installed ${apt_missing[*]}"
fi
command -v node >/dev/null 2>&1 || { echo "test.sh: Node.js is required (the tests compare with JSON.stringify)" >&2; exit 1; }

# The Python MCP client lives in a project-local venv, never in the system Python.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import mcp" 2>/dev/null; then
  echo "test.sh: installing the Python MCP SDK (mcp==2.3.0, from PyPI) into ./.venv: tests/mcp.rs drives modelfit mcp with a real client"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "mcp==2.3.0"
fi
export MODELFIT_PYTHON="$PWD/.venv/bin/python"

cargo test --no-fail-fast "$@"
