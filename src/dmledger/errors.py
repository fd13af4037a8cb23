"""Every error DM Ledger raises on purpose.

Callers catch these, never bare ``Exception``. Interfaces map them to exit codes
(CLI) and HTTP statuses (web) in exactly one place each.

    DmLedgerError                 base; exit 1
    ├── InvalidInput              a value broke a rule (bad handle, unknown status, bad date)
    ├── NotFound                  the thing named does not exist (prospect, actor, operator)
    ├── Refused                   the input is valid but the current state forbids it
    │   └── ExcludedProspect      a DM to a prospect marked "do not contact"
    ├── ConfigError               the home is missing or its settings are unusable
    ├── PackError                 a setup pack is unreadable: wrong passphrase or tampered
    ├── SyncBusy                  another sync holds this home's sync lock
    ├── StoreDamaged              the local store is damaged or not a DM Ledger store
    ├── DiskFull                  the disk holding the home has no room for a write
    └── CloudError                the cloud database said no
        ├── CloudUnavailable      it cannot be reached (network, stopped, wrong wallet); exit 3
        ├── CloudPermissionDenied the database user lacks a privilege for this action
        ├── CloudRowRefused       the database refused one row's data (constraint, value)
        └── CloudSchemaError      the schema is missing or at an unknown version
"""

from __future__ import annotations


class DmLedgerError(Exception):
    """Base class: a message a person can act on."""

    exit_code = 1


class InvalidInput(DmLedgerError):
    """A value broke a rule; the message names the value and the rule."""


class NotFound(DmLedgerError):
    """The thing named does not exist."""


class Refused(DmLedgerError):
    """The input is valid but the current state forbids the action."""


class ExcludedProspect(Refused):
    """A DM to an excluded ("do not contact") prospect without ``force``."""


class ConfigError(DmLedgerError):
    """The home is missing or its settings are unusable."""


class PackError(DmLedgerError):
    """A setup pack could not be opened: wrong passphrase, tampered or not a pack."""


class SyncBusy(DmLedgerError):
    """Another process is syncing this home right now."""


class StoreDamaged(DmLedgerError):
    """The local store cannot be trusted: damaged pages, a truncated file, a missing
    write-ahead log, or a file that is not a DM Ledger store. The message names the
    file, what is wrong and ``dmledger repair``."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class DiskFull(DmLedgerError):
    """A write found no room on the disk holding the home; nothing was half-written."""


class CloudError(DmLedgerError):
    """The cloud database refused or failed an action."""


class CloudUnavailable(CloudError):
    """The cloud cannot be reached; the local store keeps working."""

    exit_code = 3


class CloudPermissionDenied(CloudError):
    """The database user is not allowed to do this (least-privilege role).

    ``verb`` is the refused statement's kind (``INSERT``, ``DELETE``…) when known."""

    verb: str | None = None


class CloudRowRefused(CloudError):
    """The database refused the data of a row (integrity or value): only such a refusal
    sets rows aside; every other cloud error stops the sync with the queue intact."""


class CloudSchemaError(CloudError):
    """The cloud schema is missing, or at a version this agent does not know."""
