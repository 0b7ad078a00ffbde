"""Image data through ctypes: IDX files and Fashion-MNIST (attn_idx_*, attn_fashion_mnist_load),
the augmentation and epoch orders of libattn (attn_image_augment, attn_permutation) and pixel
normalisation, as NumPy arrays. Another framework fed from these sees exactly attn's batches.
"""
import ctypes

import numpy as np

from ._lib import lib, check

_u8p = ctypes.POINTER(ctypes.c_uint8)
_f32p = ctypes.POINTER(ctypes.c_float)
_i64p = ctypes.POINTER(ctypes.c_int64)


class _ImageSet(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("channels", ctypes.c_int64), ("height", ctypes.c_int64),
                ("width", ctypes.c_int64), ("pixels", _u8p), ("labels", _u8p),
                ("num_classes", ctypes.c_int64)]


class _AugmentOptions(ctypes.Structure):
    _fields_ = [("pad", ctypes.c_int), ("hflip", ctypes.c_int)]


lib.attn_image_set_free.argtypes = [ctypes.c_void_p]
lib.attn_fashion_mnist_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                        ctypes.POINTER(ctypes.POINTER(_ImageSet))]
lib.attn_image_set_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.POINTER(_ImageSet))]
lib.attn_permutation.argtypes = [ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, _i64p]
lib.attn_image_augment.argtypes = [ctypes.POINTER(_AugmentOptions), _u8p, ctypes.c_int64,
                                   ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                   ctypes.c_uint64, ctypes.c_uint64, _u8p]
lib.attn_image_normalize.argtypes = [_u8p, ctypes.c_int64, ctypes.c_float, ctypes.c_float, _f32p]


def _take(ptr):
    s = ptr.contents
    shape = (s.n, s.channels, s.height, s.width)
    pixels = np.ctypeslib.as_array(s.pixels, shape=(int(np.prod(shape)),)).reshape(shape).copy()
    labels = np.ctypeslib.as_array(s.labels, shape=(s.n,)).copy()
    lib.attn_image_set_free(ptr)
    return pixels, labels


def fashion_mnist(split="train", directory=None):
    """(pixels uint8 [n, 1, 28, 28], labels uint8 [n]) of split "train" or "test"."""
    ptr = ctypes.POINTER(_ImageSet)()
    check(lib.attn_fashion_mnist_load(None if directory is None else directory.encode(),
                                      split.encode(), ctypes.byref(ptr)))
    return _take(ptr)


def load_idx_images(images_path, labels_path):
    ptr = ctypes.POINTER(_ImageSet)()
    check(lib.attn_image_set_load(images_path.encode(), labels_path.encode(), ctypes.byref(ptr)))
    return _take(ptr)


def permutation(n, seed, counter):
    """attn_permutation: the epoch order of n items for (seed, counter)."""
    out = np.zeros(n, np.int64)
    check(lib.attn_permutation(n, seed, counter, out.ctypes.data_as(_i64p)))
    return out


def augment(images, pad=2, hflip=True, seed=0, counter=0):
    """attn_image_augment of uint8 images [N, C, H, W]."""
    x = np.ascontiguousarray(images, dtype=np.uint8)
    out = np.empty_like(x)
    opt = _AugmentOptions(pad, int(hflip))
    N, C, H, W = x.shape
    check(lib.attn_image_augment(ctypes.byref(opt), x.ctypes.data_as(_u8p), N, C, H, W, seed,
                                 counter, out.ctypes.data_as(_u8p)))
    return out


def normalize(images, mean, std):
    """(images/255 − mean)/std as float32, by attn_image_normalize."""
    x = np.ascontiguousarray(images, dtype=np.uint8)
    out = np.empty(x.shape, np.float32)
    check(lib.attn_image_normalize(x.ctypes.data_as(_u8p), x.size, mean, std,
                                   out.ctypes.data_as(_f32p)))
    return out
