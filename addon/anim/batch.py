# SPDX-License-Identifier: GPL-3.0-or-later
"""Actions of armatures -> sampled clips for ``POST /library``; FBX / BVH files sampled in a clean scene.

* :func:`sample_action` samples one action on an armature through its bone map with the sampler of
  Describe (``anim/sample.py``): the action is made the active one for the time of the sampling (NLA off,
  so only that action plays) and the armature's own action, slot and NLA setting are put back.
* :func:`file_actions` enumerates the actions of the open file that animate an armature's bones: each on the
  armature that plays it, the others on a chosen armature when its bones fit them.
* :func:`sample_file` imports an ``.fbx`` / ``.bvh`` with Blender's own importer into a new, empty scene,
  samples every action it brought for each armature, and removes everything the import created (objects,
  armatures, actions, meshes, materials, images, collections, the scene itself), even when it fails.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bpy

from ..errors import AddonError
from ..rna import armature, preferences, scene, slotted
from ..state import armature_mapping
from .action import action_fcurves, assign_action, is_slotted
from .motion import scene_fps
from .sample import SampledMotion, sample_joints

__all__ = [
    "MAX_SECONDS",
    "FileImportError",
    "SampledClip",
    "action_bones",
    "file_actions",
    "isolated_scene",
    "sample_action",
    "sample_file",
]

#: longest clip the backend takes (seconds); longer actions are refused before sampling
MAX_SECONDS = 600.0
#: pose-bone channels that move a bone (colour channels of the alignment colouring do not count)
_MOTION_PROPS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")
#: Blender's importers: file kind -> (operator path, the add-on that provides it, keyword arguments)
_IMPORTERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "bvh": ("import_anim.bvh", "io_anim_bvh", {"update_scene_fps": True, "update_scene_duration": True,
                                                "rotate_mode": "NATIVE", "axis_forward": "-Z", "axis_up": "Y"}),
    "fbx": ("import_scene.fbx", "io_scene_fbx", {"use_anim": True}),
}  # fmt: skip


class FileImportError(AddonError):
    """Blender's importer failed on a file, or it held nothing that can be sampled (names the reason)."""


@dataclass
class SampledClip:
    """One sampled action: its name (for the clip id and caption) and the joints."""

    name: str
    motion: SampledMotion


def action_bones(action: bpy.types.Action) -> set[str]:
    """Names of the pose bones ``action`` moves (location / rotation / scale channels)."""
    out = set()
    for fc in action_fcurves(action):
        path = fc.data_path
        if path.startswith('pose.bones["') and path.rsplit(".", 1)[-1] in _MOTION_PROPS:
            out.add(path.split('"')[1])
    return out


def _restore(
    ad: bpy.types.AnimData, action: bpy.types.Action | None, slot_handle: int | None, use_nla: bool
) -> None:
    if action is None:
        ad.action = None
    else:
        if ad.action != action:
            ad.action = action
        current = slotted(ad).action_slot if slot_handle is not None else None
        if slot_handle is not None and (current is None or current.handle != slot_handle):
            slot = next((s for s in slotted(action).slots if s.handle == slot_handle), None)
            if slot is not None:
                slotted(ad).action_slot = slot
    ad.use_nla = use_nla


def sample_action(
    context: bpy.types.Context, obj: bpy.types.Object, action: bpy.types.Action, mapping: dict[str, str]
) -> SampledMotion:
    """Sample ``action`` played on armature ``obj`` (its frame range, at the scene's frame rate).

    Raises:
        RigMapError: joints neither mapped nor derivable (all listed).
        MotionDataError: the action is longer than the backend's 10 minutes.
    """
    fps = scene_fps(scene(context))
    start, end = action.frame_range[0], action.frame_range[1]
    if (end - start) / fps > MAX_SECONDS:
        raise FileImportError(
            f"action {action.name!r} lasts {(end - start) / fps:.0f} s; the library takes at most {MAX_SECONDS:g} s"
        )
    ad = obj.animation_data or obj.animation_data_create()
    old = ad.action
    old_slot = (
        slotted(ad).action_slot.handle
        if old is not None and is_slotted(old) and slotted(ad).action_slot
        else None
    )
    use_nla = ad.use_nla
    try:
        assign_action(obj, action)
        ad.use_nla = False
        return sample_joints(context, obj, mapping, max_frames=math.ceil(MAX_SECONDS * fps) + 1)
    finally:
        _restore(ad, old, old_slot, use_nla)


