#!/bin/bash
# rclone for bulk copies between S3, the EFS share and the local disk.
#
# Installs the pinned release into ~/SageMaker/.bin once (from the mirror,
# since the instance has no direct internet access) and writes remotes that use
# the notebook role: s3 (the team's buckets) and efs (the mounted share).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

version=${RCLONE_VERSION:-v1.66.0}
bin=$NB_PERSIST/.bin
mirror=${RCLONE_MIRROR:-https://artifacts.corp.example.com/artifactory/github-releases/rclone/rclone/releases/download}
mkdir -p "$bin"

have=$("$bin/rclone" version 2>/dev/null | awk 'NR == 1 {print $2}')
if [ "$have" != "$version" ]; then
  arch=amd64
  [ "$(uname -m)" = aarch64 ] && arch=arm64
  zip=rclone-$version-linux-$arch.zip
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  log "installing rclone $version (had: ${have:-none})"
  if retry 3 curl -fsSL --max-time 120 -o "$tmp/$zip" "$mirror/$version/$zip" &&
    unzip -q "$tmp/$zip" -d "$tmp"; then
    install -m 755 "$tmp/rclone-$version-linux-$arch/rclone" "$bin/rclone"
  else
    warn "could not download rclone $version; keeping ${have:-no rclone}"
  fi
fi

region=$(aws_region || echo "${DEFAULT_REGION:-eu-west-1}")
conf_dir=$NB_HOME/.config/rclone
mkdir -p "$conf_dir"
cat >"$conf_dir/rclone.conf" <<EOF_RCLONE
# Written by 28-rclone-config.sh on every start; add your own remotes in
# ~/SageMaker/.platform/rclone-extra.conf (appended below).
[s3]
type = s3
provider = AWS
env_auth = true
region = $region
server_side_encryption = aws:kms
no_check_bucket = true
acl = bucket-owner-full-control

[efs]
type = alias
remote = ${EFS_MOUNT_POINT:-$NB_PERSIST/efs}
EOF_RCLONE
if [ -r "$NB_STATE/rclone-extra.conf" ]; then
  { echo; cat "$NB_STATE/rclone-extra.conf"; } >>"$conf_dir/rclone.conf"
fi
chmod 600 "$conf_dir/rclone.conf"
log "rclone $("$bin/rclone" version 2>/dev/null | awk 'NR == 1 {print $2}') with remotes: $(grep -c '^\[' "$conf_dir/rclone.conf")"
