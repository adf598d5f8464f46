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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drain3 import TemplateMiner

__all__ = ["LogTemplate", "mine_templates", "template_id"]

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


def mine_templates(masked: Iterable[str]) -> dict[str, LogTemplate]:
    """Each distinct masked message -> its template (the clusters of all of them, in sorted order)."""
    messages = sorted(set(masked))
    miner = _miner()
    for message in messages:
        miner.add_log_message(message)
    templates: dict[str, LogTemplate] = {}
    for message in messages:
        cluster = miner.match(message, full_search_strategy="fallback")
        text = cluster.get_template() if cluster is not None else message
        templates[message] = LogTemplate(template_id(text), text)
    return templates
