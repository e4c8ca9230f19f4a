#!/usr/bin/env python3
"""A TCP proxy on loopback that goes silent: a network that stops answering without closing.

  scripts/silent-proxy.py --to HOST:PORT --silent-after TEXT [--max-seconds S]

Prints the port it listens on (127.0.0.1, chosen by the system) on stdout, then forwards each
connection to HOST:PORT both ways until the client sends bytes containing TEXT: from then on that
connection forwards nothing in either direction and is never closed (no FIN, no reset), as when a
route is dropped or a firewall forgets the connection. Exits after --max-seconds (default 120) so it
never outlives a test. For tests: the client under test must give up by itself.
"""
import argparse
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--to", required=True, help="upstream HOST:PORT")
    ap.add_argument("--silent-after", required=True, help="text whose appearance in the client's bytes silences the connection")
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    host, _, port = a.to.rpartition(":")
    trigger = a.silent_after.encode()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)
    held = []  # silenced sockets, kept open until exit

    def serve(client):
        upstream = socket.create_connection((host, int(port)), timeout=10)
        upstream.settimeout(None)
        silent = threading.Event()

        def pipe(src, dst, watch):
            seen = b""
            try:
                while not silent.is_set():
                    data = src.recv(65536)
                    if not data:
                        break
                    if watch:
                        seen = (seen + data)[-(len(data) + len(trigger)):]
                        if trigger in seen:
                            silent.set()
                            held.extend([client, upstream])
                            return
                    if silent.is_set():
                        return
                    dst.sendall(data)
            except OSError:
                pass
            if not silent.is_set():
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, False), daemon=True).start()

    def accept():
        while True:
            c, _ = listener.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    time.sleep(a.max_seconds)
    sys.exit(0)


if __name__ == "__main__":
    main()
