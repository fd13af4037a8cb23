"""Pure rules of DM Ledger: no I/O, no database, no clock except through ``timeutil``.

Import from the modules themselves (``dmledger.domain.handles`` …).
"""
