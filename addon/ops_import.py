# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators: import the selected hit, or the picked hits in sequence, onto a new or the selected armature.

Clips are downloaded on a worker thread (``GET /motions/{id}``, plus ``POST /alignment`` when a single
import is coloured and its alignment has not arrived yet); building the armature and writing the keys
happens on the main thread in :func:`finish_import` / :func:`finish_sequence`, with a progress bar.

The import options come from the preferences (chosen in the Import panel, remembered there): whole clip or
matched segment ± margin, start at the scene start or the playhead, active action or new NLA strip,
mirrored. A sequence puts every picked hit on one NLA track, one after another with the chosen gap; on a
new armature the first clip builds the armature and the others are retargeted onto it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import bpy

from . import jobs
from .clipedit import mirror_alignment, segment_frames
from .errors import AddonError
from .payloads import Alignment, MotionData
from .preferences import snapshot
from .prefs import Prefs
from .results import alignment_to_json, make_client, show_error, show_words
from .rigmap import check_mapping
from .rna import armature, scene
from .state import armature_mapping, bone_map_dict, object_state, set_bone_map, set_status, state

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    from .anim.motion import ImportOptions

__all__ = [
    "SEQUENCE_TRACK",
    "ImportItem",
    "MOTIONSEARCH_OT_import",
    "MOTIONSEARCH_OT_import_sequence",
    "classes",
    "finish_import",
    "finish_sequence",
    "start_import",
]

#: NLA track that holds clips imported in sequence
SEQUENCE_TRACK = "Motion Search sequence"


@dataclass(frozen=True)
class ImportItem:
    """One clip to import (plain values, safe to hand to a worker).

    Attributes:
        motion_id: clip id.
        text: the query that found it ("" = no colouring).
        segment: its matched segment, seconds within the clip.
        alignment_json: its alignment, if already fetched.
        url: the backend serving it ("" = the one in the preferences).
    """

    motion_id: str
    text: str = ""
    segment: tuple[float, float] | None = None
    alignment_json: str = ""
    url: str = ""


def _undo_push(message: str) -> None:
    """Record an undo step for changes made from a timer callback (no-op without a window, e.g. headless)."""
    try:
        if bpy.ops.ed.undo_push.poll():  # type: ignore[call-arg]  # stubs: operators as classes, poll unbound
            bpy.ops.ed.undo_push(message=message)
    except RuntimeError:
        pass


def _target(target_name: str) -> bpy.types.Object | None:
    target = bpy.data.objects.get(target_name) if target_name else None
    if target_name and (target is None or target.type != "ARMATURE"):
        raise AddonError(f"the armature {target_name!r} to import onto no longer exists")
    return target


def _options(context: bpy.types.Context, motion: MotionData, item: ImportItem, prefs: Prefs) -> ImportOptions:
    """The :class:`~.anim.motion.ImportOptions` of one clip from the preference snapshot."""
    from .anim.motion import ImportOptions

    segment = item.segment if prefs.clip_range == "SEGMENT" else None
    frames = segment_frames(motion.joints.shape[0], motion.fps, segment, prefs.margin)
    sc = scene(context)
    start = sc.frame_current if prefs.start == "PLAYHEAD" else sc.frame_start
    return ImportOptions(
        frames=frames, mirror=prefs.mirror, frame_start=int(start), as_strip=prefs.place == "NLA"
    )


def _describe(result, prefs: Prefs) -> str:
    """What the status line says about where the keys went."""
    bits = [f"frames {result.frame_start}-{result.frame_end} at {result.fps:g} fps"]
    if result.strip is not None:
        bits.append(f"as the NLA strip {result.strip.name!r}")
    if prefs.mirror:
        bits.append("mirrored")
    return ", ".join(bits)


