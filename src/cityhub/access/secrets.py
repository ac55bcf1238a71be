"""Source credentials (a department database's password, an API key), stored encrypted.

A `Vault` holds the key from CITYHUB_SECRET_KEY, never the metadata DB: a copy of the DB alone
reveals nothing. Each value is sealed with an AEAD cipher, AES-256-GCM or SM4-GCM (国密 SM4),
under a fresh random 12-byte nonce, with the credential's name as associated data: a sealed
value copied onto another row, or altered in any bit, does not open.

A secret is never put in a log line, an exception or a repr: values pass as `SecretStr` until
`reveal` hands the plain text to the connector that needs it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityhub.access.models import SourceCredential
from cityhub.catalog.models import utcnow
from cityhub.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from cityhub.config import Settings

log = logging.getLogger(__name__)

CipherName = Literal["aes-gcm", "sm4-gcm"]
CIPHERS: tuple[CipherName, ...] = get_args(CipherName)
KEY_BYTES: dict[CipherName, int] = {"aes-gcm": 32, "sm4-gcm": 16}
NONCE_BYTES = 12  # GCM's native nonce size: no extra hashing of the nonce
TAG_BYTES = 16
NAME_MAX = 100  # the column's width


class Vault:
    """Seals and opens credential values with one key and one cipher."""

    __slots__ = ("_key", "cipher")

    def __init__(self, key: bytes, cipher: CipherName = "aes-gcm") -> None:
        if cipher not in KEY_BYTES:
            raise InvalidInput(f"unknown cipher {cipher!r}; use one of {', '.join(CIPHERS)}")
        if len(key) != KEY_BYTES[cipher]:
            raise InvalidInput(
                f"the secret key has {len(key)} bytes; {cipher} needs {KEY_BYTES[cipher]} "
                f"(make one with `cityhub credential new-key --cipher {cipher}`)"
            )
        self._key = key
        self.cipher: CipherName = cipher
        if cipher == "sm4-gcm":
            _check_sm4(key)

    def __repr__(self) -> str:
        return f"Vault(cipher={self.cipher!r}, key='**********')"

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        """The vault of CITYHUB_SECRET_KEY (base64) and CITYHUB_CREDENTIAL_CIPHER."""
        cipher = settings.credential_cipher
        if settings.secret_key is None:
            raise InvalidInput(
                "no secret key: set CITYHUB_SECRET_KEY to a base64 key of 32 bytes (aes-gcm) "
                "or 16 bytes (sm4-gcm), e.g. from `cityhub credential new-key`"
            )
        text = settings.secret_key.get_secret_value().strip()
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            # Not the value itself in the message: it is the key.
            raise InvalidInput(
                "CITYHUB_SECRET_KEY is not valid base64; make a key with "
                "`cityhub credential new-key`"
            ) from None
        if len(key) != KEY_BYTES[cipher]:
            raise InvalidInput(
                f"CITYHUB_SECRET_KEY decodes to {len(key)} bytes; {cipher} needs "
                f"{KEY_BYTES[cipher]} (make one with `cityhub credential new-key --cipher "
                f"{cipher}`, or set CITYHUB_CREDENTIAL_CIPHER to the key's cipher)"
            )
        return cls(key, cipher)

    @staticmethod
    def new_key(cipher: CipherName = "aes-gcm") -> str:
        """A fresh random key for `cipher`, base64, as CITYHUB_SECRET_KEY takes it."""
        if cipher not in KEY_BYTES:
            raise InvalidInput(f"unknown cipher {cipher!r}; use one of {', '.join(CIPHERS)}")
        return base64.b64encode(os.urandom(KEY_BYTES[cipher])).decode("ascii")

    def seal(self, name: str, secret: SecretStr | str) -> tuple[bytes, bytes]:
        """(nonce, ciphertext with its tag) of `secret`, bound to the credential `name`."""
        plain = _plain(secret).encode("utf-8")
        nonce = os.urandom(NONCE_BYTES)
        aad = name.encode("utf-8")
        if self.cipher == "aes-gcm":
            return nonce, AESGCM(self._key).encrypt(nonce, plain, aad)
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plain) + encryptor.finalize()
        return nonce, body + encryptor.tag  # the same layout as AESGCM's: tag last

    def open(self, name: str, algorithm: str, nonce: bytes, sealed: bytes) -> SecretStr:
        """The value sealed under `name`; InvalidInput when the key is wrong or the row was
        altered (GCM cannot tell those apart, and must not: both mean "do not trust it")."""
        if algorithm != self.cipher:
            raise InvalidInput(
                f"credential {name} was stored with {algorithm}, but CITYHUB_CREDENTIAL_CIPHER "
                f"is {self.cipher}: set it and CITYHUB_SECRET_KEY to the ones it was stored with"
            )
        aad = name.encode("utf-8")
        try:
            if self.cipher == "aes-gcm":
                plain = AESGCM(self._key).decrypt(nonce, sealed, aad)
            else:
                if len(sealed) < TAG_BYTES:
                    raise InvalidTag
                body, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
                decryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
                decryptor.authenticate_additional_data(aad)
                plain = decryptor.update(body) + decryptor.finalize()
            return SecretStr(plain.decode("utf-8"))
        except (InvalidTag, ValueError):
            raise InvalidInput(
                f"credential {name} cannot be decrypted: wrong CITYHUB_SECRET_KEY or the stored "
                "value was altered"
            ) from None


def _check_sm4(key: bytes) -> None:
    try:
        Cipher(algorithms.SM4(key), modes.GCM(bytes(NONCE_BYTES))).encryptor()
    except UnsupportedAlgorithm:
        from cryptography.hazmat.backends.openssl.backend import backend

        raise InvalidInput(
            f"sm4-gcm is not available in this OpenSSL ({backend.openssl_version_text()}); "
            'set CITYHUB_CREDENTIAL_CIPHER to "aes-gcm" or use an OpenSSL built with SM4'
        ) from None


def _plain(secret: SecretStr | str) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"a credential's name has 1 to {NAME_MAX} characters, not {len(name)}")
    return name


class CredentialInfo(NamedTuple):
    """What may be shown of a credential: everything but its value."""

    name: str
    algorithm: str
    note: str | None
    updated_at: datetime


def _row(session: Session, name: str) -> SourceCredential | None:
    return session.scalars(select(SourceCredential).where(SourceCredential.name == name)).first()


def store(
    session: Session, vault: Vault, name: str, secret: SecretStr | str, note: str | None = None
) -> CredentialInfo:
    """Insert or replace credential `name`. Replacing without a note keeps the old note, so a
    password rotation does not wipe what the credential is for."""
    name = _check_name(name)
    if not _plain(secret):
        raise InvalidInput(f"credential {name}: the value is empty")
    nonce, sealed = vault.seal(name, secret)
    row = _row(session, name)
    if row is None:
        row = SourceCredential(name=name, note=note)
        session.add(row)
        action = "stored"
    else:
        row.note = note if note is not None else row.note
        row.updated_at = utcnow()
        action = "replaced"
    row.algorithm, row.nonce, row.ciphertext = vault.cipher, nonce, sealed
    session.flush()
    log.info("credential %s %s (%s)", name, action, vault.cipher)
    return CredentialInfo(row.name, row.algorithm, row.note, row.updated_at)


def reveal(session: Session, vault: Vault, name: str) -> str:
    """The plain value of credential `name`, for the connector that needs it now."""
    row = _row(session, name.strip())
    if row is None:
        raise NotFound(f"no credential {name}; store it with `cityhub credential set {name}`")
    return vault.open(row.name, row.algorithm, row.nonce, row.ciphertext).get_secret_value()


def names(session: Session) -> list[CredentialInfo]:
    """Every credential but its value, by name."""
    rows = session.scalars(select(SourceCredential).order_by(SourceCredential.name))
    return [CredentialInfo(r.name, r.algorithm, r.note, r.updated_at) for r in rows]


def delete(session: Session, name: str) -> None:
    row = _row(session, name.strip())
    if row is None:
        raise NotFound(f"no credential {name}")
    session.delete(row)
    session.flush()
    log.info("credential %s deleted", row.name)
