#!/usr/bin/env python3
"""N-best hypotheses of Whisper tiny.en's first window, from CTranslate2 (the engine under
faster-whisper), for the beam search's `hypotheses` list. Independent reference: our decoder is
never run here.

Run from this folder after scripts/bootstrap.sh: `python3 make_nbest_fixture.py` writes
nbest_ct2.json. Needs `pip install faster-whisper` (ctranslate2 4.x). Features are made as
faster-whisper 1.2.1 makes them for a file shorter than 30 s (log-mel of the whole file, padded
to 3000 frames); the prompt is `<|startoftranscript|>` alone (timestamps on), as in
`WhisperModel.transcribe`'s first window without an initial prompt. Clips: three 16 kHz
bank-dev calls (16 kHz, so that no resampler stands between the two sides), whose hypotheses
differ in words or in timestamps only, and whose transcript is one decoding pass.
"""
import json
import os

import ctranslate2
import numpy as np
from faster_whisper.audio import decode_audio
from faster_whisper.feature_extractor import FeatureExtractor

MODEL = os.path.join(os.environ.get("LEPTON_MODELS", os.path.expanduser("~/.cache/lepton/models")), "whisper-tiny.en")
BANK = os.path.join(os.path.dirname(__file__), "../../../../shared/data/speech/bank-dev")
CLIPS = ["loan_enquiry_01.wav", "check_balance_01.wav", "transfer_money_02.wav"]
BEAM = 5

model = ctranslate2.models.Whisper(MODEL, device="cpu", compute_type="float32", intra_threads=2)
extractor = FeatureExtractor()
sot = 50257  # <|startoftranscript|> in tiny.en's vocabulary
out = {"ctranslate2": ctranslate2.__version__, "beam_size": BEAM, "clips": []}
for clip in CLIPS:
    audio = decode_audio(os.path.join(BANK, clip), sampling_rate=16000)
    mel = extractor(audio)[:, :3000]
    mel = np.pad(mel, ((0, 0), (0, 3000 - mel.shape[1]))).astype(np.float32)
    result = model.generate(ctranslate2.StorageView.from_array(mel[None]), [[sot]], beam_size=BEAM,
                            num_hypotheses=BEAM, length_penalty=1, return_scores=True, suppress_blank=True,
                            suppress_tokens=[-1], max_initial_timestamp_index=50)[0]
    out["clips"].append({"file": clip, "hypotheses": [
        {"tokens": ids, "score": score} for ids, score in zip(result.sequences_ids, result.scores)]})
with open(os.path.join(os.path.dirname(__file__) or ".", "nbest_ct2.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
