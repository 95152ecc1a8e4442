#!/usr/bin/env python3
"""moto's server, unchanged unless --future-expiry: ADDR PORT CERT KEY [--future-expiry].

moto hard-codes its ECR tokens' expiresAt to 2015-01-01, so no helper ever
caches them: the e2e suite runs moto as is (every `get` is an API call). The
demo passes --future-expiry, which makes moto's ECR module see a clock 12 hours
ahead when it dates a token, so `status` has a cached token to show.
"""
import sys
import time

addr, port, cert, key, *rest = sys.argv[1:]
if "--future-expiry" in rest:
    import moto.ecr.responses as ecr_responses

    class _TwelveHoursAhead:
        def __getattr__(self, name):
            return getattr(time, name)

        def mktime(self, _t):
            return time.time() + 12 * 3600

    ecr_responses.time = _TwelveHoursAhead()

from moto.server import main  # noqa: E402

main(["-H", addr, "-p", port, "-c", cert, "-k", key])
