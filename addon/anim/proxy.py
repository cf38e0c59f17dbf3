# SPDX-License-Identifier: GPL-3.0-or-later
"""A simple coloured "body" for an armature, so renders show the alignment colouring.

Armatures (and their bone colours) are overlays: they never appear in a rendered image. :func:`add_proxy`
builds one mesh of capsule-like pieces (an 8-sided tube per bone, rigidly bound to it through a vertex
group and an Armature modifier), with one material per bone. Each material's viewport colour (what
Workbench renders with *Material* colouring) is driven by that pose bone's colour
(``pose.bones["<bone>"].color.custom.normal``), which the colouring animates from its NLA track, so the
body changes colour per time window in renders as it does in the viewport.
"""

from __future__ import annotations

import bmesh
import bpy
import numpy as np
from mathutils import Matrix

from ..errors import AddonError
from ..rna import armature, bone_colour, collection, pose

__all__ = ["PROXY_SUFFIX", "add_proxy"]

PROXY_SUFFIX = " body"


def _radius(name: str, length: float) -> float:
    n = name.lower()
    if "head" in n:
        return 0.085
    if any(k in n for k in ("pelvis", "spine", "hips", "chest")):
        return 0.1
    if "collar" in n or "clavicle" in n:
        return 0.035
    return float(np.clip(0.16 * length, 0.025, 0.065))


def _material(name: str, obj: bpy.types.Object, bone: str) -> bpy.types.Material:
    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    bone_colours = bone_colour(pose(obj).bones[bone])
    normal = bone_colours.custom.normal
    colour = (normal.r, normal.g, normal.b) if bone_colours.palette == "CUSTOM" else (0.6, 0.6, 0.6)
    mat.diffuse_color = (*colour, 1.0)
    mat.roughness = 0.6
    esc = bpy.utils.escape_identifier(bone)
    for i in range(3):
        mat.driver_remove("diffuse_color", i)
        fc = mat.driver_add("diffuse_color", i)
        drv = fc.driver
        if drv is None:
            raise AddonError(f"Blender made no driver for {name}.diffuse_color[{i}]")
        drv.type = "AVERAGE"
        var = drv.variables.new()
        var.name = "c"
        var.type = "SINGLE_PROP"
        var.targets[0].id_type = "OBJECT"
        var.targets[0].id = obj
        var.targets[0].data_path = f'pose.bones["{esc}"].color.custom.normal[{i}]'
    return mat


def add_proxy(
    context: bpy.types.Context, obj: bpy.types.Object, bones: list[str] | None = None
) -> bpy.types.Object:
    """Build (or rebuild) the coloured body of armature ``obj``.

    Args:
        context: current context (the body goes into the armature's first collection).
        obj: armature object.
        bones: bones that get a piece (default: all deforming bones).

    Returns:
        The body mesh object, parented to ``obj`` with an Armature modifier.
    """
    name = obj.name + PROXY_SUFFIX
    old = bpy.data.objects.get(name)
    if old is not None:
        bpy.data.objects.remove(old)
    bm = bmesh.new()
    groups: list[tuple[str, list[int]]] = []
    materials: list[bpy.types.Material] = []
    arm_bones = armature(obj).bones
    wanted = bones or [b.name for b in arm_bones if b.use_deform]
    for index, bone_name in enumerate(wanted):
        bone = arm_bones[bone_name]
        head, tail = bone.head_local.copy(), bone.tail_local.copy()
        length = max((tail - head).length, 1e-3)
        if "head" in bone_name.lower():
            tail = head + (tail - head).normalized() * max(length, 0.2)
            length = (tail - head).length
        radius = _radius(bone_name, length)
        before = len(bm.verts)
        bmesh.ops.create_cone(bm, cap_ends=True, cap_tris=False, segments=8, radius1=radius, radius2=radius * 0.8,
                              depth=length, matrix=Matrix.Identity(4))  # fmt: skip
        bm.verts.ensure_lookup_table()
        new = [bm.verts[i] for i in range(before, len(bm.verts))]
        # the cone is centred on the origin along +Z: move it onto the bone (Y axis of matrix_local)
        place = (
            bone.matrix_local
            @ Matrix.Translation((0.0, length / 2.0, 0.0))
            @ Matrix.Rotation(-np.pi / 2, 4, "X")
        )
        bmesh.ops.transform(bm, matrix=place, verts=new)
        for face in {f for v in new for f in v.link_faces}:
            face.material_index = index
            face.smooth = True
        groups.append((bone_name, [v.index for v in new]))
        materials.append(_material(f"MS {obj.name} {bone_name}", obj, bone_name))
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    body = bpy.data.objects.new(name, mesh)
    (obj.users_collection[0] if obj.users_collection else collection(context)).objects.link(body)
    for mat in materials:
        mesh.materials.append(mat)
    for bone_name, verts in groups:
        vg = body.vertex_groups.new(name=bone_name)
        vg.add(verts, 1.0, "REPLACE")
    body.parent = obj
    body.matrix_parent_inverse = Matrix.Identity(4)
    body.matrix_basis = Matrix.Identity(4)
    mod = body.modifiers.new("Armature", "ARMATURE")
    if not isinstance(mod, bpy.types.ArmatureModifier):
        raise AddonError(f"Blender made a {type(mod).__name__} for an Armature modifier")
    mod.object = obj
    return body
