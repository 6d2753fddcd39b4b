"""`postino --version` prints the installed package's version, with no settings read."""

from __future__ import annotations

from importlib import metadata

import pytest

from worker.__main__ import main


def test_version_prints_the_package_version_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTINO_HTTP_PORT", "not a port")  # not even looked at
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"postino {metadata.version('postino')}"
