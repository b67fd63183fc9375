#!/bin/bash
# pip and conda use the corporate mirrors (Artifactory); conda also finds the
# environments kept on the persistent volume.
#
# pip.conf goes to ~/.config/pip/pip.conf (the XDG location every pip since
# 10 reads) and to the legacy ~/.pip/pip.conf for the old envs on AL2 images.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

if [ -z "${PIP_INDEX_URL:-}" ]; then
  log "no PIP_INDEX_URL: using the public PyPI"
else
  host=${PIP_INDEX_URL#*://}
  host=${host%%/*}
  for dir in "$NB_HOME/.config/pip" "$NB_HOME/.pip"; do
    mkdir -p "$dir"
    cat >"$dir/pip.conf" <<EOF_PIP
# Written by 22-pip-conda-config.sh on every start; edit conf/settings.env instead.
[global]
index-url = $PIP_INDEX_URL
${PIP_EXTRA_INDEX_URL:+extra-index-url = $PIP_EXTRA_INDEX_URL}
trusted-host = $host
timeout = 60
retries = 5
disable-pip-version-check = true

[install]
progress-bar = off
EOF_PIP
  done
  log "pip index: $PIP_INDEX_URL"
fi

# conda: mirror channel plus persistent envs/pkgs dirs, persistent dirs first
# so that `conda create` puts new environments on the EBS volume.
envs=$NB_PERSIST/.conda/envs
pkgs=$NB_PERSIST/.conda/pkgs
mkdir -p "$envs" "$pkgs"
condarc=$NB_HOME/.condarc
{
  echo "# Written by 22-pip-conda-config.sh on every start."
  echo "envs_dirs:"
  echo "  - $envs"
  echo "  - $NB_CONDA/envs"
  echo "pkgs_dirs:"
  echo "  - $pkgs"
  echo "  - $NB_CONDA/pkgs"
  if [ -n "${CONDA_CHANNEL_MIRROR:-}" ]; then
    echo "channel_alias: ${CONDA_CHANNEL_MIRROR%/*}"
    echo "custom_channels:"
    echo "  conda-forge: ${CONDA_CHANNEL_MIRROR%/*}"
  fi
  echo "channels:"
  echo "  - conda-forge"
  echo "channel_priority: strict"
  echo "auto_activate_base: false"
  echo "show_channel_urls: true"
  echo "remote_max_retries: 5"
} >"$condarc"
if [ -n "${PROXY_URL:-}" ]; then
  printf 'proxy_servers:\n  http: %s\n  https: %s\n' "$PROXY_URL" "$PROXY_URL" >>"$condarc"
fi
log "conda envs_dirs: $envs, $NB_CONDA/envs"
