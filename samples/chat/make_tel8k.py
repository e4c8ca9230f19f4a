"""Makes jfk_tel8k.wav: a phone-line copy of jfk.wav (band-limited, 8 kHz, G.711 mu-law WAV).

Run from this folder: python3 make_tel8k.py  (needs numpy and scipy).
"""
import struct, wave
import numpy as np
from scipy.signal import resample_poly

with wave.open("jfk.wav") as w:
    assert w.getframerate() == 16000 and w.getsampwidth() == 2 and w.getnchannels() == 1
    x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
y = np.clip(resample_poly(x, 1, 2), -1, 1)          # 16 kHz -> 8 kHz, polyphase anti-alias filter

def mulaw(s):                                         # ITU-T G.711 mu-law, 14-bit magnitude
    BIAS, CLIP = 0x84, 32635
    v = int(round(s * 32767)); sign = 0x80 if v < 0 else 0
    v = min(abs(v), CLIP) + BIAS
    exp = 7
    for e in range(7, -1, -1):
        if v & (0x4000 >> (7 - e)): exp = e; break
    mant = (v >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF

data = bytes(mulaw(s) for s in y)
fmt = struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)   # WAVE_FORMAT_MULAW, cbSize 0
fact = struct.pack("<I", len(data))
body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact \
     + b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
open("jfk_tel8k.wav", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
