#!/usr/bin/env python
"""RabbitMQ tutorial three's receive_logs.py, as the tutorial writes it.

The one change: the broker URL and the exchange's name come from the command
line (``receive_logs.py URL EXCHANGE``), so the benchmark can point it at its
broker and at an exchange of its own. The benchmark runs several of these in
tmux panes: the usual way to watch a fanout, one terminal per receiver.
"""

import sys

import pika

url, exchange = sys.argv[1], sys.argv[2]

connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()

channel.exchange_declare(exchange=exchange, exchange_type="fanout")

result = channel.queue_declare(queue="", exclusive=True)
queue_name = result.method.queue

channel.queue_bind(exchange=exchange, queue=queue_name)

print(" [*] Waiting for logs. To exit press CTRL+C")


def callback(ch, method, properties, body):
    print(f" [x] {body}")


channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)

channel.start_consuming()
