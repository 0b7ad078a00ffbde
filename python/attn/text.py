"""Text metrics (BLEU, chrF as sacreBLEU computes them) and text cleaning, from libattn.

    from attn import text
    r = text.bleu(["The cat sat on the mat."], [["The cat sat on a mat."]])
    r["score"], r["matches"], r["totals"], r["hyp_len"], r["ref_len"]
    text.chrf(hyps, [refs])["score"]
    text.clean("Great!<br /><br />A &quot;must&quot; see.")  ->  'Great! A "must" see.'

References are given as sacreBLEU takes them: a list of reference streams, each a list with
one string per hypothesis.
"""
import ctypes

from ._lib import check, lib

_MAX_ORDER = 4
_CHRF_MAX = 10


class _BleuOptions(ctypes.Structure):
    _fields_ = [("tokenize", ctypes.c_int), ("lowercase", ctypes.c_int), ("smooth", ctypes.c_int)]


class _BleuResult(ctypes.Structure):
    _fields_ = [("score", ctypes.c_double),
                ("precisions", ctypes.c_double * _MAX_ORDER),
                ("bp", ctypes.c_double),
                ("matches", ctypes.c_int64 * _MAX_ORDER),
                ("totals", ctypes.c_int64 * _MAX_ORDER),
                ("hyp_len", ctypes.c_int64),
                ("ref_len", ctypes.c_int64)]


class _ChrfOptions(ctypes.Structure):
    _fields_ = [("char_order", ctypes.c_int), ("beta", ctypes.c_double),
                ("lowercase", ctypes.c_int), ("include_whitespace", ctypes.c_int)]


class _ChrfResult(ctypes.Structure):
    _fields_ = [("score", ctypes.c_double), ("order", ctypes.c_int),
                ("hyp", ctypes.c_int64 * _CHRF_MAX), ("ref", ctypes.c_int64 * _CHRF_MAX),
                ("match", ctypes.c_int64 * _CHRF_MAX)]


class _CleanOptions(ctypes.Structure):
    _fields_ = [("br_newline", ctypes.c_int), ("keep_entities", ctypes.c_int),
                ("keep_spaces", ctypes.c_int)]


_TOK = {"13a": 0, "none": 1, "intl": 2, "char": 3}
_SMOOTH = {"exp": 0, "none": 1}

lib.attn_bleu_corpus.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
                                 ctypes.c_int64, ctypes.c_int, ctypes.POINTER(_BleuOptions),
                                 ctypes.POINTER(_BleuResult)]
lib.attn_bleu_from_counts.argtypes = [ctypes.POINTER(_BleuResult), ctypes.c_int]
lib.attn_bleu_tokenize_line.argtypes = [ctypes.c_char_p, ctypes.POINTER(_BleuOptions),
                                        ctypes.c_char_p, ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_size_t)]
lib.attn_chrf_corpus.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
                                 ctypes.c_int64, ctypes.c_int, ctypes.POINTER(_ChrfOptions),
                                 ctypes.POINTER(_ChrfResult)]
lib.attn_text_clean.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_CleanOptions),
                                ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
lib.attn_utf8_validate.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_size_t)]


