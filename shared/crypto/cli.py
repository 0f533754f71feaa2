"""`haven keys …`: init, generate, rotate, retire and list key sets. Never prints a private key.

Key sets are written where the services read them (`<var>/keys/private/<owner>/`,
shared/identity.py) and their public records published to `<var>/keys/public/`,
unless `--keystore` names another store (then nothing is published).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shared.crypto.errors import SealError
from shared.crypto.keys import KemAlgorithm
from shared.crypto.keystore import FileKeyStore
from shared.crypto.secret_files import create_secret
from shared.identity import private_store, provision_service_keys, publish
from shared.settings import IntakeSettings, RuntimeSettings

# An owner as the key store names it: service:<name> or org:<uuid>.
Owner = Annotated[str, typer.Argument(metavar="OWNER", help="service:<name> or org:<uuid>")]

keys_app = typer.Typer(help="Key sets of services and organizations (private keys stay in the "
                            "key store; only public keys and ids are printed).")

KeystoreOption = Annotated[Path | None, typer.Option(
    "--keystore", metavar="DIR",
    help="key store directory (default: <var>/keys/private/<owner>, where the services read;"
         " public records are then published to <var>/keys/public)")]


def _store(path: Path | None, owner: str) -> FileKeyStore:
    return FileKeyStore(path) if path else private_store(RuntimeSettings(), owner)


def _published(path: Path | None, store: FileKeyStore, owner: str) -> None:
    if path is None:
        publish(RuntimeSettings(), store, owner)


@keys_app.command("init")
def init(data_key_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="intake's key-encryption key (default: HAVEN_INTAKE_DATA_KEY_FILE, "
                             "else <var>/keys/intake-data.key)")] = None
         ) -> None:
    """Once per deployment: the services' key sets and intake's key-encryption key.
    Never replaces a key that exists (a new one would make sealed data unreadable)."""
    runtime = RuntimeSettings()
    for owner in provision_service_keys(runtime):
        typer.echo(f"{owner}: key set created and published")
    path = data_key_file or IntakeSettings().effective_data_key_file(runtime)
    if path.exists():
        typer.echo(f"intake key-encryption key: {path} exists, kept")
        return
    create_secret(path)
    typer.echo(f"intake key-encryption key: created {path} (0600); back it up, it cannot be "
               "made again")


@keys_app.command("generate")
def generate(owner: Owner, keystore: KeystoreOption = None,
             algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519) -> None:
    """Create the first key set of OWNER (e.g. service:matching or org:<uuid>)."""
    store = _store(keystore, owner)
    if store.key_sets(owner):
        typer.echo(f"{owner} already has keys; use `haven keys rotate {owner}`.", err=True)
        raise typer.Exit(1)
    fresh = store.rotate(owner, algorithm)
    _published(keystore, store, owner)
    typer.echo(f"{owner}: kem {fresh.kem.key_id} ({algorithm.value}), "
               f"signing {fresh.signing.key_id}")


@keys_app.command("rotate")
def rotate(owner: Owner, keystore: KeystoreOption = None,
           algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519) -> None:
    """New active key set for OWNER; the previous one keeps opening in-flight data."""
    store = _store(keystore, owner)
    fresh = store.rotate(owner, algorithm)
    _published(keystore, store, owner)
    typer.echo(f"{owner}: new active kem {fresh.kem.key_id}; publish it, then retire the old")


@keys_app.command("retire")
def retire(owner: Owner, kem_key_id: str, keystore: KeystoreOption = None) -> None:
    """Destroy a retiring key set of OWNER once nothing in flight needs it."""
    store = _store(keystore, owner)
    try:
        store.retire(owner, kem_key_id)
    except SealError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from error
    _published(keystore, store, owner)
    typer.echo(f"{owner}: retired {kem_key_id}")


@keys_app.command("list")
def list_keys(keystore: KeystoreOption = None) -> None:
    """Every owner's key sets with status and ids."""
    if keystore is not None:
        stores = [FileKeyStore(keystore)]
    else:
        root = RuntimeSettings().var_dir / "keys" / "private"
        stores = [FileKeyStore(folder) for folder in sorted(root.glob("*")) if folder.is_dir()]
    for store in stores:
        for owner in store.owners():
            for key_set in store.key_sets(owner):
                typer.echo(f"{owner:<40} {key_set.status:<9} kem {key_set.kem.key_id} "
                           f"({key_set.kem.algorithm.value}) sign {key_set.signing.key_id}")
