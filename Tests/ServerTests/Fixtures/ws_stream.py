"""One stream to `lepton-chat serve`'s WebSocket route, for ChatStreamRouteTests.

The client is websocket-client (PyPI, Apache-2.0; scripts/bootstrap.sh installs it), independent of
the service's WebSocket library. The tests use it where the service answers before reading any
audio (a bad query, --max-streams reached): its error and close frames then travel in the same TCP
segment as the 101, and hummingbird-websocket's own client (2.8.1) sometimes drops frames that come
with the upgrade response and waits forever; this client reads them.

Usage: ws_stream.py URL [--key K] [--audio FILE --chunk N] [--text T] [--end] [--timeout S]
Prints one JSON object: {"messages": [text messages], "close": code} ("refused": HTTP status when the
upgrade is refused). Exit 2 if the service neither answers nor closes within the timeout.
"""
import argparse
import json
import struct
import sys

import websocket


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--key")
    p.add_argument("--audio")
    p.add_argument("--chunk", type=int, default=4096)
    p.add_argument("--text")
    p.add_argument("--end", action="store_true")
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    headers = ["Authorization: Bearer " + a.key] if a.key else []
    try:
        ws = websocket.create_connection(a.url, header=headers, timeout=a.timeout)
    except websocket.WebSocketBadStatusException as e:
        print(json.dumps({"refused": e.status_code}))
        return 0
    audio = open(a.audio, "rb").read() if a.audio else b""
    try:
        if a.text is not None:
            ws.send(a.text)
        for at in range(0, len(audio), a.chunk):
            ws.send_binary(audio[at:at + a.chunk])
        if a.end:
            ws.send('{"event":"end"}')
    except (OSError, websocket.WebSocketException):
        pass  # the service may have closed already: what it said is read below
    messages, close = [], None
    try:
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                messages.append(data.decode("utf-8"))
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                close = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
                break
    except websocket.WebSocketTimeoutException:
        print("ws_stream: no close within %g s; received %r" % (a.timeout, messages), file=sys.stderr)
        return 2
    except (OSError, websocket.WebSocketConnectionClosedException):
        pass  # closed without a close frame: close stays null
    print(json.dumps({"messages": messages, "close": close}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
