#!/usr/bin/env python3
"""Make ASR-noisy training sentences for the bank agent's intent model.

Why: the agent hears callers through Whisper tiny.en, which mishears banking words in a
consistent way ("PIN" -> "BIN", "balance" -> "melons", "loan" -> "law"), worst on 8 kHz phone
audio. An intent model trained only on clean text has never seen those forms. This script
speaks our own training sentences with a text-to-speech engine, passes the audio through the
same channels the agent serves (16 kHz, and a G.711 mu-law telephone copy band-passed to
300-3400 Hz), transcribes it with Lepton's own Whisper (`lepton-chat transcribe`), and writes
the transcripts with their intent labels as `text,category` CSV. The train recipe
(samples/bank/train-data.yml) then trains on clean and heard text together.

Tools used at data-making time only (never linked into or shipped with Lepton):
espeak-ng and sox (Debian packages `espeak-ng`, `sox`). Each sentence gets a seeded random
voice, speaking rate, pitch and amplitude.

Input sentences: the examples of samples/bank/nlu.yml (our own text; entity annotations
stripped), and optionally up to --banking77-per-class rows of each BANKING77 class that the
recipe maps to an agent intent. No sentence of ../shared/data/speech is used.

With --audio-only it only speaks: the wideband/phone pairs (FILE.wav, FILE_tel8k.wav, and a
labels.tsv) are kept in --keep-audio for `lepton-chat train-phone-band`.

Usage (from the repository root, after a release build):
  python3 scripts/make-asr-augmentation.py --out samples/bank/asr-heard.csv
  python3 scripts/make-asr-augmentation.py --intents all --voices-per-sentence 1 --seed 50 \
      --audio-only --keep-audio /tmp/phone-pairs
"""
import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

VOICES = ["en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029"]
VARIANTS = [""] + [f"+f{i}" for i in range(1, 6)] + [f"+m{i}" for i in range(1, 8)]

# BANKING77 classes the recipe renames to agent intents (samples/bank/train-data.yml).
BANKING77_MAP = {
    "lost_or_stolen_card": "lost_or_stolen_card", "activate_my_card": "activate_my_card",
    "exchange_rate": "exchange_rate", "change_pin": "change_pin",
    "edit_personal_details": "edit_personal_details",
    "card_payment_not_recognised": "dispute_charge", "transaction_charged_twice": "dispute_charge",
    "extra_charge_on_statement": "dispute_charge",
}


def nlu_examples(path):
    """(text, intent) pairs from a Rasa-style nlu.yml, annotations `[text](entity)` stripped."""
    out, intent, in_examples = [], None, False
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^- intent:\s*(\S+)", line)
        if m:
            intent, in_examples = m.group(1), False
            continue
        if re.match(r"^- ", line):
            intent = None
            continue
        if intent and re.match(r"^\s+examples:\s*\|", line):
            in_examples = True
            continue
        m = re.match(r"^\s+- (.*)$", line)
        if intent and in_examples and m:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).strip()
            text = re.sub(r"\[([^\]]*)\]\{[^}]*\}", r"\1", text)
            if text:
                out.append((text, intent))
    return out


def banking77_rows(path, per_class, rng):
    by_class = {}
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["category"] in BANKING77_MAP:
                by_class.setdefault(row["category"], []).append(row["text"])
    out = []
    for cls in sorted(by_class):
        rows = by_class[cls]
        rng.shuffle(rows)
        out += [(t, BANKING77_MAP[cls]) for t in rows[:per_class]]
    return out


