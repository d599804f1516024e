"""Opus decoding with loss concealment, straight from libopus.

PyAV (through FFmpeg) cannot conceal: an empty packet means "flush" to it, and FFmpeg's
libopus wrapper never asks for in-band FEC. libopus itself does both (`opus_decode` with no
data extrapolates; with `decode_fec` it rebuilds a lost frame from the redundancy carried
by the next packet, or conceals when there is none), so we call it through ctypes: the
library is the well-kept part, this is its four-function C interface.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

RATE = 48000
MAX_FRAME = 5760  # 120 ms at 48 kHz, the longest Opus packet


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    lib = ctypes.CDLL(name)
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_int,
    ]
    lib.opus_decoder_destroy.restype = None
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


_lib = _load()


class OpusError(Exception):
    pass


class OpusDecoder:
    """Mono int16 at 48 kHz (libopus downmixes a stereo stream)."""

    def __init__(self) -> None:
        err = ctypes.c_int(0)
        self._state = _lib.opus_decoder_create(RATE, 1, ctypes.byref(err))
        if err.value != 0 or not self._state:
            raise OpusError(f"opus_decoder_create failed ({err.value})")
        self._pcm = np.zeros(MAX_FRAME, dtype=np.int16)
        self._out = self._pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))

    def _decode(self, data: bytes | None, samples: int, fec: bool) -> np.ndarray:
        n = _lib.opus_decode(self._state, data, len(data) if data else 0, self._out, samples, int(fec))
        if n < 0:
            raise OpusError(f"opus_decode failed ({n})")
        return self._pcm[:n].copy()

    def decode(self, data: bytes) -> np.ndarray:
        return self._decode(data, MAX_FRAME, False)

    def conceal(self, samples: int) -> np.ndarray:
        """Packet-loss concealment: `samples` extrapolated from what came before."""
        return self._decode(None, samples, False)

    def recover(self, next_packet: bytes, samples: int) -> np.ndarray:
        """The lost frame before `next_packet`, from its in-band FEC (or concealed if it has none)."""
        return self._decode(next_packet, samples, True)

    def close(self) -> None:
        if self._state:
            _lib.opus_decoder_destroy(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()
