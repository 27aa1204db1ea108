"""One typed settings object, read once at the edge and passed down.

Precedence: explicit arguments > environment variables > config file > defaults.
The config file is TOML with the same keys in lower case without the prefix
(``db = "..."``), found at ``UNDERCURRENT_CONFIG`` or ``./undercurrent.toml``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import UserError

DEFAULT_DB = "undercurrent.duckdb"
DEFAULT_OUTBOX = "outbox"
ENV_PREFIX = "UNDERCURRENT_"
_KEYS = (
    "db",
    "sources",
    "smtp_url",
    "mail_from",
    "outbox",
    "allow_private_networks",
    "llm_url",
    "llm_model",
    "llm_api_key",
    "recluster_days",
    "public_url",
    "operator_email",
    "schedule_cron",
    "schedule_timezone",
    "dask_address",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Secret(str):
    """A string that never shows itself in reprs or logs."""

    def __repr__(self) -> str:
        return "Secret('**********')"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class Settings:
    db: Path = Path(DEFAULT_DB)
    sources: Path | None = None
    smtp_url: Secret | None = field(default=None, repr=False)
    mail_from: str = "Undercurrent <digest@localhost>"
    outbox: Path = Path(DEFAULT_OUTBOX)
    allow_private_networks: bool | tuple[str, ...] = False  # or just these networks (CIDR)
    llm_url: str | None = None  # OpenAI-compatible endpoint for the optional claim judge (off when unset)
    llm_model: str | None = None
    llm_api_key: Secret | None = field(default=None, repr=False)
    schedule_cron: str = "0 6 * * *"  # when `undercurrent serve` runs the daily flow
    schedule_timezone: str = "UTC"
    operator_email: str | None = None  # told when a run fails (by email when SMTP is configured)
    public_url: str | None = None  # where `undercurrent serve-unsubscribe` is reachable (List-Unsubscribe links)
    recluster_days: int = 7  # a full re-clustering of every claim every this many days (0: only on demand)
    dask_address: str | None = None  # claim extraction and embedding on this Dask scheduler ("local:N": N processes)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI arguments win)."""
        clean = {k: _coerce(k, v) for k, v in overrides.items() if v is not None}
        return replace(self, **clean)


def _coerce(key: str, value: Any) -> Any:
    if key in ("db", "outbox"):
        if str(value).strip() == "":
            raise UserError(f"the {key} setting is empty; give a path")
        return Path(value).expanduser()
    if key == "sources":
        return Path(value).expanduser() if str(value).strip() else None
    if key in ("smtp_url", "llm_api_key"):
        return Secret(value) if value else None
    if key == "schedule_cron":
        text = " ".join(str(value).split())
        from prefect.client.schemas.schedules import CronSchedule  # Prefect's own check of what it will run

        try:
            CronSchedule(cron=text)
        except ValueError:
            raise UserError(f"schedule_cron must be a cron expression such as '0 6 * * *', not {value!r}") from None
        return text
    if key == "schedule_timezone":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        text = str(value).strip()
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"schedule_timezone must be a time zone such as Europe/London, not {value!r}") from None
        return text
    if key == "operator_email":
        text = str(value).strip()
        if not text:
            return None
        if "@" not in text or any(c in text for c in "\r\n<>, "):
            raise UserError(f"operator_email must be one address such as ops@example.org, not {value!r}")
        return text
    if key == "public_url":
        text = str(value).strip().rstrip("/")
        if not text:
            return None
        if not text.startswith(("http://", "https://")) or "?" in text or "#" in text:
            raise UserError(f"public_url must be an http(s) base URL such as https://brief.example.org, not {value!r}")
        return text
    if key == "llm_url":
        text = str(value).strip()
        if not text:
            return None
        if not text.startswith(("http://", "https://")):
            raise UserError(f"llm_url must be an http(s) URL such as http://127.0.0.1:8000/v1, not {text!r}")
        return text
    if key == "recluster_days":
        try:
            days = int(str(value).strip())
        except ValueError:
            days = -1
        if days < 0:
            raise UserError(f"recluster_days must be a whole number of days (0 turns it off), not {value!r}")
        return days
    if key == "dask_address":
        return _dask_address(str(value))
    if key == "llm_model":
        return str(value).strip() or None
    if key == "allow_private_networks":
        if isinstance(value, bool | tuple):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        networks = tuple(part.strip() for part in text.split(",") if part.strip())
        try:
            for network in networks:
                ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise UserError(
                f"allow_private_networks must be true, false or a list of networks like 127.0.0.1/32, not {value!r}"
            ) from None
        return networks
    return str(value)


def _dask_address(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    local = re.fullmatch(r"local(?::([0-9]{1,3}))?", text)
    if local and 0 < int(local.group(1) or 2) <= 256:
        return text
    remote = re.fullmatch(r"(?:(tcp|tls|ucx|ws|wss)://)?([A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})", text)
    if remote and 0 < int(remote.group(3)) <= 65535 and not text.startswith("local:"):
        return text if remote.group(1) else f"tcp://{text}"
    raise UserError(
        f"dask_address must be a Dask scheduler such as tcp://10.0.0.5:8786, or local:N for N worker processes "
        f"on this machine, not {value!r}"
    )


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise UserError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from a config file, the environment and explicit overrides."""
    env = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    config_path = env.get(ENV_PREFIX + "CONFIG")
    if config_path:
        values.update(_read_config_file(Path(config_path).expanduser()))
    elif (cwd / "undercurrent.toml").is_file():
        values.update(_read_config_file(cwd / "undercurrent.toml"))
    for key in _KEYS:
        env_value = env.get(ENV_PREFIX + key.upper())
        if env_value is not None:
            values[key] = env_value
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings().with_overrides(**values)
