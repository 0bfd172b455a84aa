"""GeoReport v2 answers in JSON or XML (the format is the path's suffix, ``.json`` or ``.xml``, as the spec has it).

Both formats come from the same plain data: a list of dicts (or one dict for discovery and a service
definition) with a root and an item element name for XML. Errors are the spec's list of ``code`` and
``description`` (``<errors><error>...``) with a 4xx status.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json", "xml": "text/xml"}  # text/xml: what the spec's discovery lists


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: Any) -> str:
    """A value as XML text; characters XML 1.0 cannot carry (control characters, lone surrogates) are
    replaced, so an old row can never break a document."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _element(parent: ET.Element, name: str, value: Any, item_names: dict[str, str]) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _element(child, key, inner, item_names)
    elif isinstance(value, list | tuple):
        item = item_names.get(name, name.rstrip("s") or "item")
        for inner in value:
            _element(child, item, inner, item_names)
    else:
        child.text = _text(value)


def to_xml(data: Any, root: str, item: str | None, item_names: dict[str, str] | None = None) -> bytes:
    """``data`` (a list of dicts under ``root``/``item``, or one dict under ``root``) as an XML document."""
    names = item_names or {}
    top = ET.Element(root)
    if item is None:
        for key, value in data.items():
            _element(top, key, value, names)
    else:
        for entry in data:
            node = ET.SubElement(top, item)
            for key, value in entry.items():
                _element(node, key, value, names)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def answer(data: Any, fmt: str, *, root: str, item: str | None, status: int = 200,
           item_names: dict[str, str] | None = None) -> Response:
    if fmt == "xml":
        body = to_xml(data, root, item, item_names)
    else:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(body, status=status, mimetype=MIMETYPES.get(fmt, "application/json"))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"  # civic apps in browsers read the public parts too
    return response


def error(status: int, description: str, fmt: str, headers: dict[str, str] | None = None) -> Response:
    """The spec's error list: ``[{"code": 400, "description": "..."}]`` or ``<errors><error>...``."""
    response = answer([{"code": status, "description": description}], fmt, root="errors", item="error",
                      status=status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def format_of(path: str) -> str:
    """The answer's format from the path (JSON unless it ends in ``.xml``), also for paths no route matched."""
    return "xml" if path.lower().endswith(".xml") else "json"
