"""The shell's transport against grpc_testing playing SDAManager's part: the server's
side of each call is scripted here (a status, pages then a failure, a reply that
never comes), with no server at all, and the shell's words for each are checked.
The simulator can only be a well-behaved SDAManager; this is the misbehaving one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
import grpc_testing
import pytest

from smclient.api import sdamanager_pb2 as pb
from smclient.api.address import Address
from smclient.errors import ServerError, Unreachable
from smclient.transport import Connection

SERVICE = pb.DESCRIPTOR.services_by_name["SDAManager"]
ADDRESS = Address("sdamanager.example", 30105)


@pytest.fixture
def double() -> grpc_testing.Channel:
    return grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())


def answered(double: grpc_testing.Channel, method: str, serve: Callable[[Any], None]) -> threading.Thread:
    """SDAManager's side of the next call of `method`, in a thread: `serve(rpc)` ends it."""
    descriptor = SERVICE.methods_by_name[method]

    def server() -> None:
        take = double.take_unary_stream if descriptor.server_streaming else double.take_unary_unary
        _, _, rpc = take(descriptor)
        serve(rpc)

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("code", "detail", "error", "words"), [
    (grpc.StatusCode.UNAVAILABLE, "", Unreachable, "Cannot connect to SDAManager at sdamanager.example:30105."),
    (grpc.StatusCode.UNAVAILABLE, "Cancelling all calls", Unreachable,
     "SDAManager at sdamanager.example:30105 stopped before answering: the command may or may not have been applied."),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "", Unreachable, "SDAManager at sdamanager.example:30105 did not answer "
                                                         "within 5 s."),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "This SDAManager is answering 2048 admin calls already; try again shortly.",
     ServerError, "This SDAManager is answering 2048 admin calls already; try again shortly."),
    (grpc.StatusCode.NOT_FOUND, "Token 'x'\ndoes not\x1b[31m exist.", ServerError, "Token 'x' does not [31m exist."),
    (grpc.StatusCode.UNIMPLEMENTED, "Method not found!", ServerError, "This SDAManager does not support the request."),
])
def test_each_status_of_a_call_becomes_the_shells_words(double, code, detail, error, words):
    connection = Connection(ADDRESS, timeout=5, channel=double)
    server = answered(double, "GetToken", lambda rpc: rpc.terminate(None, (), code, detail))
    with pytest.raises(error) as raised:
        connection.call("GetToken", pb.GetTokenRequest(token="x"))
    server.join(5)
    assert str(raised.value) == words


def test_a_listing_cut_mid_stream_yields_its_pages_then_fails_as_unreachable(double):
    connection = Connection(ADDRESS, timeout=5, channel=double)
    taken = threading.Event()

    def two_pages_then_gone(rpc: Any) -> None:
        rpc.send_response(pb.TokenPage(tokens=[pb.Token(value="a")]))
        rpc.send_response(pb.TokenPage(tokens=[pb.Token(value="b")]))
        taken.wait(5)  # (grpc_testing drops pages not yet taken when the call ends)
        rpc.terminate((), grpc.StatusCode.UNAVAILABLE, "connection reset")

    server = answered(double, "ListTokens", two_pages_then_gone)
    pages = []
    with pytest.raises(Unreachable) as raised:
        for page in connection.stream("ListTokens", pb.ListTokensRequest()):
            pages.append([t.value for t in page.tokens])
            if len(pages) == 2:
                taken.set()
    server.join(5)
    assert pages == [["a"], ["b"]]
    assert str(raised.value) == "Cannot connect to SDAManager at sdamanager.example:30105."


def test_a_page_that_never_comes_is_cancelled_after_the_timeout(double):
    """Each page must come within the timeout: the shell cancels the call itself."""
    connection = Connection(ADDRESS, timeout=0.3, channel=double)
    cancelled = threading.Event()

    def one_page_then_silence(rpc: Any) -> None:
        rpc.send_response(pb.TokenPage(tokens=[pb.Token(value="a")]))
        rpc.cancelled()  # blocks until the client cancels
        cancelled.set()

    server = answered(double, "ListTokens", one_page_then_silence)
    pages = []
    with pytest.raises(Unreachable) as raised:
        for page in connection.stream("ListTokens", pb.ListTokensRequest()):
            pages.append(len(page.tokens))
    assert pages == [1]
    assert str(raised.value) == "SDAManager at sdamanager.example:30105 did not answer within 0.3 s."
    assert cancelled.wait(5)  # and the server's side saw the call end
    server.join(5)
