#!/usr/bin/env python3
"""Checks that a running Lepton service answers as its OpenAPI document says.

  check_openapi.py PROGRAM BASE_URL [--doc openapi/PROGRAM.json]

Sends the requests listed below for PROGRAM (good and bad ones) with http.client, and for each
answer checks: the route and method are in the document; the status is one the operation
documents; the Content-Type is one documented for that status; the body validates against the
documented schema (jsonschema, draft 2020-12; application/x-ndjson line by line against
`x-line-schema`); X-Request-Id is present, and Retry-After where the document declares it.
Every operation of the document must be exercised with a 2xx answer. Exit status 0 when all
hold, 1 otherwise (one line per problem on stderr), 64 usage.
"""
import http.client
import json
import os
import re
import sys
import urllib.parse
import uuid

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEECH = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "speech"))


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def form(parts):
    """multipart/form-data of (name, filename, bytes) parts."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, filename, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, out


CONSOLE = ["/", "/console/lepton.css", "/console/lepton.js", "/console/page.css", "/console/page.js"]


def cases(program, doc):
    """(method, path, headers, body) of the requests sent to PROGRAM (the console's files when
    its document lists the page at `/`)."""
    common = [("GET", "/healthz", {}, None), ("GET", "/metrics", {}, None), ("GET", "/openapi.json", {}, None)]
    if "/" in doc["paths"]:
        common += [("GET", path, {}, None) for path in CONSOLE]
    if program == "lepton-risk":
        csv = read("samples/risk/test.csv")
        return common + [
            ("POST", "/v1/score?top=3", {"Content-Type": "text/csv"}, csv),
            ("POST", "/v1/score?accounts=1&budget=0.01", {"Content-Type": "text/csv"}, csv),
            ("POST", "/v1/score", {"Content-Type": "text/csv"}, b"no,csv\n1,2\n"),
            ("POST", "/v1/score?top=-1", {"Content-Type": "text/csv"}, csv),
            ("POST", "/v1/explain?row=3", {"Content-Type": "text/csv"}, csv),
            ("POST", "/v1/explain?row=100000", {"Content-Type": "text/csv"}, csv),
        ]
    if program == "lepton-chat":
        wav = read("samples/chat/jfk.wav")
        return common + [
            ("POST", "/v1/transcribe", {"Content-Type": "audio/wav"}, wav),
            ("POST", "/v1/transcribe", {"Content-Type": "application/octet-stream"}, b"\x00garbage" * 50),
            ("POST", "/v1/sessions/doc1/turns", {"Content-Type": "application/json"}, b'{"text": "I lost my card"}'),
            ("POST", "/v1/sessions/doc1/turns", {"Content-Type": "audio/wav"}, open(os.path.join(SPEECH, "bank-dev/change_pin_01.wav"), "rb").read()),
            ("POST", "/v1/sessions/doc1/turns", {"Content-Type": "application/json"}, b'{"text": '),
            ("POST", "/v1/sessions/doc1/turns", {"Content-Type": "text/plain"}, b"hello"),
            # Idempotency-Key: played, replayed (Idempotent-Replayed), reused with another body (422).
            ("POST", "/v1/sessions/doc2/turns", {"Content-Type": "application/json", "Idempotency-Key": "k1"}, b'{"text": "hello"}'),
            ("POST", "/v1/sessions/doc2/turns", {"Content-Type": "application/json", "Idempotency-Key": "k1"}, b'{"text": "hello"}'),
            ("POST", "/v1/sessions/doc2/turns", {"Content-Type": "application/json", "Idempotency-Key": "k1"}, b'{"text": "bye"}'),
            ("GET", "/v1/sessions?limit=5", {}, None),
            ("GET", "/v1/sessions?limit=0", {}, None),
            ("GET", "/v1/sessions/doc1", {}, None),
            ("GET", "/v1/sessions/no-such-session", {}, None),
            ("POST", "/v1/speak", {"Content-Type": "application/json"}, b'{"text": "Your card is blocked."}'),
            ("POST", "/v1/speak", {"Content-Type": "application/json"}, b'{"words": 1}'),
            ("GET", "/v1/transcribe/stream", {}, None),  # no Upgrade: 426
            # The WebSocket handshake only (101); ChatStreamRouteTests drives the socket.
            ("GET", "/v1/transcribe/stream?sample_rate=8000&encoding=pcm_mulaw",
             {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, None),
        ]
    if program == "lepton-diagnose":
        s = "samples/diagnose/studies/"
        h1, b1 = form([("scan", "case1.png", read(s + "case1.png")), ("report", "case1.txt", read(s + "case1.txt"))])
        h2, b2 = form([("report", "case2.xml", read(s + "case2.xml"))])
        h3, b3 = form([("scan", "case6.dcm", read(s + "case6.dcm"))])
        return common + [
            ("POST", "/v1/analyze", h1, b1),
            ("POST", "/v1/analyze?format=fhir", h1, b1),
            ("POST", "/v1/analyze?format=html", h2, b2),
            ("POST", "/v1/analyze?images=1", h1, b1),
            ("POST", "/v1/analyze", h3, b3),
            ("POST", "/v1/analyze", {"Content-Type": "text/plain"}, b"x"),
        ]
    raise SystemExit(64)


def resolve(doc, node):
    """`node` with every local $ref replaced by its target (the documents have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for key in node["$ref"].lstrip("#/").split("/"):
                target = target[key]
            return resolve(doc, target)
        return {k: resolve(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(doc, v) for v in node]
    return node


def operation(doc, method, path):
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, resolve(doc, item[method.lower()])
    return None, None


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    program, base = sys.argv[1], sys.argv[2]
    doc_path = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--doc" else os.path.join(ROOT, "openapi", program + ".json")
    doc = json.load(open(doc_path))
    url = urllib.parse.urlparse(base)
    problems, exercised = [], set()
    for method, path, headers, body in cases(program, doc):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        where = f"{method} {path} -> {r.status}"
        template, op = operation(doc, method, urllib.parse.urlparse(path).path)
        if op is None:
            problems.append(f"{where}: not in the document")
            continue
        if r.getheader("X-Request-Id") is None:
            problems.append(f"{where}: no X-Request-Id")
        spec = op["responses"].get(str(r.status)) or op["responses"].get("default")
        if spec is None:
            problems.append(f"{where}: status not documented (documented: {sorted(op['responses'])})")
            continue
        if 200 <= r.status < 300 or r.status == 101:  # 101: a WebSocket opened
            exercised.add((template, method.lower()))
        for name, header in spec.get("headers", {}).items():
            # A header marked "required": false is sent only sometimes (Idempotent-Replayed).
            if r.getheader(name) is None and header.get("required", True):
                problems.append(f"{where}: documented header {name} missing")
        if r.status == 101:
            continue  # no body: the connection now carries WebSocket messages
        ctype = (r.getheader("Content-Type") or "").split(";")[0].strip()
        content = spec.get("content", {})
        media = content.get(ctype) or next((m for k, m in content.items() if k.endswith("/*") and ctype.startswith(k[:-1])), None)
        if media is None:
            problems.append(f"{where}: Content-Type {ctype!r} not documented ({sorted(content)})")
            continue
        try:
            if ctype == "application/x-ndjson":
                lines = data.decode().splitlines()
                if not lines:
                    problems.append(f"{where}: no lines")
                for line in lines:
                    jsonschema.validate(json.loads(line), media["x-line-schema"], cls=jsonschema.Draft202012Validator)
            elif "contentMediaType" in media["schema"]:
                if not data:
                    problems.append(f"{where}: empty {ctype} body")
            elif ctype.endswith("json"):
                jsonschema.validate(json.loads(data), media["schema"], cls=jsonschema.Draft202012Validator)
            else:
                jsonschema.validate(data.decode(), media["schema"], cls=jsonschema.Draft202012Validator)
        except (jsonschema.ValidationError, ValueError) as e:
            problems.append(f"{where}: body does not match the schema: {str(e).splitlines()[0]}")
    for template, item in doc["paths"].items():
        for method in item:
            if (template, method) not in exercised:
                problems.append(f"{method.upper()} {template}: documented but never answered 2xx")
    for p in problems:
        print(f"check_openapi: {program}: {p}", file=sys.stderr)
    print(f"check_openapi: {program}: {len(cases(program, doc))} requests, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
