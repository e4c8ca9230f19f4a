#!/usr/bin/env python3
"""Writes resample_pyav.json: short inputs and what faster-whisper's decoder makes of them.

The reference is faster-whisper 1.2.1's own `decode_audio` (PyAV 18 → FFmpeg's libswresample,
16 kHz mono s16), run on each input file; nothing here comes from Lepton. Inputs: seeded noise
and tones at the rates a contact centre meets, in the encodings that decide libswresample's
arithmetic (16/8-bit PCM, µ-law and A-law use 16-bit fixed point; float and 24-bit use float),
a rate whose ratio needs interpolation between phases (44,056 Hz), very short files, stereo, and
one second of real speech sent through a phone line (sox: sinc 300-3400, 8 kHz µ-law).

Run: python3 Tests/AudioTests/Fixtures/make_resample_fixture.py  (needs faster-whisper and sox)
"""
import base64, io, json, os, struct, subprocess, sys, tempfile
import numpy as np
from faster_whisper.audio import decode_audio
import faster_whisper

HERE = os.path.dirname(os.path.abspath(__file__))
DEV = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "speech", "dev")


def wav_bytes(frames: bytes, rate: int, channels: int, tag: int, bits: int) -> bytes:
    """A canonical RIFF/WAVE file: format tag 1 PCM, 3 float, 6 A-law, 7 µ-law."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if tag != 1:
        fmt += struct.pack("<H", 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if tag != 1:
        body += b"fact" + struct.pack("<II", 4, len(frames) // block)
    body += b"data" + struct.pack("<I", len(frames)) + frames
    if len(frames) % 2:
        body += b"\0"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def ulaw(x):
    """G.711 µ-law encoding of float samples (the standard's segment table, bias 0x84)."""
    s = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int32)
    sign = np.where(s < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(s), 32635) + 0x84
    seg = np.floor(np.log2(mag)).astype(np.int32) - 7
    mant = (mag >> (seg + 3)) & 0x0F
    return ((seg << 4 | mant) ^ sign).astype(np.uint8).tobytes()


def alaw(x):
    s = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int32) >> 3
    mask = np.where(s >= 0, 0xD5, 0x55)
    mag = np.where(s >= 0, s, -s - 1)
    mag = np.minimum(mag, 0xFFF)
    seg = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    mant = np.where(seg == 0, mag >> 1, mag >> seg) & 0x0F
    return ((seg << 4 | mant) ^ mask).astype(np.uint8).tobytes()


def signal(rng, n, rate, channels=1):
    t = np.arange(n) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 0.45 * rate * t)
    x = x[:, None] + 0.25 * rng.uniform(-1, 1, (n, channels))
    x[n // 3] = 0.99  # an impulse: the filter's taps show up in the output
    return np.clip(x, -0.999, 0.999)


def case(name, rate, channels, encoding, x):
    if encoding == "pcm16":
        data, tag, bits = (np.round(x * 32768).clip(-32768, 32767).astype("<i2")).tobytes(), 1, 16
    elif encoding == "pcm8":
        data, tag, bits = (np.round(x * 128).clip(-128, 127).astype(np.int16) + 128).astype(np.uint8).tobytes(), 1, 8
    elif encoding == "ulaw":
        data, tag, bits = ulaw(x.reshape(-1)), 7, 8
    elif encoding == "alaw":
        data, tag, bits = alaw(x.reshape(-1)), 6, 8
    elif encoding == "float":
        data, tag, bits = x.astype("<f4").tobytes(), 3, 32
    elif encoding == "pcm24":
        v = np.round(x * 8388608).clip(-8388608, 8388607).astype("<i4").reshape(-1)
        data, tag, bits = b"".join(int(s).to_bytes(3, "little", signed=True) for s in v), 1, 24
    else:
        raise ValueError(encoding)
    wav = wav_bytes(data, rate, channels, tag, bits)
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        f.write(wav)
        f.flush()
        out = decode_audio(f.name, sampling_rate=16000)
    s16 = np.round(out * 32768).astype("<i2")
    return {"name": name, "rate": rate, "channels": channels, "encoding": encoding,
            "wav": base64.b64encode(wav).decode(), "s16": base64.b64encode(s16.tobytes()).decode()}


def main():
    rng = np.random.default_rng(20261207)
    cases = []
    for rate in (8000, 11025, 12000, 22050, 32000, 44100, 48000, 44056, 16001):
        n = 901 if rate < 30000 else 1801
        cases.append(case(f"noise-{rate}-pcm16", rate, 1, "pcm16", signal(rng, n, rate)))
    cases.append(case("noise-8000-pcm8", 8000, 1, "pcm8", signal(rng, 801, 8000)))
    cases.append(case("noise-8000-ulaw", 8000, 1, "ulaw", signal(rng, 801, 8000)))
    cases.append(case("noise-8000-alaw", 8000, 1, "alaw", signal(rng, 801, 8000)))
    cases.append(case("noise-8000-float", 8000, 1, "float", signal(rng, 801, 8000)))
    cases.append(case("noise-44100-float", 44100, 1, "float", signal(rng, 1801, 44100)))
    cases.append(case("noise-8000-pcm24", 8000, 1, "pcm24", signal(rng, 801, 8000)))
    for n in (1, 7, 20, 33, 40):
        cases.append(case(f"short-{n}-8000-pcm16", 8000, 1, "pcm16", signal(rng, n, 8000)))
    cases.append(case("stereo-8000-pcm16", 8000, 2, "pcm16", signal(rng, 801, 8000, channels=2)))
    # One second of real speech through a phone line.
    src = os.path.join(DEV, "jfk.wav")
    with tempfile.TemporaryDirectory() as d:
        phone = os.path.join(d, "phone.wav")
        subprocess.run(["sox", src, "-r", "8000", "-e", "u-law", "-b", "8", phone, "trim", "1", "1", "sinc", "300-3400"],
                       check=True)
        x = decode_audio(phone, sampling_rate=8000)  # µ-law → s16 exactly, no resampling
    cases.append(case("jfk-phone-8000-ulaw", 8000, 1, "ulaw", x[:, None].astype(np.float64)))
    doc = {"made_by": f"faster-whisper {faster_whisper.__version__} decode_audio (PyAV → libswresample)",
           "script": "Tests/AudioTests/Fixtures/make_resample_fixture.py", "cases": cases}
    with open(os.path.join(HERE, "resample_pyav.json"), "w") as f:
        json.dump(doc, f, indent=0)
    print(f"{len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