def _enc(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _segments(hyps, refs):
    if isinstance(hyps, (str, bytes)):
        hyps = [hyps]
    hyps = list(hyps)
    if isinstance(refs, (str, bytes)):
        refs = [[refs]]
    refs = [list(r) for r in refs]
    for r in refs:
        if len(r) != len(hyps):
            raise ValueError(f"a reference stream has {len(r)} segments, hypotheses {len(hyps)}")
    h = (ctypes.c_char_p * len(hyps))(*[_enc(s) for s in hyps])
    flat = [_enc(s) for r in refs for s in r]
    rr = (ctypes.c_char_p * len(flat))(*flat)
    return h, rr, len(hyps), len(refs)


def _bleu_options(tokenize, lowercase, smooth):
    return _BleuOptions(_TOK[tokenize], int(bool(lowercase)), _SMOOTH[smooth])


def _bleu_dict(r):
    return {"score": r.score, "precisions": list(r.precisions), "bp": r.bp,
            "matches": list(r.matches), "totals": list(r.totals),
            "hyp_len": r.hyp_len, "ref_len": r.ref_len}


def bleu(hyps, refs, tokenize="13a", lowercase=False, smooth="exp"):
    """Corpus BLEU (0..100) with its n-gram statistics, as sacreBLEU's corpus_bleu."""
    h, rr, n, nr = _segments(hyps, refs)
    opt = _bleu_options(tokenize, lowercase, smooth)
    out = _BleuResult()
    check(lib.attn_bleu_corpus(h, rr, n, nr, ctypes.byref(opt), ctypes.byref(out)))
    return _bleu_dict(out)


def bleu_from_counts(matches, totals, hyp_len, ref_len, smooth="exp"):
    """BLEU from summed statistics (e.g. added over batches)."""
    r = _BleuResult()
    for i in range(_MAX_ORDER):
        r.matches[i], r.totals[i] = int(matches[i]), int(totals[i])
    r.hyp_len, r.ref_len = int(hyp_len), int(ref_len)
    check(lib.attn_bleu_from_counts(ctypes.byref(r), _SMOOTH[smooth]))
    return _bleu_dict(r)


def tokenize(line, tokenize="13a", lowercase=False):
    """The tokens BLEU sees, joined by single spaces."""
    opt = _bleu_options(tokenize, lowercase, "exp")
    b = _enc(line)
    n = ctypes.c_size_t()
    check(lib.attn_bleu_tokenize_line(b, ctypes.byref(opt), None, 0, ctypes.byref(n)))
    buf = ctypes.create_string_buffer(n.value + 1)
    check(lib.attn_bleu_tokenize_line(b, ctypes.byref(opt), buf, n.value + 1, ctypes.byref(n)))
    return buf.raw[:n.value].decode("utf-8")


def chrf(hyps, refs, char_order=6, beta=2.0, lowercase=False, whitespace=False):
    """Corpus chrF (0..100) with per-order statistics, as sacreBLEU's CHRF defaults."""
    h, rr, n, nr = _segments(hyps, refs)
    opt = _ChrfOptions(int(char_order), float(beta), int(bool(lowercase)), int(bool(whitespace)))
    out = _ChrfResult()
    check(lib.attn_chrf_corpus(h, rr, n, nr, ctypes.byref(opt), ctypes.byref(out)))
    k = out.order
    return {"score": out.score, "order": k, "hyp": list(out.hyp)[:k], "ref": list(out.ref)[:k],
            "match": list(out.match)[:k]}


def clean(text, br_newline=False, keep_entities=False, keep_spaces=False):
    """IMDb-style cleaning: <br /> → space (or newline), HTML entities decoded, spaces collapsed."""
    b = _enc(text)
    opt = _CleanOptions(int(bool(br_newline)), int(bool(keep_entities)), int(bool(keep_spaces)))
    out = ctypes.create_string_buffer(len(b) + 1)
    n = ctypes.c_size_t()
    check(lib.attn_text_clean(b, len(b), ctypes.byref(opt), out, len(b) + 1, ctypes.byref(n)))
    return out.raw[:n.value].decode("utf-8", "surrogateescape")


def utf8_error(data):
    """None if data (bytes) is valid UTF-8, else the byte offset of the first invalid sequence."""
    b = bytes(data)
    off = ctypes.c_size_t()
    st = lib.attn_utf8_validate(b, len(b), ctypes.byref(off))
    if st == 0:
        return None
    if st != -7:
        check(st)
    return off.value


# ---- datasets ------------------------------------------------------------------------------

class _Imdb(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64),
                ("text", ctypes.POINTER(ctypes.c_char_p)),
                ("label", ctypes.POINTER(ctypes.c_int8)),
                ("rating", ctypes.POINTER(ctypes.c_int8)),
                ("movie", ctypes.POINTER(ctypes.c_char_p)),
                ("name", ctypes.POINTER(ctypes.c_char_p)),
                ("priv_", ctypes.c_void_p)]


