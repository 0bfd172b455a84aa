"""Proof of integrity: the city's Ed25519 key, signed manifests and their verification.

The key is a PKCS#8 PEM file made by ``pantau keys generate`` (``make demo`` makes one), kept outside the
database and never shown on a page; its public half is published on ``/verifikasi``.

A manifest is a JSON document written in one exact form (sorted keys, two-space indent, ASCII, one final
newline) with a ``signature`` over the compact canonical JSON of everything else. Verification checks that the
bytes are exactly that form (so changing any byte, even white space, fails), that the key named in the manifest
is the city's, that the signature holds, and that the file's SHA-256 is one the manifest lists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "pantau-evidence-manifest/1"
ALGORITHM = "Ed25519"
CHUNK = 1024 * 1024


class EvidenceKeyError(RuntimeError):
    """The signing key is missing or unreadable; the message names the file, never its content."""


# -- the key --


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def generate_key(path: Path, *, force: bool = False) -> Ed25519PublicKey:
    """Make a new key at ``path`` (0600, in a 0700 folder) and its public half beside it. Refuses to replace
    an existing key unless ``force``: manifests signed with the old key could no longer be checked."""
    if path.exists() and not force:
        raise EvidenceKeyError(f"a key exists already at {path}; keep it (or --force to replace it)")
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        os.chmod(path.parent, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(tmp, path)
    public = key.public_key()
    public_path(path).write_text(public_pem(public))
    return public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceKeyError(f"cannot read the evidence key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise EvidenceKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceKeyError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key from a public PEM file, or from a private key file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceKeyError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise EvidenceKeyError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceKeyError(f"{path} is not an Ed25519 public key")
    return key


def city_public_key(private_path: Path) -> Ed25519PublicKey:
    """The city's public key: from the public file beside the private one, else from the private key."""
    published = public_path(private_path)
    return load_public_key(published if published.exists() else private_path)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, in hex: what people compare when they read it out."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def key_block(key: Ed25519PublicKey) -> dict[str, str]:
    return {"algorithm": ALGORITHM, "public_key": base64.b64encode(raw_public(key)).decode(),
            "fingerprint": fingerprint(key)}


# -- hashing --


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


# -- manifests --


def canonical(document: dict[str, Any]) -> bytes:
    """What is signed: compact JSON, sorted keys, ASCII."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def render(document: dict[str, Any]) -> bytes:
    """The one written form of a manifest (readable, and exact: verification compares it byte for byte)."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()


def sign(body: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The signed manifest, as the bytes to store and hand out."""
    document = {k: v for k, v in body.items() if k != "signature"}
    document["format"] = FORMAT
    document["key"] = key_block(key.public_key())
    signature = key.sign(canonical(document))
    document["signature"] = base64.b64encode(signature).decode()
    return render(document)


@dataclass
class Verdict:
    """Every check made, in order, as (code, passed); ``problems`` are the failed ones."""

    checks: list[tuple[str, bool]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    file: dict[str, Any] | None = None  # the manifest's entry for the file checked

    def add(self, code: str, passed: bool) -> bool:
        self.checks.append((code, passed))
        return passed

    @property
    def problems(self) -> list[str]:
        return [code for code, passed in self.checks if not passed]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.problems


# English for the command line; the web page translates the codes itself.
MESSAGES = {
    "manifest_readable": "the manifest is a Pantau evidence manifest",
    "manifest_unaltered": "the manifest is byte for byte the form it was signed in",
    "key_is_city": "the manifest was signed with the city's key",
    "signature_valid": "the signature over the manifest is valid",
    "file_listed": "the file's SHA-256 is the one the manifest lists",
}


def files_of(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    files = document.get("files")
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def verify(manifest: bytes, file_sha256: str | None, trusted: Ed25519PublicKey) -> Verdict:
    """Check a manifest (and, given its SHA-256, a file against it) with the city's public key."""
    verdict = Verdict()
    try:
        document = json.loads(manifest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if not verdict.add("manifest_readable", isinstance(document, dict) and document.get("format") == FORMAT):
        return verdict
    assert isinstance(document, dict)
    verdict.manifest = document
    key: dict[str, Any] = document["key"] if isinstance(document.get("key"), dict) else {}
    verdict.add("manifest_unaltered", render(document) == manifest)
    try:
        named = base64.b64decode(str(key.get("public_key", "")), validate=True)
    except (binascii.Error, ValueError):
        named = b""
    verdict.add("key_is_city", key.get("algorithm") == ALGORITHM and named == raw_public(trusted))
    try:
        signature = base64.b64decode(str(document.get("signature", "")), validate=True)
        trusted.verify(signature, canonical({k: v for k, v in document.items() if k != "signature"}))
        good = True
    except (binascii.Error, ValueError, InvalidSignature):
        good = False
    verdict.add("signature_valid", good)
    if file_sha256 is not None:
        wanted = file_sha256.strip().lower()
        entry = next((f for f in files_of(document) if f.get("sha256") == wanted and is_sha256(wanted)), None)
        verdict.file = entry
        verdict.add("file_listed", entry is not None)
    return verdict
