"""``chargebox mcp``: chargebox's control operations as tools of an MCP server (Model Context Protocol), for AI
agents and other programs that speak it.

The server is a client of the control APIs (web.py): it drives a running ``simulate --control``, ``fleet
--control`` or ``csms --control`` over HTTP, with their token, and may start a fleet of its own. Nothing else of
chargebox imports this package, so no other command loads the ``mcp`` SDK (an optional extra).

    control.py      the HTTP client of the control APIs: an error answer becomes a ToolFailure with its text
    tools.py        the tools: name, description, input schema, and the requests each one makes
    fleet_child.py  ``start_fleet``: ``chargebox fleet`` as a child process, stopped with the server
    server.py       the MCP server over stdio, or streamable HTTP behind a token off loopback
"""
