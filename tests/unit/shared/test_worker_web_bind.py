"""The workers' web view has no sign-in: it listens on loopback unless configured (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.matching.app import create_app as matching_app
from services.notifier.app import create_app as notifier_app
from shared.settings import KafkaSettings, RuntimeSettings, SettingsError, WorkerSettings


@pytest.mark.parametrize("create_app", [matching_app, notifier_app])
def test_the_web_view_binds_loopback_unless_configured(
        create_app: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert callable(create_app)
    monkeypatch.setenv("HAVEN_WORKER_WEB_BIND", "192.0.2.7")
    configured = WorkerSettings(web_port=6199)
    monkeypatch.delenv("HAVEN_WORKER_WEB_BIND")
    for worker, bound in ((WorkerSettings(web_port=6199), "127.0.0.1"),
                          (configured, "192.0.2.7")):
        app = create_app(kafka=KafkaSettings(), runtime=RuntimeSettings(var_dir=tmp_path),
                         worker=worker)
        assert app.conf.web_bind == bound, "Faust's own default is every interface"


def test_a_web_bind_that_is_no_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_WORKER_WEB_BIND", "everywhere")
    with pytest.raises(SettingsError, match="web_bind"):
        WorkerSettings()