def finish_import(
    context: bpy.types.Context,
    motion: MotionData,
    *,
    alignment_json: str = "",
    text: str = "",
    target_name: str = "",
    colour: bool = True,
    item: ImportItem | None = None,
    prefs: Prefs | None = None,
) -> bpy.types.Object:
    """Main-thread part of an import: key the clip and (optionally) colour it by the hit's alignment.

    Args:
        context: current context.
        motion: the downloaded clip.
        alignment_json: the hit's alignment (JSON, may be empty; mirrored here for a mirrored import).
        text: the query that found the clip.
        target_name: name of an armature object to retarget onto ("" = new armature).
        colour: apply alignment colouring after the import.
        item: the hit (its segment, for a segment import).
        prefs: the import options (default: the plain import with root motion).

    Returns:
        The animated armature object (made active).
    """
    from .anim.colouring import apply_colouring
    from .anim.motion import import_motion

    prefs = prefs or Prefs()
    target = _target(target_name)
    mapping = None
    if target is not None:
        mapping = armature_mapping(target)
        check_mapping(mapping, [b.name for b in armature(target).bones], need_all=False)
    options = _options(context, motion, item or ImportItem(motion.id), prefs)
    result = import_motion(
        context, motion, target=target, mapping=mapping, root_motion=prefs.root_motion, options=options
    )
    obj = result.obj
    if target is None:
        set_bone_map(obj, {n: n for n in motion.joint_names})
    if alignment_json and prefs.mirror:
        alignment_json = json.dumps(mirror_alignment(json.loads(alignment_json)), separators=(",", ":"))
    ost = object_state(obj)
    ost.text, ost.alignment_json = text, alignment_json
    if colour and alignment_json:
        alignment = Alignment.from_json(json.loads(alignment_json))
        ad = obj.animation_data or obj.animation_data_create()
        keep = ad.action if options.as_strip else None
        if options.as_strip and keep is not None:
            ad.action = None  # key types only ever go on the imported keys, never on the user's action
        try:
            apply_colouring(obj, alignment, bone_map_dict(obj), result.clip_origin, result.fps, text=text)
        finally:
            if keep is not None:
                ad.action = keep
        show_words(alignment)
    _undo_push(f"Import motion {motion.id}")
    set_status(f"imported {motion.id} onto {obj.name}: {_describe(result, prefs)}")
    return obj


def finish_sequence(
    context: bpy.types.Context,
    motions: list[MotionData],
    items: list[ImportItem],
    target_name: str,
    prefs: Prefs,
) -> bpy.types.Object:
    """Main-thread part of a sequence import: every clip as a strip on one NLA track, ``prefs.gap`` apart.

    Returns:
        The animated armature object.
    """
    from .anim.colouring import remove_colouring
    from .anim.motion import import_motion

    target = _target(target_name)
    plans = [_options(context, m, it, prefs) for m, it in zip(motions, items, strict=True)]
    first = plans[0].frame_start
    if target is not None and object_state(target).colouring:
        remove_colouring(target)
    obj = target
    track = SEQUENCE_TRACK
    if obj is not None and obj.animation_data is not None and track in obj.animation_data.nla_tracks:
        track = _free_track_name(obj)
    spans = []
    for motion, opts in zip(motions, plans, strict=True):
        mapping = None
        if obj is not None:
            mapping = armature_mapping(obj)
            check_mapping(mapping, [b.name for b in armature(obj).bones], need_all=False)
        opts = replace(opts, frame_start=first, as_strip=True, track_name=track)
        result = import_motion(context, motion, target=obj, mapping=mapping, root_motion=prefs.root_motion,
                               options=opts)  # fmt: skip
        if obj is None:
            obj = result.obj
            set_bone_map(obj, {n: n for n in motion.joint_names})
        spans.append((result.frame_start, result.frame_end))
        first = result.frame_end + 1 + prefs.gap  # gap = empty frames between two clips
    if obj is None:  # not reached: plans[0] above needs at least one clip
        raise AddonError("no clips to import in sequence")
    ost = object_state(obj)
    ost.text, ost.alignment_json = "", ""  # a sequence is not coloured: colouring explains one hit
    _undo_push(f"Import {len(motions)} motions in sequence")
    set_status(
        f"imported {len(motions)} clips in sequence onto {obj.name} (NLA track {track!r}): frames "
        f"{spans[0][0]}-{spans[-1][1]}, {prefs.gap} empty frames between clips"
        + (", mirrored" if prefs.mirror else "")
    )
    return obj


