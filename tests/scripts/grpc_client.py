"""Four gRPC calls on one channel (tests/http2.rs): Say answered OK, Say
answered NOT_FOUND, Say past its 300 ms deadline, and List streaming three
messages. Prints each call's status code, one a line."""
import sys

import grpc

channel = grpc.insecure_channel(f"{sys.argv[1]}:{sys.argv[2]}")
say = channel.unary_unary("/demo.Echo/Say")
for request, timeout in [(b"hi", None), (b"missing", None), (b"slow", 0.3)]:
    try:
        say(request, timeout=timeout)
        print("OK")
    except grpc.RpcError as e:
        print(e.code().name)
items = list(channel.unary_stream("/demo.Echo/List")(b"x"))
print("OK" if len(items) == 3 else f"{len(items)} items")
channel.close()
