"""`haven keys …`: generate, rotate, retire and list key sets. Never prints a private key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shared.crypto.errors import SealError
from shared.crypto.keys import KemAlgorithm
from shared.crypto.keystore import FileKeyStore
from shared.settings import RuntimeSettings

keys_app = typer.Typer(help="Key sets of services and organizations (private keys stay in the "
                            "key store; only public keys and ids are printed).")

KeystoreOption = Annotated[Path | None, typer.Option(
    "--keystore", help="key store directory (default: <var>/keys/store)")]


def _store(path: Path | None) -> FileKeyStore:
    return FileKeyStore(path or RuntimeSettings().var_dir / "keys" / "store")


@keys_app.command("generate")
def generate(owner: str, keystore: KeystoreOption = None,
             algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519) -> None:
    """Create the first key set of OWNER (e.g. service:matching or org:<uuid>)."""
    store = _store(keystore)
    if store.key_sets(owner):
        typer.echo(f"{owner} already has keys; use `haven keys rotate {owner}`.", err=True)
        raise typer.Exit(1)
    fresh = store.rotate(owner, algorithm)
    typer.echo(f"{owner}: kem {fresh.kem.key_id} ({algorithm.value}), "
               f"signing {fresh.signing.key_id}")


@keys_app.command("rotate")
def rotate(owner: str, keystore: KeystoreOption = None,
           algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519) -> None:
    """New active key set for OWNER; the previous one keeps opening in-flight data."""
    fresh = _store(keystore).rotate(owner, algorithm)
    typer.echo(f"{owner}: new active kem {fresh.kem.key_id}; publish it, then retire the old")


@keys_app.command("retire")
def retire(owner: str, kem_key_id: str, keystore: KeystoreOption = None) -> None:
    """Destroy a retiring key set of OWNER once nothing in flight needs it."""
    try:
        _store(keystore).retire(owner, kem_key_id)
    except SealError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{owner}: retired {kem_key_id}")


@keys_app.command("list")
def list_keys(keystore: KeystoreOption = None) -> None:
    """Every owner's key sets with status and ids."""
    store = _store(keystore)
    for owner in store.owners():
        for key_set in store.key_sets(owner):
            typer.echo(f"{owner:<40} {key_set.status:<9} kem {key_set.kem.key_id} "
                       f"({key_set.kem.algorithm.value}) sign {key_set.signing.key_id}")
