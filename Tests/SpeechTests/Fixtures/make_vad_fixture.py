#!/usr/bin/env python3
"""faster-whisper's voice-activity filter on the dev clips and on a long call with pauses: the
reference for LeptonSpeech's SileroVAD / SpeechSegmenter and `lepton-chat transcribe --vad`.
Independent reference: our code is never run here.

Run from this folder after scripts/bootstrap.sh: `python3 make_vad_fixture.py` writes vad_fw.json.
Needs `pip install faster-whisper` (1.2.1; it brings onnxruntime and ships silero_vad_v6.onnx).

Recordings are int16 samples at 16 kHz (so both sides hear exactly the same numbers), described in
the JSON as a recipe the tests rebuild (VADFixture.swift):
  {"clip": NAME}       the samples of ../shared/data/speech/dev/NAME (16 kHz mono 16-bit)
  {"silence": N}       N zeros
  {"noise": N, "seed": S, "amplitude": A}
                       N samples of white noise from a 31-bit LCG: x = (1103515245 x + 12345) mod 2^31
                       starting at x = S, sample = ((x >> 16) mod (2A + 1)) - A, one step per sample
  {"tones": N, "periods": [P...], "amplitude": A}
                       N samples of a sum of triangle waves (integer arithmetic): for each period P,
                       v = n mod P, A * (2 * min(v, P - v) * 2 / P - 1) rounded down (// in Python,
                       floor division in the test)
The "long" recording is every dev clip once, with pauses of 2 to 4 s between them (digital
silence, noise or tones), 60 s in all; "short" is jfk.wav with 3 s of silence either side.

Contents:
  clips[NAME]: probabilities (faster-whisper's get_vad_model() on the padded clip, as
               get_speech_timestamps computes them) and timestamps (get_speech_timestamps, default
               VadOptions, and with the "tuned" options below), samples
  long, short: recipe, samples, timestamps (default and tuned), probabilities (long only),
               transcribe (WhisperModel.transcribe(vad_filter=True, beam_size=5): segments start, end,
               text, tokens; duration_after_vad) for default options, and for tuned options on "long"
"""
import json
import os
import wave

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

MODEL = os.path.join(os.environ.get("LEPTON_MODELS", os.path.expanduser("~/.cache/lepton/models")), "whisper-tiny.en")
HERE = os.path.dirname(os.path.abspath(__file__))
DEV = os.path.join(HERE, "../../../../shared/data/speech/dev")
CLIPS = ["jfk.wav", "LJ001-0001.wav", "LJ001-0002.wav", "LJ002-0020.wav", "goforward.wav",
         "libri-61-70968-0002.wav", "ss_austen-0870.wav"]
TUNED = dict(threshold=0.6, min_silence_duration_ms=500, speech_pad_ms=200, min_speech_duration_ms=250)

LONG = [
    {"silence": 48000}, {"clip": "LJ001-0001.wav"}, {"silence": 40000}, {"clip": "LJ001-0002.wav"},
    {"noise": 48000, "seed": 7, "amplitude": 1500}, {"clip": "LJ002-0020.wav"}, {"silence": 64000},
    {"clip": "goforward.wav"}, {"tones": 48000, "periods": [40, 30], "amplitude": 1500}, {"clip": "jfk.wav"},
    {"silence": 48000}, {"clip": "libri-61-70968-0002.wav"}, {"silence": 32000}, {"clip": "ss_austen-0870.wav"},
    {"silence": 48000},
]
SHORT = [{"silence": 48000}, {"clip": "jfk.wav"}, {"silence": 48000}]


def clip(name):
    with wave.open(os.path.join(DEV, name)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int64)


def build(recipe):
    parts = []
    for p in recipe:
        if "clip" in p:
            parts.append(clip(p["clip"]))
        elif "silence" in p:
            parts.append(np.zeros(p["silence"], dtype=np.int64))
        elif "noise" in p:
            x, a, out = p["seed"], p["amplitude"], []
            for _ in range(p["noise"]):
                x = (1103515245 * x + 12345) % (1 << 31)
                out.append(((x >> 16) % (2 * a + 1)) - a)
            parts.append(np.array(out, dtype=np.int64))
        else:
            n = np.arange(p["tones"], dtype=np.int64)
            total = np.zeros(p["tones"], dtype=np.int64)
            for period in p["periods"]:
                v = n % period
                total += (p["amplitude"] * (4 * np.minimum(v, period - v) - period)) // period
            parts.append(total)
    pcm = np.concatenate(parts)
    assert pcm.min() >= -32768 and pcm.max() <= 32767
    return pcm.astype(np.float32) / 32768.0


def probabilities(audio):
    padded = np.pad(audio, (0, 512 - audio.shape[0] % 512))
    return [round(float(p), 6) for p in get_vad_model()(padded)]


def stamps(audio, **options):
    return get_speech_timestamps(audio, VadOptions(**options))


model = WhisperModel(MODEL, device="cpu", compute_type="float32", cpu_threads=2)


def transcribe(audio, **options):
    segments, info = model.transcribe(audio, beam_size=5, vad_filter=True, vad_parameters=VadOptions(**options))
    segs = [{"start": s.start, "end": s.end, "text": s.text, "tokens": s.tokens} for s in segments]
    return {"segments": segs, "duration_after_vad": info.duration_after_vad}


out = {"faster_whisper": __import__("faster_whisper").__version__, "tuned": TUNED, "clips": {}}
for name in CLIPS:
    audio = build([{"clip": name}])
    out["clips"][name] = {"samples": int(audio.shape[0]), "probabilities": probabilities(audio),
                          "timestamps": stamps(audio), "timestamps_tuned": stamps(audio, **TUNED)}
for key, recipe in [("long", LONG), ("short", SHORT)]:
    audio = build(recipe)
    rec = {"recipe": recipe, "samples": int(audio.shape[0]), "timestamps": stamps(audio),
           "timestamps_tuned": stamps(audio, **TUNED), "transcribe": transcribe(audio)}
    if key == "long":
        rec["probabilities"] = probabilities(audio)
        rec["transcribe_tuned"] = transcribe(audio, **TUNED)
    out[key] = rec
with open(os.path.join(HERE, "vad_fw.json"), "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"))
    f.write("\n")
print("wrote vad_fw.json:", {k: len(v["timestamps"]) for k, v in out["clips"].items()},
      "long", len(out["long"]["timestamps"]), "segments", len(out["long"]["transcribe"]["segments"]))
