import hashlib

import pytest

from audit.merkle import (EMPTY_ROOT, MerkleFrontier, MerkleTree, consistency_proof, inclusion_proof, leaf_hash,
                          node_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion)


# --- A naive reference, straight from the definitions of RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 -----------------------

def ref_k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d):
    """MTH over raw leaf hashes (the leaf hashing is already done)."""
    if len(d) == 0:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = ref_k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m, d):
    if len(d) == 1:
        return []
    k = ref_k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m, d):
    return ref_subproof(m, d, True)


LEAVES = [leaf_hash(f"sha256:{hashlib.sha256(str(i).encode()).hexdigest()}".encode()) for i in range(300)]
ROOTS = [ref_mth(LEAVES[:n]) for n in range(301)]


def flip(h, bit):
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


# --- Known answers -----------------------------------------------------------------------------------------------

# The Certificate Transparency reference test data (certificate-transparency merkle_tree_test, also used by
# transparency-dev/merkle): eight entries, the tree head at every size 0..8, and proofs in the 8-leaf tree.
CT_ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}


def test_empty_tree_is_sha256_of_nothing():
    assert root_from_leaf_hashes([]).hex() == hashlib.sha256(b"").hexdigest() == \
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT == ref_mth([]) == MerkleFrontier().root()


def test_leaf_and_node_hashes_use_the_domain_separation_prefixes():
    a, b = b"\xaa" * 32, b"\xbb" * 32
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(b"") == bytes.fromhex(CT_ROOTS[1])


def test_certificate_transparency_reference_roots():
    leaves = [leaf_hash(e) for e in CT_ENTRIES]
    for n in range(9):
        assert root_from_leaf_hashes(leaves[:n]).hex() == CT_ROOTS[n] == ref_mth(leaves[:n]).hex()


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_certificate_transparency_reference_inclusion_proofs(index, size):
    leaves = [leaf_hash(e) for e in CT_ENTRIES]
    proof = inclusion_proof(leaves, index, size)
    assert [p.hex() for p in proof] == CT_INCLUSION[index, size]
    assert verify_inclusion(leaves[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new"), sorted(CT_CONSISTENCY))
def test_certificate_transparency_reference_consistency_proofs(old, new):
    leaves = [leaf_hash(e) for e in CT_ENTRIES]
    proof = consistency_proof(leaves, old, new)
    assert [p.hex() for p in proof] == CT_CONSISTENCY[old, new]
    assert verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), proof)


# --- Cross-checks against the reference ---------------------------------------------------------------------------

def test_roots_match_the_reference_for_every_size():
    for n in range(301):
        assert root_from_leaf_hashes(LEAVES[:n]) == ROOTS[n]


def test_inclusion_proofs_match_the_reference_and_verify():
    for n in range(1, 71):
        for i in range(n):
            proof = inclusion_proof(LEAVES, i, n)
            assert proof == ref_path(i, LEAVES[:n]), (i, n)
            assert verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n]), (i, n)
            assert verify_inclusion(LEAVES[i], i, n, tuple(proof), ROOTS[n])


def test_consistency_proofs_match_the_reference_and_verify():
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = consistency_proof(LEAVES, m, n)
            assert proof == ref_proof(m, LEAVES[:n]), (m, n)
            assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof), (m, n)


@pytest.mark.parametrize("cache_height", [0, 1, 2, 3, 8])
def test_merkle_tree_cache_gives_the_reference_answers_for_every_prefix(cache_height):
    tree = type("Tree", (MerkleTree,), {"CACHE_HEIGHT": cache_height})(LEAVES[:70])
    assert len(tree) == 70 and tree.root() == ROOTS[70]
    for n in range(71):
        assert tree.root(n) == ROOTS[n] and tree.frontier(n).root() == ROOTS[n]
        for i in range(n):
            assert tree.inclusion_proof(i, n) == ref_path(i, LEAVES[:n]), (i, n)
        for m in range(1, min(n, 40) + 1):
            assert tree.consistency_proof(m, n) == ref_proof(m, LEAVES[:n]), (m, n)
    with pytest.raises(ValueError):
        tree.root(71)
    with pytest.raises(ValueError):
        tree.inclusion_proof(70)


