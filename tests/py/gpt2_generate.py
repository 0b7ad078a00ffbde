"""`attn generate --model DIR` (and `attn viz`) on a Hugging Face GPT-2 directory against PyTorch.

usage: gpt2_generate.py ATTN_BINARY   (run by scripts/test.d/lm.sh)

A GPT-2-architecture model with random weights (test_gpt2_hf.py's float64 GPT-2 and its writer of
Hugging Face's names and Conv1D layout) is saved with a small byte-level BPE (the 256 byte tokens
in GPT-2's byte alphabet + merges learned here from a few sentences) as vocab.json + merges.txt,
and as encoder.json + vocab.bpe in a second directory. The prompt is encoded here by GPT-2's BPE
(pattern split, then merges by rank, written from the algorithm), greedy-decoded by PyTorch in
float64 (full forward each step), and the decoded bytes must equal what
`attn generate --model DIR --prompt P --temperature 0` prints (key/value cache, float32). Then
`attn viz --model DIR` must give one causal map per layer and head over the prompt's tokens.
Ends with "N passed, N failed".
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_gpt2_hf import BASE, gpt2_forward, random_weights, save_hf  # noqa: E402

passed = failed = 0


def report(name, ok, detail):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


def bytes_to_unicode():
    """GPT-2's byte alphabet: printable bytes as themselves, the other 68 from U+0100 on."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
# GPT-2's split pattern with ASCII classes (the prompt and training text are ASCII)
PAT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def learn_merges(text, n):
    """n merges, each the most frequent adjacent pair (ties: the first seen) within the pieces."""
    words = [[B2U[b] for b in p.encode()] for p in PAT.findall(text)]
    merges = []
    for _ in range(n):
        count = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                count[(a, b)] = count.get((a, b), 0) + 1
        if not count:
            break
        best = max(count, key=lambda k: count[k])
        merges.append(best)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [w[i] + w[i + 1]]
                i += 1
    return merges


def encode(text, vocab, ranks):
    ids = []
    for piece in PAT.findall(text):
        w = [B2U[b] for b in piece.encode()]
        while len(w) > 1:
            pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(w, w[1:]))]
            r, _ = min(pairs)
            if r == 1 << 30:
                break
            pair = next((w[i], w[i + 1]) for rr, i in pairs if rr == r)
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == pair:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        ids += [vocab[t] for t in w]
    return ids


def main():
    attn_bin = sys.argv[1]
    cfg = dict(BASE)
    V = cfg["vocab_size"]  # 300: 256 bytes + 44 merges
    text = ("First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. "
            "First Citizen: You are all resolved rather to die than to famish? All: Resolved. resolved. "
            "the theatre then there these those other mother brother 1234 12 34 ...")
    merges = learn_merges(text, V - 256)
    vocab = {B2U[b]: i for i, b in enumerate(sorted(B2U, key=lambda b: ord(B2U[b])))}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    ranks = {m: i for i, m in enumerate(merges)}
    inv = {i: t for t, i in vocab.items()}
    U2B = {u: b for b, u in B2U.items()}
    prompt = "First Citizen: the other"
    pids = encode(prompt, vocab, ranks)
    report("the prompt uses merged tokens", len(pids) < len(prompt.encode()) and len(vocab) == V,
           f"{len(pids)} tokens for {len(prompt)} bytes, vocabulary {len(vocab)}")
    W = random_weights(cfg, torch.Generator().manual_seed(5))
    n_new = 24
    seq = list(pids)
    margin = float("inf")
    for _ in range(n_new):
        lt = gpt2_forward(W, cfg, torch.tensor([seq]))[0, -1]
        top2 = torch.sort(lt).values[-2:]
        margin = min(margin, float(top2[1] - top2[0]))
        seq.append(int(torch.argmax(lt)))
    want = bytes(U2B[c] for i in seq[len(pids):] for c in inv[i])
    with tempfile.TemporaryDirectory() as tmp:
        for label, vname, mname in (("vocab.json + merges.txt", "vocab.json", "merges.txt"),
                                    ("encoder.json + vocab.bpe", "encoder.json", "vocab.bpe")):
            d = os.path.join(tmp, vname.split(".")[0])
            save_hf(d, cfg, W)
            with open(os.path.join(d, vname), "w", encoding="utf-8") as f:
                json.dump(vocab, f, ensure_ascii=False)
            with open(os.path.join(d, mname), "w", encoding="utf-8") as f:
                f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
            r = subprocess.run([attn_bin, "generate", "--model", d, "--prompt", prompt, "--temperature", "0",
                                "--max-new", str(n_new), "--threads", "1"], capture_output=True)
            got = r.stdout
            exp = prompt.encode() + want + b"\n"
            report(f"{label}: attn generate --temperature 0 = PyTorch float64 greedy ({n_new} tokens)",
                   r.returncode == 0 and got == exp,
                   f"{'same' if got == exp else 'differs'}: {got[len(prompt):-1]!r} vs {want!r}; "
                   f"{len(set(seq[len(pids):]))} distinct tokens; smallest top-2 logit gap {margin:.2e}; "
                   f"{r.stderr.decode(errors='replace').strip()[:200]}")
        # attn viz on the directory: one causal map per layer and head over the prompt's BPE tokens
        d = os.path.join(tmp, "vocab")
        r = subprocess.run([attn_bin, "viz", "--model", d, "--input", prompt, "--out", os.path.join(tmp, "viz")],
                           capture_output=True)
        ok, detail = r.returncode == 0, r.stderr.decode(errors="replace").strip()[:200]
        if ok:
            with open(os.path.join(tmp, "viz", "attention.json"), encoding="utf-8") as f:
                js = json.load(f)
            n = len(pids)
            ok = (len(js["maps"]) == cfg["n_layer"] * cfg["n_head"] and len(js["target"]) == n and
                  all(m["rows"] == n == m["cols"] and all(v == 0 for i, row in enumerate(m["weights"]) for v in row[i + 1:])
                      for m in js["maps"]))
            detail = f"{len(js['maps'])} maps over tokens {js['target']}"
        report("attn viz --model DIR: causal maps over the BPE tokens", ok, detail)
        # a BPE vocabulary larger than the model is refused
        d = os.path.join(tmp, "vocab")
        big = dict(vocab, **{f"extra{i}": V + i for i in range(3)})
        with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(big, f, ensure_ascii=False)
        r = subprocess.run([attn_bin, "generate", "--model", d, "--prompt", prompt, "--greedy"], capture_output=True)
        report("a tokenizer with more tokens than the model is refused", r.returncode == 1 and
               b"tokens, the model" in r.stderr, r.stderr.decode(errors="replace").strip()[:200])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
