"""Who is calling: passwords, short-lived tokens, TOTP, API keys. No HTTP or database here."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from services.intake.models import Role
from shared.settings import RuntimeSettings

TOKEN_LIFETIME = timedelta(minutes=15)
_ALGORITHM = "HS256"
# Each token says what it is, and each door accepts one kind: a page cookie
# ("page-session", renewed for up to 10 hours) never opens the API, and an API token
# never opens the pages (pages/session.py checks its own type).
ACCESS_TOKEN = "access"
# The suite signs in thousands of times; at RFC 9106's parameters (64 MiB, 3 passes,
# about 0.5 s each on two cores) that alone took minutes of CI. Tests ask for argon2's
# cheapest parameters with this variable, which production refuses; hashes carry their
# parameters, so each verifies at the cost it was made with.
CHEAP_HASHING_FOR_TESTS = "HAVEN_TEST_CHEAP_PASSWORD_HASHING"


def _password_hasher() -> PasswordHasher:
    if os.environ.get(CHEAP_HASHING_FOR_TESTS) != "1":
        return PasswordHasher()  # argon2id, RFC 9106 low-memory profile
    if RuntimeSettings().environment == "production":
        raise RuntimeError(f"{CHEAP_HASHING_FOR_TESTS} is for tests and refused in production")
    return PasswordHasher.from_parameters(profiles.CHEAPEST)


_hasher = _password_hasher()
# A fixed hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(Exception):
    """Credentials that do not prove who the caller is; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a person or a partner system, always of one organization."""

    subject: uuid.UUID
    organization_id: uuid.UUID
    role: Role
    kind: str = "user"
    session_id: str = ""  # one sign-in; sign-out ends it (sessions.py)
    session_version: int = 0  # the account's version it was issued under


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """argon2 verification that costs the same whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def verify_totp(secret: str | None, code: str | None) -> bool:
    """True when no second factor is set up, or the code is valid now (±30 s)."""
    if secret is None:
        return True
    return code is not None and pyotp.TOTP(secret).verify(code, valid_window=1)


def issue_token(principal: Principal, *, secret: str, now: datetime | None = None) -> str:
    """A signed access token that expires in TOKEN_LIFETIME."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(principal.subject), "org": str(principal.organization_id),
        "role": principal.role.value, "iat": issued, "exp": issued + TOKEN_LIFETIME,
        "typ": ACCESS_TOKEN, "sid": principal.session_id, "ver": principal.session_version,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def read_token(token: str, *, secret: str) -> Principal:
    """Check signature, expiry and type (an API access token, nothing else); raise AuthError
    with a message a person can act on."""
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM],
                            options={"require": ["exp", "sub", "org", "role", "typ", "sid",
                                                 "ver"]})
        if claims["typ"] != ACCESS_TOKEN:
            raise AuthError("This is not an API access token. Get one from /api/v1/auth/token.")
        return Principal(subject=uuid.UUID(claims["sub"]),
                         organization_id=uuid.UUID(claims["org"]), role=Role(claims["role"]),
                         session_id=str(claims["sid"]), session_version=int(claims["ver"]))
    except jwt.ExpiredSignatureError as error:
        raise AuthError("Your session has expired. Please sign in again.") from error
    except (jwt.InvalidTokenError, ValueError, KeyError) as error:
        raise AuthError("The access token is not valid. Please sign in again.") from error


@dataclass(frozen=True)
class NewApiKey:
    prefix: str
    secret_hash: str
    plaintext: str


def new_api_key() -> NewApiKey:
    """`hvn_<prefix>_<secret>`: the prefix finds the row, only a hash of the secret is kept."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(prefix, _digest(secret), f"hvn_{prefix}_{secret}")


def split_api_key(presented: str) -> tuple[str, str]:
    """The prefix and the secret of a presented key, or AuthError."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "hvn" or not parts[1] or not parts[2]:
        raise AuthError("The API key is not in the expected form hvn_<prefix>_<secret>.")
    return parts[1], parts[2]


def api_key_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(_digest(secret), secret_hash)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
