"""The shared corpus of real-world mail (../shared/corpus) and Zammad's expected parse results."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def _find_corpus() -> Path:
    """MAIL_CORPUS, else ../shared/corpus next to this checkout, else the team's shared copy
    (a clean clone for CI may live anywhere)."""
    if os.environ.get("MAIL_CORPUS"):
        return Path(os.environ["MAIL_CORPUS"])
    for candidate in (Path(__file__).resolve().parents[3] / "shared" / "corpus",
                      Path("/work/shared/corpus")):
        if (candidate / "MANIFEST.tsv").exists():
            return candidate
    return Path("/work/shared/corpus")


CORPUS = _find_corpus()


class _RubyLoader(yaml.SafeLoader):
    """Zammad's .yml files carry Ruby tags: !ruby/hash:... mappings and !binary base64 data."""


def _ruby(loader, suffix, node):
    if suffix == "binary":
        return base64.b64decode(loader.construct_scalar(node))
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyLoader.add_multi_constructor("!", _ruby)


def corpus_files() -> list[Path]:
    manifest = (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]
    return [CORPUS / line.split("\t")[0] for line in manifest]


def expectation(path: Path) -> dict | None:
    expected = path.with_suffix(".yml")
    if not expected.exists():
        return None
    return yaml.load(expected.read_text(), Loader=_RubyLoader)  # noqa: S506 - SafeLoader subclass


def real_attachments(expected: dict) -> list[dict]:
    """Zammad keeps the original HTML body as an extra `message.html`: not a real attachment."""
    return [a for a in expected.get("attachments") or []
            if not (a.get("preferences") or {}).get("content-alternative")]
