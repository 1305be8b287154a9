#!/usr/bin/env python
"""RabbitMQ tutorial four's emit_log_direct.py, as the tutorial writes it.

The one change: the broker URL and the exchange's name come from the
environment (TUTORIAL_URL, TUTORIAL_EXCHANGE), so the tests can point it at
their broker and at an exchange of their own; unset, the tutorial's own.
"""

import os
import sys

import pika

url = os.environ.get("TUTORIAL_URL", "amqp://guest:guest@localhost:5672/%2F")
exchange = os.environ.get("TUTORIAL_EXCHANGE", "direct_logs")

connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()

channel.exchange_declare(exchange=exchange, exchange_type="direct")

severity = sys.argv[1] if len(sys.argv) > 1 else "info"
message = " ".join(sys.argv[2:]) or "Hello World!"
channel.basic_publish(exchange=exchange, routing_key=severity, body=message)
print(f" [x] Sent {severity!r}:{message!r}")
connection.close()