def asr_prompt(domain):
    """`settings.asr_prompt` of a domain file (a one-line quoted YAML string), or None."""
    for line in open(domain, encoding="utf-8"):
        m = re.match(r'^\s+asr_prompt:\s*"(.*)"\s*$', line)
        if m:
            return m.group(1)
    return None


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def write_labels(folder, jobs):
    """labels.tsv of a kept-audio folder: file TAB intent TAB text, one row per wideband clip."""
    with open(os.path.join(folder, "labels.tsv"), "w", encoding="utf-8") as f:
        for wav, intent, text, desc in jobs:
            if not wav.endswith("_tel8k.wav"):
                f.write(f"{os.path.basename(wav)}\t{intent}\t{text}\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nlu", default=os.path.join(root, "samples/bank/nlu.yml"))
    ap.add_argument("--banking77", default=os.path.join(root, "../shared/data/banking77/train.csv"))
    ap.add_argument("--banking77-per-class", type=int, default=12)
    ap.add_argument("--intents", default="check_balance,transfer_money,lost_or_stolen_card,activate_my_card,"
                    "open_account,exchange_rate,dispute_charge,change_pin,loan_enquiry,speak_to_agent,"
                    "recent_transactions,edit_personal_details",
                    help="nlu.yml intents to speak (comma-separated; `all`: every intent of the file)")
    ap.add_argument("--voices-per-sentence", type=int, default=2)
    ap.add_argument("--domain", default=os.path.join(root, "samples/bank/domain.yml"),
                    help="the agent's domain: its settings.asr_prompt is the recognizer's prompt, as in `respond`")
    ap.add_argument("--lepton-chat", default=os.path.join(root, ".build/release/lepton-chat"))
    ap.add_argument("--corpus", help="sentences whose language model the recognizer fuses into its search "
                    "(`lepton-chat transcribe --corpus`, e.g. samples/bank/model/asr-corpus.txt); default: none")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-audio", help="keep the WAV files in this folder, with a labels.tsv (file, intent, "
                    "text; as ../shared/data/speech/bank-dev's) that scripts/eval-bank-calls.py reads")
    ap.add_argument("--audio-only", action="store_true",
                    help="only speak the sentences into --keep-audio (no transcription, no --out): e.g. the "
                    "wideband/phone pairs that `lepton-chat train-phone-band` learns from")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.audio_only and not a.keep_audio:
        sys.exit("make-asr-augmentation: --audio-only needs --keep-audio DIR")
    if not a.audio_only and not a.out:
        sys.exit("make-asr-augmentation: --out FILE is required (or --audio-only --keep-audio DIR)")
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            sys.exit(f"make-asr-augmentation: `{tool}` not found (apt-get install espeak-ng sox)")
    rng = random.Random(a.seed)
    wanted = set(a.intents.split(","))
    sentences = [s for s in nlu_examples(a.nlu) if s[1] in wanted or a.intents == "all"]
    if a.banking77_per_class > 0 and os.path.exists(a.banking77):
        sentences += banking77_rows(a.banking77, a.banking77_per_class, rng)
    work = a.keep_audio or tempfile.mkdtemp(prefix="lepton-asr-aug-")
    os.makedirs(work, exist_ok=True)
    jobs = []  # (wav path, intent, clean text, voice description)
    for i, (text, intent) in enumerate(sentences):
        for v in range(a.voices_per_sentence):
            voice = rng.choice(VOICES) + rng.choice(VARIANTS)
            rate, pitch, amp = rng.randint(135, 180), rng.randint(30, 70), rng.randint(50, 90)
            base = os.path.join(work, f"s{i:04d}v{v}")
            raw = base + "_raw.wav"
            run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-a", str(amp), "-w", raw, text])
            wide = base + ".wav"
            run(["sox", "-R", raw, "-r", "16000", "-c", "1", "-b", "16", wide, "pad", "0.3", "0.5"])
            tel = base + "_tel8k.wav"
            run(["sox", "-R", wide, "-r", "8000", "-c", "1", "-e", "mu-law", tel, "sinc", "300-3400"])
            os.remove(raw)
            desc = f"{voice} {rate}wpm p{pitch} a{amp}"
            jobs += [(wide, intent, text, desc), (tel, intent, text, desc + " tel8k")]
        if (i + 1) % 50 == 0:
            print(f"spoken {i + 1}/{len(sentences)}", file=sys.stderr)
    if a.audio_only:
        write_labels(work, jobs)
        print(f"spoke {len(sentences)} sentences into {work} ({len(jobs)} clips)", file=sys.stderr)
        return
    outdir = os.path.join(work, "json")
    os.makedirs(outdir, exist_ok=True)
    prompt = asr_prompt(a.domain)
    print(f"transcribing {len(jobs)} files with {a.lepton_chat} (prompt: {prompt!r})", file=sys.stderr)
    subprocess.run([a.lepton_chat, "transcribe", "-q", "-f", "json", "-o", outdir, "--threads", str(a.threads)]
                   + (["--prompt", prompt] if prompt else []) + (["--corpus", a.corpus] if a.corpus else [])
                   + [j[0] for j in jobs], check=True)
    rows, seen = [], set()
    for wav, intent, text, desc in jobs:
        name = os.path.splitext(os.path.basename(wav))[0] + ".json"
        with open(os.path.join(outdir, name), encoding="utf-8") as f:
            heard = json.load(f)["text"].strip()
        key = (heard.lower(), intent)
        if heard and key not in seen:
            seen.add(key)
            rows.append((heard, intent))
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "category"])
        w.writerows(rows)
    os.replace(tmp, a.out)
    if a.keep_audio:
        write_labels(work, jobs)
    if not a.keep_audio:
        shutil.rmtree(work)
    print(f"wrote {len(rows)} heard sentences ({len(jobs)} clips of {len(sentences)} sentences) to {a.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
