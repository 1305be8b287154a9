"""A sequence of AMQP calls written once, run on a blocking or an asynchronous connection.

Declaring an exchange, a queue and a binding is a short conversation with the
broker in which a failure closes the channel and the next step depends on the
reply. Written as a generator that yields :class:`Call` and :class:`NewChannel`
steps and receives each reply (or has the broker's error thrown in where the
call was), the same conversation runs on a ``BlockingConnection``
(:func:`run_blocking`) and on a ``SelectConnection`` (:class:`AsyncSteps`), with
pika's public calls only.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika.exceptions as pex

T = TypeVar("T")


@dataclass(frozen=True)
class NewChannel:
    """Open a channel; the step's reply is the open channel."""


@dataclass(frozen=True)
class Call:
    """``channel.<method>(**kwargs)``; the reply is the broker's method frame.

    On an asynchronous channel the step passes ``callback=``, which every pika
    ``Channel`` RPC takes; a blocking channel returns the same frame.
    """

    channel: Any
    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


Step = NewChannel | Call
Steps = Generator[Step, Any, T]


def call(channel: Any, method: str, **kwargs: Any) -> Call:
    return Call(channel, method, kwargs)


def run_blocking(connection: Any, steps: Steps[T]) -> T:
    """Run ``steps`` on a ``BlockingConnection``; their result."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply, error = None, None
        try:
            if isinstance(step, NewChannel):
                reply = connection.channel()
            else:
                reply = getattr(step.channel, step.method)(**step.kwargs)
        except pex.ChannelClosedByBroker as exc:
            error = exc


class AsyncSteps:
    """Run ``steps`` on a ``SelectConnection`` from its IOLoop's thread.

    ``on_done(result)`` or ``on_error(exception)`` runs once at the end. A
    channel the broker closes while one of its calls waits has its reason
    thrown into the steps at that call. If the connection itself closes, neither
    runs: the connection's own close callback is the place that handles it.
    """

    def __init__(
        self,
        connection: Any,
        steps: Steps[T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._connection = connection
        self._steps = steps
        self._on_done = on_done
        self._on_error = on_error
        self._waiting_on: Any = None  # the channel whose reply the steps wait for
        self._advance(None, None)

    def _advance(self, reply: Any, error: BaseException | None) -> None:
        self._waiting_on = None
        try:
            step = self._steps.throw(error) if error is not None else self._steps.send(reply)
        except StopIteration as done:
            self._on_done(done.value)
            return
        except Exception as exc:
            self._on_error(exc)
            return
        if not self._connection.is_open:
            return  # the connection's close callback takes it from here
        if isinstance(step, NewChannel):
            self._connection.channel(on_open_callback=self._opened)
            return
        self._waiting_on = step.channel
        getattr(step.channel, step.method)(callback=self._replied, **step.kwargs)

    def _opened(self, channel: Any) -> None:
        channel.add_on_close_callback(self._channel_closed)
        self._advance(channel, None)

    def _replied(self, method_frame: Any) -> None:
        self._advance(method_frame, None)

    def _channel_closed(self, channel: Any, reason: BaseException) -> None:
        if channel is self._waiting_on:
            self._advance(None, reason)
