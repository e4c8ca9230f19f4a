#!/usr/bin/env python3
"""A stand-in for a bank's backend, for the backend-action tests (Tests/ChatTests/BackendActionTests.swift).

Usage: stub_backend.py KEY_FILE LOG_FILE

Listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout once ready. Every POST is
checked independently of Lepton's Swift code, with Python's hmac module: X-Lepton-Signature must be
"sha256=" + HMAC-SHA256(key, X-Lepton-Timestamp + "." + body) and the timestamp within 300 s of
now; a request seen before (same timestamp and signature) is a replay. A request that fails a check
is answered 401 (bad signature or stale timestamp) or 409 (replay). A verified request is answered
by its path:

  /confirm   200 {"status": "confirmed"}
  /refuse    200 {"status": "refused", "reason": "the card is already blocked"}
  /slow      sleeps 3 s, then confirms (longer than the tests' timeouts)
  /garbage   200 with an HTML page
  /error     500 {"error": "internal"}
  /redirect  307 to /confirm

Each request is appended to LOG_FILE as one JSON line: path, headers, raw body, whether the
signature verified, and the answer's status code, before the answer is sent (so a client that
reads the log as soon as its request returns finds its line).
"""
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = open(sys.argv[1], "rb").read().rstrip(b"\r\n")
LOG = sys.argv[2]
SEEN = set()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep stderr quiet
        pass

    def answer(self, code, body, content_type="application/json", extra=None):
        # Logged before the answer is sent: a test reads the log as soon as its request returns.
        entry = {"path": self.path, "headers": dict(self.headers.items()), "body": self.request_body.decode("utf-8", "replace"),
                 "verified": self.verified, "code": code}
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        return code

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        stamp = self.headers.get("X-Lepton-Timestamp", "")
        given = self.headers.get("X-Lepton-Signature", "")
        want = "sha256=" + hmac.new(KEY, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        verified = hmac.compare_digest(given, want)
        self.request_body, self.verified = body, verified
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 300
        with LOCK:
            replay = (stamp, given) in SEEN
            SEEN.add((stamp, given))
        if not verified or not fresh:
            code = self.answer(401, {"error": "bad signature" if not verified else "stale timestamp"})
        elif replay:
            code = self.answer(409, {"error": "replay"})
        elif self.path == "/confirm":
            code = self.answer(200, {"status": "confirmed"})
        elif self.path == "/refuse":
            code = self.answer(200, {"status": "refused", "reason": "the card is already blocked"})
        elif self.path == "/slow":
            time.sleep(3)
            code = self.answer(200, {"status": "confirmed"})
        elif self.path == "/garbage":
            code = self.answer(200, b"<html><body>Service Unavailable</body></html>", "text/html")
        elif self.path == "/error":
            code = self.answer(500, {"error": "internal"})
        elif self.path == "/redirect":
            code = self.answer(307, b"", "text/plain", {"Location": "/confirm"})
        else:
            code = self.answer(404, {"error": "no such action"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
