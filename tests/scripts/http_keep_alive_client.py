# python's http.client on one keep-alive connection to (argv[1], argv[2]):
# five requests, each response's status printed.
import sys, http.client
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]))
for method, path, body in [("GET", "/ok?page=2&token=s3cret", None), ("POST", "/submit", b"y" * 1000), ("GET", "/missing", None), ("GET", "/err", None), ("GET", "/slow", None)]:
    c.request(method, path, body=body)
    r = c.getresponse(); r.read()
    print(r.status, flush=True)
c.close()
