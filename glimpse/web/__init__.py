"""The web app: the HTTP API (:mod:`glimpse.web.api`) and the console that serves its pages
beside it (:mod:`glimpse.web.console`)."""

__all__: list[str] = []
