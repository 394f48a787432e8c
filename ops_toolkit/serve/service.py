"""Assembling ``ops serve``: the store, routing, runbook links, SLO budgets, notifier, loops."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from ops_toolkit.alerts.webhook import Notification
from ops_toolkit.config import OpsConfig, credential_variables
from ops_toolkit.errors import ConfigError, MetricsError, OpsError, StoreBusy
from ops_toolkit.escalate.oncall import OncallConfig
from ops_toolkit.escalate.route import load_routes
from ops_toolkit.metrics.model import BoundedSource, MetricsSource
from ops_toolkit.notify.message import UNAVAILABLE, BudgetInfo
from ops_toolkit.notify.model import Notifier
from ops_toolkit.serve.server import AppSettings, GroupCommitWriter, create_app
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.worker import Deliverer, Loop, Processor
from ops_toolkit.slo.model import SLO

log = logging.getLogger("ops.serve")
if TYPE_CHECKING:
    from ops_toolkit.metrics.prometheus import PrometheusSource

BUDGET_CACHE_SECONDS = 30.0
# One budget lookup is several rounds of queries: this bounds them together, as --timeout
# bounds a command (each query also has its own 3 s), so a Prometheus that trickles its
# answers costs an alert's processing seconds, never minutes.
BUDGET_LOOKUP_SECONDS = 5.0
REFUSAL_NOTICE_SECONDS = 60.0


def make_notifier(config: OpsConfig, *, console: bool = False) -> Notifier:
    """Slack when ``SLACK_BOT_TOKEN`` is set (``SLACK_API_URL`` for another API), else the console.

    ``console`` (``--console``) or ``notifier: console`` in ops.yaml choose the console even
    with a token.
    """
    token = os.environ.get("SLACK_BOT_TOKEN")
    if config.notifier == "slack" and not token and not console:
        raise ConfigError(
            f"{config.source or 'ops.yaml'}: notifier: slack needs SLACK_BOT_TOKEN (and "
            "SLACK_API_URL for a Slack-compatible API)"
        )
    if token and not console and config.notifier != "console":
        from ops_toolkit.notify.slack import SlackNotifier

        return SlackNotifier(token, base_url=os.environ.get("SLACK_API_URL"))
    from ops_toolkit.notify.console import ConsoleNotifier

    return ConsoleNotifier(config.serve.messages)


def notifier_description(notifier: Notifier, config: OpsConfig) -> str:
    """Where messages go, said at start: a console default must not pass for Slack."""
    from ops_toolkit.notify.console import ConsoleNotifier

    if not isinstance(notifier, ConsoleNotifier):
        return "notifier Slack"
    why = "notifier: console" if config.notifier == "console" else "no SLACK_BOT_TOKEN"
    return f"notifier console ({why}): messages to this terminal and {config.serve.messages}"


def runbook_index(directory: str) -> dict[str, str]:
    """Alert name -> runbook path: front matter ``alerts:``, else a file named after the alert."""
    from ops_toolkit.runbook.catalog import alert_index, runbook_files
    from ops_toolkit.runbook.model import Runbook
    from ops_toolkit.runbook.parse import read_runbook

    if not os.path.isdir(directory):
        return {}
    runbooks: list[Runbook] = []
    for path in runbook_files([directory]):
        try:
            runbooks.append(read_runbook(path))
        except OpsError as error:
            log.warning("skipping a runbook that does not parse: %s", error)
    return {alert: os.path.relpath(r.source) for alert, r in alert_index(runbooks).items()}


def repository_path(path: str, config_source: str | None) -> str:
    """``path`` as a link under ``runbook_base_url`` names it. A base URL points into a
    repository's tree, so the path is taken from the root of the git work tree holding the
    file; else from the ops.yaml folder when the file is under it; else as given. Never from
    the working directory, which differs from one ``ops serve`` start to the next."""
    absolute = os.path.abspath(path)
    folder = os.path.dirname(absolute)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return os.path.relpath(absolute, folder).replace(os.sep, "/")
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if config_source:
        base = os.path.dirname(os.path.abspath(config_source))
        relative = os.path.relpath(absolute, base)
        if not relative.startswith(".."):
            return relative.replace(os.sep, "/")
    return path


class BudgetLookup:
    """An alert's SLO budget from Prometheus, cached briefly; 'unavailable' when it fails."""

    def __init__(
        self,
        slos: Mapping[tuple[str, str], SLO],
        source: MetricsSource | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.slos = slos
        self.source = source
        self.clock = clock
        self._cache: dict[str, tuple[float, BudgetInfo | str]] = {}
        self._lock = threading.Lock()

    def __call__(self, labels: Mapping[str, str]) -> BudgetInfo | str | None:
        slo = self.slos.get((labels.get("service", ""), labels.get("slo", "")))
        if slo is None:
            return None
        if self.source is None:
            return None  # no Prometheus configured: nothing to attach
        with self._lock:
            cached = self._cache.get(slo.key)
            if cached and self.clock() - cached[0] < BUDGET_CACHE_SECONDS:
                return cached[1]
        now = self.clock()
        info = self._query(slo, now)
        with self._lock:
            self._cache[slo.key] = (now, info)
        return info

    def _query(self, slo: SLO, now: float) -> BudgetInfo | str:
        """The budget as a report gives it: recorded series when they are fresh (one query
        names them), else direct queries."""
        from ops_toolkit.durations import format_duration
        from ops_toolkit.slo.evaluate import evaluate_auto

        assert self.source is not None
        source = self.source
        if isinstance(source, BoundedSource):
            bound = f"a budget lookup has {BUDGET_LOOKUP_SECONDS:g}s in all"
            source = source.within(BUDGET_LOOKUP_SECONDS, bound)
        try:
            (status,) = evaluate_auto([slo], source, now)
        except (MetricsError, ConfigError) as error:
            log.warning("budget of %s unavailable: %s", slo.key, error)
            return UNAVAILABLE
        except Exception as error:  # a bug here must cost the budget line, never the alert
            log.warning("budget of %s unavailable: %s: %s", slo.key, type(error).__name__, error)
            return UNAVAILABLE
        return BudgetInfo(
            slo=slo.key,
            objective=slo.objective,
            remaining=status.budget_remaining,
            burn_rates={format_duration(w): r for w, r in status.burn_rates().items()},
            status=status.status,
            source=status.source,
        )


def slo_index(paths: tuple[str, ...]) -> dict[tuple[str, str], SLO]:
    from ops_toolkit.slo.spec import load_slos

    existing = [p for p in paths if os.path.exists(p)]
    return {(s.service, s.name): s for s in load_slos(existing)} if existing else {}


def load_oncall_file(config: OpsConfig) -> OncallConfig | None:
    """The on-call file (``oncall:`` in ops.yaml, else alerts/oncall.yaml), None without one."""
    from ops_toolkit.config import oncall_path
    from ops_toolkit.escalate.oncall import load_oncall

    path = oncall_path(config)
    return load_oncall(path) if path is not None else None


class EscalationService:
    """Everything ``ops serve`` runs, wired together; ``app`` is the ASGI application."""

    def __init__(
        self, config: OpsConfig, *, token: str | None, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.store = Store(config.serve.state, busy_timeout=config.store.busy_timeout)
        self._refusals_lock = threading.Lock()
        self._refused_since_notice = 0
        self._last_refusal_notice = -math.inf
        self._prometheus = self._source(config)
        self._budget_source = self._source(config, timeout=3.0)
        routes = config.routes
        if routes is None and os.path.exists("alerts/routes.yaml"):
            routes = "alerts/routes.yaml"
        self.routing = load_routes(routes)
        self.runbooks = runbook_index(config.runbooks)
        self.notifier = notifier or make_notifier(config)
        self.processor = Processor(
            self.store,
            self.routing,
            self.runbook_for,
            BudgetLookup(slo_index(config.slos), self._budget_source),
        )
        self.deliverer = Deliverer(
            self.store, self.notifier, pace=config.serve.pace_seconds, max_age=config.serve.max_age
        )
        self.delivery_loop = Loop("delivery", self.deliverer.run_once)
        self.processing_loop = Loop("processing", self._process)
        self.processor.on_output = self._output_ready
        self.writer = GroupCommitWriter(self.store, self.processing_loop.wake)
        self.extra_loops = self._schedule_loops(config)
        oncall = load_oncall_file(config)  # before the diagnoser: it names credentials too
        withheld = credential_variables(config, oncall)
        self.diagnoser = self._diagnoser(config, withheld)
        self.oncall = self._oncall(config, oncall)
        self.app = create_app(
            self.writer,
            AppSettings(
                token=token,
                inbox_limit=config.serve.inbox_limit,
                stats=self.stats,
                depth=lambda: {"inbox_depth": float(self.store.inbox_depth())},
                health=self.health,
                max_body=config.serve.max_body,
                read_timeout=config.serve.read_timeout,
                on_refused=self.body_refused,
            ),
            on_start=self.start,
            on_stop=self.stop,
            extra_routes=self.oncall.slack_routes() if self.oncall else (),
        )

    @staticmethod
    def _source(config: OpsConfig, timeout: float = 10.0) -> PrometheusSource | None:
        """One Prometheus client (one connection pool) per use, when Prometheus is configured;
        its headers and credentials from ops.yaml (a missing secret stops the start)."""
        if config.prometheus_source is None:
            return None
        from ops_toolkit.metrics.prometheus import open_source

        return open_source(config.prometheus_source, os.environ, timeout=timeout)

    def metrics(self) -> MetricsSource:
        """The shared client for reports, policies and diagnose runs."""
        if self._prometheus is None:
            from ops_toolkit.runbook.execute import no_metrics

            return no_metrics()
        return self._prometheus

    def runbook_for(self, notification: Notification) -> str | None:
        annotations = notification.common_annotations or (
            notification.alerts[0].annotations if notification.alerts else {}
        )
        if annotations.get("runbook_url"):
            return annotations["runbook_url"]
        path = self.runbooks.get(notification.alert_name)
        if path is None:
            return None
        from ops_toolkit.links import runbook_link

        return runbook_link(repository_path(path, self.config.source), self.config.runbook_base_url)

    def _schedule_loops(self, config: OpsConfig) -> list[Loop]:
        """Scheduled reports and the budget policy, when ops.yaml has them."""
        if not (config.reports or config.policies):
            return []
        if not config.prometheus:
            raise ConfigError(
                f"{config.source}: reports and policies need 'prometheus: URL' to evaluate SLOs"
            )
        from ops_toolkit.reports.scheduled import PolicyRunner, ReportPublisher

        publisher = ReportPublisher(config, self.store, self.metrics)
        policy = PolicyRunner(config, self.store, self.metrics)

        def reports() -> float:
            if publisher.run_due(time.time()):
                self.delivery_loop.wake()
            return 30.0

        def policies() -> float:
            if policy.run(time.time()):
                self.delivery_loop.wake()
            return 60.0

        loops = [Loop("reports", reports)] if config.reports else []
        return loops + ([Loop("policies", policies)] if config.policies else [])

    def _diagnoser(self, config: OpsConfig, withheld: frozenset[str]) -> Any:
        """Runs diagnose steps: for the Run diagnose button and /ops runbook, and, with
        ``auto_diagnose``, for every firing alert; ``withheld``: ``credential_variables``."""
        from ops_toolkit.metrics.source import known_secrets
        from ops_toolkit.runbook.environment import url_credentials
        from ops_toolkit.serve.diagnose import Diagnoser
        from ops_toolkit.serve.store.backends import runs_directory

        diagnoser = Diagnoser(
            self.store,
            runs_directory(config.serve.state),
            self.runbooks,
            self.metrics,
            self.delivery_loop.wake,
            credentials={
                **url_credentials("prometheus", config.prometheus),
                **url_credentials("serve.state", config.serve.state),
                **known_secrets(config.prometheus_source, os.environ),
            },
            withheld=sorted(withheld),
            limit=config.serve.diagnose_queue,
            allowed_urls=config.serve.diagnose_allowed_urls,
        )
        if config.auto_diagnose:
            routing = self.routing
            self.processor.on_new = lambda n: diagnoser.submit(
                n, [r.channel for r in routing.targets(n.labels())]
            )
        return diagnoser

    def _oncall(self, config: OpsConfig, oncall: OncallConfig | None) -> Any:
        """Escalation policies, schedules and Slack actions, when there is an on-call file."""
        if oncall is None:
            self.routing.check_policies(())
            if os.environ.get("SLACK_SIGNING_SECRET"):  # the secret alone turns nothing on
                log.warning(
                    "SLACK_SIGNING_SECRET is set but there is no on-call file: "
                    "/slack/interactions and /slack/commands are off (404); put 'oncall: "
                    "PATH' in ops.yaml or create alerts/oncall.yaml to turn them on"
                )
            return None
        self.routing.check_policies(list(oncall.policies))
        self._refuse_credential_runbooks(oncall.credential_variables())
        from ops_toolkit.serve.oncall import Oncall

        lookup = getattr(self.notifier, "lookup_email", None)
        known = getattr(self.notifier, "known_email", None)
        runbook_paths = {
            os.path.splitext(os.path.basename(p))[0]: p for p in set(self.runbooks.values())
        }
        service = Oncall(
            config,
            oncall,
            self.store,
            lookup_user=lookup if callable(lookup) else (lambda email: None),
            known_user=known if callable(known) else (lambda email: None),
            wake_delivery=self.delivery_loop.wake,
            diagnose=self._diagnose_runbook,
            runbook_paths=runbook_paths,
        )
        loop = Loop("oncall", service.run_once)
        service.wake = loop.wake
        self.extra_loops.append(loop)
        runbooks = self.runbooks
        self.processor.decorate = service.opening
        self.processor.on_routed = lambda n, route, message, url: service.on_notification(
            n, route, message, url, runbooks.get(n.alert_name)
        )
        return service

    def _refuse_credential_runbooks(self, variables: frozenset[str]) -> None:
        """Say now which runbook asks for a variable the on-call file reads a credential from
        (``routing_key_env``): its diagnose runs are refused (the diagnoser withholds and
        masks them: ``credential_variables``)."""
        from ops_toolkit.runbook.lint import lint_runbook
        from ops_toolkit.runbook.parse import read_runbook

        if not variables:
            return
        for path in sorted(set(self.runbooks.values())):
            try:
                findings = lint_runbook(read_runbook(path), variables)
            except OpsError:
                continue  # said when the index was built
            for finding in findings:
                if finding.rule == "ops-credential":
                    log.error("%s; its diagnose runs are refused", finding)

    def _diagnose_runbook(self, path: str, labels: dict[str, str]) -> dict[str, Any]:
        """A runbook's diagnose steps, unattended (confirm steps never run): the reply."""
        message: dict[str, Any] = self.diagnoser.message_for(path, labels)
        return message

    def body_refused(self, size: int) -> None:
        """A webhook body over ``serve.max_body`` was refused (413): count it, and tell the
        default channel, at most once a minute, since Alertmanager will not send it again."""
        from ops_toolkit.notify.message import refused_notice
        from ops_toolkit.notify.model import Planned

        now = time.time()
        limit = self.config.serve.max_body
        log.error("refused a webhook body of %d bytes (over serve.max_body %d)", size, limit)
        with self._refusals_lock:
            self._refused_since_notice += 1
            if now - self._last_refusal_notice < REFUSAL_NOTICE_SECONDS:
                self.store.count("bodies_refused")
                return
            count, self._refused_since_notice = self._refused_since_notice, 0
            self._last_refusal_notice = now
        notice = refused_notice(size, limit, count, now).as_dict()
        channel = self.routing.default.channel
        self.store.enqueue([Planned(f"ops:refused:{now:.6f}", channel, "post", notice)], now)
        self.store.count("bodies_refused")
        self.delivery_loop.wake()

    def _output_ready(self, channels: Collection[str]) -> None:
        if not self.deliverer.waiting_for(channels):
            self.delivery_loop.wake()

    def _process(self) -> float:
        taken = self.processor.run_once()
        return 0.0 if taken else 1.0

    def stats(self) -> dict[str, float]:
        return self.store.stats(time.time())

    def health(self) -> tuple[int, dict[str, Any]]:
        from ops_toolkit.serve.metrics import assess_health

        stats: dict[str, float] | Exception
        busy = False
        try:
            try:
                self.store.probe_write()
            except StoreBusy:  # contention (another process writes): the store works
                busy = True
            stats = self.stats()
        except Exception as error:  # sqlite3 errors and OSError alike: intake cannot commit
            stats = error
        status, body = assess_health(
            stats,
            self.writer.backlog(),
            self.config.serve.inbox_limit,
            self.writer.thread.is_alive(),
            busy=busy,
        )
        if "delivery" in body:  # the store answered: a full report, budgets included
            body["budgets"] = budgets_note(self.config) or "on"
        return status, body

    def start(self) -> None:
        self.writer.start()
        self.processing_loop.start()
        self.delivery_loop.start()
        for loop in self.extra_loops:
            loop.start()

    def stop(self) -> None:
        # First: a query held by a stuck or trickling Prometheus fails at once, so each loop
        # can end its round.
        for source in (self._budget_source, self._prometheus):
            if source is not None:
                source.close()
        self.writer.stop()
        for loop in (*self.extra_loops, self.processing_loop):
            loop.stop()
        if self.diagnoser is not None:
            self.diagnoser.stop()
        self.delivery_loop.stop()
        self.store.close()  # PostgreSQL: the pool's connections end cleanly


def budgets_note(config: OpsConfig) -> str | None:
    """Why alert messages carry no SLO budget, and how to turn budgets on; None when on.

    Without ``prometheus:`` the budget line is left out of every message, which a reader
    cannot tell from an alert that has no SLO: so it is said once at start and in /healthz.
    """
    if config.prometheus_source is not None:
        return None
    where = config.source or "ops.yaml (none read)"
    return (
        f"off: {where} has no 'prometheus:', so alert messages carry no SLO budget; add "
        "'prometheus: http://HOST:9090' to ops.yaml to turn budgets on"
    )


def serve(config: OpsConfig, *, token: str | None) -> None:
    """Run the server until interrupted."""
    import uvicorn

    if not logging.getLogger().handlers:  # one line per event, with time and level
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    listener = bind_listener(config.serve.host, config.serve.port)  # before saying "listening"
    from ops_toolkit.serve.lock import hold_for_serve
    from ops_toolkit.serve.store.backends import parse_state

    location = parse_state(config.serve.state)
    if location.scheme == "sqlite":  # 'ops store migrate' must see that we use the file
        hold_for_serve(location.target)  # held until the process ends
    service = EscalationService(config, token=token)
    print(
        f"ops serve: listening on http://{config.serve.host}:{config.serve.port} "
        f"(state {service.store.path}, {notifier_description(service.notifier, config)}, "
        f"{len(service.runbooks)} alert runbooks)",
        flush=True,
    )
    note = budgets_note(config)
    if note is not None:
        log.warning("SLO budgets %s", note)
    from ops_toolkit.serve.server import header_timeout_protocol

    server = uvicorn.Server(
        uvicorn.Config(
            service.app,
            host=config.serve.host,
            port=config.serve.port,
            log_level="warning",
            access_log=False,
            http=header_timeout_protocol(config.serve.read_timeout),
            timeout_keep_alive=5,
        )
    )
    server.run(sockets=[listener])


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything says "listening": a busy port is one
    clear line, not a start-up message followed by uvicorn's error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets that say they are TCP, and accepted ones inherit it. Left on, a response
    # written as headers then body waited for the client's delayed ACK: 40 ms per request
    # on a kept-alive connection, the intake's whole p99 (issue 15).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"{host}:{port}: cannot listen: {exc.strerror or exc} (choose another address with "
            "--listen or serve.listen in ops.yaml)"
        ) from None
    return listener
