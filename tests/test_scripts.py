"""StartupScripts: what is packed, the run plan, and every bad input."""

from __future__ import annotations

import os
import re
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


# -- what goes into a bundle: excludes, secrets, BOM, symlinked folders ------------------------------

def paths(scripts):
    return [f.path for f in scripts.files]


def test_default_excludes_are_listed_with_their_pattern(tmp_path):
    write(tmp_path, "a.sh", "echo\n")
    for junk in (".ipynb_checkpoints/a-checkpoint.ipynb", "Thumbs.db", "._a.sh", "x.swp", ".hg/store"):
        write(tmp_path, junk, "junk")
    scripts = StartupScripts.from_directory(tmp_path)
    assert paths(scripts) == ["a.sh"]
    assert [(e.path, e.pattern) for e in scripts.excluded] == [
        ("._a.sh", "._*"), (".hg/", ".hg/"), (".ipynb_checkpoints/", ".ipynb_checkpoints/"),
        ("Thumbs.db", "Thumbs.db"), ("x.swp", "*.swp"),
    ]
    assert StartupScripts.from_files({"a.sh": "x", "x.swp": "y"}).excluded == ()


def test_exclude_pattern_syntax(tmp_path):
    for rel in ("a.sh", "notes.log", "sub/deep.log", "data/big.csv", "sub/data/keep.csv", "docs/x.md",
                "docs/sub/y.md", "TODO", "sub/TODO", "tests/a/b/t.csv", "tests/t.csv", "tests/t.txt", "v1.txt", "v2.txt"):
        write(tmp_path, rel, "x\n")
    scripts = StartupScripts.from_directory(
        tmp_path, exclude=("*.log", "/data/", "docs/*.md", "/TODO", "tests/**/*.csv", "v[!2].txt")
    )
    assert paths(scripts) == ["a.sh", "docs/sub/y.md", "sub/TODO", "sub/data/keep.csv", "tests/t.txt", "v2.txt"]
    assert {e.path: e.pattern for e in scripts.excluded} == {
        "notes.log": "*.log", "sub/deep.log": "*.log", "data/": "/data/", "docs/x.md": "docs/*.md", "TODO": "/TODO",
        "tests/a/b/t.csv": "tests/**/*.csv", "tests/t.csv": "tests/**/*.csv", "v1.txt": "v[!2].txt",
    }
    # a trailing slash matches folders only; a file of that name stays
    write(tmp_path, "cache", "a file\n")
    assert "cache" in paths(StartupScripts.from_directory(tmp_path, exclude=("cache/",)))


