"""monitor.config: sources.toml -> Config, every problem at once with its path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.models import EventKind, Rule, Selectors, Source
from monitor.units import parse_duration, parse_size

REPO = Path(__file__).resolve().parent.parent
HOST = "a" * 52 + "bcdd.onion"
ONION = f"http://{HOST}/forumdisplay.php?fid=2"
SOURCE_KEYS: dict[str, str] = {
    "name": '"forum"',
    "url": f'"{ONION}"',
    "engine": '"css"',
    "every": '"15m"',
    "selectors": '{ item = "tr.row", title = "a.title", url = "a.title@href" }',
}
RULE = '[[rule]]\nname = "big"\nmin_records = 1000\n'
NOTIFY = '[[notify]]\nname = "slack"\nurl = "slack://a/b/c"\n'


def source(extra: str = "", **keys: str | None) -> str:
    """A valid [[source]] table; `keys` replace its values (None drops the key)."""
    lines = {**SOURCE_KEYS, **keys}
    body = "".join(f"{key} = {value}\n" for key, value in lines.items() if value is not None)
    return f"[[source]]\n{body}{extra}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={} if env is None else env)
    return info.value.problems


# ------------------------------------------------------------------ happy paths


def test_example_file_loads() -> None:
    env = {
        "TOR_CONTROL_PASSWORD": "tor-pw",
        "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX/#leaks",
        "SMTP_URL": "mailtos://soc:pw@smtp.example.org?to=soc@example.org",
    }
    config = load_config(REPO / "sources.toml", env=env)

    assert config.path == REPO / "sources.toml"
    assert config.tor.socks == "socks5h://127.0.0.1:9050"
    assert config.tor.control == "127.0.0.1:9051"
    assert config.tor.control_password == "tor-pw"
    assert [s.name for s in config.sources] == ["exampleforum-databases", "exampleshop"]
    forum, shop = config.sources
    assert forum.every == 900 and shop.every == 3600
    assert forum.max_pages == 3 and shop.max_pages == 5  # shop inherits [defaults]
    assert shop.missing_after == 3 and shop.max_bytes == 2_000_000 and shop.timeout == 90
    assert forum.selectors is not None and forum.selectors.id_pattern == r"tid=(\d+)"
    assert forum.selectors.next == "a.pagination_next@href"
    assert shop.selectors is not None and shop.selectors.price == "span.price"
    assert "User-Agent" in forum.headers and forum.headers == shop.headers
    assert [r.name for r in config.rules] == [
        "government-databases",
        "watched-sellers",
        "watch-acme",
    ]
    assert config.rules[0].min_records == 1_000_000
    assert EventKind.PRICE_DROP in config.rules[0].events
    assert config.rules[1].sellers == ("ChinaDan",)
    assert {t.name: t.url for t in config.targets} == {
        "slack": env["SLACK_WEBHOOK_URL"],
        "email": env["SMTP_URL"],
        "console": "console://",
    }
    assert [t.format for t in config.targets] == ["slack", "html", "text"]
    assert config.rates == {"BTC": 60000, "XMR": 150, "EUR": 1.08}
    assert (config.tor.newnym_after, config.tor.max_concurrency) == (3, 8)
    assert (forum.min_delay, forum.retries, forum.absence, forum.skip_sticky) == (
        2,
        2,
        "auto",
        True,
    )


def test_example_file_names_its_variables() -> None:
    problems = problems_of(REPO / "sources.toml")
    assert problems == [
        "tor.control_password: environment variable TOR_CONTROL_PASSWORD is not set",
        "notify[0].url: environment variable SLACK_WEBHOOK_URL is not set",
        "notify[1].url: environment variable SMTP_URL is not set",
    ]


def test_minimal_config_gets_builtin_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, source()), env={})

    assert config.tor.socks == "socks5h://127.0.0.1:9050"
    assert config.tor.control is None and config.tor.control_password is None
    assert config.db_path is None and config.rules == () and config.targets == ()
    assert config.sources == (
        Source(
            name="forum",
            url=ONION,
            engine="css",
            every=900.0,
            selectors=Selectors(item="tr.row", title="a.title", url="a.title@href"),
        ),
    )


def test_defaults_apply_unless_the_source_sets_them(tmp_path: Path) -> None:
    text = (
        "[defaults]\n"
        'every = "2h"\nmax_pages = 7\nmissing_after = 2\ntimeout = "45s"\n'
        'max_bytes = "1MiB"\nbaseline_alerts = true\n'
        'headers = { "User-Agent" = "UA", Accept = "text/html" }\n'
        + source(every=None, name='"inherits"')
        + source(
            "max_pages = 1\ntimeout = 10\nmax_bytes = 512\nbaseline_alerts = false\n"
            'headers = { "user-agent" = "mine", "X-Extra" = "1" }\n',
            name='"overrides"',
            every='"1h30m"',
        )
    )
    inherits, overrides = load_config(write(tmp_path, text), env={}).sources

    assert inherits.every == 7200 and inherits.max_pages == 7 and inherits.missing_after == 2
    assert inherits.timeout == 45 and inherits.max_bytes == 1_048_576
    assert inherits.baseline_alerts is True
    assert inherits.headers == {"User-Agent": "UA", "Accept": "text/html"}
    assert overrides.every == 5400 and overrides.max_pages == 1 and overrides.missing_after == 2
    assert overrides.timeout == 10 and overrides.max_bytes == 512
    assert overrides.baseline_alerts is False
    # header names compare case-insensitively: the source's user-agent replaces the default
    assert overrides.headers == {"Accept": "text/html", "user-agent": "mine", "X-Extra": "1"}


def test_css_sources_take_list_extras_and_thread_keys_but_not_url_template(
    tmp_path: Path,
) -> None:
    table = (
        '{ item = "li", title = "h2", url = "a@href", text = ".desc", views = ".views", '
        'thread_body = ".short", thread_gone = "(?i)gone" }'
    )
    config = load_config(write(tmp_path, source(selectors=table)), env={}, engines=("css",))
    (shop,) = config.sources
    assert shop.selectors == Selectors(item="li", title="h2", url="a@href")
    assert shop.overrides == {
        "text": ".desc",
        "views": ".views",
        "thread_body": ".short",
        "thread_gone": "(?i)gone",
    }
    bad = source(selectors='{ item = "li", title = "h2", url = "a@href", url_template = "/t" }')
    with pytest.raises(ConfigError, match=r"source\[0\]\.selectors\.url_template: only the json"):
        load_config(write(tmp_path, bad), env={}, engines=("css",))


def test_rules_targets_and_other_engines(tmp_path: Path) -> None:
    text = (
        source()
        + source(name='"board"', engine='"mybb"', selectors=None)
        + '[[rule]]\nname = "police"\nany = ["police"]\nall = ["china", "db"]\n'
        'exclude = ["fake"]\nsources = ["forum"]\nsellers = ["ChinaDan"]\nmin_records = 0\n'
        'events = ["new", "price_drop"]\nseverity = "critical"\ntargets = ["slack"]\n'
        + RULE
        + NOTIFY
    )
    config = load_config(write(tmp_path, text), env={}, engines=("css", "mybb"))

    assert config.source("board").selectors is None
    assert config.rules == (
        Rule(
            name="police",
            any=("police",),
            all=("china", "db"),
            exclude=("fake",),
            sources=("forum",),
            sellers=("ChinaDan",),
            min_records=0,
            events=(EventKind.NEW, EventKind.PRICE_DROP),
            severity="critical",
            targets=("slack",),
        ),
        Rule(name="big", min_records=1000),
    )
    assert config.targets[0].format == "text"


def test_storage_path_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    for raw, expected in [
        ("state/leakmon.db", conf_dir / "state/leakmon.db"),
        ("~/leakmon.db", tmp_path / "home/leakmon.db"),
        ("/var/lib/leakmon/leakmon.db", Path("/var/lib/leakmon/leakmon.db")),
    ]:
        path = write(conf_dir, f'[storage]\npath = "{raw}"\n' + source())
        assert load_config(path, env={}).db_path == expected


def test_config_path_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, source())
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("sources.toml"), env={}).path == tmp_path.resolve() / "sources.toml"


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1d2h3m4s", 93784),
        ("1.5h", 5400),
        ("2H", 7200),
        ("90", 90),
        (90, 90),
        (0.5, 0.5),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("", "not a duration"),
        ("5 parsecs", "not a duration"),
        ("500ms", "not a duration"),
        ("-5s", "not a duration"),
        ("h", "not a duration"),
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("0s", "greater than zero"),
        (0, "greater than zero"),
        (-1, "greater than zero"),
        (math.inf, "finite"),
        (math.nan, "finite"),
        (True, "not a duration"),
        (None, "not a duration"),
    ],
)
def test_parse_duration_rejects(value: object, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("5MB", 5_000_000),
        ("512KB", 512_000),
        ("512 KiB", 524_288),
        ("1GiB", 2**30),
        ("1gb", 10**9),
        ("1.5MB", 1_500_000),
        ("10B", 10),
        ("1024", 1024),
        (1024, 1024),
    ],
)
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("5XB", "not a size"),
        ("", "not a size"),
        ("MB", "not a size"),
        ("-1MB", "not a size"),
        (1.5, "not a size"),
        (True, "not a size"),
        (0, "greater than zero"),
        ("0MB", "greater than zero"),
        (-1, "greater than zero"),
        ("0.1B", "at least 1 byte"),
    ],
)
def test_parse_size_rejects(value: object, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        parse_size(value)


# ------------------------------------------------------------ environment


def test_env_substitution(tmp_path: Path) -> None:
    text = (
        '[tor]\ncontrol = "127.0.0.1:9051"\ncontrol_password = "${TOR_PW}"\n'
        + source(
            'headers = { Authorization = "Bearer ${TOKEN}" }\n'
            'cookies = { session = "${SESSION}" }\n'
            'block_markers = ["costs $${PRICE}", "${A}${B}"]\n',
            url='"http://${ONION_HOST}/f"',
        )
        + NOTIFY.replace('"slack://a/b/c"', '"${SLACK_URL}"')
    )
    env = {
        "TOR_PW": "pw",
        "TOKEN": "tok",
        "SESSION": "sess",
        "ONION_HOST": HOST,
        "A": "x",
        "B": "y",
        "SLACK_URL": "slack://t/o/k",
    }
    config = load_config(write(tmp_path, text), env=env)

    src = config.sources[0]
    assert config.tor.control_password == "pw"
    assert src.url == f"http://{HOST}/f"
    assert src.headers == {"Authorization": "Bearer tok"}
    assert src.cookies == {"session": "sess"}
    assert src.block_markers == ("costs ${PRICE}", "xy")  # $${ is a literal ${
    assert config.targets[0].url == "slack://t/o/k"


def test_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKMON_TEST_SLACK", "slack://from/os/environ")
    path = write(tmp_path, source() + NOTIFY.replace("slack://a/b/c", "${LEAKMON_TEST_SLACK}"))
    assert load_config(path).targets[0].url == "slack://from/os/environ"


def test_empty_control_password_means_none(tmp_path: Path) -> None:
    path = write(tmp_path, '[tor]\ncontrol_password = "${PW}"\n' + source())
    assert load_config(path, env={"PW": ""}).tor.control_password is None


def test_substituted_values_never_appear_in_messages(tmp_path: Path) -> None:
    secret_url = "hunter2-not-an-apprise-url"
    text = source(engine='"${ENGINE}"') + NOTIFY.replace('"slack://a/b/c"', '"${SLACK_URL}"')
    env = {"ENGINE": "hunter2engine", "SLACK_URL": secret_url}
    problems = problems_of(write(tmp_path, text), env)

    assert problems == [
        "source[0].engine: unknown engine '${ENGINE}'; known: css",
        "notify[0].url: must be an apprise URL like slack://...",
    ]
    assert "hunter2" not in "\n".join(problems)


# ------------------------------------------------------------ broken configs

BROKEN = [
    pytest.param(None, "{path}", "no such file", id="missing-file"),
    pytest.param('[tor]\nsocks = "x\n' + source(), "{path}", "invalid TOML", id="bad-toml"),
    pytest.param('[tor\nsocks = "x"\n', "{path}", "line 1, column 5", id="bad-toml-position"),
    pytest.param(
        "[default]\n" + source(), "default", "unknown key (did you mean 'defaults'?)", id="top-key"
    ),
    pytest.param("[source]\nname = 'x'\n", "source", "array of tables", id="source-not-array"),
    pytest.param("[tor]\n", "source", "add at least one [[source]]", id="no-sources"),
    pytest.param("[[tor]]\n" + source(), "tor", "must be a table: write [tor]", id="tor-array"),
    pytest.param(
        '[tor]\nsock = "socks5h://127.0.0.1:9050"\n' + source(),
        "tor.sock",
        "unknown key (did you mean 'socks'?)",
        id="tor-key",
    ),
    pytest.param(
        '[storage]\npath = ""\n' + source(), "storage.path", "must not be empty", id="empty-db"
    ),
    pytest.param(
        source('evrey = "5m"\n'), "source[0].evrey", "did you mean 'every'?", id="source-key"
    ),
    pytest.param(
        source(selectors='{ item = "tr", title = "a", url = "a@href", nxt = "a" }'),
        "source[0].selectors.nxt",
        "unknown key (did you mean 'next'?)",
        id="selector-key",
    ),
    pytest.param(
        source(engine='"csss"'),
        "source[0].engine",
        "unknown engine 'csss' (did you mean 'css'?)",
        id="unknown-engine",
    ),
    pytest.param(source(url=None), "source[0].url", "required", id="missing-url"),
    pytest.param(source(url='"ftp://x.onion/"'), "source[0].url", "http://", id="bad-url"),
    pytest.param(
        source(url='"http://abc.onion/"'), "source[0].url", "v3 onion address", id="short-onion"
    ),
    pytest.param(
        source() + source(), "source[1].name", "duplicate name 'forum'", id="duplicate-source"
    ),
    pytest.param(source(name='"Big Forum"'), "source[0].name", "lowercase", id="bad-name"),
    pytest.param(source(every='"5 parsecs"'), "source[0].every", "not a duration", id="duration"),
    pytest.param(source(every='"0s"'), "source[0].every", "greater than zero", id="zero-every"),
    pytest.param(
        "[defaults]\ntimeout = 0\n" + source(),
        "defaults.timeout",
        "greater than zero",
        id="zero-timeout",
    ),
    pytest.param(
        source(every=None), "source[0].every", "set it here or in [defaults]", id="no-every"
    ),
    pytest.param(source('max_bytes = "5XB"\n'), "source[0].max_bytes", "not a size", id="size"),
    pytest.param(source("max_pages = 0\n"), "source[0].max_pages", "at least 1", id="pages-0"),
    pytest.param(source("max_pages = 1001\n"), "source[0].max_pages", "at most 1000", id="pages"),
    pytest.param(
        source("missing_after = 0\n"), "source[0].missing_after", "at least 1", id="missing-after"
    ),
    pytest.param(source('enabled = "yes"\n'), "source[0].enabled", "true or false", id="bool-type"),
    pytest.param(
        '[tor]\nsocks = "socks5://127.0.0.1:9050"\n' + source(),
        "tor.socks",
        "resolves host names locally",
        id="socks5-without-h",
    ),
    pytest.param(
        '[tor]\ncontrol = "9051"\n' + source(), "tor.control", "host:port", id="bad-control"
    ),
    pytest.param(
        source(url='"https://leaks.example.com/"'),
        "source[0].url",
        "allow_clearnet = true",
        id="clearnet",
    ),
    pytest.param(
        source(
            selectors='{ item = "tr", title = "a", url = "a@href", id_pattern = "tid=(\\\\d+" }'
        ),
        "source[0].selectors.id_pattern",
        "not a valid regular expression",
        id="bad-regex",
    ),
    pytest.param(
        source(selectors='{ item = "tr", title = "a", url = "a@href", id_pattern = "tid" }'),
        "source[0].selectors.id_pattern",
        "capturing group",
        id="regex-without-group",
    ),
    pytest.param(
        source(selectors='{ title = "a", url = "a@href" }'),
        "source[0].selectors.item",
        "required",
        id="css-without-item",
    ),
    pytest.param(
        source(selectors=None),
        "source[0].selectors",
        "required by the css engine",
        id="css-without-selectors",
    ),
    pytest.param(
        source('headers = { "X-Test" = "a\\r\\nInjected: 1" }\n'),
        "source[0].headers.X-Test",
        "control characters",
        id="header-injection",
    ),
    pytest.param(
        source('headers = { "X Test" = "a" }\n'),
        'source[0].headers."X Test"',
        "not a valid header",
        id="bad-header-name",
    ),
    pytest.param(
        source() + RULE + 'sources = ["forun"]\n',
        "rule[0].sources",
        "unknown source 'forun' (did you mean 'forum'?)",
        id="rule-unknown-source",
    ),
    pytest.param(
        source() + NOTIFY + RULE + 'targets = ["slak"]\n',
        "rule[0].targets",
        "unknown notify target 'slak' (did you mean 'slack'?)",
        id="rule-unknown-target",
    ),
    pytest.param(
        source() + '[[rule]]\nname = "all"\nexclude = ["x"]\n',
        "rule[0]",
        "matches everything: give any, all, regex, sellers or min_records",
        id="rule-matches-everything",
    ),
    pytest.param(
        source() + RULE + 'severity = "urgent"\n',
        "rule[0].severity",
        "unknown severity 'urgent'; known: low, medium, high, critical",
        id="bad-severity",
    ),
    pytest.param(
        source() + RULE + 'events = ["new", "nwe"]\n',
        "rule[0].events[1]",
        "unknown event 'nwe' (did you mean 'new'?)",
        id="bad-event",
    ),
    pytest.param(
        source() + RULE + "events = []\n", "rule[0].events", "must not be empty", id="no-events"
    ),
    pytest.param(
        source() + RULE.replace("1000", "-1"),
        "rule[0].min_records",
        "at least 0",
        id="negative-min-records",
    ),
    pytest.param(
        source() + RULE + RULE, "rule[1].name", "duplicate name 'big'", id="duplicate-rule"
    ),
    pytest.param(
        source() + NOTIFY + 'format = "rich"\n',
        "notify[0].format",
        "unknown format 'rich'",
        id="bad-format",
    ),
    pytest.param(
        source() + NOTIFY.replace("slack://a/b/c", "hooks.slack.com"),
        "notify[0].url",
        "apprise URL",
        id="bad-notify-url",
    ),
    pytest.param(
        source() + NOTIFY.replace("slack://a/b/c", "${SLACK_URL}"),
        "notify[0].url",
        "environment variable SLACK_URL is not set",
        id="missing-env",
    ),
    pytest.param(
        source() + NOTIFY.replace("slack://a/b/c", "${SLACK_URL"),
        "notify[0].url",
        "malformed ${...}",
        id="malformed-env",
    ),
]


@pytest.mark.parametrize(("text", "prefix", "phrase"), BROKEN)
def test_broken_config(tmp_path: Path, text: str | None, prefix: str, phrase: str) -> None:
    path = tmp_path / "sources.toml" if text is None else write(tmp_path, text)
    problems = problems_of(path)

    assert len(problems) == 1, problems
    assert problems[0].startswith(prefix.format(path=path) + ": "), problems
    assert phrase in problems[0]
    assert "pydantic" not in problems[0] and "Input should" not in problems[0]


def test_directory_and_bad_encoding(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: is a directory, not a file"]
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"# caf\xe9\n[tor]\n")
    assert problems_of(path) == [f"{path}: not UTF-8 text (byte 5)"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        '[tor]\nsocks = "socks5://127.0.0.1:9050"\n'
        '[defaults]\nmax_pages = "many"\n'
        + source(url='"http://example.com/"', every='"soon"')
        + source('evrey = "1h"\n', name='"forum"', engine='"phpbb"')
        + '[[rule]]\nname = "everything"\ntargets = ["pager"]\n'
        + NOTIFY.replace("slack://a/b/c", "${SLACK_URL}")
        + 'format = "rich"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})

    paths = [problem.split(": ", 1)[0] for problem in info.value.problems]
    assert paths == [
        "tor.socks",
        "defaults.max_pages",
        "source[0].every",
        "source[0].url",
        "source[1].engine",
        "source[1].evrey",
        "source[1].name",
        "rule[0]",
        "rule[0].targets",
        "notify[0].url",
        "notify[0].format",
    ]
    assert str(info.value) == "\n".join(info.value.problems)


# ------------------------------------------------- politeness, engines, storage, rates


def test_new_keys_map_to_the_models(tmp_path: Path) -> None:
    text = (
        "[tor]\nnewnym_after = 5\nmax_concurrency = 2\n"
        '[storage]\nkeep_html = true\nkeep_events = "30d"\nkeep_crawls = "1w"\n'
        "[rates]\nBTC = 60000\nxmr = 150.5\n"
        '[defaults]\nmin_delay = "0s"\nretries = 4\nskip_sticky = false\n'
        'timezone = "Europe/Moscow"\nabsence = "count"\n'
        + source(name='"inherits"')
        + source(
            'min_delay = "1.5s"\nretries = 0\nabsence = "verify"\nrevisit_every = "6h"\n'
            'skip_sticky = true\ntimezone = "Asia/Shanghai"\n',
            name='"board"',
            engine='"mybb"',
            selectors='{ seller = "span.author a", id_pattern = "tid=(\\\\d+)" }',
        )
        + source(name='"profile"', engine='"mybb"', selectors=None)
    )
    config = load_config(write(tmp_path, text), env={}, engines=("css", "mybb"))

    assert (config.tor.newnym_after, config.tor.max_concurrency) == (5, 2)
    assert (config.storage.keep_html, config.storage.keep_events) == (True, 30 * 86400)
    assert config.storage.keep_crawls == 7 * 86400
    assert config.rates == {"BTC": 60000.0, "XMR": 150.5}
    inherits, board, profile = config.sources
    assert (inherits.min_delay, inherits.retries, inherits.skip_sticky) == (0.0, 4, False)
    assert (inherits.timezone, inherits.absence) == ("Europe/Moscow", "count")
    assert inherits.selectors is not None and inherits.overrides == {}
    assert (board.min_delay, board.retries, board.absence) == (1.5, 0, "verify")
    assert (board.revisit_every, board.skip_sticky, board.timezone) == (
        21600,
        True,
        "Asia/Shanghai",
    )
    assert board.selectors is None
    assert board.overrides == {"seller": "span.author a", "id_pattern": r"tid=(\d+)"}
    assert profile.selectors is None and profile.overrides == {}


def test_new_keys_keep_their_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, source()), env={})
    (forum,) = config.sources
    assert (config.tor.newnym_after, config.tor.max_concurrency) == (3, 8)
    assert config.storage.keep_html is False and config.storage.keep_events is None
    assert config.rates == {}
    assert (forum.min_delay, forum.retries, forum.absence, forum.timezone) == (2.0, 2, "auto", None)


NEW_BROKEN = [
    ("[tor]\nnewnym_after = 0\n", "tor.newnym_after", "at least 1"),
    ("[tor]\nmax_concurrency = 257\n", "tor.max_concurrency", "at most 256"),
    ("[tor]\nnewnym = 3\n", "tor.newnym", "did you mean 'newnym_after'?"),
    ('[storage]\nkeep_html = "yes"\n', "storage.keep_html", "true or false"),
    ('[storage]\nkeep_events = "forever"\n', "storage.keep_events", "not a duration"),
    ("[rates]\nBTC = 0\n", "rates.BTC", "positive"),
    ('[rates]\nBTC = "lots"\n', "rates.BTC", "must be a number"),
    ('[rates]\n"B C" = 1\n', 'rates."B C"', "not a currency code"),
    ("[rates]\nBTC = -1\n", "rates.BTC", "positive"),
    ('[defaults]\nmin_delay = "-1s"\n', "defaults.min_delay", "not a duration"),
    ("[defaults]\nmin_delay = -1\n", "defaults.min_delay", "must not be negative"),
    ("[defaults]\nretries = 11\n", "defaults.retries", "at most 10"),
    ('[defaults]\nabsence = "verfy"\n', "defaults.absence", "did you mean 'verify'?"),
    ('[defaults]\ntimezone = "Mars/Olympus"\n', "defaults.timezone", "unknown time zone"),
    ("[defaults]\nskip_sticky = 1\n", "defaults.skip_sticky", "true or false"),
]


@pytest.mark.parametrize(("table", "prefix", "phrase"), NEW_BROKEN)
def test_new_keys_broken(tmp_path: Path, table: str, prefix: str, phrase: str) -> None:
    problems = problems_of(write(tmp_path, table + source()))
    assert len(problems) == 1, problems
    assert problems[0].startswith(prefix + ": "), problems
    assert phrase in problems[0]


def test_partial_selectors_only_for_profile_engines(tmp_path: Path) -> None:
    text = (
        source(selectors='{ item = "tr", title = "a" }')
        + source(name='"board"', engine='"mybb"', selectors='{ seler = "a", posted = " " }')
        + source('revisit_every = "0s"\n', name='"shop"', engine='"mybb"', selectors=None)
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={}, engines=("css", "mybb"))
    assert info.value.problems == [
        "source[0].selectors.url: required by the css engine",
        "source[1].selectors.posted: must not be empty",
        "source[1].selectors.seler: unknown key (did you mean 'seller'?)",
        "source[2].revisit_every: must be greater than zero",
    ]


RICH = """
[[source]]
name = "forum"
url = "http://exampleforums4td2ua3t5cqcxsze2q4kado62ehgy4rcu3qa3ibb2ud.onion/"
engine = "mybb"
every = "15m"

