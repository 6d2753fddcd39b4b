"""Every setting is declared once, with a description, and the settings reference page
(docs/reference/settings.md) is generated from those declarations and up to date."""

from __future__ import annotations

from collections.abc import Iterator

from devkit.reference import PAGES, ROOT, settings
from worker.settings import Settings, load_settings
from worker.settings.declare import Setting, declared, sections


def every_declaration() -> Iterator[tuple[str, Setting]]:
    yield from declared(Settings)
    for _, _, cls in sections(Settings):
        yield from declared(cls)


def test_every_section_declares_its_variables() -> None:
    found = {decl.env for _, decl in every_declaration()}
    for known in (
        "POSTINO_PROFILE",
        "POSTINO_KAFKA_BOOTSTRAP",
        "POSTINO_DATABASE_URL",
        "POSTINO_HTTP_PORT",
        "POSTINO_DEFAULT_DAILY_QUOTA",
        "POSTINO_NOTIFY_RETRY_DELAYS",
        "POSTINO_CALLBACK_MAX_IN_FLIGHT_PER_SERVICE",
        "POSTINO_REMINDER_TIMEZONE",
        "POSTINO_CONSOLE_RETENTION_DAYS",
    ):
        assert known in found


def test_each_variable_is_declared_once_with_a_description() -> None:
    names = [decl.env for _, decl in every_declaration()]
    assert len(names) == len(set(names))
    for name, decl in every_declaration():
        assert decl.env.startswith("POSTINO_"), name
        assert decl.doc.strip(), f"{decl.env} has no description"


def test_a_declared_default_is_what_an_empty_environment_gives() -> None:
    loaded = load_settings({"POSTINO_INSTANCE_ID": "x"})
    sections_of = {name: getattr(loaded, name) for name, _, _ in sections(Settings)}
    for owner in (loaded, *sections_of.values()):
        for attribute, decl in declared(type(owner)):
            if decl.computed is None:
                assert getattr(owner, attribute) == decl.default_for("dev"), decl.env


def test_the_settings_reference_page_is_generated_from_the_declarations() -> None:
    page = ROOT / "docs" / "reference" / "settings.md"
    assert PAGES["docs/reference/settings.md"] is settings.render
    assert page.read_text() == settings.render(), "stale: run `make reference`"
    for _, decl in every_declaration():
        assert f"`{decl.env}`" in page.read_text()
