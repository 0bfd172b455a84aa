"""gunicorn's settings for the portal (read from the working directory: ``gunicorn wsgi:app``).

Request limits agree with nginx's (``nginx/pantau.conf.template``: 8 kB header buffers) so a request nginx
passes is never refused here; body sizes are the portal's own (``PANTAU_MAX_BODY_BYTES``, and 4 MiB for the
worker API, ``contract.limits``), enforced by Flask with the project's own 413 answer. A request that takes
longer than ``timeout`` kills its worker: every input is bounded so that none comes near it.
"""

limit_request_line = 8190  # nginx: large_client_header_buffers 4 8k
limit_request_fields = 100
limit_request_field_size = 8190
timeout = 30
graceful_timeout = 10
# behind nginx, the client's own address is X-Real-IP (nginx sets it; the portal believes PANTAU_PROXY_COUNT)
access_log_format = '%({x-real-ip}i)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
