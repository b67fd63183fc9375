#!/bin/bash
# Stop (and optionally remove) the SSM agent that ships on the notebook image.
#
# In our VPC the agent cannot reach SSM with the instance's credentials and
# retries forever, filling /var/log/amazon/ssm with AccessDenied noise.
# Set SSM_UNINSTALL=1 in ~/SageMaker/.platform/settings.env to also erase the
# package (adds 20-40 s to the start), or KEEP_SSM_AGENT=1 if you use
# sagemaker-ssh-helper, which needs the agent.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

if [ "${KEEP_SSM_AGENT:-0}" = 1 ]; then
  log "KEEP_SSM_AGENT=1: leaving amazon-ssm-agent alone"
  exit 0
fi

unit=amazon-ssm-agent
if command -v systemctl >/dev/null 2>&1; then
  if systemctl is-active --quiet "$unit"; then
    log "stopping $unit"
    systemctl stop "$unit" || warn "systemctl stop $unit failed"
  else
    log "$unit is not running"
  fi
  # disable so that a later systemctl daemon-reload by another script cannot revive it
  systemctl disable --quiet "$unit" 2>/dev/null || true
elif command -v initctl >/dev/null 2>&1; then
  # Amazon Linux 1 (upstart); kept for the old instances that still run it
  if status "$unit" 2>/dev/null | grep -q running; then
    stop "$unit" || warn "stop $unit failed"
  fi
else
  warn "neither systemd nor upstart found; cannot manage $unit"
fi

if [ "${SSM_UNINSTALL:-0}" = 1 ]; then
  pm=$(pkg_manager) || { warn "no package manager; not uninstalling"; exit 0; }
  if rpm -q "$unit" >/dev/null 2>&1; then
    log "removing $unit with $pm"
    "$pm" -y -q remove "$unit" || warn "$pm remove $unit failed"
  fi
fi
exit 0
