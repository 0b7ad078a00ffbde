"""BLEU, chrF, the 13a tokeniser and text cleaning of libattn (python/attn/text.py).

Checks, one line each, ending with "N passed, N failed":
  * corpus BLEU on pre-tokenised text against NLTK's corpus_bleu: n-gram statistics (clipped
    matches and totals per order, hypothesis and closest reference lengths) and scores, on
    random corpora with one and several references (hypotheses of at least 4 tokens: NLTK
    counts a shorter one as one n-gram in the denominator where sacreBLEU counts none);
  * the 13a tokeniser on cases worked out by hand from the mteval-v13a rules, and against an
    independent re-based implementation of those rules on random strings;
  * lowercasing against Python's str.lower over the Basic Multilingual Plane and beyond;
  * BLEU values computable by hand (perfect match, no 4-gram match with and without
    smoothing, brevity penalty, closest reference length) and sacreBLEU's documented example;
  * chrF on hand-computable cases, on sacreBLEU's documented examples, and against a
    straightforward Python implementation written here, on random corpora;
  * text cleaning and UTF-8 validation.
"""
import math
import random
import re
import sys
import warnings
from collections import Counter
from fractions import Fraction

from attn import text

try:
    from nltk.translate import bleu_score as nltk_bleu
except ImportError:  # pragma: no cover
    nltk_bleu = None

passed = failed = 0


def report(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} {what}")


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# ---- NLTK agreement ------------------------------------------------------------------------

WORDS = ["the", "a", "dog", "cat", "runs", "sits", "on", "mat", "in", "park", "Grüße", "über",
         "Hund", "läuft", "big", "small"]


def random_corpus(rng, n, n_refs, vocab):
    hyps, refs = [], [[] for _ in range(n_refs)]
    for _ in range(n):
        base = [rng.choice(vocab) for _ in range(rng.randint(4, 18))]
        hyp = list(base)
        for _ in range(rng.randint(0, 4)):  # perturb: substitute, drop or insert
            k = rng.randrange(len(hyp))
            op = rng.random()
            if op < 0.5:
                hyp[k] = rng.choice(vocab)
            elif op < 0.75 and len(hyp) > 4:
                del hyp[k]
            else:
                hyp.insert(k, rng.choice(vocab))
        hyps.append(hyp)
        for r in range(n_refs):
            ref = list(base)
            if r:
                for _ in range(rng.randint(0, 3)):
                    ref[rng.randrange(len(ref))] = rng.choice(vocab)
                if rng.random() < 0.5:
                    ref = ref[: max(1, len(ref) - rng.randint(0, 3))]
            refs[r].append(ref)
    return hyps, refs


def nltk_stats(hyps, refs):
    """Clipped matches and totals per order, hyp and closest ref length, via NLTK's helpers."""
    matches, totals = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for i, h in enumerate(hyps):
        rs = [r[i] for r in refs]
        for n in range(1, 5):
            p = nltk_bleu.modified_precision(rs, h, n)
            matches[n - 1] += p.numerator
            totals[n - 1] += p.denominator
        hyp_len += len(h)
        ref_len += nltk_bleu.closest_ref_length(rs, len(h))
    return matches, totals, hyp_len, ref_len


