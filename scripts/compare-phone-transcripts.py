#!/usr/bin/env python3
"""8 kHz phone audio: word errors of lepton-chat builds beside faster-whisper on the same files.

Sets (each file with its reference text):
  real-C the 7 real recordings of ../shared/data/speech/dev (37 s, 89 words, 5 speakers) sent
         through a phone channel C here (sox, band 300-3400 Hz, 8 kHz): ulaw, alaw, gsm (GSM
         06.10 then µ-law) and noisy-ulaw (white noise 30 dB down);
  bank   the 20 phone copies (NAME_tel8k.wav) of ../shared/data/speech/bank-dev, synthetic
         espeak-ng voices made by the project (they resemble the agent's own material).
Each lepton-chat binary runs `transcribe -f json` with its defaults (beam 5, temperature
fallback: faster-whisper's defaults); faster-whisper 1.2.1 runs transcribe(beam_size=5) on the
same file with the same CTranslate2 model. WER uses the normaliser of ../shared/bench/asr_peer.py.
Prints a JSON line per (set, system): words, errors, WER and how many transcripts are identical to
faster-whisper's.

Usage: python3 scripts/compare-phone-transcripts.py [--also "ARGS"]... BINARY [BINARY ...]
       (e.g. .build/release/lepton-chat /work/bench-base/lepton-chat)
  --also ARGS  for every binary, one more system that adds ARGS to transcribe
               (e.g. --also "--phone-band-map samples/bank/phone-band.safetensors")
faster-whisper runs with one thread: with two, its transcripts of these files change from run to
run (measured: 99 and 102 errors on the bank set), ours do not.
"""
import json, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "speech")
MODEL = os.path.expanduser(os.environ.get("LEPTON_MODELS", "~/.cache/lepton/models")) + "/whisper-tiny.en"


def normalise(text):
    text = "".join(c if c.isalnum() or c in "' " else " " for c in text.lower())
    return " ".join(text.split())


def edits(ref, hyp):
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
    return d[len(h)], len(r)


# Phone channels the real recordings are sent through: G.711 µ-law and A-law, GSM 06.10 (a
# mobile codec, back to 8 kHz µ-law as a recorder would store it), and µ-law with line noise.
CHANNELS = {
    "ulaw": ["-e", "u-law", "-b", "8"],
    "alaw": ["-e", "a-law", "-b", "8"],
    "gsm": None,
    "noisy-ulaw": None,
}


def phone_copy(src, out, channel, tmp):
    band = ["sinc", "300-3400"]
    if channel in ("ulaw", "alaw"):
        subprocess.run(["sox", "-D", src, "-r", "8000", *CHANNELS[channel], out, *band], check=True)
    elif channel == "gsm":
        gsm = out + ".gsm"
        subprocess.run(["sox", "-D", src, "-r", "8000", "-c", "1", gsm, *band], check=True)
        subprocess.run(["sox", "-D", gsm, "-e", "u-law", "-b", "8", out], check=True)
        os.remove(gsm)
    else:  # white noise 30 dB below full scale under the speech, seeded
        clean = out + ".clean.wav"
        noise = out + ".noise.wav"
        subprocess.run(["sox", "-D", src, "-r", "8000", "-b", "16", clean, *band], check=True)
        length = subprocess.run(["soxi", "-D", clean], check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run(["sox", "-D", "-R", "-n", "-r", "8000", "-b", "16", "-c", "1", noise, "synth", length,
                        "whitenoise", "vol", "0.03", *band], check=True)
        subprocess.run(["sox", "-D", "-m", clean, noise, "-e", "u-law", "-b", "8", out], check=True)
        os.remove(clean)
        os.remove(noise)


def phone_sets(tmp):
    sets = {}
    for channel in CHANNELS:
        items = []
        for line in open(os.path.join(SHARED, "dev", "transcripts.tsv")):
            name, text = line.rstrip("\n").split("\t")[:2]
            out = os.path.join(tmp, f"{name[:-4]}_{channel}.wav")
            phone_copy(os.path.join(SHARED, "dev", name), out, channel, tmp)
            items.append((out, text))
        sets[f"real-{channel}"] = items
    bank = []
    for line in open(os.path.join(SHARED, "bank-dev", "labels.tsv")):
        cols = line.rstrip("\n").split("\t")
        bank.append((os.path.join(SHARED, "bank-dev", cols[0].replace(".wav", "_tel8k.wav")), cols[-1]))
    sets["bank"] = bank
    return sets


def lepton(binary, files, extra=()):
    out = subprocess.run([binary, "transcribe", "-q", "-f", "json", *extra, *files], check=True, capture_output=True,
                         text=True).stdout
    texts = {}
    for line in out.splitlines():
        if line.strip():
            obj = json.loads(line)
            texts[obj["file"]] = obj["text"]
    return [texts[f] for f in files]


def faster_whisper(files):
    from faster_whisper import WhisperModel
    model = WhisperModel(MODEL, device="cpu", compute_type="float32", cpu_threads=1)
    result = []
    for f in files:
        segments, _ = model.transcribe(f, beam_size=5)
        result.append("".join(s.text for s in segments))
    return result


def main():
    args, also, binaries = sys.argv[1:], [], []
    while args:
        a = args.pop(0)
        if a == "--also" and args:
            also.append(args.pop(0).split())
        else:
            binaries.append(a)
    if not binaries:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    with tempfile.TemporaryDirectory() as tmp:
        for set_name, items in phone_sets(tmp).items():
            files = [f for f, _ in items]
            refs = [normalise(t) for _, t in items]
            peer = [normalise(t) for t in faster_whisper(files)]
            systems = [("faster-whisper", peer)]
            for b in binaries:
                for extra in [[]] + also:
                    name = " ".join([b] + extra)
                    systems.append((name, [normalise(t) for t in lepton(b, files, extra)]))
            for name, hyps in systems:
                errors = words = 0
                for ref, hyp in zip(refs, hyps):
                    e, n = edits(ref, hyp)
                    errors += e
                    words += n
                same = sum(h == p for h, p in zip(hyps, peer))
                print(json.dumps({"set": set_name, "system": name, "files": len(files), "words": words,
                                  "errors": errors, "wer": round(errors / words, 4),
                                  "same_as_faster_whisper": same}))


if __name__ == "__main__":
    main()
