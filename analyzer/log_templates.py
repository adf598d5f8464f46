"""Log templates: the constant part of a log message, mined from masked messages with drain3.

The store masks a message's variable parts in SQL (``storage/queries/logs/records.sql``:
timestamps, uuids, IP addresses, hex ids and numbers become ``<TS>``, ``<UUID>``, ``<IP>``,
``<HEX>``, ``<NUM>``), so a window's records collapse to a few distinct masked messages.
drain3 (the Drain algorithm: a fixed-depth parse tree over the first tokens, then token
similarity) clusters those into templates, turning the words that still vary (names,
stations, states) into ``<*>``. Mining runs per request over the distinct masked messages
of the window, in sorted order, so the same data always gives the same templates, and
ingest never pays for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drain3 import TemplateMiner

__all__ = ["LogTemplate", "MinedTemplates", "mine_templates", "template_id"]

SIMILARITY = 0.4  # drain3's default: the share of equal tokens for a message to join a cluster
TREE_DEPTH = 4

logging.getLogger("drain3").setLevel(logging.WARNING)  # it logs every new cluster at INFO


@dataclass(frozen=True)
class LogTemplate:
    template_id: str
    text: str


def template_id(text: str) -> str:
    """A stable id of a template's text: the same template has the same id in every window.

    >>> template_id("User <*> logged in")
    'a0eb36768538'
    """
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def _miner() -> TemplateMiner:
    # imported here: the server's trace and log endpoints import this module, and a server
    # that only takes exports need not hold drain3 and jsonpickle
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.drain_sim_th = SIMILARITY
    config.drain_depth = TREE_DEPTH
    config.parametrize_numeric_tokens = False  # numbers are masked already, as <NUM>
    return TemplateMiner(config=config)


class MinedTemplates(Mapping[str, LogTemplate]):
    """Each mined masked message -> its template, and :meth:`template_of` for any other
    masked message: the cluster it matches, else itself as a template of its own."""

    def __init__(self, miner: TemplateMiner, templates: dict[str, LogTemplate]) -> None:
        self._miner = miner
        self._templates = templates
        self._matched: dict[str, LogTemplate] = {}

    def __getitem__(self, masked: str) -> LogTemplate:
        return self._templates[masked]

    def __iter__(self) -> Iterator[str]:
        return iter(self._templates)

    def __len__(self) -> int:
        return len(self._templates)

    def template_of(self, masked: str) -> LogTemplate:
        """The template of a masked message, mined or not (one mined over a sample of the
        window's records may not have seen it); the clusters are not changed by the match."""
        found = self._templates.get(masked) or self._matched.get(masked)
        if found is None:
            found = self._matched[masked] = _template(self._miner, masked)
        return found


def _template(miner: TemplateMiner, masked: str) -> LogTemplate:
    cluster = miner.match(masked, full_search_strategy="fallback")
    text = cluster.get_template() if cluster is not None else masked
    return LogTemplate(template_id(text), text)


def mine_templates(masked: Iterable[str]) -> MinedTemplates:
    """Each distinct masked message -> its template (the clusters of all of them, in sorted order).

    >>> mined = mine_templates(["User <NUM> logged in", "User admin logged in"])
    >>> mined["User admin logged in"].text
    'User <*> logged in'
    >>> mined.template_of("User root logged in").text, mined.template_of("Disk full").text
    ('User <*> logged in', 'Disk full')
    """
    messages = sorted(set(masked))
    miner = _miner()
    for message in messages:
        miner.add_log_message(message)
    return MinedTemplates(miner, {message: _template(miner, message) for message in messages})