class _Parallel(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64),
                ("src", ctypes.POINTER(ctypes.c_char_p)),
                ("tgt", ctypes.POINTER(ctypes.c_char_p)),
                ("priv_", ctypes.c_void_p)]


lib.attn_imdb_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.POINTER(ctypes.POINTER(_Imdb))]
lib.attn_imdb_load_dir.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(_Imdb))]
lib.attn_imdb_free.argtypes = [ctypes.POINTER(_Imdb)]
lib.attn_imdb_free.restype = None
lib.attn_imdb_split_by_movie.argtypes = [ctypes.POINTER(_Imdb), ctypes.c_double, ctypes.c_uint64,
                                         ctypes.POINTER(ctypes.c_uint8),
                                         ctypes.POINTER(ctypes.c_int64)]
lib.attn_parallel_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                   ctypes.POINTER(ctypes.POINTER(_Parallel))]
lib.attn_lines_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(_Parallel))]
lib.attn_parallel_free.argtypes = [ctypes.POINTER(_Parallel)]
lib.attn_parallel_free.restype = None


def _path(p):
    return None if p is None else str(p).encode()


def _strings(arr, n):
    return [arr[i].decode("utf-8") for i in range(n)]


class Imdb:
    """An IMDb split loaded by libattn: .text, .label, .rating, .movie, .name (lists, raw text)."""

    def __init__(self, ptr):
        self._ptr = ptr
        d = ptr.contents
        n = d.n
        self.text = _strings(d.text, n)
        self.label = [d.label[i] for i in range(n)]
        self.rating = [d.rating[i] for i in range(n)]
        self.movie = _strings(d.movie, n)
        self.name = _strings(d.name, n)

    def __len__(self):
        return len(self.text)

    def split_by_movie(self, fraction, seed=0):
        """List of booleans: True = validation; each movie on one side (hash of its id)."""
        n = len(self.text)
        mask = (ctypes.c_uint8 * max(n, 1))()
        nv = ctypes.c_int64()
        check(lib.attn_imdb_split_by_movie(self._ptr, float(fraction), int(seed), mask,
                                           ctypes.byref(nv)))
        return [bool(mask[i]) for i in range(n)]

    def __del__(self):
        if getattr(self, "_ptr", None):
            lib.attn_imdb_free(self._ptr)
            self._ptr = None


def load_imdb(tsv_path, ids_path=None):
    """IMDb from LABEL<TAB>TEXT lines (gzip or plain) and optionally the matching .ids file."""
    p = ctypes.POINTER(_Imdb)()
    check(lib.attn_imdb_load(_path(tsv_path), _path(ids_path), ctypes.byref(p)))
    return Imdb(p)


def load_imdb_dir(split_dir):
    """IMDb from the original aclImdb/<split> folder (pos/, neg/, urls_*.txt)."""
    p = ctypes.POINTER(_Imdb)()
    check(lib.attn_imdb_load_dir(_path(split_dir), ctypes.byref(p)))
    return Imdb(p)


def load_parallel(src_path, tgt_path):
    """Aligned sentence pairs (e.g. Multi30k): (list of source lines, list of target lines)."""
    p = ctypes.POINTER(_Parallel)()
    check(lib.attn_parallel_load(_path(src_path), _path(tgt_path), ctypes.byref(p)))
    try:
        d = p.contents
        return _strings(d.src, d.n), _strings(d.tgt, d.n)
    finally:
        lib.attn_parallel_free(p)


def load_lines(path):
    """The lines of a text file (gzip or plain), split on LF only."""
    p = ctypes.POINTER(_Parallel)()
    check(lib.attn_lines_load(_path(path), ctypes.byref(p)))
    try:
        d = p.contents
        return _strings(d.src, d.n)
    finally:
        lib.attn_parallel_free(p)
