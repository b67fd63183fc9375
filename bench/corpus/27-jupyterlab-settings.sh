#!/bin/bash
# JupyterLab user settings: the team defaults from conf/jupyterlab-overrides.json
# become the user's settings for every plugin the user has not set yet. Users'
# own changes (made in the Settings editor) are kept on the persistent volume.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
defaults=$here/conf/jupyterlab-overrides.json
persist=$NB_PERSIST/.jupyter/lab/user-settings
live=$NB_HOME/.jupyter/lab/user-settings
[ -r "$defaults" ] || die "missing $defaults"

mkdir -p "$persist" "$(dirname "$live")"
if [ -d "$live" ] && [ ! -L "$live" ]; then
  cp -an "$live/." "$persist/" 2>/dev/null || true
  rm -rf "$live"
fi
ln -sfn "$persist" "$live"

# One settings file per plugin: <package>/<plugin>.jupyterlab-settings.
python3 - "$defaults" "$persist" <<'PY'
import json, os, sys

defaults_path, root = sys.argv[1:3]
with open(defaults_path) as fh:
    defaults = json.load(fh)
written = 0
for plugin_id, values in sorted(defaults.items()):
    package, _, plugin = plugin_id.partition(":")
    path = os.path.join(root, package, plugin + ".jupyterlab-settings")
    current = {}
    if os.path.exists(path):
        try:
            with open(path) as fh:
                current = json.load(fh)
        except ValueError:
            print("unreadable settings file, replacing: " + path)
    merged = dict(values)
    merged.update(current)  # the user's own choices win
    if merged != current:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            json.dump(merged, fh, indent=2, sort_keys=True)
        written += 1
print("jupyterlab settings: %d of %d plugins updated" % (written, len(defaults)))
PY
