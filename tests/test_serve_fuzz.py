"""The service fuzzed from its own OpenAPI document: schemathesis drives the app in-process (no server, no
port) over every route with all its checks: no 5xx, every answer's status, content type, headers and body
as the schema says, schema-invalid requests rejected, the token required where the schema says so.

Bounded for a 2-core machine: at most 150 generated cases per route and phase (about 500 requests, under a
minute), on smoke models and a small budget (the point is correctness, not load). The non-strict JSON a fuzzer never sends (NaN, Infinity,
1e400) is tested by hand in tests/test_serve.py.
"""

from __future__ import annotations

import time
from collections import Counter

import schemathesis  # in the dev extra: a missing fuzzer is a failure, not a skip

from genlab.serve import Catalog, Limits, create_app

TOKEN = "fuzz-token"
# Each case samples for real: at most 4 images and 64 images x network steps keep a request under a second.
LIMITS = Limits(max_n=4, budget=64)
EXAMPLES_PER_ROUTE = 150
CONFIG = schemathesis.Config.from_dict({
    "seed": 29,  # the same cases on every run (reproducible CI)
    "headers": {"Authorization": f"Bearer {TOKEN}"},
    "generation": {"max-examples": EXAMPLES_PER_ROUTE},
    # 422 is also the documented answer to a well-formed request that a model or the budget refuses
    # (an option another kind has, n x steps over the budget): the schema cannot express per-model options
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "422", "503"]},
               "negative_data_rejection": {"expected-statuses": ["400", "401", "404", "405", "413", "422"]}},
})


class Counted:
    """ASGI wrapper: counts the HTTP requests that reach the app (the fuzzer's and its checks' own)."""

    def __init__(self, app):
        self.app, self.requests, self.statuses = app, 0, Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.requests += 1

        async def counted_send(message):
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counted_send)


def failures(events) -> tuple[list[str], int, set[str]]:
    """(every failed check and engine error, one line each; the number of test cases; the checks that ran)
    from the engine's events."""
    from schemathesis.engine import Status, events as ev
    found, cases, ran = [], 0, set()
    for event in events:
        if isinstance(event, ev.ScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    ran.add(check.name)
                    if check.status == Status.FAILURE:
                        info = check.failure_info
                        found.append(f"{event.label}: {check.name}: {info.failure.title if info else ''}: "
                                     f"{info.failure.message if info else ''}\n    {info.code_sample if info else ''}")
        elif isinstance(event, (ev.NonFatalError, ev.FatalError)):
            found.append(f"{getattr(event, 'label', 'engine')}: {getattr(event, 'value', None) or event.exception!r}")
    return found, cases, ran


def test_every_route_answers_as_its_schema_says(serve_runs, capsys, tmp_path, monkeypatch):
    """All phases (examples, coverage, fuzzing, stateful) and all checks of the schemathesis engine, the CLI's."""
    from schemathesis.engine import from_schema
    monkeypatch.chdir(tmp_path)  # the engine keeps a cache folder (.schemathesis/) in the working directory
    app = Counted(create_app(Catalog(serve_runs, device="cpu"), limits=LIMITS, queue=64, token=TOKEN))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG,
                                            headers={"Authorization": f"Bearer {TOKEN}"})
    t0 = time.perf_counter()
    found, cases, ran = failures(from_schema(schema).execute())
    with capsys.disabled():
        print(f"\nschemathesis: {app.requests} requests ({cases} test cases) in {time.perf_counter() - t0:.0f} s; "
              f"statuses {dict(sorted(app.statuses.items()))}; checks: {', '.join(sorted(ran))}")
    assert app.requests > 100 and app.statuses[200] >= 4, "the fuzzer hardly ran, or never generated images"
    assert {"not_a_server_error", "response_schema_conformance", "status_code_conformance", "ignored_auth",
            "negative_data_rejection", "positive_data_acceptance"} <= ran
    assert not found, "\n".join(found)
