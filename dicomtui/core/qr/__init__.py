"""Query/retrieve as an SCU: C-FIND, C-MOVE and C-GET against a PACS.

One module per concern: ``models`` (information models), ``query`` (the request
identifier from ``-k`` paths and ``-f`` files), ``status`` (what a response status
means), ``progress`` (sub-operation counts), ``operation`` (one request on an
association we requested, its responses and C-CANCEL), and ``find``, ``move``,
``get`` on top of it. Every response path goes through
:func:`dicomtui.core.net.requestor_reactor.exchange`.
"""
