"""Settings come from LAYERLAB_* variables; bad values fail loudly at start-up, not later."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from layerlab.catalogue.limits import Limits
from layerlab.cli import main
from layerlab.settings import Settings, is_loopback

TOKEN = "a-token-of-24-characters"


def test_defaults_bind_loopback_and_put_the_database_under_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert (s.host, s.port, s.executor) == ("127.0.0.1", 8000, "local")
    assert s.database_url == f"sqlite:///{tmp_path.resolve()}/layerlab.sqlite3"
    assert s.limits == Limits()
    assert s.limits.max_body_bytes == 256 * 1024
    assert s.loopback_only and not s.auth_enabled


def test_relative_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(data_dir=Path("rel")).data_dir == tmp_path.resolve() / "rel"


def test_environment_with_prefix_and_nested_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAYERLAB_PORT", "9123")
    monkeypatch.setenv("LAYERLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAYERLAB_EXECUTOR", "ray")
    monkeypatch.setenv("LAYERLAB_RAY_ADDRESS", "10.0.0.5:6379")
    monkeypatch.setenv("LAYERLAB_LIMITS__MAX_NODES", "7")
    monkeypatch.setenv("LAYERLAB_DATABASE_URL", "sqlite:////srv/jobs.sqlite3")
    s = Settings()
    assert (s.port, s.executor, s.ray_address) == (9123, "ray", "10.0.0.5:6379")
    assert s.limits.max_nodes == 7
    assert s.limits.max_params == Limits().max_params  # other caps keep their defaults
    assert s.database_url == "sqlite:////srv/jobs.sqlite3"


def test_constructor_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_PORT", "9123")
    assert Settings(port=8111).port == 8111


def test_tokens_and_origins_accept_comma_lists_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_AUTH_TOKENS", f" {TOKEN} , {TOKEN}-2 ")
    monkeypatch.setenv("LAYERLAB_ALLOWED_ORIGINS", '["https://lab.example.edu", "http://10.1.2.3:8000"]')
    s = Settings()
    assert [t.get_secret_value() for t in s.auth_tokens] == [TOKEN, f"{TOKEN}-2"]
    assert s.allowed_origins == ["https://lab.example.edu", "http://10.1.2.3:8000"]
    assert s.auth_enabled
    assert TOKEN not in repr(s)  # tokens never show up in logs or tracebacks


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("LAYERLAB_EXECUTOR", "celery"),
        ("LAYERLAB_PORT", "70000"),
        ("LAYERLAB_AUTH_TOKENS", "short"),
        ("LAYERLAB_AUTH_TOKENS", "has;semicolon-and-is-long-enough"),
        ("LAYERLAB_ALLOWED_ORIGINS", "lab.example.edu"),
        ("LAYERLAB_ALLOWED_ORIGINS", "https://lab.example.edu/"),
        ("LAYERLAB_LIMITS__MAX_NODES", "0"),
        ("LAYERLAB_LIMITS__NO_SUCH_CAP", "3"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("lab.example.edu", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_bind_without_tokens(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "refusing to bind 0.0.0.0" in err and "LAYERLAB_AUTH_TOKENS" in err


def test_serve_reports_invalid_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LAYERLAB_EXECUTOR", "celery")
    assert main(["serve"]) == 2
    assert "executor" in capsys.readouterr().err
