"""The real command line in a subprocess: check-config, plugins, replay, and exit codes."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cryptoviz.config import Config, decode_config, load_config

SPOT = "spot-BTC-ETH-DOT-2021-04-04.jsonl"
SUMMARY = re.compile(r"^(lines read|trades ingested|duplicates|lines skipped):\s+([\d,]+)", re.MULTILINE)


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m cryptoviz ARGS` with the database in tmp_path and no CRYPTOVIZ_* from outside."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOVIZ_")}
    environ["CRYPTOVIZ_STORAGE__SQLITE_PATH"] = str(tmp_path / "cli.db")
    environ.update({f"CRYPTOVIZ_{k}": v for k, v in env.items()})
    return subprocess.run(
        [sys.executable, "-m", "cryptoviz", *args],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def sections(config: Config) -> dict[str, object]:
    """A Config's sections but the raw plugin tables, which check-config fills with defaults."""
    found: dict[str, object] = {
        name: getattr(config, name) for name in ("server", "storage", "dedup", "bus", "log")
    }
    found["plugins"] = (config.plugins.enabled, config.plugins.folder)
    return found


def summary(stdout: str) -> dict[str, int]:
    return {name: int(value.replace(",", "")) for name, value in SUMMARY.findall(stdout)}


def test_check_config_prints_parseable_toml_with_env_overrides(tmp_path) -> None:
    env = {
        "SERVER__PORT": "9123",
        "PLUGINS__REPLAY__SPEED": "3.5",
        "PLUGINS__ENABLED": '["trades", "candles"]',
    }
    result = run_cli(tmp_path, "check-config", **env)
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)
    assert data["server"]["port"] == 9123
    assert data["storage"]["sqlite_path"] == str(tmp_path / "cli.db")
    assert data["plugins"]["enabled"] == ["trades", "candles"]
    assert data["plugins"]["replay"]["speed"] == 3.5
    assert data["plugins"]["candles"]["aggregate"] is True  # plugin defaults filled in
    assert data["storage"]["retention_days"] == {"trades": 7.0, "1s": 2.0, "5s": 14.0}
    environ = {f"CRYPTOVIZ_{k}": v for k, v in env.items()}
    environ["CRYPTOVIZ_STORAGE__SQLITE_PATH"] = str(tmp_path / "cli.db")
    assert sections(decode_config(data)) == sections(load_config(None, environ))


