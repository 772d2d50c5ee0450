#!/usr/bin/env bash
# The test command: installs the outside tools some tests drive, then runs the
# whole suite. Tools: Node.js (checks the ledger's formatting against
# JSON.stringify), tmux (the y/n checkpoint in a real terminal), Chromium (renders
# the HTML report), the official Python MCP SDK (a real MCP client), PostgreSQL
# (tests/sync.rs starts a throwaway cluster with its initdb / pg_ctl).
set -euo pipefail
cd "$(dirname "$0")"

apt_missing=()
command -v tmux >/dev/null 2>&1 || apt_missing+=(tmux)
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_missing+=(postgresql)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${apt_missing[*]} (Debian packages)"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "test.sh: Node.js is required (the tests compare with JSON.stringify)" >&2; exit 1; }

# The Python MCP client lives in a project-local venv, never in the system Python.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import mcp" 2>/dev/null; then
  echo "test.sh: installing the Python MCP SDK into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "mcp==2.3.0"
fi
export MODELFIT_PYTHON="$PWD/.venv/bin/python"

cargo test --no-fail-fast "$@"