def test_merkle_tree_with_its_default_cache_over_a_larger_tree():
    tree = MerkleTree(LEAVES)
    for n in (255, 256, 257, 299, 300):
        assert tree.root(n) == ROOTS[n] == tree.frontier(n).root()
        for i in (0, 1, 127, 128, 254, n - 1):
            assert tree.inclusion_proof(i, n) == inclusion_proof(LEAVES, i, n) == ref_path(i, LEAVES[:n])
        for m in (1, 3, 128, 200, 255, 256, n):
            if m <= n:
                assert tree.consistency_proof(m, n) == ref_proof(m, LEAVES[:n]), (m, n)


# --- Rejections ---------------------------------------------------------------------------------------------------

def test_tampered_inclusion_proofs_are_rejected():
    for n in range(1, 71):
        for i in range(n):
            proof, leaf, root = inclusion_proof(LEAVES, i, n), LEAVES[i], ROOTS[n]
            for j in range(len(proof)):
                for bit in (0, (i * 31 + j * 7) % 256, 255):
                    bad = proof[:j] + [flip(proof[j], bit)] + proof[j + 1:]
                    assert not verify_inclusion(leaf, i, n, bad, root)
            assert not verify_inclusion(flip(leaf, i % 256), i, n, proof, root)
            assert not verify_inclusion(leaf, i, n, proof, flip(root, 100))
            every = n <= 40  # all wrong indices and sizes up to 40, a sample of the likeliest above
            for wrong in range(-1, n + 1) if every else {-1, 0, i - 1, i + 1, i ^ 1, n - 1, n}:
                assert wrong == i or not verify_inclusion(leaf, wrong, n, proof, root), (i, n, wrong)
            for wrong in range(1, n + 4) if every else {1, n - 1, n + 1, n + 2, i + 1, 2 * i}:
                if 0 < wrong != n:  # with the head of the size claimed
                    assert not verify_inclusion(leaf, i, wrong, proof, ROOTS[wrong]), (i, n, wrong)
            assert not verify_inclusion(leaf, i, n, proof + [LEAVES[0]], root)
            assert not verify_inclusion(leaf, i, n, proof + [proof[-1] if proof else leaf], root)
            if proof:
                assert not verify_inclusion(leaf, i, n, proof[:-1], root)
                assert not verify_inclusion(leaf, i, n, proof[1:], root)
                assert not verify_inclusion(proof[0], i, n, proof, root)
            if len(proof) >= 2:
                assert not verify_inclusion(leaf, i, n, [proof[1], proof[0]] + proof[2:], root)


def test_tampered_consistency_proofs_are_rejected():
    for n in range(2, 41):
        for m in range(1, n):
            proof, old, new = consistency_proof(LEAVES, m, n), ROOTS[m], ROOTS[n]
            assert proof
            for j in range(len(proof)):
                for bit in (0, (m * 31 + j * 7) % 256, 255):
                    bad = proof[:j] + [flip(proof[j], bit)] + proof[j + 1:]
                    assert not verify_consistency(m, n, old, new, bad)
            assert not verify_consistency(m, n, new, old, proof)
            assert not verify_consistency(m, n, flip(old, 3), new, proof)
            assert not verify_consistency(m, n, old, flip(new, 3), proof)
            assert not verify_consistency(m, n, old, new, proof[:-1])
            assert not verify_consistency(m, n, old, new, proof[1:])
            assert not verify_consistency(m, n, old, new, proof + [LEAVES[0]])
            assert not verify_consistency(m, n, old, new, proof + [proof[-1]])
            assert not verify_consistency(n, m, new, old, proof)
            if len(proof) >= 2:
                assert not verify_consistency(m, n, old, new, [proof[1], proof[0]] + proof[2:])
            for wrong_m in range(1, n + 1):  # with the heads of the sizes claimed
                assert wrong_m == m or not verify_consistency(wrong_m, n, ROOTS[wrong_m], new, proof), (m, n)
            for wrong_n in range(m + 1, n + 4):
                assert wrong_n == n or not verify_consistency(m, wrong_n, old, ROOTS[wrong_n], proof), (m, n)


def test_consistency_edge_cases():
    root4, root5 = ROOTS[4], ROOTS[5]
    assert consistency_proof(LEAVES, 4, 4) == []
    assert verify_consistency(4, 4, root4, root4, [])
    assert not verify_consistency(4, 4, root4, root5, [])
    assert not verify_consistency(4, 4, root4, root4, [root4])
    # RFC 9162 2.1.4.2 needs 0 < first: there is no proof from the empty tree, not even an empty one.
    assert not verify_consistency(0, 5, EMPTY_ROOT, root5, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root5, [root5])
    assert not verify_consistency(-1, 5, EMPTY_ROOT, root5, [])
    assert not verify_consistency(4, 5, root4, root5, [])  # an empty path always fails (step 1)
    for m in (1, 2, 4, 8, 16, 32):  # powers of two: the old root is not in the proof, it is prepended
        proof = consistency_proof(LEAVES, m, 40)
        assert ROOTS[m] not in proof and verify_consistency(m, 40, ROOTS[m], ROOTS[40], proof)
        assert not verify_consistency(m, 40, ROOTS[m], ROOTS[40], [ROOTS[m]] + proof)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES, 0, 5)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES, 6, 5)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES[:5], 2, 6)


