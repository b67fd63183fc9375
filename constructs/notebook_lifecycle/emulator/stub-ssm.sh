# shellcheck shell=bash
# notebook-lifecycle emulator: the body of a recording stub (appended to stub-head.sh)
case ${1:-} in
  -version | --version | version) echo "SSM Agent version: 3.3.1142.0" ;;
esac
exit 0
