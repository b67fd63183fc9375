#!/bin/bash
# Restart the Jupyter server once, at the end of the root scripts, when an
# earlier script changed something it only reads at start (environment,
# server config, kernels). Scripts ask for it by touching
# ~/SageMaker/.platform/.restart-jupyter.
#
# --no-block: the lifecycle hook must not wait for Jupyter to come back.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

flag=$NB_STATE/.restart-jupyter
if [ ! -e "$flag" ]; then
  log "no restart requested"
  exit 0
fi
rm -f "$flag"

case "$(os_flavor)" in
  al1)
    initctl restart jupyter-server --no-wait || warn "initctl restart failed"
    ;;
  *)
    if systemctl list-unit-files jupyter-server.service >/dev/null 2>&1; then
      systemctl --no-block restart jupyter-server.service || warn "systemctl restart failed"
    else
      warn "no jupyter-server unit; cannot restart Jupyter"
      exit 0
    fi
    ;;
esac
log "Jupyter server restart requested"
