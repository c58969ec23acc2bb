"""Pascal VOC per-frame XML: a folder with one `<frame>.xml` per labeled frame (`<annotation>`: `<size>` width,
height; `<object>`s with `<name>`, `<bndbox>` xmin ymin xmax ymax in 1-based pixels, `<difficult>`,
`<truncated>`). The frame of a file: the image with the same stem in an image-folder source, else the number at the
end of its name minus `frame_base` (default 0). VOC has no track ids; `difficult` / `truncated` are kept as
attributes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from vla_builder.sources.labels import LabelError, count, encode_class_names, finish_table, per_frame_documents
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def _parse_voc(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return "unreadable VOC file"
    return root if root.tag == "annotation" else "XML file that is not a VOC <annotation>"


def read_voc(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    folder = spec.labels
    assert folder is not None
    dropped: dict[str, int] = {}
    rows, attrs = [], []
    for frame, root in per_frame_documents(spec, ".xml", "VOC", _parse_voc, dropped):
        try:
            size = (float(root.findtext("size/width")), float(root.findtext("size/height")))
            if size[0] <= 0 or size[1] <= 0:
                raise ValueError
        except (TypeError, ValueError):
            size = (float(info.width_px), float(info.height_px))
        for obj in root.findall("object"):
            name = (obj.findtext("name") or "").strip()
            if not name:
                count(dropped, "object without a name")
                continue
            try:
                # VOC pixels are 1-based: xmin 1 is the left edge
                x0, y0, x1, y1 = (float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
            except (TypeError, ValueError):
                count(dropped, "object without a numeric bndbox")
                continue
            rows.append((frame, -1, name, x0 - 1, y0 - 1, x1 - x0 + 1, y1 - y0 + 1, *size))
            attrs.append({k: (obj.findtext(k) or "").strip() for k in ("difficult", "truncated", "pose")
                          if obj.find(k) is not None})
    if not rows:
        raise LabelError(folder, "no usable VOC objects" + (f" (dropped: {dropped})" if dropped else ""))
    class_id, names, strict = encode_class_names([r[2] for r in rows], spec)
    a = np.array([[r[0], r[1], *r[3:]] for r in rows], dtype=np.float64)
    extra = np.empty(len(attrs), dtype=object)
    extra[:] = attrs
    return finish_table(folder, "voc", a[:, 0], a[:, 1], class_id, a[:, 2:6], np.ones(len(a)), names, a[:, 6:8],
                        dropped, strict_classes=strict, extras={"attributes": extra})
