"""Use cases shared by every interface, behind one object: ``Ledger``
(``dmledger.app.ledger``); the output shapes they return are in ``views``.

Nothing is imported here, so importing one module of ``app`` (``views``) does not
load the Ledger and everything below it.
"""
