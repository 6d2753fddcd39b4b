"""Every role by name; `postino dev` runs all of them in one process."""

from __future__ import annotations

from worker.roles import RoleFn, callbacks, deliver, ingress, notify, payments, reminders

ROLES: dict[str, RoleFn] = {
    "ingress": ingress.run,
    "deliver": deliver.run,
    "payments": payments.run,
    "reminders": reminders.run,
    "notify": notify.run,
    "callbacks": callbacks.run,
}
