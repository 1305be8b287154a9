"""Everything that talks AMQP. Never imports Textual: the CLI and tests use it alone."""
