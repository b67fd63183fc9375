# shellcheck shell=bash
# notebook-lifecycle emulator: the body of a recording stub (appended to stub-head.sh)
exit 0
