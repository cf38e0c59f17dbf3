"""Contract of ``addon/posing.py`` (joints -> pose-bone ``matrix_basis``), on real clips.

* With ``exact_heads`` the forward evaluation of the solved bases puts every head on its joint (float
  precision), whatever the bone-length variation of the data.
* Without it, every aimed bone still points exactly at its child joint, and ``location_residual`` is the
  head error that remains; it is sub-millimetre for rigid data (Bandai) and centimetres for clips whose
  joints are interpolated between source bones (CMU), which is why the importer keys locations then.
* Quaternions are unit, sign-continuous and reproduce the rotations.
* ``swing_matrices`` gives rotations that map a onto b, including opposite vectors.
* Retargeting onto a rig with other proportions and extra / unmapped bones keeps every mapped bone
  pointing at its target direction and scales the root.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from addon import posing as po
from addon import skeleton as sk


def _rest_matrices(heads: np.ndarray, tails: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rest ``matrix_local``: Y along head->tail, an arbitrary (random) roll about it."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(heads), 4, 4))
    for i, (h, t) in enumerate(zip(heads, tails)):
        y = (t - h) / np.linalg.norm(t - h)
        helper = rng.normal(size=3)
        x = np.cross(y, helper)
        x /= np.linalg.norm(x)
        out[i, :3, :3] = np.stack([x, y, np.cross(x, y)], axis=-1)
        out[i, :3, 3] = h
        out[i, 3, 3] = 1.0
    return out


def _own_rig(joints: np.ndarray) -> po.RigSpec:
    names, parents = list(sk.SMPL_JOINT_NAMES), list(sk.SMPL_PARENTS)
    rest = sk.tpose_rest(joints, names, parents)
    aims = sk.aim_children(names, parents)
    tails = np.array(
        [rest[a] if a >= 0 else rest[i] + 0.05 * (rest[i] - rest[parents[i]]) for i, a in enumerate(aims)]
    )
    return po.RigSpec(names, parents, _rest_matrices(rest, tails), list(range(22)))


@pytest.mark.parametrize("clip", ["wave_zup", "hop_zup"])
def test_exact_heads_land_on_joints(clip: str, request: pytest.FixtureRequest) -> None:
    joints = request.getfixturevalue(clip)
    spec = _own_rig(joints)
    basis, pose = po.solve_pose(spec, joints, sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    np.testing.assert_allclose(pose[:, :, :3, 3], joints, atol=1e-9)
    evaluated = po.forward_pose(spec, basis)
    np.testing.assert_allclose(evaluated, pose, atol=1e-9)
    np.testing.assert_allclose(
        basis[:, :, 3], np.broadcast_to([0, 0, 0, 1.0], basis[:, :, 3].shape), atol=1e-12
    )


def test_residual_without_location_keys(wave_zup: np.ndarray, hop_zup: np.ndarray) -> None:
    """Rotations alone leave at least half of the largest bone-length variation (fixed rest lengths)."""
    for joints in (wave_zup, hop_zup):
        spec = _own_rig(joints)
        basis, _ = po.solve_pose(spec, joints, sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
        residual = po.location_residual(spec, basis, joints)
        spread = max(np.ptp(np.linalg.norm(joints[:, i] - joints[:, p], axis=-1))
                     for i, p in enumerate(sk.SMPL_PARENTS) if p >= 0)  # fmt: skip
        assert residual >= spread / 2 - 1e-9
        assert residual < 0.1
    spec = _own_rig(hop_zup)
    basis, _ = po.solve_pose(spec, hop_zup, sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    assert po.location_residual(spec, basis, hop_zup) > 0.005  # CMU joints interpolated between source bones


def test_aimed_bones_point_at_their_child(hop_zup: np.ndarray) -> None:
    spec = _own_rig(hop_zup)
    _, pose = po.solve_pose(spec, hop_zup, sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS, exact_heads=False)
    aims = sk.aim_children(sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    rest_head = spec.rest[:, :3, 3]
    for b, a in enumerate(aims):
        if a < 0:
            continue
        rest_vec = np.linalg.inv(spec.rest[b, :3, :3]) @ (rest_head[a] - rest_head[b])  # in bone space
        now = pose[:, b, :3, :3] @ rest_vec
        want = hop_zup[:, a] - hop_zup[:, b]
        cos = np.sum(now * want, -1) / np.linalg.norm(now, axis=-1) / np.linalg.norm(want, axis=-1)
        assert cos.min() > 1 - 1e-9, sk.SMPL_JOINT_NAMES[b]
    np.testing.assert_allclose(pose[:, 0, :3, 3], hop_zup[:, 0], atol=1e-12)  # root carries the travel


def test_quaternions_roundtrip_and_are_continuous(wave_zup: np.ndarray) -> None:
    spec = _own_rig(wave_zup)
    basis, _ = po.solve_pose(spec, wave_zup, sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    for b in range(22):
        q = po.matrices_to_quaternions(basis[:, b, :3, :3])
        np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
        assert np.all(np.sum(q[1:] * q[:-1], axis=-1) >= 0)
        np.testing.assert_allclose(po.quaternions_to_matrices(q), basis[:, b, :3, :3], atol=1e-9)


def test_swing_matrices() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 3))
    b = rng.normal(size=(200, 3))
    b[:5] = -a[:5] * 2.0  # opposite
    b[5:10] = a[5:10] * 3.0  # parallel
    r = po.swing_matrices(a, b)
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(3), r.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)
    ra = np.einsum("nij,nj->ni", r, a / np.linalg.norm(a, axis=-1, keepdims=True))
    np.testing.assert_allclose(ra, b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-9)
    np.testing.assert_allclose(r[5:10], np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-9)
    np.testing.assert_allclose(po.swing_matrices(np.zeros((1, 3)), b[:1])[0], np.eye(3))


def test_retarget_onto_a_different_rig(hop_zup: np.ndarray) -> None:
    """A rig 1.3x larger, with an extra root bone, a twist bone in each forearm and no collars mapped."""
    names, parents = list(sk.SMPL_JOINT_NAMES), list(sk.SMPL_PARENTS)
    rest = sk.tpose_rest(hop_zup, names, parents) * 1.3
    bone_heads = [np.zeros(3)] + list(rest)
    bone_parents = [-1] + [p + 1 for p in parents]
    bone_joint = [-1] + list(range(22))
    for side in ("left", "right"):  # a twist bone between elbow and wrist
        e, w = names.index(f"{side}_elbow") + 1, names.index(f"{side}_wrist") + 1
        bone_heads.append((bone_heads[e] + bone_heads[w]) / 2)
        bone_parents.append(e)
        bone_joint.append(-1)
        bone_parents[w] = len(bone_heads) - 1
    for side in ("left", "right"):
        bone_joint[names.index(f"{side}_collar") + 1] = -1
    heads = np.array(bone_heads)
    tails = heads + np.array([0.0, 0.0, 0.1])
    spec = po.RigSpec(
        [f"b{i}" for i in range(len(heads))], bone_parents, _rest_matrices(heads, tails, 3), bone_joint
    )
    basis, pose = po.solve_pose(spec, hop_zup, names, parents, exact_heads=False, root_scale=1.3)
    np.testing.assert_allclose(po.forward_pose(spec, basis), pose, atol=1e-9)
    np.testing.assert_allclose(pose[:, 1, :3, 3], 1.3 * hop_zup[:, 0], atol=1e-9)
    for j in ("left_shoulder", "right_knee", "spine1", "neck"):
        jj = names.index(j)
        c = sk.aim_children(names, parents)[jj]
        now = pose[:, bone_joint.index(c), :3, 3] - pose[:, bone_joint.index(jj), :3, 3]
        want = hop_zup[:, c] - hop_zup[:, jj]
        cos = np.sum(now * want, -1) / np.linalg.norm(now, axis=-1) / np.linalg.norm(want, axis=-1)
        assert cos.min() > 1 - 1e-9, j


def test_bad_input() -> None:
    spec = po.RigSpec(["a"], [-1], np.eye(4)[None], [0])
    with pytest.raises(po.MotionDataError, match="shape"):
        po.solve_pose(spec, np.zeros((3, 21, 3)), sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    with pytest.raises(po.MotionDataError, match="inconsistent"):
        po.solve_pose(po.RigSpec(["a", "b"], [-1, 0], np.eye(4)[None], [0, 1]), np.zeros((3, 22, 3)),
                      sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)  # fmt: skip


def test_doctests() -> None:
    assert doctest.testmod(po).failed == 0
