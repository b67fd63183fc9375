#!/bin/bash
# Global environment for every login shell and (after the Jupyter restart) every
# kernel: region, team, the notebook's name and a few tool defaults.
#
# Tags on the notebook instance win over conf/settings.env for the handful of
# keys we read from tags (env:* tags; for example env:MLFLOW_TRACKING_URI).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

out=/etc/profile.d/team-env.sh
name=$(notebook_name || echo unknown)
region=$(aws_region || echo "${DEFAULT_REGION:-eu-west-1}")

declare -A vars=(
  [AWS_DEFAULT_REGION]=$region
  [AWS_REGION]=$region
  [NOTEBOOK_NAME]=$name
  [TEAM_NAME]=${TEAM_NAME:-unknown}
  [COST_CENTER]=${COST_CENTER:-}
  [PIP_DISABLE_PIP_VERSION_CHECK]=1
  [PYTHONDONTWRITEBYTECODE]=1
  [MPLBACKEND]=Agg
  [TOKENIZERS_PARALLELISM]=false
  [RCLONE_S3_ENV_AUTH]=true
  [RCLONE_S3_REGION]=$region
  [RCLONE_S3_SERVER_SIDE_ENCRYPTION]=aws:kms
  [RCLONE_S3_NO_CHECK_BUCKET]=true
)

# env:KEY=value tags, if the role may list tags (sagemaker:ListTags)
arn=$(notebook_arn || true)
if [ -n "$arn" ] && command -v aws >/dev/null 2>&1; then
  tags=$(aws sagemaker list-tags --resource-arn "$arn" --region "$region" \
    --query 'Tags[?starts_with(Key, `env:`)].[Key,Value]' --output text 2>/dev/null || true)
  while IFS=$'\t' read -r key value; do
    [ -n "$key" ] || continue
    key=${key#env:}
    if [[ ! $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      warn "ignoring tag env:$key: not a valid variable name"
      continue
    fi
    case "$key" in PATH|HOME|USER|SHELL|LD_*) warn "ignoring tag env:$key: reserved"; continue ;; esac
    vars[$key]=$value
  done <<<"$tags"
fi

{
  echo "# Written by 13-profile-env.sh on every start; edit conf/settings.env or the env:* tags."
  for key in $(printf '%s\n' "${!vars[@]}" | sort); do
    printf 'export %s=%q\n' "$key" "${vars[$key]}"
  done
} | write_if_changed "$out" 644 >/dev/null

# The Jupyter server only sees these after a restart; ask for one if anything changed.
if ! cmp -s "$out" "$NB_STATE/team-env.last" 2>/dev/null; then
  install -d -o ec2-user -g ec2-user -m 755 "$NB_STATE"
  cp -f "$out" "$NB_STATE/team-env.last"
  touch "$NB_STATE/.restart-jupyter"
fi
log "wrote ${#vars[@]} variables to $out"
