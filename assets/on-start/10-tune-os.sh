#!/bin/bash
# root, at every start: kernel settings that a restart resets.
set -eu
# JupyterLab, git and language servers watch many files (the default limit is 8192).
sysctl -q -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512
# Keep the journal from filling the small root volume.
journalctl --vacuum-size=100M >/dev/null 2>&1 || true
