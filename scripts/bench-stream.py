#!/usr/bin/env python3
"""Latency of `lepton-chat transcribe --stream`: from the end of each utterance to its final line.

Usage
  python3 scripts/bench-stream.py [--calls 3] [--bin .build/release] [--partial-interval-ms 1000]
                                  [--min-silence-ms 2000 500] [--chunk-ms 100] [--service [--streams 1 2]]

Each call (scripts/speech_calls.py: the 7 real dev clips with 3-10 s pauses of silence, noise or
hold music) is played into `lepton-chat transcribe --stream -` as a live call: a WAV header, a
3 s wait (the model loads), then 16-bit samples written in --chunk-ms pieces at the pace they
play (t0 = when the first sample is written). A reader thread stamps each output line on
arrival. An utterance (one clip) ends at its known end in the call; its final text is there when
the last `final` line overlapping the clip has arrived (a final that overlaps two clips counts for
both). Latency = arrival - (t0 + clip end). Reported per --min-silence-ms (the VAD silence that
ends an utterance): p50, p95 and max over all utterances, the share of clips with a final, WER of
the finals, and the load average.

With --service the same calls go to `lepton-chat serve`'s WebSocket route instead (the script
starts the service, --threads 2, on a free loopback port, and waits until it is ready): each call
is one connection (/v1/transcribe/stream, 16 kHz pcm_s16le), its samples sent in --chunk-ms binary
messages at the pace they play, then {"event":"end"}; a reader thread stamps each message on
arrival. --streams 1 2 measures with 1 and with 2 calls streaming at once (call k and k+1 of
--calls start together; each call keeps its own clock). The client is websocket-client (Python),
independent of the service's code.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import speech_calls  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wav_header(frames):
    data = frames * 2
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
            + b"data" + struct.pack("<I", data))


def play(lepton, samples, chunk_ms, extra):
    """Runs one live call; returns (t0, [(arrival, event)])."""
    args = [lepton, "transcribe", "--stream", "--threads", "2", "--chunk-ms", str(chunk_ms)] + extra + ["-"]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    lines = []

    def reader():
        for line in p.stdout:
            lines.append((time.monotonic(), json.loads(line)))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    p.stdin.write(wav_header(len(samples)))
    time.sleep(3)
    step = chunk_ms * 16
    t0 = time.monotonic()
    deadline = t0 + len(samples) / 16000 + 120
    for k in range(0, len(samples), step):
        due = t0 + (k + step) / 16000
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        p.stdin.write(samples[k:k + step].astype("<i2").tobytes())
        if p.poll() is not None:
            break
    p.stdin.close()
    p.wait(timeout=max(1, deadline - time.monotonic()))
    th.join(timeout=10)
    if p.returncode != 0:
        sys.exit(f"lepton-chat exited {p.returncode}: {p.stderr.read().decode()[-2000:]}")
    return t0, lines


def play_socket(url, samples, chunk_ms, query):
    """Streams one live call to the service's WebSocket route; returns (t0, [(arrival, event)])."""
    import websocket  # websocket-client: only this mode needs it
    ws = websocket.create_connection(f"{url}/v1/transcribe/stream?{query}", timeout=300)
    lines = []

    def reader():
        while True:
            try:
                message = ws.recv()
            except (websocket.WebSocketConnectionClosedException, OSError):
                return
            if not message:
                return
            lines.append((time.monotonic(), json.loads(message)))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    step = chunk_ms * 16
    t0 = time.monotonic()
    for k in range(0, len(samples), step):
        due = t0 + (k + step) / 16000
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        ws.send_binary(samples[k:k + step].astype("<i2").tobytes())
    ws.send(json.dumps({"event": "end"}))
    th.join(timeout=120)
    ws.close()
    errors = [e["error"] for _, e in lines if e["type"] == "error"]
    if errors:
        sys.exit(f"the service ended a stream: {errors[0]}")
    return t0, lines


class Service:
    """`lepton-chat serve` on a free loopback port, ready (its `listening on` line), until stop()."""

    def __init__(self, lepton):
        self.dir = tempfile.mkdtemp(prefix="bench-stream-")
        self.p = subprocess.Popen([lepton, "serve", "--port", "0", "--threads", "2", "--store", os.path.join(self.dir, "s.sqlite")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.p.stderr:
            if "listening on http://" in line:
                self.url = "ws://" + line.split("listening on http://")[1].split()[0]
                threading.Thread(target=lambda: [None for _ in self.p.stderr], daemon=True).start()
                return
        sys.exit("lepton-chat serve ended before it was ready")

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--partial-interval-ms", type=int, default=1000)
    ap.add_argument("--chunk-ms", type=int, default=100)
    ap.add_argument("--min-silence-ms", type=int, nargs="+", default=[2000, 500])
    ap.add_argument("--service", action="store_true", help="stream to `lepton-chat serve`'s WebSocket route")
    ap.add_argument("--streams", type=int, nargs="+", default=[1], help="with --service: calls streaming at once")
    a = ap.parse_args()
    lepton = os.path.join(a.bin, "lepton-chat")
    if not os.access(lepton, os.X_OK):
        sys.exit(f"no {lepton}: build first (swift build -c release)")
    calls = [speech_calls.build_call(seed) for seed in range(1, a.calls + 1)]
    service = Service(lepton) if a.service else None
    print("| streams | min silence | utterances | with a final | p50 | p95 | max | partial lines | WER of finals | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for streams, silence in [(k, m) for m in a.min_silence_ms for k in (a.streams if service else [1])]:
        latencies, missing, partials, edits, words = [], 0, 0, 0, 0
        played = []
        for first in range(0, len(calls), streams):
            group = calls[first:first + streams]
            results = [None] * len(group)

            def run(i, samples):
                if service:
                    query = f"partial_interval_ms={a.partial_interval_ms}&min_silence_duration_ms={silence}"
                    results[i] = play_socket(service.url, samples, a.chunk_ms, query)
                else:
                    extra = ["--partial-interval-ms", str(a.partial_interval_ms), "--vad-min-silence-ms", str(silence)]
                    results[i] = play(lepton, samples, a.chunk_ms, extra)
            threads = [threading.Thread(target=run, args=(i, c[0])) for i, c in enumerate(group)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            played += [(c, r) for c, r in zip(group, results)]
        for (samples, spans, ref), (t0, lines) in played:
            finals = [(t, e) for t, e in lines if e["type"] == "final"]
            partials += sum(1 for _, e in lines if e["type"] == "partial")
            for name, start, end in spans:
                hits = [t for t, e in finals if e["start"] < end and e["end"] > start]
                if not hits:
                    missing += 1
                    continue
                latencies.append(max(hits) - (t0 + end))
            e, w = speech_calls.word_errors(ref, " ".join(e["text"] for _, e in finals))
            edits += e
            words += w
        latencies.sort()
        n = len(latencies)
        p95 = latencies[min(n - 1, int(round(0.95 * (n - 1))))] if n else float("nan")
        load = os.getloadavg()
        print(f"| {streams} | {silence} ms | {n + missing} | {n} | {statistics.median(latencies):.2f} s | {p95:.2f} s | {max(latencies):.2f} s "
              f"| {partials} | {100 * edits / words:.1f}% | {load[0]:.1f} |", flush=True)
    if service:
        service.stop()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M %Z')}; calls {a.calls}, chunk {a.chunk_ms} ms, partials every {a.partial_interval_ms} ms"
          + (" (lepton-chat serve, WebSocket)" if service else " (transcribe --stream)"))


if __name__ == "__main__":
    main()
