"""The service topics (IO's "argomenti"): a fixed list with numeric ids and Italian names.

The same ids and names as IO's, so a body's `metadata.topic_id` means the same thing
on both platforms. Data, not behaviour: the CMS API answers it as `CmsServiceTopicList`
and the citizen catalogue filters and shows services by it.
"""

from __future__ import annotations

import msgspec


class ServiceTopic(msgspec.Struct, frozen=True):
    """One topic (IO's `CmsServiceTopic`)."""

    id: int
    name: str


#: Every topic, by id. 0 ("Altro") is the topic of a service that fits no other.
SERVICE_TOPICS: tuple[ServiceTopic, ...] = tuple(
    ServiceTopic(topic_id, name)
    for topic_id, name in (
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
_BY_ID = {t.id: t for t in SERVICE_TOPICS}


def topic(topic_id: int | None) -> ServiceTopic | None:
    """The topic with this id, or None (no id, or an id not in the list)."""
    return None if topic_id is None else _BY_ID.get(topic_id)
