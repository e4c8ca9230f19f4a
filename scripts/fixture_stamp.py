"""The command line and cache stamp shared by the PyTorch fixture makers (make-robust-fixtures.py,
make-resnet-fixtures.py): --out DIR and --force, and DIR/.complete naming the maker's version so
that an up-to-date folder is not made again."""
import argparse
import os


def fixture_folder(doc, default_out, version, what):
    """Parses --out/--force; returns the folder to write, or None when it already holds `version`."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    stamp = os.path.join(args.out, ".complete")
    if not args.force and os.path.exists(stamp) and open(stamp).read().strip() == version:
        print(f"{what} fixtures up to date in {args.out}")
        return None
    os.makedirs(args.out, exist_ok=True)
    return args.out


def mark_complete(out, version):
    with open(os.path.join(out, ".complete"), "w") as fh:
        fh.write(version + "\n")
