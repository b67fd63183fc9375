# shellcheck shell=bash
# notebook-lifecycle emulator: the body of a recording stub (appended to stub-head.sh)
me=${0##*/}
if [ "$me" = initctl ]; then me=${1:-}; shift || true; fi
job=${1:-}
case $me in
  status) echo "$job start/running, process 4242" ;;
  start | restart) echo "$job start/running, process 4242" ;;
  stop) echo "$job stop/waiting" ;;
esac
exit 0
