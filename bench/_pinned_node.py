"""Importing this puts the pinned Node (``node_modules/.bin``, Node 22) first on ``PATH``: jsii starts
Node on the first ``aws_cdk`` import, so the synth benchmarks import this before anything from aws_cdk."""

from __future__ import annotations

import os
from pathlib import Path

NODE_BIN = Path(__file__).resolve().parent.parent / "node_modules" / ".bin"
if NODE_BIN.is_dir():
    os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
