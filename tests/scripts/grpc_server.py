"""A gRPC server with no generated code (tests/http2.rs): demo.Echo/Say echoes
its request, answers NOT_FOUND to b"missing" and takes 2 s over b"slow";
demo.Echo/List streams three messages. Prints "ready" once it listens."""
import sys
import time
from concurrent import futures

import grpc


def say(request, context):
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    if request == b"slow":
        time.sleep(2)
    return b"pong:" + request


def stream(request, context):
    for i in range(3):
        yield b"item%d" % i


handlers = grpc.method_handlers_generic_handler("demo.Echo", {
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "List": grpc.unary_stream_rpc_method_handler(stream),
})
server = grpc.server(futures.ThreadPoolExecutor(4))
server.add_generic_rpc_handlers((handlers,))
server.add_insecure_port(f"{sys.argv[1]}:{sys.argv[2]}")
server.start()
print("ready", flush=True)
server.wait_for_termination()
