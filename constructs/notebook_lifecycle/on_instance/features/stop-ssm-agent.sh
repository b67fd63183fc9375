#!/bin/bash
# Feature stop_ssm_agent (root, every start): stop and disable amazon-ssm-agent with systemd
# (AL2, AL2023; two calls: `disable --now` needs systemd 220, AL2 has 219). No upstart branch:
# AL1, its only user, reached end of life in 2024 and its instances can no longer start.
# Without systemd the log says so; an absent agent is no error. Always exits 0.
# Shipped minified: no heredocs, no multi-line strings. The runner logs stdout and stderr alike.
set -u
u=amazon-ssm-agent.service
[ -d /run/systemd/system ] || { echo "no systemd: $u not stopped"; exit 0; }
if systemctl is-active --quiet $u; then
  systemctl stop $u && echo "stopped $u"
else
  echo "$u is not running"
fi
# is-enabled fails for a unit that is not installed: nothing to disable then
systemctl is-enabled --quiet $u 2>/dev/null && systemctl disable $u && echo "disabled $u"
exit 0
