"""A tiny HTTP/1.1 server on loopback that serves a `World`'s two onion sites.

GET and HEAD only, one request per connection (`Connection: close`), always with
Content-Length; the request head is read with a size and time limit. The site is
chosen by the Host header, as a Tor onion service's web server would.
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import urlsplit

from monitor.demo.tcp import LoopbackServer
from monitor.demo.world import Response, World

__all__ = ["MAX_HEAD", "DemoServer"]

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024  # bytes of request line + headers
HEAD_TIMEOUT = 10.0  # seconds to receive the request head


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


class DemoServer(LoopbackServer):
    """Serves `world.respond(host, target)` over HTTP/1.1 on a loopback port."""

    limit = MAX_HEAD  # a longer request head is answered 431

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.requests = 0  # requests answered

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        try:
            writer.write(await self._answer(reader))
            await writer.drain()
        except (asyncio.IncompleteReadError, OSError) as exc:  # OSError covers TimeoutError
            log.debug("demo server: incomplete request or client gone: %r", exc)
        except asyncio.CancelledError:
            pass  # close() cut us; end quietly (3.11's stream callback logs cancelled tasks)
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> bytes:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            method, target, host = _parse_head(head)
        except asyncio.LimitOverrunError:
            return _frame(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "GET", None)
        except _BadRequest as bad:
            return _frame(bad.status, "GET", None)
        answer = self.world.respond(host, target)
        self.requests += 1
        return _frame(HTTPStatus(answer.status), method, answer)


def _parse_head(head: bytes) -> tuple[str, str, str]:
    """The method, request target and Host (lower case, without port) of a request head."""
    try:
        lines = head.decode("ascii").split("\r\n")
        method, target, version = lines[0].split(" ")
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest(HTTPStatus.BAD_REQUEST) from None
    if not version.startswith("HTTP/1."):
        raise _BadRequest(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
    if method not in ("GET", "HEAD"):
        raise _BadRequest(HTTPStatus.METHOD_NOT_ALLOWED)
    headers = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(HTTPStatus.BAD_REQUEST)
            headers[name.strip().lower()] = value.strip()
    if target.startswith(("http://", "https://")):  # absolute form
        parts = urlsplit(target)
        host, target = parts.netloc, parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        host = headers.get("host", "")
    if not host or not target.startswith("/"):
        raise _BadRequest(HTTPStatus.BAD_REQUEST)
    return method, target, host.rsplit(":", 1)[0].lower()


def _error_page(status: HTTPStatus) -> Response:
    body = f"<!DOCTYPE html>\n<html><body><h1>{status.value} {status.phrase}</h1></body></html>\n"
    return Response(status.value, body)


def _frame(status: HTTPStatus, method: str, answer: Response | None) -> bytes:
    """The whole HTTP/1.1 response; HEAD gets the headers only."""
    body = (answer or _error_page(status)).body.encode()
    head = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: nginx",
        "Content-Type: text/html; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        head.append("Allow: GET, HEAD")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode()
    return raw if method == "HEAD" else raw + body
