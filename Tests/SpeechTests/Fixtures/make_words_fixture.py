#!/usr/bin/env python3
"""faster-whisper's word timestamps (`word_timestamps=True`, beam 5, otherwise its defaults) for
the 16 kHz dev clips and a few bank-dev calls: the reference for `lepton-chat transcribe
--word-timestamps`. Independent reference: our decoder is never run here.

Run from this folder after scripts/bootstrap.sh: `python3 make_words_fixture.py` writes
words_fw.json. Needs `pip install faster-whisper` (1.2.1). Only 16 kHz files, so that no
resampler stands between the two sides.
"""
import json
import os

from faster_whisper import WhisperModel

MODEL = os.path.join(os.environ.get("LEPTON_MODELS", os.path.expanduser("~/.cache/lepton/models")), "whisper-tiny.en")
HERE = os.path.dirname(os.path.abspath(__file__))
SPEECH = os.path.join(HERE, "../../../../shared/data/speech")
FILES = ["dev/jfk.wav", "dev/LJ001-0001.wav", "dev/LJ001-0002.wav", "dev/LJ002-0020.wav", "dev/goforward.wav",
         "dev/libri-61-70968-0002.wav", "dev/ss_austen-0870.wav",
         "bank-dev/check_balance_01.wav", "bank-dev/change_pin_02.wav", "bank-dev/transfer_money_02.wav",
         "bank-dev/loan_enquiry_01.wav"]

model = WhisperModel(MODEL, device="cpu", compute_type="float32", cpu_threads=2)
out = {"faster_whisper": __import__("faster_whisper").__version__, "files": []}
for name in FILES:
    segments, _ = model.transcribe(os.path.join(SPEECH, name), beam_size=5, word_timestamps=True)
    out["files"].append({"file": name, "segments": [
        {"start": s.start, "end": s.end, "text": s.text, "tokens": s.tokens,
         "words": [{"start": w.start, "end": w.end, "word": w.word, "probability": w.probability} for w in s.words]}
        for s in segments]})
with open(os.path.join(HERE, "words_fw.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote words_fw.json:", sum(len(s["words"]) for f in out["files"] for s in f["segments"]), "words")