def file_actions(
    chosen: bpy.types.Object | None = None,
) -> tuple[list[tuple[bpy.types.Object, bpy.types.Action]], list[tuple[str, str]]]:
    """Every action of the open file that moves armature bones, paired with the armature to play it on.

    An action plays on the armature that has it as its active action; any other one on ``chosen`` when every
    bone it moves exists there.

    Returns:
        ``(pairs, skipped)``: ``(armature, action)`` pairs, and ``(action name, reason)`` for the others.
    """
    owners: dict[str, bpy.types.Object] = {}
    for obj in bpy.data.objects:
        ad = obj.animation_data
        if obj.type == "ARMATURE" and ad is not None and ad.action is not None:
            owners.setdefault(ad.action.name, obj)
    pairs, skipped = [], []
    for action in bpy.data.actions:
        bones = action_bones(action)
        if not bones:
            continue  # object, shape-key or colour actions: not a body motion
        owner = owners.get(action.name)
        if owner is None and chosen is not None and chosen.type == "ARMATURE":
            missing = bones - set(armature(chosen).bones.keys())
            if not missing:
                owner = chosen
            else:
                why = f"moves {len(missing)} bones {chosen.name!r} lacks (e.g. {min(missing)!r})"
                skipped.append((action.name, why))
                continue
        if owner is None:
            skipped.append((action.name, "no armature plays it (select one to play it on)"))
            continue
        pairs.append((owner, action))
    return pairs, skipped


def _id_collections() -> list[str]:
    """Names of ``bpy.data``'s ID collections an importer may add to."""
    skip = {"window_managers", "workspaces", "screens", "libraries"}
    return [
        p.identifier
        for p in bpy.types.BlendData.bl_rna.properties
        if p.type == "COLLECTION" and p.identifier not in skip
    ]


@contextlib.contextmanager
def isolated_scene(
    context: bpy.types.Context, name: str = "Motion Search import"
) -> Iterator[bpy.types.Scene]:
    """A new empty scene shown in the window while the block runs; afterwards the window's scene is put back
    and every data-block created meanwhile (the scene included) is removed."""
    before = {attr: {i.as_pointer() for i in getattr(bpy.data, attr)} for attr in _id_collections()}
    window = context.window
    keep = window.scene if window is not None else None
    scene = bpy.data.scenes.new(name)
    try:
        if window is not None:
            window.scene = scene
        with context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            yield scene
    finally:
        if window is not None and keep is not None:
            window.scene = keep
        new = [
            item
            for attr, old in before.items()
            for item in getattr(bpy.data, attr)
            if item.as_pointer() not in old
        ]
        bpy.data.batch_remove(new)


def _run_importer(kind: str, path: str) -> None:
    op_path, module, kwargs = _IMPORTERS[kind]
    if module not in preferences().addons:
        raise FileImportError(
            f"Blender's {kind.upper()} importer is disabled: enable the add-on {module!r} in Preferences > Add-ons"
        )
    group, name = op_path.split(".")
    operator = getattr(getattr(bpy.ops, group), name)
    try:
        result = operator(filepath=path, **kwargs)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise FileImportError(
            f"Blender's {kind.upper()} importer failed: {lines[-1] if lines else exc}"
        ) from None
    if "FINISHED" not in result:
        raise FileImportError(f"Blender's {kind.upper()} importer did not finish ({', '.join(result)})")


def sample_file(context: bpy.types.Context, path: str, kind: str, stem: str) -> list[SampledClip]:
    """Import ``path`` (``kind`` ``"fbx"`` / ``"bvh"``) in a clean scene and sample each of its actions.

    Clips are named ``stem`` (one action), else ``stem`` plus the action's name.

    Raises:
        FileImportError: the importer failed, or the file has no animated armature.
        RigMapError: an armature whose bones cannot be mapped onto the 22 joints (joints listed).
    """
    with isolated_scene(context) as scene:
        before = {a.as_pointer() for a in bpy.data.actions}
        _run_importer(kind, path)
        arms = [o for o in scene.objects if o.type == "ARMATURE"]
        if not arms:
            raise FileImportError("the file holds no armature")
        ctx = bpy.context
        jobs: list[tuple[bpy.types.Object, bpy.types.Action]] = []
        for obj in arms:
            bones = set(armature(obj).bones.keys())
            for action in bpy.data.actions:
                moved = action_bones(action)
                if action.as_pointer() not in before and moved and moved <= bones:
                    jobs.append((obj, action))
        if not jobs:
            raise FileImportError("the file's armature has no animation")
        out = []
        for obj, action in jobs:
            name = stem if len(jobs) == 1 else f"{stem}_{action.name}"
            out.append(SampledClip(name, sample_action(ctx, obj, action, armature_mapping(obj, store=False))))
        return out