def test_excluded_folders_are_not_read(tmp_path):
    write(tmp_path, "a.sh", "echo\n")
    write(tmp_path, "private/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    write(tmp_path, "private/ok.txt", "x")
    scripts = StartupScripts.from_directory(tmp_path, exclude=("private/",))
    assert paths(scripts) == ["a.sh"]
    assert [e.path for e in scripts.excluded] == ["private/"]


@pytest.mark.parametrize(
    "exclude, message",
    [
        (("*.sh",), r"scripts: nothing to run: the exclude patterns '\*\.sh' leave out every top-level \*\.sh file "
                    r"\(a\.sh, b\.sh\); narrow exclude=\(\.\.\.\) or list the files to run \(run\)"),
        (("a*", "b.sh"), r"the exclude patterns 'a\*', 'b\.sh' leave out"),
        ("*.log", r"exclude takes a list of patterns, not a single string; write exclude=\('\*\.log',\)"),
        (("",), r"exclude: '' is not a pattern"),
        (("/",), r"exclude: '/' is not a pattern"),
        (("a\\b",), r"exclude: 'a\\\\b' is not a pattern"),
        (("../x",), r"exclude: '\.\./x' must stay inside the folder"),
        ((3,), r"exclude: 3 is not a pattern"),
    ],
)
def test_bad_exclude_patterns(tmp_path, exclude, message):
    folder = tmp_path / "scripts"
    write(folder, "a.sh", "x")
    write(folder, "b.sh", "x")
    with pytest.raises(BundleError, match=message):
        StartupScripts.from_directory(folder, exclude=exclude)


def test_listing_an_excluded_file_names_the_pattern(tmp_path):
    write(tmp_path, "a.sh", "x")
    write(tmp_path, "slow/warm.sh", "x")
    with pytest.raises(BundleError, match=r"run: 'slow/warm\.sh' is left out of .* by the exclude pattern 'slow/'; "
                                          r"narrow the pattern"):
        StartupScripts.from_directory(tmp_path, exclude=("slow/",), run=["a.sh", "slow/warm.sh"])


SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "rel, content, reason",
    [
        (".env", "TOKEN=abc\n", r"its name says it is an environment file"),
        ("conf/.env.production", "X=1\n", r"an environment file"),
        ("keys/id_rsa", "whatever", r"an SSH private key"),
        ("id_ed25519_work", "whatever", r"an SSH private key"),
        ("server.pem", "-----BEGIN CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\n", r"private key block"),
        ("tls.key", "k", r"a private key file"),
        ("client.P12", b"\x30\x82", r"a PKCS#12 key store"),
        ("aws/credentials", "[default]\n", r"an AWS credentials file"),
        (".netrc", "machine x login y password z\n", r"\.netrc"),
        (".pgpass", "h:5432:*:u:p\n", r"PostgreSQL password file"),
        ("setup.sh", f"export AWS_SECRET_ACCESS_KEY={SECRET_KEY}\n", r"it assigns an AWS secret access key"),
        ("cfg.json", f'{{"SecretAccessKey": "{SECRET_KEY}"}}', r"AWS secret access key"),
        ("deploy.txt", "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", r"private key block"),
        ("blob.bin", b"\0\0-----BEGIN PRIVATE KEY-----", r"private key block"),
    ],
)
def test_secret_looking_files_are_refused_with_the_way_out(tmp_path, rel, content, reason):
    folder = tmp_path / "scripts"
    write(folder, "a.sh", "echo\n")
    write(folder, rel, content)
    expected = (rf"scripts/{re.escape(rel)}: [^;]*{reason}.*Leave the file out \(exclude=\('{re.escape(rel)}',\)\) and fetch "
                rf"the secret at start from AWS Secrets Manager or SSM Parameter Store; .*allow_secrets=\('{re.escape(rel)}',\)")
    with pytest.raises(BundleError, match=expected):
        StartupScripts.from_directory(folder)
    # the two ways out
    assert rel not in paths(StartupScripts.from_directory(folder, exclude=(rel,)))
    assert rel in paths(StartupScripts.from_directory(folder, allow_secrets=(rel,)))
    # and the mapping form checks too
    with pytest.raises(BundleError, match=reason):
        StartupScripts.from_files({"a.sh": "echo\n", rel: content})
    assert rel in paths(StartupScripts.from_files({"a.sh": "echo\n", rel: content}, allow_secrets=(rel,)))


