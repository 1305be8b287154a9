"""``fanout-tui serve``: the dashboard in web browsers, one app process per tab (textual-serve)."""
