#!/usr/bin/env bash
# Registers `modelfit mcp` as a user-scope MCP server with Claude Code, when
# the `claude` CLI is installed. Idempotent: an existing registration with the
# same command is left alone; one with another command is reported, and
# replaced only with --force. install.sh calls this; it is safe to rerun.
#
# Usage: hooks/register-mcp.sh [--force] [--home DIR] [PATH_TO_MODELFIT]
#        hooks/register-mcp.sh --uninstall [PATH_TO_MODELFIT]
#   PATH_TO_MODELFIT  default: `command -v modelfit`
#   --home DIR        pass ORCHESTRATOR_HOME=DIR to the server (default: the
#                     current $ORCHESTRATOR_HOME if set, else none, and
#                     modelfit uses ~/JARVIS)
#   --force           replace a registration that runs another command
#   --uninstall       remove the registration, only if it runs this modelfit
#
# Exit status: 0 when registered (or already, or no `claude` CLI: nothing to
# do), 1 on a real failure.
set -euo pipefail

name=modelfit
force=0
uninstall=0
home=${ORCHESTRATOR_HOME:-}
bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --uninstall) uninstall=1 ;;
    --home) shift; home=${1:?--home needs a directory} ;;
    --home=*) home=${1#--home=} ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "register-mcp.sh: unknown option $1" >&2; exit 1 ;;
    *) bin=$1 ;;
  esac
  shift
done

if ! command -v claude >/dev/null 2>&1; then
  echo "register-mcp.sh: no \`claude\` CLI on PATH; skipping Claude Code registration" \
       "(see docs/mcp.md for the JSON other clients take)"
  exit 0
fi

if [ -z "$bin" ]; then
  bin=$(command -v modelfit || true)
  [ -n "$bin" ] || { echo "register-mcp.sh: modelfit is not on PATH; pass its path" >&2; exit 1; }
fi
# Claude Code starts the server from any directory: the path must be absolute.
case "$bin" in
  /*) ;;
  *) bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" ;;
esac
[ $uninstall -eq 1 ] || [ -x "$bin" ] || { echo "register-mcp.sh: $bin is not an executable" >&2; exit 1; }
if [ -n "$home" ]; then
  case "$home" in /*) ;; *) home="$(cd "$home" && pwd)" ;; esac
fi

if [ $uninstall -eq 1 ]; then
  if current=$(claude mcp get "$name" 2>/dev/null) && printf '%s' "$current" | grep -qF -- "$bin"; then
    claude mcp remove --scope user "$name" >/dev/null
    echo "register-mcp.sh: removed $name from Claude Code"
  else
    echo "register-mcp.sh: no registration of $name running $bin; nothing to remove"
  fi
  exit 0
fi

if current=$(claude mcp get "$name" 2>/dev/null); then
  if printf '%s' "$current" | grep -qF -- "$bin" \
     && { [ -z "$home" ] || printf '%s' "$current" | grep -qF -- "$home"; }; then
    echo "register-mcp.sh: $name is already registered with Claude Code ($bin mcp)"
    exit 0
  fi
  if [ $force -eq 0 ]; then
    echo "register-mcp.sh: an MCP server named $name is already registered with another" \
         "command; left as is. To replace it: $0 --force $bin" >&2
    printf '%s\n' "$current" | sed 's/^/  /' >&2
    exit 0
  fi
  claude mcp remove --scope user "$name" >/dev/null
fi

# --env takes several values: an option right after it (--scope) ends the
# list, so the server's name is never read as one more variable.
env_args=()
[ -n "$home" ] && env_args=(--env "ORCHESTRATOR_HOME=$home")
claude mcp add --transport stdio "${env_args[@]}" --scope user "$name" -- "$bin" mcp
echo "register-mcp.sh: registered $name with Claude Code (user scope): $bin mcp"
