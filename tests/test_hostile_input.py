"""Random and extreme values sent to every RPC of the API: the server answers
each with a clear status (never UNKNOWN or INTERNAL), stays up, and its state
stays valid."""

from __future__ import annotations

import os

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as F
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import strength
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import assert_consistent

from smclient.api import sdamanager_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["SDAManager"]
ANSWERS = {  # what a refusal may be; UNKNOWN or INTERNAL would be a crash in a handler
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.PERMISSION_DENIED,  # a VM call naming a job of another token
}
# Per method: 60 at full strength (make test-all), 20 in make test; HOSTILE_EXAMPLES=N for another count.
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", strength(20, 60)))

INT32 = st.one_of(st.sampled_from([0, 1, -1, 2, 52, 99, 100, -99, -100, 2**31 - 1, -(2**31)]),
                  st.integers(-(2**31), 2**31 - 1))
INT64 = st.one_of(INT32, st.sampled_from([2**63 - 1, -(2**63), 2**53 + 1]), st.integers(-(2**63), 2**63 - 1))
TEXT = st.one_of(
    st.sampled_from(["", " ", "null", "NULL", "back01", "192.168.110.1", "::1", "999.1.1.1", "23.9.2", "..",
                     "a,b", "MOREH_X", "../../etc/passwd", "\x00", "\u202e", "토큰", "x" * 70_000]),
    st.text(max_size=40),
)


def value(field, data):
    if field.type == F.TYPE_MESSAGE:
        return message(field.message_type, data, depth=1)
    if field.type in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return data.draw(INT32)
    if field.type in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return data.draw(INT64)
    if field.type == F.TYPE_BOOL:
        return data.draw(st.booleans())
    if field.type == F.TYPE_DOUBLE:
        return data.draw(st.floats(allow_nan=True))
    if field.type == F.TYPE_ENUM:  # known values and unknown numbers
        numbers = [v.number for v in field.enum_type.values]
        return data.draw(st.one_of(st.sampled_from(numbers), st.integers(-5, 1000)))
    return data.draw(TEXT)


def message(descriptor, data, depth=0):
    cls = pb.DESCRIPTOR.message_types_by_name.get(descriptor.name)
    if cls is None:  # nested or well-known types
        from google.protobuf import message_factory
        cls = message_factory.GetMessageClass(descriptor)
    else:
        cls = getattr(pb, descriptor.name)
    msg = cls()
    if descriptor.full_name == "google.protobuf.Timestamp":
        msg.seconds = data.draw(st.integers(-62135596800, 253402300799))
        msg.nanos = data.draw(st.integers(0, 999_999_999))
        return msg
    for field in descriptor.fields:
        if depth > 2 or not data.draw(st.booleans()):
            continue
        if field.is_repeated:
            count = data.draw(st.sampled_from([0, 1, 3, 20_000]))
            if count > 3 and field.type == F.TYPE_STRING:
                items = [f"t{i}" for i in range(count)]  # a huge list of small items
            else:
                items = [value(field, data) for _ in range(min(count, 3))]
                items = (items * (count // max(len(items), 1) + 1))[:count] if items else []
            getattr(msg, field.name).extend(items)
        elif field.type == F.TYPE_MESSAGE:
            getattr(msg, field.name).CopyFrom(value(field, data))
        else:
            setattr(msg, field.name, value(field, data))
    return msg


@pytest.fixture(scope="module")
def server():
    from sdamanager_stub.testing import running_simulator

    with running_simulator(backends=4, devices=8) as sim:
        token = sim.manager.create_token("hostile", 0).value
        sim.manager.create_sda(token, "", 1)
        sim.manager.create_usergroup("ug", "", [token])
        yield sim.admin.channel, sim.manager


@pytest.mark.slow
@pytest.mark.parametrize("method", list(SERVICE.methods), ids=lambda m: m.name)
def test_every_rpc_answers_hostile_values_with_a_clear_status(server, method):
    channel, manager = server
    request_cls = getattr(pb, method.input_type.name)
    response_cls = getattr(pb, method.output_type.name)
    path = f"/{SERVICE.full_name}/{method.name}"
    if method.server_streaming:
        call = channel.unary_stream(path, request_serializer=request_cls.SerializeToString,
                                    response_deserializer=response_cls.FromString)
    else:
        call = channel.unary_unary(path, request_serializer=request_cls.SerializeToString,
                                   response_deserializer=response_cls.FromString)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def one(data):
        request = message(method.input_type, data)
        try:
            reply = call(request, timeout=20)
            if method.server_streaming:
                list(reply)
            code = grpc.StatusCode.OK
        except grpc.RpcError as err:
            code = err.code()
            assert err.details(), "a refusal says why"
        assert code in ANSWERS, (method.name, code, request)

    one()
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert_consistent(manager)


def test_huge_and_malformed_messages_are_refused_without_harm(server):
    channel, manager = server
    before = len(manager.tokens)
    raw = channel.unary_unary(f"/{SERVICE.full_name}/CreateToken", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
    huge = pb.CreateTokenRequest(description="x" * (5 * 1024 * 1024)).SerializeToString()
    with pytest.raises(grpc.RpcError) as info:
        raw(huge, timeout=20)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    for garbage in (b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05abc"):
        with pytest.raises(grpc.RpcError) as info:
            raw(garbage, timeout=20)
        assert info.value.code() != grpc.StatusCode.OK
    assert len(manager.tokens) == before
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert_consistent(manager)
