#!/usr/bin/env python3
"""Time saved and words kept by the voice-activity filter on long calls with pauses: Lepton
(`lepton-chat transcribe` with and without --vad) side by side with faster-whisper 1.2.1
(`transcribe` with and without vad_filter=True), same files, same machine, same moment.

Usage
  python3 scripts/bench-vad.py [--calls 3] [--repeats 3] [--bin .build/release] [--threads 2]

Calls: scripts/speech_calls.py (the 7 real dev clips in a shuffled order with 3-10 s pauses of
silence, a quiet noisy line or hold music; seeds 1..N). No setting was chosen on them: both tools
run at their defaults (beam 5, faster-whisper's VadOptions).
Timing: each repeat runs the four configurations in turn (Lepton without, Lepton with, faster-whisper
without, with), so load changes hit all four alike; medians over repeats. Lepton's time is the
whole command on all calls minus a run that only loads the model (the same command on a 0.1 s file);
faster-whisper's is transcribe() on each file path (PyAV decoding included, segments consumed),
its model loaded once. Both with 2 threads. WER over all calls (asr_peer.py's normalizer).
Prints a Markdown table and the load average.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import speech_calls  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(os.environ.get("LEPTON_MODELS", os.path.expanduser("~/.cache/lepton/models")), "whisper-tiny.en")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import numpy as np
    from faster_whisper import WhisperModel

    lepton = os.path.join(a.bin, "lepton-chat")
    if not os.access(lepton, os.X_OK):
        sys.exit(f"no {lepton}: build first (swift build -c release)")
    with tempfile.TemporaryDirectory(prefix="lepton-bench-vad-") as tmp:
        files, refs, audio_s = [], [], 0.0
        for seed in range(1, a.calls + 1):
            samples, spans, ref = speech_calls.build_call(seed)
            path = os.path.join(tmp, f"call{seed}.wav")
            speech_calls.write_wav(path, samples)
            files.append(path)
            refs.append(ref)
            audio_s += len(samples) / speech_calls.RATE
            speech_s = sum(e - s for _, s, e in spans)
            print(f"call{seed}: {len(samples) / speech_calls.RATE:.1f} s, speech {speech_s:.1f} s", file=sys.stderr)
        tiny = os.path.join(tmp, "tiny.wav")
        speech_calls.write_wav(tiny, np.zeros(1600, dtype=np.int16))

        def run_lepton(vad, paths):
            args = [lepton, "transcribe", "-f", "json", "--threads", str(a.threads)] + (["--vad"] if vad else []) + paths
            t = time.monotonic()
            r = subprocess.run(args, capture_output=True, text=True, check=True)
            wall = time.monotonic() - t
            return wall, [json.loads(line)["text"] for line in r.stdout.splitlines()]

        fw = WhisperModel(MODEL, device="cpu", compute_type="float32", cpu_threads=a.threads)

        def run_fw(vad):
            t, texts = time.monotonic(), []
            for p in files:
                segments, _ = fw.transcribe(p, beam_size=5, vad_filter=vad)
                texts.append("".join(s.text for s in segments).strip())
            return time.monotonic() - t, texts

        configs = [("Lepton", False), ("Lepton", True), ("faster-whisper", False), ("faster-whisper", True)]
        times = {c: [] for c in configs}
        texts = {}
        run_fw(False)  # warm-up (first call loads lazily)
        for rep in range(a.repeats):
            for c in configs:
                if c[0] == "Lepton":
                    wall, out = run_lepton(c[1], files)
                    load, _ = run_lepton(c[1], [tiny])
                    times[c].append(wall - load)
                else:
                    wall, out = run_fw(c[1])
                    times[c].append(wall)
                texts[c] = out
                print(f"repeat {rep + 1} {c[0]} vad={c[1]}: {times[c][-1]:.2f} s", file=sys.stderr)
        load = os.getloadavg()
        print(f"\n{a.calls} calls, {audio_s:.1f} s of audio; {a.repeats} repeats, medians; "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
        print("| tool | VAD | time (s) | real-time factor | time saved by VAD | WER |")
        print("|---|---|---|---|---|---|")
        for c in configs:
            med = statistics.median(times[c])
            edits = sum(speech_calls.word_errors(r, h)[0] for r, h in zip(refs, texts[c]))
            words = sum(speech_calls.word_errors(r, h)[1] for r, h in zip(refs, texts[c]))
            saved = ""
            if c[1]:
                base = statistics.median(times[(c[0], False)])
                saved = f"{100 * (1 - med / base):.0f}%"
            print(f"| {c[0]} | {'on' if c[1] else 'off'} | {med:.2f} | {med / audio_s:.3f} | {saved} | {100 * edits / words:.1f}% ({edits}/{words}) |")
        lepton_ratio = [statistics.median(times[("Lepton", v)]) / statistics.median(times[("faster-whisper", v)]) for v in (False, True)]
        print(f"\nLepton / faster-whisper time: {lepton_ratio[0]:.2f}x without VAD, {lepton_ratio[1]:.2f}x with")


if __name__ == "__main__":
    main()
