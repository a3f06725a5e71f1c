"""The staff interface's catalogs: a catalog dropped into the translations folder is a language,
and a text it lacks is said in French."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from gateway.core.i18n import CATALOG, TRANSLATIONS, Catalogs, Translatable, translate


def add_catalog(folder: Path, code: str, texts: dict[str, str], fuzzy: set[str]) -> None:
    """A copy of the French catalog with some texts translated, as a team starts a language."""
    with (folder / "fr" / CATALOG).open("rb") as file:
        catalog = read_po(file, locale=code)
    for message in catalog:
        if message.id:
            message.string = texts.get(str(message.id), "")
            if message.id in fuzzy:
                message.flags.add("fuzzy")
    path = folder / code / CATALOG
    path.parent.mkdir(parents=True)
    with path.open("wb") as file:
        write_po(file, catalog)


def test_a_catalog_dropped_into_the_folder_is_a_language(tmp_path: Path) -> None:
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, folder)
    texts = {"nav.campaigns": "Kanpaɲiw", "nav.results": "Jaabiw", "login.title": "Donni"}
    add_catalog(folder, "bm", texts, fuzzy={"login.title"})

    catalogs = Catalogs.load(folder)

    assert catalogs.languages == ("fr", "bm", "en")
    assert catalogs.text("bm", "nav.campaigns") == "Kanpaɲiw"
    # Not translated yet, or only roughly (fuzzy): French, as gettext would.
    assert catalogs.text("bm", "nav.logout") == "Se déconnecter"
    assert catalogs.text("bm", "login.title") == "Connexion"
    assert "nav.logout" in catalogs.missing_keys()["bm"]
    assert catalogs.missing_keys()["en"] == []


def test_a_folder_that_is_not_a_cldr_language_is_not_offered(tmp_path: Path) -> None:
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, folder)
    add_catalog(folder, "bambara", {"nav.campaigns": "Kanpaɲiw"}, fuzzy=set())
    (folder / "bm").mkdir()  # a folder with no catalog in it yet

    assert Catalogs.load(folder).languages == ("fr", "en")


def test_a_missing_text_is_said_in_french_then_as_its_key() -> None:
    assert translate("en", "nav.campaigns") == "Campaigns"
    assert translate("de", "nav.campaigns") == "Campagnes"
    assert translate("en", "no.such.key") == "no.such.key"


def test_values_are_written_as_the_reader_writes_them() -> None:
    said = Translatable("surveys.line", label=Translatable("surveys.versions"), value=0.5)

    assert said.in_language("fr") == "Versions : 0,5"
    assert said.in_language("en") == "Versions: 0.5"
