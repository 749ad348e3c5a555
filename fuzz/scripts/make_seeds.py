#!/usr/bin/env python3
"""Builds the seed corpora in fuzz/corpus/<target>/ from the external
conformance material (default: /work/shared/conformance, or $CONFORMANCE_DIR).

The corpora are git-ignored: never commit conformance material. Seeds are
named by the SHA-1 of their content (as libFuzzer does), so re-running this
script is idempotent and adds nothing twice.

Usage: python3 scripts/make_seeds.py [--max-size BYTES] [--max-docs N]
"""
import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent.parent
CONF = Path(os.environ.get("CONFORMANCE_DIR", "/work/shared/conformance"))


def c_unescape(s: str) -> bytes:
    """Decodes the TSV conventions used by the vector files: \\xHH, \\\\, \\t, \\n."""
    out = bytearray()
    i = 0
    b = s.encode("utf-8")
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):
            n = b[i + 1]
            if n == ord("x") and re.fullmatch(rb"[0-9A-Fa-f]{2}", b[i + 2 : i + 4] or b""):
                out.append(int(b[i + 2 : i + 4], 16))
                i += 4
                continue
            if n == 0x5C:
                out.append(0x5C)
                i += 2
                continue
            if n == ord("t"):
                out.append(9)
                i += 2
                continue
            if n == ord("n"):
                out.append(10)
                i += 2
                continue
        out.append(c)
        i += 1
    return bytes(out)


def tsv_rows(path: Path):
    """Yields dicts for the data rows of a vectors.tsv (comments skipped)."""
    if not path.exists():
        print(f"warning: {path} missing", file=sys.stderr)
        return
    header = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if header is None:
            header = cols
            continue
        yield dict(zip(header, cols))


class Corpus:
    def __init__(self, target: str):
        self.dir = FUZZ_DIR / "corpus" / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.added = 0

    def add(self, data: bytes):
        if not data or data in (b"-", b"NONE"):
            return
        name = hashlib.sha1(data).hexdigest()
        p = self.dir / name
        if not p.exists():
            p.write_bytes(data)
            self.added += 1


def identifiers():
    """(value, kind) pairs from the GS1 / DL / EPC vector files."""
    for r in tsv_rows(CONF / "gs1-syntax-engine/vectors.tsv"):
        for k in ("input", "expected"):
            v = r.get(k, "")
            if v and v != "-":
                yield c_unescape(v)
    for r in tsv_rows(CONF / "GS1DigitalLinkToolkit.js/vectors.tsv"):
        for k in ("input", "expected_output"):
            v = r.get(k, "")
            if v and v != "-":
                yield c_unescape(v)
    for r in tsv_rows(CONF / "digital-link.js/vectors.tsv"):
        v = r.get("input", "")
        if v and v != "-":
            yield c_unescape(v)
    for r in tsv_rows(CONF / "epcis-event-hash-generator/vectors.tsv"):
        for k in ("input", "expected_output"):
            v = r.get(k, "")
            if v and v != "-":
                yield c_unescape(v)
    for r in tsv_rows(CONF / "openepcis-epc-digitallink-translator/vectors.tsv"):
        for k in ("input", "expected"):
            v = r.get(k, "")
            if v.startswith(("urn:epc:", "http://", "https://")):
                yield c_unescape(v)


def documents(exts, max_size):
    skip = re.compile(r"(?i)(schema|/XSD/|/XSL/|openapi|context|aitable|REST Bindings)")
    for p in sorted(CONF.rglob("*")):
        if p.suffix.lower() not in exts or not p.is_file():
            continue
        if skip.search(str(p.relative_to(CONF))):
            continue
        if p.stat().st_size > max_size:
            continue
        yield p.read_bytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-size", type=int, default=16384,
                    help="skip documents larger than this (bytes)")
    args = ap.parse_args()
    if not CONF.is_dir():
        sys.exit(f"conformance directory {CONF} not found (set CONFORMANCE_DIR)")

    es, dl = Corpus("element_string"), Corpus("digital_link")
    for v in identifiers():
        es.add(v)
        # Caret notation and bracketed forms are element-string-only seeds;
        # everything URI-shaped also seeds digital_link.
        if v.startswith((b"http", b"HTTP", b"urn:", b"]Q", b"]d")) or b"://" in v:
            dl.add(v[3:] if v.startswith((b"]Q", b"]d")) else v)

    js, xs = Corpus("epcis_json"), Corpus("epcis_xml")
    for d in documents({".json", ".jsonld"}, args.max_size):
        js.add(d)
    for d in documents({".xml"}, args.max_size):
        xs.add(d)

    for c in (es, dl, js, xs):
        total = len(list(c.dir.iterdir()))
        print(f"{c.dir.relative_to(FUZZ_DIR)}: {c.added} new, {total} total")


if __name__ == "__main__":
    main()
