"""Message templates on the real stack: versions written and read through the back
office, messages submitted by template, every rule of the message body applied to the
filled text, and the template's id and version stored and shown in the timeline."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import eventually
from tests.factories import create_profile, create_service
from tests.integration.cms_helpers import BODY, OTHER_BODY, body_with_key
from tests.integration.helpers import ADMIN, drain
from tests.integration.sender_helpers import CITIZEN, another_ingress, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
SUBJECT = "Avviso TARI ((anno)) per ((nome))"
MARKDOWN = (
    "Gentile ((nome)),\n\nè disponibile l'avviso di pagamento della tassa sui rifiuti per"
    " il ((anno)). Può pagarlo dall'app IO entro la scadenza: importo ((importo)) euro."
)
VALUES = {"nome": "Mario Rossi", "anno": "2026", "importo": "120.00"}


async def _service(runtime: Runtime, client: Client, **fields: Any) -> tuple[str, dict[str, str]]:
    service_id, api_key = await create_service(runtime, **fields)
    await reload_services(client.app)
    return service_id, key(api_key)


async def _template(client: Client, service_id: str, **text: str) -> dict[str, Any]:
    body = {"name": "TARI", "subject": SUBJECT, "markdown": MARKDOWN, **text}
    resp = await client.post(
        f"/api/v1/manage/services/{service_id}/templates", json=body, headers=ADMIN
    )
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


def _by_template(template_id: str, values: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"fiscal_code": CITIZEN, "template": {"id": template_id, "values": values}, **extra}


async def _refused(resp: Any) -> str:
    assert resp.status == 400, await resp.text()
    assert resp.content_type == "application/problem+json"
    detail: str = (await resp.json())["detail"]
    return detail


async def test_a_template_gets_versions_and_every_version_stays_readable(
    runtime: Runtime, client: Client
) -> None:
    service_id, _ = await _service(runtime, client)
    created = await _template(client, service_id)
    assert created["version"] == 1
    assert created["placeholders"] == ["anno", "nome", "importo"]
    one = f"/api/v1/manage/services/{service_id}/templates/{created['id']}"

    second = await client.put(
        one,
        json={"name": "TARI", "subject": "Avviso TARI ((anno))", "markdown": MARKDOWN},
        headers=ADMIN,
    )
    assert second.status == 200, await second.text()
    assert (await second.json())["version"] == 2

    latest = await (await client.get(one, headers=ADMIN)).json()
    assert (latest["version"], latest["versions"], latest["subject"]) == (
        2,
        [1, 2],
        "Avviso TARI ((anno))",
    )
    first = await (await client.get(f"{one}/versions/1", headers=ADMIN)).json()
    assert first["subject"] == SUBJECT
    listed = await (
        await client.get(f"/api/v1/manage/services/{service_id}/templates", headers=ADMIN)
    ).json()
    assert [(t["id"], t["version"]) for t in listed["items"]] == [(created["id"], 2)]
    assert (await client.get(f"{one}/versions/3", headers=ADMIN)).status == 404
    assert (await client.get(f"{one}x", headers=ADMIN)).status == 404


async def test_template_routes_need_the_back_office_and_an_existing_service(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await _service(runtime, client)
    base = f"/api/v1/manage/services/{service_id}/templates"
    body = {"name": "n", "subject": SUBJECT, "markdown": MARKDOWN}
    assert (await client.post(base, json=body)).status == 401
    assert (await client.post(base, json=body, headers=api_key)).status == 401
    missing = "/api/v1/manage/services/nope/templates"
    assert (await client.post(missing, json=body, headers=ADMIN)).status == 404


async def test_a_template_with_a_malformed_placeholder_or_personal_data_is_refused(
    runtime: Runtime, client: Client
) -> None:
    service_id, _ = await _service(runtime, client)
    base = f"/api/v1/manage/services/{service_id}/templates"
    for text, named in (
        ({"subject": "Avviso per ((nome cognome))"}, "subject: ((nome cognome))"),
        ({"markdown": "Gentile ((nome-cognome)), ..."}, "markdown: ((nome-cognome))"),
        ({"subject": "Avviso per RSSMRA80A01H501U ((anno))"}, "subject: must not contain"),
        ({"subject": "Avviso\nsu due righe"}, "subject: contains the control character"),
    ):
        body = {"name": "n", "subject": SUBJECT, "markdown": MARKDOWN, **text}
        detail = await _refused(await client.post(base, json=body, headers=ADMIN))
        assert detail.startswith(named), detail


async def test_a_message_written_from_a_template_is_filled_escaped_and_records_its_version(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _service(runtime, client)
    await create_profile(runtime, CITIZEN)
    created = await _template(client, service_id)
    values = {**VALUES, "nome": "Mario *Rossi* [link](https://x.example)"}
    resp = await client.post(
        "/api/v1/messages",
        json=_by_template(created["id"], values, content={"due_date": "2026-06-30T23:59:59Z"}),
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    message_id = (await resp.json())["id"]
    await drain(runtime)
    row = await runtime.pool.fetchrow(
        "SELECT content, template_id, template_version, due_date FROM messages WHERE id = $1",
        message_id,
    )
    assert (row["template_id"], row["template_version"]) == (created["id"], 1)
    content = row["content"]
    assert content["subject"] == "Avviso TARI 2026 per Mario *Rossi* [link](https://x.example)"
    assert content["markdown"].startswith(
        r"Gentile Mario \*Rossi\* \[link\]\(https://x\.example\),"
    )
    assert r"importo 120\.00 euro" in content["markdown"]
    assert row["due_date"] is not None

    timeline = await (
        await client.get(f"/api/v1/status/messages/{message_id}", headers=ADMIN)
    ).json()
    assert timeline["template"] == {"id": created["id"], "version": 1}
    assert "template" in timeline["steps"][0]["title"]


async def test_a_version_can_be_chosen_and_the_latest_is_the_default(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _service(runtime, client)
    created = await _template(client, service_id)
    one = f"/api/v1/manage/services/{service_id}/templates/{created['id']}"
    new_markdown = MARKDOWN.replace("Gentile", "Cara/o")
    put = await client.put(
        one, json={"name": "TARI", "subject": SUBJECT, "markdown": new_markdown}, headers=ADMIN
    )
    assert put.status == 200
    latest = await client.post(
        "/api/v1/messages", json=_by_template(created["id"], VALUES), headers=headers
    )
    body = _by_template(created["id"], VALUES)
    body["template"]["version"] = 1
    pinned = await client.post("/api/v1/messages", json=body, headers=headers)
    assert (latest.status, pinned.status) == (201, 201)
    await drain(runtime)
    versions = {
        r["id"]: (r["template_version"], r["content"]["markdown"][:4])
        for r in await runtime.pool.fetch("SELECT id, template_version, content FROM messages")
    }
    assert versions[(await latest.json())["id"]] == (2, "Cara")
    assert versions[(await pinned.json())["id"]] == (1, "Gent")


async def test_a_missing_or_unknown_value_is_refused_naming_it(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _service(runtime, client)
    created = await _template(client, service_id)
    missing = {k: v for k, v in VALUES.items() if k != "importo"}
    detail = await _refused(
        await client.post(
            "/api/v1/messages", json=_by_template(created["id"], missing), headers=headers
        )
    )
    assert detail == "template.values.importo: required by the template"
    extra = {**VALUES, "cognome": "Rossi"}
    detail = await _refused(
        await client.post(
            "/api/v1/messages", json=_by_template(created["id"], extra), headers=headers
        )
    )
    assert detail.startswith("template.values.cognome: not a placeholder")
    assert await runtime.pool.fetchval("SELECT count(*) FROM messages") == 0


async def test_the_filled_text_follows_every_rule_of_a_message(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _service(runtime, client)
    created = await _template(client, service_id)
    tid = created["id"]
    cases = (
        ({**VALUES, "anno": "x" * 120}, "content.subject:"),
        ({**VALUES, "nome": "RSSMRA80A01H501U"}, "content.subject: must not contain personal"),
        ({**VALUES, "nome": "Mario\u0007"}, "template.values.nome: contains the control"),
    )
    for values, named in cases:
        sent = await client.post(
            "/api/v1/messages", json=_by_template(tid, values), headers=headers
        )
        assert (await _refused(sent)).startswith(named), values
    both = _by_template(tid, VALUES, content={"subject": "Un oggetto qualunque"})
    assert (await _refused(await client.post("/api/v1/messages", json=both, headers=headers))) == (
        "content.subject: give a template or the text, not both"
    )
    other_id, _ = await _service(runtime, client)
    theirs = await _template(client, other_id)
    unknown = await client.post(
        "/api/v1/messages", json=_by_template(theirs["id"], VALUES), headers=headers
    )
    assert (await _refused(unknown)).startswith("template.id: no template")


async def test_a_template_written_on_one_ingress_is_used_on_another_after_its_refresh(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _service(runtime, client)
    async with another_ingress(runtime) as other:
        created = await _template(client, service_id)

        async def submit() -> int:
            resp = await other.post(
                "/api/v1/messages", json=_by_template(created["id"], VALUES), headers=headers
            )
            return resp.status

        assert await eventually(submit, lambda status: status == 201, timeout=5.0) == 201


async def test_a_manage_key_reaches_its_own_bodys_services_and_no_other(
    runtime: Runtime, client: Client
) -> None:
    service_id, _ = await _service(runtime, client, organization_fiscal_code=BODY)
    mine = await body_with_key(client, BODY)
    theirs = await body_with_key(client, OTHER_BODY)
    base = f"/api/v1/manage/services/{service_id}/templates"
    body = {"name": "TARI", "subject": SUBJECT, "markdown": MARKDOWN}
    created = await client.post(base, json=body, headers=mine)
    assert created.status == 201, await created.text()
    written = await runtime.pool.fetchval("SELECT created_by FROM message_templates")
    assert written.startswith("manage_key:")
    assert (await client.post(base, json=body, headers=theirs)).status == 404
    assert (await client.get(base, headers=theirs)).status == 404
    reports = f"/api/v1/manage/services/{service_id}/messages"
    assert (await client.get(reports, headers=mine)).status == 200
    assert (await client.get(reports, headers=theirs)).status == 404
    assert (
        await client.get(f"/api/v1/manage/services/{service_id}/stats", headers=theirs)
    ).status == 404
