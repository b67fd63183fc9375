#!/bin/bash
# Keep Docker images on the EBS volume: the root volume is small and is wiped
# at every stop, so every `docker build` started from scratch.
#
# The data root moves to ~/SageMaker/.docker. Images count against the EBS
# volume (5 GB by default), so teams that build images ask for 50 GB or more.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

if ! command -v docker >/dev/null 2>&1; then
  log "docker not installed on this image; nothing to do"
  exit 0
fi
root=$NB_PERSIST/.docker
conf=/etc/docker/daemon.json
mkdir -p "$root" /etc/docker
chmod 711 "$root"

# Merge into the existing daemon.json: SageMaker sets its own keys there.
python3 - "$conf" "$root" "${PROXY_URL:-}" <<'PY' | write_if_changed "$conf" 644 >"$root/.changed"
import json, os, sys
path, root, proxy = sys.argv[1:4]
cfg = {}
if os.path.exists(path):
    try:
        with open(path) as fh:
            cfg = json.load(fh)
    except ValueError:
        cfg = {}
cfg["data-root"] = root
cfg.setdefault("log-driver", "json-file")
cfg.setdefault("log-opts", {"max-size": "20m", "max-file": "3"})
if proxy:
    cfg["proxies"] = {"http-proxy": proxy, "https-proxy": proxy, "no-proxy": "localhost,127.0.0.1,169.254.169.254"}
json.dump(cfg, sys.stdout, indent=2, sort_keys=True)
sys.stdout.write("\n")
PY

if [ -s "$root/.changed" ]; then
  log "daemon.json changed; restarting docker"
  systemctl restart docker || warn "docker restart failed"
fi
rm -f "$root/.changed"

# ec2-user is in the docker group on the GPU images only; add it everywhere
if getent group docker >/dev/null && ! id -nG ec2-user | grep -qw docker; then
  usermod -aG docker ec2-user
fi
log "docker data root: $(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo unknown)"
