"""The monthly job at 07:00 on the 1st (time-travelled) through a real SMTP server, the API, the page, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from hub.briefings.keys import BRIEFINGS
from hub.db import create_db_engine, migrate
from hub.mail.store import MailOutbox
from hub.reports import service
from hub.reports.keys import REPORTS
from hub.reports.store import ReportRun
from tests.conftest import PASSWORD, _ensure_accounts, free_port, python_module, start_hub
from tests.hub.briefings.harness import MailSink
from tests.hub.reports.seed import seed, seeded_settings

BKK = ZoneInfo("Asia/Bangkok")


class FlakySink(MailSink):
    """Refuses the first message with a temporary error, then takes them."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refused == 0:
            self.refused += 1
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def smtp(port: int, sink: MailSink) -> Iterator[MailSink]:
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


async def until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def login(http: aiohttp.ClientSession, url: str) -> None:
    async with http.get(f"{url}/login") as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert token
    async with http.post(f"{url}/login", data={"username": "admin", "password": PASSWORD,
                                               "csrf_token": token.group(1), "next": "/"}, allow_redirects=False) as r:
        assert r.status in (302, 303)


@pytest.mark.slow
async def test_monthly_job_mails_finance_with_a_retry_and_shows_on_the_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    settings = seeded_settings(tmp_path, smtp_port=port, reports_finance_to="finance@udon.example",
                               mail_retry_base_s=0.3, mail_poll_s=0.2, media_enabled=False)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    seed(engine, settings, link=False)
    engine.dispose()
    # Time travel: the hub's report clock says one minute before 07:00 on 1 May 2018 (Bangkok).
    now = {"t": datetime(2018, 5, 1, 6, 59, tzinfo=BKK).astimezone(UTC)}
    monkeypatch.setattr(service, "utcnow", lambda: now["t"])
    with smtp(port, FlakySink()) as sink:
        hub = await start_hub(settings, tmp_path)
        try:
            await asyncio.to_thread(_ensure_accounts, hub)
            reports = hub.app[REPORTS]
            scheduler = hub.app[BRIEFINGS].scheduler  # the hub's one scheduler carries the job
            job = scheduler.get_job(service.JOB_ID, jobstore=service.JOB_STORE)
            assert job is not None
            assert job.trigger.get_next_fire_time(None, now["t"]) == datetime(2018, 5, 1, 7, 0, tzinfo=BKK)

            def runs() -> list[ReportRun]:
                with Session(hub.engine) as s:
                    return list(s.exec(select(ReportRun)))

            assert runs() == []  # before 07:00 on the 1st the start-up catch-up does nothing
            # 07:00 arrives: let the scheduler fire the job itself.
            now["t"] = datetime(2018, 5, 1, 7, 0, tzinfo=BKK).astimezone(UTC)
            scheduler.modify_job(service.JOB_ID, jobstore=service.JOB_STORE,
                                 next_run_time=datetime.now(UTC) + timedelta(seconds=0.3))
            def report_mails() -> list[MailOutbox]:
                with Session(hub.engine) as s:
                    return list(s.exec(select(MailOutbox).where(MailOutbox.kind == "report")))

            await until(lambda: [m.state for m in report_mails()] == ["sent"], timeout=90)
            (run,) = runs()
            assert (run.month, run.trigger, run.ok, str(run.total_thb)) == ("2018-04", "schedule", True, "26348.75")
            (mail,) = report_mails()
            assert len(sink.messages) == 1
            assert isinstance(sink, FlakySink)
            assert (mail.state, mail.attempts, sink.refused) == ("sent", 2, 1)  # one 451, then delivered
            msg: EmailMessage = sink.messages[0]
            assert "เมษายน 2561" in str(msg["Subject"]) and msg["To"] == "finance@udon.example"
            files = {p.get_filename(): p for p in msg.iter_attachments()}
            assert set(files) == {"salaklang-monthly-2018-04.pdf", "salaklang-monthly-2018-04.xlsx",
                                  "salaklang-monthly-2018-04.csv"}
            assert files["salaklang-monthly-2018-04.pdf"].get_content().startswith(b"%PDF")
            # The job filled the render cache: the mailed PDF is the cached one, the preview is there too.
            cached = {p.suffix: p.read_bytes() for p in (settings.data_dir / "cache" / "reports").iterdir()
                      if p.suffix != ".sha256"}
            assert set(cached) == {".pdf", ".xlsx", ".html"}
            assert cached[".pdf"] == files["salaklang-monthly-2018-04.pdf"].get_content()
            plain = msg.get_body(("plain",))
            assert plain is not None
            assert "หนึ่งพันสามร้อยสามสิบเจ็ดบาท" not in plain.get_content()  # total, not a line
            assert "สองหมื่นหกพันสามร้อยสี่สิบแปดบาทเจ็ดสิบห้าสตางค์" in plain.get_content()

            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get(f"{hub.url}/api/v1/reports", headers=hub.auth("viewer")) as resp:
                    listed = await resp.json()
                assert listed["runs"][0]["deliveries"] == [
                    {"to": "finance@udon.example", "state": "sent", "attempts": 2, "last_error": "",
                     "sent_at": listed["runs"][0]["deliveries"][0]["sent_at"]}]
                assert listed["next_run"].startswith("2018-06-01T07:00:00+07:00")
                file_id = listed["runs"][0]["files"][1]["id"]
                async with http.get(f"{hub.url}/api/v1/reports/files/{file_id}", headers=hub.auth("viewer")) as resp:
                    assert resp.status == 200 and (await resp.read())[:2] == b"PK"  # the stored XLSX
                await login(http, hub.url)
                async with http.get(f"{hub.url}/reports") as resp:
                    page = await resp.text()
                assert resp.status == 200
                assert 'data-run="' in page and "2018-04" in page and "ส่งแล้ว" in page
                assert "finance@udon.example" in page and 'value="2018-04"' in page
            assert reports.due_month(now["t"]) == service.m.Month(2018, 4)
        finally:
            await hub.runner.cleanup()


