"""The fault suite (``make faults``): the production topology, broken on purpose, checked.

It starts, in a temporary folder and on free ports of 127.0.0.1, what an operator runs:
``redis-server`` with an append-only file, a private PostgreSQL cluster, ``survey-gateway
serve`` (gunicorn) and two ``survey-gateway worker`` processes kept running by a small keeper,
with the real AT SDK pointed at a local fake AT (``tests/at_server.py``). While an SMS campaign
goes out and households answer the USSD survey, it kills a worker, kills and restarts Redis,
stops PostgreSQL, and makes AT fail; then it checks, from what households saw, what the fake AT
received and what PostgreSQL holds, that nothing was lost, sent twice, sent to an opted-out
number, or sent faster than the campaign's throttle, and that sending resumed after each fault.

Modules: ``processes`` (starting, keeping and stopping processes), ``topology`` (Redis,
PostgreSQL, the gateway's settings), ``traffic`` (what AT posts), ``scenario`` (the faults, in
order), ``records`` (reads from PostgreSQL), ``checks`` (the results table), ``__main__``.
"""
