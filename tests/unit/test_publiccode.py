"""publiccode.yml follows the publiccode.yml standard, version 0.4: every mandatory key,
the allowed values of each enumerated one, the lengths and formats the standard sets,
and the Italian section; and it agrees with the project (licence, documentation site)."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: The standard's controlled vocabularies (version 0.4).
DEVELOPMENT_STATUS = {"concept", "development", "beta", "stable", "obsolete"}
SOFTWARE_TYPES = {
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
}
MAINTENANCE_TYPES = {"internal", "contract", "community", "none"}
CATEGORIES = set(
    """accounting agile-project-management applicant-tracking application-development
    appointment-scheduling backup billing-and-invoicing blog budgeting business-intelligence
    business-process-management cad call-center-management cloud-management collaboration
    communications compliance-management contact-management content-management crm
    customer-service-and-support data-analytics data-collection data-visualization design
    design-system digital-asset-management digital-citizenship document-management
    donor-management e-commerce e-signature educational-content email-management
    email-marketing employee-management enterprise-project-management
    enterprise-social-networking erp event-management facility-management
    feedback-and-reviews-management financial-reporting fleet-management fundraising
    gamification geographic-information-systems grant-management graphic-design help-desk hr
    ide identity-management instant-messaging inventory-management it-asset-management
    it-development it-management it-security it-service-management knowledge-management
    learning-management-system marketing mind-mapping mobile-marketing mobile-payment
    network-management office online-booking online-community payment-gateway payroll
    predictive-analysis procurement productivity-suite project-collaboration
    project-management property-management real-estate-management remote-support
    resource-management sales-management seo service-desk social-media-management survey
    talent-management task-management taxes-management test-management time-management
    time-tracking translation video-conferencing video-editing visitor-management voip
    warehouse-management web-collaboration web-conferencing website-builder whistleblowing
    workflow-management""".split()  # noqa: SIM905 (the standard's list, as it reads)
)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # BCP 47, primary subtag first
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$")


def document() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_mandatory_top_level_keys_are_there_with_allowed_values() -> None:
    doc = document()
    assert doc["publiccodeYmlVersion"] == "0.4"
    assert isinstance(doc["name"], str) and doc["name"]
    assert _URL.match(doc["url"])
    platforms = doc["platforms"]
    assert isinstance(platforms, list) and platforms
    assert doc["categories"] and set(doc["categories"]) <= CATEGORIES
    assert doc["developmentStatus"] in DEVELOPMENT_STATUS
    assert doc["softwareType"] in SOFTWARE_TYPES
    for key in ("landingURL",):
        assert key not in doc or _URL.match(doc[key])
    if "releaseDate" in doc:
        date.fromisoformat(str(doc["releaseDate"]))


def test_each_description_has_its_mandatory_keys_within_their_lengths() -> None:
    descriptions = document()["description"]
    assert descriptions, "at least one language"
    for language, text in descriptions.items():
        assert _LANGUAGE.match(language), language
        assert 0 < len(text["shortDescription"]) <= 150, language
        assert "\n" not in text["shortDescription"].strip(), "one line"
        assert 150 <= len(text["longDescription"]) <= 10000, language
        assert isinstance(text["features"], list) and text["features"], language
        for key in ("documentation", "apiDocumentation"):
            assert key not in text or _URL.match(text[key]), key


def test_legal_maintenance_and_localisation_follow_the_standard() -> None:
    doc = document()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["legal"]["license"] == pyproject["project"]["license"]
    maintenance = doc["maintenance"]
    assert maintenance["type"] in MAINTENANCE_TYPES
    if maintenance["type"] in ("internal", "community"):
        assert maintenance["contacts"] and all(c["name"] for c in maintenance["contacts"])
    if maintenance["type"] == "contract":
        for contractor in maintenance["contractors"]:
            assert contractor["name"]
            date.fromisoformat(str(contractor["until"]))
    localisation = doc["localisation"]
    assert isinstance(localisation["localisationReady"], bool)
    languages = localisation["availableLanguages"]
    assert languages and all(_LANGUAGE.match(lang) for lang in languages)
    for dependency in doc.get("dependsOn", {}).get("open", ()):
        assert dependency["name"]


def test_the_italian_section_declares_io_and_pago_pa() -> None:
    italian = document()["it"]
    assert italian["countryExtensionVersion"] == "1.0"
    assert italian["piattaforme"] == {"io": True, "pagopa": True}


def test_its_documentation_is_the_docs_site() -> None:
    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["site_url"]
    doc = document()
    assert doc["landingURL"] == site
    assert doc["description"]["en"]["documentation"] == site
