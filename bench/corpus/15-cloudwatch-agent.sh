#!/bin/bash
# Publish instance metrics (CPU, memory, disk of the EBS volume, GPU when there
# is one) and our startup/autostop logs through the CloudWatch agent that
# SageMaker already runs for jupyter.log.
#
# Use append-config, never fetch-config: fetch-config replaces SageMaker's own
# log configuration and the LifecycleConfigOnStart/jupyter.log streams stop.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

ctl=/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
src="$(dirname "$0")/conf/cloudwatch-agent.json"
dest=/opt/aws/amazon-cloudwatch-agent/etc/team-metrics.json

if [ ! -x "$ctl" ]; then
  warn "CloudWatch agent not installed at $ctl; skipping metrics"
  exit 0
fi
[ -r "$src" ] || die "missing $src"

name=$(notebook_name || echo unknown)
# The JSON template uses @NOTEBOOK@ for the dimension value and the log stream names.
sed "s/@NOTEBOOK@/$name/g" "$src" >"$dest.tmp"
if ! python3 -m json.tool "$dest.tmp" >/dev/null 2>&1; then
  rm -f "$dest.tmp"
  die "$src is not valid JSON after substitution"
fi

# The GPU section only works where nvidia-smi exists; drop it elsewhere.
if ! command -v nvidia-smi >/dev/null 2>&1; then
  python3 - "$dest.tmp" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as fh:
    cfg = json.load(fh)
cfg.get("metrics", {}).get("metrics_collected", {}).pop("nvidia_gpu", None)
with open(path, "w") as fh:
    json.dump(cfg, fh, indent=2)
PY
fi
mv -f "$dest.tmp" "$dest"

log "appending $dest to the agent configuration"
if ! "$ctl" -a append-config -m ec2 -c "file:$dest" -s >/tmp/cwagent-append.log 2>&1; then
  warn "append-config failed; see /tmp/cwagent-append.log"
  tail -5 /tmp/cwagent-append.log >&2
  exit 0
fi

# -s already restarts the agent on AL2/AL2023; AL1 needs the upstart job
if [ "$(os_flavor)" = al1 ]; then
  restart amazon-cloudwatch-agent 2>/dev/null || true
fi
log "agent status: $("$ctl" -a status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status"))' 2>/dev/null || echo unknown)"
