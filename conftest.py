"""Every test and doctest starts from a clean environment: a ``GLIMPSE_*`` variable set in a
developer's shell must not change what a test sees (the tests' own knobs excepted)."""

from __future__ import annotations

import os

TEST_KNOBS = frozenset({"GLIMPSE_SCREENSHOTS", "GLIMPSE_CHROMIUM"})

for _name in [name for name in os.environ if name.startswith("GLIMPSE_") and name not in TEST_KNOBS]:
    del os.environ[_name]
