"""Finding the row a person named by its id, typed whole or as its first few characters.

Staff copy ids from a listing (``campaign list``, ``tokens list``) where they are shortened,
so the CLI, the API and the dashboard accept a prefix as long as one row alone matches.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Base

Row = TypeVar("Row", bound=Base)

# Shorter prefixes would match too many rows to be of use.
MIN_ID_PREFIX = 6
_ID_TEXT = re.compile(r"[0-9a-f-]+")


def rows_by_id(
    session: Session, model: type[Row], ident: str, *, min_prefix: int = MIN_ID_PREFIX
) -> list[Row]:
    """The row whose id is ``ident`` (already stripped and lower-cased), or else up to two rows
    whose ids start with it: one means found, two means the prefix is ambiguous."""
    found = session.get(model, ident)
    if found is not None:
        return [found]
    if len(ident) < min_prefix or not _ID_TEXT.fullmatch(ident):
        return []
    column: Any = model.id  # type: ignore[attr-defined]  # every table here has an id
    return list(session.scalars(select(model).where(column.startswith(ident)).limit(2)))
