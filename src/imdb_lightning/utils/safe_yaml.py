"""Reading YAML text as ``yaml.safe_load`` does, with libyaml's parser where PyYAML was built with it."""

from __future__ import annotations

import yaml

# libyaml's loader builds the same objects as PyYAML's pure-Python SafeLoader, several times faster: a report
# reads every job's config.yaml (docs/benchmarks.md).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> object:
    """The YAML document in ``text`` (plain dicts, lists and scalars), as ``yaml.safe_load`` reads it."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
