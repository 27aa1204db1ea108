"""Settings precedence: arguments > environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UserError
from core.settings import load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.db == Path("undercurrent.duckdb")
    assert settings.smtp_url is None and settings.allow_private_networks is False


def test_file_then_environment_then_arguments(tmp_path: Path) -> None:
    (tmp_path / "undercurrent.toml").write_text('db = "from-file.duckdb"\noutbox = "file-outbox"\n')
    from_file = load_settings(environ={}, cwd=tmp_path)
    assert from_file.db == Path("from-file.duckdb") and from_file.outbox == Path("file-outbox")
    env = {"UNDERCURRENT_DB": "from-env.duckdb"}
    from_env = load_settings(environ=env, cwd=tmp_path)
    assert from_env.db == Path("from-env.duckdb") and from_env.outbox == Path("file-outbox")
    from_args = load_settings(environ=env, cwd=tmp_path, db="from-arg.duckdb")
    assert from_args.db == Path("from-arg.duckdb")


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("allow_private_networks = true\n")
    settings = load_settings(environ={"UNDERCURRENT_CONFIG": str(config)}, cwd=tmp_path)
    assert settings.allow_private_networks is True


def test_private_networks_may_be_listed(tmp_path: Path) -> None:
    env = {"UNDERCURRENT_ALLOW_PRIVATE_NETWORKS": "127.0.0.2/32, 10.1.0.0/16"}
    assert load_settings(environ=env, cwd=tmp_path).allow_private_networks == ("127.0.0.2/32", "10.1.0.0/16")


def test_secret_is_hidden_in_repr(tmp_path: Path) -> None:
    settings = load_settings(environ={"UNDERCURRENT_SMTP_URL": "smtp://u:hunter2@127.0.0.1:25"}, cwd=tmp_path)
    assert "hunter2" not in repr(settings)
    assert settings.smtp_url is not None and settings.smtp_url.reveal().endswith("@127.0.0.1:25")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("db = [", "not valid TOML"),
        ('colour = "blue"', "unknown setting"),
        ('allow_private_networks = "maybe"', "true, false or a list of networks"),
    ],
)
def test_bad_config_gives_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "undercurrent.toml").write_text(content)
    with pytest.raises(UserError, match=message):
        load_settings(environ={}, cwd=tmp_path)


def test_llm_judge_settings_are_off_by_default_and_validated(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.llm_url is None and settings.llm_model is None and settings.llm_api_key is None
    settings = load_settings(
        environ={
            "UNDERCURRENT_LLM_URL": "http://127.0.0.1:8000/v1",
            "UNDERCURRENT_LLM_MODEL": "qwen2.5-7b-instruct",
            "UNDERCURRENT_LLM_API_KEY": "sk-secret",
        },
        cwd=tmp_path,
    )
    assert settings.llm_url == "http://127.0.0.1:8000/v1" and settings.llm_model == "qwen2.5-7b-instruct"
    assert settings.llm_api_key is not None and settings.llm_api_key.reveal() == "sk-secret"
    assert "sk-secret" not in repr(settings)
    with pytest.raises(UserError, match="llm_url"):
        load_settings(environ={"UNDERCURRENT_LLM_URL": "localhost:8000"}, cwd=tmp_path)
