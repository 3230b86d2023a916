"""HTTP/2 with prior knowledge (tests/http2.rs), python's h2 on a plain
socket: every path of argv[3:] requested at once, as concurrent streams of
one connection, each with the same custom header (which HPACK sends once,
then from its dynamic table); prints each path's status, in argv's order."""
import socket
import sys

import h2.config
import h2.connection
import h2.events

host, port, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sock = socket.create_connection((host, port))
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
streams = {}
for path in paths:
    stream = conn.get_next_available_stream_id()
    streams[stream] = path
    conn.send_headers(stream, [(":method", "GET"), (":path", path), (":scheme", "http"),
                               (":authority", f"{host}:{port}"),
                               ("x-podtop-test", "the same value on every stream")], end_stream=True)
sock.sendall(conn.data_to_send())
status, ended = {}, set()
while len(ended) < len(streams):
    data = sock.recv(65536)
    if not data:
        break
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.ResponseReceived):
            status[event.stream_id] = dict(event.headers)[b":status"].decode()
        elif isinstance(event, h2.events.DataReceived):
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            ended.add(event.stream_id)
    sock.sendall(conn.data_to_send())
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
for stream, path in streams.items():
    print(path, status.get(stream, "none"))
