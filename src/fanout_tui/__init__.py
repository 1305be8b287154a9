"""fanout-tui: watch a RabbitMQ fanout exchange deliver every message to every queue."""

__version__ = "0.1.0"