def test_nltk():
    if nltk_bleu is None:
        report(False, "NLTK is not installed (Debian python3-nltk)")
        return
    rng = random.Random(1234)
    worst_score = worst_zero = 0.0
    stats_ok = scores_ok = zero_ok = True
    n_scored = n_zero = 0
    for trial in range(200):
        n_refs = 1 + trial % 3
        vocab = WORDS[: rng.choice([4, 6, 10, 16])]
        if trial < 150:
            hyps, refs = random_corpus(rng, rng.randint(1, 12), n_refs, vocab)
        else:  # short unrelated sentences: higher orders often have no match
            hyps, refs = random_corpus(rng, rng.randint(1, 3), n_refs, WORDS)
            hyps = [[rng.choice(WORDS) for _ in range(rng.randint(4, 6))] for _ in hyps]
        ours = text.bleu([" ".join(h) for h in hyps], [[" ".join(x) for x in r] for r in refs],
                         tokenize="none", smooth="none")
        m, t, hl, rl = nltk_stats(hyps, refs)
        # modified_precision returns unnormalised Fractions: numerator/denominator are counts.
        if (ours["matches"], ours["totals"], ours["hyp_len"], ours["ref_len"]) != (m, t, hl, rl):
            stats_ok = False
            print(f"     trial {trial}: ours {ours['matches']} {ours['totals']} "
                  f"{ours['hyp_len']} {ours['ref_len']} nltk {m} {t} {hl} {rl}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_lists = [[r[i] for r in refs] for i in range(len(hyps))]
            theirs = 100.0 * nltk_bleu.corpus_bleu(ref_lists, hyps)
        if min(m) > 0:
            n_scored += 1
            d = abs(ours["score"] - theirs) / max(theirs, 1e-300)
            worst_score = max(worst_score, d)
            scores_ok &= d < 1e-12
        else:
            n_zero += 1
            worst_zero = max(worst_zero, abs(ours["score"] - theirs))
            zero_ok &= ours["score"] == 0.0 and theirs < 1e-60
    report(stats_ok, "NLTK: clipped matches, totals, hyp_len and closest ref_len equal on "
                     "200 random corpora (1-3 references)")
    report(scores_ok and n_scored > 50,
           f"NLTK: corpus BLEU equal on the {n_scored} corpora with a match at every order "
           f"(max relative difference {worst_score:.1e})")
    report(zero_ok and n_zero > 5,
           f"NLTK: corpus BLEU 0 (smooth='none') where an order has no match, {n_zero} corpora "
           f"(NLTK gives {worst_zero:.1e} at most)")

    # End to end: raw strings through our 13a against NLTK on the tokens of the rules below.
    rng = random.Random(99)
    worst = 0.0
    ok = True
    for trial in range(40):
        sents = [random_text(rng, 40) for _ in range(rng.randint(2, 8))]
        hyps = [s if rng.random() < 0.3 else mutate(rng, s) for s in sents]
        ht = [tok13a_reference(h).split() for h in hyps]
        rt = [tok13a_reference(s).split() for s in sents]
        if min(len(x) for x in ht) < 4:
            continue
        ours = text.bleu(hyps, [sents], smooth="none")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = 100.0 * nltk_bleu.corpus_bleu([[r] for r in rt], ht)
        worst = max(worst, abs(ours["score"] - theirs))
        ok &= close(ours["score"], theirs, 1e-12) or (ours["score"] == 0 and theirs < 1e-60)
    report(ok, f"NLTK on 13a tokens of raw random text = our BLEU on the raw text "
               f"(max abs difference {worst:.1e})")


# ---- the 13a tokeniser ---------------------------------------------------------------------

def tok13a_reference(line):
    """mteval-v13a as sacreBLEU documents it, with Python's re (written for this test)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        for a, b in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
            line = line.replace(a, b)
    line = f" {line} "
    line = re.sub(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", line)
    line = re.sub(r"([^0-9])([\.,])", r"\1 \2 ", line)
    line = re.sub(r"([\.,])([^0-9])", r" \1 \2", line)
    line = re.sub(r"([0-9])(-)", r"\1 \2 ", line)
    return " ".join(line.split())


ALPHABET = (list("abcXYZ0123456789") * 3 + list(".,-'\"&;:/()[]{}!?<>@#$%^_`|~+*=\\") +
            [" ", " ", " ", "\t", "\n", "\u00a0", "\u2009", "\u200b", "\u0085", "ä", "ß", "€",
             "😀", "&quot;", "&amp;", "&lt;", "&gt;", "<skipped>", "-\n", "e.g.", "3.14", "1,000"])


def random_text(rng, n):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n)))


def mutate(rng, s):
    chars = list(s)
    for _ in range(rng.randint(1, 4)):
        if chars:
            chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
    return "".join(chars)


TOK_CASES = [
    ("Hello, world!", "Hello , world !"),
    ("It's 3.14 and 1,000.", "It's 3.14 and 1,000 ."),
    ("a 5-6 split, well-known -5 x-5", "a 5 - 6 split , well-known -5 x-5"),
    ("&quot;Quoted&quot; &amp; &lt;tag&gt;", '" Quoted " & < tag >'),
    ("&amp;quot;", "& quot ;"),  # &quot; is replaced before &amp;: one level decoded only
    ("e.g. U.S.A.", "e . g . U . S . A ."),
    ("$5.00 (approx.)", "$ 5.00 ( approx . )"),
    ("<skipped> text", "text"),
    ("end-\nof line\nnext", "endof line next"),
    ("a/b @c #d [e] {f} ~g|h", "a / b @ c # d [ e ] { f } ~ g | h"),
    ("don't stop", "don't stop"),
    ("10,5% of 2.5", "10,5 % of 2.5"),
    ("Hi.Bye,x", "Hi . Bye , x"),
    ("Straße, München.", "Straße , München ."),
    ("a\u00a0b\u2009c\u200bd", "a b c\u200bd"),  # NBSP and thin space split, zero-width not
    ("  many   spaces\t\there  ", "many spaces here"),
    ("1.2.3 4,5,6 7-8-9", "1.2.3 4,5,6 7 - 8 - 9"),
    ("x..y", "x . . y"),
    ("", ""),
]


def test_tokenizer():
    bad = [(s, e, text.tokenize(s)) for s, e in TOK_CASES if text.tokenize(s) != e]
    for s, e, got in bad:
        print(f"     {s!r}: expected {e!r}, got {got!r}")
    report(not bad, f"13a: {len(TOK_CASES) - len(bad)}/{len(TOK_CASES)} hand-worked cases")
    ref_ok = all(tok13a_reference(s) == e for s, e in TOK_CASES)
    report(ref_ok, "13a: the test's own re-based reference agrees with the hand-worked cases")
    rng = random.Random(7)
    mism = []
    for _ in range(3000):
        s = random_text(rng, 60)
        if text.tokenize(s) != tok13a_reference(s):
            mism.append(s)
    for s in mism[:3]:
        print(f"     {s!r}: ours {text.tokenize(s)!r} reference {tok13a_reference(s)!r}")
    report(not mism, f"13a: equal to the re-based reference on 3000 random strings "
                     f"({len(mism)} differ)")
    report(text.tokenize("Ä B.", lowercase=True) == "ä b .", "13a + lowercase")
    report(text.tokenize("  a \u3000 b\n", tokenize="none") == "a b", "'none' splits on whitespace")


def test_lowercase():
    cps = [c for c in range(0x21, 0x30000)
           if not (0xD800 <= c <= 0xDFFF) and not chr(c).isspace()]
    s = " ".join(chr(c) for c in cps)
    # Final sigma is contextual in str.lower; alone between spaces, Σ lowercases to σ anyway.
    ours = text.tokenize(s, tokenize="none", lowercase=True)
    theirs = " ".join(s.lower().split())
    diff = [c for c, a, b in zip(cps, ours.split(" "), theirs.split(" ")) if a != b]
    report(ours == theirs, f"lowercase = str.lower on {len(cps)} code points U+0021..U+2FFFF "
                           f"({len(diff)} differ)")


# ---- BLEU by hand --------------------------------------------------------------------------

def test_bleu_hand():
    r = text.bleu(["the cat sat on the mat"], [["the cat sat on the mat"]])
    report(close(r["score"], 100.0, 1e-14) and r["bp"] == 1.0 and r["matches"] == r["totals"],
           f"perfect match: BLEU {r['score']!r} (exp of log 100 in floating point)")

    # hyp w1 w2 w3 w4 vs ref w1 w2 w3 w5: matches 3/4, 2/3, 1/2, 0/1.
    r = text.bleu(["w1 w2 w3 w4"], [["w1 w2 w3 w5"]], smooth="none")
    report(r["matches"] == [3, 2, 1, 0] and r["totals"] == [4, 3, 2, 1] and r["score"] == 0.0,
           "no 4-gram match, no smoothing: BLEU 0 with statistics 3/4 2/3 1/2 0/1")
    r = text.bleu(["w1 w2 w3 w4"], [["w1 w2 w3 w5"]])
    want = math.exp((math.log(75.0) + math.log(200.0 / 3) + math.log(50.0) + math.log(50.0)) / 4)
    report(close(r["score"], want, 1e-12),
           f"no 4-gram match, exp smoothing: 4-gram precision 1/(2·1) → {r['score']:.6f} "
           f"(hand {want:.6f})")
    r = text.bleu(["a b c d e"], [["a x c y e"]])  # no bigram or longer matches
    want = math.exp((math.log(60.0) + math.log(100 / (2 * 4)) + math.log(100 / (4 * 3)) +
                     math.log(100 / (8 * 2))) / 4)
    report(close(r["score"], want, 1e-12), f"exp smoothing doubles per unmatched order: "
                                           f"{r['score']:.6f} (hand {want:.6f})")
    r = text.bleu(["p q r s"], [["w x y z"]])
    report(r["score"] == 0.0, "no match at all: BLEU 0 even with smoothing")

    r = text.bleu(["a b c d"], [["a b c d e f"]])
    want = 100.0 * math.exp(1 - 6 / 4)
    report(close(r["bp"], math.exp(-0.5), 1e-15) and close(r["score"], want, 1e-12),
           f"brevity penalty exp(1 - 6/4) = {r['bp']:.6f}, BLEU {r['score']:.6f}")
    r = text.bleu(["a b c d e"], [["a b c d"], ["a b c d e f"]])
    report(r["ref_len"] == 4, "closest reference length: tie between 4 and 6 → the shorter (4)")
    r = text.bleu(["a b c d e"], [["a b c d e f g"], ["a b c d e f"]])
    report(r["ref_len"] == 6, "closest reference length: 6 of (7, 6) for a 5-token hypothesis")
    r = text.bleu(["the the the the the the the"], [["the cat is on the mat"]])
    report(r["matches"][0] == 2 and r["totals"][0] == 7, "unigram counts are clipped (2/7)")
    r = text.bleu(["The Cat sat"], [["the cat sat"]])
    rl = text.bleu(["The Cat sat"], [["the cat sat"]], lowercase=True)
    report(r["matches"][0] == 1 and rl["matches"][0] == 3, "cased by default; lowercase option")

    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
    sys_ = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    r = text.bleu(sys_, refs)
    prec = [round(p, 1) for p in r["precisions"]]
    report(round(r["score"], 2) == 48.53 and prec == [82.4, 50.0, 45.5, 37.5] and
           round(r["bp"], 3) == 0.943 and r["hyp_len"] == 17 and r["ref_len"] == 18,
           f"sacreBLEU's README example: BLEU {r['score']:.2f} {prec} BP {r['bp']:.3f} "
           f"hyp_len {r['hyp_len']} ref_len {r['ref_len']} (documented 48.53 82.4/50.0/45.5/37.5 "
           f"BP 0.943 17/18)")
    c = text.chrf(sys_, refs)
    report(round(c["score"], 2) == 59.73, f"sacreBLEU's README example: chrF {c['score']:.2f} "
                                          f"(documented 59.73)")
    again = text.bleu_from_counts(r["matches"], r["totals"], r["hyp_len"], r["ref_len"])
    report(again["score"] == r["score"], "bleu_from_counts reproduces the score from the counts")

    errs = 0
    for args in ((["a"], [["a", "b"]]), ([], [[]])):
        try:
            text.bleu(*args)
        except ValueError:
            errs += 1
    try:
        text.bleu([b"\xff"], [["x"]])
    except ValueError as e:
        errs += "hyps[0]" in str(e) and "UTF-8" in str(e)
    report(errs == 3, "mismatched lengths, empty corpus and invalid UTF-8 raise ValueError")


# ---- chrF ----------------------------------------------------------------------------------

def chrf_reference(hyps, refs, order=6, beta=2.0):
    """chrF as sacreBLEU's CHRF defaults, written plainly for this test."""
    tot = [[0, 0, 0] for _ in range(order)]

    def grams(s, n):
        return Counter(s[i:i + n] for i in range(len(s) - n + 1))

    def fscore(st):
        ps = [m / h for h, r, m in st if h > 0 and r > 0]
        rs = [m / r for h, r, m in st if h > 0 and r > 0]
        if not ps:
            return 0.0
        p, r = sum(ps) / len(ps), sum(rs) / len(rs)
        return 0.0 if p + r == 0 else 100 * (1 + beta ** 2) * p * r / (beta ** 2 * p + r)

    for i, h in enumerate(hyps):
        h = "".join(h.split())
        best, best_f = None, -1.0
        for rstream in refs:
            r = "".join(rstream[i].split())
            st = []
            for n in range(1, order + 1):
                gh, gr = grams(h, n), grams(r, n)
                st.append([sum(gh.values()), sum(gr.values()), sum((gh & gr).values())])
            f = fscore(st)
            if f > best_f:
                best, best_f = st, f
        for n in range(order):
            for k in range(3):
                tot[n][k] += best[n][k]
    return fscore(tot), tot


def test_chrf():
    c = text.chrf(["abc"], [["abc"]])
    report(c["score"] == 100.0 and c["hyp"][:3] == [3, 2, 1] and c["hyp"][3:] == [0, 0, 0],
           "chrF identical: 100, orders above the length have no n-grams and are skipped")
    # "ab" vs "ac": order 1: P = R = 1/2; order 2: 0/1. avg P = avg R = 1/4 → F = 1/4 → 25.
    c = text.chrf(["ab"], [["ac"]])
    report(close(c["score"], 25.0, 1e-12), f"chrF 'ab' vs 'ac' = 25 by hand ({c['score']})")
    # "aab" vs "ab": order 1 P 2/3 R 1; order 2 P 1/2 R 1 → P = 7/12, R = 1
    p, r = 7 / 12, 1.0
    want = 100 * 5 * p * r / (4 * p + r)
    c = text.chrf(["aab"], [["ab"]])
    report(close(c["score"], want, 1e-12), f"chrF 'aab' vs 'ab' = {want:.6f} by hand")
    c = text.chrf(["a b  c"], [["abc"]])
    cw = text.chrf(["a b  c"], [["abc"]], whitespace=True)
    report(c["score"] == 100.0 and cw["score"] < 100.0, "chrF drops whitespace by default")
    c = text.chrf(["Abc"], [["abc"]])
    cl = text.chrf(["Abc"], [["abc"]], lowercase=True)
    report(c["score"] < 100.0 and cl["score"] == 100.0, "chrF cased by default; lowercase option")
    c = text.chrf(["The relationship between Obama and Netanyahu is not exactly friendly."],
                  [["The ties between Obama and Netanyahu are not particularly friendly."]])
    report(close(c["score"], 61.576379378113785, 1e-12),
           f"documented example (HF metric card): {c['score']!r} vs 61.576379378113785")
    c = text.chrf(["The relationship between cats and dogs is not exactly friendly.",
                   "a good bookshop is just a genteel black hole that knows how to read."],
                  [["The relationship between dogs and cats is not exactly friendly.",
                    "A good bookshop is just a genteel Black Hole that knows how to read."]])
    report(close(c["score"], 84.64214891738334, 1e-12),
           f"documented two-sentence example: {c['score']!r} vs 84.64214891738334")

    rng = random.Random(5)
    worst = 0.0
    ok = True
    for trial in range(200):
        n_refs = 1 + trial % 3
        sents = [random_text(rng, 50) for _ in range(rng.randint(1, 6))]
        hyps = [mutate(rng, s) for s in sents]
        refs = [sents] + [[mutate(rng, s) for s in sents] for _ in range(n_refs - 1)]
        ours = text.chrf(hyps, refs)
        want, tot = chrf_reference(hyps, refs)
        worst = max(worst, abs(ours["score"] - want))
        stats = [[ours["hyp"][k], ours["ref"][k], ours["match"][k]] for k in range(6)]
        ok &= close(ours["score"], want, 1e-12) and stats == tot
    report(ok, f"chrF = plain Python chrF (statistics and score) on 200 random corpora, "
               f"1-3 references (max abs difference {worst:.1e})")


# ---- cleaning and UTF-8 --------------------------------------------------------------------

def test_clean():
    cases = [
        ("Great!<br /><br />A &quot;must&quot; see.", False, 'Great! A "must" see.'),
        ("a<br>b<br/>c", True, "a\nb\nc"),
        ("it&#39;s &#x263A; &lt;3", False, "it's ☺ <3"),
        ("  keep CASE,  punct!  ", False, "keep CASE, punct!"),
    ]
    ok = all(text.clean(s, br_newline=b) == e for s, b, e in cases)
    report(ok, "clean: <br /> to space or newline, entities, whitespace, case kept")
    report(text.utf8_error(b"ok \xe2\x82\xac") is None and text.utf8_error(b"ab\xc3(") == 2 and
           text.utf8_error(b"\xed\xa0\x80") == 0,
           "utf8_error: valid → None, invalid → byte offset")


if __name__ == "__main__":
    test_tokenizer()
    test_lowercase()
    test_bleu_hand()
    test_nltk()
    test_chrf()
    test_clean()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
