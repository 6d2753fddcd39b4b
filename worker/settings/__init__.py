"""One frozen settings object, built once from `POSTINO_*` variables.

Every setting is declared once, as a field of its section, with its variable, default,
parser and one-line description: the general ones in `root.Settings`, Kafka's in
`kafka`, notify, callbacks and remote content in `delivery`, the others in `sections`.
Adding one is one field in its section:

    max_things: int = setting("POSTINO_MAX_THINGS", 10, integer(1), "most things at once")

`load_settings` reads each declared variable, so adding the field is all it takes; then
`make reference` regenerates the settings page of the docs from the declarations.
Every value is parsed up front: a bad one stops the process at start with a
`ConfigError` that names the variable, never later in a worker loop.
"""

from worker.settings.declare import ConfigError
from worker.settings.delivery import CallbackSettings, NotifySettings, RemoteContentSettings
from worker.settings.kafka import INGRESS_LINGER_MS, KAFKA_FETCH_MAX_WAIT_MS, KafkaSettings
from worker.settings.load import load_settings
from worker.settings.production import MIN_SECRET_LENGTH, check_production
from worker.settings.root import Settings
from worker.settings.sections import (
    ConsoleSettings,
    DatabaseSettings,
    HttpSettings,
    LimitSettings,
    OpsSettings,
    ReminderSettings,
    RetentionSettings,
    SenderApiSettings,
)

__all__ = [
    "INGRESS_LINGER_MS",
    "KAFKA_FETCH_MAX_WAIT_MS",
    "MIN_SECRET_LENGTH",
    "CallbackSettings",
    "ConfigError",
    "ConsoleSettings",
    "DatabaseSettings",
    "HttpSettings",
    "KafkaSettings",
    "LimitSettings",
    "NotifySettings",
    "OpsSettings",
    "ReminderSettings",
    "RemoteContentSettings",
    "RetentionSettings",
    "SenderApiSettings",
    "Settings",
    "check_production",
    "load_settings",
]
