#!/usr/bin/python3
"""Write the BPE test corpus: 1,000 texts, each as "<byte length>\\n<bytes>\\n".

    make_corpus.py DATA_DIR OUT      (DATA_DIR "-": no data folder)

From DATA_DIR (the project's ../shared/data): 300 German sentences of Multi30K, 300 IMDb
reviews (half of them with non-ASCII characters), 300 passages of 1-4 lines of tiny
shakespeare (newlines and blank lines inside); then hand-written edge cases and seeded random
mixtures of characters up to 1,000. Deterministic: the same corpus on every run.
"""
import gzip
import os
import random
import sys

EDGE = [
    "", " ", "  ", "\n", "\n\n\n", " \n ", "a", "A", "0", "'",
    # contractions (the pattern's first alternatives are case-sensitive)
    "I'm sure you're right, we've seen they'll go and he'd say it's John's.",
    "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "''s '''t rock'n'roll", "don't''ll",
    "it 's", "O'Neil's dog's bone", "'sx'tt'ree'vee",
    # runs of spaces, tabs and newlines
    "a   b", "   leading spaces", "trailing spaces   ", "a\n\nb", "a \n\n b", "\t\tindented",
    "line\r\nwindows\r\n", "x\n \n y", "end with newline\n", "  \n\n  \t  word", "a\u00a0b\u00a0\u00a0c",
    "ideographic\u3000space\u3000\u3000x", "line\u2028separator\u2029para", "\ufeffBOM first",
    "nel\u0085char", "zero\u200bwidth\u200bspace", "thin\u2009space\u202fnarrow",
    # digits and number characters
    "12345678901234567890", "3.14159 2.71828", "1,000,000 and 1.000.000", "007 0x1F 1e-9",
    "\u0663\u0664\u0665 Arabic-Indic", "\u216b roman twelve", "\u00bd\u00bc\u00be fractions",
    "x\u00b2 + y\u00b3", "\u0967\u0968\u0969 Devanagari digits", "\u2460\u2461\u2462 circled",
    # emoji, flags, ZWJ sequences, skin tones
    "\U0001F44D\U0001F3FD thumbs", "\U0001F468\u200D\U0001F469\u200D\U0001F467 family",
    "\U0001F1E9\U0001F1EA\U0001F1EB\U0001F1F7 flags", "I \u2764\ufe0f NY", "\U0001F600\U0001F600\U0001F600",
    "emoji\U0001F40Dinside\U0001F40Dwords", "\U0001F9D1\u200D\U0001F4BB codes",
    # CJK, other scripts
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002",
    "\u4e2d\u6587\u5b57\u7b26\uff0c\u6807\u70b9\u7b26\u53f7\uff01", "\ud55c\uad6d\uc5b4 \ubb38\uc7a5",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0",
    # combining marks
    "cafe\u0301 na\u0308ive", "e\u0301\u0301\u0301", "\u0301leading mark", "Z\u0351\u036b\u0343a\u0310\u0367l\u0346g\u0352o",
    "\u1e9b\u0323 \u00c5\u212b", "\ufb01 ligature \ufb02",
    # punctuation and symbols, commas and quotes
    "Hello, world!", "\"a\",\"b\",\"c\"", "f(x),\"y\"),\"z\"", "}, {\"key\": [1, 2]},{\"", "...!!!???",
    "\u201cquoted\u201d \u2018single\u2019 \u2014 dash \u2013 en", "<|endoftext|>", "<|endoftext|> after",
    "http://example.com/path?q=1&r=2#frag", "user@example.org", "#include <stdio.h>\nint main(void) { return 0; }\n",
    "    def f(self):\n        return self.x  # comment\n", "$100 \u20ac200 \u00a3300 \u00a5400",
    "a-b_c.d/e\\f|g~h^i", "@@@@@@@@@@", "_______", "--- *** ===",
    # gpt-3-encoder keys its merge table by "a,b": these pieces hold the 11 pairs of GPT-2's
    # tokens whose joined key equals a merge's (e.g. '",' + '"' and '"' + ',"')
    '","', '},"', '],"', '),"', '"],"', '],[', '\',"', '.","', "','", ' ,"', '.,"',
    'x = {"a": [1, 2],"b": 3},"c"', "print('a','b')", '[["x"],["y"]],[1,2]',
]

POOL = ("abcXYZ \n\t'0123456789.,!?\"-\u00e9\u00fc\u00df\u00f1\u4e2d\u6587\u3002\u0301"
        "\U0001F600\U0001F44D\u00a0\u3000\u0663\u00bd\u0416\u05d0\u0627sltdmrevl")


def records(data):
    out = []
    if data is None:  # no data folder: edge cases and random mixtures only
        data_free = list(EDGE)
        rng = random.Random(21)
        while len(data_free) < 1000:
            data_free.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 200))))
        return data_free
    with open(os.path.join(data, "multi30k", "train.de"), encoding="utf-8") as f:
        de = f.read().split("\n")[:-1]
    out += de[::len(de) // 300][:300]
    with gzip.open(os.path.join(data, "imdb", "train.tsv.gz"), "rt", encoding="utf-8") as f:
        reviews = [line.rstrip("\n").split("\t", 1)[1] for line in f]
    non_ascii = [r for r in reviews if any(ord(c) > 127 for c in r)]
    ascii_only = [r for r in reviews if all(ord(c) < 128 for c in r)]
    out += non_ascii[::len(non_ascii) // 150][:150] + ascii_only[::len(ascii_only) // 150][:150]
    with open(os.path.join(data, "tinyshakespeare", "input.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    step = len(lines) // 300
    for k in range(300):
        i = k * step
        out.append("\n".join(lines[i:i + 1 + k % 4]) + ("\n" if k % 3 == 0 else ""))
    out += EDGE
    rng = random.Random(21)
    while len(out) < 1000:
        out.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 60))))
    return out[:1000]


def main():
    recs = records(None if sys.argv[1] == "-" else sys.argv[1])
    with open(sys.argv[2], "wb") as f:
        for r in recs:
            b = r.encode("utf-8")
            f.write(b"%d\n" % len(b) + b + b"\n")


main()
