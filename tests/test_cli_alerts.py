"""`alerts`, `alerts retry`, `notify test` and `rules test` against a real demo history."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main
from tests.conftest import Hook


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def demo_config(tmp_path: Path, hook: Hook) -> Path:
    """The demo's config with a webhook target beside the console."""
    text = resources.files("monitor.demo").joinpath("sources.toml").read_text()
    text = text.replace('targets = ["console"]', 'targets = ["console", "hook"]')
    path = tmp_path / "sources.toml"
    path.write_text(text + f'\n[[notify]]\nname = "hook"\nurl = "{hook.url}"\n')
    return path


def test_outbox_retry_notify_test_and_retro_hunt(tmp_path: Path, hook: Hook) -> None:
    config = demo_config(tmp_path, hook)
    db = str(tmp_path / "demo.db")
    hook.status = 500  # the webhook is down during the whole story
    code, out, _ = run("demo", "--interval", "0", "--db", db, "--config", str(config))
    assert code == 0
    assert out.count("ALERT") == 4  # the console target still got everything

    code, out, _ = run("alerts", "--json", "--db", db)
    rows = json.loads(out)
    assert {r["status"] for r in rows if r["target"] == "console"} == {"sent"}
    assert {r["status"] for r in rows if r["target"] == "hook"} == {"pending"}
    assert all(r["attempts"] == 1 and r["last_error"] for r in rows if r["target"] == "hook")
    code, out, _ = run("alerts", "--pending", "--db", db)
    assert code == 0 and "not delivered" in out

    # the receiver recovers: retry sends each pending alert exactly once
    hook.status = 200
    code, out, _ = run("alerts", "retry", "--db", db, "--config", str(config))
    assert code == 0, out
    assert len(hook.titles) == 4 and len(set(hook.titles)) == 4
    code, out, _ = run("alerts", "--pending", "--json", "--db", db)
    assert json.loads(out) == []

    # notify test: one ok target, one broken one
    code, out, _ = run("notify", "test", "hook", "--config", str(config), "--db", db)
    assert code == 0 and "hook: sent" in out
    hook.status = 404
    code, out, _ = run("notify", "test", "hook", "--config", str(config), "--db", db)
    assert code == 1 and "hook: FAILED" in out
    assert hook.url.split("//")[1] not in out  # the URL (a secret) is never printed

    # retro-hunt gives the same (event, rule) pairs the live path alerted on
    code, out, _ = run("rules", "test", "--json", "--config", str(config), "--db", db)
    assert code == 0
    hunted = {(m["event_id"], m["rule"]) for m in json.loads(out)}
    code, out, _ = run("alerts", "--json", "--db", db)
    live = {(r["event_id"], r["rule"]) for r in json.loads(out)}
    assert hunted == live
    assert len(hunted) == 4
