#!/bin/bash
# Feature stop_ssm_agent (root, every start): stop and disable amazon-ssm-agent.
# systemd on AL2/AL2023 (two calls: `disable --now` needs systemd 220, AL2 has 219);
# upstart on old images (the log says so). An absent agent is no error. Always exits 0.
# Shipped minified: no heredocs, no multi-line strings. The runner prefixes each line.
set -u
unit=amazon-ssm-agent.service
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  if systemctl is-active --quiet $unit; then
    systemctl stop $unit && echo "stopped $unit"
  else
    echo "$unit is not running"
  fi
  # is-enabled fails for a unit that is not installed: nothing to disable then
  if systemctl is-enabled --quiet $unit 2>/dev/null; then
    systemctl disable $unit 2>&1 && echo "disabled $unit"
  fi
elif command -v initctl >/dev/null; then
  echo "no systemd: upstart"
  if initctl status amazon-ssm-agent 2>/dev/null | grep -q running; then
    initctl stop amazon-ssm-agent && echo "stopped amazon-ssm-agent"
  else
    echo "amazon-ssm-agent is not running"
  fi
  # upstart's way to disable a job (the root volume is reset at every start)
  if [ -e /etc/init/amazon-ssm-agent.conf ]; then
    echo manual >/etc/init/amazon-ssm-agent.override && echo "disabled amazon-ssm-agent"
  fi
else
  echo "neither systemd nor upstart runs here; nothing to stop"
fi
exit 0
