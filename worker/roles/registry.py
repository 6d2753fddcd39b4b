"""Every role by name; `postino dev` runs all of them in one process."""

from __future__ import annotations

from worker.roles import RoleFn, deliver, ingress, payments, reminders

ROLES: dict[str, RoleFn] = {
    "ingress": ingress.run,
    "deliver": deliver.run,
    "payments": payments.run,
    "reminders": reminders.run,
}
