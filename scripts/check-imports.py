#!/usr/bin/env python3
"""Package.swift tells the truth: every module a target imports is one it declares.

Reads the package with `swift package dump-package` (the manifest as SwiftPM sees it, fuzz
target included when LEPTON_FUZZ=1), collects every `import X` of every Swift file of every
target, and fails when a target imports a module that is neither among its declared
dependencies nor part of the toolchain. It also checks the C-library rule of README: a
system-library target (`C*`) is imported by library code only through the module that wraps
it (listed in WRAPPERS below); tests may import a C library to build hostile inputs.

Usage: python3 scripts/check-imports.py   (exit 1 and one line per problem when it fails)
"""
import json
import os
import re
import subprocess
import sys

# Modules that come with the Swift toolchain (no declaration needed).
TOOLCHAIN = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Darwin",
             "XCTest", "Testing", "Synchronization", "_Concurrency", "Swift", "os"}

# Which library modules may import each C library (the module that wraps it). zlib has two:
# LeptonFiles inflates, LeptonSpeech deflates text for Whisper's compression-ratio test.
WRAPPERS = {
    "CBLAS": {"LeptonEngine", "lepton-bench"},   # the bench times cblas_sgemm itself as the baseline
    "CDNNL": {"LeptonEngine"},
    "CSndFile": {"LeptonAudio"},
    "CSampleRate": {"LeptonAudio"},
    "CPNG": {"LeptonImage", "CPNGShim"},
    "CPNGShim": {"LeptonImage"},
    "CLibXML2": {"LeptonReport"},
    "CSQLite3": {"LeptonDialog"},
    "CZlib": {"LeptonFiles", "LeptonSpeech"},
}

# Modules a product brings besides its own: Yams vendors libyaml as the CYaml module without a
# product of its own, so LeptonDialog's SafeYAML reaches it through the Yams product.
PRODUCT_MODULES = {"Yams": {"CYaml"}}

# Swift imports start a line (an indented `import` is text, e.g. Python inside a string literal).
IMPORT = re.compile(r'^(?:@testable\s+|@_exported\s+|@preconcurrency\s+|@_implementationOnly\s+)*'
                    r'import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)',
                    re.M)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dump = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True,
                                     capture_output=True, text=True).stdout)
    problems = []
    for t in dump["targets"]:
        name, kind = t["name"], t["type"]
        if kind == "system":
            continue
        declared = set()
        for d in t.get("dependencies", []):
            for key in ("byName", "target", "product"):
                if key in d:
                    declared.add(d[key][0])
                    declared |= PRODUCT_MODULES.get(d[key][0], set())
        folder = t.get("path") or os.path.join("Tests" if kind == "test" else "Sources", name)
        exclude = {os.path.normpath(os.path.join(folder, e)) for e in t.get("exclude", [])}
        for dirpath, dirnames, files in os.walk(os.path.join(root, folder)):
            rel = os.path.relpath(dirpath, root)
            if any(rel == e or rel.startswith(e + os.sep) for e in exclude):
                dirnames[:] = []
                continue
            for f in sorted(files):
                if not f.endswith(".swift"):
                    continue
                path = os.path.join(rel, f)
                with open(os.path.join(root, path), encoding="utf-8") as fh:
                    text = fh.read()
                for m in IMPORT.finditer(text):
                    module = m.group(1)
                    line = text.count("\n", 0, m.start()) + 1
                    if module == name or module in TOOLCHAIN:
                        continue
                    if module not in declared:
                        problems.append(f"{path}:{line}: {name} imports {module} but does not declare it in Package.swift")
                    if module in WRAPPERS and kind != "test" and name not in WRAPPERS[module]:
                        problems.append(f"{path}:{line}: {name} imports the C library {module}; "
                                        f"only {', '.join(sorted(WRAPPERS[module]))} may (README: C libraries)")
    for p in problems:
        print(p)
    if problems:
        print(f"check-imports: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check-imports: every import is declared", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
