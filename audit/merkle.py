"""Merkle tree of RFC 9162 (Certificate Transparency v2), section 2.1: tree hash, inclusion and consistency proofs.

Standard library only: this file is also copied, unchanged, into the standalone offline verifier.

Hashes are 32-byte `bytes`; proofs are lists (or tuples) of them. `leaves` are leaf hashes (`leaf_hash(entry)`), never
raw entries. Trees are built level by level, carrying an unpaired last node up unchanged: the same tree as the RFC's
split at the largest power of two below n, without recursion or slice copies per node. The module functions cost
O(n) hashes each; `MerkleTree` pays that once and then answers any number of proofs in O(log n)-ish time.
`MerkleFrontier` extends a root incrementally from the previous checkpoint's O(log n) saved state.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_BYTE_TYPES = {bytes, bytearray}


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; the empty tree's hash is SHA-256 of the empty string."""
    _check_hashes(leaves)
    return _range_root(leaves, 0, len(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) (2.1.3.1), deepest sibling first, over the first `size` of `leaves`. O(size) hashes: for
    many proofs over one tree, build a `MerkleTree` once."""
    return MerkleTree(leaves[:size]).inclusion_proof(index, size)


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) (2.1.4.1) over the first `new_size` of `leaves`. O(new_size) hashes; see
    `MerkleTree.consistency_proof`."""
    return MerkleTree(leaves[:new_size]).consistency_proof(old_size, new_size)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `proof` place `leaf_hash` at `index` in the tree of `size` whose head is `root`?
    `size` and `root` must come from the same signed tree head: the algorithm does not tie a root to one size."""
    if not (_is_int(index) and _is_int(size) and _is_hash(leaf_hash) and _is_hash(root) and _all_hashes(proof)):
        return False
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree (`new_size`, `new_root`) an append-only extension of (`old_size`, `old_root`)?

    The RFC's algorithm requires 0 < old_size < new_size; old_size 0 (or above new_size) is refused. Equal sizes are
    consistent exactly when the roots are equal and the proof is empty (PROOF(n, D[n]) is the empty list).
    """
    if not (_is_int(old_size) and _is_int(new_size) and _is_hash(old_root) and _is_hash(new_root)
            and _all_hashes(proof)):
        return False
    if old_size <= 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if len(proof) == 0:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


class MerkleFrontier:
    """The right frontier of a growing tree: the roots of its perfect subtrees, largest first (one per set bit of
    `size`). Enough to append leaves and compute the root without the earlier leaves."""

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._nodes: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash, merging equal-sized perfect subtrees."""
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash is 32 bytes")
        nodes, n = self._nodes, self._size
        nodes.append(bytes(leaf_hash))
        while n & 1:
            right = nodes.pop()
            nodes[-1] = node_hash(nodes[-1], right)
            n >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """MTH of all leaves appended so far."""
        return _fold(self._nodes)

    def to_list(self) -> list[str]:
        """The frontier hashes as hex, largest subtree first; persist them together with `size`."""
        return [h.hex() for h in self._nodes]

    @classmethod
    def from_list(cls, size: int, hashes: Sequence[str | bytes]) -> MerkleFrontier:
        """Rebuild from `size` and `to_list()` output (hex strings or 32-byte values)."""
        nodes = [bytes.fromhex(h) if isinstance(h, str) else bytes(h) for h in hashes]
        if not _is_int(size) or size < 0 or len(nodes) != bin(size).count("1") or not _all_hashes(nodes):
            raise ValueError(f"not a frontier of a tree of size {size!r}")
        frontier = cls()
        frontier._nodes, frontier._size = nodes, size
        return frontier

    @classmethod
    def from_leaf_hashes(cls, leaves: Sequence[bytes]) -> MerkleFrontier:
        """The frontier of the tree over `leaves` (O(n) hashes, level by level)."""
        return MerkleTree(leaves).frontier()


class MerkleTree:
    """Leaf hashes plus the hashes of their aligned perfect subtrees of 2**CACHE_HEIGHT leaves and more: one O(n)
    build, then the root and proofs for any size up to n in O(2**CACHE_HEIGHT * log n) hashes."""

    CACHE_HEIGHT = 8

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._leaves = list(leaves)
        _check_hashes(self._leaves)
        self._levels: dict[int, list[bytes]] = {}
        level, height, sha = self._leaves, 0, _sha256
        while len(level) > 1:
            level = [sha(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2])]
            height += 1
            if height >= self.CACHE_HEIGHT:
                self._levels[height] = level

    def __len__(self) -> int:
        return len(self._leaves)

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[size]), by default over all leaves."""
        return self._subtree(0, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) (2.1.3.1), deepest sibling first."""
        size = self._size(size)
        if not (_is_int(index) and 0 <= index < size):
            raise ValueError(f"leaf index {index!r} outside a tree of size {size}")
        path, lo, hi = [], 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._subtree(lo, lo + k))
                lo += k
        return path[::-1]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) = SUBPROOF(old_size, D[new_size], true) (2.1.4.1); [] for equal sizes.
        The RFC defines no proof from the empty tree, so `old_size` 0 is refused."""
        new_size = self._size(new_size)
        if not (_is_int(old_size) and 0 < old_size <= new_size):
            raise ValueError(f"no consistency proof from size {old_size!r} to size {new_size}")
        tail, lo, hi, m, complete = [], 0, new_size, old_size, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                tail.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                tail.append(self._subtree(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        return ([] if complete else [self._subtree(lo, hi)]) + tail[::-1]

    def frontier(self, size: int | None = None) -> MerkleFrontier:
        """The `MerkleFrontier` of the tree of `size`, to extend later without these leaves."""
        size = self._size(size)
        return MerkleFrontier.from_list(size, [self._perfect(lo, h) for lo, h in _blocks(0, size)])

    def _size(self, size: int | None) -> int:
        if size is None:
            return len(self._leaves)
        if not (_is_int(size) and 0 <= size <= len(self._leaves)):
            raise ValueError(f"tree size {size!r} outside 0..{len(self._leaves)}")
        return size

    def _perfect(self, lo: int, height: int) -> bytes:
        cached = self._levels.get(height)
        if cached is not None and lo % (1 << height) == 0:
            return cached[lo >> height]
        return _range_root(self._leaves, lo, lo + (1 << height))

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]): its perfect subtrees, largest first, folded from the right."""
        return _fold([self._perfect(start, h) for start, h in _blocks(lo, hi)])


def _blocks(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) as perfect subtrees (start, height), largest first: the RFC's left-perfect split, unrolled."""
    blocks = []
    while lo < hi:
        height = (hi - lo).bit_length() - 1
        blocks.append((lo, height))
        lo += 1 << height
    return blocks


def _fold(nodes: Sequence[bytes]) -> bytes:
    """Fold perfect subtree hashes, largest first, from the right: MTH of their concatenated leaves."""
    if not nodes:
        return EMPTY_ROOT
    r = nodes[-1]
    for left in reversed(nodes[:-1]):
        r = node_hash(left, r)
    return bytes(r)


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]), level by level; an odd node at the end of a level moves up unchanged."""
    if hi - lo <= 0:
        return EMPTY_ROOT
    level = leaves[lo:hi] if (lo, hi) != (0, len(leaves)) else leaves
    sha = _sha256
    while len(level) > 1:
        nxt = [sha(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2])]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return bytes(level[0])


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_hash(value: object) -> bool:
    return type(value) in _BYTE_TYPES and len(value) == HASH_SIZE


def _all_hashes(values: object) -> bool:
    return (isinstance(values, (list, tuple)) and set(map(type, values)) <= _BYTE_TYPES
            and set(map(len, values)) <= {HASH_SIZE})


def _check_hashes(leaves: Sequence[bytes]) -> None:
    if set(map(type, leaves)) - _BYTE_TYPES or set(map(len, leaves)) - {HASH_SIZE}:
        raise ValueError("leaves must be 32-byte leaf hashes")
