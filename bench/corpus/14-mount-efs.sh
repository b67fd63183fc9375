#!/bin/bash
# Mount the team's EFS file system under ~/SageMaker/efs.
#
# Uses amazon-efs-utils (TLS, IAM auth through the access point) when it is
# installed, plain NFS 4.1 otherwise. The mount target must be reachable on
# TCP 2049 from the notebook's subnet; a security-group mistake shows up here
# as a 60 s timeout, so the mount is tried with a short timeout first.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

fs=${EFS_FILE_SYSTEM_ID:-}
mnt=${EFS_MOUNT_POINT:-$NB_PERSIST/efs}
ap=${EFS_ACCESS_POINT:-}
if [ -z "$fs" ]; then
  log "EFS_FILE_SYSTEM_ID is not set; nothing to mount"
  exit 0
fi
region=$(aws_region || echo "${DEFAULT_REGION:-eu-west-1}")
host="$fs.efs.$region.amazonaws.com"

if mountpoint -q "$mnt"; then
  log "$mnt is already mounted"
  exit 0
fi
install -d -o ec2-user -g ec2-user -m 755 "$mnt"

# Fail fast when the mount target is not reachable (DNS or security group).
if ! timeout 5 bash -c ">/dev/tcp/$host/2049" 2>/dev/null; then
  warn "cannot reach $host:2049 (no mount target in this AZ, or the security group blocks NFS)"
  exit 0
fi

if command -v mount.efs >/dev/null 2>&1 || [ -x /sbin/mount.efs ]; then
  opts="tls,iam,_netdev"
  [ -n "$ap" ] && opts="$opts,accesspoint=$ap"
  log "mounting $fs (efs-utils, $opts) on $mnt"
  retry 3 mount -t efs -o "$opts" "$fs:/" "$mnt"
else
  opts="nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev"
  log "mounting $host (nfs4) on $mnt"
  retry 3 mount -t nfs4 -o "$opts" "$host:/" "$mnt"
fi
rc=$?
if [ "$rc" -ne 0 ]; then
  warn "mount failed (rc $rc); notebooks will not see $mnt"
  exit 0
fi

# Without an access point the root of the file system is root-owned; give the
# team directory to ec2-user once (uid 1000 is the same on every instance).
if [ -z "$ap" ]; then
  team_dir="$mnt/${TEAM_NAME:-shared}"
  if [ ! -d "$team_dir" ]; then
    mkdir -p "$team_dir" && chown 1000:1000 "$team_dir" && chmod 2775 "$team_dir"
  fi
fi
df -h "$mnt" | tail -1
exit 0
