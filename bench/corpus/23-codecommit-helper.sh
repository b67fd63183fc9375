#!/bin/bash
# Cross-account CodeCommit over HTTPS: an AWS CLI profile that assumes the
# read role in the tooling account with the instance's own credentials, and the
# git credential helper for codecommit URLs only (other hosts keep theirs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

role=${CODECOMMIT_ROLE_ARN:-}
region=${CODECOMMIT_REGION:-${DEFAULT_REGION:-eu-west-1}}
profile=codecommit
if [ -z "$role" ]; then
  log "CODECOMMIT_ROLE_ARN not set; using the notebook role for CodeCommit"
  profile=default
else
  mkdir -p "$NB_HOME/.aws"
  cfg=$NB_HOME/.aws/config
  touch "$cfg"
  # Replace our section, keep everything else the user has in there.
  python3 - "$cfg" "$profile" "$role" "$region" <<'PY'
import configparser, sys
path, profile, role, region = sys.argv[1:5]
cp = configparser.ConfigParser()
cp.read(path)
section = "profile " + profile
if cp.has_section(section):
    cp.remove_section(section)
cp.add_section(section)
cp.set(section, "role_arn", role)
cp.set(section, "credential_source", "Ec2InstanceMetadata")
cp.set(section, "region", region)
cp.set(section, "role_session_name", "notebook-codecommit")
with open(path, "w") as fh:
    cp.write(fh)
PY
  log "profile $profile assumes $role"
fi

helper="!aws codecommit credential-helper --profile $profile \$@"
url="https://git-codecommit.$region.amazonaws.com"
git config --global --replace-all "credential.$url.helper" ''
git config --global --add "credential.$url.helper" "$helper"
git config --global "credential.$url.UseHttpPath" true

# A quick check that the role can be assumed; a wrong trust policy otherwise
# surfaces much later as a confusing 403 from git.
if [ "$profile" != default ]; then
  if ! timeout 20 aws sts get-caller-identity --profile "$profile" --output text >/dev/null 2>&1; then
    warn "cannot assume $role; check its trust policy for the notebook role"
  fi
fi
