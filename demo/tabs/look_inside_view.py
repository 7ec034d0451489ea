"""What the Look inside tab shows, in a language: its pictures' display sizes, the layer list, the
map-size table and the lines under Grad-CAM, the feature maps and the kernels.

The callbacks keep what each line was made from (``mobilenet.explain.grad_cam_facts``, ``maps_seen``, ``kernels_seen``:
small dicts of numbers and names) so that a language switch writes the lines again from them,
without running the network.
"""

import pandas as pd

from mobilenet.explain import layer_kind, short_name

from demo.i18n import class_name, t

SHOWN_SIDE = 320  # small pictures are enlarged (nearest-neighbour) to about this side
MAX_SHOWN_SIDE = 800  # large ones are shrunk for display only: the heat map stays exact
COARSE_CELLS = 16  # a map of this many cells or fewer gets a word about its coarseness
HIGHLIGHT = "background-color: rgba(37, 99, 235, 0.25)"
TABLE_COLUMNS = ("block", "layers", "map", "channels")


def kind_name(layer, lang):
    """What ``layer`` computes, in ``lang``: "pointwise 1×1"."""
    return t(f"look_inside.kind.{layer_kind(layer)}", lang)


def layer_choices(layers, lang):
    """The layer list: ("conv_pw_3 · pointwise 1×1", "conv_pw_3_relu") for each map layer."""
    return [(t("look_inside.layer_choice", lang, layer=short_name(name), kind=kind_name(name, lang)), name)
            for name in layers]


def _highlight(frame, rows):
    return pd.DataFrame([[HIGHLIGHT if chosen else ""] * frame.shape[1] for chosen in rows],
                        index=frame.index, columns=frame.columns)


def _stage(block, lang):
    """A row's first cell: "input", "stem" (in ``lang``) or the block's number."""
    return t(f"look_inside.table.{block}", lang) if isinstance(block, str) else str(block)


def sizes_table(rows, selected, lang):
    """``mobilenet.explain.map_table``'s rows as a table in ``lang``, the row of layer ``selected``
    highlighted. Read top to bottom, the maps shrink and the channels grow."""
    frame = pd.DataFrame([(_stage(row["block"], lang), ", ".join(row["layers"]) or t("look_inside.table.picture", lang),
                           f"{row['height']}×{row['width']}",
                           str(row["channels_out"]) if row["channels_in"] is None
                           else f"{row['channels_in']} → {row['channels_out']}") for row in rows],
                         columns=[t(f"look_inside.table.{column}", lang) for column in TABLE_COLUMNS])
    chosen = short_name(selected or "")
    return frame.style.apply(_highlight, axis=None, rows=[bool(chosen) and chosen in row["layers"] for row in rows])


def gradcam_note(seen, lang):
    """The line under the heat map, from ``grad_cam_facts``' data (empty without it)."""
    if not seen:
        return ""
    which = t("look_inside.note.answer" if seen["class"] == seen["answer"] else "look_inside.note.other", lang,
              name=class_name(seen["class"], lang), probability=seen["probability"],
              answer=class_name(seen["answer"], lang), answer_probability=seen["answer_probability"])
    note = t("look_inside.note.where", lang, which=which, layer=seen["layer"], height=seen["height"],
             width=seen["width"])
    if seen["last"]:
        note += t("look_inside.note.last", lang, last=seen["last"], layer=seen["layer"])
    if seen["height"] * seen["width"] <= COARSE_CELLS:
        note += t("look_inside.note.coarse", lang, height=seen["height"], width=seen["width"],
                  cell_height=seen["cell_height"], cell_width=seen["cell_width"])
    return note


def maps_seen(info):
    """What the feature-maps line says, from ``mobilenet.explain.feature_maps``'s info."""
    return {"layer": info["layer"], "height": info["height"], "width": info["width"],
            "channels": info["channels"], "shown": len(info["shown"])}


def maps_line(seen, lang):
    """The line above the feature maps, from ``maps_seen``'s data (empty without it)."""
    if not seen:
        return ""
    return t("look_inside.note.maps_some" if seen["shown"] < seen["channels"] else "look_inside.note.maps_all", lang,
             layer=short_name(seen["layer"]), height=seen["height"], width=seen["width"],
             channels=seen["channels"], kind=kind_name(seen["layer"], lang), shown=seen["shown"])


def kernels_seen(info):
    """What the kernels line says, from ``mobilenet.explain.depthwise_kernels``'s info."""
    return {"layer": info["layer"], "kernels": info["kernels"], "shown": info["shown"]}


def kernels_line(seen, lang):
    """The line beside the kernels, from ``kernels_seen``'s data (empty without it)."""
    if not seen:
        return ""
    return t("look_inside.note.kernels_some" if seen["shown"] < seen["kernels"] else "look_inside.note.kernels_all",
             lang, **seen)
