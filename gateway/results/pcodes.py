"""OCHA P-codes of the regions people answer with, read from ``admin1_pcodes.yaml``.

The mapping is data, kept beside this module: the file says where the codes come from and
why some regions have none. A question is a region question when the flow tags its column
``#adm1...`` in HXL; its answers are looked up in the file, and an answer the file does not
know (or knows to have no P-code) gets an empty P-code, never a guess.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import yaml

from flows.model import Flow

PCODE_FILE = Path(__file__).with_name("admin1_pcodes.yaml")
PCODE_SUFFIX = "_pcode"
_ADMIN1_TAG = "#adm1"


@functools.cache
def admin1_pcodes() -> Mapping[str, str | None]:
    """Answer code -> P-code (None where the region has none), as the data file has them."""
    data = yaml.safe_load(PCODE_FILE.read_text(encoding="utf-8"))
    pcodes = data["pcodes"]
    if not isinstance(pcodes, dict) or not all(
        isinstance(code, str) and (pcode is None or isinstance(pcode, str))
        for code, pcode in pcodes.items()
    ):
        raise ValueError(f"{PCODE_FILE.name}: 'pcodes' must map answer codes to P-codes")
    return MappingProxyType(dict(pcodes))


def is_admin1(hashtag: str | None) -> bool:
    """Whether an HXL hashtag names a first-level administrative unit (``#adm1+...``)."""
    return hashtag is not None and (hashtag == _ADMIN1_TAG or hashtag.startswith(_ADMIN1_TAG + "+"))


def region_questions(flow: Flow) -> tuple[str, ...]:
    """The keys of the flow's questions answered with a region (tagged ``#adm1`` in HXL)."""
    return tuple(q.key for q in flow.questions if is_admin1(q.hxl))


def pcode(code: str) -> str:
    """The P-code of a region's answer code; empty when it has none."""
    return admin1_pcodes().get(code) or ""