[[rule]]
name = "big-gov"
regex = ['gov(ernment)?\\b']
min_price_usd = 10000
data_types = ["national_ids"]
countries = ["cn", "HK"]
first_post = true
targets = ["slack"]

[[watch]]
name = "alibaba"
names = ["Alibaba"]
aliases = ["Aliyun", "阿里巴巴"]
domains = ["alibaba.com"]
targets = ["slack"]

[[notify]]
name = "slack"
url = "json://127.0.0.1:9/x"
format = "slack"
digest = "1h"
rate_limit = 20
min_severity = "medium"
proxy = "socks5h://127.0.0.1:9050"
defang = false
"""


def test_rule_watch_and_notify_options(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(RICH)
    config = load_config(path, engines=("css", "mybb"))
    rule, watch = config.rules
    assert rule.regex == (r"gov(ernment)?\b",)
    assert rule.min_price_usd == 10000
    assert rule.countries == ("CN", "HK")
    assert rule.data_types == ("national_ids",) and rule.first_post
    assert watch.name == "watch-alibaba"
    assert watch.any == ("Alibaba", "Aliyun", "阿里巴巴", "alibaba.com")
    assert watch.first_post and watch.severity == "high"
    (target,) = config.targets
    assert (target.digest, target.rate_limit, target.min_severity) == (3600, 20, "medium")
    assert target.proxy == "socks5h://127.0.0.1:9050" and target.defang is False


@pytest.mark.parametrize(
    ("old", "new", "prefix", "phrase"),
    [
        ("regex = ['gov(ernment)?\\b']", "regex = ['(unclosed']", "rule[0].regex[0]", "regular"),
        ('countries = ["cn", "HK"]', 'countries = ["China"]', "rule[0].countries[0]", "two-letter"),
        (
            'names = ["Alibaba"]\naliases = ["Aliyun", "阿里巴巴"]\ndomains = ["alibaba.com"]',
            "",
            "watch[0]",
            "watches nothing",
        ),
        ("rate_limit = 20", "rate_limit = 0", "notify[0].rate_limit", "at least 1"),
        (
            'proxy = "socks5h://127.0.0.1:9050"',
            'proxy = "socks5://127.0.0.1:9050"',
            "notify[0].proxy",
            "socks5h",
        ),
        ('digest = "1h"', 'digest = "soon"', "notify[0].digest", ""),
    ],
)
def test_broken_rule_watch_notify(
    tmp_path: Path, old: str, new: str, prefix: str, phrase: str
) -> None:
    assert old in RICH
    path = tmp_path / "sources.toml"
    path.write_text(RICH.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path, engines=("css", "mybb"))
    assert any(p.startswith(prefix) and phrase in p for p in info.value.problems), (
        info.value.problems
    )


def test_missing_after_defaults_to_2_for_counted_sources(tmp_path: Path) -> None:
    onion = "http://exampleforums4td2ua3t5cqcxsze2q4kado62ehgy4rcu3qa3ibb2ud.onion/"
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[source]]\nname = "shop"\nurl = "{onion}"\nengine = "shop"\nevery = "1h"\n'
        f'[[source]]\nname = "forum"\nurl = "{onion}"\nengine = "mybb"\nevery = "1h"\n'
        f'[[source]]\nname = "own"\nurl = "{onion}"\nengine = "shop"\nevery = "1h"\n'
        "missing_after = 3\n"
    )
    config = load_config(path, engines=("shop", "mybb"))
    assert [s.missing_after for s in config.sources] == [2, 1, 3]


def test_ops_section(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(RICH + '\n[ops]\ntarget = "slack"\ndown_after = 5\n')
    config = load_config(path, engines=("css", "mybb"))
    assert (config.ops.target, config.ops.down_after) == ("slack", 5)
    path.write_text(RICH + '\n[ops]\ntarget = "slak"\ndown_after = 0\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, engines=("css", "mybb"))
    text = "\n".join(info.value.problems)
    assert "ops.target: unknown notify target 'slak' (did you mean 'slack'?)" in text
    assert "ops.down_after: must be at least 1" in text


def test_revisit_keys_map_to_the_source_with_defaults_underneath(tmp_path: Path) -> None:
    text = (
        '[defaults]\nrevisit_max = "2d"\npage_budget = 30\n'
        + source(name='"inherits"')
        + source('revisit_every = "1h"\nrevisit_max = "1d"\nrevisit_budget = 8\n', name='"own"')
    )
    inherits, own = load_config(write(tmp_path, text), env={}).sources
    assert (inherits.revisit_max, inherits.page_budget, inherits.revisit_budget) == (
        2 * 86400,
        30,
        None,
    )
    assert (own.revisit_every, own.revisit_max, own.page_budget, own.revisit_budget) == (
        3600,
        86400,
        30,
        8,
    )
    (plain,) = load_config(write(tmp_path, source()), env={}).sources
    assert (plain.revisit_max, plain.page_budget, plain.revisit_budget) == (None, 20, None)


def test_restore_window_maps_to_the_source_with_defaults_underneath(tmp_path: Path) -> None:
    text = (
        '[defaults]\nrestore_window = "30d"\n'
        + source(name='"inherits"')
        + source('restore_window = "0"\n', name='"off"')
        + source('restore_window = "1d"\nrevisit_every = "1h"\n', name='"own"')
    )
    inherits, off, own = load_config(write(tmp_path, text), env={}).sources
    assert (inherits.restore_window, off.restore_window, own.restore_window) == (
        30 * 86400,
        0,
        86400,
    )
    (plain,) = load_config(write(tmp_path, source()), env={}).sources
    assert plain.restore_window is None  # absence.DEFAULT_RESTORE_WINDOW: 14 days


def test_reread_every_maps_to_the_source_and_is_checked(tmp_path: Path) -> None:
    text = (
        '[defaults]\nreread_every = "12h"\n'
        + source(name='"a"')
        + source('reread_every = "0"\n', name='"off"')
    )
    inherits, off = load_config(write(tmp_path, text), env={}).sources
    assert (inherits.reread_every, off.reread_every) == (12 * 3600, 0)
    (plain,) = load_config(write(tmp_path, source()), env={}).sources
    assert plain.reread_every is None  # absence.reread_every: a day for forums
    for value, problem in (
        ('"30m"', "source[0].reread_every: must be 0 (off) or at least 1h"),
        ('"400d"', "source[0].reread_every: must be at most 365d (0 turns re-reads off)"),
        ('"often"', "source[0].reread_every: not a duration"),
    ):
        problems = problems_of(write(tmp_path, source(f"reread_every = {value}\n")))
        assert [p[: len(problem)] for p in problems] == [problem], problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[defaults]\nrestore_window = "soon"\n',
            ["defaults.restore_window: not a duration"],
        ),
        (
            "[defaults]\nrestore_window = true\n",
            ["defaults.restore_window: not a duration"],
        ),
        (
            source('restore_window = "400d"\n'),
            ["source[0].restore_window: must be at most 365d (0 turns re-checks off)"],
        ),
        (
            '[defaults]\nrestore_window = "2h"\n',
            ["defaults.restore_window: must be 0 (off) or at least revisit_every (6h)"],
        ),
        (  # a source's own revisit_every over [defaults]' window
            '[defaults]\nrestore_window = "1d"\n' + source('revisit_every = "2d"\n'),
            ["source[0].restore_window: must be 0 (off) or at least revisit_every (2d)"],
        ),
    ],
)
def test_restore_window_broken(tmp_path: Path, text: str, expected: list[str]) -> None:
    text = text if "[[source]]" in text else text + source()
    problems = problems_of(write(tmp_path, text))
    assert [p[: len(e)] for p, e in zip(problems, expected, strict=False)] == expected, problems
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\npage_budget = 0\n", ["defaults.page_budget: must be at least 1"]),
        ("[defaults]\nrevisit_budget = 0\n", ["defaults.revisit_budget: must be at least 1"]),
        ('[defaults]\nrevisit_max = "soon"\n', ["defaults.revisit_max: not a duration"]),
        (
            "[defaults]\nrevisit_budget = 25\n",
            ["defaults.revisit_budget: must be at most page_budget (20)"],
        ),
        (
            '[defaults]\nrevisit_max = "1h"\n',
            ["defaults.revisit_max: must be at least revisit_every (6h)"],
        ),
        (  # a source's own page_budget under [defaults]' revisit_budget
            "[defaults]\nrevisit_budget = 10\n" + source("page_budget = 5\n"),
            ["source[0].revisit_budget: must be at most page_budget (5)"],
        ),
        (
            source('revisit_every = "2d"\nrevisit_max = "1d"\n'),
            ["source[0].revisit_max: must be at least revisit_every (2d)"],
        ),
    ],
)
def test_revisit_keys_broken(tmp_path: Path, text: str, expected: list[str]) -> None:
    text = text if "[[source]]" in text else text + source()
    problems = problems_of(write(tmp_path, text))
    assert [p[: len(e)] for p, e in zip(problems, expected, strict=False)] == expected, problems
    assert len(problems) == len(expected), problems


def test_fallback_engines_are_profiles_each_once(tmp_path: Path) -> None:
    from monitor.extract import ENGINES

    def load(fallbacks: str) -> list[str] | tuple[str, ...]:
        text = source(f"fallback_engines = {fallbacks}\n", engine='"mybb"', selectors=None)
        try:
            return (
                load_config(write(tmp_path, text), env={}, engines=ENGINES)
                .sources[0]
                .fallback_engines
            )
        except ConfigError as exc:
            return exc.problems

    assert load('["xenforo", "phpbb"]') == ("xenforo", "phpbb")
    assert load("[]") == ()
    assert load('["css"]') == [
        "source[0].fallback_engines: 'css' is not an engine profile; "
        "known: blog, mybb, phpbb, shop, xenforo"
    ]
    assert load('["xenfor"]') == [
        "source[0].fallback_engines: 'xenfor' is not an engine profile (did you mean 'xenforo'?)"
    ]
    for twice in ('["xenforo", "xenforo"]', '["mybb"]'):
        assert load(twice) == [
            "source[0].fallback_engines: each engine at most once, and not the source's own engine"
        ]
