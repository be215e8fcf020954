#!/usr/bin/env python3
"""A Python orchestrator driving `bernstein serve`, with the standard library only (urllib, json).

For each task it:
  1. routes the task over OFREP: POST /ofrep/v1/evaluate/flags/<role> with the task id as
     targetingKey; the answer says which version (and arm) the task runs with;
  2. fetches that version's prompt files and model config once, by id (GET /v1/versions/<id>;
     ids are content hashes, so the answer never changes and is cached here forever);
  3. runs a simulated agent with them (a stand-in for spawning a real coding agent: it passes its
     quality gates with the probability given for the version's arm);
  4. posts the outcome (POST /v1/outcomes); the server evaluates the canary after each one.

It stops when the role's canary is rolled back (or promoted), or after --tasks tasks.
Prints a JSON summary on stdout. Exit codes: 0 the canary was decided, 2 still running after
--tasks, 1 an error (the message is on stderr).

    python3 orchestrator.py --url http://127.0.0.1:8080 --role backend --token "$BERNSTEIN_TOKEN_ROUTE"
"""

import argparse
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


class ServiceError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = "%s: %s" % (error.get("code"), error.get("message"))
        elif isinstance(body, dict) and "errorCode" in body:
            message = "%s: %s" % (body.get("errorCode"), body.get("errorDetails", ""))
        else:
            message = str(body)
        super().__init__("HTTP %d %s" % (status, message))


class Bernstein:
    """A tiny client of `bernstein serve`."""

    def __init__(self, url, token=None, timeout=30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._versions = {}
        self._lock = threading.Lock()

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raw = error.read().decode("utf-8", "replace")
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            raise ServiceError(error.code, parsed) from None

    def route(self, role, task_id, stratum=None):
        """OFREP single-flag evaluation: routes the task (sticky, recorded by the server)."""
        context = {"targetingKey": task_id}
        if stratum is not None:
            context["stratum"] = stratum
        return self._call("POST", "/ofrep/v1/evaluate/flags/" + role, {"context": context})

    def version(self, version_id):
        """A version's full content, fetched once per id (it is immutable)."""
        with self._lock:
            cached = self._versions.get(version_id)
        if cached is None:
            cached = self._call("GET", "/v1/versions/" + version_id)
            with self._lock:
                self._versions[version_id] = cached
        return cached

    @property
    def versions_fetched(self):
        with self._lock:
            return len(self._versions)

    def record(self, outcomes):
        """POST /v1/outcomes with one outcome or a list of them."""
        return self._call("POST", "/v1/outcomes", outcomes)

    def status(self, role):
        return self._call("GET", "/v1/status?role=" + role)["roles"][0]


def simulated_agent(rng, version, arm, pass_rates):
    """Stand-in for spawning a coding agent with the version's prompts and model."""
    prompt_bytes = sum(len(text) for text in version["files"].values())
    passed = rng.random() < pass_rates[arm]
    return {
        "passed": passed,
        "gates": {"tests": passed, "lint": True},
        "durationMs": 1000 + prompt_bytes % 500 + rng.randint(0, 2000),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Route tasks through bernstein serve until the canary is decided.")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--role", default="backend")
    parser.add_argument("--token", default=None, help="a token with scope route (BERNSTEIN_TOKEN_ROUTE on the server)")
    parser.add_argument("--tasks", type=int, default=1000, help="stop after this many tasks")
    parser.add_argument("--workers", type=int, default=4, help="tasks run at once")
    parser.add_argument("--stable-pass", type=float, default=0.9, help="the simulated stable agent's pass rate")
    parser.add_argument("--canary-pass", type=float, default=0.4, help="the simulated canary agent's pass rate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--prefix", default="py-task-")
    args = parser.parse_args(argv)

    client = Bernstein(args.url, args.token)
    pass_rates = {"stable": args.stable_pass, "canary": args.canary_pass}
    lock = threading.Lock()
    done = threading.Event()
    summary = {"role": args.role, "tasks": 0, "arms": {"stable": 0, "canary": 0}, "recorded": 0, "duplicates": 0, "decision": None, "transition": None}
    started = time.time()

    def run_task(index):
        if done.is_set():
            return
        task_id = "%s%d" % (args.prefix, index)
        flag = client.route(args.role, task_id)
        value = flag["value"]
        version = client.version(value["versionId"])
        rng = random.Random("%d:%s" % (args.seed, task_id))
        outcome = simulated_agent(rng, version, value["arm"], pass_rates)
        outcome["taskId"] = task_id
        answer = client.record(outcome)
        with lock:
            summary["tasks"] += 1
            summary["arms"][value["arm"]] += 1
            for result in answer["results"]:
                if result["status"] == "recorded":
                    summary["recorded"] += 1
                elif result["status"] == "duplicate":
                    summary["duplicates"] += 1
                else:
                    raise RuntimeError("outcome of %s: %s (%s)" % (task_id, result["status"], result.get("reason")))
            for event in answer["transitions"]:
                if event["role"] == args.role and event["action"] in ("rollback", "promote"):
                    summary["decision"] = "rolled back" if event["action"] == "rollback" else "promoted"
                    summary["transition"] = {"action": event["action"], "canaryId": event["canaryId"], "reason": event["reason"], "evidence": event.get("evidence")}
                    done.set()

    try:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            futures = [pool.submit(run_task, i) for i in range(1, args.tasks + 1)]
            for future in futures:
                future.result()
        role = client.status(args.role)
    except (ServiceError, RuntimeError, urllib.error.URLError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1

    summary["versionsFetched"] = client.versions_fetched
    summary["seconds"] = round(time.time() - started, 3)
    summary["stableVersion"] = role["stableVersion"]
    summary["canaryRunning"] = role["canary"] is not None
    print(json.dumps(summary))
    return 0 if summary["decision"] is not None else 2


if __name__ == "__main__":
    sys.exit(main())
