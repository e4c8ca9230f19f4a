#!/usr/bin/env python3
"""faster-whisper's segments for a long recording under non-default decoding options, the
reference for `lepton-chat transcribe --condition-on-previous-text false --temperatures …`.
Independent reference: our decoder is never run here.

Run from this folder after scripts/bootstrap.sh: `python3 make_options_fixture.py` writes
options_fw.json. Needs `pip install faster-whisper` (1.2.1). The recording is built the same way
by the test (SpeechOptionsTests.longRecording): the 16 kHz dev clips below, in this order, each
followed by 0.5 s of digital silence, the whole list twice (int16 samples, so both sides hear
exactly the same numbers; 77 s, three 30 s windows).
"""
import json
import os
import wave

import numpy as np
from faster_whisper import WhisperModel

MODEL = os.path.join(os.environ.get("LEPTON_MODELS", os.path.expanduser("~/.cache/lepton/models")), "whisper-tiny.en")
DEV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../shared/data/speech/dev")
CLIPS = ["jfk.wav", "LJ001-0001.wav", "LJ001-0002.wav", "LJ002-0020.wav", "goforward.wav",
         "libri-61-70968-0002.wav", "ss_austen-0870.wav"]
GAP = 8000  # 0.5 s at 16 kHz

parts = []
for _ in range(2):
    for clip in CLIPS:
        with wave.open(os.path.join(DEV, clip)) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
            parts.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
        parts.append(np.zeros(GAP, dtype="<i2"))
audio = np.concatenate(parts).astype(np.float32) / 32768.0

model = WhisperModel(MODEL, device="cpu", compute_type="float32", cpu_threads=2)
CONFIGS = {
    "no_conditioning": dict(condition_on_previous_text=False, temperature=[0.0]),
    "conditioning_no_thresholds": dict(condition_on_previous_text=True, temperature=[0.0, 0.5],
                                       no_speech_threshold=None, compression_ratio_threshold=None,
                                       log_prob_threshold=None),
}
out = {"faster_whisper": __import__("faster_whisper").__version__, "clips": CLIPS, "gap_samples": GAP,
       "repeats": 2, "samples": int(audio.shape[0]), "configs": {}}
for name, options in CONFIGS.items():
    segments, _ = model.transcribe(audio, beam_size=5, **options)
    out["configs"][name] = {"options": {k: v for k, v in options.items()},
                            "segments": [{"start": s.start, "end": s.end, "text": s.text, "tokens": s.tokens}
                                         for s in segments]}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "options_fw.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote options_fw.json", {k: len(v["segments"]) for k, v in out["configs"].items()})
