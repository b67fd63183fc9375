# shellcheck shell=bash
# lib.sh - helpers shared by the team's notebook-instance startup scripts.
#
# Source it from a script in the same folder:
#     . "$(dirname "$0")/lib.sh"
#
# Nothing in here exits on its own (except die); the caller decides what a
# failure means. Keep it POSIX-ish bash 4.2: AL2 still ships bash 4.2.

# shellcheck disable=SC2034  # used by the scripts that source this file
NB_META=/opt/ml/metadata/resource-metadata.json
NB_HOME=/home/ec2-user
NB_PERSIST=$NB_HOME/SageMaker
NB_CONDA=$NB_HOME/anaconda3
NB_STATE=$NB_PERSIST/.platform

log() {
  printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${0##*/}" "$*"
}

warn() {
  log "WARNING: $*" >&2
}

die() {
  log "ERROR: $*" >&2
  exit 1
}

# retry N CMD...: run CMD up to N times, sleeping 2, 4, 8... seconds in between.
retry() {
  local n=$1 i=1 delay=2
  shift
  until "$@"; do
    if [ "$i" -ge "$n" ]; then
      warn "giving up after $n attempts: $*"
      return 1
    fi
    log "attempt $i of $n failed, retrying in ${delay}s: $*"
    sleep "$delay"
    i=$((i + 1))
    delay=$((delay * 2))
  done
}

# os_flavor: al1, al2, al2023 or unknown (from /etc/os-release).
os_flavor() {
  local id="" version=""
  if [ -r /etc/os-release ]; then
    id=$(. /etc/os-release && echo "${ID:-}")
    version=$(. /etc/os-release && echo "${VERSION_ID:-}")
  fi
  case "$id:$version" in
    amzn:2023*) echo al2023 ;;
    amzn:2) echo al2 ;;
    amzn:20*) echo al1 ;;
    *) echo unknown ;;
  esac
}

# pkg_manager: dnf on AL2023, yum before that; fails when there is neither.
pkg_manager() {
  if command -v dnf >/dev/null 2>&1; then
    echo dnf
  elif command -v yum >/dev/null 2>&1; then
    echo yum
  else
    return 1
  fi
}

# meta_field KEY: one field of the notebook's resource metadata file.
meta_field() {
  [ -r "$NB_META" ] || return 1
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$NB_META" "$1" 2>/dev/null
}

notebook_name() { meta_field ResourceName; }
notebook_arn() { meta_field ResourceArn; }

# aws_region: from the notebook ARN (arn:aws:sagemaker:REGION:ACCOUNT:notebook-instance/NAME).
aws_region() {
  local arn
  arn=$(notebook_arn) || return 1
  echo "$arn" | cut -d: -f4
}

# notebook_tag KEY: the value of one tag of this notebook instance; empty when it is not set.
notebook_tag() {
  local arn region
  arn=$(notebook_arn) || return 1
  region=$(aws_region) || return 1
  aws sagemaker list-tags --resource-arn "$arn" --region "$region" \
    --query "Tags[?Key=='$1'].Value | [0]" --output text 2>/dev/null | grep -v '^None$'
}

# as_user CMD...: run CMD as ec2-user with its own HOME (for root scripts).
as_user() {
  sudo -u ec2-user -H -- "$@"
}

# load_settings: the team defaults in conf/settings.env, then per-instance
# overrides from the persistent volume (same syntax, later wins).
load_settings() {
  local here
  here=$(dirname "${BASH_SOURCE[0]}")
  if [ -r "$here/conf/settings.env" ]; then
    # shellcheck disable=SC1091
    . "$here/conf/settings.env"
  fi
  if [ -r "$NB_STATE/settings.env" ]; then
    # shellcheck disable=SC1091
    . "$NB_STATE/settings.env"
  fi
  return 0
}

# write_if_changed FILE MODE: stdin becomes FILE only when the content differs,
# so reruns do not touch mtimes (and do not trigger restarts needlessly).
# Prints "changed" when it wrote the file.
write_if_changed() {
  local dest=$1 mode=$2 tmp
  tmp=$(mktemp "${dest}.XXXXXX") || return 1
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    return 0
  fi
  chmod "$mode" "$tmp" && mv -f "$tmp" "$dest" && echo changed
}
