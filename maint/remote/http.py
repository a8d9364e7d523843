"""What went wrong with an HTTP request, in words a maintainer acts on (never a Python class name)."""

from __future__ import annotations

import requests


def describe_request_error(exc: requests.RequestException, timeout: float | None = None) -> str:
    if isinstance(exc, requests.exceptions.MissingSchema):
        return "the URL has no scheme: write it as https://shop.example/ (in the inventory's url)"
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return "the URL's scheme is not http:// or https://"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.URLRequired):
        return "the URL is not valid"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g}s (timed out)" if timeout else "no answer (timed out)"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: the certificate was not accepted"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects (a redirect loop?)"
    text = str(exc)
    if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
        return "DNS: host name does not resolve"
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return "connection refused (web server down?)"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed (reset or closed by the server)"
    return "the request failed"