def test_check_config_masks_passwords_and_tokens(tmp_path) -> None:
    result = run_cli(
        tmp_path,
        "check-config",
        STORAGE__POSTGRES_DSN="postgresql://app:db-s3cret@db.internal/cryptoviz",
        DEDUP__REDIS_URL="redis://:redis-s3cret@cache.internal:6379/0",
        PLUGINS__NEWS__CRYPTOPANIC_TOKEN="token-s3cret",
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout
    data = tomllib.loads(result.stdout)
    assert data["storage"]["postgres_dsn"] == "postgresql://app:***@db.internal/cryptoviz"
    assert data["dedup"]["redis_url"] == "redis://:***@cache.internal:6379/0"
    assert data["plugins"]["news"]["cryptopanic_token"] == "***"


def test_check_config_merges_a_config_file(tmp_path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\n\n[plugins.simulator]\nseed = 7\n')
    result = run_cli(tmp_path, "check-config", "--config", str(path))
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)
    assert (data["server"]["host"], data["server"]["port"]) == ("0.0.0.0", 8080)
    assert data["plugins"]["simulator"] == {
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "seed": 7,
        "trades_per_second": 20.0,
    }


@pytest.mark.parametrize("enabled", [None, ["replay", "trades"]], ids=["defaults", "replay-and-trades"])
def test_plugins_lists_every_plugin_with_enabled_marks(tmp_path, enabled) -> None:
    env = {} if enabled is None else {"PLUGINS__ENABLED": "[" + ", ".join(f'"{n}"' for n in enabled) + "]"}
    result = run_cli(tmp_path, "plugins", **env)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert set(rows) == {
        "binance", "candles", "dashboard", "indicators", "news", "replay", "simulator", "trades",
    }  # fmt: skip
    defaults = {"binance", "trades", "candles", "indicators", "news", "dashboard"}
    expected = defaults if enabled is None else set(enabled)
    for name, line in rows.items():
        assert (line.split()[1] == "enabled") == (name in expected), line
        assert f"entry point cryptoviz_plugins.{name}:plugin" in line


BAD_CONFIG_RUNS = [
    pytest.param(["check-config"], {"SERVER__PORT": "0"}, "`server.port` = 0", id="check-config-port"),
    pytest.param(["plugins"], {"LOG__LEVEL": "loud"}, "`log.level` = 'loud'", id="plugins-literal"),
    pytest.param(
        ["plugins"], {"PLUGINS__ENABLED": '["nope"]'}, "unknown plugin 'nope'", id="plugins-unknown"
    ),
    pytest.param(["serve"], {"SERVER__PORT": "70000"}, "`server.port` = 70000", id="serve-port"),
    pytest.param(
        ["check-config", "--config", "missing.toml"],
        {},
        "cannot read config file missing.toml",
        id="missing-file",
    ),
    pytest.param(
        ["check-config"],
        {"PLUGINS__REPLAY__SPEED": '"fast"'},
        "`plugins.replay.speed` = 'fast'",
        id="plugin-key",
    ),
]


@pytest.mark.parametrize(("args", "env", "fragment"), BAD_CONFIG_RUNS)
def test_bad_config_exits_2_with_the_message_on_stderr(tmp_path, args, env, fragment) -> None:
    result = run_cli(tmp_path, *args, **env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("cryptoviz: error: ")
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_reports_its_summary_and_is_idempotent(tmp_path, testdata) -> None:
    spot = str(testdata / "binance" / SPOT)
    first = run_cli(tmp_path, "replay", spot)
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout) == {
        "lines read": 4716, "trades ingested": 1910, "duplicates": 0, "lines skipped": 2806,
    }  # fmt: skip
    assert "4,716/4,716 lines" in first.stderr  # the progress bar, on stderr
    second = run_cli(tmp_path, "replay", "--quiet", spot)
    assert second.returncode == 0, second.stderr
    assert summary(second.stdout) == {
        "lines read": 4716, "trades ingested": 0, "duplicates": 1910, "lines skipped": 2806,
    }  # fmt: skip
    assert "lines/s" not in second.stderr


def test_replay_of_a_missing_file_exits_2_naming_it(tmp_path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    result = run_cli(tmp_path, "replay", str(missing))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "cryptoviz: error: cannot read replay file(s)" in result.stderr
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_of_garbage_skips_every_line(tmp_path) -> None:
    noise = bytes(b for b in random.Random(7).randbytes(400) if b not in b"\r\n")
    lines = [
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTr',  # truncated JSON
        noise,
        b"\xff\xfe\x00\x80 not utf-8 at all",
        b'{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}',
        b'{"stream":"btcusdt@unknown","data":{"e":"mystery"}}',
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT","a":1,"p":"not-a-price"}}',
        b"[1, 2, 3]",
        b"42",
        b"",
    ]
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli(tmp_path, "replay", "--quiet", str(path))
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == {
        "lines read": len(lines), "trades ingested": 0, "duplicates": 0, "lines skipped": len(lines),
    }  # fmt: skip


GOOD_LINES = [
    '{"e":"trade","E":1700000001000,"T":1700000001000,"s":"AAAUSDT","t":10,"p":"1.5","q":"2","m":false}',
    '{"e":"trade","E":1700000001400,"T":1700000001400,"s":"AAAUSDT","t":11,"p":"1.6","q":"1","m":true}',
]


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "quiet"])
def test_replay_of_a_fake_gz_reports_it_plays_the_rest_and_exits_1(tmp_path, quiet) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(GOOD_LINES) + "\n")
    fake = tmp_path / "fake.jsonl.gz"
    fake.write_text("\n".join(GOOD_LINES) + "\n")  # plain text under a .gz name
    result = run_cli(tmp_path, "replay", *(["--quiet"] if quiet else []), str(fake), str(good))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert summary(result.stdout)["trades ingested"] == 2
    assert f"failed files:    {fake}" in result.stdout.splitlines()


def test_replay_of_a_clean_file_with_skipped_lines_exits_0(tmp_path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*GOOD_LINES, "not json"]) + "\n")
    result = run_cli(tmp_path, "replay", "--quiet", str(path))
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == {
        "lines read": 3, "trades ingested": 2, "duplicates": 0, "lines skipped": 1,
    }  # fmt: skip
    assert "failed files" not in result.stdout


@pytest.mark.parametrize(
    ("failed", "crashes", "code"),
    [([], 0, 0), (["a.gz"], 0, 1), ([], 2, 1), (["a.gz", "b.gz"], 1, 1)],
    ids=["clean", "failed-file", "crashed-task", "both"],
)
def test_replay_summary_and_exit_code_report_failures(failed, crashes, code) -> None:
    from cryptoviz.replay.command import exit_code, format_summary

    result = {
        "lines": 10, "ingested": 4, "duplicates": 0, "skipped": {"malformed": 6}, "seconds": 0.5,
        "interrupted": False, "failed_files": failed, "crashes": crashes,
    }  # fmt: skip
    text = format_summary(result)
    assert exit_code(result) == code
    assert ("failed files:    " + ", ".join(failed) in text.splitlines()) == bool(failed)
    assert ("task crashes:" in text) == bool(crashes)
