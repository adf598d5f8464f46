"""Rendering, in one place: rich tables for the terminal (:mod:`glimpse.render.tables`) and
the Markdown/HTML incident report (:mod:`glimpse.render.report`)."""

__all__: list[str] = []
