"""The dataset loaders and review cleaning of libattn, checked against plain Python readings.

With the data folder (ATTN_DATA_DIR, or ../shared/data from the project root): every IMDb review
and label equal to Python's own gzip reading, movie ids equal to the .ids files, Multi30k lines
equal to Python's, the by-movie split disjoint in movies, and attn_text_clean equal to a Python
implementation of the same rules on every training review. Without it, the same comparisons on
small generated files. Ends with "N passed, N failed".
"""
import gzip
import os
import random
import re
import sys
import tempfile

from attn import text

passed = failed = 0


def report(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} {what}")


def find_data():
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.environ.get("ATTN_DATA_DIR"), os.path.join(here, "..", "..", "..", "shared", "data"),
              os.path.join(here, "..", "..", "..", "..", "shared", "data")):
        if d and os.path.exists(os.path.join(d, "multi30k", "val.en")):
            return d
    return None


_ENT = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}


def clean_reference(s, br_newline=False):
    """The cleaning rules of attn.h, written with Python's re for this test."""
    s = re.sub(r"<[bB][rR] *(/)?>", "\n" if br_newline else " ", s)

    def ent(m):
        body = m.group(1)
        if body in _ENT:
            return _ENT[body]
        mm = re.fullmatch(r"#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})", body)
        if not mm:
            return m.group(0)
        v = int(mm.group(1), 10) if mm.group(1) else int(mm.group(2), 16)
        if v == 0 or v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            return m.group(0)
        return chr(v)

    s = re.sub(r"&([a-z]+|#[0-9]+|#[xX][0-9a-fA-F]+);", ent, s)
    out = []
    for run in re.split(r"([ \t\n\r\v\f]+)", s):
        if run and run[0] in " \t\n\r\v\f":
            out.append("\n" if (br_newline and "\n" in run) else " ")
        else:
            out.append(run)
    return "".join(out).strip(" \n") if out else ""


def check_clean(reviews, label):
    bad = [r for r in reviews if text.clean(r) != clean_reference(r)]
    badn = [r for r in reviews[:2000] if text.clean(r, br_newline=True) != clean_reference(r, True)]
    for r in (bad + badn)[:2]:
        print(f"     {r[:120]!r}\n       ours {text.clean(r)[:120]!r}\n       ref  {clean_reference(r)[:120]!r}")
    report(not bad and not badn, f"clean = the Python rules on {len(reviews)} {label} "
                                 f"({len(bad)} differ; newline mode {len(badn)} differ)")


def python_tsv(path):
    with gzip.open(path, "rb") as f:
        raw = f.read().decode("utf-8")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(int(l.split("\t", 1)[0]), l.split("\t", 1)[1]) for l in lines]


def test_real(d):
    for split, n in (("train", 25000), ("test", 12505)):
        tsv = os.path.join(d, "imdb", f"{split}.tsv.gz")
        ids = os.path.join(d, "imdb", f"{split}.ids")
        ds = text.load_imdb(tsv, ids)
        py = python_tsv(tsv)
        report(len(ds) == n == len(py), f"IMDb {split}: {len(ds)} reviews")
        report(ds.text == [t for _, t in py] and ds.label == [l for l, _ in py],
               f"IMDb {split}: every text and label equals Python's gzip reading")
        with open(ids, encoding="utf-8") as f:
            rows = [l.rstrip("\n").split("\t") for l in f]
        report(ds.movie == [r[1] for r in rows] and ds.name == [r[0] for r in rows] and
               ds.rating == [int(r[0].split("_")[1]) for r in rows],
               f"IMDb {split}: movie ids, names and ratings equal the .ids file")
        if split == "train":
            check_clean(ds.text, "training reviews")
            val = ds.split_by_movie(0.1, seed=3)
            vm = {m for m, v in zip(ds.movie, val) if v}
            tm = {m for m, v in zip(ds.movie, val) if not v}
            frac = len(vm) / len(vm | tm)
            report(not (vm & tm) and 0.08 < frac < 0.12,
                   f"split_by_movie(0.1): {sum(val)} reviews of {len(vm)} movies held out "
                   f"({frac:.3f} of the movies), no movie on both sides")
            report(val == ds.split_by_movie(0.1, seed=3) and val != ds.split_by_movie(0.1, seed=4),
                   "split_by_movie is deterministic and depends on the seed")
    for split, n in (("train", 29000), ("val", 1014), ("test2016", 1000)):
        en, de = (os.path.join(d, "multi30k", f"{split}.{x}") for x in ("en", "de"))
        src, tgt = text.load_parallel(en, de)
        with open(en, encoding="utf-8", newline="") as f:
            pen = f.read().split("\n")[:-1]
        with open(de, encoding="utf-8", newline="") as f:
            pde = f.read().split("\n")[:-1]
        report(len(src) == n and src == pen and tgt == pde,
               f"Multi30k {split}: {len(src)} pairs equal to Python's line split")


def test_generated():
    rng = random.Random(3)
    words = ["good", "bad", "film", "<br />", "<br/>", "&amp;", "&quot;", "&#39;", "&#x263A;",
             "&bogus;", "&#0;", "é", "\u0085", "\t", "  ", "\n", "x&lt;y", "&#65536;", "<BR >"]
    reviews = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    check_clean(reviews, "generated reviews")
    with tempfile.TemporaryDirectory() as t:
        rows = [(rng.randint(0, 1), " ".join(rng.choice(["a", "ü", "<br />", "x y"]) for _ in range(5)))
                for _ in range(300)]
        p = os.path.join(t, "r.tsv.gz")
        with gzip.open(p, "wb") as f:
            f.write("".join(f"{l}\t{s}\n" for l, s in rows).encode())
        ds = text.load_imdb(p)
        report(ds.text == [s for _, s in rows] and ds.label == [l for l, _ in rows],
               "load_imdb on a generated gzip file equals what was written")
        q = os.path.join(t, "bad.tsv")
        with open(q, "w") as f:
            f.write("0\tok\n7\tno\n")
        try:
            text.load_imdb(q)
            report(False, "a bad label raises")
        except ValueError as e:
            report("bad.tsv:2:" in str(e), f"a bad label raises naming file and line ({e})")


if __name__ == "__main__":
    d = find_data()
    print(f"data folder: {d or 'not found, generated files only'}")
    test_generated()
    if d:
        test_real(d)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
