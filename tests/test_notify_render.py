from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.errors import NotifyError
from monitor.models import Alert
from monitor.notify.render import FORMATS, render

NOW = datetime(2022, 6, 30, 12, 0, tzinfo=UTC)

HOSTILE_TITLE = (
    "[high] new: <!channel> <http://evil.example|click here> @here @Everyone "
    "[x](http://evil.example) ![i](http://evil.example/i.png) <script>alert(1)</script> "
    "*bold* _it_ ~strike~ `code` AT&T\r\nBcc: victim@example.com \u202eexe.pdf (darkforum)"
)
HOSTILE_BODY = "\n".join(
    [
        "Seller: <!here> @channel <@U123> *boss*",
        "Records: 1,000,000,000",
        "Price: 10 BTC <http://evil.example|pay here> [pay](http://evil.example)",
        "URL: http://forum.onion/thread_1?a=1&b=2",
        "Rule: shanghai",
        "not a label <b>x</b>",
    ]
)


def alert(title: str = HOSTILE_TITLE, body: str = HOSTILE_BODY) -> Alert:
    return Alert(
        id="a1",
        event_id="e1",
        rule="shanghai",
        target="t",
        severity="high",
        title=title,
        body=body,
        created=NOW,
    )


def assert_safe_title(title: str) -> None:
    assert "\r" not in title and "\n" not in title
    assert "\u202e" not in title
    assert not re.search(r"@(here|channel|everyone)", title, re.IGNORECASE)


def test_text() -> None:
    title, body, fmt = render(alert(), "text", defang_links=False)
    assert fmt == "text"
    assert_safe_title(title)
    assert title.startswith("[high] new: <!channel> <http://evil.example|click here> ＠here ＠Ever")
    assert body.split("\n")[0] == "Seller: <!here> ＠channel <@U123> *boss*"
    assert body.split("\n")[-1] == "not a label <b>x</b>"


def markdown_to_html(text: str) -> str:
    """How apprise turns our Markdown into HTML (e.g. for email)."""
    from apprise import NotifyFormat
    from apprise.conversion import convert_between

    html: str = convert_between(  # type: ignore[no-untyped-call]
        NotifyFormat.MARKDOWN, NotifyFormat.HTML, text
    )
    return html


def test_markdown_cannot_make_links_images_html_or_emphasis() -> None:
    title, body, fmt = render(alert(), "markdown", defang_links=False)
    assert fmt == "markdown"
    assert_safe_title(title)
    assert body.split("\n")[0] == r"- **Seller:** \<\!here\> ＠channel \<@U123\> \*boss\*"
    for text in (title, body):
        html = markdown_to_html(text)
        assert "<a " not in html and "<img" not in html and "<script" not in html
        assert "<em>" not in html and "<code>" not in html and "<del>" not in html
    html_body = markdown_to_html(body)
    assert html_body.count("<strong>") == 5  # our five labels, nothing else
    assert "&lt;b&gt;x&lt;/b&gt;" in html_body


def test_html_escapes_everything_from_the_page() -> None:
    title, body, fmt = render(alert(), "html", defang_links=False)
    assert fmt == "html"
    assert_safe_title(title)
    assert "<" not in title and ">" not in title
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in title
    assert "AT&T" in title  # an email subject: no needless entities
    lines = body.split("<br>\n")
    assert lines[0] == "<b>Seller:</b> &lt;!here&gt; ＠channel &lt;@U123&gt; *boss*"
    assert lines[3] == "<b>URL:</b> http://forum.onion/thread_1?a=1&amp;b=2"
    assert lines[5] == "not a label &lt;b&gt;x&lt;/b&gt;"
    tags = re.findall(r"<[^>]*>", body)
    assert set(tags) == {"<b>", "</b>", "<br>"}


def test_slack_render_has_no_mention_link_or_styling_characters() -> None:
    title, body, fmt = render(alert(), "slack", defang_links=False)
    assert fmt == "markdown"  # apprise's Slack plugin turns it into mrkdwn
    assert_safe_title(title)
    lines = body.split("\n")
    # URLs are exact, copyable code spans; nothing else may carry `~_ or *
    assert lines[3] == "**URL:** `http://forum.onion/thread_1?a=1&b=2`"
    for text in (title, body):
        assert "<" not in text and ">" not in text and "@" not in text
    for text in (title, *lines[:3], *lines[4:]):
        assert not re.search(r"[`~_]", text)
        assert "*" not in text.replace("**", "")  # only our bold labels
    assert body.split("\n")[0] == r"**Seller:** ＜\!here＞ ＠channel ＜＠U123＞ ＊boss＊"


