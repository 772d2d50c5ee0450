#!/bin/sh
# modelfit-ci.sh STATUS [COMMIT] [PIPELINE_URL]
#
# Generic post-pipeline step: records a finished pipeline's result against
# the tasks that produced its commit. Run it on the machine that holds the
# orchestrator home (a self-hosted runner, or a webhook receiver) once the
# pipeline is over, whatever its result.
#
#   STATUS        success | failure | cancelled (also passed/failed/canceled)
#   COMMIT        full SHA or a unique prefix of 7+ hex digits
#                 (default: read from the CI environment by modelfit)
#   PIPELINE_URL  link stored as ci_pipeline (default: from the CI environment)
#
# Environment: MODELFIT (binary, default modelfit on PATH), ORCHESTRATOR_HOME.
#
# Never fails the pipeline: a missing modelfit, no matching task or a modelfit
# error prints a warning and exits 0. Set MODELFIT_CI_STRICT=1 to fail instead.

if [ "$#" -lt 1 ]; then
    echo "usage: modelfit-ci.sh STATUS [COMMIT] [PIPELINE_URL]" >&2
    exit 64
fi
modelfit=${MODELFIT:-modelfit}
strict=${MODELFIT_CI_STRICT:-0}

status=$1 commit=${2:-} pipeline=${3:-}
set -- --status "$status"
if [ -n "$commit" ]; then set -- "$@" --commit "$commit"; fi
if [ -n "$pipeline" ]; then set -- "$@" --pipeline "$pipeline"; fi
if [ "$strict" = 1 ]; then set -- "$@" --strict; fi

if ! command -v "$modelfit" >/dev/null 2>&1; then
    echo "modelfit-ci: $modelfit not found; pipeline result not recorded" >&2
    [ "$strict" = 1 ] && exit 1
    exit 0
fi
"$modelfit" ci "$@"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "modelfit-ci: modelfit ci failed (exit $rc); pipeline result not recorded" >&2
    [ "$strict" = 1 ] && exit "$rc"
fi
exit 0