def _free_track_name(obj: bpy.types.Object) -> str:
    """A sequence track name not yet used on ``obj`` (``"... sequence 2"``, ...)."""
    ad = obj.animation_data
    names = set(ad.nla_tracks.keys()) if ad is not None else set()
    n = 2
    while f"{SEQUENCE_TRACK} {n}" in names:
        n += 1
    return f"{SEQUENCE_TRACK} {n}"


def _target_name(context: bpy.types.Context, prefs: Prefs) -> str | None:
    """The armature to import onto ("" = new armature); None (with a status error) when it is unusable."""
    if prefs.target != "SELECTED":
        return ""
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        set_status("select an armature to import onto (or choose 'New Armature')", error=True)
        return None
    try:
        check_mapping(armature_mapping(obj), [b.name for b in armature(obj).bones], need_all=False)
    except AddonError as exc:
        show_error(exc)
        return None
    return obj.name


def start_import(
    context: bpy.types.Context, items: list[ImportItem], *, colour: bool, sequence: bool
) -> set[OperatorReturnItems]:
    """Check the target, then download ``items`` on a worker and import them when they arrive.

    Returns:
        The operator result (``{"CANCELLED"}`` with a status error when nothing was started).
    """
    prefs = snapshot(context)
    target_name = _target_name(context, prefs)
    if target_name is None:
        return {"CANCELLED"}
    try:
        clients = {it.url: make_client(replace(prefs, url=it.url) if it.url else prefs) for it in items}
    except AddonError as exc:
        show_error(exc)
        return {"CANCELLED"}
    colour = colour and not sequence
    names = ", ".join(it.motion_id for it in items[:3]) + (" ..." if len(items) > 3 else "")
    set_status(f"downloading {names} ...")

    def work(emit) -> list[tuple[MotionData, str]]:  # a single hit's alignment too, if not fetched yet
        out = []
        for i, it in enumerate(items):
            client = clients[it.url]
            aligned = it.alignment_json
            if colour and not aligned and it.text:
                aligned = alignment_to_json(client.alignment(it.text, it.motion_id).alignment)
            out.append((client.motion(it.motion_id), aligned))
            if len(items) > 1:
                emit(f"downloaded {i + 1} of {len(items)} clips ...")
        return out

    def done(result: list[tuple[MotionData, str]]) -> None:
        try:
            if sequence:
                finish_sequence(bpy.context, [m for m, _ in result], items, target_name, prefs)
            else:
                it = items[0]
                finish_import(
                    bpy.context, result[0][0], alignment_json=result[0][1], text=it.text,
                    target_name=target_name, colour=colour, item=it, prefs=prefs,
                )  # fmt: skip
        except (AddonError, RuntimeError) as exc:
            show_error(AddonError(f"import failed: {exc}") if isinstance(exc, RuntimeError) else exc)

    jobs.get_queue().submit("import", work, on_done=done, on_error=show_error, on_item=set_status)
    return {"FINISHED"}


def hit_item(hit) -> ImportItem:
    """An :class:`ImportItem` from a result row of the panel."""
    st = state()
    return ImportItem(
        hit.motion_id, st.searched_text or st.query, (hit.segment_start, hit.segment_end), hit.alignment_json
    )


class MOTIONSEARCH_OT_import(bpy.types.Operator):
    """Import the selected result as an animation (new armature, or the selected armature)"""

    bl_idname = "motion_search.import_selected"
    bl_label = "Import Motion"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set (undo is pushed when the keys are written)

    colour: bpy.props.BoolProperty(name="Colour", default=True, description="Colour by the alignment")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        st = state(context)
        return 0 <= st.hit_index < len(st.hits)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        st = state(context)
        return start_import(context, [hit_item(st.hits[st.hit_index])], colour=self.colour, sequence=False)


class MOTIONSEARCH_OT_import_sequence(bpy.types.Operator):
    """Import every picked result one after another on one NLA track, with the chosen gap between them"""

    bl_idname = "motion_search.import_sequence"
    bl_label = "Import Picked in Sequence"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return any(h.picked for h in state(context).hits)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        picked = [hit_item(h) for h in state(context).hits if h.picked]
        if not picked:
            set_status("tick the results to import in sequence first", error=True)
            return {"CANCELLED"}
        return start_import(context, picked, colour=False, sequence=True)


classes = (MOTIONSEARCH_OT_import, MOTIONSEARCH_OT_import_sequence)
