"""Response headers that keep browsers from being turned against our users, and a cross-site check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from fashion_classifier.web.errors import error_response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sec-Fetch-Site values of a request a page of this site (or the user, typing a URL) started.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
CROSS_SITE_MESSAGE = (
    "this request came from another web site and was refused; use the pages of this site or the API"
)


def register(app: Flask) -> None:
    app.before_request(refuse_cross_site_writes)
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on our own
    # form posts, which the cross-site check below could not tell from a foreign page.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def refuse_cross_site_writes() -> tuple[Response | str, int, dict[str, str]] | None:
    """403 for a state change that a page of another site made the browser send.

    Browsers say where a request comes from (Sec-Fetch-Site, else Origin, else Referer); a
    request without any of them is not from a browser page (curl, scripts) and goes through.
    """
    if request.method in SAFE_METHODS or _from_this_site():
        return None
    return error_response(403, "cross_site_request", CROSS_SITE_MESSAGE)


def _from_this_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in OWN_FETCH_SITES
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return True
    # Compare host and port only: behind a TLS-terminating proxy we see http, the browser https.
    return urlsplit(source).netloc.lower() == request.host.lower()
