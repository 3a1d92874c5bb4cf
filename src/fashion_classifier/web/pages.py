"""HTML pages: upload, results, history, one record, feedback, language switch."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from fashion_classifier.labels import CLASSES, CORRECTIONS, NOT_A_GARMENT
from fashion_classifier.service import BadRequest
from fashion_classifier.storage import DEFAULT_PAGE_SIZE
from fashion_classifier.web import i18n, similar
from fashion_classifier.web.inputs import (
    classify_request,
    ensure_schema,
    garment_filter,
    history_page,
    record_feedback,
    service,
)

blueprint = Blueprint("pages", __name__)
blueprint.before_request(ensure_schema)
MAX_RESULT_IDS = 16
# A path on this site and nothing else: browsers drop tabs and newlines from a Location and read
# a backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would leave the site.
SAME_SITE_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*\Z")


@blueprint.before_app_request
def _choose_language() -> None:
    g.lang = i18n.choose_language(request)


@blueprint.app_context_processor
def _page_context() -> dict[str, Any]:
    lang = g.get("lang", "en")
    return {
        "t": i18n.translator(lang),
        "lang": lang,
        "class_name": i18n.class_names(lang),
        "classes": CLASSES,
        "corrections": CORRECTIONS,  # what the "Wrong? It is a ..." form offers: a class or not a garment
        "not_a_garment": NOT_A_GARMENT,
    }


@blueprint.get("/")
def index() -> Response:
    return redirect(url_for("pages.upload_form"))


@blueprint.get("/upload")
def upload_form() -> str:
    return render_template("upload.html")


@blueprint.post("/upload")
def upload() -> Response:
    """The form post without JavaScript: classify, record, then redirect to the results.

    Post/redirect/get: reloading the result page shows it again instead of uploading again.
    """
    ids = ",".join(str(record.id) for record in classify_request())
    return redirect(url_for("pages.results", ids=ids), code=303)


@blueprint.get("/results")
def results() -> str:
    """The result page for records the upload page's script just created through the API."""
    try:
        ids = [uuid.UUID(part) for part in request.args.get("ids", "").split(",") if part][:MAX_RESULT_IDS]
    except ValueError:
        raise BadRequest("the link to these results is damaged; upload the pictures again") from None
    return render_template("upload_ok.html", records=[service().get(record_id) for record_id in ids])


@blueprint.get("/history")
def history() -> str:
    page = history_page(limit=DEFAULT_PAGE_SIZE)
    return render_template(
        "history.html",
        page=page,
        label=request.args.get("label") or None,
        garment=garment_filter(),
        first_page=not request.args.get("cursor"),
    )


@blueprint.get("/records/<uuid:record_id>")
def record(record_id: uuid.UUID) -> str:
    return render_template(
        "record.html",
        record=service().get(record_id),
        thanks=bool(request.args.get("thanks")),
        similar=similar.for_record_page(record_id),
    )


@blueprint.post("/records/<uuid:record_id>/feedback")
def feedback(record_id: uuid.UUID) -> Response:
    """'Wrong? It is a ...': keep the correction, then show the record (post/redirect/get)."""
    record_feedback(record_id, request.form.get("label", ""))
    return redirect(url_for("pages.record", record_id=record_id, thanks=1), code=303)


@blueprint.get("/lang/<code>")
def switch_language(code: str) -> Response:
    """Remember the chosen language in a cookie and go back to the page the user was on."""
    target = request.args.get("next", "")
    if not SAME_SITE_PATH.match(target):  # never to another host, never a header with a newline
        target = url_for("pages.upload_form")
    response = redirect(target)
    if code in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
