"""CAP 1.2 Ack from an agency's system: the agency's message that it holds one of our dispatch alerts.

Read with lxml safely: no DTD, no entities (refused outright, not just left unexpanded), no network, no huge
trees, a size limit before parsing. An Ack names the alert it answers in ``<references>`` (space-separated
``sender,identifier,sent`` triples); the identifier of a dispatch's Alert is
``pantau-<city>-dispatch-<dispatch id>`` (Updates and Cancels add a suffix), see :func:`dispatch_id_of`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from lxml import etree

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_BYTES = 64 * 1024
MAX_REFERENCES = 20
IDENTIFIER = re.compile(r"^pantau-[^\s,<&]{1,80}?-dispatch-(\d{1,10})(?:-[A-Za-z0-9.-]{1,40})?$")
_FORBIDDEN = (b"<!doctype", b"<!entity", b"<!element", b"<!attlist", b"<xi:include", b"xinclude")


class CapError(ValueError):
    """Not an acceptable CAP Ack (HTTP 400); the text says why."""


@dataclass(frozen=True)
class Ack:
    identifier: str  # the Ack's own identifier: idempotency key
    sender: str
    msg_type: str
    referenced: tuple[str, ...]  # identifiers of the alerts acknowledged
    note: str


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_ack(data: bytes) -> Ack:
    if len(data) > MAX_BYTES:
        raise CapError(_("The CAP message is larger than %(max)d bytes.", max=MAX_BYTES))
    lowered = data[:MAX_BYTES].lower()
    if any(marker in lowered for marker in _FORBIDDEN):
        raise CapError(_("The CAP message must not carry a DTD, entities or includes."))
    try:
        root = etree.fromstring(data, parser=_parser())
    except (etree.XMLSyntaxError, ValueError):
        raise CapError(_("The CAP message is not well-formed XML.")) from None
    if root is None or root.getroottree().docinfo.doctype:
        raise CapError(_("The CAP message must not carry a DTD, entities or includes."))
    if root.tag != f"{{{CAP_NS}}}alert":
        raise CapError(_("The CAP message must be an <alert> in the CAP 1.2 namespace."))

    def one(name: str, *, required: bool = True, max_len: int = 200, multiline: bool = False) -> str:
        found = root.findall(f"{{{CAP_NS}}}{name}")
        if len(found) > 1:
            raise CapError(_("The CAP message has more than one <%(name)s>.", name=name))
        value = (found[0].text or "").strip() if found else ""
        if required and not value:
            raise CapError(_("The CAP message has no <%(name)s>.", name=name))
        plain = value.replace("\n", " ").replace("\t", " ").replace("\r", " ") if multiline else value
        if len(value) > max_len or not plain.isprintable():
            raise CapError(_("The CAP message's <%(name)s> is too long or not plain text.", name=name))
        return value

    identifier, sender, msg_type = one("identifier"), one("sender"), one("msgType", max_len=20)
    if any(ch in identifier + sender for ch in " ,<&"):
        raise CapError(_("A CAP identifier or sender must not contain spaces, commas, < or &."))
    if msg_type != "Ack":
        raise CapError(_("Only CAP messages of msgType Ack are accepted here, not %(type)s.", type=msg_type[:20]))
    one("sent", max_len=40)
    status = one("status", max_len=20)
    if status not in ("Actual", "Exercise", "System", "Test", "Draft"):
        raise CapError(_("The CAP message's <status> is not a CAP 1.2 status."))
    references = one("references", max_len=4000).split()
    if not 1 <= len(references) <= MAX_REFERENCES:
        raise CapError(_("An Ack names from 1 to %(max)d alerts in <references>.", max=MAX_REFERENCES))
    referenced = []
    for triple in references:
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapError(_("Each reference is sender,identifier,sent."))
        referenced.append(parts[1])
    note = one("note", required=False, max_len=1000, multiline=True)
    return Ack(identifier=identifier, sender=sender, msg_type=msg_type, referenced=tuple(referenced), note=note)


def dispatch_id_of(identifier: str) -> int | None:
    """The dispatch an alert identifier of ours names (``pantau-<city>-dispatch-<id>[-suffix]``), else None."""
    match = IDENTIFIER.match(identifier)
    return int(match.group(1)) if match else None
