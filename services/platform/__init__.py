"""One copy of each piece of plumbing every service needs.

- `process`: start a service as a subprocess, wait for it, stop it (terminate, wait, kill);
- `http`: `/healthz`, `/readyz` and `/metrics` routes, bounded body reads;
- `loops`: a daemon-thread loop that stops when asked, and exponential back-off;
- `sqlite`: a connection set up the one way the services use SQLite (WAL, busy timeout);
- `signatures`: the one webhook signature verifier (HMAC over the raw bytes, every
  configured secret tried, constant time), whose `verify` hands back the parsed body.

It imports nothing else of partnerpulse: every other package may import it.
"""
