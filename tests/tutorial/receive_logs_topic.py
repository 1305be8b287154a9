#!/usr/bin/env python
"""RabbitMQ tutorial five's receive_logs_topic.py, as the tutorial writes it.

The one change: the broker URL and the exchange's name come from the
environment (TUTORIAL_URL, TUTORIAL_EXCHANGE), so the tests can point it at
their broker and at an exchange of their own; unset, the tutorial's own.
"""

import os
import sys

import pika

url = os.environ.get("TUTORIAL_URL", "amqp://guest:guest@localhost:5672/%2F")
exchange = os.environ.get("TUTORIAL_EXCHANGE", "topic_logs")

connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()

channel.exchange_declare(exchange=exchange, exchange_type="topic")

result = channel.queue_declare(queue="", exclusive=True)
queue_name = result.method.queue

binding_keys = sys.argv[1:]
if not binding_keys:
    sys.stderr.write(f"Usage: {sys.argv[0]} [binding_key]...\n")
    sys.exit(1)

for binding_key in binding_keys:
    channel.queue_bind(exchange=exchange, queue=queue_name, routing_key=binding_key)

print(" [*] Waiting for logs. To exit press CTRL+C")


def callback(ch, method, properties, body):
    print(f" [x] {method.routing_key}:{body}")


channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)

channel.start_consuming()
