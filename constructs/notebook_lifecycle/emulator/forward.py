"""TCP port forwarding between the sandbox's own network namespace and the host's loopback.

A network namespace cannot reach another one's ``127.0.0.1``, but both sides see
the same file system, and a Unix socket file works across namespaces. So two
copies of this program relay each port ``P``:

* ``forward.py out DIR P...`` runs on the host: it listens on ``DIR/P.sock`` and
  connects each client to the host's ``127.0.0.1:P``;
* ``forward.py in DIR P...`` runs inside the sandbox's namespace: it listens on
  ``127.0.0.1:P`` there and connects each client to ``DIR/P.sock``.

Each writes ``DIR/ready-out`` / ``DIR/ready-in`` once it listens. Standard library only.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import threading
from typing import Callable, List


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _relay(client: socket.socket, connect: Callable[[], socket.socket]) -> None:
    try:
        upstream = connect()
    except OSError:
        client.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_relay, args=(client, connect), daemon=True).start()


def _tcp(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _unix(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def main(argv: List[str]) -> int:
    mode, folder, ports = argv[0], argv[1], [int(p) for p in argv[2:]]
    threads = []
    for port in ports:
        path = os.path.join(folder, f"{port}.sock")
        if mode == "out":
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            connect: Callable[[], socket.socket] = functools.partial(_tcp, port)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            connect = functools.partial(_unix, path)
        listener.listen(64)
        t = threading.Thread(target=_serve, args=(listener, connect), daemon=True)
        t.start()
        threads.append(t)
    with open(os.path.join(folder, f"ready-{mode}"), "w", encoding="ascii") as fh:
        fh.write(str(os.getpid()))
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