@pytest.mark.parametrize(
    "rel, content",
    [
        ("id_rsa.pub", "ssh-ed25519 AAAA user@host\n"),
        (".env.example", "TOKEN=\n"),
        ("ca-bundle.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
        ("fetch-secret.sh", 'export AWS_SECRET_ACCESS_KEY=$(aws ssm get-parameter --name /x --query P)\n'),
        ("doc.md", "Never commit an aws_secret_access_key = <your key> line.\n"),
        ("keys.sh", "echo public keys only\n"),
        ("credentials.sh", "aws secretsmanager get-secret-value --secret-id x\n"),
    ],
)
def test_look_alikes_that_are_not_secrets_pass(tmp_path, rel, content):
    write(tmp_path, "a.sh", "echo\n")
    write(tmp_path, rel, content)
    assert rel in paths(StartupScripts.from_directory(tmp_path))


def test_all_secret_files_are_named_at_once_and_allow_secrets_is_checked(tmp_path):
    folder = tmp_path / "scripts"
    write(folder, "a.sh", "echo\n")
    write(folder, ".env", "A=1\n")
    write(folder, "k/tls.key", "k")
    with pytest.raises(BundleError, match=r"scripts/\.env: .*; \S*scripts/k/tls\.key: .*exclude=\('\.env', 'k/tls\.key'\)"):
        StartupScripts.from_directory(folder)
    with pytest.raises(BundleError, match=r"scripts/k/tls\.key: its name says it is a private key file"):
        StartupScripts.from_directory(folder, allow_secrets=(".env",))
    assert {".env", "k/tls.key"} <= set(paths(StartupScripts.from_directory(folder, allow_secrets=(".env", "./k/tls.key"))))
    with pytest.raises(BundleError, match=r"allow_secrets: 'a\.sh' does not look like a secret; remove it from allow_secrets"):
        StartupScripts.from_directory(folder, allow_secrets=(".env", "k/tls.key", "a.sh"))
    with pytest.raises(BundleError, match=r"allow_secrets: '\.envv' is not a file in .*; did you mean '\.env'"):
        StartupScripts.from_directory(folder, allow_secrets=(".envv",))
    with pytest.raises(BundleError, match=r"not a single string"):
        StartupScripts.from_directory(folder, allow_secrets=".env")


def test_bom_before_shebang_is_removed(tmp_path):
    write(tmp_path, "a.sh", b"\xef\xbb\xbf#!/bin/bash\necho a\n", mode=0o644)
    write(tmp_path, "b.sh", b"\xef\xbb\xbfecho b\n")
    write(tmp_path, "data.csv", b"\xef\xbb\xbfname,value\n")
    scripts = StartupScripts.from_directory(tmp_path)
    files = {f.path: f for f in scripts.files}
    assert files["a.sh"].data == b"#!/bin/bash\necho a\n" and files["a.sh"].executable
    assert [s.shebang for s in scripts.steps] == [True, False]
    assert files["b.sh"].data == b"echo b\n"  # a script that runs: its first line must work too
    assert files["data.csv"].data == b"\xef\xbb\xbfname,value\n"  # data is packed as it is
    assert StartupScripts.from_files({"a.sh": "\ufeff#!/bin/sh\n"}).steps[0].shebang


def test_symlink_to_a_sibling_folder_is_followed(tmp_path):
    folder = tmp_path / "s"
    write(folder, "a.sh", "echo\n")
    write(folder, "common/lib.sh", "lib\n")
    write(folder, "common/.git/HEAD", "x")
    (folder / "team").mkdir()
    (folder / "team" / "common").symlink_to("../common")
    (folder / "shared").symlink_to("common")
    scripts = StartupScripts.from_directory(folder)
    files = {f.path: f.data for f in scripts.files}
    assert files == {"a.sh": b"echo\n", "common/lib.sh": b"lib\n", "shared/lib.sh": b"lib\n",
                     "team/common/lib.sh": b"lib\n"}
    assert {e.path for e in scripts.excluded} == {"common/.git/", "shared/.git/", "team/common/.git/"}
    # a link back to a folder above is still a loop, through a sibling or not
    (folder / "common" / "up").symlink_to("..")
    with pytest.raises(BundleError, match=r"s/common/up: a symlink loop leads back here"):
        StartupScripts.from_directory(folder)
    (folder / "common" / "up").unlink()
    (folder / "common" / "team").symlink_to("../team")
    with pytest.raises(BundleError, match=r"symlink loop"):
        StartupScripts.from_directory(folder)
    # excluding the link is the way out
    scripts = StartupScripts.from_directory(folder, exclude=("team/",))
    assert {"team/", "common/team/", "shared/team/"} <= {e.path for e in scripts.excluded}
