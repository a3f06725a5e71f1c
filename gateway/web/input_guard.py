"""Text with a NUL character is refused at the door of the staff pages and the API.

No person types one, and PostgreSQL cannot store or compare one (it raises instead), so a NUL
in a path, a query, a form or a JSON body gets a 400 before any view runs.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound

_GUARDED = ("/api/", "/dashboard", "/simulator")


def install_input_guard(app: Flask) -> None:
    """Refuse NUL characters in requests to the staff pages and the API."""

    @app.before_request
    def refuse_nul() -> None:
        if not request.path.startswith(_GUARDED):
            return
        if "\x00" in request.path:
            raise NotFound()  # a path with a NUL names nothing here
        values = list(request.args.values())
        # Not multipart: reading it here would parse an upload before its view has raised the
        # size limit for it; the upload views check their own fields.
        if request.mimetype == "application/x-www-form-urlencoded":
            values += request.form.values()
        elif request.is_json:
            body = request.get_data(as_text=True)
            values += [body.replace("\\u0000", "\x00")]
        if any("\x00" in value for value in values):
            raise BadRequest("text may not contain a NUL character")