def slack_payload(title: str, body: str, fmt: str, blocks: str) -> dict[str, Any]:
    """What apprise's Slack plugin would POST (requests is stubbed; nothing leaves)."""
    from unittest import mock

    import apprise

    posted: list[dict[str, Any]] = []

    class Response:
        status_code = 200
        content = b"ok"
        text = "ok"

    def fake_request(method: str, url: str, **kwargs: Any) -> Response:
        posted.append(json.loads(kwargs["data"]))
        return Response()

    client = apprise.Apprise()
    assert client.add(f"slack://T1234567/B1234567/abcdefghijklmnopqrstuvwx?blocks={blocks}")
    with mock.patch("apprise.plugins.slack.requests.request", side_effect=fake_request):
        assert client.notify(body=body, title=title, body_format=fmt)
    (payload,) = posted
    return payload


@pytest.mark.parametrize("blocks", ["no", "yes"])
def test_slack_payload_through_apprise_has_no_mention_or_link(blocks: str) -> None:
    title, body, fmt = render(alert(), "slack", defang_links=False)
    payload = slack_payload(title, body, fmt, blocks)
    attachment = payload["attachments"][0]
    if blocks == "yes":
        header, section = attachment["blocks"][:2]
        texts = [header["text"]["text"], section["text"]["text"]]
        assert section["text"]["type"] == "mrkdwn"
    else:
        texts = [attachment["title"], attachment["text"]]
        assert payload["mrkdwn"] is True
    for text in texts:
        # a Slack control sequence needs a literal "<"; mentions need "@"
        assert "<" not in text and "@" not in text
    assert texts[1].startswith("*Seller:* ＜!here＞ ＠channel")  # our label is bold
    assert "*URL:* `http://forum.onion/thread_1?a=1&amp;b=2`" in texts[1]  # "&" escaped once


def test_slack_url_code_span_cannot_be_broken_out_of() -> None:
    body = "URL: http://x.onion/`<!channel>`@here"
    _, rendered, fmt = render(alert(body=body), "slack", defang_links=False)
    assert rendered == "**URL:** `http://x.onion/｀＜!channel＞｀＠here`"
    text = slack_payload("t", rendered, fmt, "no")["attachments"][0]["text"]
    assert text.count("`") == 2 and "<" not in text and "@" not in text


def test_title_is_one_line_in_every_format() -> None:
    hostile = "new: x\r\nSubject: injected\x00\x1b[31m\u2028y"
    for fmt in ("text", "markdown", "html", "slack"):
        title, _, _ = render(alert(title=hostile), fmt)
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", title)


def test_unknown_format() -> None:
    with pytest.raises(NotifyError, match="unknown message format 'rtf'"):
        render(alert(), "rtf", defang_links=False)


def test_links_are_defanged_by_default() -> None:
    hostile = alert(body="Price: 10 BTC http://evil.example/pay\nURL: http://forum.onion/t?tid=1")
    for fmt in FORMATS:
        _, body, _ = render(hostile, fmt)
        assert "http://" not in body and "hxxp://" in body
        assert "forum.onion" not in body and "evil.example" not in body
    _, plain, _ = render(hostile, "text", defang_links=False)
    assert "URL: http://forum.onion/t?tid=1" in plain


def test_a_100_kb_hostile_title_is_cut_and_neutralised_in_every_format() -> None:
    from monitor.models import Event, EventKind, Listing, NotifyTarget, Rule
    from monitor.rules import alerts_for

    hostile = ("<!channel> @here \x1b[31m\r\nBcc: x@y.z \u202e<script>" * 2000)[:100_000]
    lst = Listing("forum", "1", "http://forum.onion/t/1", "police " + hostile, seller=hostile)
    event = Event(
        "e1", EventKind.NEW, "forum", "c1", datetime(2026, 1, 1, tzinfo=UTC), listing_id=lst.id
    )
    (made,) = alerts_for(
        [event],
        {lst.id: lst},
        [Rule("r", any=("police",))],
        [NotifyTarget("t", "json://x")],
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert len(made.title) <= 300 and len(made.body) < 5_000
    for fmt in FORMATS:
        title, body, _ = render(made, fmt)
        for text in (title, body):
            assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
            assert "@here" not in text
            if fmt != "text":  # plain text is never interpreted as markup
                assert "<script>" not in text and "<!channel>" not in text
        assert "\n" not in title
