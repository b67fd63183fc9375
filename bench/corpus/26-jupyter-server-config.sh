#!/bin/bash
# Jupyter server settings for ec2-user, appended as a marked block to both
# jupyter_server_config.py (JupyterLab 3/4) and jupyter_notebook_config.py
# (the classic server on older images), replacing the block of an earlier start.
#
# Takes effect when the server restarts: we leave the flag, and
# 90-restart-jupyter.sh (root, the last step) restarts it once for everyone.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

cfg_dir=$NB_HOME/.jupyter
begin="# >>> team settings (26-jupyter-server-config.sh) >>>"
end="# <<< team settings <<<"
mkdir -p "$cfg_dir"

block=$(cat <<EOF_PY
$begin
# Kernels from conda envs kept on the persistent volume (see 24-conda-persistent-envs.sh).
try:
    c.EnvironmentKernelSpecManager.conda_env_dirs = [
        "$NB_CONDA/envs",
        "$NB_PERSIST/.conda/envs",
    ]
except NameError:
    pass
# Terminals start a login shell so /etc/profile.d (PATH, proxy, region) applies.
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash", "-l"]}
c.NotebookApp.terminado_settings = {"shell_command": ["/bin/bash", "-l"]}
# Checkpoints off the EBS volume: they doubled the size of every notebook folder.
c.FileCheckpoints.checkpoint_dir = "/tmp/.ipynb_checkpoints"
# Show dotfiles in the file browser (people keep .env and .gitignore there).
c.ContentsManager.allow_hidden = True
# Culling is done by autostop.py; a kernel culled here would look like activity there.
c.MappingKernelManager.cull_idle_timeout = 0
c.ServerApp.iopub_data_rate_limit = 1.0e10
c.NotebookApp.iopub_data_rate_limit = 1.0e10
$end
EOF_PY
)

changed=0
for file in "$cfg_dir/jupyter_server_config.py" "$cfg_dir/jupyter_notebook_config.py"; do
  touch "$file"
  before=$(md5sum <"$file")
  # Drop the previous block (if any), then append the current one.
  awk -v b="$begin" -v e="$end" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' "$file" >"$file.tmp"
  printf '%s\n' "$block" >>"$file.tmp"
  mv -f "$file.tmp" "$file"
  if [ "$(md5sum <"$file")" != "$before" ]; then
    changed=1
  fi
done

if [ "$changed" = 1 ]; then
  touch "$NB_STATE/.restart-jupyter"
  log "Jupyter config changed; 90-restart-jupyter.sh will restart the server"
else
  log "Jupyter config unchanged"
fi
