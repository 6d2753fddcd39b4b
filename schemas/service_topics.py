"""Service topics: IO's fixed list, with its numeric ids and Italian names.

Source: IO's developer guide, "La scheda servizio - Argomento" (pagopa/devportal-docs),
the list `GET /manage/services/topics` (IO's `getServiceTopics`) answers and
`metadata.topic_id` of a service's card refers to. Ids are IO's, so a body's IO
tooling sends the same numbers here; 17 (Salute) came last, after 16.
"""

from __future__ import annotations

import msgspec


class ServiceTopic(msgspec.Struct, frozen=True):
    """IO's `CmsServiceTopic`."""

    id: int
    name: str


class ServiceTopicList(msgspec.Struct, frozen=True):
    """IO's `CmsServiceTopicList`."""

    topics: list[ServiceTopic]


#: The topics, ordered by id.
TOPICS: tuple[ServiceTopic, ...] = tuple(
    ServiceTopic(i, name)
    for i, name in (
        (0, "Altro"),
        (1, "Ambiente e animali"),
        (2, "Attività produttive e commercio"),
        (3, "Benessere sociale"),
        (4, "Casa e utenze"),
        (5, "Cultura, tempo libero e sport"),
        (6, "Educazione e formazione"),
        (7, "Giustizia e legge"),
        (8, "Lavori edilizi, catasto e urbanistica"),
        (9, "Mobilità e trasporti"),
        (10, "Redditi, patrimoni e fisco"),
        (11, "Servizi anagrafici e civici"),
        (12, "Servizi elettorali"),
        (13, "Sicurezza e Protezione Civile"),
        (14, "Suolo, spazi e beni pubblici"),
        (15, "Viaggi e turismo"),
        (16, "Vita lavorativa"),
        (17, "Salute"),
    )
)
TOPICS_BY_ID: dict[int, ServiceTopic] = {t.id: t for t in TOPICS}


def topic(topic_id: int | None) -> ServiceTopic | None:
    """The topic of an id; None for None or an id IO does not list."""
    return None if topic_id is None else TOPICS_BY_ID.get(topic_id)
