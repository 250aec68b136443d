"""The engine names, in one place and without imports, so that the CLI's choices,
the config check and the lifecycle's defaults need not load the extractors.

`monitor.extract.profiles.PROFILES` holds the selectors of each profile; a test
checks that it names exactly `PROFILE_ENGINES`."""

from __future__ import annotations

# The forum profiles: absence verified on thread pages by default, and the only
# thread-page fallbacks (a shop's or blog's post selector falls back to the page
# body, which would read any error page as a first post).
FORUM_PROFILES: tuple[str, ...] = ("mybb", "xenforo", "phpbb")
PROFILE_ENGINES: tuple[str, ...] = (*FORUM_PROFILES, "shop", "blog")  # built-in selectors
ENGINES: tuple[str, ...] = ("css", *PROFILE_ENGINES, "json")
COUNT_ENGINES: tuple[str, ...] = ("shop", "blog", "json")  # list everything: absence counted
