#!/usr/bin/env python3
"""faster-whisper's transcripts of the dev clips with compute_type int8 and float32, the
reference for `--compute-type int8` (SpeechComputeTypeTests). Independent reference: our code
is never run here; faster-whisper int8 is CTranslate2's own int8 (per-channel weight scales,
activations quantised per row), so the two int8 transcripts should agree.

Run from this folder after scripts/bootstrap.sh: `python3 make_int8_fixture.py` writes int8_fw.json.
Needs `pip install faster-whisper` (1.2.1). Beam 5, every other option at faster-whisper's default,
2 threads; the audio is passed as a file path (PyAV decodes it), as a user runs it.
"""
import json
import os

import ctranslate2
import faster_whisper
from faster_whisper import WhisperModel

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(os.environ.get("LEPTON_MODELS", os.path.expanduser("~/.cache/lepton/models")), "whisper-tiny.en")
REPO = os.path.normpath(os.path.join(HERE, "../../.."))
DEV = os.path.normpath(os.path.join(REPO, "../shared/data/speech/dev"))
CLIPS = [("samples/chat/jfk.wav", os.path.join(REPO, "samples/chat/jfk.wav"))]
with open(os.path.join(DEV, "transcripts.tsv")) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and parts[0].endswith(".wav"):
            CLIPS.append(("dev/" + parts[0], os.path.join(DEV, parts[0])))

out = {"faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
       "cpu_compute_types": sorted(ctranslate2.get_supported_compute_types("cpu")), "beam_size": 5, "texts": {}}
for compute_type in ["int8", "float32"]:
    model = WhisperModel(MODEL, device="cpu", compute_type=compute_type, cpu_threads=2)
    texts = {}
    for name, path in CLIPS:
        segments, _ = model.transcribe(path, beam_size=5)
        texts[name] = "".join(s.text for s in segments).strip()
    out["texts"][compute_type] = texts
with open(os.path.join(HERE, "int8_fw.json"), "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
