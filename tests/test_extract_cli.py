"""`leakmon extract` and `leakmon parse` (monitor.cli_extract), invoked as click
command objects."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli_extract import extract, parse

CASES = Path(__file__).parent / "fixtures" / "engines"
ONION = "http://" + "a" * 56 + ".onion"
CONFIG = f"""
[tor]
socks = "socks5h://127.0.0.1:9050"

[rates]
BTC = 50000

[[source]]
name = "dumpster"
url = "{ONION}/forumdisplay.php?fid=9"
engine = "mybb"
every = "10m"

[source.selectors]
seller = "span.smalltext"
"""


def run(command: object, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


def test_parse_json_keys_exactly() -> None:
    code, out, _ = run(parse, "Старт - 100$, шаг - 20$, блиц - 200$ | 200к юзеров РУ", "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["records", "records_text", "size_bytes", "span", "price", "prices",
                          "negotiable", "free", "data_types", "country"]  # fmt: skip
    assert data["records"] == 200_000 and data["country"] == "RU"
    assert data["price"] == {"amount": 100.0, "currency": "USD", "usd": 100.0}
    assert [p["kind"] for p in data["prices"]] == ["start", "step", "blitz"]


def test_parse_rates_from_option_and_config(tmp_path: Path) -> None:
    _, out, _ = run(parse, "10 BTC", "--json", "--rate", "btc=60000")
    assert json.loads(out)["price"]["usd"] == 600_000.0
    config = tmp_path / "sources.toml"
    config.write_text(CONFIG)
    _, out, _ = run(parse, "10 BTC", "--json", "--config", str(config))
    assert json.loads(out)["price"]["usd"] == 500_000.0


def test_parse_text_output_is_safe() -> None:
    code, out, _ = run(parse, "Qatar 13k \x1b[31m 1995-2019 27 GB DM for price")
    assert code == 0
    assert "\x1b" not in out
    for needle in ("records:    13,000 '13k'", "span:       1995-2019", "negotiable: yes",
                   "country:    QA", "27.0 GB"):  # fmt: skip
        assert needle in out, needle


def test_parse_bad_rate_is_a_usage_error() -> None:
    code, _, err = run(parse, "10 BTC", "--rate", "BTC=lots")
    assert code == 2 and "not a number" in err


def test_extract_with_engine_json() -> None:
    page = str(CASES / "mybb_default.html")
    url = "http://dumpsterfx.onion/forumdisplay.php?fid=9"
    code, out, _ = run(extract, page, "--engine", "mybb", "--url", url, "--json",
                       "--now", "2026-07-01T12:00:00+00:00")  # fmt: skip
    assert code == 0
    data = json.loads(out)
    expected = json.loads((CASES / "mybb_default.expected.json").read_text(encoding="utf-8"))
    assert data["listings"] == expected["listings"]
    assert data["next_url"] == expected["next_url"]


def test_extract_text_output_every_field() -> None:
    page = str(CASES / "mybb_breach.html")
    code, out, _ = run(extract, page, "--engine", "mybb", "--url", "http://b.onion/Forum-Dbs",
                       "--now", "2026-07-01T12:00:00Z", "--include-sticky")  # fmt: skip
    assert code == 0
    for needle in ("[100] Marketplace rules", "sticky: yes", "seller:   Kestrel",
                   "records:  272,000,000 '272 M'", "posted:   2026-07-01T10:00:00+00:00",
                   "types:    names, phones, national_ids, dob", "country:  ID",
                   "size:     27.0 KB (27,648 bytes)", "span:     2015-2020", "views: 1200",
                   "5 listings; next page: http://b.onion/Forum-Databases?page=2"):  # fmt: skip
        assert needle in out, needle


def test_extract_with_source_and_set(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(CONFIG)
    page = str(CASES / "mybb_default.html")
    code, out, _ = run(extract, page, "--source", "dumpster", "--config", str(config), "--json")
    assert code == 0
    first = json.loads(out)["listings"][0]
    assert first["seller"] == "VIP Seller"  # the source's override
    assert first["url"].startswith(ONION)
    assert first["price"]["usd"] == 500_000.0  # the config's [rates]
    code, out, _ = run(extract, page, "--source", "dumpster", "--config", str(config), "--json",
                       "--set", "seller=div.author a")  # fmt: skip
    assert json.loads(out)["listings"][0]["seller"] == "ChinaDan"


def test_extract_css_engine_with_sets_only() -> None:
    page = str(CASES / "phpbb_prosilver.html")
    code, out, _ = run(extract, page, "--engine", "css", "--url", "http://b.onion/f",
                       "--set", "item=li.row", "--set", "title=a.topictitle",
                       "--set", "url=a.topictitle", "--json")  # fmt: skip
    assert code == 0
    assert len(json.loads(out)["listings"]) == 5  # css: no sticky rules


def test_extract_usage_and_config_errors(tmp_path: Path) -> None:
    page = str(CASES / "mybb_default.html")
    assert run(extract, page)[0] == 2
    assert run(extract, page, "--engine", "mybb", "--source", "x")[0] == 2
    code, _, err = run(extract, page, "--engine", "vbulletin")
    assert code == 2 and "unknown engine" in err
    code, _, err = run(extract, page, "--engine", "css")
    assert code == 2 and "css" in err
    code, _, err = run(extract, page, "--engine", "mybb", "--set", "colour=b")
    assert code == 2 and "unknown override colour" in err
    config = tmp_path / "sources.toml"
    config.write_text(CONFIG)
    code, _, err = run(extract, page, "--source", "nope", "--config", str(config))
    assert code == 2 and "nope" in err
