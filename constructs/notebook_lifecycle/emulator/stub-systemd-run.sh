# shellcheck shell=bash
# notebook-lifecycle emulator: the body of a recording stub (appended to stub-head.sh)
echo "Running as unit: run-u$RANDOM.service" >&2
exit 0
