"""The demo outbox keeps every message, shows repeats, and never reaches outside its folder."""

from __future__ import annotations

from pathlib import Path

from deploy.local.demo_outbox import Outbox


def test_a_repeat_is_kept_beside_the_first_and_names_stay_inside_the_outbox(
        tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("not a message")
    outbox = Outbox(tmp_path / "outbox")
    outbox.keep("sms", "ntf-abc", b'{"reference": "ntf-abc"}')
    outbox.keep("sms", "ntf-abc", b'{"reference": "ntf-abc"}')
    outbox.keep("mail", "../../elsewhere", b"Subject: x\r\n\r\nbody")
    assert sorted(p.name for p in (tmp_path / "outbox" / "sms").iterdir()) == [
        "ntf-abc", "ntf-abc.repeat-2"]
    assert outbox.has("sms", "ntf-abc") and not outbox.has("sms", "ntf-other")
    assert [p.name for p in (tmp_path / "outbox" / "mail").iterdir()] == ["elsewhere"]
    assert not (tmp_path / "elsewhere").exists()
    assert not outbox.has("mail", "../../outside")
    assert (tmp_path / "outbox").stat().st_mode & 0o077 == 0
