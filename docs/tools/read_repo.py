#!/usr/bin/env python3
"""A reader of a local wimsnap repository written from docs/repository.md
alone (stdlib and the zstd command), which shows the document complete
(cmd/wimsnap's TestDocReadRepo runs it).
    read_repo.py REPO                 list the snapshots
    read_repo.py REPO SNAP PATH OUT   write the file PATH ("/"-separated) of
                                      snapshot SNAP (an id or prefix) to OUT

Chunks must be stored raw (--compress=none); XPRESS or LZX ones are refused.
"""
import hashlib
import json
import os
import pathlib
import struct
import subprocess
import sys


def is_id(name):
    return len(name) == 64 and set(name) <= set("0123456789abcdef")


def load(repo, key):
    with open(os.path.join(repo, key), "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != os.path.basename(key):
        sys.exit("%s: does not hash to its id" % key)
    return data


def unzstd(data):
    return subprocess.run(["zstd", "-dcq"], input=data, check=True,
                          stdout=subprocess.PIPE).stdout


class Buf:
    def __init__(self, data, magic):
        if not data.startswith(magic):
            sys.exit("bad magic %r" % data[:len(magic)])
        self.d, self.p = data, len(magic)

    def take(self, n):
        b = self.d[self.p:self.p + n]
        if len(b) != n:
            sys.exit("truncated")
        self.p += n
        return b

    def uvarint(self):
        x = shift = 0
        while True:
            b = self.take(1)[0]
            x |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return x


def read_index(repo):
    """Return chunks {id: (pack, offset, stored, raw, codec)} and
    recipes {sha1: (size, kind, data)} from every index object."""
    chunks, recipes = {}, {}
    for name in sorted(filter(is_id, os.listdir(os.path.join(repo, "index")))):
        b = Buf(unzstd(load(repo, "index/" + name)), b"wimsnap index 1\n")
        for _ in range(b.uvarint()):
            pack = b.take(32).hex()
            for _ in range(b.uvarint()):
                cid = b.take(32)
                off, st, raw = b.uvarint(), b.uvarint(), b.uvarint()
                chunks[cid] = (pack, off, st, raw, b.take(1)[0])
        for _ in range(b.uvarint()):
            sha1, size, kind = b.take(20), b.uvarint(), b.take(1)[0]
            if kind == 0:
                n = -(-size // 32768)
                recipes[sha1] = (size, 0, [b.take(32) for _ in range(n)])
            elif kind == 1:
                base, patches, pos = b.take(20), [], -1
                for _ in range(b.uvarint()):
                    pos += 1 + b.uvarint()
                    patches.append((pos, b.take(32)))
                recipes[sha1] = (size, 1, (base, patches))
            else:
                sys.exit("unknown recipe kind %d" % kind)
    return chunks, recipes


def chunk_ids(recipes, sha1):
    size, kind, data = recipes[sha1]
    if kind == 0:
        return data
    base, patches = data
    n = -(-size // 32768)
    ids = (list(chunk_ids(recipes, base)) + [None] * n)[:n]
    for pos, cid in patches:
        ids[pos] = cid
    if None in ids:
        sys.exit("stream %s: base too short" % sha1.hex())
    return ids


def read_stream(repo, chunks, recipes, sha1):
    out = bytearray()
    for cid in chunk_ids(recipes, sha1):
        pack, off, stored, raw, codec = chunks[cid]
        with open(os.path.join(repo, "packs", pack[:2], pack), "rb") as f:
            f.seek(off)
            data = f.read(stored)
        if stored != raw:
            sys.exit("chunk in codec %d: not expanded here" % codec)
        if hashlib.sha256(data).digest() != cid:
            sys.exit("chunk %s: bad data" % cid.hex())
        out += data
    if hashlib.sha1(out).digest() != sha1:
        sys.exit("stream %s: bad data" % sha1.hex())
    return bytes(out)


def check_pack_trailer(repo, chunks, pack):
    """Cross-checks a pack's own trailer against the index."""
    data = load(repo, "packs/%s/%s" % (pack[:2], pack))
    if data[-8:] != b"WSNPACK1":
        sys.exit("pack %s: no magic" % pack)
    (tlen,) = struct.unpack("<I", data[-12:-8])
    b = Buf(unzstd(data[-12 - tlen:-12]), b"wimsnap pack 1\n")
    off = 0
    for _ in range(b.uvarint()):
        cid, stored, raw, _ = b.take(32), b.uvarint(), b.uvarint(), b.take(1)
        if chunks.get(cid, (pack, off, stored, raw))[:4] != (pack, off, stored, raw):
            sys.exit("pack %s: trailer and index disagree" % pack)
        off += stored
    if off != len(data) - 12 - tlen:
        sys.exit("pack %s: trailer does not cover its chunks" % pack)


def dentry(meta, off):
    """Parses the WIM dentry at off: (length, attributes, offset of its
    children, SHA-1 of its data, name, offset of the next dentry)."""
    length, attrs, _, subdir = struct.unpack_from("<QIiQ", meta, off)
    if length == 0:
        return None
    sha1 = meta[off + 64:off + 84]
    nstreams, _, nlen = struct.unpack_from("<HHH", meta, off + 96)
    name = meta[off + 102:off + 102 + nlen].decode("utf-16-le")
    p = off + length + (-length % 8)
    for _ in range(nstreams):  # an unnamed stream entry holds the data
        slen, = struct.unpack_from("<Q", meta, p)
        snlen, = struct.unpack_from("<H", meta, p + 36)
        if snlen == 0 and sha1 == bytes(20):
            sha1 = meta[p + 16:p + 36]
        p += slen + (-slen % 8)
    return length, attrs, subdir, sha1, name, p


def find(meta, path):
    total, = struct.unpack_from("<I", meta, 0)
    d = dentry(meta, total + (-total % 8))  # the root
    for part in [p for p in path.split("/") if p]:
        off = d[2]
        while True:
            d = dentry(meta, off)
            if d is None:
                sys.exit("%s: not found" % path)
            if d[4] == part:
                break
            off = d[5]
    return d[3]


def when(manifest):
    """Sortable: "time" is RFC 3339 UTC, trailing zeros of its fraction dropped."""
    secs, _, frac = manifest["time"].rstrip("Z").partition(".")
    return secs + frac.ljust(9, "0")


def main(argv):
    repo = argv[1]
    config = json.loads(pathlib.Path(repo, "config").read_bytes())
    if config["version"] != 1 or config["chunk_size"] != 32768:
        sys.exit("unsupported repository")
    snaps = {n: json.loads(unzstd(load(repo, "snapshots/" + n)))
             for n in os.listdir(os.path.join(repo, "snapshots")) if is_id(n)}
    if len(argv) == 2:
        for n, m in sorted(snaps.items(), key=lambda s: (when(s[1]), s[0])):
            print(n, m["time"], m.get("kind", "tree"), m["source"],
                  m.get("parent", "-"), ",".join(m.get("tags") or []))
        return
    snap, path, out = argv[2:5]
    [m] = [m for n, m in snaps.items() if n.startswith(snap)]
    chunks, recipes = read_index(repo)
    for pack in sorted({c[0] for c in chunks.values()}):
        check_pack_trailer(repo, chunks, pack)
    sha1 = find(read_stream(repo, chunks, recipes, bytes.fromhex(m["metadata"]["sha1"])), path)
    with open(out, "wb") as f:  # SHA-1 all zeros: an empty file, which has no stream
        f.write(read_stream(repo, chunks, recipes, sha1) if any(sha1) else b"")


if __name__ == "__main__":
    main(sys.argv)
