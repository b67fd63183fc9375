"""StartupScripts: what is packed, the run plan, and every bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from notebook_lifecycle import BundleError, StartupScripts


def write(root, rel, data, mode=None):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    if mode is not None:
        path.chmod(mode)
    return path


def test_default_plan_is_top_level_sh_in_lexical_order(tmp_path):
    write(tmp_path, "b.sh", "echo b\n")
    write(tmp_path, "a.sh", "#!/bin/bash\necho a\n")
    write(tmp_path, "Z.sh", "echo Z\n")
    write(tmp_path, "lib/helper.sh", "echo helper\n")
    write(tmp_path, "notes.txt", "not run\n")
    scripts = StartupScripts.from_directory(tmp_path)
    assert [s.path for s in scripts.steps] == ["Z.sh", "a.sh", "b.sh"]
    assert [f.path for f in scripts.files] == ["Z.sh", "a.sh", "b.sh", "lib/helper.sh", "notes.txt"]
    by_path = {s.path: s for s in scripts.steps}
    assert by_path["a.sh"].shebang and not by_path["b.sh"].shebang
    assert all(s.user == "ec2-user" and not s.background for s in scripts.steps)


def test_as_root_background_and_explicit_run(tmp_path):
    write(tmp_path, "stop-ssm.sh", "systemctl stop amazon-ssm-agent\n")
    write(tmp_path, "warm.sh", "sleep 1\n")
    write(tmp_path, "sub/deep.py", "#!/usr/bin/env python3\nprint('hi')\n")
    scripts = StartupScripts.from_directory(
        tmp_path, as_root=("stop-ssm.sh",), background=("./warm.sh",), run=["sub/deep.py", "stop-ssm.sh", "warm.sh"]
    )
    steps = [(s.path, s.user, s.background) for s in scripts.steps]
    assert steps == [("sub/deep.py", "ec2-user", False), ("stop-ssm.sh", "root", False), ("warm.sh", "ec2-user", True)]


def test_modes_are_normalized(tmp_path):
    write(tmp_path, "run.sh", "echo\n", mode=0o600)
    write(tmp_path, "tool", "#!/bin/sh\n", mode=0o600)
    write(tmp_path, "exe.bin", b"\x7fELF\0\0", mode=0o775)
    write(tmp_path, "data.json", "{}", mode=0o666)
    modes = {f.path: f.mode for f in StartupScripts.from_directory(tmp_path).files}
    assert modes == {"data.json": 0o644, "exe.bin": 0o755, "run.sh": 0o755, "tool": 0o755}


def test_ignored_files_are_left_out(tmp_path):
    write(tmp_path, "a.sh", "echo\n")
    for junk in (".git/config", "__pycache__/x.cpython-311.pyc", "x.pyc", ".DS_Store", "a.sh~", ".a.sh.swp", "#a.sh#", ".#a.sh"):
        write(tmp_path, junk, "junk")
    write(tmp_path, "sub/.git/HEAD", "junk")
    assert [f.path for f in StartupScripts.from_directory(tmp_path).files] == ["a.sh"]


def test_crlf_is_normalized_but_binary_is_kept(tmp_path):
    write(tmp_path, "a.sh", "echo a\r\necho b\r\n")
    write(tmp_path, "blob.bin", b"\0\r\n\r")
    files = {f.path: f.data for f in StartupScripts.from_directory(tmp_path).files}
    assert files["a.sh"] == b"echo a\necho b\n"
    assert files["blob.bin"] == b"\0\r\n\r"


def test_stray_carriage_return_names_file_and_line(tmp_path):
    write(tmp_path, "a.sh", "echo a\necho b\rc\n")
    with pytest.raises(BundleError, match=r"a\.sh: line 2 contains a carriage return"):
        StartupScripts.from_directory(tmp_path)


@pytest.mark.parametrize(
    "setup, kwargs, message",
    [
        (lambda p: None, {"path": "missing"}, r"missing: no such folder"),
        (lambda p: write(p, "file.sh", "x"), {"path": "file.sh"}, r"file\.sh: not a folder"),
        (lambda p: write(p, "readme.md", "x"), {}, r"nothing to run: there is no top-level \*\.sh"),
        (lambda p: write(p, "a.sh", "x"), {"as_root": ("b.sh",)}, r"as_root: 'b\.sh' is not a file in .*; did you mean 'a\.sh'"),
        (lambda p: write(p, "a.sh", "x"), {"background": ("nope",)}, r"background: 'nope' is not a file"),
        (lambda p: write(p, "a.sh", "x"), {"run": ["a.sh", "zz.sh"]}, r"run: 'zz\.sh' is not a file"),
        (lambda p: write(p, "a.sh", "x"), {"run": ["a.sh", "a.sh"]}, r"run: 'a\.sh' is listed more than once"),
        (lambda p: write(p, "a.sh", "x"), {"run": []}, r"run: the list is empty"),
        (lambda p: write(p, "a.sh", "x"), {"run": ["../a.sh"]}, r"run: '\.\./a\.sh' must be a path relative"),
        (lambda p: write(p, "a.sh", "x"), {"as_root": "a.sh"}, r"take a list of file names, not a single string"),
        (
            lambda p: (write(p, "a.sh", "x"), write(p, "lib/b.sh", "x")),
            {"as_root": ("lib/b.sh",)},
            r"as_root: 'lib/b\.sh' is in .* but is not run",
        ),
        (lambda p: write(p, ".notebook-lifecycle/x", "x"), {}, r"'\.notebook-lifecycle' is reserved"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, setup, kwargs, message):
    folder = tmp_path / "scripts"
    folder.mkdir()
    setup(folder)
    path = kwargs.pop("path", None)
    target = folder / path if path else folder
    with pytest.raises(BundleError, match=message):
        StartupScripts.from_directory(target, **kwargs)


def test_symlink_inside_is_followed_outside_is_an_error(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    write(folder, "real.sh", "echo real\n")
    (folder / "alias.sh").symlink_to("real.sh")
    files = {f.path: f.data for f in StartupScripts.from_directory(folder).files}
    assert files["alias.sh"] == files["real.sh"] == b"echo real\n"

    write(tmp_path, "secret.txt", "outside")
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(BundleError, match=r"leak\.txt: the symlink points outside the folder"):
        StartupScripts.from_directory(folder)


def test_broken_symlink_and_loop(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    write(folder, "a.sh", "x")
    (folder / "dangling").symlink_to(folder / "nowhere")
    with pytest.raises(BundleError, match=r"dangling: the symlink is broken"):
        StartupScripts.from_directory(folder)
    (folder / "dangling").unlink()
    (folder / "sub").mkdir()
    (folder / "sub" / "loop").symlink_to(folder / "sub")
    with pytest.raises(BundleError, match=r"symlink loop"):
        StartupScripts.from_directory(folder)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux allows arbitrary bytes in file names")
def test_non_utf8_and_newline_file_names(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    write(folder, "a.sh", "x")
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.sh")
    with open(bad, "wb") as fh:
        fh.write(b"echo\n")
    with pytest.raises(BundleError, match=r"is not valid UTF-8; rename it"):
        StartupScripts.from_directory(folder)
    os.remove(bad)
    write(folder, "two\nlines.sh", "x")
    with pytest.raises(BundleError, match=r"contains a newline; rename it"):
        StartupScripts.from_directory(folder)


def test_special_file_is_an_error(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    write(folder, "a.sh", "x")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "sock"))
        with pytest.raises(BundleError, match=r"sock: not a regular file"):
            StartupScripts.from_directory(folder)
    finally:
        sock.close()


def test_snapshot_is_taken_at_construction(tmp_path):
    write(tmp_path, "a.sh", "echo one\n")
    scripts = StartupScripts.from_directory(tmp_path)
    write(tmp_path, "a.sh", "echo two\n")
    assert scripts.files[0].data == b"echo one\n"


def test_fingerprint_ignores_mtimes_and_tracks_content(tmp_path):
    path = write(tmp_path, "a.sh", "echo one\n")
    first = StartupScripts.from_directory(tmp_path).fingerprint()
    os.utime(path, (1, 1))
    assert StartupScripts.from_directory(tmp_path).fingerprint() == first
    write(tmp_path, "a.sh", "echo two\n")
    assert StartupScripts.from_directory(tmp_path).fingerprint() != first
    assert StartupScripts.from_directory(tmp_path, as_root=("a.sh",)).fingerprint() != first


def test_from_files_matches_from_directory(tmp_path):
    write(tmp_path, "a.sh", "#!/bin/bash\necho a\n")
    write(tmp_path, "lib/x.txt", "data\n")
    from_dir = StartupScripts.from_directory(tmp_path, as_root=("a.sh",))
    from_map = StartupScripts.from_files({"a.sh": "#!/bin/bash\necho a\n", "lib/x.txt": b"data\n"}, as_root=("a.sh",))
    assert from_dir.fingerprint() == from_map.fingerprint()


def test_import_does_not_pull_in_aws_cdk():
    code = "import sys, notebook_lifecycle; print('aws_cdk' in sys.modules, 'jsii' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
