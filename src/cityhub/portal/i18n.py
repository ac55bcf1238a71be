"""The portal's languages: Chinese first, English too.

Messages are written in English in the templates and code (`_("Datasets")`) and translated by
Babel catalogs, one or more `.po` files per language under `locale/<lang>/LC_MESSAGES/` (one
per part of the portal, so parts can grow apart). They are compiled in memory when the server
starts: no build step, nothing to forget to compile. English needs no catalog entries.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import Request

LOCALE = Path(__file__).parent / "locale"
LANGUAGES = ("zh", "en")  # the first is the default
DEFAULT = LANGUAGES[0]
LANG_COOKIE = "cityhub_lang"
NAMES = {"zh": "中文", "en": "English"}


@cache
def translations(lang: str) -> gettext.GNUTranslations | gettext.NullTranslations:
    """Every catalog of `lang` merged into one (English: the messages as written)."""
    merged = Catalog(locale=lang)
    for po in sorted((LOCALE / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as f:
            for message in read_po(f, locale=lang):
                if message.id and message.string:
                    merged.add(message.id, message.string)
    if not len(merged):
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick(request: Request) -> str:
    """The language of a request: `?lang=`, then the cookie the header's switch sets, then
    the browser's Accept-Language, then Chinese."""
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if wanted in LANGUAGES:
        return wanted
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return DEFAULT
