"""localstripe for tests: a stateful fake Stripe API on 127.0.0.1, in a child process.

Started as in docs TEST-INFRA.md: bound to 127.0.0.1 on a free port, its pickle file in a
temporary folder (its stock entry point binds every interface and writes /tmp), stopped by its
PID. Tests that need it skip, saying why, when the localstripe package is not installed.

localstripe knows no Stripe Connect. What it does with the Connect parts of our requests
(checked against localstripe 1.15): the `Stripe-Account` header is accepted and ignored (one
ledger for everyone), `application_fee_amount` on a PaymentIntent is refused
(`400 Unexpected application_fee_amount`), and there is no `/v1/accounts`. This harness adds
the smallest layer that lets the tests see what the app sends, without pretending to do what
Connect does (no separate balances, no fee transfers):
- every API request is logged with its `Stripe-Account` and `Idempotency-Key` headers and its
  form fields: `GET /_config/requests`;
- a PaymentIntent takes `application_fee_amount` (0..amount) and shows it back, as Stripe does;
- after a declined charge the customer may try another card on the same intent, as on Stripe
  (localstripe keeps the intent stuck on the failed charge);
- `POST /_config/accounts` (field `id`) registers a connected account that
  `GET /v1/accounts/<id>` then finds; others are Stripe's 404 `resource_missing`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib.util
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from tests.servers import free_port

SECRET_KEY = "sk_test_12345"
WEBHOOK_SECRET = "whsec_test_secret"


def localstripe_missing() -> str | None:
    """Why localstripe cannot run here, or None. (Not imported here: it runs in its own
    process, and importing it warns, which this test suite turns into errors.)"""
    if importlib.util.find_spec("localstripe") is None:
        return "localstripe is not installed: pip install -e '.[dev]'"
    return None


def sign(payload: bytes | str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
         ) -> str:
    """A Stripe-Signature header for `payload`: t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<payload>")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    body = payload.encode() if isinstance(payload, str) else payload
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class LocalStripe:
    """A running localstripe: its URL, plus helpers that talk to it like Stripe.js would."""

    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def _request(self, method: str, path: str, data: dict | None = None) -> dict:
        body = urlencode(data or {}).encode() if method == "POST" else None
        if method == "GET" and data:
            path = f"{path}?{urlencode(data)}"
        request = Request(self.url + path, data=body, method=method,
                          headers={"Authorization": f"Bearer {SECRET_KEY}"})
        try:
            with urlopen(request, timeout=10) as response:
                content = response.read()
        except HTTPError as error:
            raise LocalStripeError(error.code, json.loads(error.read() or b"{}")) from None
        return json.loads(content) if content else {}

    def register_account(self, account_id: str) -> None:
        self._request("POST", "/_config/accounts", {"id": account_id})

    def requests_log(self, path: str | None = None) -> list[dict]:
        """The API requests received so far (optionally those to `path`), oldest first."""
        log = self._request("GET", "/_config/requests")["requests"]
        return [entry for entry in log if path is None or entry["path"] == path]

    def card(self, number: str = "4242424242424242") -> str:
        """A PaymentMethod for a test card (4000000000000002 is declined)."""
        return self._request("POST", "/v1/payment_methods", {
            "type": "card", "card[number]": number, "card[exp_month]": "12",
            "card[exp_year]": "2034", "card[cvc]": "123"})["id"]

    def pay(self, intent_id: str, number: str = "4242424242424242") -> dict:
        """What Stripe.js does at checkout: attach the card, confirm. A decline raises."""
        self._request("POST", f"/v1/payment_intents/{intent_id}",
                      {"payment_method": self.card(number)})
        return self._request("POST", f"/v1/payment_intents/{intent_id}/confirm")

    def intent(self, intent_id: str) -> dict:
        return self._request("GET", f"/v1/payment_intents/{intent_id}")

    def refunds(self, intent_id: str) -> list[dict]:
        """The refunds of the intent's charge (none before it is charged)."""
        charge = self.intent(intent_id)["latest_charge"]
        if not charge:
            return []
        return self._request("GET", "/v1/refunds", {"charge": charge["id"]})["data"]

    def event_for(self, event_type: str, object_id: str, timeout: float = 5.0) -> dict:
        """The event localstripe made for that object (it makes them as Stripe does)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self._request("GET", "/v1/events",
                                   {"type": event_type, "limit": 100})["data"]
            for event in events:
                if event["data"]["object"]["id"] == object_id:
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} event for {object_id}")
            time.sleep(0.05)


class LocalStripeError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def start(directory: Path) -> LocalStripe:
    """Start localstripe in a child process and wait until it answers."""
    port = free_port()
    with open(directory / "localstripe.log", "wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.stripe_server", "--port", str(port),
             "--dir", str(directory)],
            cwd=Path(__file__).resolve().parent.parent, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urlopen(url + "/_config/requests", timeout=1):
                return LocalStripe(url, process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError("localstripe did not start: "
                                   + (directory / "localstripe.log").read_text()) from None
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def localstripe():
    """One localstripe for the test session (skipped, saying why, without the package)."""
    reason = localstripe_missing()
    if reason:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="localstripe-") as directory:
        server = start(Path(directory))
        yield server
        stop(server.process)


@pytest.fixture
def stripe_keys(app, localstripe):
    """The app talks to localstripe for this test: keys set, API base pointed at it."""
    keys = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": localstripe.url}
    previous = {key: app.config.get(key) for key in keys}
    app.config.update(keys)
    yield SimpleNamespace(server=localstripe, **keys)
    app.config.update(previous)


# The server process ----------------------------------------------------------------------------

def _serve(port: int, directory: Path) -> None:
    from aiohttp import web
    from localstripe import resources, server
    from localstripe.errors import UserError, json_response

    pickle_path = directory / "localstripe.pickle"

    def dump_to_disk(store) -> None:
        with open(pickle_path, "wb") as handle:
            pickle.dump(store, handle, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = lambda store: None  # always from scratch

    requests_seen: list[dict] = []
    accounts: set[str] = set()

    @web.middleware
    async def record(request, handler):
        if request.path.startswith("/v1/"):
            fields = dict(await request.post()) if request.method == "POST" else {}
            requests_seen.append({
                "method": request.method, "path": request.path,
                "stripe_account": request.headers.get("Stripe-Account"),
                "idempotency_key": request.headers.get("Idempotency-Key"),
                "fields": {key: str(value) for key, value in fields.items()},
            })
        return await handler(request)

    async def list_requests(request):
        return json_response({"requests": requests_seen})

    async def add_account(request):
        account_id = (await request.post()).get("id", "")
        if not account_id.startswith("acct_"):
            raise UserError(400, "Bad request")
        accounts.add(account_id)
        return web.Response()

    async def get_account(request):
        account_id = request.match_info["id"]
        if account_id not in accounts:
            raise UserError(404, f"No such account: '{account_id}'",
                            {"code": "resource_missing", "param": "account"})
        return json_response({"id": account_id, "object": "account", "charges_enabled": True,
                              "payouts_enabled": True, "type": "standard"})

    intent_init = resources.PaymentIntent.__init__

    def intent_with_fee(self, *args, application_fee_amount=None, **kwargs):
        fee = resources.try_convert_to_int(application_fee_amount)
        amount = resources.try_convert_to_int(kwargs.get("amount"))
        if fee is not None and not (type(fee) is int and type(amount) is int
                                    and 0 <= fee <= amount):
            raise UserError(400, "Bad request", {"param": "application_fee_amount"})
        intent_init(self, *args, **kwargs)
        self.application_fee_amount = fee

    resources.PaymentIntent.__init__ = intent_with_fee
    intent_update = resources.PaymentIntent._update

    def intent_retry(self, **data):
        # Stripe lets the customer try another card after a decline; localstripe keeps the
        # failed charge, and with it the intent stuck in requires_payment_method.
        charge = self.latest_charge
        if "payment_method" in data and charge is not None and charge.status == "failed":
            self.latest_charge = None
        intent_update(self, **data)

    resources.PaymentIntent._update = intent_retry

    app = server.app
    app.middlewares.insert(0, record)
    app.router.add_get("/_config/requests", list_requests)
    app.router.add_post("/_config/accounts", add_account)
    app.router.add_get("/v1/accounts/{id}", get_account)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    arguments = parser.parse_args()
    _serve(arguments.port, arguments.dir)
