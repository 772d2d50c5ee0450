#!/bin/sh
# post-task-checkpoint.sh CMD [ARGS...]
#
# Runs a headless task (e.g. `claude -p "fix the login bug"`), then asks the
# person at the terminal whether it worked, and records the answer with
# `modelfit rate` (outcome_source "human"). The exit code of CMD is passed
# through unchanged, whatever happens with the question.
#
# The task rated is the newest task recorded in this directory since this
# script started (the capture hook records it when CMD's session stops). If
# none was recorded, the script says so and asks nothing.
#
# Environment:
#   MODELFIT                    modelfit binary (default: modelfit on PATH)
#   MODELFIT_CHECKPOINT_TIMEOUT seconds to wait for an answer (default 60)
#   ORCHESTRATOR_HOME           the orchestrator home, as for modelfit itself
#
# Without a terminal (CI=true, no controlling terminal, stdin closed)
# `modelfit rate` returns at once without asking. Ctrl-C during CMD ends this
# script as well, without asking.

if [ "$#" -eq 0 ]; then
    echo "usage: post-task-checkpoint.sh CMD [ARGS...]" >&2
    exit 64
fi

modelfit=${MODELFIT:-modelfit}
timeout=${MODELFIT_CHECKPOINT_TIMEOUT:-60}

# Whole seconds, taken before CMD starts: a task of CMD is always at or after it.
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

"$@"
status=$?

if ! command -v "$modelfit" >/dev/null 2>&1; then
    echo "post-task-checkpoint: $modelfit not found; set MODELFIT to its path (task not rated)" >&2
    exit "$status"
fi

# rate prints why when there is nothing to rate or no one to ask; its own
# failure must never replace CMD's exit code.
"$modelfit" rate last --since "$started" --timeout "$timeout" || \
    echo "post-task-checkpoint: no rating recorded for this run (see the message above)" >&2

exit "$status"
