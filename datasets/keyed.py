"""Keyed hashes of the seed: every per-learner value that must look random and is released (or
shapes what is released) comes from here, never from an invertible integer mix.

A learner holds the open-source generator and their own data. Whatever we release that depends on
the seed must not let them walk back to it: with the seed they could rebuild their company *with
labels*. So each purpose gets its own key, HMAC-SHA256(seed, purpose), and values are BLAKE2b
keyed with it (a pseudo-random function). Without the key its outputs are unrelated to its inputs
and to each other; finding the key means guessing the 63-bit seed and regenerating, per guess.
The threat model is written out in docs/grading.md.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

DOMAIN = b"signal-or-theater/v2/"
WORDS_PER_CALL = 8  # a 64-byte BLAKE2b digest holds eight 64-bit words
UNIFORM_SCALE = 2.0**-53


def derive_key(seed: int, purpose: str) -> bytes:
    """The 32-byte key of one purpose: HMAC-SHA256 keyed by the seed (a one-way derivation)."""
    return hmac.new(int(seed).to_bytes(8, "big"), DOMAIN + purpose.encode("utf-8"), hashlib.sha256).digest()


def keyed_words(key: bytes, label: bytes, count: int) -> np.ndarray:
    """`count` non-negative int64 values, BLAKE2b(key, label || counter): a small table, hashed once."""
    calls = -(-count // WORDS_PER_CALL)
    out = b"".join(hashlib.blake2b(label + i.to_bytes(4, "little"), key=key, digest_size=64).digest()
                   for i in range(calls))
    words = np.frombuffer(out, dtype="<u8")[:count]
    return (words >> np.uint64(1)).astype(np.int64)


def keyed_int(seed: int, purpose: str, *parts: int, bits: int = 128) -> int:
    """One keyed integer of `bits` bits (seeds for derived random streams, Faker's seed)."""
    label = b"".join(int(p).to_bytes(8, "big", signed=True) for p in parts)
    digest = hashlib.blake2b(label, key=derive_key(seed, purpose), digest_size=32).digest()
    return int.from_bytes(digest, "big") >> (256 - bits)


def keyed_uniform(seed: int, purpose: str, name: str) -> float:
    """A uniform draw in [0, 1) for one named quantity, independent of every other name."""
    digest = hashlib.blake2b(name.encode("utf-8"), key=derive_key(seed, purpose), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) * UNIFORM_SCALE


def keyed_stream(seed: int, purpose: str, *parts: int) -> np.random.Generator:
    """A random stream whose seed is a keyed hash: its outputs say nothing about `seed` or other streams."""
    return np.random.Generator(np.random.PCG64(keyed_int(seed, purpose, *parts)))
