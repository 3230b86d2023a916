# python's http.client on one keep-alive connection to (argv[1], argv[2]),
# a proxy: six requests, each response's status printed.
import sys, http.client
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]))
for method, path, body in [("GET", "/ok?page=2&token=s3cret", None), ("POST", "/submit?draft=1", b"y" * 1000), ("GET", "/missing?q=1", None), ("GET", "/err", None), ("GET", "/slow", None), ("GET", "/ok", None)]:
    c.request(method, path, body=body)
    r = c.getresponse(); r.read()
    print(r.status, flush=True)
c.close()
