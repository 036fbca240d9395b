"""Merkle tree timings over audit-style leaves ("sha256:<64 hex>", 71 bytes each).

    .venv/bin/python bench/merkle_bench.py              # 1,000,000 leaves
    .venv/bin/python bench/merkle_bench.py --leaves 100000 --verifications 20000

Prints wall-clock figures (best of --runs for the one-shot timings, averages for the per-call ones) and, at the end,
the process CPU time; asserts only that the proofs it builds verify and agree.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audit.merkle import (MerkleFrontier, MerkleTree, consistency_proof, inclusion_proof,  # noqa: E402
                          leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion)


def best(runs, fn):
    """Best wall time of `runs` calls (the machine may be shared: the best run is the least disturbed one)."""
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def per_call(k, fn):
    t0 = time.perf_counter()
    for i in range(k):
        fn(i)
    return (time.perf_counter() - t0) / k


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--verifications", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n, runs = args.leaves, args.runs

    entries = [f"sha256:{hashlib.sha256(i.to_bytes(8, 'big')).hexdigest()}".encode() for i in range(n)]
    t, leaves = best(runs, lambda: [leaf_hash(e) for e in entries])
    print(f"leaf_hash x {n:,} ({len(entries[0])}-byte entries): {t:.3f} s")
    t, root = best(runs, lambda: root_from_leaf_hashes(leaves))
    print(f"root_from_leaf_hashes({n:,}): {t:.3f} s")

    index, old = n * 2 // 3 + 1, n // 3 + 7
    t, proof = best(runs, lambda: inclusion_proof(leaves, index, n))
    print(f"inclusion_proof(index={index:,}, size={n:,}): {t * 1000:.0f} ms, {len(proof)} hashes")
    t, cproof = best(runs, lambda: consistency_proof(leaves, old, n))
    print(f"consistency_proof({old:,} -> {n:,}): {t * 1000:.0f} ms, {len(cproof)} hashes")
    old_root = root_from_leaf_hashes(leaves[:old])
    assert verify_inclusion(leaves[index], index, n, proof, root)
    assert verify_consistency(old, n, old_root, root, cproof)

    t, tree = best(runs, lambda: MerkleTree(leaves))
    print(f"MerkleTree({n:,}) build: {t:.3f} s")
    assert tree.root() == root and tree.inclusion_proof(index) == proof and tree.consistency_proof(old) == cproof
    step = 7919  # a prime stride: indices and sizes all over the tree
    t = per_call(1000, lambda i: tree.inclusion_proof(i * step % n))
    print(f"MerkleTree.inclusion_proof (size {n:,}): {t * 1e6:.0f} µs each (avg of 1,000)")
    t = per_call(1000, lambda i: tree.consistency_proof(1 + i * step % (n - i), n - i))
    print(f"MerkleTree.consistency_proof (to sizes near {n:,}): {t * 1e6:.0f} µs each (avg of 1,000)")

    k = args.verifications
    proofs = [(i * step % n, tree.inclusion_proof(i * step % n)) for i in range(1000)]
    t = per_call(k, lambda i: verify_inclusion(leaves[proofs[i % 1000][0]], proofs[i % 1000][0], n,
                                               proofs[i % 1000][1], root))
    print(f"verify_inclusion (size {n:,}, {len(proof)} hashes): {t * 1e6:.1f} µs each (avg of {k:,})")
    t = per_call(k, lambda i: verify_consistency(old, n, old_root, root, cproof))
    print(f"verify_consistency ({len(cproof)} hashes): {t * 1e6:.1f} µs each (avg of {k:,})")

    t, frontier = best(runs, lambda: MerkleFrontier.from_leaf_hashes(leaves[:n - 1000]))
    print(f"MerkleFrontier.from_leaf_hashes({n - 1000:,}): {t:.3f} s")
    state = (frontier.size, frontier.to_list())

    def next_checkpoint():
        f = MerkleFrontier.from_list(*state)
        f.extend(leaves[n - 1000:])
        return f.root()

    t, next_root = best(runs, next_checkpoint)
    assert next_root == root
    print(f"next checkpoint from saved frontier + 1,000 new leaves: {t * 1000:.2f} ms")
    t, _ = best(1, lambda: MerkleFrontier().extend(leaves))
    print(f"MerkleFrontier.append x {n:,}: {t:.3f} s")
    print(f"(whole run: {time.perf_counter() - wall0:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