def test_inclusion_edge_cases():
    assert inclusion_proof(LEAVES, 0, 1) == []
    assert verify_inclusion(LEAVES[0], 0, 1, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(LEAVES[0], 1, 1, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], 0, 2, [], ROOTS[2])
    for args in ((0, 0), (3, 3), (-1, 3), (0, len(LEAVES) + 1)):
        with pytest.raises(ValueError):
            inclusion_proof(LEAVES, *args)
    with pytest.raises(ValueError):
        root_from_leaf_hashes([b"x" * 31])


def test_malformed_inputs_do_not_verify():
    proof, root = inclusion_proof(LEAVES, 3, 10), ROOTS[10]
    assert verify_inclusion(LEAVES[3], 3, 10, proof, root)
    assert not verify_inclusion(LEAVES[3][:31], 3, 10, proof, root)
    assert not verify_inclusion(LEAVES[3], 3, 10, proof, root.hex())
    assert not verify_inclusion(LEAVES[3], 3, 10, [proof[0] + b"\x00"] + proof[1:], root)
    assert not verify_inclusion(LEAVES[3], 3, 10, b"".join(proof), root)
    assert not verify_inclusion(LEAVES[3], True, 10, proof, root)
    assert not verify_inclusion(LEAVES[3], 3.0, 10, proof, root)
    cproof = consistency_proof(LEAVES, 6, 10)
    assert not verify_consistency(6, 10, ROOTS[6][:31], root, cproof)
    assert not verify_consistency(6, 10, ROOTS[6], root, [p.hex() for p in cproof])


# --- Frontier -----------------------------------------------------------------------------------------------------

def test_frontier_root_matches_the_batch_root_for_every_size():
    frontier = MerkleFrontier()
    assert frontier.size == 0 and frontier.root() == ROOTS[0] and frontier.to_list() == []
    for n in range(1, 301):
        frontier.append(LEAVES[n - 1])
        assert frontier.size == n
        assert frontier.root() == ROOTS[n] == root_from_leaf_hashes(LEAVES[:n])
        assert len(frontier.to_list()) == bin(n).count("1")


def test_frontier_survives_a_round_trip_and_keeps_growing():
    for n in range(301):
        saved = MerkleFrontier.from_leaf_hashes(LEAVES[:n])
        state = (saved.size, saved.to_list())
        assert all(isinstance(h, str) and len(h) == 64 for h in state[1])
        restored = MerkleFrontier.from_list(*state)
        assert restored.size == n and restored.root() == ROOTS[n] and restored.to_list() == state[1]
        restored.extend(LEAVES[n:n + 7])
        assert restored.root() == ROOTS[min(n + 7, 300)]
    as_bytes = [bytes.fromhex(h) for h in MerkleFrontier.from_leaf_hashes(LEAVES[:5]).to_list()]
    assert MerkleFrontier.from_list(5, as_bytes).root() == ROOTS[5]


def test_next_checkpoint_from_the_previous_frontier_and_only_the_new_leaves():
    state = None
    for size in (0, 1, 7, 8, 64, 100, 129, 255, 256, 300):
        frontier = MerkleFrontier() if state is None else MerkleFrontier.from_list(*state)
        frontier.extend(LEAVES[frontier.size:size])
        assert frontier.root() == ROOTS[size]
        state = (frontier.size, frontier.to_list())


def test_frontier_from_list_refuses_a_frontier_of_another_size():
    hashes = MerkleFrontier.from_leaf_hashes(LEAVES[:6]).to_list()  # 6 = 4 + 2: two subtrees
    # The size must be saved with the hashes: only its number of set bits can be checked (5 = 4 + 1 would pass).
    for bad in ((4, hashes), (7, hashes), (6, hashes[:1]), (6, hashes + hashes[:1]), (-1, []),
                (6, [hashes[0], hashes[1][:62]])):
        with pytest.raises(ValueError):
            MerkleFrontier.from_list(*bad)
    with pytest.raises(ValueError):
        MerkleFrontier().append(b"short")
