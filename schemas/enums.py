"""Vocabulary shared by the API, the topics and the database."""

from __future__ import annotations

import enum


class FeatureLevel(enum.StrEnum):
    STANDARD = "STANDARD"
    ADVANCED = "ADVANCED"


class MessageStatus(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    PROCESSED = "PROCESSED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


class RejectionReason(enum.StrEnum):
    USER_NOT_FOUND = "USER_NOT_FOUND"
    SERVICE_NOT_ALLOWED = "SERVICE_NOT_ALLOWED"


class FailureReason(enum.StrEnum):
    """Why a message accepted onto Kafka ended `FAILED` (Postino's own vocabulary)."""

    SERVICE_NOT_FOUND = "SERVICE_NOT_FOUND"
    SERVICE_DELETED = "SERVICE_DELETED"
    PROCESSING_ERROR = "PROCESSING_ERROR"
    #: The record broke the message rules (it is in the DLQ with the reason).
    INVALID_MESSAGE = "INVALID_MESSAGE"


class Channel(enum.StrEnum):
    PUSH = "PUSH"
    EMAIL = "EMAIL"


class NotificationStatus(enum.StrEnum):
    SENT = "SENT"
    THROTTLED = "THROTTLED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class NotificationKind(enum.StrEnum):
    MESSAGE = "MESSAGE"
    REMINDER_READ = "REMINDER_READ"
    REMINDER_PAYMENT = "REMINDER_PAYMENT"
    REMINDER_PAYMENT_LAST = "REMINDER_PAYMENT_LAST"


class ReadStatus(enum.StrEnum):
    READ = "READ"
    UNREAD = "UNREAD"
    UNAVAILABLE = "UNAVAILABLE"


class PaymentStatus(enum.StrEnum):
    PAID = "PAID"
    NOT_PAID = "NOT_PAID"


class PreferencesMode(enum.StrEnum):
    LEGACY = "LEGACY"
    AUTO = "AUTO"
    MANUAL = "MANUAL"


class BlockedChannel(enum.StrEnum):
    INBOX = "INBOX"
    EMAIL = "EMAIL"
    PUSH = "PUSH"


class ReminderConsent(enum.StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    UNSET = "UNSET"


class ServiceState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"


class CallbackEventKind(enum.StrEnum):
    """The kinds of status events a service may choose to receive (`callback_events`)."""

    MESSAGE = "message"
    NOTIFICATION = "notification"
    READ = "read"
    PAID = "paid"


class ServiceScope(enum.StrEnum):
    NATIONAL = "NATIONAL"
    LOCAL = "LOCAL"


class HasPrecondition(enum.StrEnum):
    """When the app shows a third-party message's precondition before its content."""

    ALWAYS = "ALWAYS"
    ONCE = "ONCE"
    NEVER = "NEVER"
