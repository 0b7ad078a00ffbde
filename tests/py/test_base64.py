"""attn_base64_encode / attn_base64_decode against Python's base64 module (RFC 4648).

Checks, one line each, ending with "N passed, N failed":
  * encoding random byte strings of every length 0..300 gives Python's b64encode text;
  * decoding that text gives the bytes back;
  * random mutations of valid texts: attn accepts exactly those that Python's strict decoder
    (b64decode with validate=True) accepts and that re-encode to themselves (the padding bits
    zero: one text per byte string), with the same bytes;
  * hand-picked malformed texts are refused with a message naming base64.
"""
import base64
import binascii
import ctypes
import random
import sys

from attn._lib import lib

lib.attn_base64_encode.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
lib.attn_base64_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.POINTER(ctypes.c_size_t)]
libc = ctypes.CDLL(None)
libc.free.argtypes = [ctypes.c_void_p]

passed = failed = 0


def report(ok, what):
    global passed, failed
    passed += ok
    failed += not ok
    print(("ok   " if ok else "FAIL ") + what)


def encode(b):
    out = ctypes.c_void_p()
    buf = ctypes.create_string_buffer(b, len(b) or 1)
    assert lib.attn_base64_encode(buf, len(b), ctypes.byref(out)) == 0
    s = ctypes.string_at(out.value)
    libc.free(out)
    return s


def decode(t):
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    st = lib.attn_base64_decode(t, len(t), ctypes.byref(out), ctypes.byref(n))
    if st != 0:
        return None
    b = ctypes.string_at(out.value, n.value)
    libc.free(out)
    return b


def python_strict(t):
    try:
        b = base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return None
    return b if base64.b64encode(b) == t else None


def main():
    rng = random.Random(19)
    enc_ok = dec_ok = True
    for n in range(301):
        b = bytes(rng.randrange(256) for _ in range(n))
        t = encode(b)
        enc_ok &= t == base64.b64encode(b)
        dec_ok &= decode(t) == b
    report(enc_ok, "encode equals Python's b64encode for lengths 0..300")
    report(dec_ok, "decode gives the bytes back for lengths 0..300")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\x00"
    agree, accepted, total = True, 0, 5000
    for _ in range(total):
        t = bytearray(base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randrange(12)))))
        for _ in range(rng.randrange(1, 3)):
            op = rng.randrange(3)
            if op == 0 and t:
                t[rng.randrange(len(t))] = rng.choice(alphabet)
            elif op == 1:
                t.insert(rng.randrange(len(t) + 1), rng.choice(alphabet))
            elif t:
                del t[rng.randrange(len(t))]
        t = bytes(t)
        mine, ref = decode(t), python_strict(t)
        accepted += mine is not None
        if mine != ref:
            agree = False
            print("  differs on %r: attn %r, python %r" % (t, mine, ref))
            break
    report(agree, "%d mutated texts: attn accepts exactly Python's strict, canonical ones (%d accepted)"
           % (total, accepted))
    bad = [b"Zg=", b"Zh==", b"Zm9=", b"Zm9v\n", b"Zm=v", b"Z===", b"====", b"Zm9-", b"Zg==Zg==", b" Zm9"]
    refused = all(decode(t) is None for t in bad)
    report(refused and b"base64" in lib.attn_last_error(), "hand-picked malformed texts are refused with a message")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
