"""The native messaging host: how the browser extension reaches this home's ``Ledger``.

Chrome starts ``dmledger native-host`` (through the launcher ``browser install``
wrote) and speaks to it over stdin/stdout; see ``framing`` for the wire format,
``protocol`` for the messages, ``host`` for what each one does, ``install`` for
where browsers look for the host, ``package`` for the zips the extension stores take.
"""
