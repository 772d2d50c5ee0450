#!/usr/bin/env bash
# Sets modelfit up on this machine: builds the release binary, installs it,
# registers the Claude Code hooks and the MCP server. Safe to run again: a
# second run changes nothing that is already in place.
#
#   ./install.sh                 install into ~/.local/bin (or $PREFIX/bin)
#   ./install.sh --uninstall     remove the hooks and MCP registration (keeps the binary and your data)
#
# Environment: PREFIX (default ~/.local), CLAUDE_CONFIG_DIR (default ~/.claude),
# ORCHESTRATOR_HOME (default ~/JARVIS).
set -euo pipefail
cd "$(dirname "$0")"

prefix=${PREFIX:-$HOME/.local}
bin_dir=$prefix/bin
bin=$bin_dir/modelfit

if [ "${1:-}" = "--uninstall" ]; then
  if [ -x "$bin" ]; then
    "$bin" hooks uninstall
    [ -x hooks/register-mcp.sh ] && hooks/register-mcp.sh --uninstall "$bin" || true
  fi
  echo "modelfit: hooks and MCP registration removed; the binary stays at $bin (delete it by hand if you wish)"
  exit 0
fi

command -v cargo >/dev/null 2>&1 || { echo "install.sh: cargo is needed (https://rustup.rs)" >&2; exit 1; }
# Cargo's own progress (each crate as it compiles, then the bar) shows on the
# terminal: a first build takes a few minutes and should not look stuck.
echo "modelfit: building the release binary (a first build takes a few minutes; cargo shows its progress below)"
start=$(date +%s)
cargo build --release --locked
echo "modelfit: build finished in $(( $(date +%s) - start )) s"

mkdir -p "$bin_dir"
if cmp -s target/release/modelfit "$bin" 2>/dev/null; then
  echo "modelfit: $bin is already up to date"
else
  # Copy then rename, so a hook running right now never sees a half-written binary.
  cp target/release/modelfit "$bin.new.$$"
  mv -f "$bin.new.$$" "$bin"
  echo "modelfit: installed $bin"
fi

# The helper scripts (checkpoint, model-selector drop-in, CI steps, weekly
# report) get a stable home of their own.
share=$prefix/share/modelfit
mkdir -p "$share"
cp -R hooks "$share/"
echo "modelfit: scripts in $share/hooks (weekly cron line: $share/hooks/weekly-learn.cron)"

"$bin" hooks install
if [ -x hooks/register-mcp.sh ]; then
  hooks/register-mcp.sh "$bin"
fi

case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "modelfit: note: $bin_dir is not on your PATH; add it to use 'modelfit' by name" ;;
esac
echo "modelfit: ready. Orchestrator home: ${ORCHESTRATOR_HOME:-$HOME/JARVIS} (set ORCHESTRATOR_HOME to change it)."
echo "modelfit: check the set-up any time with: $bin doctor"