@pytest.mark.slow
async def test_api_formats_and_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = seeded_settings(tmp_path, media_enabled=False)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    seed(engine, settings, link=False)
    engine.dispose()
    monkeypatch.setattr(service, "utcnow", lambda: datetime(2018, 5, 10, tzinfo=UTC))
    hub = await start_hub(settings, tmp_path)
    try:
        await asyncio.to_thread(_ensure_accounts, hub)
        base = f"{hub.url}/api/v1/reports/monthly"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}?month=2561-04&format=csv", headers=hub.auth("viewer")) as resp:
                assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
                body = await resp.read()
            assert body.startswith(b"\xef\xbb\xbf")
            assert list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[-1][5] == "26348.75"
            async with http.get(f"{base}?month=2018-04&format=json&lang=en", headers=hub.auth("viewer")) as resp:
                data = await resp.json()
            assert data["totals"]["total"] == "26348.75" and data["month_en"] == "April 2018"
            async with http.get(f"{base}?month=2018-04&format=html", headers=hub.auth("viewer")) as resp:
                assert resp.status == 200 and "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
            for query, field in (("month=2018-03", "month"), ("month=2018-06", "month"), ("month=2019-01", "month"),
                                 ("month=2018-13", "month"), ("month=april", "month"),
                                 ("month=2018-04&format=docx", "format"), ("", "month")):
                async with http.get(f"{base}?{query}", headers=hub.auth("viewer")) as resp:
                    err = await resp.json()
                    assert resp.status == 400 and err["field"] == field and err["error"], (query, err)
            async with http.post(f"{hub.url}/api/v1/reports/monthly/runs", json={"month": "2018-03"},
                                 headers=hub.auth("operator")) as resp:
                assert resp.status == 400
            async with http.post(f"{hub.url}/api/v1/reports/monthly/runs", json={"month": "2018-04"},
                                 headers=hub.auth("viewer")) as resp:
                assert resp.status == 403
            async with http.get(f"{hub.url}/api/v1/reports", headers=hub.auth("viewer")) as resp:
                assert (await resp.json())["runs"] == []  # nothing was written by the refusals
            async with http.get(f"{hub.url}/api/v1/reports/series?from=2018-04-12&to=2018-04-18",
                                headers=hub.auth("viewer")) as resp:
                grid = await resp.json()
            assert len(grid["days"]) == 7 and len(grid["rows"]) == 20
            async with http.get(f"{hub.url}/api/v1/reports/briefings/424242", headers=hub.auth("viewer")) as resp:
                assert resp.status == 404
    finally:
        await hub.runner.cleanup()


@pytest.mark.slow
def test_cli_writes_the_file_or_refuses_clearly(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    seed(engine, settings, link=False)
    engine.dispose()
    env = {"SALAKLANG_DATA_DIR": str(settings.data_dir), "SALAKLANG_INVENTORY_PATH": str(settings.inventory_path)}
    out = tmp_path / "april.csv"
    done = python_module("hub", "report", "monthly", "--month", "2561-04", "--format", "csv", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and "26348.75" in out.read_text(encoding="utf-8-sig")
    for args, words in ((["--month", "2018-13"], "month"), (["--month", "2018-03"], "before billing"),
                        (["--month", "2099-01"], "future"), (["--month", "2018-04", "--format", "docx"], "invalid choice")):
        bad = tmp_path / "bad.pdf"
        refused = python_module("hub", "report", "monthly", *args, "-o", str(bad), env=env)
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr and not bad.exists()
    assert not list(tmp_path.glob(".bad.pdf.*"))
